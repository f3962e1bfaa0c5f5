package consumer

import (
	"slices"
	"strings"
	"testing"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/sim"
)

var t0, t1 = proto.TopicPartition{Topic: "t", Partition: 0}, proto.TopicPartition{Topic: "t", Partition: 1}

func TestRegistrationAndFirstRebalance(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 4)
	a := h.addConsumer("a", nil)
	a.start()
	h.advance(sim.Second)

	reg, ok := h.get("/consumers/g/ids/g_a")
	if want := `{"version":1,"subscription":{"t":1},"pattern":"static","timestamp":"0"}`; !ok || reg != want {
		t.Fatalf("registration %q, want %q", reg, want)
	}
	if st, _ := h.tree.Exists("/consumers/g/ids/g_a"); st.EphemeralOwner != a.session {
		t.Fatalf("registration owned by 0x%x, want the session 0x%x", st.EphemeralOwner, a.session)
	}
	if got := a.owned(); !slices.Equal(got, tps("t", 0, 1, 2, 3)) {
		t.Fatalf("owned %v", got)
	}
	for p := range int32(4) {
		if o := ownerOf(h, proto.TopicPartition{Topic: "t", Partition: p}); o != "g_a-0" {
			t.Fatalf("owner of t-%d is %q, want the thread id g_a-0", p, o)
		}
	}
	if n := len(reportsOf[Registered](a)); n != 1 {
		t.Fatalf("%d registrations reported", n)
	}
	ends := reportsOf[RebalanceEnded](a)
	if len(ends) != 1 || ends[0].Attempts != 1 || !slices.Equal(ends[0].Owned, tps("t", 0, 1, 2, 3)) {
		t.Fatalf("rebalance ends %+v", ends)
	}
	if f := reportsOf[Fetching](a); len(f) != 1 || f[0].Partitions != 4 {
		t.Fatalf("fetching reports %+v", f)
	}
	if v := a.c.View(); v.Phase != "running" || v.Rebalancing || v.Owned[0].Leader != 1 || v.Owned[0].Position != 0 {
		t.Fatalf("view %+v", v)
	}
}

func TestGeneratedConsumerID(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 1)
	a := h.addConsumer("a", func(c *Config) { c.ConsumerID = ""; c.Host = "host1" })
	h.now = sim.Time(1420070400123 * sim.Millisecond)
	a.start()
	h.run()
	id := a.c.ID()
	parts := strings.Split(id, "-")
	if !strings.HasPrefix(id, "g_host1-1420070400123-") || len(parts) != 3 || len(parts[2]) != 8 {
		t.Fatalf("consumer id %q, want g_host1-1420070400123-<8 hex digits>", id)
	}
	if _, ok := h.get("/consumers/g/ids/" + id); !ok {
		t.Fatalf("no registration for %s", id)
	}
}

func TestMembersJoinAndLeave(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 4)
	a := h.addConsumer("a", nil)
	a.start()
	h.advance(sim.Second)
	b := h.addConsumer("b", nil)
	b.start()
	h.advance(10 * sim.Second)
	if got := a.owned(); !slices.Equal(got, tps("t", 0, 1)) {
		t.Fatalf("a owns %v, want t-0,t-1 (range: g_a-0 sorts first)", got)
	}
	if got := b.owned(); !slices.Equal(got, tps("t", 2, 3)) {
		t.Fatalf("b owns %v", got)
	}
	if o := ownerOf(h, proto.TopicPartition{Topic: "t", Partition: 3}); o != "g_b-0" {
		t.Fatalf("owner of t-3 %q", o)
	}
	// b leaves: its session closes; a takes everything.
	h.enqueue(b, shutdown())
	h.advance(10 * sim.Second)
	if !b.exited {
		t.Fatal("b did not exit")
	}
	if got := a.owned(); !slices.Equal(got, tps("t", 0, 1, 2, 3)) {
		t.Fatalf("after b left, a owns %v", got)
	}
}

func TestRoundRobin(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 4)
	rr := func(c *Config) { c.Strategy = StrategyRoundRobin }
	a, b := h.addConsumer("a", rr), h.addConsumer("b", rr)
	a.start()
	b.start()
	h.advance(10 * sim.Second)
	if ga, gb := a.owned(), b.owned(); !slices.Equal(ga, tps("t", 0, 2)) || !slices.Equal(gb, tps("t", 1, 3)) {
		t.Fatalf("round robin: a %v, b %v", ga, gb)
	}
}

