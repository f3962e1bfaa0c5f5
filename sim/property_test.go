package sim

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"pgregory.net/rapid"
)

// seqMsg carries its position in the stream its sender wrote on one
// connection, so the receiver can check FIFO order and gap-free delivery.
type seqMsg struct {
	conn ConnID
	from ProcID
	n    int
}

func (m seqMsg) String() string { return fmt.Sprintf("c%d/p%d#%d", m.conn, m.from, m.n) }

type opKind uint8

const (
	opDial opKind = iota
	opSend
	opClose
	opPartition
	opOneWay
	opHeal
	opCrash
	opRestart
	opPause
	opResume
	opTimer
)

// weightedKinds makes dials and sends common and faults rarer, so programs
// carry traffic for the faults to disturb.
var weightedKinds = []opKind{
	opDial, opDial, opDial, opSend, opSend, opSend, opSend, opSend, opSend,
	opTimer, opTimer, opClose, opPartition, opOneWay, opHeal, opHeal, opCrash,
	opRestart, opRestart, opPause, opResume, opResume,
}

type progOp struct {
	gap  Duration // after the previous op
	kind opKind
	a, b int // process indexes (or connection index for send/close)
	n    int // messages to send, or timer delay in ms
}

type program struct {
	seed    uint64
	procs   int
	latency Latency
	ops     []progOp
}

func genProgram(t *rapid.T) program {
	p := program{
		seed:  rapid.Uint64().Draw(t, "seed"),
		procs: rapid.IntRange(2, 4).Draw(t, "procs"),
	}
	switch rapid.IntRange(0, 3).Draw(t, "latency") {
	case 0:
		p.latency = Fixed(Millisecond)
	case 1:
		p.latency = Uniform(Millisecond, 20*Millisecond)
	case 2:
		// Slower than the gaps between ops: SYNs and data stay in flight
		// across crashes, restarts and pauses.
		p.latency = Uniform(50*Millisecond, 150*Millisecond)
	default:
		p.latency = Pareto(Millisecond, 2*Millisecond, 1.2, Second)
	}
	nops := rapid.IntRange(1, 60).Draw(t, "ops")
	for i := 0; i < nops; i++ {
		op := progOp{
			gap:  Duration(rapid.IntRange(0, 50).Draw(t, "gap_ms")) * Millisecond,
			kind: rapid.SampledFrom(weightedKinds).Draw(t, "kind"),
			a:    rapid.IntRange(0, p.procs-1).Draw(t, "a"),
			b:    rapid.IntRange(0, p.procs-1).Draw(t, "b"),
			n:    rapid.IntRange(1, 20).Draw(t, "n"),
		}
		p.ops = append(p.ops, op)
	}
	return p
}

// outcome is what one run of a program produced, and what it violated.
type outcome struct {
	hash       string
	records    []Record
	delivered  int
	violations []string
	// handled counts the messages a handler got, by step and message, so
	// each msg.deliver record can be matched with a handler call.
	handled map[string]int
	// timers are the labels of the timers the program set; ran, those that ran.
	timers []string
	ran    map[string]bool
}

// msgOf returns the text of the message a record is about ("" if none).
func msgOf(r Record) string {
	a, _ := r.Attr("msg")
	return a.Str
}

func handledKey(step uint64, msg string) string { return fmt.Sprintf("%d/%s", step, msg) }

