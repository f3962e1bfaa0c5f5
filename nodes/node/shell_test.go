package node

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/sim"
)

// scripted is a test machine: it logs every input with its time and the
// machine's own number, and answers with what its script returns.
type scripted struct {
	number int
	log    *[]string
	script func(m *scripted, in Input) []Effect
	inputs int
}

func (m *scripted) Step(now sim.Time, in Input) []Effect {
	m.inputs++
	*m.log = append(*m.log, fmt.Sprintf("%v #%d %v", sim.Duration(now), m.number, in))
	return m.script(m, in)
}

type harness struct {
	w     *sim.World
	zk    *fakezk.Server
	shell *Shell[*scripted]
	log   []string
	made  int
	reps  []string
	seen  []string // inputs OnInput saw
}

func newHarness(t *testing.T, script func(m *scripted, in Input) []Effect) *harness {
	t.Helper()
	h := &harness{w: sim.New(sim.Options{Seed: 1, MaxTime: 30 * sim.Second})}
	h.zk = fakezk.NewServer(h.w, "zk", fakezk.ServerConfig{})
	h.shell = NewShell(h.w, Config[*scripted]{
		Name: "p",
		New: func() *scripted {
			h.made++
			return &scripted{number: h.made, log: &h.log, script: script}
		},
		ZooKeeper: []sim.ProcID{h.zk.ID()},
		Client:    fakezk.ClientConfig{SessionTimeout: 3 * sim.Second},
		OnReport:  func(e Effect) { h.reps = append(h.reps, fmt.Sprint(e)) },
		OnInput:   func(in Input) { h.seen = append(h.seen, fmt.Sprintf("#%d %v", h.made, in)) },
	})
	h.w.At(h.shell.ID(), 0, "start", h.shell.Start)
	return h
}

type note struct {
	Report
	text string
}

func (n note) String() string { return n.text }

// Requests become client calls; each reply comes back with its id, a watch
// with the id of the read that set it, and session changes as ZKSession.
func TestShellRequestsRepliesAndWatches(t *testing.T) {
	h := newHarness(t, func(m *scripted, in Input) []Effect {
		switch in := in.(type) {
		case ZKSession:
			if in.State == fakezk.StateHasSession {
				return []Effect{
					ZKRequest{ID: 7, Req: &fakezk.CreateRequest{Path: "/a", Data: []byte("x"), Acl: fakezk.WorldACL(fakezk.PermAll)}},
					ZKRequest{ID: 8, Req: &fakezk.GetDataRequest{Path: "/a"}, Watch: true},
					ZKRequest{ID: 9, Req: &fakezk.ExistsRequest{Path: "/b"}, Watch: true},
				}
			}
		case ZKReply:
			if in.Req == 9 {
				return []Effect{ZKRequest{ID: 10, Req: &fakezk.SetDataRequest{Path: "/a", Data: []byte("y"), Version: -1}}}
			}
		}
		return nil
	})
	h.w.RunFor(2 * sim.Second)
	_, session := h.shell.Session()
	require.NotZero(t, session)
	s := fmt.Sprintf("0x%x", session)
	want := []string{
		"#1 restarted incarnation=1",
		"#1 zk-session StateConnecting 0x0",
		"#1 zk-session StateConnected " + s,
		"#1 zk-session StateHasSession " + s,
		"#1 zk-reply 7 path=/a",
		"#1 zk-reply 8 owner=0x0 version=0",
		"#1 zk-reply 9 owner=0x0 version=0",
		// ZooKeeper sends the watch event before the reply to the write
		// that caused it (the server triggers watches as it applies).
		"#1 zk-watch 8 EventNodeDataChanged /a",
		"#1 zk-reply 10 owner=0x0 version=1",
	}
	assert.Equal(t, want, withoutTimes(h.log))
	assert.Equal(t, want, h.seen, "OnInput sees every input the machine gets")
	m, ok := h.shell.Machine()
	require.True(t, ok)
	assert.Equal(t, len(want), m.inputs)
}

// A timer set twice fires once, at the second setting; a cancelled one
// never; each fires at its time.
func TestShellTimers(t *testing.T) {
	h := newHarness(t, func(m *scripted, in Input) []Effect {
		switch in := in.(type) {
		case Restarted:
			return []Effect{
				SetTimer{Name: "a", After: 100 * sim.Millisecond},
				SetTimer{Name: "b", After: 200 * sim.Millisecond},
				SetTimer{Name: "a", After: 300 * sim.Millisecond},
				CancelTimer{Name: "b"},
				CancelTimer{Name: "never-set"},
				SetTimer{Name: "c", After: 400 * sim.Millisecond},
			}
		case TimerFired:
			if in.Name == "c" {
				return []Effect{note{text: "c fired"}, SetTimer{Name: "c", After: sim.Second}}
			}
		}
		return nil
	})
	h.w.RunFor(2 * sim.Second)
	var fired []string
	for _, l := range h.log {
		if strings.Contains(l, "timer-fired") {
			fired = append(fired, l)
		}
	}
	assert.Equal(t, []string{"300ms #1 timer-fired a", "400ms #1 timer-fired c", "1.4s #1 timer-fired c"}, fired)
	assert.Equal(t, []string{"c fired", "c fired"}, h.reps)
}

