package scenarios

import (
	"fmt"

	"github.com/kzsim/kzsim/nodes/kafka/config"
	"github.com/kzsim/kzsim/nodes/kafka/consumer"
	"github.com/kzsim/kzsim/nodes/kafka/history"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/producer"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/sim"
)

// consumer-rebalance: a group of the old ZooKeeper-based high-level
// consumers reads a topic while producers write to it; consumers join,
// leave and crash (and brokers crash), and every change makes the group
// rebalance through its ZooKeeper registrations and owner znodes. The
// configuration is durable (acks=all, min ISR 2, replication factor 3), so
// every acknowledged message must be consumed by the group at the offset
// it was acknowledged at.

func init() {
	register(Scenario{
		Name:      "consumer-rebalance",
		ZooKeeper: true,
		Clients:   []string{LayoutController, Layout07},
		Layouts:   []string{LayoutController, Layout07},
		Summary: "a group of 3 old ZooKeeper consumers reads a topic 2 producers write with acks=all while consumers join, " +
			"leave and crash and brokers crash; every partition ends owned by one live consumer, every acknowledged message " +
			"is consumed at its offset, no offset is read with two values; --layout 0.7: 0.7 consumers (\"<b>-<p>\" partitions, " +
			"no acks to check), every partition owned by one live consumer, nothing read twice differently, past a log's end, or never sent",
		Run: runClientsIn(consumerRebalancePlan, consumerRebalance07),
	})
}

// consumerRebalance07 is consumer-rebalance's 0.7 form: a 0.7 ZooKeeper
// producer and a broker.list one, and three 0.7 consumers that crash, leave
// and return.
func consumerRebalance07() clients07Plan {
	return clients07Plan{name: "consumer-rebalance", zkProducers: 1, staticProducers: 1, consumers: rebalanceConsumers, consumerFaults: true}
}

const (
	rebalanceGroup     = "g"
	rebalanceTopic     = "events"
	rebalanceConsumers = 3
)

// Consumer faults the scenario draws.
const (
	faultCrashConsumer = "crash-consumer" // killed; restarted after the hold (its session expires meanwhile, or not)
	faultLeaveConsumer = "leave-consumer" // shuts down cleanly (commits, releases); starts again after the hold
)

func consumerRebalancePlan() kafkaPlan {
	return kafkaPlan{
		name: "consumer-rebalance", brokers: 5, topics: []topicSpec{{name: rebalanceTopic, partitions: 12, rf: 3}},
		safety: 120 * sim.Second, faultEvery: 20 * sim.Second,
		faults: []string{faultCrashBroker, faultCrashController},
		tweak:  func(k *config.Config) { k.MinInsyncReplicas = 2 },
		groups: []groupSpec{{name: rebalanceGroup, topics: []string{rebalanceTopic}, consumers: rebalanceConsumers}},
		clients: func(c *kcluster) {
			c.addProducer(producer.DiscoveryZK, 1)
			c.addProducer(producer.DiscoveryMetadata, 2)
			c.addGroups()
			c.scheduleConsumerFaults()
		},
		settled: checkConsumers,
		metrics: clientMetrics,
	}
}

// consProc is the scenario's handle on one consumer process.
type consProc struct {
	name   string
	group  string
	shell  *kproc.Shell[*consumer.Consumer]
	pastHW int
}

