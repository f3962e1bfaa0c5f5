package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOverlappingCutsHealOneByOne: a link stays cut while any cut covers it,
// and healing one cut leaves the others in force.
func TestOverlappingCutsHealOneByOne(t *testing.T) {
	mem := &MemorySink{}
	w := New(Options{Sinks: []Sink{mem}})
	a := w.AddProcess("a", ProcessHooks{})
	b := w.AddProcess("b", ProcessHooks{})
	c := w.AddProcess("c", ProcessHooks{})
	ab := w.Partition([]ProcID{a}, []ProcID{b})
	oneWay := w.PartitionOneWay([]ProcID{a}, []ProcID{b, c})
	require.NotEqual(t, ab, oneWay)
	assert.False(t, w.Reachable(a, b))
	assert.False(t, w.Reachable(b, a))
	assert.False(t, w.Reachable(a, c))
	assert.True(t, w.Reachable(c, a))

	require.True(t, w.HealCut(ab))
	assert.False(t, w.Reachable(a, b), "the one-way cut still covers a->b")
	assert.True(t, w.Reachable(b, a), "nothing covers b->a any more")
	assert.False(t, w.HealCut(ab), "a cut heals once")
	assert.False(t, w.HealCut(99), "an unknown cut is not active")

	again := w.Partition([]ProcID{c}, []ProcID{a})
	w.HealAll()
	for _, l := range [][2]ProcID{{a, b}, {b, a}, {a, c}, {c, a}} {
		assert.True(t, w.Reachable(l[0], l[1]), "%v after HealAll", l)
	}
	assert.False(t, w.HealCut(again))
	var lines []string
	for _, r := range mem.All() {
		lines = append(lines, r.Kind+" "+r.Detail())
	}
	assert.Equal(t, []string{
		"net.partition cut=1 links=[a]|[b]",
		`net.partition cut=2 links="[a]->[b c]"`,
		"net.heal cut=1 links=[a]|[b]",
		"net.partition cut=3 links=[c]|[a]",
		`net.heal cut=2 links="[a]->[b c]"`,
		"net.heal cut=3 links=[c]|[a]",
	}, lines, "the trace says which cut healed")
}

// TestHealOfOneCutKeepsConnectionsRefusedUnderAnother: a dial across a link
// that another cut still covers fails as unreachable.
func TestHealOfOneCutKeepsConnectionsRefusedUnderAnother(t *testing.T) {
	p := newPair(t, Options{ConnBreakDetect: 100 * Millisecond})
	w := p.w
	w.At(Kernel, 0, "cuts", func() {
		first := w.Partition([]ProcID{p.a}, []ProcID{p.b})
		w.PartitionOneWay([]ProcID{p.b}, []ProcID{p.a})
		w.HealCut(first)
		w.Dial(p.a, p.b, p.handler())
	})
	w.Run()
	assert.Equal(t, []string{"a closed: host unreachable (partitioned) at 100ms"}, p.log)
}

// linkArrivals runs traffic on links a->b and c->d, with extra more messages
// on a->b, and returns when each c->d message arrived.
func linkArrivals(t *testing.T, extra int) []Time {
	w := New(Options{Seed: 3, Latency: Uniform(Millisecond, 50*Millisecond)})
	var ids []ProcID
	for _, n := range []string{"a", "b", "c", "d"} {
		ids = append(ids, w.AddProcess(n, ProcessHooks{}))
	}
	var arrivals []Time
	for _, id := range ids {
		w.Listen(id, func(c *Conn) ConnHandler {
			return ConnHandler{OnMessage: func(c *Conn, m Message) {
				if c.Remote() == ids[2] {
					arrivals = append(arrivals, w.Now())
				}
			}}
		})
	}
	w.At(Kernel, 0, "traffic", func() {
		ab := w.Dial(ids[0], ids[1], ConnHandler{})
		cd := w.Dial(ids[2], ids[3], ConnHandler{})
		for i := 0; i < 20; i++ {
			ab.Send(note("ab"))
			if i < extra {
				ab.Send(note("extra"))
			}
			cd.Send(note("cd"))
		}
	})
	w.Run()
	require.Len(t, arrivals, 20)
	return arrivals
}

// TestEachLinkHasItsOwnLatencyStream: one more message on one link never
// moves another link's arrivals.
func TestEachLinkHasItsOwnLatencyStream(t *testing.T) {
	base := linkArrivals(t, 0)
	assert.Equal(t, base, linkArrivals(t, 1))
	assert.Equal(t, base, linkArrivals(t, 7))
	w := New(Options{})
	a := w.AddProcess("a", ProcessHooks{})
	b := w.AddProcess("b", ProcessHooks{})
	w.net.delay(a, b)
	_, ok := w.streams["sim.net/a->b"]
	assert.True(t, ok, "the stream is named from the two process names")
	_, ok = w.streams["sim.net/b->a"]
	assert.False(t, ok, "and made on first use, per direction")
}