// runProgram executes p on a fresh World, checking FIFO, partitions and
// pauses at every delivery and event.
func runProgram(p program) outcome {
	mem := &MemorySink{}
	w := New(Options{Seed: p.seed, Latency: p.latency, Sinks: []Sink{mem}, MaxEvents: 1_000_000})
	out := outcome{handled: map[string]int{}, ran: map[string]bool{}}
	fail := func(format string, args ...any) {
		out.violations = append(out.violations, fmt.Sprintf("%v: ", w.Now())+fmt.Sprintf(format, args...))
	}
	type stream struct {
		conn ConnID
		from ProcID
	}
	expect := map[stream]int{}
	sent := map[stream]int{}
	var conns []*Conn
	var cuts []CutID
	procs := make([]ProcID, p.procs)
	var handler func() ConnHandler
	handler = func() ConnHandler {
		return ConnHandler{
			OnMessage: func(c *Conn, m Message) {
				sm := m.(seqMsg)
				self := c.Local()
				if w.IsPaused(self) || !w.IsUp(self) {
					fail("%s handled a message while paused or down", w.Name(self))
				}
				if !w.Reachable(sm.from, self) || !w.Reachable(self, sm.from) {
					fail("%s got %s across a partition", w.Name(self), sm)
				}
				k := stream{sm.conn, sm.from}
				if sm.n != expect[k] {
					fail("%s got %s, expected #%d (FIFO)", w.Name(self), sm, expect[k])
				}
				expect[k] = sm.n + 1
				out.delivered++
				out.handled[handledKey(w.Steps(), m.String())]++
			},
			OnClose: func(c *Conn, err error) {
				if w.IsPaused(c.Local()) {
					fail("%s learnt of a close while paused", w.Name(c.Local()))
				}
			},
		}
	}
	for i := range procs {
		id := w.AddProcess(fmt.Sprintf("p%d", i), ProcessHooks{})
		procs[i] = id
		w.Listen(id, func(c *Conn) ConnHandler { return handler() })
	}
	for i := range procs {
		id := procs[i]
		w.procs[id].hooks.OnRestart = func() {
			w.Listen(id, func(c *Conn) ConnHandler { return handler() })
		}
	}
	var at Time
	for _, op := range p.ops {
		at = at.Add(op.gap)
		a, b := procs[op.a], procs[op.b]
		w.At(Kernel, at, "op", func() {
			switch op.kind {
			case opDial:
				if a != b && w.IsUp(a) && !w.IsPaused(a) {
					conns = append(conns, w.Dial(a, b, handler()))
				}
			case opSend:
				if len(conns) == 0 {
					return
				}
				c := conns[op.a%len(conns)]
				if !c.Open() || !w.IsUp(c.Local()) || w.IsPaused(c.Local()) {
					return
				}
				for j := 0; j < op.n; j++ {
					k := stream{c.ID(), c.Local()}
					c.Send(seqMsg{conn: c.ID(), from: c.Local(), n: sent[k]})
					sent[k]++
				}
			case opClose:
				if len(conns) > 0 {
					c := conns[op.b%len(conns)]
					if w.IsUp(c.Local()) && !w.IsPaused(c.Local()) {
						c.Close()
					}
				}
			case opPartition:
				if a != b {
					cuts = append(cuts, w.Partition([]ProcID{a}, []ProcID{b}))
				}
			case opOneWay:
				if a != b {
					cuts = append(cuts, w.PartitionOneWay([]ProcID{a}, []ProcID{b}))
				}
			case opHeal:
				// Heal one cut (perhaps one healed already) or all of them.
				if op.n%2 == 0 || len(cuts) == 0 {
					w.HealAll()
				} else {
					w.HealCut(cuts[op.b%len(cuts)])
				}
			case opCrash:
				w.Crash(a)
			case opRestart:
				if !w.IsUp(a) {
					w.Restart(a)
				}
			case opPause:
				w.Pause(a)
			case opResume:
				w.Resume(a)
			case opTimer:
				if w.IsUp(a) {
					label := fmt.Sprintf("timer#%d", len(out.timers))
					out.timers = append(out.timers, label)
					w.After(a, Duration(op.n)*Millisecond, label, func() {
						if w.IsPaused(a) || !w.IsUp(a) {
							fail("%s ran a timer while paused or down", w.Name(a))
						}
						out.ran[label] = true
					})
				}
			}
		})
	}
	// Resume everyone at the end so deferred events run too.
	w.At(Kernel, at.Add(Second), "resume-all", func() {
		for _, id := range procs {
			w.Resume(id)
		}
	})
	if st := w.Run(); st != StatusQuiescent {
		fail("run ended %v", st)
	}
	out.hash = w.TraceHash()
	out.records = mem.Records()
	out.violations = append(out.violations, checkDialsResolve(out.records, p.latency.Max, w.opts.ConnBreakDetect)...)
	out.violations = append(out.violations, checkDeliveriesHandled(out)...)
	out.violations = append(out.violations, checkDropsRecorded(out)...)
	return out
}