// A crash drops the machine, its client and its timers; the restart makes a
// new machine whose first input is Restarted with the new incarnation.
func TestShellCrashDropsTheIncarnation(t *testing.T) {
	h := newHarness(t, func(m *scripted, in Input) []Effect {
		if _, ok := in.(Restarted); ok {
			return []Effect{SetTimer{Name: "t", After: 2 * sim.Second}}
		}
		return nil
	})
	h.w.RunFor(sim.Second)
	first, ok := h.shell.Machine()
	require.True(t, ok)
	h.w.Crash(h.shell.ID())
	_, ok = h.shell.Machine()
	assert.False(t, ok, "no machine while down")
	state, session := h.shell.Session()
	assert.Equal(t, fakezk.StateDead, state)
	assert.Zero(t, session)
	h.w.RunFor(3 * sim.Second) // the old timer would fire at 2s
	for _, l := range h.log {
		assert.NotContains(t, l, "timer-fired", "a timer of the crashed incarnation fired")
	}
	h.w.Restart(h.shell.ID())
	h.w.RunFor(sim.Second)
	second, ok := h.shell.Machine()
	require.True(t, ok)
	assert.NotSame(t, first, second)
	assert.Equal(t, 2, second.number)
	assert.Contains(t, h.log, "4s #2 restarted incarnation=2")
	h.w.RunFor(2 * sim.Second)
	assert.Contains(t, h.log, "6s #2 timer-fired t")
}

// The shell refuses effects it cannot carry out faithfully.
func TestShellPanicsOnMisuse(t *testing.T) {
	for name, effects := range map[string][]Effect{
		"a watch on a write":          {ZKRequest{ID: 1, Req: &fakezk.CreateRequest{Path: "/a"}, Watch: true}},
		"a callback in the request":   {ZKRequest{ID: 1, Req: &fakezk.GetDataRequest{Path: "/a", Watch: func(fakezk.Event) {}}}},
		"an id reused while waiting":  {ZKRequest{ID: 1, Req: &fakezk.GetDataRequest{Path: "/a"}}, ZKRequest{ID: 1, Req: &fakezk.GetDataRequest{Path: "/b"}}},
		"a request without a request": {ZKRequest{ID: 1}},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(m *scripted, in Input) []Effect {
				if _, ok := in.(Restarted); ok {
					return effects
				}
				return nil
			})
			assert.Panics(t, func() { h.w.RunFor(sim.Second) })
		})
	}
	t.Run("a report without OnReport", func(t *testing.T) {
		w := sim.New(sim.Options{Seed: 1})
		s := NewShell(w, Config[*scripted]{Name: "p", New: func() *scripted {
			return &scripted{log: new([]string), script: func(*scripted, Input) []Effect { return []Effect{note{text: "x"}} }}
		}})
		w.At(s.ID(), 0, "start", s.Start)
		assert.PanicsWithValue(t, "node: p reports node.note but Config.OnReport is nil", func() { w.RunFor(sim.Second) })
	})
	t.Run("an event callback of its own", func(t *testing.T) {
		w := sim.New(sim.Options{Seed: 1})
		assert.Panics(t, func() {
			NewShell(w, Config[*scripted]{Name: "p", New: func() *scripted { return nil }, Client: fakezk.ClientConfig{EventCallback: func(fakezk.Event) {}}})
		})
	})
	t.Run("a request without a client", func(t *testing.T) {
		w := sim.New(sim.Options{Seed: 1})
		s := NewShell(w, Config[*scripted]{Name: "p", New: func() *scripted {
			return &scripted{log: new([]string), script: func(*scripted, Input) []Effect {
				return []Effect{ZKRequest{ID: 1, Req: &fakezk.GetDataRequest{Path: "/a"}}}
			}}
		}})
		w.At(s.ID(), 0, "start", s.Start)
		assert.Panics(t, func() { w.RunFor(sim.Second) })
	})
}

// The machine's request is not changed by the shell's watch.
func TestShellLeavesTheMachinesRequestAlone(t *testing.T) {
	req := &fakezk.GetDataRequest{Path: "/a"}
	h := newHarness(t, func(m *scripted, in Input) []Effect {
		if s, ok := in.(ZKSession); ok && s.State == fakezk.StateHasSession {
			return []Effect{ZKRequest{ID: 1, Req: req, Watch: true}}
		}
		return nil
	})
	h.w.RunFor(sim.Second)
	assert.Nil(t, req.Watch)
	assert.Contains(t, withoutTimes(h.log), "#1 zk-reply 1 err=zk: node does not exist")
}

// withoutTimes drops the time at the start of each log line.
func withoutTimes(log []string) []string {
	out := make([]string, len(log))
	for i, l := range log {
		_, out[i], _ = strings.Cut(l, " ")
	}
	return out
}

type cmd string

func (c cmd) String() string { return string(c) }

// A command reaches the current incarnation as an input, in the process's
// event; one for a process that is down at its time is dropped with the
// event, and calling Command outside the process panics.
func TestShellCommand(t *testing.T) {
	h := newHarness(t, func(m *scripted, in Input) []Effect {
		if c, ok := in.(Command); ok {
			return []Effect{note{text: "got " + c.Value.String()}}
		}
		return nil
	})
	h.w.At(h.shell.ID(), sim.Time(sim.Second), "cmd", func() { h.shell.Command(cmd("a")) })
	h.w.RunFor(2 * sim.Second)
	h.w.Crash(h.shell.ID())
	h.w.At(h.shell.ID(), sim.Time(3*sim.Second), "cmd", func() { h.shell.Command(cmd("b")) })
	h.w.RunFor(2 * sim.Second)
	assert.Equal(t, []string{"got a"}, h.reps)
	assert.Contains(t, h.log, "1s #1 command a")
	assert.Panics(t, func() { h.shell.Command(cmd("c")) }, "down")
	h.w.Restart(h.shell.ID())
	h.w.RunFor(sim.Second)
	assert.Panics(t, func() { h.shell.Command(nil) })
}
