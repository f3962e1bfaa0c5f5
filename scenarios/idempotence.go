package scenarios

import (
	"fmt"

	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/nodes/kafka/config"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/producer"
	"github.com/kzsim/kzsim/nodes/kafka/producer/partition"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/sim"
)

// idempotent-producer: idempotent producers (KIP-98, enable.idempotence)
// write with acks=all while brokers crash, pause and are cut off, so that
// requests time out or lose their connection after the leader appended
// them and the producers retry batches that are already in the log. The
// leaders must answer those retries with the batches' first offsets
// rather than append them again: no value of an idempotent producer is at
// two offsets of any replica's log, and every acknowledged message is in
// its leader's log at its offset.

// CheckNoIdempotentDuplicates is the end check of the scenario.
const CheckNoIdempotentDuplicates = "no-duplicates-from-idempotent-producer"

// Workload of the scenario.
const (
	idempotentProducers = 3
	idempotentRate      = 40 // messages a second, each producer
	idempotentKeys      = 100
)

func init() {
	register(Scenario{
		Name:      "idempotent-producer",
		ZooKeeper: true,
		Clients:   []string{LayoutController},
		Layouts:   []string{LayoutController},
		Summary: "3 idempotent producers (acks=all) write to 5 brokers while brokers crash, pause and are cut off; " +
			"retried batches the leader already holds get their first offsets, so no value is at two offsets of a log",
		Run: func(cfg Config) *invariants.Result { return runKafka(cfg, idempotentProducerPlan()) },
	})
}

// idempotenceRun is what one run of the scenario counts.
type idempotenceRun struct {
	producers      map[uint64]bool // the idempotent producers' indexes
	retriesAcked   int             // messages acknowledged after a retry
	sequenceResets int
}

func idempotentProducerPlan() kafkaPlan {
	run := &idempotenceRun{producers: map[uint64]bool{}}
	return kafkaPlan{
		name: "idempotent-producer", brokers: 5, topics: []topicSpec{{name: "events", partitions: 6, rf: 3}},
		safety: 90 * sim.Second, faultEvery: 10 * sim.Second,
		faults: []string{faultCrashBroker, faultPauseBroker, faultIsolateBroker, faultCrashController},
		tweak:  func(k *config.Config) { k.MinInsyncReplicas = 2 },
		clients: func(c *kcluster) {
			for range idempotentProducers {
				c.addIdempotentProducer(len(c.producers)+1, run)
			}
		},
		settled: func(c *kcluster) {
			checkAckedDurable(c)
			checkNoIdempotentDuplicates(c, run)
		},
		metrics: func(c *kcluster, m map[string]float64) { idempotenceMetrics(c, run, m) },
	}
}

// addIdempotentProducer adds an idempotent producer process (metadata
// discovery, keyed messages, producer id = its index) writing from 5 s to
// the end of the safety phase.
func (c *kcluster) addIdempotentProducer(index int, run *idempotenceRun) {
	w := c.w
	p := &prodProc{name: fmt.Sprintf("producer-%d", index), mode: producer.DiscoveryMetadata}
	keys, err := partition.NewZipf(idempotentKeys, 1)
	if err != nil {
		panic("idempotent-producer: " + err.Error()) // constant arguments
	}
	hosts := c.brokerNames()
	cfg := producer.Config{
		Index: index, Discovery: producer.DiscoveryMetadata, Topics: []string{c.plan.topics[0].name}, Bootstrap: hosts, Keys: keys,
		Idempotent: true, ProducerID: int64(index), Acks: proto.AcksAll, MaxInFlight: producer.MaxIdempotentInFlight,
		BatchMax: 20, Rate: idempotentRate, Start: 5 * sim.Second, Stop: c.plan.safety, Rand: w.Rand(p.name),
		// Kafka 2.6's producer retries until delivery.timeout.ms (120 s);
		// 300 retries 100 ms apart stand in for it.
		MaxRetries: 300,
	}
	if _, err := producer.New(cfg); err != nil {
		panic("idempotent-producer: " + err.Error()) // the scenario's own configuration
	}
	p.hear = func(r kproc.Effect) {
		switch r := r.(type) {
		case producer.Acked:
			if r.Attempts > 1 {
				run.retriesAcked++
			}
		case producer.SequenceReset:
			run.sequenceResets++
		}
	}
	c.newProducer(p, func(uint32) producer.Config { return cfg })
	run.producers[uint64(index)] = true
	w.At(p.shell.ID(), 0, "start", p.shell.Start)
}

// checkNoIdempotentDuplicates: no value an idempotent producer wrote is at
// two offsets of one replica's log, on any live broker. (Values are
// unique per run: Index<<40 | n.)
func checkNoIdempotentDuplicates(c *kcluster, run *idempotenceRun) {
	for _, b := range c.brokers {
		m, ok := b.machine()
		if !ok {
			continue
		}
		c.forEachPartition(func(tp proto.TopicPartition, _ kafkazk.ReplicaAssignment, _ *kafkazk.PartitionState) {
			at := map[uint64]int64{}
			from := int64(0)
			if r, ok := m.Replica(tp); ok {
				from = r.LogStart
			}
			for {
				recs := m.Read(tp, from, 1000)
				if len(recs) == 0 {
					return
				}
				for _, r := range recs {
					if !run.producers[r.Value>>40] {
						continue
					}
					if first, dup := at[r.Value]; dup {
						c.liveness(CheckNoIdempotentDuplicates, "%s's log of %s holds value %x of producer-%d at offsets %d and %d",
							b.name, tp, r.Value, r.Value>>40, first, r.Offset)
						return
					}
					at[r.Value] = r.Offset
				}
				from = recs[len(recs)-1].Offset + 1
			}
		})
	}
}

// idempotenceMetrics: messages acknowledged, those acknowledged after a
// retry (the retries the leaders may have answered as duplicates), and
// the partitions whose sequences started again.
func idempotenceMetrics(c *kcluster, run *idempotenceRun, m map[string]float64) {
	acked, failed, unknown := 0.0, 0.0, 0.0
	for _, p := range c.producers {
		acked += float64(len(p.acked))
		failed += float64(p.fails)
		unknown += float64(p.infos)
	}
	m["messages_acked"] = acked
	m["messages_failed"] = failed
	m["messages_unknown"] = unknown
	m["messages_acked_after_retry"] = float64(run.retriesAcked)
	m["sequence_resets"] = float64(run.sequenceResets)
}
