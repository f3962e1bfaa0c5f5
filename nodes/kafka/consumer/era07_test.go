package consumer

import (
	"slices"
	"testing"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/broker07"
	"github.com/kzsim/kzsim/nodes/kafka/consumer/assign"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/sim"
)

// harness07 turns the harness's cluster into 0.7's: broker 1 registered as
// "<creatorId>:<host>:<port>" and holding parts partitions of t, which its
// ephemeral /brokers/topics/t/1 says.
func harness07(t *testing.T, parts int) *harness {
	h := newHarness(t)
	h.set(broker07.IDPath(1), []byte("broker-1-1352252334123:broker-1:9092"))
	h.mkdirs("/brokers/topics/t")
	h.create(broker07.TopicPath("t", 1), []byte{byte('0' + parts/10), byte('0' + parts%10)}, 0x1, fakezk.FlagEphemeral)
	return h
}

func era07(c *Config) {
	*c = DefaultConfig07(c.Group, c.Host, c.Topics, c.Rand)
	c.ConsumerID = c.Host
}

// p07 is the packed TopicPartition of t's partition b-p.
func p07(b, p int32) proto.TopicPartition {
	return proto.TopicPartition{Topic: "t", Partition: assign.BrokerPartition{Broker: b, Part: p}.Pack07()}
}

// TestEra07EndToEnd: two 0.7 consumers register in 0.7's form, split broker
// 1's 11 partitions by their names in string order ("1-10" sorts before
// "1-2"), name owner and offset znodes "<b>-<p>", resolve the missing
// offsets by asking the broker, and fetch from it.
func TestEra07EndToEnd(t *testing.T) {
	h := harness07(t, 11)
	a := h.addConsumer("a", era07)
	b := h.addConsumer("b", era07)
	a.start()
	b.start()
	h.advance(sim.Second)
	if reg, _ := h.get("/consumers/g/ids/g_a"); reg != `{ "t": 1 }` {
		t.Fatalf("registration %q, want 0.7's { \"t\": 1 }", reg)
	}
	// 11 partitions over 2 threads: the first thread gets 6, in string order.
	wantA := []proto.TopicPartition{p07(1, 0), p07(1, 1), p07(1, 10), p07(1, 2), p07(1, 3), p07(1, 4)}
	wantB := []proto.TopicPartition{p07(1, 5), p07(1, 6), p07(1, 7), p07(1, 8), p07(1, 9)}
	ga, gb := a.owned(), b.owned()
	slices.SortFunc(ga, proto.Compare)
	slices.SortFunc(wantA, proto.Compare)
	if !slices.Equal(ga, wantA) || !slices.Equal(gb, wantB) {
		t.Fatalf("a owns %v, b %v; want %v and %v", ga, gb, wantA, wantB)
	}
	for name, owner := range map[string]string{"1-10": "g_a-0", "1-4": "g_a-0", "1-2": "g_a-0", "1-5": "g_b-0"} {
		if got, _ := h.get("/consumers/g/owners/t/" + name); got != owner {
			t.Fatalf("owner of %s is %q, want %q", name, got, owner)
		}
	}
	if h.broker.offsetAsks != 11 || len(reportsOf[OffsetReset](a)) != 6 {
		t.Fatalf("%d offset requests, %d resets of a; want 11 and 6", h.broker.offsetAsks, len(reportsOf[OffsetReset](a)))
	}
	// The broker names partition 1-10 by its id on the broker, 10.
	h.broker.produce(proto.TopicPartition{Topic: "t", Partition: 10}, 3, false)
	h.advance(2 * sim.Second)
	if got := a.delivered(p07(1, 10)); !slices.Equal(got, offsets(0, 3)) {
		t.Fatalf("a delivered %v of 1-10", got)
	}
	h.advance(10 * sim.Second) // autocommit.interval.ms 10 s
	if off, ok := h.get("/consumers/g/offsets/t/1-10"); !ok || off != "3" {
		t.Fatalf("offset znode 1-10 = %q (%v), want 3", off, ok)
	}
	// 0.7 writes every offset at every commit, unchanged ones too.
	n := len(reportsOf[Committed](a))
	h.advance(10 * sim.Second)
	if m := len(reportsOf[Committed](a)); m != 2*n {
		t.Fatalf("%d commits, then %d: 0.7 rewrites all 6 each time", n, m)
	}
}

