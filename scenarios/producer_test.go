package scenarios

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/kzsim/kzsim/nodes/kafka/history"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/producer"
	"github.com/kzsim/kzsim/nodes/kafka/producer/partition"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/sim"
)

// kproducer is one producer process of a test run and what it reported.
type kproducer struct {
	name  string
	shell *kproc.Shell[*producer.Producer]
	acked []producer.Acked
	fails int
	infos int
}

// addProducer adds a producer process to c's world, started at 0: its
// reports become history lines on h.
func addProducer(t *testing.T, c *kcluster, h *history.Writer, cfg producer.Config) *kproducer {
	w := c.w
	kp := &kproducer{name: fmt.Sprintf("producer-%s", cfg.Discovery)}
	cfg.Rand = w.Rand(kp.name)
	if _, err := producer.New(cfg); err != nil {
		t.Fatal(err)
	}
	write := func(o history.Op) {
		if err := h.Write(o); err != nil {
			t.Errorf("%s: history: %v", kp.name, err)
		}
	}
	kp.shell = c.producerShell(kp.name, cfg, func(r kproc.Effect) {
		switch r := r.(type) {
		case producer.Acked:
			kp.acked = append(kp.acked, r)
		case producer.Failed:
			kp.fails++
		case producer.Unknown:
			kp.infos++
		}
		if o, ok := producer.HistoryOp(kp.name, r, w.Now()); ok {
			write(o)
		}
	})
	w.At(kp.shell.ID(), 0, "start", kp.shell.Start)
	return kp
}

// checkAckedInLogs checks that every acknowledged message is in its
// partition leader's log at the offset it was acknowledged at.
func checkAckedInLogs(c *kcluster, acks []producer.Acked) []string {
	var bad []string
	for _, a := range acks {
		tp := proto.TopicPartition{Topic: a.Topic, Partition: a.Partition}
		data, _, ok := c.srv.View().Get(kafkazk.PartitionStatePath(a.Topic, a.Partition))
		st, err := kafkazk.DecodePartitionState(data)
		if !ok || err != nil {
			bad = append(bad, fmt.Sprintf("%s: no partition state", tp))
			continue
		}
		b := c.broker(st.Leader)
		m, ok := b.machine()
		if b == nil || !ok {
			bad = append(bad, fmt.Sprintf("%s: leader %d is down", tp, st.Leader))
			continue
		}
		recs := m.Read(tp, a.Offset, 1)
		if len(recs) != 1 || recs[0].Offset != a.Offset || recs[0].Value != a.Value {
			bad = append(bad, fmt.Sprintf("%s@%d: value %x acked, log has %v", tp, a.Offset, a.Value, recs))
		}
	}
	return bad
}

// producerRun is a run of one producer of each discovery mode.
type producerRun struct {
	c            *kcluster
	zk, md, st   *kproducer
	history      bytes.Buffer
	zkViewDuring []int32 // the zk producer's brokers at 42 s (with faults)
	traceHash    string
}

