package scenarios

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/nodes/kafka/config"
	"github.com/kzsim/kzsim/nodes/kafka/consumer"
	"github.com/kzsim/kzsim/nodes/kafka/history"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// consumerRun is what TestConsumerGroupOverKafka's run observed.
type consumerRun struct {
	acked     map[proto.TopicPartition][]uint64 // values at their offsets, as the leaders acknowledged them
	ops       []history.Op                      // the consumers' history lines
	owners    map[proto.TopicPartition]string   // /consumers/g/owners at the end
	live      map[string]bool                   // thread ids of the consumers alive at the end
	pastHW    int
	rebalance int
	fetching  sim.Time // the last Fetching report: the second join's rebalance over
}

// TestConsumerGroupOverKafka runs two consumers of one group against a
// 3-broker Kafka 2.6 cluster: a test process appends records to each
// partition's leader with acks=all before and after the second consumer
// joins; at the end every partition is owned by exactly one live consumer,
// both own some, and every acknowledged record was delivered at its offset.
func TestConsumerGroupOverKafka(t *testing.T) {
	run, res := runConsumerGroup(t)
	again, res2 := runConsumerGroup(t)
	if res.TraceHash != res2.TraceHash || !slices.Equal(run.ops, again.ops) {
		t.Fatalf("two runs of seed 1 differ: trace %s vs %s", res.TraceHash, res2.TraceHash)
	}
}

const consumerTestPartitions, consumerTestBatch = 4, 5

