package broker

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/config"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	klog "github.com/kzsim/kzsim/nodes/kafka/log"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/sim"
)

// harness drives one broker machine input by input.
type harness struct {
	t   *testing.T
	b   *Broker
	now sim.Time
	out []kproc.Effect
}

func newHarness(t *testing.T, id int32, tweak func(*Config)) *harness {
	cfg := Config{ID: id, Host: fmt.Sprintf("broker-%d", id), Port: 9092, Kafka: config.Default(), Costs: config.DefaultCosts()}
	if tweak != nil {
		tweak(&cfg)
	}
	return &harness{t: t, b: New(cfg)}
}

func (h *harness) step(in kproc.Input) []kproc.Effect {
	h.out = h.b.Step(h.now, in)
	return h.out
}

// find returns the first effect of type T in the last step's effects.
func find[T kproc.Effect](h *harness) T {
	h.t.Helper()
	for _, e := range h.out {
		if v, ok := e.(T); ok {
			return v
		}
	}
	var zero T
	h.t.Fatalf("no %T in %v", zero, h.out)
	return zero
}

func count[T kproc.Effect](effects []kproc.Effect) int {
	n := 0
	for _, e := range effects {
		if _, ok := e.(T); ok {
			n++
		}
	}
	return n
}

// start runs the broker through start-up to a registration with czxid.
func (h *harness) start(czxid int64) {
	h.t.Helper()
	h.step(kproc.Started{Incarnation: 1})
	paths := find[kproc.ZKBatch](h)
	if last := paths.Reqs[len(paths.Reqs)-1].(*fakezk.CreateRequest).Path; last != "/config/brokers" {
		h.t.Fatalf("top-level paths end with %s, want /config/brokers", last)
	}
	resps := make([]fakezk.Response, len(paths.Reqs))
	for i := range resps {
		resps[i].Err = fakezk.ErrNodeExists
	}
	h.step(kproc.ZKResult{Req: paths.ID, Resps: resps})
	get := find[kproc.ZKBatch](h)
	h.step(kproc.ZKResult{Req: get.ID, Resps: []fakezk.Response{{Data: kafkazk.ClusterID{ID: "abc"}.Encode()}}})
	timer := find[kproc.SetTimer](h)
	h.now = h.now.Add(timer.After)
	h.step(kproc.TimerFired{Name: timer.Name})
	reg := find[kproc.ZKRegister](h)
	if reg.Path != kafkazk.BrokerIDPath(h.b.cfg.ID) || !strings.Contains(string(reg.Data), `"host":"`+h.b.cfg.Host+`"`) {
		h.t.Fatalf("registration %s %s", reg.Path, reg.Data)
	}
	h.step(kproc.ZKRegistered{Req: reg.ID, Czxid: czxid})
	if r := find[Registered](h); r.BrokerEpoch != czxid {
		h.t.Fatalf("registered with epoch %d, want %d", r.BrokerEpoch, czxid)
	}
}

// answer runs the request handler's timer and returns the replies.
func (h *harness) answers() []kproc.Reply {
	h.t.Helper()
	var replies []kproc.Reply
	for {
		var timer *kproc.SetTimer
		for _, e := range h.out {
			if st, ok := e.(kproc.SetTimer); ok && st.Name == timerHandler {
				timer = &st
			}
		}
		if timer == nil {
			return replies
		}
		h.now = h.now.Add(timer.After)
		for _, e := range h.step(kproc.TimerFired{Name: timerHandler}) {
			if r, ok := e.(kproc.Reply); ok {
				replies = append(replies, r)
			}
		}
	}
}

var tp0 = proto.TopicPartition{Topic: "t", Partition: 0}