// addConsumer adds consumer i (numbered across groups) of group g,
// starting at 3 s + i s, with one stream a topic.
func (c *kcluster) addConsumer(g groupSpec, i int) {
	w := c.w
	p := &consProc{name: fmt.Sprintf("consumer-%d", i), group: g.name}
	name := p.name
	streams := map[string]int{}
	for _, t := range g.topics {
		streams[t] = 1
	}
	newMachine := func(inc uint32) *consumer.Consumer {
		cfg := consumer.DefaultConfig(g.name, name, streams, w.Rand(fmt.Sprintf("%s/%d", name, inc)))
		cfg.AutoOffsetReset = consumer.ResetSmallest // a durable run must see every message
		if c.plan.bugs.consumersResetLargest {
			cfg.AutoOffsetReset = consumer.ResetLargest
		}
		cfg.AutoCommitInterval = 5 * sim.Second
		cfg.ConsumerID = name // the same id across restarts
		return consumer.New(cfg)
	}
	// The old consumer's zookeeper.session.timeout.ms is 6 s; 0.9's
	// ZKCheckedEphemeral registration.
	zk := kafkazk.Config{Servers: []sim.ProcID{c.srv.ID()}, SessionTimeout: 6 * sim.Second, Era: kafkazk.Era09}
	p.shell = consumerProcess(&c.recorder, p, newMachine, zk, consumerHooks{
		record:     func(o history.Op) { c.history = append(c.history, o) },
		away:       func() bool { return c.leaving(p) },
		pastHW:     "consumers-below-high-watermark",
		onFetching: func() { c.groupFetching(g.name) },
	})
	c.consumers = append(c.consumers, p)
	start := sim.Time(3*sim.Second + sim.Duration(i)*sim.Second)
	if c.plan.bugs.consumersResetLargest {
		start = start.Add(30 * sim.Second) // they join after messages were written, and skip them
	}
	w.At(p.shell.ID(), start, "start", p.shell.Start)
}

// consumerHooks connect a consumer process to its scenario.
type consumerHooks struct {
	record      func(history.Op)           // a delivery's or commit's history line
	away        func() bool                // the consumer left on purpose: no supervisor restart
	pastHW      string                     // the safety invariant of a fetch answered past its high watermark
	onDelivered func(d consumer.Delivered) // optional: a further check of each delivery
	onStarted   func()                     // optional: a rebalance started
	onFetching  func()                     // optional: fetching again after a rebalance
	hear        func(kproc.Effect)         // optional: hears every report first (the scripts' narration)
}

// consumerProcess makes the process of consumer p, whose incarnations run
// newMachine's machine on the ZooKeeper layer zk: deliveries and commits
// become history lines, an answer past the high watermark is a safety
// violation, and after an Exit the process stops and a supervisor starts
// it again (unless it is away).
func consumerProcess(r *recorder, p *consProc, newMachine func(inc uint32) *consumer.Consumer, zk kafkazk.Config, h consumerHooks) *kproc.Shell[*consumer.Consumer] {
	w := r.w
	name := p.name
	return kproc.NewShell(w, kproc.Config[*consumer.Consumer]{
		Name:      name,
		New:       newMachine,
		ZooKeeper: zk,
		Resolve:   w.ProcByName,
		OnReport: func(_ uint32, e kproc.Effect) {
			if h.hear != nil {
				h.hear(e)
			}
			switch e := e.(type) {
			case consumer.Delivered:
				h.record(e.HistoryOp(name, w.Now()))
				if h.onDelivered != nil {
					h.onDelivered(e)
				}
			case consumer.Committed:
				h.record(e.HistoryOp(name, w.Now()))
			case consumer.RebalanceStarted:
				if h.onStarted != nil {
					h.onStarted()
				}
			case consumer.Fetching:
				if h.onFetching != nil {
					h.onFetching()
				}
			case consumer.PastHighWatermark:
				p.pastHW++
				r.safety(h.pastHW, "%s was answered past the high watermark of %s", name, e.TP)
			case consumer.RegistrationFailed:
				r.narrate("%s cannot register and exits; its supervisor starts it again", name)
			}
		},
		OnExit: func() {
			inc := w.Incarnation(p.shell.ID())
			w.After(sim.Kernel, 50*sim.Millisecond, "stop-process", func() {
				if w.IsUp(p.shell.ID()) && w.Incarnation(p.shell.ID()) == inc {
					w.Crash(p.shell.ID())
				}
			})
			w.After(sim.Kernel, kafkaSupervisorRestart, "supervisor-restart", func() {
				if !w.IsUp(p.shell.ID()) && !h.away() {
					w.Restart(p.shell.ID())
				}
			})
		},
	})
}

