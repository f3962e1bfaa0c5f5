package zkconform

import (
	"fmt"
	"strconv"
	"strings"
)

// Record is one executed step: what was asked, what came back, and the
// events each logical session's client delivered while the step ran
// (drained after the step, see Target.Events).
type Record struct {
	Step    Step
	Outcome Outcome
	Events  [][]Event // indexed by logical session
}

// Trace is the raw result of running one sequence against one target.
type Trace struct {
	Root     string
	Sessions int
	Records  []Record
	// SessionNames maps every server session id the logical sessions
	// held to a logical name: s0, s1, s2 for the first sessions, then
	// s0.1, s0.2 ... for the sessions opened after a close or expiry.
	SessionNames map[int64]string
	// Setup is set when Open failed; Records is then empty.
	Setup string
	// Disturbed is set when the target reported that the run was
	// disturbed from outside (see Disturbable).
	Disturbed string
}

// Run opens target for seq under root, runs every step in order, drains
// events after each step and shuts the target down.
func Run(t Target, root string, seq Sequence) *Trace {
	tr := &Trace{Root: root, Sessions: seq.Sessions, SessionNames: map[int64]string{}}
	defer t.Shutdown()
	if err := t.Open(root, seq.Sessions); err != nil {
		tr.Setup = err.Error()
		return tr
	}
	incarnation := make([]int, seq.Sessions)
	seen := make([]int64, seq.Sessions)
	register := func() {
		for i := 0; i < seq.Sessions; i++ {
			id := t.SessionID(i)
			if id == 0 || id == seen[i] {
				continue
			}
			if _, dup := tr.SessionNames[id]; dup {
				continue
			}
			name := "s" + strconv.Itoa(i)
			if incarnation[i] > 0 {
				name += "." + strconv.Itoa(incarnation[i])
			}
			incarnation[i]++
			seen[i] = id
			tr.SessionNames[id] = name
		}
	}
	register()
	for i := 0; i < seq.Sessions; i++ {
		t.Events(i) // connection-time events are not compared
	}
	for _, s := range seq.Steps {
		var out Outcome
		switch s.Op {
		case OpClose:
			if err := t.Close(s.Session); err != nil {
				out.Harness = "close: " + err.Error()
			}
		case OpExpire:
			if err := t.Expire(s.Session); err != nil {
				out.Harness = "expire: " + err.Error()
			}
		case OpDisconnect:
			out = runDisconnect(t, s)
		default:
			out = t.Do(s.Session, s)
		}
		register()
		rec := Record{Step: s, Outcome: out, Events: make([][]Event, seq.Sessions)}
		for i := 0; i < seq.Sessions; i++ {
			rec.Events[i] = t.Events(i)
		}
		register()
		tr.Records = append(tr.Records, rec)
	}
	if d, ok := t.(Disturbable); ok {
		tr.Disturbed = d.Disturbed()
	}
	return tr
}

// runDisconnect cuts s.Session off, runs s.During on the other sessions and
// lets the session reconnect.
func runDisconnect(t Target, s Step) Outcome {
	var out Outcome
	if err := t.Disconnect(s.Session); err != nil {
		out.Harness = "disconnect: " + err.Error()
		return out
	}
	for _, d := range s.During {
		if d.Session == s.Session || d.Op == OpDisconnect || d.Op == OpClose || d.Op == OpExpire {
			out.Harness = "disconnect: bad step during the cut: " + FormatStep(d)
			break
		}
		out.During = append(out.During, t.Do(d.Session, d))
	}
	if err := t.Reconnect(s.Session); err != nil && out.Harness == "" {
		out.Harness = "reconnect: " + err.Error()
	}
	return out
}

// FormatStep renders a step for reports, with paths relative to the root
// ("~" is the root).
func FormatStep(s Step) string {
	var b strings.Builder
	fmt.Fprintf(&b, "s%d %s", s.Session, s.Op)
	rel := func(p string) string {
		if p == "" {
			return "~"
		}
		return showString("~/" + p)
	}
	aclName := func(name string) string {
		if name == "" {
			return ""
		}
		return " acl=" + name
	}
	switch s.Op {
	case OpClose, OpExpire:
	case OpAddAuth:
		b.WriteString(" " + showString(s.Auth))
	case OpDisconnect:
		b.WriteString(" [")
		for i, d := range s.During {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(FormatStep(d))
		}
		b.WriteString("]")
	case OpMulti:
		b.WriteString(" [")
		for i, op := range s.Ops {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(string(op.Op) + " " + rel(op.Path))
			switch op.Op {
			case OpCreate:
				fmt.Fprintf(&b, " flags=%d data=%s%s", op.Flags, fmtData(op.Data), aclName(op.ACL))
			case OpSet:
				fmt.Fprintf(&b, " data=%s v=%d", fmtData(op.Data), op.Version)
			default:
				fmt.Fprintf(&b, " v=%d", op.Version)
			}
		}
		b.WriteString("]")
	default:
		b.WriteString(" " + rel(s.Path))
		switch s.Op {
		case OpCreate, OpCreateContainer:
			fmt.Fprintf(&b, " flags=%d data=%s%s", s.Flags, fmtData(s.Data), aclName(s.ACL))
		case OpSet:
			fmt.Fprintf(&b, " data=%s v=%d", fmtData(s.Data), s.Version)
		case OpSetACL:
			name := s.ACL
			if name == "" {
				name = "world-all"
			}
			fmt.Fprintf(&b, " acl=%s v=%d", name, s.Version)
		case OpDelete:
			fmt.Fprintf(&b, " v=%d", s.Version)
		case OpGet, OpExists, OpChildren:
			if s.Watch {
				b.WriteString(" watch")
			}
		}
	}
	return b.String()
}

// showString returns s as is when it is plain printable text, else quoted.
func showString(s string) string {
	if q := strconv.Quote(s); q[1:len(q)-1] != s || strings.ContainsAny(s, " \"") {
		return q
	}
	return s
}

func fmtData(d []byte) string {
	if d == nil {
		return "nil"
	}
	return strconv.Quote(string(d))
}