// A partition whose owner znode another thread still holds is not taken:
// the attempt releases what it claimed and tries again after the back-off.
func TestClaimRetryWhileOwnerHeld(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 4)
	b := h.addConsumer("b", nil)
	b.start()
	h.advance(sim.Second)
	b.paused = true // slow to hear the change: it keeps its owner znodes
	a := h.addConsumer("a", nil)
	a.start()
	h.advance(100 * sim.Millisecond)
	retries := reportsOf[RebalanceRetry](a)
	if len(retries) != 1 || !slices.Equal(retries[0].Conflicts, tps("t", 0, 1)) || retries[0].Backoff != 2*sim.Second {
		t.Fatalf("retries %+v, want one with conflicts t-0,t-1", retries)
	}
	if len(a.owned()) != 0 || ownerOf(h, t0) != "g_b-0" {
		t.Fatalf("a owns %v; t-0 owned by %q", a.owned(), ownerOf(h, t0))
	}
	h.advance(3 * sim.Second) // the second attempt fails too
	if n := len(reportsOf[RebalanceRetry](a)); n != 2 {
		t.Fatalf("%d retries after 3 s, want 2", n)
	}
	b.resume()
	h.advance(5 * sim.Second)
	if ga, gb := a.owned(), b.owned(); !slices.Equal(ga, tps("t", 0, 1)) || !slices.Equal(gb, tps("t", 2, 3)) {
		t.Fatalf("after b released: a %v, b %v", ga, gb)
	}
	if ends := reportsOf[RebalanceEnded](a); len(ends) == 0 || ends[0].Attempts != 3 {
		t.Fatalf("a's rebalance ends %+v, want success at attempt 3", ends)
	}
}

// Claims made before a conflict are deleted again; after the last attempt
// the consumer gives up, owns nothing, and waits for the next change.
func TestGiveUpAfterMaxRetries(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 2)
	h.mkdirs("/consumers/g/owners/t")
	h.create("/consumers/g/owners/t/1", []byte("g_x-0"), 0x999, fakezk.FlagEphemeral) // a stale owner
	a := h.addConsumer("a", func(c *Config) { c.RebalanceMaxRetries = 2 })
	a.start()
	h.advance(100 * sim.Millisecond)
	if _, ok := h.get("/consumers/g/owners/t/0"); ok {
		t.Fatal("the claim of t-0 was kept after the claim of t-1 failed")
	}
	h.advance(3 * sim.Second)
	fails := reportsOf[RebalanceFailed](a)
	if len(fails) != 0 {
		t.Fatalf("gave up before the last back-off: %+v", fails)
	}
	h.advance(sim.Second)
	fails = reportsOf[RebalanceFailed](a)
	if len(fails) != 1 || fails[0].Attempts != 2 || len(reportsOf[RebalanceRetry](a)) != 2 {
		t.Fatalf("failures %+v after %d retries", fails, len(reportsOf[RebalanceRetry](a)))
	}
	if v := a.c.View(); !v.Failed || len(v.Owned) != 0 || v.Rebalancing {
		t.Fatalf("view after giving up %+v", v)
	}
	// The stale owner goes; nothing happens until a watched change.
	h.delete("/consumers/g/owners/t/1")
	h.advance(10 * sim.Second)
	if len(a.owned()) != 0 {
		t.Fatal("rebalanced without a watched change")
	}
	h.topic("t", 3)
	h.advance(sim.Second)
	if got := a.owned(); !slices.Equal(got, tps("t", 0, 1, 2)) || a.c.View().Failed {
		t.Fatalf("after the topic changed a owns %v", got)
	}
}

func TestRebalanceOnPartitionsChange(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 2)
	a := h.addConsumer("a", nil)
	a.start()
	h.advance(sim.Second)
	h.topic("t", 4)
	h.advance(sim.Second)
	if got := a.owned(); !slices.Equal(got, tps("t", 0, 1, 2, 3)) {
		t.Fatalf("owned %v after the partitions changed", got)
	}
	starts := reportsOf[RebalanceStarted](a)
	if len(starts) != 2 || !strings.Contains(starts[1].Reason, "/brokers/topics/t") {
		t.Fatalf("rebalances %+v", starts)
	}
	// The watch was armed again: a second change is heard too.
	h.topic("t", 5)
	h.advance(sim.Second)
	if n := len(a.owned()); n != 5 {
		t.Fatalf("owned %d partitions after the second change", n)
	}
}

