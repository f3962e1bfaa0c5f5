package controller

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/config"
	"github.com/kzsim/kzsim/nodes/kafka/controller/algo"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
)

// activeDriver returns a driver whose controller won the election over
// brokers 1-3 and one topic of two partitions, every request answered.
func activeDriver(t *testing.T, cfg Config) *driver {
	t.Helper()
	d := newDriver(cfg)
	for _, id := range []int32{1, 2, 3} {
		d.addBroker(id)
	}
	d.createTopic("t", [][]int32{{1, 2, 3}, {2, 3, 1}})
	d.apply(d.c.Startup(d.now, 0x11), nil)
	if err := d.settle(true, 10000, nil); err != nil {
		t.Fatal(err)
	}
	if !d.c.IsActive() {
		t.Fatal("not active after startup")
	}
	return d
}

func TestBatchOnePerBrokerAndAPI(t *testing.T) {
	d := activeDriver(t, Config{BrokerID: 1, Kafka: config.Default()})
	c := d.c
	c.running = &event{name: "test"} // as inside an event
	// The same partition twice for broker 2, once new: one entry, new.
	c.addLeaderAndIsr([]int32{2, 3}, 0, false)
	c.addLeaderAndIsr([]int32{2}, 0, true)
	c.addLeaderAndIsr([]int32{2, 9}, 1, false) // 9 is no live broker: dropped
	c.addStopReplica([]int32{3}, 1, true)
	c.flush()
	c.running = nil
	var lines []string
	d.apply(c.take(), &lines)
	d.apply(func() []kproc.Effect { c.yield(); return c.take() }(), &lines)
	sent := map[string]int{}
	for _, h := range d.sends {
		sent[fmt.Sprintf("%s→%s", h.Req.Kind(), h.Host)]++
		if r, ok := h.Req.(*proto.LeaderAndIsrRequest); ok && h.Host == "b2" {
			if len(r.Partitions) != 2 || !r.Partitions[0].IsNew || r.Partitions[1].IsNew {
				t.Errorf("LeaderAndIsr to b2 = %+v, want t-0 (new) and t-1", r.Partitions)
			}
		}
	}
	// Senders have one request in flight each: the LeaderAndIsr first.
	want := map[string]int{"LeaderAndIsr→b2": 1, "LeaderAndIsr→b3": 1, "UpdateMetadata→b1": 1}
	for k, n := range want {
		if sent[k] != n {
			t.Errorf("%s sent %d times, want %d (all: %v)", k, sent[k], n, sent)
		}
	}
	if len(d.sends) != 3 {
		t.Errorf("%d requests in flight, want 3: %v", len(d.sends), lines)
	}
}

func TestUnfence(t *testing.T) {
	stat := &fakezk.Stat{Version: 4}
	tests := []struct {
		name      string
		fenced    bool
		resp      fakezk.Response
		wantErr   error
		wantMoved bool
	}{
		{"plain ok", false, fakezk.Response{Stat: stat}, nil, false},
		{"plain bad version", false, fakezk.Response{Err: fakezk.ErrBadVersion}, fakezk.ErrBadVersion, false},
		{"fenced ok", true, fakezk.Response{Multi: []fakezk.MultiResponse{{}, {Stat: stat}}}, nil, false},
		{"fenced check fails", true, fakezk.Response{Err: fakezk.ErrBadVersion, Multi: []fakezk.MultiResponse{{Error: fakezk.ErrBadVersion}, {Error: fakezk.ErrRuntimeInconsistency}}}, fakezk.ErrBadVersion, true},
		{"fenced op fails", true, fakezk.Response{Err: fakezk.ErrBadVersion, Multi: []fakezk.MultiResponse{{}, {Error: fakezk.ErrBadVersion}}}, fakezk.ErrBadVersion, false},
		{"fenced never ran", true, fakezk.Response{Err: fakezk.ErrSessionExpired}, fakezk.ErrSessionExpired, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := config.Default()
			k.Features.FencedControllerWrites = tt.fenced
			c := New(Config{BrokerID: 1, Kafka: k})
			res, moved := c.unfence(tt.resp)
			if moved != tt.wantMoved || res.Err != tt.wantErr {
				t.Errorf("unfence = (%v, %t), want (%v, %t)", res.Err, moved, tt.wantErr, tt.wantMoved)
			}
		})
	}
}

func TestValidTarget(t *testing.T) {
	tests := []struct {
		rs   []int32
		want bool
	}{
		{[]int32{1, 2}, true},
		{nil, false},
		{[]int32{1, 1}, false},
		{[]int32{-1}, false},
	}
	for _, tt := range tests {
		if got := validTarget(tt.rs); got != tt.want {
			t.Errorf("validTarget(%v) = %t, want %t", tt.rs, got, tt.want)
		}
	}
}