func TestProcessNamesMustBeUsableInStreamNames(t *testing.T) {
	w := New(Options{})
	w.AddProcess("a", ProcessHooks{})
	assert.PanicsWithValue(t, `sim: process name "a" used twice`, func() { w.AddProcess("a", ProcessHooks{}) })
	assert.PanicsWithValue(t, `sim: process name "kernel" used twice`, func() { w.AddProcess("kernel", ProcessHooks{}) })
	assert.Panics(t, func() { w.AddProcess("x->y", ProcessHooks{}) })
	assert.Panics(t, func() { w.AddProcess("", ProcessHooks{}) })
	id, ok := w.ProcByName("a")
	assert.True(t, ok)
	assert.Equal(t, "a", w.Name(id))
	_, ok = w.ProcByName("kernel")
	assert.False(t, ok, "the kernel is no process")
}

// TestObserversCannotChangeTheWorld: every way of changing the world panics
// from an OnStep observer, with a message naming what was tried.
func TestObserversCannotChangeTheWorld(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   func(w *World, a, b ProcID, c *Conn)
		want string
	}{
		{"After", func(w *World, a, b ProcID, c *Conn) { w.After(a, Second, "x", func() {}) }, "scheduling an event"},
		{"Cancel", func(w *World, a, b ProcID, c *Conn) { w.Cancel(TimerID{seq: 1}) }, "Cancel"},
		{"Send", func(w *World, a, b ProcID, c *Conn) { c.Send(note("x")) }, "Send"},
		{"Dial", func(w *World, a, b ProcID, c *Conn) { w.Dial(a, b, ConnHandler{}) }, "Dial"},
		{"Close", func(w *World, a, b ProcID, c *Conn) { c.Close() }, "Close"},
		{"Listen", func(w *World, a, b ProcID, c *Conn) { w.Listen(a, nil) }, "Listen"},
		{"Crash", func(w *World, a, b ProcID, c *Conn) { w.Crash(a) }, "Crash"},
		{"Restart", func(w *World, a, b ProcID, c *Conn) { w.Restart(a) }, "Restart"},
		{"Pause", func(w *World, a, b ProcID, c *Conn) { w.Pause(a) }, "Pause"},
		{"Resume", func(w *World, a, b ProcID, c *Conn) { w.Resume(a) }, "Resume"},
		{"Partition", func(w *World, a, b ProcID, c *Conn) { w.Partition([]ProcID{a}, []ProcID{b}) }, "Partition"},
		{"PartitionOneWay", func(w *World, a, b ProcID, c *Conn) { w.PartitionOneWay([]ProcID{a}, []ProcID{b}) }, "PartitionOneWay"},
		{"HealCut", func(w *World, a, b ProcID, c *Conn) { w.HealCut(1) }, "HealCut"},
		{"HealAll", func(w *World, a, b ProcID, c *Conn) { w.HealAll() }, "HealAll"},
		{"SetLatency", func(w *World, a, b ProcID, c *Conn) { w.SetLatency(a, b, Fixed(Second)) }, "SetLatency"},
		{"AddProcess", func(w *World, a, b ProcID, c *Conn) { w.AddProcess("z", ProcessHooks{}) }, "AddProcess"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPair(t, Options{})
			w := p.w
			var c *Conn
			w.At(Kernel, 0, "dial", func() { c = w.Dial(p.a, p.b, ConnHandler{}) })
			observed := 0
			w.OnStep(func() {
				observed++
				if observed == 2 { // the accept: c exists
					tc.op(w, p.a, p.b, c)
				}
			})
			assert.PanicsWithValue(t, "sim: "+tc.want+" from an OnStep observer: observers must not change the world", func() { w.Run() })
			assert.False(t, w.observing, "a panicking observer leaves the world unlocked")
		})
	}
	// Reading is what observers are for.
	p := newPair(t, Options{})
	p.w.OnStep(func() {
		_ = p.w.IsUp(p.a) && p.w.Reachable(p.a, p.b)
		p.w.Emit(KindNote, Kernel, "", Str("text", "seen"))
	})
	p.w.At(Kernel, 0, "x", func() {})
	assert.NotPanics(t, func() { p.w.Run() })
}

// TestSYNAcrossACrashAndRestartBringsItsDataAlong: a dial in flight while
// its peer crashes and restarts is accepted by the new incarnation, and the
// messages sent behind the SYN before the crash arrive too, in order.
func TestSYNAcrossACrashAndRestartBringsItsDataAlong(t *testing.T) {
	var p *pair
	p = newPair(t, Options{Latency: Fixed(100 * Millisecond)})
	w := p.w
	w.procs[p.b].hooks.OnRestart = func() { w.Listen(p.b, func(c *Conn) ConnHandler { return p.handler() }) }
	var c *Conn
	w.At(Kernel, 0, "dial", func() { c = w.Dial(p.a, p.b, p.handler()); c.Send(note("before")) })
	w.At(Kernel, Time(10*Millisecond), "crash", func() { w.Crash(p.b) })
	w.At(Kernel, Time(20*Millisecond), "restart", func() { w.Restart(p.b) })
	w.At(Kernel, Time(30*Millisecond), "send", func() { c.Send(note("after")) })
	w.Run()
	assert.Equal(t, []string{"b got before at 100ms", "b got after at 130ms"}, p.log)
}
