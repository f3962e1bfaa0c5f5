package sim

import (
	"fmt"
	"testing"

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
	switch rapid.IntRange(0, 2).Draw(t, "latency") {
	case 0:
		p.latency = Fixed(Millisecond)
	case 1:
		p.latency = Uniform(Millisecond, 20*Millisecond)
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
}

// runProgram executes p on a fresh World, checking FIFO, partitions and
// pauses at every delivery and event.
func runProgram(p program) outcome {
	mem := &MemorySink{}
	w := New(Options{Seed: p.seed, Latency: p.latency, Sinks: []Sink{mem}, MaxEvents: 1_000_000})
	var out outcome
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
					w.Partition([]ProcID{a}, []ProcID{b})
				}
			case opOneWay:
				if a != b {
					w.PartitionOneWay([]ProcID{a}, []ProcID{b})
				}
			case opHeal:
				w.Heal()
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
					w.After(a, Duration(op.n)*Millisecond, "timer", func() {
						if w.IsPaused(a) || !w.IsUp(a) {
							fail("%s ran a timer while paused or down", w.Name(a))
						}
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
	out.records = mem.Records
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
			if a.records[i] != b.records[i] {
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