func lai(epoch int32, brokerEpoch int64, leader, leaderEpoch int32, isr ...int32) *proto.LeaderAndIsrRequest {
	return &proto.LeaderAndIsrRequest{
		ControllerHeader: proto.ControllerHeader{ControllerID: 9, ControllerEpoch: epoch, BrokerEpoch: brokerEpoch},
		Partitions: []proto.PartitionState{{TopicPartition: tp0, ControllerEpoch: epoch, Leader: leader, LeaderEpoch: leaderEpoch,
			ISR: isr, ZkVersion: 0, Replicas: []int32{1, 2, 3}, IsNew: true}},
		LiveLeaders: []proto.Broker{{ID: leader, Host: fmt.Sprintf("broker-%d", leader), Port: 9092}},
	}
}

func TestStartupOrderAndRegistration(t *testing.T) {
	h := newHarness(t, 1, nil)
	h.start(0x100)
	if v := h.b.View(); v.Phase != "running" || v.BrokerEpoch != 0x100 {
		t.Fatalf("view %+v", v)
	}
	// The replica manager's scheduled tasks started with the registration.
	if n := count[kproc.SetTimer](h.out); n != 3 {
		t.Fatalf("%d timers set at registration, want 3 (isr expiration, propagation, hw checkpoint)", n)
	}
}

func TestClusterIDCreatedByTheFirstBroker(t *testing.T) {
	h := newHarness(t, 1, func(c *Config) { c.Rand = sim.NewRand(7) })
	h.step(kproc.Started{Incarnation: 1})
	paths := find[kproc.ZKBatch](h)
	h.step(kproc.ZKResult{Req: paths.ID, Resps: make([]fakezk.Response, len(paths.Reqs))})
	get := find[kproc.ZKBatch](h)
	h.step(kproc.ZKResult{Req: get.ID, Resps: []fakezk.Response{{Err: fakezk.ErrNoNode}}})
	create := find[kproc.ZKBatch](h)
	c := create.Reqs[1].(*fakezk.CreateRequest)
	id, err := kafkazk.DecodeClusterID(c.Data)
	if err != nil || len(id.ID) != 22 {
		t.Fatalf("cluster id %q: %v", id.ID, err)
	}
	// Another broker won the race: its id is read back and used.
	theirs := kafkazk.ClusterID{ID: "winnerwinnerwinner0000"}.Encode()
	h.step(kproc.ZKResult{Req: create.ID, Resps: []fakezk.Response{{Err: fakezk.ErrNodeExists}, {Err: fakezk.ErrNodeExists}, {Data: theirs}}})
	if h.b.clusterID != "winnerwinnerwinner0000" {
		t.Fatalf("cluster id %q, want the winner's", h.b.clusterID)
	}
}

func TestFencing(t *testing.T) {
	tests := []struct {
		name        string
		features    func(*config.Features)
		epoch       int32
		brokerEpoch int64
		want        proto.ErrorCode
	}{
		{"current", nil, 5, 0x100, proto.None},
		{"older controller epoch", nil, 4, 0x100, proto.StaleControllerEpoch},
		{"older broker epoch", nil, 5, 0xff, proto.StaleBrokerEpoch},
		{"newer broker epoch accepted in 2.6", nil, 5, 0x101, proto.None},
		{"newer broker epoch refused before 2.6", func(f *config.Features) { f.AcceptNewerBrokerEpoch = false }, 5, 0x101, proto.StaleBrokerEpoch},
		{"no broker epoch", nil, 5, proto.NoEpoch, proto.None},
		{"no broker epochs before 2.2", func(f *config.Features) { f.BrokerEpochs = false }, 5, 0xff, proto.None},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, 1, func(c *Config) {
				if tt.features != nil {
					tt.features(&c.Kafka.Features)
				}
			})
			h.start(0x100)
			// A first request at epoch 5 sets the broker's controller epoch.
			h.step(kproc.RPCIn{Token: 1, Req: &proto.UpdateMetadataRequest{ControllerHeader: proto.ControllerHeader{ControllerID: 9, ControllerEpoch: 5, BrokerEpoch: 0x100}}})
			h.answers()
			h.step(kproc.RPCIn{Token: 2, Req: lai(tt.epoch, tt.brokerEpoch, 1, 0, 1)})
			replies := h.answers()
			resp := replies[0].Resp.(*proto.LeaderAndIsrResponse)
			if resp.Error != tt.want {
				t.Fatalf("error %s, want %s", resp.Error, tt.want)
			}
			_, leads := h.b.Replica(tp0)
			if leads != (tt.want == proto.None) {
				t.Fatalf("replica exists %v after %s", leads, resp.Error)
			}
		})
	}
}

