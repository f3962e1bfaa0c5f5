package scenarios

import (
	"fmt"

	"github.com/kzsim/kzsim/sim"
)

func init() {
	register(Scenario{
		Name:    "kernel-demo",
		Summary: "5 processes heartbeat over a lossy, partitioned, pausing network; FIFO, partition and pause checks, then heal and require every link to carry heartbeats again",
		Run:     func(cfg Config) *Result { return runKernelDemo(cfg, demoPlan{}) },
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
	counts     kindCounter
	reconnects int
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

func runKernelDemo(cfg Config, plan demoPlan) *Result {
	counts := kindCounter{}
	w := sim.New(sim.Options{
		Seed:            cfg.Seed,
		Latency:         sim.Uniform(sim.Millisecond, 5*sim.Millisecond),
		ConnBreakDetect: 200 * sim.Millisecond,
		MaxTime:         demoSafetyPhase + demoGrace,
		Sinks:           append([]sim.Sink{counts}, cfg.Sinks...),
	})
	d := &demo{recorder: newRecorder(w, "kernel-demo", cfg.Seed), plan: plan, counts: counts}
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
	d.checkLiveness()
	return d.finish(status, map[string]float64{
		"messages_sent":      counts[sim.KindMsgSend],
		"messages_delivered": counts[sim.KindMsgDeliver],
		"messages_lost":      counts[sim.KindMsgLost],
		"connections_broken": counts[sim.KindConnBreak],
		"reconnects":         float64(d.reconnects),
		"crashes":            counts[sim.KindProcCrash],
		"pauses":             counts[sim.KindProcPause],
		"partitions":         counts[sim.KindNetPartition],
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
		d.violate("paused-runs-nothing", "%s handled %s while paused", w.Name(n.id), hb)
	}
	if !w.Reachable(from, n.id) || !w.Reachable(n.id, from) {
		d.violate("no-delivery-across-partition", "%s got %s across a cut link", w.Name(n.id), hb)
	}
	if want := n.expect[c.ID()]; hb.n != want {
		d.violate("fifo-per-connection", "%s got %s, expected #%d", w.Name(n.id), hb, want)
	}
	n.expect[c.ID()] = hb.n + 1
	n.heard[hb.from] = w.Now()
}

// scheduleFaults draws the fault schedule of the safety phase. Swarm testing:
// the seed first picks which fault kinds this run uses at all.
func (d *demo) scheduleFaults() {
	w := d.w
	r := w.Rand("faults")
	enabled := swarm(r, []string{"partition", "one-way", "crash", "pause", "slow-link"}, 0.7)
	w.At(sim.Kernel, 0, "swarm", func() { d.narrate("fault kinds this run: %v", enabled) })
	for at := sim.Time(0).Add(r.DurationBetween(sim.Second, 3*sim.Second)); at < sim.Time(demoSafetyPhase); at = at.Add(r.DurationBetween(500*sim.Millisecond, 3*sim.Second)) {
		kind := enabled[r.Intn(len(enabled))]
		a := d.nodes[r.Intn(demoNodes)]
		b := d.nodes[r.Intn(demoNodes)]
		hold := r.DurationBetween(100, 3000) * sim.Millisecond
		w.At(sim.Kernel, at, kind, func() { d.inject(kind, a, b, hold) })
	}
}

func (d *demo) inject(kind string, a, b *demoNode, hold sim.Duration) {
	w := d.w
	switch kind {
	case "partition":
		if a == b {
			return
		}
		w.Partition([]sim.ProcID{a.id}, []sim.ProcID{b.id})
		d.narrate("partition %s | %s for %v", w.Name(a.id), w.Name(b.id), hold)
		w.After(sim.Kernel, hold, "heal", func() { w.HealAll(); d.narrate("heal") })
	case "one-way":
		if a == b {
			return
		}
		w.PartitionOneWay([]sim.ProcID{a.id}, []sim.ProcID{b.id})
		d.narrate("one-way cut %s -> %s for %v", w.Name(a.id), w.Name(b.id), hold)
		w.After(sim.Kernel, hold, "heal", func() { w.HealAll(); d.narrate("heal") })
	case "crash":
		down := 0
		for _, n := range d.nodes {
			if !w.IsUp(n.id) {
				down++
			}
		}
		if !w.IsUp(a.id) || down >= demoMaxCrashed {
			return
		}
		w.Crash(a.id)
		d.narrate("crash %s for %v", w.Name(a.id), hold)
		w.After(sim.Kernel, hold, "restart", func() {
			if !w.IsUp(a.id) {
				w.Restart(a.id)
				d.narrate("restart %s", w.Name(a.id))
			}
		})
	case "pause":
		if !w.IsUp(a.id) || w.IsPaused(a.id) {
			return
		}
		w.Pause(a.id)
		d.narrate("pause %s for %v (GC)", w.Name(a.id), hold)
		w.After(sim.Kernel, hold, "resume", func() { w.Resume(a.id); d.narrate("resume %s", w.Name(a.id)) })
	case "slow-link":
		if a == b {
			return
		}
		w.SetLatency(a.id, b.id, sim.Pareto(sim.Millisecond, 20*sim.Millisecond, 1.1, 2*sim.Second))
		d.narrate("slow link %s -> %s for %v", w.Name(a.id), w.Name(b.id), hold)
		w.After(sim.Kernel, hold, "fast-link", func() { w.SetLatency(a.id, b.id, sim.Uniform(sim.Millisecond, 5*sim.Millisecond)) })
	}
}

// healAll ends the safety phase: every fault is undone, and the liveness
// check at the end of the grace period requires full recovery.
func (d *demo) healAll() {
	w := d.w
	w.HealAll()
	for _, n := range d.nodes {
		if !w.IsUp(n.id) {
			w.Restart(n.id)
		}
		w.Resume(n.id)
		for _, m := range d.nodes {
			if m != n {
				w.SetLatency(n.id, m.id, sim.Uniform(sim.Millisecond, 5*sim.Millisecond))
			}
		}
	}
	d.narrate("heal everything; require recovery within %v", demoGrace)
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
				d.violate("links-recover", "%s last heard n%d %v ago", w.Name(n.id), peer, age)
			}
		}
	}
}