// drawConsumerFaults draws consumer crashes and departures (a clean
// shutdown) from 15 s to the time to, each for a hold of 2 to 15 s, after
// which the consumer starts again; away marks those that left on purpose.
func drawConsumerFaults(rec *recorder, r *sim.Rand, consumers []*consProc, away map[string]bool, to sim.Time) {
	w := rec.w
	everyFew(r, sim.Time(15*sim.Second), to, func(at sim.Time) {
		p := consumers[r.Intn(len(consumers))]
		hold := r.DurationBetween(2*sim.Second, 15*sim.Second)
		kind := faultCrashConsumer
		if r.Chance(0.5) {
			kind = faultLeaveConsumer
		}
		w.At(sim.Kernel, at, kind, func() {
			id := p.shell.ID()
			if !w.IsUp(id) || away[p.name] {
				return
			}
			switch kind {
			case faultCrashConsumer:
				rec.narrate("crash %s for %v", p.name, hold)
				w.Crash(id)
			case faultLeaveConsumer:
				rec.narrate("%s leaves the group for %v", p.name, hold)
				away[p.name] = true
				w.At(id, w.Now(), "shutdown", p.shell.Shutdown)
			}
			w.At(sim.Kernel, w.Now().Add(hold), "return", func() {
				away[p.name] = false
				if !w.IsUp(id) {
					rec.narrate("%s starts again", p.name)
					w.Restart(id)
				}
			})
		})
	})
}

// everyFew calls fn at times from from (inclusive) to to (exclusive), 8
// to 20 s apart as r draws them.
func everyFew(r *sim.Rand, from, to sim.Time, fn func(at sim.Time)) {
	for at := from; at < to; at = at.Add(r.DurationBetween(8*sim.Second, 20*sim.Second)) {
		fn(at)
	}
}

// leaving reports whether p left the group on purpose and waits to return.
func (c *kcluster) leaving(p *consProc) bool { return c.consumerAway[p.name] }

// scheduleConsumerFaults draws consumer crashes and departures over the
// safety phase from the seed's own stream.
func (c *kcluster) scheduleConsumerFaults() {
	w := c.w
	r := w.Rand("consumer-faults")
	c.consumerAway = map[string]bool{}
	drawConsumerFaults(&c.recorder, r, c.consumers, c.consumerAway, sim.Time(c.plan.safety-15*sim.Second))
	w.At(sim.Kernel, sim.Time(c.plan.safety), "consumers-back", func() {
		for _, p := range c.consumers {
			if c.plan.bugs.consumersDownAtEnd {
				c.consumerAway[p.name] = true
				if w.IsUp(p.shell.ID()) {
					w.Crash(p.shell.ID())
				}
				continue
			}
			c.consumerAway[p.name] = false
			if !w.IsUp(p.shell.ID()) {
				w.Restart(p.shell.ID())
			}
		}
	})
}

// checkConsumers: every partition of a group's topics is owned by exactly
// one live consumer of the group (its owner znode names a running
// consumer's thread), and the history passes history.Check (every
// acknowledged message of a durable run consumed at its offset by every
// group; no offset read with two values).
func checkConsumers(c *kcluster) {
	v := c.srv.View()
	for _, g := range c.plan.groups {
		live := map[string]bool{}
		for _, p := range c.consumers {
			if m, ok := p.shell.Machine(); ok && p.group == g.name && c.w.IsUp(p.shell.ID()) && m.Running() {
				live[m.ID()+"-0"] = true
			}
		}
		for _, t := range g.topics {
			for part := range int32(c.topicPartitions(t)) {
				tp := proto.TopicPartition{Topic: t, Partition: part}
				data, _, ok := v.Get(consumer.OwnerPath(g.name, tp))
				switch {
				case !ok:
					c.liveness("partitions-owned", "%s has no owner in group %s", tp, g.name)
				case !live[string(data)]:
					c.liveness("partitions-owned", "%s is owned by %q, not a live consumer of group %s", tp, data, g.name)
				}
			}
		}
	}
	h := &history.History{Config: c.historyConfig(), Ops: c.history}
	for i := range h.Ops {
		h.Ops[i].Line = i + 2
	}
	for _, viol := range history.Check(h) {
		c.liveness(viol.Check, "%s", viol.Msg)
	}
}