// checkDialsResolve: every dial comes up, is refused, or breaks (or its
// dialer learns it is down) within a bounded virtual time: the SYN's longest
// trip plus the break detection delay, stretched over any pause of either
// end (a paused process accepts when it resumes). A dialer that closes its
// own end first, or crashes, has resolved it too.
func checkDialsResolve(recs []Record, maxLatency, breakDetect Duration) []string {
	type span struct{ from, to Time }
	pauses := map[ProcID][]span{}
	open := map[ProcID]Time{}
	endRun := Time(0)
	for _, r := range recs {
		endRun = max(endRun, r.At)
		switch r.Kind {
		case KindProcPause:
			open[r.Proc] = r.At
		case KindProcResume, KindProcCrash:
			if at, ok := open[r.Proc]; ok {
				pauses[r.Proc] = append(pauses[r.Proc], span{at, r.At})
				delete(open, r.Proc)
			}
		}
	}
	for p, at := range open {
		pauses[p] = append(pauses[p], span{at, endRun})
	}
	type dial struct {
		at       Time
		from, to ProcID
	}
	dials := map[ConnID]dial{}
	resolved := map[ConnID]Time{}
	var order []ConnID
	for _, r := range recs {
		switch r.Kind {
		case KindConnDial:
			dials[r.Conn] = dial{r.At, r.Proc, r.Peer}
			order = append(order, r.Conn)
		case KindConnUp, KindConnRefused, KindConnBreak:
			if _, ok := resolved[r.Conn]; !ok {
				resolved[r.Conn] = r.At
			}
		case KindConnDown, KindConnClose, KindEventDropped:
			// The dialer learnt it is gone, closed it itself, or crashed
			// before it could learn.
			if d, ok := dials[r.Conn]; ok && d.from == r.Proc {
				if _, ok := resolved[r.Conn]; !ok {
					resolved[r.Conn] = r.At
				}
			}
		}
	}
	var out []string
	for _, id := range order {
		d := dials[id]
		deadline := d.at.Add(maxLatency + breakDetect)
		for changed := true; changed; {
			changed = false
			for _, p := range []ProcID{d.from, d.to} {
				for _, s := range pauses[p] {
					if s.from <= deadline && deadline < s.to {
						deadline, changed = s.to, true
					}
				}
			}
		}
		at, ok := resolved[id]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("dial c%d p%d->p%d at %v never came up, was refused or broke", id, d.from, d.to, d.at))
		case at > deadline:
			out = append(out, fmt.Sprintf("dial c%d p%d->p%d at %v resolved at %v, after its deadline %v", id, d.from, d.to, d.at, at, deadline))
		}
	}
	return out
}

// checkDeliveriesHandled: every msg.deliver record is a message a handler
// got, in the same step (so never a delivery on an end that nobody handles,
// nor to a dead process), and every message a handler got was recorded.
func checkDeliveriesHandled(o outcome) []string {
	left := map[string]int{}
	for k, n := range o.handled {
		left[k] = n
	}
	var out []string
	for _, r := range o.records {
		if r.Kind != KindMsgDeliver {
			continue
		}
		k := handledKey(r.Step, msgOf(r))
		if left[k] == 0 {
			out = append(out, fmt.Sprintf("step %d: %s recorded as delivered to p%d, but no handler got it", r.Step, msgOf(r), r.Proc))
			continue
		}
		left[k]--
	}
	for k, n := range left {
		if n > 0 {
			out = append(out, fmt.Sprintf("handler got %s with no msg.deliver record", k))
		}
	}
	return out
}

// checkDropsRecorded: every message sent has exactly one outcome in the
// trace (delivered, lost, or dropped with its process's crash), and every
// timer the program set either ran or was recorded as dropped.
func checkDropsRecorded(o outcome) []string {
	var out []string
	fate := map[string]int{}
	var sent []string
	dropped := map[string]bool{}
	for _, r := range o.records {
		switch r.Kind {
		case KindMsgSend:
			sent = append(sent, msgOf(r))
		case KindMsgDeliver, KindMsgLost:
			fate[msgOf(r)]++
		case KindEventDropped:
			if m := msgOf(r); m != "" {
				fate[m]++
			}
			dropped[r.Label] = true
		}
	}
	for _, m := range sent {
		if fate[m] != 1 {
			out = append(out, fmt.Sprintf("message %s was sent and has %d outcomes in the trace (delivered, lost or dropped), not 1", m, fate[m]))
		}
	}
	for _, t := range o.timers {
		if !o.ran[t] && !dropped[t] {
			out = append(out, fmt.Sprintf("%s neither ran nor was recorded as dropped", t))
		}
	}
	return out
}