func TestLeaderEpochMustGrow(t *testing.T) {
	h := newHarness(t, 1, nil)
	h.start(0x100)
	h.step(kproc.RPCIn{Token: 1, Req: lai(1, 0x100, 1, 3, 1, 2, 3)})
	h.answers()
	for _, epoch := range []int32{3, 2} {
		h.step(kproc.RPCIn{Token: 2, Req: lai(1, 0x100, 2, epoch, 2, 3)})
		resp := h.answers()[0].Resp.(*proto.LeaderAndIsrResponse)
		if resp.Partitions[0].Error != proto.StaleControllerEpoch {
			t.Fatalf("leader epoch %d after 3: %s, want STALE_CONTROLLER_EPOCH", epoch, resp.Partitions[0].Error)
		}
	}
	if r, _ := h.b.Replica(tp0); r.Leader != 1 || r.LeaderEpoch != 3 {
		t.Fatalf("replica %+v, want leader 1 at epoch 3", r)
	}
}

func TestProduceAcksAllWaitsForTheISR(t *testing.T) {
	h := newHarness(t, 1, func(c *Config) { c.Kafka.MinInsyncReplicas = 2 })
	h.start(0x100)
	h.step(kproc.RPCIn{Token: 1, Req: lai(1, 0x100, 1, 0, 1, 2)})
	h.answers()
	h.step(kproc.RPCIn{Token: 2, Req: &proto.ProduceRequest{Acks: proto.AcksAll, TimeoutMs: 30000,
		Partitions: []proto.ProducePartition{{TopicPartition: tp0, Entries: []proto.Entry{{Key: 1, Value: 10}, {Key: 2, Value: 20}}}}}})
	if n := count[kproc.DiskAppend](h.out); n != 1 {
		t.Fatalf("%d appends, want 1", n)
	}
	if replies := h.answers(); len(replies) != 0 {
		t.Fatalf("acks=all answered before the follower fetched: %v", replies)
	}
	// Follower 2 fetches from 0 (gets the records), then from 2: the
	// high watermark passes the records and the produce is answered.
	h.step(kproc.RPCIn{Token: 3, Req: &proto.FetchRequest{ReplicaID: 2, MaxWaitMs: 500, Partitions: []proto.FetchPartition{{TopicPartition: tp0, CurrentLeaderEpoch: 0, FetchOffset: 0}}}})
	got := h.answers()
	if len(got) != 1 || len(got[0].Resp.(*proto.FetchResponse).Partitions[0].Records) != 2 {
		t.Fatalf("first fetch: %v", got)
	}
	h.step(kproc.RPCIn{Token: 4, Req: &proto.FetchRequest{ReplicaID: 2, MaxWaitMs: 500, Partitions: []proto.FetchPartition{{TopicPartition: tp0, CurrentLeaderEpoch: 0, FetchOffset: 2}}}})
	got = h.answers()
	var produce *proto.ProduceResponse
	for _, r := range got {
		if r.Token == 2 {
			produce = r.Resp.(*proto.ProduceResponse)
		}
	}
	if produce == nil || produce.Partitions[0].Error != proto.None || produce.Partitions[0].BaseOffset != 0 {
		t.Fatalf("produce answer %v in %v", produce, got)
	}
	if r, _ := h.b.Replica(tp0); r.HighWatermark != 2 {
		t.Fatalf("high watermark %d, want 2", r.HighWatermark)
	}
}