// runConsumerGroup runs TestConsumerGroupOverKafka's cluster once and
// checks its end.
func runConsumerGroup(t *testing.T) (consumerRun, *invariants.Result) {
	t.Helper()
	const partitions, batch = consumerTestPartitions, consumerTestBatch
	run := consumerRun{acked: map[proto.TopicPartition][]uint64{}, owners: map[proto.TopicPartition]string{}, live: map[string]bool{}}
	plan := kafkaPlan{name: "consumer-group", brokers: 3, topics: []topicSpec{{name: "t", partitions: partitions, rf: 3}},
		safety: 30 * sim.Second, grace: sim.Second,
		tweak: func(k *config.Config) { k.MinInsyncReplicas = 2 }} // a durable configuration: history.Check checks every ack
	plan.drive = func(c *kcluster) sim.Status {
		w := c.w
		var shells []*kproc.Shell[*consumer.Consumer]
		for i, at := range []sim.Duration{4 * sim.Second, 12 * sim.Second} {
			name := fmt.Sprintf("consumer-%d", i+1)
			var sh *kproc.Shell[*consumer.Consumer]
			sh = kproc.NewShell(w, kproc.Config[*consumer.Consumer]{
				Name: name,
				New: func(inc uint32) *consumer.Consumer {
					cfg := consumer.DefaultConfig("g", name, map[string]int{"t": 1}, w.Rand(fmt.Sprintf("%s/%d", name, inc)))
					cfg.AutoOffsetReset = consumer.ResetSmallest
					cfg.AutoCommitInterval = 5 * sim.Second
					return consumer.New(cfg)
				},
				ZooKeeper: kafkazk.Config{Servers: []sim.ProcID{c.srv.ID()}, SessionTimeout: 6 * sim.Second, Era: kafkazk.Era09},
				Resolve:   w.ProcByName,
				OnReport: func(_ uint32, r kproc.Effect) {
					switch r := r.(type) {
					case consumer.Delivered:
						run.ops = append(run.ops, r.HistoryOp(name, w.Now()))
					case consumer.Committed:
						run.ops = append(run.ops, r.HistoryOp(name, w.Now()))
					case consumer.PastHighWatermark:
						run.pastHW++
					case consumer.RebalanceEnded:
						run.rebalance++
					case consumer.Fetching:
						run.fetching = w.Now()
					}
				},
			})
			shells = append(shells, sh)
			w.At(sh.ID(), sim.Time(at), "start", sh.Start)
		}
		producer := w.AddProcess("producer", sim.ProcessHooks{})
		clients := map[int32]*rpc.Client{}
		value := uint64(0)
		produce := func() {
			for p := range int32(partitions) {
				tp := proto.TopicPartition{Topic: "t", Partition: p}
				l, ok := c.leaderOf[tp]
				if !ok {
					t.Errorf("no leader of %s at %v", tp, w.Now())
					continue
				}
				cl := clients[l.broker]
				if cl == nil {
					cl = rpc.Dial(w, producer, c.broker(l.broker).pid, rpc.ClientConfig{})
					clients[l.broker] = cl
				}
				entries := make([]proto.Entry, batch)
				for i := range entries {
					value++
					entries[i] = proto.Entry{ProducerID: -1, Sequence: -1, Value: value}
					run.ops = append(run.ops, history.Op{Type: history.Invoke, F: history.Send, Process: "producer", Topic: "t", Value: value, TimeNs: int64(w.Now())})
				}
				cl.Call(&proto.ProduceRequest{Acks: proto.AcksAll, TimeoutMs: 5000, Partitions: []proto.ProducePartition{{TopicPartition: tp, Entries: entries}}},
					func(resp rpc.Payload, err error) {
						if err != nil {
							t.Errorf("produce to %s: %v", tp, err)
							return
						}
						pr := resp.(*proto.ProduceResponse).Partitions[0]
						if pr.Error != proto.None || pr.BaseOffset != int64(len(run.acked[tp])) {
							t.Errorf("produce to %s: %s at %d", tp, pr.Error, pr.BaseOffset)
							return
						}
						for i, e := range entries {
							run.acked[tp] = append(run.acked[tp], e.Value)
							run.ops = append(run.ops, history.Op{Type: history.OK, F: history.Send, Process: "producer", Topic: "t", Value: e.Value,
								Partition: tp.Partition, Offset: pr.BaseOffset + int64(i), TimeNs: int64(w.Now())})
						}
					})
			}
		}
		w.At(producer, sim.Time(8*sim.Second), "produce", produce)
		w.At(producer, sim.Time(16*sim.Second), "produce", produce)
		status := w.Run()
		v := c.srv.View()
		for p := range int32(partitions) {
			tp := proto.TopicPartition{Topic: "t", Partition: p}
			if data, _, ok := v.Get(consumer.OwnerPath("g", tp)); ok {
				run.owners[tp] = string(data)
			}
		}
		for _, sh := range shells {
			if m, ok := sh.Machine(); ok && m.Running() {
				run.live[m.ID()+"-0"] = true
			}
		}
		return status
	}
	res := runKafka(Config{Seed: 1}, plan)
	if len(res.Violations) > 0 {
		t.Fatalf("violations: %v", res.Violations)
	}
	if len(run.live) != 2 {
		t.Fatalf("%d consumers running at the end", len(run.live))
	}
	perOwner := map[string]int{}
	for p := range int32(partitions) {
		tp := proto.TopicPartition{Topic: "t", Partition: p}
		owner, ok := run.owners[tp]
		if !ok || !run.live[owner] {
			t.Fatalf("%s is owned by %q (live threads %v)", tp, owner, run.live)
		}
		perOwner[owner]++
	}
	if len(perOwner) != 2 {
		t.Fatalf("owners %v: want both consumers to own partitions", run.owners)
	}
	// Every acknowledged record was delivered at its offset.
	got := map[proto.TopicPartition]map[int64]uint64{}
	for _, op := range run.ops {
		if op.F != history.Poll {
			continue
		}
		tp := proto.TopicPartition{Topic: op.Topic, Partition: op.Partition}
		if got[tp] == nil {
			got[tp] = map[int64]uint64{}
		}
		if v, ok := got[tp][op.Offset]; ok && v != op.Value {
			t.Fatalf("%s offset %d read as %d and %d", tp, op.Offset, v, op.Value)
		}
		got[tp][op.Offset] = op.Value
	}
	for p := range int32(partitions) {
		tp := proto.TopicPartition{Topic: "t", Partition: p}
		if len(run.acked[tp]) != 2*batch {
			t.Fatalf("%s: %d records acknowledged, want %d", tp, len(run.acked[tp]), 2*batch)
		}
		for off, val := range run.acked[tp] {
			if got[tp][int64(off)] != val {
				t.Fatalf("%s: offset %d (value %d) delivered as %d", tp, off, val, got[tp][int64(off)])
			}
		}
	}
	// The reports make a valid history, which the history checker passes.
	var buf bytes.Buffer
	hw := history.NewWriter(&buf)
	if err := hw.WriteConfig(history.Config{Acks: history.AcksAll, MinInsyncReplicas: 2, Subscriptions: map[string][]string{"g": {"t"}}}); err != nil {
		t.Fatal(err)
	}
	for _, op := range run.ops {
		if err := hw.Write(op); err != nil {
			t.Fatalf("history line %+v: %v", op, err)
		}
	}
	hist, err := history.Read(&buf)
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	if v := history.Check(hist); len(v) > 0 {
		t.Fatalf("history check: %v", v)
	}
	commits := slices.IndexFunc(run.ops, func(op history.Op) bool { return op.F == history.Commit })
	if run.pastHW != 0 || run.rebalance < 3 || commits < 0 {
		t.Fatalf("past-high-watermark reports %d, rebalances %d, first commit at %d", run.pastHW, run.rebalance, commits)
	}
	t.Logf("%d history lines, %d rebalances (the join at 12 s settled, every partition fetching, at %v), events %d, trace %s",
		len(run.ops), run.rebalance, sim.Duration(run.fetching), res.Events, strconv.Quote(res.TraceHash))
	return run, res
}

