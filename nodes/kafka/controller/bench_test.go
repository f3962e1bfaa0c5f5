package controller

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/kzsim/kzsim/nodes/kafka/config"
	"github.com/kzsim/kzsim/nodes/kafka/controller/algo"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/sim"
)

// failoverTree builds the ZooKeeper data of a cluster of 5 brokers whose
// controller, broker 5, has just crashed: brokers 1-4 registered, topics of
// 50 partitions with replication factor 3 assigned over all 5 as Kafka
// assigns them, every partition state written with its preferred replica
// as leader and a full ISR.
func failoverTree(partitions int) *driver {
	d := newDriver(Config{BrokerID: 1, Kafka: config.Default(), Costs: config.DefaultCosts()})
	brokers := []algo.Broker{{ID: 1}, {ID: 2}, {ID: 3}, {ID: 4}, {ID: 5}}
	for _, b := range brokers[:4] {
		d.addBroker(b.ID)
	}
	d.put(kafkazk.ControllerEpochPath, kafkazk.EncodeControllerEpoch(1), 0)
	const perTopic = 50
	for t := 0; t*perTopic < partitions; t++ {
		assign, err := algo.AssignReplicas(brokers, perTopic, 3, algo.FixedPlacement(t%5), 0)
		if err != nil {
			panic(err)
		}
		name := fmt.Sprintf("topic-%04d", t)
		d.createTopic(name, assign)
		for p, rs := range assign {
			st := kafkazk.PartitionState{Leader: rs[0], ISR: rs, ControllerEpoch: 1}
			d.put(kafkazk.PartitionStatePath(name, int32(p)), st.Encode(), 0)
		}
	}
	return d
}

// zkLatency is the benchmark's ZooKeeper: a 140 µs round trip per batch
// plus 14 µs per further request pipelined (the r and r/10 of
// config.Costs' derivation).
func zkLatency(n int) sim.Duration {
	return 140*sim.Microsecond + sim.Duration(n-1)*14*sim.Microsecond
}

func benchmarkFailover(b *testing.B, partitions int, pipelined bool) {
	base := failoverTree(partitions)
	b.ReportAllocs()
	var last *driver
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		cfg := base.c.cfg
		if !pipelined {
			cfg.Kafka = config.ForEra(config.Era10)
		}
		d := &driver{c: New(cfg), tree: base.tree.Clone(), zxid: base.zxid, session: base.session,
			timers: map[kproc.TimerName]sim.Time{}, failZK: map[int]error{},
			effects: effectCount{sends: map[string]int{}, entries: map[string]int{}}, zkLatency: zkLatency}
		b.StartTimer()
		d.apply(d.c.Startup(d.now, 0x11), nil)
		if err := d.settle(true, 10_000_000, nil); err != nil {
			b.Fatal(err)
		}
		last = d
	}
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-after-MB")
	runtime.KeepAlive(last)
	v := last.c.View()
	if !v.IsActive || v.Partitions != partitions || v.OfflinePartitions != 0 {
		b.Fatalf("failover incomplete: %+v", v)
	}
	b.ReportMetric(float64(last.failoverAt)/1e6, "virtual-failover-ms")
	b.ReportMetric(float64(last.zkBatches), "zk-batches")
	b.ReportMetric(float64(last.effects.sends[proto.KindLeaderAndIsr]), "LeaderAndIsr-sends")
	b.ReportMetric(float64(last.effects.entries[proto.KindLeaderAndIsr]), "LeaderAndIsr-entries")
	b.ReportMetric(float64(last.effects.sends[proto.KindUpdateMetadata]), "UpdateMetadata-sends")
}

func BenchmarkFailover10k(b *testing.B)           { benchmarkFailover(b, 10_000, true) }
func BenchmarkFailover50k(b *testing.B)           { benchmarkFailover(b, 50_000, true) }
func BenchmarkFailover10kOneAtATime(b *testing.B) { benchmarkFailover(b, 10_000, false) }