func TestContextOfflineCount(t *testing.T) {
	x := newContext()
	ti := x.addTopic("t")
	a := x.addPartition(ti, 0, algo.ReplicaAssignment{Replicas: []int32{1, 2}})
	b := x.addPartition(ti, 1, algo.ReplicaAssignment{Replicas: []int32{2, 3}})
	steps := []struct {
		i    int32
		s    partitionState
		want int
	}{
		{a, stateNew, 1}, {b, stateOffline, 2}, {a, stateOnline, 1}, {b, stateOffline, 1}, {b, stateNonExistent, 0}, {a, stateOffline, 1},
	}
	for _, st := range steps {
		x.setState(st.i, st.s)
		if x.offlineCount != st.want || len(x.offline) != st.want {
			t.Fatalf("after %d→%s: count %d, set %d, want %d", st.i, st.s, x.offlineCount, len(x.offline), st.want)
		}
	}
	if got := x.replicasOn[2]; len(got) != 2 {
		t.Errorf("replicasOn[2] = %v, want both partitions", got)
	}
	x.setReplicas(a, algo.ReplicaAssignment{Replicas: []int32{3, 1}})
	if got := x.replicasOn[2]; len(got) != 1 || got[0] != b {
		t.Errorf("after reassigning %d away from 2: replicasOn[2] = %v", a, got)
	}
	if got := x.replicasOn[3]; len(got) != 2 {
		t.Errorf("replicasOn[3] = %v, want both partitions", got)
	}
}

func TestMisusePanics(t *testing.T) {
	tests := []struct {
		name string
		f    func(c *Controller)
		want string
	}{
		{"startup twice", func(c *Controller) { c.Startup(0, 1); c.Startup(0, 1) }, "Startup called twice"},
		{"reelect first", func(c *Controller) { c.Reelect(0, 1) }, "Reelect before Startup"},
		{"wrong RPC", func(c *Controller) { c.Step(0, kproc.RPCIn{Req: &proto.MetadataRequest{}}) }, "RPCIn of kind Metadata"},
		{"wrong timer", func(c *Controller) { c.Step(0, kproc.TimerFired{Name: "controller/nope"}) }, "unknown timer"},
		{"short ZK answer", func(c *Controller) {
			effs := c.Startup(0, 1)
			for _, e := range effs {
				if b, ok := e.(kproc.ZKBatch); ok {
					c.Step(0, kproc.ZKResult{Req: b.ID})
				}
			}
		}, "0 responses for 1 requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), tt.want) {
					t.Errorf("panic %v, want one containing %q", r, tt.want)
				}
			}()
			tt.f(New(Config{BrokerID: 1, Kafka: config.Default()}))
		})
	}
}

// TestDeterministic runs the same failover twice and compares every effect.
func TestDeterministic(t *testing.T) {
	run := func() string {
		d := failoverTree(500)
		var lines []string
		d.apply(d.c.Startup(d.now, 0x11), &lines)
		if err := d.settle(true, 1_000_000, &lines); err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	a, b := run(), run()
	if a != b {
		t.Fatal("two runs of the same failover differ")
	}
	if !strings.Contains(a, "failover-done") {
		t.Fatal("no failover-done in the run")
	}
}

// TestFailoverBatchesPerBroker checks that a failover of 500 partitions
// sends LeaderAndIsr per broker per batch, not per partition, and that the
// one-at-a-time era issues one ZooKeeper request per batch.
func TestFailoverBatchesPerBroker(t *testing.T) {
	for _, pipelined := range []bool{true, false} {
		d := failoverTree(500)
		if !pipelined {
			d.c = New(Config{BrokerID: 1, Kafka: config.ForEra(config.Era10)})
		}
		d.apply(d.c.Startup(d.now, 0x11), nil)
		if err := d.settle(true, 1_000_000, nil); err != nil {
			t.Fatal(err)
		}
		if n := d.effects.sends[proto.KindLeaderAndIsr]; n > 4*3 {
			t.Errorf("pipelined=%t: %d LeaderAndIsr requests for 4 live brokers, want at most 3 batches each", pipelined, n)
		}
		if e := d.effects.entries[proto.KindLeaderAndIsr]; e < 500 {
			t.Errorf("pipelined=%t: %d LeaderAndIsr entries, want every partition's", pipelined, e)
		}
		if pipelined && d.zkBatches > 40 {
			t.Errorf("pipelined failover took %d ZooKeeper batches", d.zkBatches)
		}
		if !pipelined && d.zkBatches != d.zkRequests {
			t.Errorf("one-at-a-time: %d batches for %d requests", d.zkBatches, d.zkRequests)
		}
		if v := d.c.View(); v.OfflinePartitions != 0 || v.Partitions != 500 {
			t.Errorf("pipelined=%t: %+v", pipelined, v)
		}
	}
}
