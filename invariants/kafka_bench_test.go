package invariants

import (
	"fmt"
	"testing"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/sim"
)

// benchPartitionsPerTopic is the size of each topic of a bench cluster.
const benchPartitionsPerTopic = 100

// benchKafka returns a watch over a tree holding n partitions (topics of
// benchPartitionsPerTopic, replicas on brokers 1-3, each with a state
// znode), written straight into the tree and read by the watch's one sweep.
func benchKafka(b *testing.B, n int) (*KafkaWatch, *fakezk.Server) {
	b.Helper()
	w := sim.New(sim.Options{Trace: sim.TraceOff})
	srv := fakezk.NewServer(w, "zk", fakezk.ServerConfig{})
	tree, zxid := srv.Tree(), int64(1)
	mk := func(path string, data []byte) {
		zxid++
		if _, _, err := tree.Create(fakezk.Caller{}, zxid, 0, path, data, openACL, 0); err != nil {
			b.Fatal(err)
		}
	}
	mk(kafkazk.BrokersPath, nil)
	mk(kafkazk.TopicsPath, nil)
	mk(kafkazk.ControllerEpochPath, kafkazk.EncodeControllerEpoch(1))
	state := kafkazk.PartitionState{Leader: 1, LeaderEpoch: 0, ISR: []int32{1, 2, 3}, ControllerEpoch: 1}.Encode()
	for t := 0; t < n/benchPartitionsPerTopic; t++ {
		topic := fmt.Sprintf("topic-%05d", t)
		a := kafkazk.TopicAssignment{Version: 2, Partitions: map[int32]kafkazk.ReplicaAssignment{}}
		for p := int32(0); p < benchPartitionsPerTopic; p++ {
			a.Partitions[p] = kafkazk.ReplicaAssignment{Replicas: []int32{1, 2, 3}}
		}
		mk(kafkazk.TopicPath(topic), a.Encode())
		mk(kafkazk.TopicPartitionsPath(topic), nil)
		for p := int32(0); p < benchPartitionsPerTopic; p++ {
			mk(kafkazk.TopicPartitionPath(topic, p), nil)
			mk(kafkazk.PartitionStatePath(topic, p), state)
		}
	}
	k := WatchKafka(NewChecker(w), srv, nil)
	if len(k.topics) != n/benchPartitionsPerTopic {
		b.Fatalf("swept %d topics", len(k.topics))
	}
	return k, srv
}

// One partition state write, as the invariants see it after a commit: a
// decode and a lookup, flat from 1,000 to 100,000 partitions.
func BenchmarkKafkaInvariantsPerStateCommit(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			k, srv := benchKafka(b, n)
			changes := []fakezk.Change{{Type: fakezk.EventNodeDataChanged, Path: kafkazk.PartitionStatePath("topic-00000", 7)}}
			zxid := srv.Tree().Len() + 10
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Forget the write, so that it is not taken for one seen already.
				k.topics["topic-00000"].parts[7].zxid = 0
				k.commit(fakezk.Commit{Kind: fakezk.CommitWrite, Zxid: int64(zxid + i), Changes: changes})
			}
			b.StopTimer()
			if vs := k.c.Violations(); len(vs) != 0 {
				b.Fatal(vs)
			}
		})
	}
}

// A broker's report of a partition applied: map lookups, flat in the
// number of partitions it has applied.
func BenchmarkKafkaPartitionApplied(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("partitions=%d", n), func(b *testing.B) {
			k, _ := benchKafka(b, 1_000)
			for p := 0; p < n; p++ {
				k.PartitionApplied(1, 1, fmt.Sprintf("topic-%05d", p/benchPartitionsPerTopic), int32(p%benchPartitionsPerTopic), 1)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				k.PartitionApplied(1, 1, "topic-00007", 7, 1)
				k.RequestApplied(1, 1, APILeaderAndIsr, 1)
			}
			b.StopTimer()
			if vs := k.c.Violations(); len(vs) != 0 {
				b.Fatal(vs)
			}
		})
	}
}