// TestEra07ClaimRetry: a 0.7 consumer whose partitions another still holds
// backs off rebalance.backoff.ms and tries again, and succeeds once they
// are released.
func TestEra07ClaimRetry(t *testing.T) {
	h := harness07(t, 4)
	b := h.addConsumer("b", era07)
	b.start()
	h.advance(sim.Second)
	b.paused = true
	a := h.addConsumer("a", era07)
	a.start()
	h.advance(100 * sim.Millisecond)
	retries := reportsOf[RebalanceRetry](a)
	if len(retries) != 1 || !slices.Equal(retries[0].Conflicts, []proto.TopicPartition{p07(1, 0), p07(1, 1)}) || retries[0].Backoff != 2*sim.Second {
		t.Fatalf("retries %+v, want one with conflicts 1-0, 1-1", retries)
	}
	b.resume()
	h.advance(5 * sim.Second)
	if ga, gb := a.owned(), b.owned(); !slices.Equal(ga, []proto.TopicPartition{p07(1, 0), p07(1, 1)}) || !slices.Equal(gb, []proto.TopicPartition{p07(1, 2), p07(1, 3)}) {
		t.Fatalf("after b released: a %v, b %v", ga, gb)
	}
	if ends := reportsOf[RebalanceEnded](a); len(ends) == 0 || ends[0].Attempts != 2 {
		t.Fatalf("a's rebalance ends %+v, want success at attempt 2", ends)
	}
}

// TestEra07TopicRegistered: a topic no broker has registered yet gives no
// partitions; its creation and each broker's registration make the group
// rebalance (the child listener on /brokers/topics/<t>; no /brokers/ids
// watch).
func TestEra07TopicRegistered(t *testing.T) {
	h := newHarness(t)
	h.set(broker07.IDPath(1), []byte("broker-1-1:broker-1:9092"))
	a := h.addConsumer("a", era07)
	a.start()
	h.advance(sim.Second)
	if len(a.owned()) != 0 {
		t.Fatalf("owns %v before any broker registered t", a.owned())
	}
	h.mkdirs("/brokers/topics/t")
	h.create(broker07.TopicPath("t", 1), []byte("2"), 0x1, fakezk.FlagEphemeral)
	h.advance(sim.Second)
	if got := a.owned(); !slices.Equal(got, []proto.TopicPartition{p07(1, 0), p07(1, 1)}) {
		t.Fatalf("owns %v after broker 1 registered t", got)
	}
	if a.children["/brokers/ids"] {
		t.Fatal("a 0.7 consumer watches /brokers/ids")
	}
	rr := DefaultConfig07("g", "h", map[string]int{"t": 1}, sim.NewRand(1))
	if rr.Strategy = StrategyRoundRobin; rr.Validate() == nil {
		t.Fatal("a 0.7 round-robin consumer was accepted")
	}
}

// TestEra07GiveUp: with the partitions held throughout, a 0.7 consumer
// tries rebalance.retries.max (4) times, 2 s apart, then gives up and owns
// nothing.
func TestEra07GiveUp(t *testing.T) {
	h := harness07(t, 2)
	b := h.addConsumer("b", era07)
	b.start()
	h.advance(sim.Second)
	b.paused = true
	a := h.addConsumer("a", era07)
	a.start()
	h.advance(10 * sim.Second)
	if n := len(reportsOf[RebalanceRetry](a)); n != 4 {
		t.Fatalf("%d failed attempts, want 4", n)
	}
	if f := reportsOf[RebalanceFailed](a); len(f) != 1 || f[0].Attempts != 4 || len(a.owned()) != 0 {
		t.Fatalf("gave up %+v, owns %v", f, a.owned())
	}
}