// With no broker registered the rebalance changes nothing and watches
// /brokers/ids (KAFKA-969).
func TestNoBrokers(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 2)
	reg, _ := h.get("/brokers/ids/1")
	h.delete("/brokers/ids/1")
	a := h.addConsumer("a", nil)
	a.start()
	h.advance(sim.Second)
	if ends := reportsOf[RebalanceEnded](a); len(ends) != 1 || !ends[0].NoBrokers || len(a.owned()) != 0 {
		t.Fatalf("ends %+v, owned %v", ends, a.owned())
	}
	h.create("/brokers/ids/1", []byte(reg), 0x1, fakezk.FlagEphemeral)
	h.advance(sim.Second)
	if got := a.owned(); !slices.Equal(got, tps("t", 0, 1)) {
		t.Fatalf("owned %v once a broker registered", got)
	}
}

func TestSessionExpiry(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 4)
	a, b := h.addConsumer("a", nil), h.addConsumer("b", nil)
	a.start()
	b.start()
	h.advance(10 * sim.Second)
	old := a.session
	h.now = h.now.Add(5 * sim.Millisecond)
	h.expire(a)
	h.advance(10 * sim.Second)
	if st, ok := h.tree.Exists("/consumers/g/ids/g_a"); !ok || st.EphemeralOwner == old || st.EphemeralOwner != a.session {
		t.Fatalf("registration after expiry: %v %+v", ok, st)
	}
	regs := reportsOf[Registered](a)
	if len(regs) != 2 || !regs[1].Again {
		t.Fatalf("registrations %+v", regs)
	}
	if reg, _ := h.get("/consumers/g/ids/g_a"); !strings.Contains(reg, `"timestamp":"10005"`) {
		t.Fatalf("re-registration %s, want the new timestamp", reg)
	}
	if ga, gb := a.owned(), b.owned(); !slices.Equal(ga, tps("t", 0, 1)) || !slices.Equal(gb, tps("t", 2, 3)) {
		t.Fatalf("after the expiry: a %v, b %v", ga, gb)
	}
	if st, _ := h.tree.Exists("/consumers/g/owners/t/0"); st.EphemeralOwner != a.session {
		t.Fatal("t-0's owner znode is not the new session's")
	}
}

func TestStartFromCommittedOffset(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 2)
	h.mkdirs("/consumers/g/offsets/t")
	h.create("/consumers/g/offsets/t/0", []byte("3"), 0, 0)
	h.broker.produce(t0, 5, false)
	h.broker.produce(t1, 5, false)
	a := h.addConsumer("a", nil)
	a.start()
	h.advance(sim.Second)
	if got := a.delivered(t0); !slices.Equal(got, offsets(3, 5)) {
		t.Fatalf("t-0 delivered %v, want from the committed offset 3", got)
	}
	// t-1 has no committed offset: largest starts at the high watermark.
	if got := a.delivered(t1); len(got) != 0 {
		t.Fatalf("t-1 delivered %v, want nothing (auto.offset.reset=largest)", got)
	}
	resets := reportsOf[OffsetReset](a)
	if len(resets) != 1 || resets[0].TP != t1 || resets[0].From != -1 || resets[0].To != 5 {
		t.Fatalf("resets %+v", resets)
	}
	h.broker.produce(t1, 2, false)
	h.advance(sim.Second)
	if got := a.delivered(t1); !slices.Equal(got, offsets(5, 7)) {
		t.Fatalf("t-1 delivered %v after two more records", got)
	}
	d := reportsOf[Delivered](a)[0]
	if d.Value != 3 || d.Thread != "g_a-0" {
		t.Fatalf("first delivery %+v", d)
	}
	if op := d.HistoryOp("c1", 7); op.F != "poll" || op.Offset != 3 || op.Value != 3 || op.Group != "g" || op.TimeNs != 7 {
		t.Fatalf("history op %+v", op)
	}
}

