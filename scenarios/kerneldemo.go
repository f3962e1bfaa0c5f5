package scenarios

import (
	"fmt"

	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/sim"
)

func init() {
	register(Scenario{
		Name:    "kernel-demo",
		Summary: "5 processes heartbeat over a lossy, partitioned, pausing network; FIFO, partition and pause checks, then heal and require every link to carry heartbeats again",
		Run:     func(cfg Config) *invariants.Result { return runKernelDemo(cfg, demoPlan{}) },
	})
}

// demoPlan holds switches that tests use to plant faults the checks must catch.
type demoPlan struct {
	skipHeal    bool // never heal: links-recover must fire
	skipNumbers bool // senders skip a heartbeat number now and then: fifo-per-connection must fire
}

// Kernel demo settings.
const (
	demoNodes             = 5
	demoHeartbeatInterval = 100 * sim.Millisecond
	demoRedialMin         = 50 * sim.Millisecond
	demoRedialMax         = 300 * sim.Millisecond
	demoSafetyPhase       = 30 * sim.Second // faults are injected until then
	demoGrace             = 10 * sim.Second // then everything heals, and this long later...
	demoFreshness         = time500ms       // ...every node must have heard every other this recently
	demoMaxCrashed        = 2
	time500ms             = 500 * sim.Millisecond
)

// heartbeat is numbered per connection so receivers can check FIFO order.
type heartbeat struct {
	conn sim.ConnID
	from int
	n    int
}

func (h heartbeat) String() string {
	return fmt.Sprintf("heartbeat c%d from n%d #%d", h.conn, h.from, h.n)
}

type demo struct {
	recorder
	plan       demoPlan
	nodes      []*demoNode
	reconnects int
	faults     *sim.Injector
}

type demoNode struct {
	d      *demo
	id     sim.ProcID
	index  int
	rand   *sim.Rand
	out    []*sim.Conn // outgoing connection to each peer (nil while down)
	sent   []int       // heartbeats sent on out[i]
	expect map[sim.ConnID]int
	heard  []sim.Time // when each peer's heartbeat last arrived
}

func runKernelDemo(cfg Config, plan demoPlan) *invariants.Result {
	w := sim.New(sim.Options{
		Seed:            cfg.Seed,
		Latency:         sim.Uniform(sim.Millisecond, 5*sim.Millisecond),
		ConnBreakDetect: 200 * sim.Millisecond,
		MaxTime:         demoSafetyPhase + demoGrace,
		MaxEvents:       maxEvents(cfg, 0),
		Sinks:           cfg.Sinks,
	})
	d := &demo{recorder: newRecorder(w, "kernel-demo", cfg), plan: plan}
	for i := 0; i < demoNodes; i++ {
		n := &demoNode{d: d, index: i, rand: w.Rand(fmt.Sprintf("node%d", i))}
		n.id = w.AddProcess(fmt.Sprintf("n%d", i), sim.ProcessHooks{OnCrash: n.crash, OnRestart: n.start})
		d.nodes = append(d.nodes, n)
	}
	for _, n := range d.nodes {
		w.At(n.id, 0, "start", n.start)
	}
	d.scheduleFaults()
	if !plan.skipHeal {
		w.At(sim.Kernel, sim.Time(demoSafetyPhase), "heal-all", d.healAll)
	} else {
		// Keep one node paused through the end so recovery cannot happen.
		w.At(sim.Kernel, sim.Time(demoSafetyPhase), "pause-forever", func() { d.w.Pause(d.nodes[0].id) })
	}
	status := w.Run()
	if d.ranToEnd(status) {
		d.checkLiveness()
	}
	st := w.Stats()
	return d.finish(status, map[string]float64{
		"messages_sent":      float64(st.MessagesSent),
		"messages_delivered": float64(st.MessagesDelivered),
		"messages_lost":      float64(st.MessagesLost),
		"connections_broken": float64(st.ConnsBroken),
		"reconnects":         float64(d.reconnects),
		"crashes":            float64(st.Crashes),
		"pauses":             float64(st.Pauses),
		"partitions":         float64(st.Partitions),
	})
}