func TestPropertyDeterministicReplay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genProgram(t)
		a, b := runProgram(p), runProgram(p)
		if a.hash != b.hash {
			t.Fatalf("same program, different trace hashes %s and %s", a.hash, b.hash)
		}
		if len(a.records) != len(b.records) {
			t.Fatalf("same program, %d and %d records", len(a.records), len(b.records))
		}
		for i := range a.records {
			if a.records[i].String() != b.records[i].String() {
				t.Fatalf("records differ at %d:\n%s\n%s", i, a.records[i].String(), b.records[i].String())
			}
		}
	})
}

func TestPropertyNetworkAndPauseGuarantees(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		out := runProgram(genProgram(t))
		for _, v := range out.violations {
			t.Error(v)
		}
	})
}

// TestPropertyChecksCatchPlantedBugs shows the checks above can fail: a
// network that reorders, or delivers across a partition, is caught.
func TestPropertyChecksCatchPlantedBugs(t *testing.T) {
	p := program{seed: 1, procs: 2, latency: Uniform(Millisecond, 30*Millisecond), ops: []progOp{
		{kind: opDial, a: 0, b: 1},
		{kind: opSend, a: 0, n: 20},
	}}
	plantReorder = true
	out := runProgram(p)
	plantReorder = false
	if len(out.violations) == 0 {
		t.Fatal("a reordering network went unnoticed")
	}
	p.ops = append(p.ops, progOp{gap: 0, kind: opPartition, a: 0, b: 1})
	plantDeliverAcrossCut = true
	out = runProgram(p)
	plantDeliverAcrossCut = false
	found := false
	for _, v := range out.violations {
		found = found || contains(v, "across a partition")
	}
	if !found {
		t.Fatalf("delivery across a partition went unnoticed: %v", out.violations)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// pausedCrashProgram is the bug kernel-demo seeds 89 and 156 found: p1 is
// paused when p0's dial reaches it, and crashes before it resumes.
func pausedCrashProgram() program {
	return program{seed: 1, procs: 2, latency: Fixed(Millisecond), ops: []progOp{
		{kind: opPause, a: 1},
		{kind: opDial, a: 0, b: 1},
		{gap: 5 * Millisecond, kind: opSend, a: 0, n: 2},  // deferred at p1
		{kind: opTimer, a: 1, n: 1},                       // deferred at p1 too
		{gap: 10 * Millisecond, kind: opCrash, a: 1},      // drops both
		{gap: 10 * Millisecond, kind: opRestart, a: 1},    // a new p1 listens
		{gap: 10 * Millisecond, kind: opSend, a: 0, n: 2}, // only if p0's end still looks open
	}}
}

func TestPausedCrashProgramHoldsEveryProperty(t *testing.T) {
	out := runProgram(pausedCrashProgram())
	assert.Empty(t, out.violations)
	var kinds []string
	for _, r := range out.records {
		if r.Kind != KindEvent {
			kinds = append(kinds, r.Kind+" "+r.Label)
		}
	}
	assert.Equal(t, []string{
		"proc.pause ", "conn.dial ",
		"event.deferred accept", "msg.send ", "msg.send ", "event.deferred deliver", "event.deferred deliver",
		"event.deferred timer#0",
		"proc.crash ", "conn.refused ", "event.dropped deliver", "event.dropped deliver", "event.dropped timer#0",
		"conn.down ", "proc.restart ",
	}, kinds, "the crash refuses the deferred dial and records every event it drops")
}

// TestKernelPropertiesCatchPlantedBugs shows each kernel property failing:
// a crash that forgets a deferred accept leaves a dial unresolved and records
// deliveries no handler got; a crash that drops deferred events silently
// leaves messages and timers without an outcome.
func TestKernelPropertiesCatchPlantedBugs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		plant *bool
		want  []string
	}{
		{"crash forgets a deferred accept", &plantCrashLosesDeferredAccept, []string{
			"dial c1 p1->p2 at 0s never came up, was refused or broke",
			"recorded as delivered to p2, but no handler got it",
		}},
		{"crash drops deferred events silently", &plantSilentDeferredDrop, []string{
			"message c1/p1#0 was sent and has 0 outcomes",
			"timer#0 neither ran nor was recorded as dropped",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			*tc.plant = true
			out := runProgram(pausedCrashProgram())
			*tc.plant = false
			for _, want := range tc.want {
				found := false
				for _, v := range out.violations {
					found = found || strings.Contains(v, want)
				}
				assert.True(t, found, "no violation says %q; got %v", want, out.violations)
			}
		})
	}
}