func TestResetSmallest(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 1)
	h.broker.produce(t0, 4, false)
	a := h.addConsumer("a", func(c *Config) { c.AutoOffsetReset = ResetSmallest })
	a.start()
	h.advance(sim.Second)
	if got := a.delivered(t0); !slices.Equal(got, offsets(0, 4)) {
		t.Fatalf("delivered %v, want everything (smallest)", got)
	}
}

// The high watermark bounds what is delivered; a broker that answers past
// it is reported and its records are not delivered (a planted broker bug).
func TestNeverPastHighWatermark(t *testing.T) {
	for _, bug := range []bool{false, true} {
		h := newHarness(t)
		h.topic("t", 1)
		h.broker.pastHW = bug
		a := h.addConsumer("a", func(c *Config) { c.AutoOffsetReset = ResetSmallest })
		a.start()
		h.advance(sim.Second)
		h.broker.produce(t0, 3, false)
		h.broker.produce(t0, 2, true) // appended, not yet replicated
		h.advance(sim.Second)
		if got := a.delivered(t0); !slices.Equal(got, offsets(0, 3)) {
			t.Fatalf("bug=%v: delivered %v, want 0..2 (high watermark 3)", bug, got)
		}
		past := reportsOf[PastHighWatermark](a)
		if bug != (len(past) > 0) {
			t.Fatalf("bug=%v: %d past-high-watermark reports", bug, len(past))
		}
		if bug && (past[0].Offset != 3 || past[0].HighWatermark != 3) {
			t.Fatalf("report %+v", past[0])
		}
	}
}

// At a rebalance the offsets consumed are committed before the owner znodes
// are released, so the next owner starts where the last one stopped.
func TestCommitAtRebalance(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 2)
	smallest := func(c *Config) { c.AutoOffsetReset = ResetSmallest }
	c2 := h.addConsumer("c2", smallest)
	c2.start()
	h.advance(sim.Second)
	h.broker.produce(t0, 5, false)
	h.advance(sim.Second)
	if got := c2.delivered(t0); !slices.Equal(got, offsets(0, 5)) {
		t.Fatalf("c2 delivered %v", got)
	}
	if _, ok := h.get("/consumers/g/offsets/t/0"); ok {
		t.Fatal("committed before the auto-commit interval or a rebalance")
	}
	c1 := h.addConsumer("c1", smallest) // g_c1 sorts first: it takes t-0
	c1.start()
	h.advance(10 * sim.Second)
	if off, _ := h.get("/consumers/g/offsets/t/0"); off != "5" {
		t.Fatalf("offset of t-0 %q, want 5 committed at the rebalance", off)
	}
	if got := c1.owned(); !slices.Equal(got, tps("t", 0)) {
		t.Fatalf("c1 owns %v", got)
	}
	h.broker.produce(t0, 2, false)
	h.advance(sim.Second)
	if got := c1.delivered(t0); !slices.Equal(got, offsets(5, 7)) {
		t.Fatalf("c1 delivered %v, want 5,6 (no redelivery)", got)
	}
	cs := reportsOf[Committed](c2) // t-0 at 5, t-1 at 0 (its reset)
	if len(cs) != 2 || cs[0].TP != t0 || cs[0].Offset != 5 {
		t.Fatalf("c2's commits %+v", cs)
	}
	if op := cs[0].HistoryOp("c2", 9); op.F != "commit" || op.Offset != 5 || op.Partition != 0 {
		t.Fatalf("history op %+v", op)
	}
}

func TestAutoCommitInterval(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 1)
	a := h.addConsumer("a", func(c *Config) { c.AutoOffsetReset = ResetSmallest })
	a.start()
	h.broker.produce(t0, 3, false)
	h.advance(59 * sim.Second)
	if n := len(reportsOf[Committed](a)); n != 0 {
		t.Fatalf("%d commits before the first interval", n)
	}
	h.advance(2 * sim.Second)
	if off, _ := h.get("/consumers/g/offsets/t/0"); off != "3" {
		t.Fatalf("offset %q after one interval", off)
	}
	// Unchanged offsets are not written again (KAFKA-987).
	h.advance(60 * sim.Second)
	if n := len(reportsOf[Committed](a)); n != 1 {
		t.Fatalf("%d commits, want 1 (the second interval had nothing new)", n)
	}
}