func (n *demoNode) start() {
	w := n.d.w
	n.out = make([]*sim.Conn, demoNodes)
	n.sent = make([]int, demoNodes)
	n.expect = map[sim.ConnID]int{}
	if n.heard == nil {
		n.heard = make([]sim.Time, demoNodes)
	}
	w.Listen(n.id, func(c *sim.Conn) sim.ConnHandler {
		return sim.ConnHandler{OnMessage: n.receive}
	})
	for peer := range n.d.nodes {
		if peer != n.index {
			n.dial(peer)
		}
	}
	n.tick()
}

// crash drops volatile state; heard stands for what a monitor outside saw.
func (n *demoNode) crash() {
	n.out, n.sent, n.expect = nil, nil, nil
}

func (n *demoNode) dial(peer int) {
	w := n.d.w
	n.out[peer] = w.Dial(n.id, n.d.nodes[peer].id, sim.ConnHandler{
		OnClose: func(c *sim.Conn, err error) {
			if n.out[peer] != c {
				return
			}
			n.out[peer] = nil
			n.d.reconnects++
			w.After(n.id, n.rand.DurationBetween(demoRedialMin, demoRedialMax), "redial", func() { n.dial(peer) })
		},
	})
	n.sent[peer] = 0
}

func (n *demoNode) tick() {
	for peer, c := range n.out {
		if c == nil || !c.Open() {
			continue
		}
		c.Send(heartbeat{conn: c.ID(), from: n.index, n: n.sent[peer]})
		n.sent[peer]++
		if n.d.plan.skipNumbers && n.sent[peer]%50 == 0 {
			n.sent[peer]++
		}
	}
	n.d.w.After(n.id, demoHeartbeatInterval, "heartbeat", n.tick)
}

func (n *demoNode) receive(c *sim.Conn, m sim.Message) {
	d, w := n.d, n.d.w
	hb := m.(heartbeat)
	from := d.nodes[hb.from].id
	if w.IsPaused(n.id) {
		d.safety("paused-runs-nothing", "%s handled %s while paused", w.Name(n.id), hb)
	}
	if !w.Reachable(from, n.id) || !w.Reachable(n.id, from) {
		d.safety("no-delivery-across-partition", "%s got %s across a cut link", w.Name(n.id), hb)
	}
	if want := n.expect[c.ID()]; hb.n != want {
		d.safety("fifo-per-connection", "%s got %s, expected #%d", w.Name(n.id), hb, want)
	}
	n.expect[c.ID()] = hb.n + 1
	n.heard[hb.from] = w.Now()
}

// scheduleFaults draws the fault schedule of the safety phase from the seed
// and hands it to an Injector, which applies and heals each fault by id.
func (d *demo) scheduleFaults() {
	w := d.w
	names := make([]string, len(d.nodes))
	for i, n := range d.nodes {
		names[i] = w.Name(n.id)
	}
	schedule, enabled := demoSchedule(w.Rand("faults"), names)
	w.At(sim.Kernel, 0, "swarm", func() { d.narrate("fault kinds this run: %v", enabled) })
	d.faults = sim.NewInjector(w)
	d.faults.OnApply = d.narrateFault
	d.faults.OnHeal = d.narrateHeal
	if err := d.faults.Schedule(schedule); err != nil {
		panic("kernel-demo: " + err.Error()) // the schedule is built from the world's own names
	}
}

// demoSlowLink is the latency of a slow link fault.
var demoSlowLink = sim.Pareto(sim.Millisecond, 20*sim.Millisecond, 1.1, 2*sim.Second)