// runProducers runs one producer of each discovery mode (acks as given)
// against a 3-broker cluster for 60 s; during, if set, runs at 42 s.
func runProducers(t *testing.T, acks int16, faults func(c *kcluster)) *producerRun {
	t.Helper()
	r := &producerRun{}
	h := history.NewWriter(&r.history)
	ha := map[int16]string{proto.AcksAll: history.AcksAll, proto.AcksLeader: history.AcksOne}[acks]
	if err := h.WriteConfig(history.Config{Acks: ha, MinInsyncReplicas: 1}); err != nil {
		t.Fatal(err)
	}
	zipf, err := partition.NewZipf(1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	hosts := []string{"broker-1", "broker-2", "broker-3"}
	plan := kafkaPlan{
		name: "producer-test", brokers: 3, topics: []topicSpec{{name: "t", partitions: 6, rf: 3}},
		safety: 55 * sim.Second, grace: 5 * sim.Second,
		drive: func(c *kcluster) sim.Status {
			r.c = c
			common := producer.Config{Topics: []string{"t"}, Rate: 50, BurstEvery: 10 * sim.Second, BurstSize: 20,
				Start: 5 * sim.Second, Stop: 55 * sim.Second, Acks: acks}
			z := common
			z.Index, z.Discovery, z.Keys = 1, producer.DiscoveryZK, zipf
			r.zk = addProducer(t, c, h, z)
			m := common
			m.Index, m.Discovery, m.Bootstrap, m.Partitioner = 2, producer.DiscoveryMetadata, hosts, producer.PartitionSticky
			r.md = addProducer(t, c, h, m)
			s := common
			s.Index, s.Discovery, s.Bootstrap, s.StaticPartitions, s.Partitioner = 3, producer.DiscoveryStatic, hosts, 6, producer.PartitionRoundRobin
			r.st = addProducer(t, c, h, s)
			if faults != nil {
				faults(c)
				c.w.At(sim.Kernel, sim.Time(42*sim.Second), "look", func() {
					if p, ok := r.zk.shell.Machine(); ok {
						r.zkViewDuring = p.View().BrokerIDs()
					}
				})
			}
			return c.w.Run()
		},
	}
	res := runKafka(Config{Seed: 1}, plan)
	if !res.OK() {
		t.Fatalf("run: %v", res.Violations)
	}
	r.traceHash = res.TraceHash
	for _, kp := range []*kproducer{r.zk, r.md, r.st} {
		t.Logf("%s: acked %d, failed %d, unknown %d", kp.name, len(kp.acked), kp.fails, kp.infos)
		if len(kp.acked) == 0 {
			t.Errorf("%s acknowledged nothing", kp.name)
		}
		if bad := checkAckedInLogs(r.c, kp.acked); len(bad) > 0 {
			t.Errorf("%s: %d acked messages not in the leader's log, first: %s", kp.name, len(bad), bad[0])
		}
	}
	if _, err := history.Read(bytes.NewReader(r.history.Bytes())); err != nil {
		t.Fatalf("history: %v", err)
	}
	return r
}

// TestProducersAgainstCluster: every acknowledged message is in its
// leader's log at its offset, the reports make a valid history, and the
// static producer reaches only through its one broker.
func TestProducersAgainstCluster(t *testing.T) {
	r := runProducers(t, proto.AcksLeader, nil)
	p, _ := r.st.shell.Machine()
	if hs := p.View().Hosts; len(hs) != 1 || r.st.fails == 0 {
		t.Errorf("static producer: hosts %v, %d failed", hs, r.st.fails)
	}
	// The check fires on an acknowledgment the log does not hold.
	wrong := slices.Clone(r.zk.acked[:1])
	wrong[0].Offset++
	wrong = append(wrong, r.zk.acked[0])
	wrong[1].Value++
	if bad := checkAckedInLogs(r.c, wrong); len(bad) != 2 {
		t.Fatalf("planted wrong offset and value: %v", bad)
	}
	// Same seed, same run: the producers add no nondeterminism.
	again := runProducers(t, proto.AcksLeader, nil)
	if again.traceHash != r.traceHash || !bytes.Equal(again.history.Bytes(), r.history.Bytes()) {
		t.Fatalf("two runs of seed 1 differ: trace %s vs %s", r.traceHash, again.traceHash)
	}
}

// TestProducersBrokerCrash: broker 2 crashes at 20 s and comes back at
// 45 s. With acks=all every acknowledged message survives; the zk producer
// drops broker 2 from its view once its session expires and takes it back.
func TestProducersBrokerCrash(t *testing.T) {
	r := runProducers(t, proto.AcksAll, func(c *kcluster) {
		b := c.broker(2)
		c.w.At(sim.Kernel, sim.Time(20*sim.Second), "crash", func() { c.w.Crash(b.pid) })
		c.w.At(sim.Kernel, sim.Time(45*sim.Second), "restart", func() { c.w.Restart(b.pid) })
	})
	if got := fmt.Sprint(r.zkViewDuring); got != "[1 3]" {
		t.Errorf("zk producer's brokers at 42 s: %s, want [1 3]", got)
	}
	p, _ := r.zk.shell.Machine()
	if got := fmt.Sprint(p.View().BrokerIDs()); got != "[1 2 3]" {
		t.Errorf("zk producer's brokers at the end: %s", got)
	}
	if r.md.fails+r.md.infos == 0 {
		t.Errorf("the metadata producer lost nothing to the crash")
	}
	m, _ := r.md.shell.Machine()
	if n := m.View().Refreshes; n < 3 {
		t.Errorf("the metadata producer refreshed %d times", n)
	}
}