// TestConsumerRestartBeforeExpiry restarts a consumer with a fixed
// consumer.id 1 s after a crash, while its old session (6 s) still holds
// its registration. The 0.9+ consumer's ZKCheckedEphemeral fails and the
// consumer exits; 0.8.2's createEphemeralPathExpectConflictHandleZKBug
// sleeps a session timeout and tries again until the old node is gone,
// then owns the topic again.
func TestConsumerRestartBeforeExpiry(t *testing.T) {
	for _, tt := range []struct {
		era        kafkazk.Era
		registered bool
	}{{kafkazk.Era09, false}, {kafkazk.Era08, true}} {
		t.Run(tt.era.String(), func(t *testing.T) {
			var failed, regs int
			var owned []proto.TopicPartition
			plan := kafkaPlan{name: "consumer-restart", brokers: 1, topics: []topicSpec{{name: "t", partitions: 2, rf: 1}},
				safety: 30 * sim.Second, grace: sim.Second}
			plan.drive = func(c *kcluster) sim.Status {
				w := c.w
				zk := kafkazk.Config{Servers: []sim.ProcID{c.srv.ID()}, SessionTimeout: 6 * sim.Second, Era: tt.era}
				if tt.era == kafkazk.Era08 {
					zk.SameOwner = consumer.SameOwner
				}
				var sh *kproc.Shell[*consumer.Consumer]
				sh = kproc.NewShell(w, kproc.Config[*consumer.Consumer]{
					Name: "consumer-1",
					New: func(inc uint32) *consumer.Consumer {
						cfg := consumer.DefaultConfig("g", "consumer-1", map[string]int{"t": 1}, w.Rand(fmt.Sprintf("consumer-1/%d", inc)))
						cfg.ConsumerID = "c1"
						return consumer.New(cfg)
					},
					ZooKeeper: zk,
					Resolve:   w.ProcByName,
					OnReport: func(_ uint32, r kproc.Effect) {
						switch r.(type) {
						case consumer.RegistrationFailed:
							failed++
						case consumer.Registered:
							regs++
						}
					},
				})
				w.At(sh.ID(), sim.Time(4*sim.Second), "start", sh.Start)
				w.At(sim.Kernel, sim.Time(10*sim.Second), "crash", func() { w.Crash(sh.ID()) })
				w.At(sim.Kernel, sim.Time(11*sim.Second), "restart", func() { w.Restart(sh.ID()) })
				status := w.Run()
				if m, ok := sh.Machine(); ok {
					for _, o := range m.View().Owned {
						owned = append(owned, o.TP)
					}
				}
				return status
			}
			res := runKafka(Config{Seed: 1}, plan)
			if len(res.Violations) > 0 {
				t.Fatalf("violations: %v", res.Violations)
			}
			if tt.registered {
				if failed != 0 || regs != 2 || len(owned) != 2 {
					t.Fatalf("0.8.2: %d failures, %d registrations, owns %v; want the second registration after the old session", failed, regs, owned)
				}
			} else if failed != 1 || regs != 1 || owned != nil {
				t.Fatalf("0.9+: %d failures, %d registrations, owns %v; want the restart to fail", failed, regs, owned)
			}
		})
	}
}