// demoSchedule draws the faults of the safety phase. Swarm testing: the seed
// first picks which fault kinds this run uses at all. Faults that would do
// nothing (a process cut from itself, a crash of a crashed node or of a third
// node, a pause of a paused or crashed one) are left out here, where the
// schedule's own effects are known: only faults change who is down or paused.
func demoSchedule(r *sim.Rand, names []string) (sim.Schedule, []string) {
	enabled := swarm(r, []string{"partition", "one-way", "crash", "pause", "slow-link"}, 0.7)
	var s sim.Schedule
	var crashes, pauses spans
	for at := sim.Time(0).Add(r.DurationBetween(sim.Second, 3*sim.Second)); at < sim.Time(demoSafetyPhase); at = at.Add(r.DurationBetween(500*sim.Millisecond, 3*sim.Second)) {
		kind := enabled[r.Intn(len(enabled))]
		a, b := r.Intn(len(names)), r.Intn(len(names))
		hold := r.DurationBetween(100, 3000) * sim.Millisecond
		e := sim.Entry{At: at, Duration: hold, Fault: sim.Fault{ID: sim.FaultID(len(s) + 1)}}
		switch kind {
		case "partition", "one-way":
			if a == b {
				continue
			}
			e.Kind, e.A, e.B = sim.FaultPartition, []string{names[a]}, []string{names[b]}
			if kind == "one-way" {
				e.Kind = sim.FaultOneWay
			}
		case "crash":
			down := 0
			for _, n := range names {
				if crashes.covers(n, at) {
					down++
				}
			}
			if crashes.covers(names[a], at) || down >= demoMaxCrashed {
				continue
			}
			e.Kind, e.Proc = sim.FaultCrash, names[a]
			crashes.add(names[a], at, hold)
			pauses.endAt(names[a], at) // the crash ends a's pause
		case "pause":
			if crashes.covers(names[a], at) || pauses.covers(names[a], at) {
				continue
			}
			e.Kind, e.Proc = sim.FaultPause, names[a]
			pauses.add(names[a], at, hold)
		case "slow-link":
			if a == b {
				continue
			}
			e.Kind, e.From, e.To, e.Latency = sim.FaultLatency, names[a], names[b], &demoSlowLink
		}
		s = append(s, e)
	}
	return s, enabled
}

// narrateFault tells the timeline about a fault as it applies.
func (d *demo) narrateFault(e sim.Entry) {
	switch e.Kind {
	case sim.FaultPartition:
		d.narrate("partition %s | %s for %v", e.A[0], e.B[0], e.Duration)
	case sim.FaultOneWay:
		d.narrate("one-way cut %s -> %s for %v", e.A[0], e.B[0], e.Duration)
	case sim.FaultCrash:
		d.narrate("crash %s for %v", e.Proc, e.Duration)
	case sim.FaultPause:
		d.narrate("pause %s for %v (GC)", e.Proc, e.Duration)
	case sim.FaultLatency:
		d.narrate("slow link %s -> %s for %v", e.From, e.To, e.Duration)
	}
}

// narrateHeal tells the timeline that a fault ended, and what ended it if
// not its own time (the end of the safety phase narrates itself).
func (d *demo) narrateHeal(f sim.Fault, why string) {
	early, quiet := healNote(why)
	if quiet {
		return
	}
	switch f.Kind {
	case sim.FaultPartition:
		d.narrate("heal %s | %s%s", f.A[0], f.B[0], early)
	case sim.FaultOneWay:
		d.narrate("heal %s -> %s%s", f.A[0], f.B[0], early)
	case sim.FaultCrash:
		d.narrate("restart %s%s", f.Proc, early)
	case sim.FaultPause:
		if early != "" {
			d.narrate("pause of %s ends%s", f.Proc, early)
		} else {
			d.narrate("resume %s", f.Proc)
		}
	case sim.FaultLatency:
		d.narrate("link %s -> %s fast again%s", f.From, f.To, early)
	}
}

// healAll ends the safety phase: every fault still active is undone, and
// the liveness check at the end of the grace period requires full recovery.
func (d *demo) healAll() {
	active := len(d.faults.Active())
	d.faults.HealAll()
	d.narrate("heal everything (%d %s still active); require recovery within %v", active, plural(active, "fault"), demoGrace)
}

// checkLiveness: after the grace period every node hears every other.
func (d *demo) checkLiveness() {
	w := d.w
	for _, n := range d.nodes {
		for peer, at := range n.heard {
			if peer == n.index {
				continue
			}
			if age := w.Now().Sub(at); age > demoFreshness {
				d.liveness("links-recover", "%s last heard n%d %v ago", w.Name(n.id), peer, age)
			}
		}
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