func TestProduceBelowMinISRIsRefused(t *testing.T) {
	h := newHarness(t, 1, func(c *Config) { c.Kafka.MinInsyncReplicas = 2 })
	h.start(0x100)
	h.step(kproc.RPCIn{Token: 1, Req: lai(1, 0x100, 1, 0, 1)})
	h.answers()
	h.step(kproc.RPCIn{Token: 2, Req: &proto.ProduceRequest{Acks: proto.AcksAll, TimeoutMs: 30000,
		Partitions: []proto.ProducePartition{{TopicPartition: tp0, Entries: []proto.Entry{{Key: 1, Value: 10}}}}}})
	resp := h.answers()[0].Resp.(*proto.ProduceResponse)
	if resp.Partitions[0].Error != proto.NotEnoughReplicas {
		t.Fatalf("error %s, want NOT_ENOUGH_REPLICAS", resp.Partitions[0].Error)
	}
	if count[kproc.DiskAppend](h.out) != 0 {
		t.Fatal("a refused produce was appended")
	}
}

func TestIsrShrinksAfterReplicaLag(t *testing.T) {
	h := newHarness(t, 1, nil)
	h.start(0x100)
	h.step(kproc.RPCIn{Token: 1, Req: lai(1, 0x100, 1, 0, 1, 2, 3)})
	h.answers()
	h.step(kproc.RPCIn{Token: 2, Req: &proto.ProduceRequest{Acks: proto.AcksLeader, TimeoutMs: 30000,
		Partitions: []proto.ProducePartition{{TopicPartition: tp0, Entries: []proto.Entry{{Key: 1, Value: 10}}}}}})
	h.answers()
	// Nobody fetches for longer than replica.lag.time.max.ms.
	h.now = h.now.Add(31 * sim.Second)
	h.step(kproc.TimerFired{Name: timerIsrExpiration})
	w := find[kproc.ZKBatch](h)
	set := w.Reqs[0].(*fakezk.SetDataRequest)
	st, err := kafkazk.DecodePartitionState(set.Data)
	if err != nil || set.Path != "/brokers/topics/t/partitions/0/state" || set.Version != 0 || fmt.Sprint(st.ISR) != "[1]" {
		t.Fatalf("ISR write %s version %d %+v %v", set.Path, set.Version, st, err)
	}
	h.step(kproc.ZKResult{Req: w.ID, Resps: []fakezk.Response{{Stat: &fakezk.Stat{Version: 1}}}})
	if c := find[IsrChanged](h); !c.Shrink || c.ZkVersion != 1 {
		t.Fatalf("isr change %+v", c)
	}
	// The change is propagated once no change has come for 5 s.
	h.now = h.now.Add(6 * sim.Second)
	h.step(kproc.TimerFired{Name: timerIsrPropagation})
	n := find[kproc.ZKBatch](h).Reqs[0].(*fakezk.CreateRequest)
	if n.Path != kafkazk.IsrChangePrefix || n.Flags&fakezk.FlagSequence == 0 {
		t.Fatalf("notification %+v", n)
	}
}