// A broken fetch sends the partitions back to the leader finder, which
// finds the leader again after refresh.leader.backoff.ms.
func TestFetchErrorRefindsLeader(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 1)
	a := h.addConsumer("a", func(c *Config) { c.AutoOffsetReset = ResetSmallest })
	a.start()
	h.advance(sim.Second)
	h.broker.down = true
	h.broker.produce(t0, 1, false)
	h.advance(50 * sim.Millisecond)
	if v := a.c.View(); v.Owned[0].Leader != -1 {
		t.Fatalf("leader %d after a broken fetch", v.Owned[0].Leader)
	}
	h.broker.down = false
	h.advance(sim.Second)
	if got := a.delivered(t0); !slices.Equal(got, offsets(0, 1)) {
		t.Fatalf("delivered %v after the broker came back", got)
	}
}

func TestConfigValidate(t *testing.T) {
	r := sim.NewRand(1)
	tests := []struct {
		name  string
		tweak func(*Config)
		want  string
	}{
		{"ok", func(*Config) {}, ""},
		{"no group", func(c *Config) { c.Group = "" }, "group.id"},
		{"no topics", func(c *Config) { c.Topics = nil }, "no topic"},
		{"zero streams", func(c *Config) { c.Topics = map[string]int{"t": 0} }, "streams"},
		{"strategy", func(c *Config) { c.Strategy = "sticky" }, "strategy"},
		{"reset", func(c *Config) { c.AutoOffsetReset = "none" }, "auto.offset.reset"},
		{"retries", func(c *Config) { c.RebalanceMaxRetries = 0 }, "rebalance.max.retries"},
		{"rand", func(c *Config) { c.Rand = nil }, "Rand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig("g", "h", map[string]int{"t": 1}, r)
			tt.tweak(&c)
			err := c.Validate()
			if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

// Under 0.9's ZKCheckedEphemeral a registration left by another session
// (a restart with a fixed consumer.id before the old session expired) fails
// the start: the consumer reports it and exits.
func TestRegistrationBlockedByOldSession(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 1)
	h.mkdirs("/consumers/g/ids")
	h.create("/consumers/g/ids/g_a", []byte(`{"version":1,"subscription":{"t":1},"pattern":"static","timestamp":"0"}`), 0x999, fakezk.FlagEphemeral)
	a := h.addConsumer("a", nil)
	a.start()
	h.advance(sim.Second)
	if f := reportsOf[RegistrationFailed](a); len(f) != 1 || !a.exited || len(reportsOf[RebalanceStarted](a)) != 0 {
		t.Fatalf("failures %+v, exited %v", f, a.exited)
	}
}

// Shutdown stops fetching, commits what was consumed and exits; the
// session's ephemerals go with it.
func TestShutdownCommits(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 1)
	a := h.addConsumer("a", func(c *Config) { c.AutoOffsetReset = ResetSmallest })
	a.start()
	h.broker.produce(t0, 2, false)
	h.advance(sim.Second)
	h.enqueue(a, shutdown())
	h.advance(sim.Second)
	if off, _ := h.get("/consumers/g/offsets/t/0"); off != "2" || !a.exited {
		t.Fatalf("offset %q, exited %v", off, a.exited)
	}
	if _, ok := h.get("/consumers/g/owners/t/0"); ok {
		t.Fatal("owner znode left after the session closed")
	}
}

// A change heard while a rebalance runs is not lost: one more rebalance
// follows (KAFKA-1139's coalescing).
func TestChangeDuringRebalance(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 2)
	a := h.addConsumer("a", nil)
	a.start()
	for len(h.queue) > 0 && !(a.dataW["/brokers/topics/t"] && a.c.View().Rebalancing) {
		q := h.queue[0]
		h.queue = h.queue[1:]
		q.m.step(q.in)
	}
	if !a.c.View().Rebalancing {
		t.Fatal("the first rebalance ended before it read the topic")
	}
	h.topic("t", 3) // heard mid-rebalance
	h.advance(sim.Second)
	if n := len(reportsOf[RebalanceStarted](a)); n != 2 {
		t.Fatalf("%d rebalances, want 2", n)
	}
	if got := a.owned(); !slices.Equal(got, tps("t", 0, 1, 2)) {
		t.Fatalf("owned %v", got)
	}
}

