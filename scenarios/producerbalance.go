package scenarios

import (
	"fmt"

	"github.com/kzsim/kzsim/nodes/kafka/config"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/producer"
	"github.com/kzsim/kzsim/nodes/kafka/producer/partition"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/sim"
)

// producer-balance: the three ways a ZooKeeper-era producer found its
// brokers, side by side on one cluster while brokers leave and come back —
// the 0.7 ZooKeeper producer (watching /brokers/ids, the topics and the
// partition states), the old Scala producer (metadata requests), and a
// static broker list behind a layer-4 balancer (one broker, picked once).
// Every configuration is durable (acks=all, min.insync.replicas 2,
// replication factor 3, clean elections), so every acknowledged message
// must be in its partition leader's log at the offset it was acknowledged
// at once the cluster has settled.

func init() {
	register(Scenario{
		Name:      "producer-balance",
		ZooKeeper: true,
		Clients:   []string{LayoutController, Layout07},
		Layouts:   []string{LayoutController, Layout07},
		Summary: "3 producers of each discovery way (zk, metadata, static) send keyed messages with acks=all to 5 brokers " +
			"while brokers crash and shut down; messages acked per broker and the load skew of each way; every acked message " +
			"must be in its leader's log at its offset; --layout 0.7: 3 ZooKeeper and 3 broker.list producers of 0.7 and a consumer, " +
			"sends unanswered (history info), every message logged or consumed was sent",
		Run: runClientsIn(producerBalancePlan, producerBalance07),
	})
}

// producerBalance07 is producer-balance's 0.7 form: the two 0.7 ways (the
// ZooKeeper producer and broker.list behind a balancer; 0.7 had no
// metadata request) and one consumer reading what they wrote.
func producerBalance07() clients07Plan {
	return clients07Plan{name: "producer-balance", zkProducers: balanceProducersPerMode, staticProducers: balanceProducersPerMode, consumers: 1}
}

// Producer workload of the scenario.
const (
	balanceProducersPerMode = 3
	balanceRate             = 20 // messages a second, each producer
	balanceKeys             = 1000
)

func producerBalancePlan() kafkaPlan {
	return kafkaPlan{
		name: "producer-balance", brokers: 5, topics: []topicSpec{{name: "events", partitions: 10, rf: 3}},
		safety: 120 * sim.Second, faultEvery: 15 * sim.Second,
		faults: []string{faultCrashBroker, faultControlledShutdown, faultCrashController},
		tweak:  func(k *config.Config) { k.MinInsyncReplicas = 2 },
		clients: func(c *kcluster) {
			for _, mode := range []producer.Discovery{producer.DiscoveryZK, producer.DiscoveryMetadata, producer.DiscoveryStatic} {
				for i := 0; i < balanceProducersPerMode; i++ {
					c.addProducer(mode, len(c.producers)+1)
				}
			}
		},
		settled: checkAckedDurable,
		metrics: clientMetrics,
	}
}

// prodProc is the scenario's handle on one producer process.
type prodProc struct {
	name  string
	mode  producer.Discovery
	shell *kproc.Shell[*producer.Producer]
	acked []producer.Acked
	fails int
	infos int
	// hear, if set, hears every report first, and see every input (the
	// scripts' narration and error counts).
	hear func(kproc.Effect)
	see  func(kproc.Input)
}

// addProducer adds a producer process of the given discovery way: keyed
// messages (Zipf keys) at a steady rate from 5 s (the topics exist) to the
// end of the safety phase.
func (c *kcluster) addProducer(mode producer.Discovery, index int) {
	w := c.w
	p := &prodProc{name: fmt.Sprintf("producer-%d", index), mode: mode}
	keys, err := partition.NewZipf(balanceKeys, 1)
	if err != nil {
		panic("producer-balance: " + err.Error()) // constant arguments
	}
	hosts := c.brokerNames()
	cfg := producer.Config{
		Index: index, Discovery: mode, Topics: c.topicNames(), Bootstrap: hosts, Keys: keys,
		Acks: proto.AcksAll, Rate: float64(c.produceRate()), Start: 5 * sim.Second, Stop: c.plan.safety,
		StaticPartitions: c.plan.topics[0].partitions, Rand: w.Rand(p.name),
	}
	if _, err := producer.New(cfg); err != nil {
		panic("producer-balance: " + err.Error()) // the scenario's own configuration
	}
	c.newProducer(p, func(uint32) producer.Config { return cfg })
	w.At(p.shell.ID(), 0, "start", p.shell.Start)
}