func TestFollowerTruncatesByLeaderEpoch(t *testing.T) {
	h := newHarness(t, 2, nil)
	h.start(0x100)
	// Broker 2 leads at epoch 1 and appends 3 records nobody else got.
	h.step(kproc.RPCIn{Token: 1, Req: lai(1, 0x100, 2, 1, 2)})
	h.answers()
	h.step(kproc.RPCIn{Token: 2, Req: &proto.ProduceRequest{Acks: proto.AcksLeader, TimeoutMs: 30000,
		Partitions: []proto.ProducePartition{{TopicPartition: tp0, Entries: []proto.Entry{{Value: 1}, {Value: 2}, {Value: 3}}}}}})
	h.answers()
	// Broker 1 takes over at epoch 2; its epoch 1 ended at offset 1.
	h.step(kproc.RPCIn{Token: 3, Req: lai(2, 0x100, 1, 2, 1)})
	q := find[kproc.Send](h)
	eq := q.Req.(*proto.OffsetsForLeaderEpochRequest)
	if q.Host != "broker-1" || eq.Partitions[0].LeaderEpoch != 1 {
		t.Fatalf("epoch query %+v to %s", eq, q.Host)
	}
	h.step(kproc.RPCResult{Req: q.ID, Resp: &proto.OffsetsForLeaderEpochResponse{Partitions: []proto.EpochEndOffset{{TopicPartition: tp0, LeaderEpoch: 1, EndOffset: 1}}}})
	if tr := find[Truncated](h); tr.From != 3 || tr.To != 1 || !tr.ByLeaderEpoch {
		t.Fatalf("truncation %+v", tr)
	}
	f := find[kproc.Send](h).Req.(*proto.FetchRequest)
	if f.Partitions[0].FetchOffset != 1 {
		t.Fatalf("fetch from %d, want 1", f.Partitions[0].FetchOffset)
	}
}

// Broker-crash seed 362: broker 2 lost its whole log to a power loss and
// led epochs 1 and 2 again from offset 0; broker 3, the new leader, has
// other records there, epoch 0 up to 2. The epoch query sees no
// divergence and the fetch brings records of an epoch below broker 2's:
// as Kafka 2.6, it appends them and reports the warning (it panicked).
func TestFollowerAppendsALeaderEpochGoingBack(t *testing.T) {
	h := newHarness(t, 2, nil)
	h.start(0x100)
	h.step(kproc.RPCIn{Token: 1, Req: lai(1, 0x100, 2, 1, 2)})
	h.answers()
	h.step(kproc.RPCIn{Token: 2, Req: &proto.ProduceRequest{Acks: proto.AcksLeader, TimeoutMs: 30000,
		Partitions: []proto.ProducePartition{{TopicPartition: tp0, Entries: []proto.Entry{{Value: 1}, {Value: 2}}}}}})
	h.answers()
	h.step(kproc.RPCIn{Token: 3, Req: lai(1, 0x100, 2, 2, 2)})
	h.answers()
	h.step(kproc.RPCIn{Token: 4, Req: lai(1, 0x100, 3, 3, 3)})
	q := find[kproc.Send](h)
	if eq := q.Req.(*proto.OffsetsForLeaderEpochRequest); q.Host != "broker-3" || eq.Partitions[0].LeaderEpoch != 2 {
		t.Fatalf("epoch query %+v to %s", eq, q.Host)
	}
	h.step(kproc.RPCResult{Req: q.ID, Resp: &proto.OffsetsForLeaderEpochResponse{Partitions: []proto.EpochEndOffset{{TopicPartition: tp0, LeaderEpoch: 1, EndOffset: 5}}}})
	if n := count[Truncated](h.out); n != 0 {
		t.Fatalf("%d truncations, want none", n)
	}
	fetch := find[kproc.Send](h)
	if f := fetch.Req.(*proto.FetchRequest); f.Partitions[0].FetchOffset != 2 {
		t.Fatalf("fetch from %d, want 2", f.Partitions[0].FetchOffset)
	}
	h.step(kproc.RPCResult{Req: fetch.ID, Resp: &proto.FetchResponse{Partitions: []proto.FetchPartitionResponse{{TopicPartition: tp0,
		HighWatermark: 2, LogEndOffset: 5, Records: []proto.Record{{Offset: 2, LeaderEpoch: 0}, {Offset: 3, LeaderEpoch: 1}, {Offset: 4, LeaderEpoch: 1}}}}}})
	w := find[EpochOutOfOrder](h)
	if w.TP != tp0 || w.Epoch != 0 || w.StartOffset != 2 || w.LatestEpoch != 1 || w.LatestStartOffset != 0 {
		t.Fatalf("warning %+v, want epoch 0 at 2 below 1 at 0", w)
	}
	if n := count[EpochOutOfOrder](h.out); n != 1 {
		t.Fatalf("%d warnings, want 1", n)
	}
	if a := find[kproc.DiskAppend](h); len(a.Data) != 3*klog.RecordSize {
		t.Fatalf("appended %d bytes, want 3 records", len(a.Data))
	}
}