// A session that expires while the group's paths are being made: they are
// made again (on the new session), then the registration.
func TestExpiryBeforeRegistration(t *testing.T) {
	c := New(DefaultConfig("g", "a", map[string]int{"t": 1}, sim.NewRand(1)))
	var batch kproc.ZKBatch
	for _, e := range c.Step(0, kproc.Started{Incarnation: 1}) {
		if b, ok := e.(kproc.ZKBatch); ok {
			batch = b
		}
	}
	expired := make([]fakezk.Response, len(batch.Reqs))
	for i := range expired {
		expired[i].Err = fakezk.ErrSessionExpired
	}
	c.Step(1, kproc.ZKSessionPhase{Phase: kproc.AfterInitializingSession})
	out := c.Step(2, kproc.ZKResult{Req: batch.ID, Resps: expired})
	if len(out) != 1 {
		t.Fatalf("effects %v, want the paths' batch again", out)
	}
	again, ok := out[0].(kproc.ZKBatch)
	if !ok || len(again.Reqs) != len(batch.Reqs) {
		t.Fatalf("effects %v", out)
	}
	out = c.Step(3, kproc.ZKResult{Req: again.ID, Resps: make([]fakezk.Response, len(again.Reqs))})
	if len(out) != 1 {
		t.Fatalf("effects %v, want the registration", out)
	}
	if reg, ok := out[0].(kproc.ZKRegister); !ok || reg.Path != "/consumers/g/ids/"+c.ID() {
		t.Fatalf("effects %v", out)
	}
}

// The group paths' batch meets an expired session before the next one
// begins (the expired handle fails every request at once): the consumer
// waits for the new session instead of sending the batch again on the dead
// handle, which answers at once again, for ever, in the same instant.
func TestExpiryBeforeNewSession(t *testing.T) {
	c := New(DefaultConfig("g", "a", map[string]int{"t": 1}, sim.NewRand(1)))
	var batch kproc.ZKBatch
	for _, e := range c.Step(0, kproc.Started{Incarnation: 1}) {
		if b, ok := e.(kproc.ZKBatch); ok {
			batch = b
		}
	}
	expired := make([]fakezk.Response, len(batch.Reqs))
	for i := range expired {
		expired[i].Err = fakezk.ErrSessionExpired
	}
	if out := c.Step(1, kproc.ZKResult{Req: batch.ID, Resps: expired}); len(out) != 0 {
		t.Fatalf("effects %v on the expired session, want none until the next begins", out)
	}
	out := c.Step(2, kproc.ZKSessionPhase{Phase: kproc.AfterInitializingSession})
	if len(out) != 1 {
		t.Fatalf("effects %v, want the paths' batch again", out)
	}
	if again, ok := out[0].(kproc.ZKBatch); !ok || len(again.Reqs) != len(batch.Reqs) {
		t.Fatalf("effects %v", out)
	}
}

// NOT_LEADER_FOR_PARTITION moves the partition back to the leader finder,
// which asks for metadata every refresh.leader.backoff.ms until a leader
// is named; the other partitions keep being fetched meanwhile.
func TestLeaderMove(t *testing.T) {
	h := newHarness(t)
	h.topic("t", 2)
	a := h.addConsumer("a", func(c *Config) { c.AutoOffsetReset = ResetSmallest })
	a.start()
	h.advance(sim.Second)
	h.broker.notLeader = map[proto.TopicPartition]bool{t0: true}
	h.broker.produce(t0, 2, false)
	h.broker.produce(t1, 2, false)
	h.advance(sim.Second)
	v := a.c.View()
	if v.Owned[0].Leader != -1 || v.Owned[1].Leader != 1 || len(a.delivered(t0)) != 0 || len(a.delivered(t1)) != 2 {
		t.Fatalf("during the move: view %+v, t-0 %v, t-1 %v", v.Owned, a.delivered(t0), a.delivered(t1))
	}
	h.broker.notLeader = nil
	h.advance(sim.Second)
	if got := a.delivered(t0); !slices.Equal(got, offsets(0, 2)) {
		t.Fatalf("t-0 delivered %v once it has a leader again", got)
	}
}