// newProducer makes p's process, its incarnation inc running cfgOf(inc)
// (checked by the caller), recording its acks and history; the caller
// starts it.
func (c *kcluster) newProducer(p *prodProc, cfgOf func(inc uint32) producer.Config) {
	w := c.w
	see := func(in kproc.Input) {
		if p.see != nil {
			p.see(in)
		}
	}
	p.shell = c.producerShellOf(p.name, cfgOf, see, func(r kproc.Effect) {
		if p.hear != nil {
			p.hear(r)
		}
		switch r := r.(type) {
		case producer.Acked:
			p.acked = append(p.acked, r)
		case producer.Failed:
			p.fails++
		case producer.Unknown:
			p.infos++
		}
		if o, ok := producer.HistoryOp(p.name, r, w.Now()); ok {
			c.history = append(c.history, o)
		}
	})
	c.producers = append(c.producers, p)
}

// checkAckedDurable: with acks=all and min.insync.replicas 2 on replication
// factor 3 and clean elections, an acknowledged message was on two replicas,
// so no single failure loses it: once settled, it is in its partition
// leader's log at the offset it was acknowledged at, with its value. A run
// in which a broker lost power promises nothing (history.Config.PowerLoss):
// the messages lost are counted (acked_lost), not judged.
func checkAckedDurable(c *kcluster) {
	durable := c.historyConfig().Durable()
	c.ackedLost = 0
	for _, p := range c.producers {
		bad, first := 0, ""
		for _, a := range p.acked {
			if why := c.ackedInLog(a); why != "" {
				if bad == 0 {
					first = why
				}
				bad++
			}
		}
		c.ackedLost += bad
		if bad > 0 && durable {
			c.liveness("acked-messages-durable", "%s: %d of %d acknowledged messages are not in their leader's log; first: %s", p.name, bad, len(p.acked), first)
		}
		if bad > 0 && !durable {
			c.narrate("%s: %d of %d acknowledged messages are gone after a power loss; first: %s", p.name, bad, len(p.acked), first)
		}
	}
}

// ackedInLog says why a is not in its leader's log at its offset ("" if it
// is).
func (c *kcluster) ackedInLog(a producer.Acked) string {
	tp := proto.TopicPartition{Topic: a.Topic, Partition: a.Partition}
	data, _, ok := c.srv.View().Get(kafkazk.PartitionStatePath(a.Topic, a.Partition))
	if !ok {
		return fmt.Sprintf("%s: no partition state", tp)
	}
	st, err := kafkazk.DecodePartitionState(data)
	if err != nil {
		return fmt.Sprintf("%s: %v", tp, err)
	}
	b := c.broker(st.Leader)
	if b == nil {
		return fmt.Sprintf("%s: no leader", tp)
	}
	m, ok := b.machine()
	if !ok {
		return fmt.Sprintf("%s: leader %d is down", tp, st.Leader)
	}
	if recs := m.Read(tp, a.Offset, 1); len(recs) != 1 || recs[0].Value != a.Value {
		return fmt.Sprintf("%s@%d: value %x acknowledged, the log of broker %d has %v", tp, a.Offset, a.Value, st.Leader, recs)
	}
	return ""
}

// producerShell makes the process of a producer with cfg (checked by the
// caller): its reports go to onReport.
func (c *kcluster) producerShell(name string, cfg producer.Config, onReport func(kproc.Effect)) *kproc.Shell[*producer.Producer] {
	return c.producerShellOf(name, func(uint32) producer.Config { return cfg }, nil, onReport)
}

// producerShellOf is producerShell with a configuration per incarnation
// (a restarted script producer takes a new index, so its values stay
// unique); every incarnation keeps the first one's in-flight bound. onInput,
// if set, sees every input first.
func (c *kcluster) producerShellOf(name string, cfgOf func(inc uint32) producer.Config, onInput func(kproc.Input), onReport func(kproc.Effect)) *kproc.Shell[*producer.Producer] {
	var seeInput func(uint32, kproc.Input)
	if onInput != nil {
		seeInput = func(_ uint32, in kproc.Input) { onInput(in) }
	}
	w := c.w
	inFlight := cfgOf(1).MaxInFlight
	if inFlight == 0 {
		inFlight = producer.DefaultMaxInFlight
	}
	return kproc.NewShell(w, kproc.Config[*producer.Producer]{
		Name: name,
		New: func(inc uint32) *producer.Producer {
			m, err := producer.New(cfgOf(inc))
			if err != nil {
				panic(err) // checked by the caller
			}
			return m
		},
		ZooKeeper:   kafkazk.Config{Servers: []sim.ProcID{c.srv.ID()}, SessionTimeout: c.kcfg.ZooKeeperSessionTimeout},
		Resolve:     w.ProcByName,
		MaxInFlight: func(kproc.Channel) int { return inFlight }, // the machine keeps to its own bound; the connection's is the same
		OnReport:    func(_ uint32, r kproc.Effect) { onReport(r) },
		OnInput:     seeInput,
	})
}