// An ISR write of an old leader epoch that is answered after a new epoch
// came must not block the new epoch's ISR writes (broker-crash seed 123:
// the leader's ISR stayed [3] for good).
func TestStaleIsrWriteDoesNotBlockTheNewEpoch(t *testing.T) {
	h := newHarness(t, 1, nil)
	h.start(0x100)
	h.step(kproc.RPCIn{Token: 1, Req: lai(1, 0x100, 1, 1, 1, 2, 3)})
	h.answers()
	h.now = h.now.Add(31 * sim.Second)
	h.step(kproc.TimerFired{Name: timerIsrExpiration})
	stale := find[kproc.ZKBatch](h)
	// The controller moves the partition to epoch 2 before the write is
	// answered; then the write fails on the version.
	h.step(kproc.RPCIn{Token: 2, Req: lai(1, 0x100, 1, 2, 1, 2, 3)})
	h.answers()
	h.step(kproc.ZKResult{Req: stale.ID, Resps: []fakezk.Response{{Err: fakezk.ErrBadVersion}}})
	h.now = h.now.Add(31 * sim.Second)
	h.step(kproc.TimerFired{Name: timerIsrExpiration})
	w := find[kproc.ZKBatch](h)
	if set := w.Reqs[0].(*fakezk.SetDataRequest); set.Version != 0 {
		t.Fatalf("new epoch's ISR write at version %d", set.Version)
	}
}

// A LeaderAndIsr naming a leader the broker knows no live broker for is
// abandoned without taking its epoch, so the next one of the same epoch
// applies (zombie-controller seed 38: a follower stayed without a fetcher
// for good).
func TestFollowerOfAnUnknownLeaderTakesTheEpochLater(t *testing.T) {
	h := newHarness(t, 1, nil)
	h.start(0x100)
	req := lai(1, 0x100, 2, 3, 2, 1)
	req.LiveLeaders = nil
	h.step(kproc.RPCIn{Token: 1, Req: req})
	h.answers()
	if r, _ := h.b.Replica(tp0); r.LeaderEpoch != -1 {
		t.Fatalf("epoch %d taken without a live leader", r.LeaderEpoch)
	}
	h.step(kproc.RPCIn{Token: 2, Req: lai(1, 0x100, 2, 3, 2, 1)})
	if f := find[kproc.Send](h); f.Host != "broker-2" {
		t.Fatalf("fetch to %s", f.Host)
	}
	if r, _ := h.b.Replica(tp0); r.LeaderEpoch != 3 || r.Leader != 2 {
		t.Fatalf("replica %+v", r)
	}
}

// KIP-455 phase B3: a LeaderAndIsr whose replicas are the reassignment's
// target while its ISR still holds a removed replica. The ISR expiration
// must not panic on the replica it has no follower state for
// (reassignment seeds 316 and 852).
func TestIsrShrinkSkipsISRMembersOutsideTheReplicas(t *testing.T) {
	h := newHarness(t, 1, nil)
	h.start(0x100)
	req := lai(1, 0x100, 1, 0, 1, 2, 9)
	h.step(kproc.RPCIn{Token: 1, Req: req})
	h.answers()
	h.now = h.now.Add(31 * sim.Second)
	h.step(kproc.TimerFired{Name: timerIsrExpiration})
	if n := count[kproc.ZKBatch](h.out); n != 0 {
		t.Fatalf("%d ISR writes for a partition whose ISR has a member outside its replicas", n)
	}
}
