package scenarios

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/node"
	"github.com/kzsim/kzsim/sim"
)

// TestElectionMember drives the election member's state machine alone, with
// no kernel and no ZooKeeper, through the scripts in testdata/zk-member, in
// the style of etcd-io/raft's interaction tests. Each command is one input
// and prints the effects it returned. Run with -rewrite to update the
// expected output, then review the diff.
//
//	new [name=m0] [keep-belief-on-expiry] [no-register-wait]
//	start                            Restarted
//	session state=has-session id=0x10  (states: has-session expired disconnected connecting connected)
//	reply id=N [err=E] [owner=0x10] [exists=false]   E: node-exists no-node connection-closed session-expired
//	watch id=N type=deleted          (types: created deleted changed children not-watching)
//	advance 500ms                    moves the clock
//	timer work                       fires a set timer at its due time
//	view                             what checks may read, and what the machine waits on
func TestElectionMember(t *testing.T) {
	datadriven.Walk(t, "testdata/zk-member", func(t *testing.T, path string) {
		h := &memberHarness{}
		datadriven.RunTest(t, path, h.handle)
	})
}

// memberHarness stands in for the shell: it keeps the clock, the requests
// issued (to give replies the shape their request expects) and the timers
// set (so that only a set timer fires, at its due time).
type memberHarness struct {
	m      *electionMember
	now    sim.Time
	reqs   map[node.ReqID]fakezk.Request
	timers map[node.TimerName]sim.Time
}

func (h *memberHarness) handle(t *testing.T, d *datadriven.TestData) string {
	if d.Cmd == "new" {
		bugs := memberBugs{keepBeliefOnExpiry: d.HasArg("keep-belief-on-expiry"), noRegisterWait: d.HasArg("no-register-wait")}
		name := "m0"
		d.MaybeScanArgs(t, "name", &name)
		*h = memberHarness{m: newElectionMember(name, bugs), reqs: map[node.ReqID]fakezk.Request{}, timers: map[node.TimerName]sim.Time{}}
		return ""
	}
	if h.m == nil {
		d.Fatalf(t, "%s before new", d.Cmd)
	}
	if d.Cmd == "view" {
		return h.view()
	}
	if d.Cmd == "advance" {
		dur, err := sim.ParseDuration(d.CmdArgs[0].Key)
		if err != nil {
			d.Fatalf(t, "advance: %v", err)
		}
		h.now = h.now.Add(dur)
		return fmt.Sprintf("now %v", sim.Duration(h.now))
	}
	in, err := h.input(t, d)
	if err != nil {
		return "error: " + err.Error()
	}
	return h.step(in)
}

// input builds the input a command describes.
func (h *memberHarness) input(t *testing.T, d *datadriven.TestData) (node.Input, error) {
	switch d.Cmd {
	case "start":
		return node.Restarted{Incarnation: 1}, nil
	case "session":
		var state, id string
		d.ScanArgs(t, "state", &state)
		d.MaybeScanArgs(t, "id", &id)
		st, ok := map[string]fakezk.State{
			"has-session": fakezk.StateHasSession, "expired": fakezk.StateExpired, "disconnected": fakezk.StateDisconnected,
			"connecting": fakezk.StateConnecting, "connected": fakezk.StateConnected,
		}[state]
		if !ok {
			return nil, fmt.Errorf("unknown state %q", state)
		}
		return node.ZKSession{State: st, Session: hex(t, d, id)}, nil
	case "reply":
		var id uint64
		d.ScanArgs(t, "id", &id)
		req, ok := h.reqs[node.ReqID(id)]
		if !ok {
			req = &fakezk.CreateRequest{} // the machine must refuse it
		}
		delete(h.reqs, node.ReqID(id))
		var errName, owner string
		d.MaybeScanArgs(t, "err", &errName)
		d.MaybeScanArgs(t, "owner", &owner)
		exists := true
		d.MaybeScanArgs(t, "exists", &exists)
		resp := fakezk.Response{}
		if errName != "" {
			err, ok := map[string]error{
				"node-exists": fakezk.ErrNodeExists, "no-node": fakezk.ErrNoNode,
				"connection-closed": fakezk.ErrConnectionClosed, "session-expired": fakezk.ErrSessionExpired,
			}[errName]
			if !ok {
				return nil, fmt.Errorf("unknown error %q", errName)
			}
			resp.Err = err
		} else {
			switch q := req.(type) {
			case *fakezk.CreateRequest:
				resp.Path = q.Path
			case *fakezk.GetDataRequest:
				resp.Stat = &fakezk.Stat{EphemeralOwner: hex(t, d, owner)}
			case *fakezk.ExistsRequest:
				resp.Exists, resp.Stat = exists, &fakezk.Stat{}
			case *fakezk.SetDataRequest:
				resp.Stat = &fakezk.Stat{}
			}
		}
		return node.ZKReply{Req: node.ReqID(id), Resp: resp}, nil
	case "watch":
		var id uint64
		var typ string
		d.ScanArgs(t, "id", &id)
		d.ScanArgs(t, "type", &typ)
		et, ok := map[string]fakezk.EventType{
			"created": fakezk.EventNodeCreated, "deleted": fakezk.EventNodeDeleted, "changed": fakezk.EventNodeDataChanged,
			"children": fakezk.EventNodeChildrenChanged, "not-watching": fakezk.EventNotWatching,
		}[typ]
		if !ok {
			return nil, fmt.Errorf("unknown event type %q", typ)
		}
		return node.ZKWatch{Req: node.ReqID(id), Event: fakezk.Event{Type: et}}, nil
	case "timer":
		name := node.TimerName(d.CmdArgs[0].Key)
		due, ok := h.timers[name]
		if !ok {
			return nil, fmt.Errorf("timer %s is not set", name)
		}
		delete(h.timers, name)
		h.now = due
		return node.TimerFired{Name: name}, nil
	}
	d.Fatalf(t, "unknown command %q", d.Cmd)
	return nil, nil
}

// step feeds one input and prints the effects, one a line; a panic of the
// machine (an assertion) is printed as such.
func (h *memberHarness) step(in node.Input) (out string) {
	defer func() {
		if r := recover(); r != nil {
			out = fmt.Sprintf("panic: %v", r)
		}
	}()
	var lines []string
	for _, e := range h.m.Step(h.now, in) {
		switch e := e.(type) {
		case node.ZKRequest:
			h.reqs[e.ID] = e.Req
		case node.SetTimer:
			h.timers[e.Name] = h.now.Add(e.After)
		case node.CancelTimer:
			delete(h.timers, e.Name)
		}
		lines = append(lines, fmt.Sprint(e))
	}
	return strings.Join(lines, "\n")
}

func (h *memberHarness) view() string {
	v := h.m.View()
	s := fmt.Sprintf("session=0x%x leader=%v work=%d", v.Session, v.Leader, h.m.work)
	ids := make([]node.ReqID, 0, len(h.m.calls))
	for id := range h.m.calls {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var waits []string
	for _, id := range ids {
		state := "reply"
		if h.m.calls[id].replied {
			state = "watch"
		}
		waits = append(waits, fmt.Sprintf("%d:%s", id, state))
	}
	var timers []string
	for name := range h.timers {
		timers = append(timers, string(name))
	}
	slices.Sort(timers)
	return s + "\nwaits on: " + strings.Join(waits, " ") + "\ntimers: " + strings.Join(timers, " ")
}

func hex(t *testing.T, d *datadriven.TestData, s string) int64 {
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil {
		d.Fatalf(t, "bad hex %q: %v", s, err)
	}
	return n
}
