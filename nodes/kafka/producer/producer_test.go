package producer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/history"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/producer/partition"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// harness drives one producer machine input by input.
type harness struct {
	t   *testing.T
	p   *Producer
	now sim.Time
	out []kproc.Effect
}

func newHarness(t *testing.T, d Discovery, tweak func(*Config)) *harness {
	t.Helper()
	cfg := Config{Index: 1, Discovery: d, Topics: []string{"t"}, Rand: sim.NewRand(1), Partitioner: PartitionRoundRobin}
	if d != DiscoveryZK {
		cfg.Bootstrap = []string{"broker-1", "broker-2", "broker-3"}
	}
	if d == DiscoveryStatic {
		cfg.StaticPartitions = 4
	}
	if tweak != nil {
		tweak(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, p: p}
	h.step(kproc.Started{Incarnation: 1})
	return h
}

func (h *harness) step(in kproc.Input) []kproc.Effect {
	h.out = h.p.Step(h.now, in)
	return h.out
}

// produce makes n messages now.
func (h *harness) produce(n int) []kproc.Effect {
	var all []kproc.Effect
	for range n {
		all = append(all, h.p.ProduceNow(h.now)...)
	}
	h.out = all
	return all
}

// advance moves time on by d and fires the retry timer.
func (h *harness) advance(d sim.Duration) []kproc.Effect {
	h.now = h.now.Add(d)
	return h.step(kproc.TimerFired{Name: timerRetry})
}

func all[T kproc.Effect](effects []kproc.Effect) []T {
	var out []T
	for _, e := range effects {
		if v, ok := e.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func one[T kproc.Effect](t *testing.T, effects []kproc.Effect) T {
	t.Helper()
	vs := all[T](effects)
	if len(vs) != 1 {
		var zero T
		t.Fatalf("want one %T, got %d in %v", zero, len(vs), effects)
	}
	return vs[0]
}

func produces(effects []kproc.Effect) []kproc.Send {
	var out []kproc.Send
	for _, s := range all[kproc.Send](effects) {
		if _, ok := s.Req.(*proto.ProduceRequest); ok {
			out = append(out, s)
		}
	}
	return out
}

func metadataSends(effects []kproc.Effect) []kproc.Send {
	var out []kproc.Send
	for _, s := range all[kproc.Send](effects) {
		if _, ok := s.Req.(*proto.MetadataRequest); ok {
			out = append(out, s)
		}
	}
	return out
}

// ackAll answers a produce Send with every partition appended at base
// offset 10.
func ackAll(s kproc.Send) kproc.RPCResult {
	req := s.Req.(*proto.ProduceRequest)
	resp := &proto.ProduceResponse{}
	for _, pp := range req.Partitions {
		resp.Partitions = append(resp.Partitions, proto.ProducePartitionResponse{TopicPartition: pp.TopicPartition, BaseOffset: 10})
	}
	return kproc.RPCResult{Req: s.ID, Resp: resp}
}

// answerCode answers a produce Send with code for every partition.
func answerCode(s kproc.Send, code proto.ErrorCode) kproc.RPCResult {
	req := s.Req.(*proto.ProduceRequest)
	resp := &proto.ProduceResponse{}
	for _, pp := range req.Partitions {
		resp.Partitions = append(resp.Partitions, proto.ProducePartitionResponse{TopicPartition: pp.TopicPartition, Error: code, BaseOffset: -1})
	}
	return kproc.RPCResult{Req: s.ID, Resp: resp}
}

// cluster is a metadata answer: partition i of "t" led by leaders[i].
func metadata(s kproc.Send, leaders ...int32) kproc.RPCResult {
	resp := &proto.MetadataResponse{ControllerID: 1}
	for id := int32(1); id <= 3; id++ {
		resp.Brokers = append(resp.Brokers, proto.Broker{ID: id, Host: fmt.Sprintf("broker-%d", id), Port: 9092})
	}
	for i, l := range leaders {
		pm := proto.PartitionMetadata{TopicPartition: proto.TopicPartition{Topic: "t", Partition: int32(i)}, Leader: l}
		if l == proto.NoLeader {
			pm.Error = proto.LeaderNotAvailable
		}
		resp.Partitions = append(resp.Partitions, pm)
	}
	return kproc.RPCResult{Req: s.ID, Resp: resp}
}

func TestConfigErrors(t *testing.T) {
	good := func() Config {
		return Config{Discovery: DiscoveryMetadata, Topics: []string{"t"}, Bootstrap: []string{"b"}, Rand: sim.NewRand(1)}
	}
	for _, tc := range []struct {
		tweak func(*Config)
		want  string
	}{
		{func(c *Config) { c.Discovery = 0 }, "no discovery mode"},
		{func(c *Config) { c.Topics = nil }, "no topics"},
		{func(c *Config) { c.Topics = []string{"t", "t"} }, `topic "t" empty or listed twice`},
		{func(c *Config) { c.Rand = nil }, "no Rand"},
		{func(c *Config) { c.Bootstrap = nil }, "metadata discovery needs bootstrap hosts"},
		{func(c *Config) { c.Discovery = DiscoveryStatic }, "StaticPartitions"},
		{func(c *Config) { c.Partitioner = PartitionHash }, "needs Keys"},
		{func(c *Config) { c.Acks = 2 }, "acks 2"},
		{func(c *Config) { c.MaxInFlight = -1 }, "max in flight -1"},
		{func(c *Config) { c.BurstSize = 3 }, "bursts of 3"},
		{func(c *Config) { c.Rate = -1 }, "rate -1"},
		{func(c *Config) { c.Index = MaxIndex + 1 }, "index"},
		{func(c *Config) { c.MetadataRefreshInterval = -5 }, "refresh interval"},
	} {
		c := good()
		tc.tweak(&c)
		_, err := New(c)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("want one-line error with %q, got %v", tc.want, err)
		}
	}
	if _, err := New(good()); err != nil {
		t.Fatal(err)
	}
}

// ---- zk ----

// zkAnswer answers every ZKBatch of the last step from a small ZooKeeper
// tree, and the batches those answers lead to, until none is left.
type zkTree map[string][]byte

func (h *harness) zkServe(tree zkTree, effects []kproc.Effect) {
	h.t.Helper()
	for range 20 {
		batches := all[kproc.ZKBatch](effects)
		if len(batches) == 0 {
			return
		}
		effects = nil
		for _, b := range batches {
			resps := make([]fakezk.Response, len(b.Reqs))
			for i, r := range b.Reqs {
				switch q := r.(type) {
				case *fakezk.GetChildrenRequest:
					data, ok := tree[q.Path]
					if !ok {
						resps[i].Err = fakezk.ErrNoNode
						continue
					}
					if len(data) > 0 {
						resps[i].Children = strings.Split(string(data), ",")
					}
				case *fakezk.GetDataRequest:
					data, ok := tree[q.Path]
					if !ok {
						resps[i].Err = fakezk.ErrNoNode
						continue
					}
					resps[i].Data = data
				case *fakezk.ExistsRequest:
					_, resps[i].Exists = tree[q.Path]
				}
			}
			effects = append(effects, h.step(kproc.ZKResult{Req: b.ID, Resps: resps})...)
		}
	}
	h.t.Fatal("zk reads never settle")
}

func registration(id int32) []byte {
	return kafkazk.BrokerRegistration{Version: 4, Endpoints: []kafkazk.Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: fmt.Sprintf("broker-%d", id), Port: 9092}}, JMXPort: -1}.Encode()
}

func state(leader, epoch int32) []byte {
	return kafkazk.PartitionState{Leader: leader, LeaderEpoch: epoch, ISR: []int32{leader}}.Encode()
}

func clusterTree(brokers []int32, leaders ...int32) zkTree {
	tree := zkTree{kafkazk.TopicsPath: []byte("t")}
	ids := make([]string, len(brokers))
	for i, id := range brokers {
		ids[i] = fmt.Sprint(id)
		tree[kafkazk.BrokerIDPath(id)] = registration(id)
	}
	tree[kafkazk.BrokerIDsPath] = []byte(strings.Join(ids, ","))
	ta := kafkazk.TopicAssignment{Version: 2, Partitions: map[int32]kafkazk.ReplicaAssignment{}}
	for i, l := range leaders {
		ta.Partitions[int32(i)] = kafkazk.ReplicaAssignment{Replicas: []int32{l}}
		tree[kafkazk.PartitionStatePath("t", int32(i))] = state(l, 0)
	}
	tree[kafkazk.TopicPath("t")] = ta.Encode()
	return tree
}

func leaders(v View) string {
	var b []string
	for _, p := range v.Partitions {
		b = append(b, fmt.Sprintf("%s:%d", p.TopicPartition, p.Leader))
	}
	return strings.Join(b, " ")
}

// TestZKView follows the zk producer's view as brokers come and go and a
// leader changes, and its sends to the current leaders.
func TestZKView(t *testing.T) {
	h := newHarness(t, DiscoveryZK, func(c *Config) { c.Partitioner = PartitionHash; c.Keys, _ = partition.NewZipf(100, 1) })
	handlers := all[kproc.ZKHandler](h.out)
	if len(handlers) != 3 || handlers[0].Path != kafkazk.BrokerIDsPath || !handlers[0].Child || handlers[2].Path != kafkazk.TopicPath("t") {
		t.Fatalf("handlers %v", handlers)
	}
	tree := clusterTree([]int32{1, 2, 3}, 1, 2, 3)
	h.zkServe(tree, h.out)
	v := h.p.View()
	if got := fmt.Sprint(v.BrokerIDs()); got != "[1 2 3]" {
		t.Fatalf("brokers %s", got)
	}
	if got := leaders(v); got != "t-0:1 t-1:2 t-2:3" {
		t.Fatalf("leaders %s", got)
	}
	// Every partition's state path has a handler (a data watch).
	if n := len(all[kproc.ZKHandler](h.out)); n != 0 {
		t.Fatalf("late handlers %d", n)
	}

	// Broker 2 goes: its partition is leaderless in the view at once.
	delete(tree, kafkazk.BrokerIDPath(2))
	tree[kafkazk.BrokerIDsPath] = []byte("1,3")
	h.zkServe(tree, h.step(kproc.ZKChange{Path: kafkazk.BrokerIDsPath, Kind: kproc.ChildChange}))
	v = h.p.View()
	if got := fmt.Sprint(v.BrokerIDs()); got != "[1 3]" {
		t.Fatalf("brokers after 2 left %s", got)
	}
	if got := leaders(v); got != "t-0:1 t-1:-1 t-2:3" {
		t.Fatalf("leaders after 2 left %s", got)
	}
	// Broker 4 comes.
	tree[kafkazk.BrokerIDPath(4)] = registration(4)
	tree[kafkazk.BrokerIDsPath] = []byte("1,3,4")
	h.zkServe(tree, h.step(kproc.ZKChange{Path: kafkazk.BrokerIDsPath, Kind: kproc.ChildChange}))
	if got := fmt.Sprint(h.p.View().BrokerIDs()); got != "[1 3 4]" {
		t.Fatalf("brokers after 4 came %s", got)
	}
	// The controller moves t-1 to broker 4.
	tree[kafkazk.PartitionStatePath("t", 1)] = state(4, 1)
	h.zkServe(tree, h.step(kproc.ZKChange{Path: kafkazk.PartitionStatePath("t", 1), Kind: kproc.DataChange}))
	if got := leaders(h.p.View()); got != "t-0:1 t-1:4 t-2:3" {
		t.Fatalf("leaders after the change %s", got)
	}
	// Sends go to each partition's leader.
	sends := produces(h.produce(30))
	if len(sends) == 0 {
		t.Fatal("no sends")
	}
	want := map[int32]string{0: "broker-1", 1: "broker-4", 2: "broker-3"}
	for _, s := range sends {
		for _, pp := range s.Req.(*proto.ProduceRequest).Partitions {
			if want[pp.Partition] != s.Host {
				t.Fatalf("%s sent to %s, want %s", pp.TopicPartition, s.Host, want[pp.Partition])
			}
		}
	}
	// A new session reads (and so watches) everything again.
	h.step(kproc.ZKSessionPhase{Phase: kproc.AfterInitializingSession})
	paths := map[string]bool{}
	for _, b := range all[kproc.ZKBatch](h.out) {
		for _, r := range b.Reqs {
			switch q := r.(type) {
			case *fakezk.GetChildrenRequest:
				paths[q.Path] = true
			case *fakezk.GetDataRequest:
				paths[q.Path] = true
			}
		}
	}
	if !paths[kafkazk.BrokerIDsPath] || !paths[kafkazk.TopicsPath] || !paths[kafkazk.TopicPath("t")] {
		t.Fatalf("after a new session reads %v", paths)
	}
	h.zkServe(tree, h.out)
	if got := leaders(h.p.View()); got != "t-0:1 t-1:4 t-2:3" {
		t.Fatalf("leaders after the new session %s", got)
	}
}

// TestZKWaitsForView: the zk producer sends nothing before it has read the
// brokers and its topics, and then sends what waited.
func TestZKWaitsForView(t *testing.T) {
	h := newHarness(t, DiscoveryZK, nil)
	start := h.out
	if n := len(produces(h.produce(3))); n != 0 {
		t.Fatalf("%d sends before the view", n)
	}
	h.zkServe(clusterTree([]int32{1}, 1), start)
	if n := len(produces(h.p.ProduceNow(h.now))); n != 1 {
		t.Fatalf("%d sends once the view is read, want 1 with all 4 messages", n)
	}
}

// TestZKPartitionStateCreatedLater: a topic whose state znodes do not exist
// yet is watched by exists and read once created.
func TestZKPartitionStateCreatedLater(t *testing.T) {
	h := newHarness(t, DiscoveryZK, nil)
	tree := clusterTree([]int32{1}, 1)
	delete(tree, kafkazk.PartitionStatePath("t", 0))
	h.zkServe(tree, h.out)
	if got := leaders(h.p.View()); got != "t-0:-1" {
		t.Fatalf("leaders %s", got)
	}
	tree[kafkazk.PartitionStatePath("t", 0)] = state(1, 0)
	h.zkServe(tree, h.step(kproc.ZKChange{Path: kafkazk.PartitionStatePath("t", 0), Kind: kproc.Creation}))
	if got := leaders(h.p.View()); got != "t-0:1" {
		t.Fatalf("leaders after creation %s", got)
	}
}

// ---- metadata ----

// TestMetadataRefreshOnNotLeader: the first send asks for metadata; a
// NOT_LEADER_FOR_PARTITION answer makes the producer ask again after the
// back-off and send to the new leader.
func TestMetadataRefreshOnNotLeader(t *testing.T) {
	h := newHarness(t, DiscoveryMetadata, nil)
	md := one[kproc.Send](t, h.produce(1))
	if _, ok := md.Req.(*proto.MetadataRequest); !ok {
		t.Fatalf("first send is %s, want Metadata", md.Req.Kind())
	}
	s := one[kproc.Send](t, h.step(metadata(md, 2)))
	if s.Host != "broker-2" {
		t.Fatalf("sent to %s, want the leader broker-2", s.Host)
	}
	h.step(answerCode(s, proto.NotLeaderForPartition))
	if len(all[Failed](h.out)) != 0 || len(all[kproc.Send](h.out)) != 0 {
		t.Fatalf("NOT_LEADER ends or resends at once: %v", h.out)
	}
	md = one[kproc.Send](t, h.advance(DefaultRetryBackoff))
	if _, ok := md.Req.(*proto.MetadataRequest); !ok {
		t.Fatalf("after NOT_LEADER sends %s, want Metadata", md.Req.Kind())
	}
	s = one[kproc.Send](t, h.step(metadata(md, 3)))
	if s.Host != "broker-3" {
		t.Fatalf("resent to %s, want the new leader broker-3", s.Host)
	}
	h.step(ackAll(s))
	if a := one[Acked](t, h.out); a.Attempts != 2 || a.Offset != 10 || a.Host != "broker-3" {
		t.Fatalf("acked %+v", a)
	}
	if r := h.p.View().Refreshes; r != 2 {
		t.Fatalf("refreshes %d, want 2", r)
	}
}

// TestMetadataRefreshOnBrokenConnection: a broken connection makes the
// outcome unknown, and the producer refreshes before the retry.
func TestMetadataRefreshOnBrokenConnection(t *testing.T) {
	h := newHarness(t, DiscoveryMetadata, nil)
	md := one[kproc.Send](t, h.produce(1))
	s := one[kproc.Send](t, h.step(metadata(md, 1)))
	h.step(kproc.RPCResult{Req: s.ID, Err: fmt.Errorf("%w: peer crashed", rpc.ErrConnection)})
	md = one[kproc.Send](t, h.advance(DefaultRetryBackoff))
	if _, ok := md.Req.(*proto.MetadataRequest); !ok {
		t.Fatalf("after a broken connection sends %s, want Metadata", md.Req.Kind())
	}
	s = one[kproc.Send](t, h.step(metadata(md, 2)))
	if s.Host != "broker-2" {
		t.Fatalf("resent to %s", s.Host)
	}
}

// TestMetadataBootstrapFallback: a bootstrap broker that fails is followed
// by the next in the shuffled order; when all fail the attempt fails.
func TestMetadataBootstrapFallback(t *testing.T) {
	h := newHarness(t, DiscoveryMetadata, func(c *Config) { c.NoRetries = true })
	var hosts []string
	md := one[kproc.Send](t, h.produce(1))
	for range 3 {
		hosts = append(hosts, md.Host)
		eff := h.step(kproc.RPCResult{Req: md.ID, Err: rpc.ErrTimeout})
		if len(hosts) < 3 {
			md = one[kproc.Send](t, eff)
		}
	}
	if hosts[0] == hosts[1] || hosts[1] == hosts[2] || hosts[0] == hosts[2] {
		t.Fatalf("asked %v, want each bootstrap broker once", hosts)
	}
	if f := one[Failed](t, h.out); !strings.Contains(f.Err, "metadata") {
		t.Fatalf("failed %+v", f)
	}
}

// TestMetadataPeriodicRefresh: once topic.metadata.refresh.interval.ms has
// passed, the next send refreshes first.
func TestMetadataPeriodicRefresh(t *testing.T) {
	h := newHarness(t, DiscoveryMetadata, func(c *Config) { c.MetadataRefreshInterval = sim.Second })
	md := one[kproc.Send](t, h.produce(1))
	h.step(ackAll(one[kproc.Send](t, h.step(metadata(md, 1)))))
	h.now = h.now.Add(500 * sim.Millisecond)
	if len(produces(h.produce(1))) != 1 {
		t.Fatal("no send within the interval")
	}
	h.now = h.now.Add(600 * sim.Millisecond)
	if len(metadataSends(h.produce(1))) != 1 {
		t.Fatalf("no refresh after the interval: %v", h.out)
	}
}

// ---- static ----

// TestStaticNeverChanges: the static producer sends everything to the one
// broker it picked, whatever the answers, and never reads ZooKeeper or
// metadata.
func TestStaticNeverChanges(t *testing.T) {
	h := newHarness(t, DiscoveryStatic, nil)
	target := one[Started](t, h.out).Target
	if target == "" || h.p.View().Target != target {
		t.Fatalf("target %q", target)
	}
	for i := range 20 {
		for _, s := range produces(h.produce(1)) {
			if s.Host != target {
				t.Fatalf("message %d sent to %s, not %s", i, s.Host, target)
			}
			if i%2 == 0 {
				h.step(answerCode(s, proto.NotLeaderForPartition))
			} else {
				h.step(kproc.RPCResult{Req: s.ID, Err: rpc.ErrConnection})
			}
		}
		for _, s := range produces(h.advance(DefaultRetryBackoff)) {
			if s.Host != target {
				t.Fatalf("retry sent to %s, not %s", s.Host, target)
			}
			h.step(ackAll(s))
		}
	}
	if n := len(all[kproc.ZKBatch](h.out)) + len(metadataSends(h.out)); n != 0 {
		t.Fatal("static producer asked for the cluster's layout")
	}
	v := h.p.View()
	if len(v.Hosts) != 1 || v.Hosts[0].Host != target || len(v.Brokers) != 0 {
		t.Fatalf("view %+v", v)
	}
}

// ---- acks, timeouts, retries, in flight ----

func staticAcked(t *testing.T, tweak func(*Config)) (*harness, kproc.Send) {
	h := newHarness(t, DiscoveryStatic, tweak)
	return h, one[kproc.Send](t, h.produce(1))
}

// TestAcksAll: acks=all goes in the request with the request timeout, and
// the message is acknowledged only when the broker answers.
func TestAcksAll(t *testing.T) {
	h, s := staticAcked(t, func(c *Config) { c.Acks = proto.AcksAll; c.RequestTimeout = 7 * sim.Second })
	req := s.Req.(*proto.ProduceRequest)
	if req.Acks != proto.AcksAll || req.TimeoutMs != 7000 || s.Timeout != 7*sim.Second {
		t.Fatalf("request acks=%d timeout=%dms rpc timeout %v", req.Acks, req.TimeoutMs, s.Timeout)
	}
	if len(all[Acked](h.out)) != 0 {
		t.Fatal("acked before the answer")
	}
	h.now = h.now.Add(3 * sim.Second)
	h.step(ackAll(s))
	if a := one[Acked](t, h.out); a.Partition != req.Partitions[0].Partition || a.Offset != 10 {
		t.Fatalf("acked %+v", a)
	}
}

// TestAcksZero: acks=0 gives no answer to learn from: the send is info.
func TestAcksZero(t *testing.T) {
	h, s := staticAcked(t, func(c *Config) { c.AcksNoneSet = true })
	if s.Req.(*proto.ProduceRequest).Acks != proto.AcksNone {
		t.Fatal("acks is not 0")
	}
	if u := one[Unknown](t, h.out); u.Why != "acks=0" {
		t.Fatalf("unknown %+v", u)
	}
	if n := len(h.step(ackAll(s))); n != 0 {
		t.Fatalf("the answer reported again: %v", h.out)
	}
}

// TestTimeoutIsInfo: a timed-out request's messages are info, not fail;
// once unknown, a later definite error keeps them unknown.
func TestTimeoutIsInfo(t *testing.T) {
	for _, tc := range []struct {
		name  string
		errs  []any // rpc error or error code per attempt
		retry int
		want  string
	}{
		{"timeout", []any{rpc.ErrTimeout}, 0, "info"},
		{"broken", []any{fmt.Errorf("%w: %w", rpc.ErrConnection, sim.ErrPeerCrashed)}, 0, "info"},
		{"refused", []any{fmt.Errorf("%w: %w", rpc.ErrConnection, sim.ErrRefused)}, 0, "fail"},
		{"unreachable", []any{fmt.Errorf("%w: %w", rpc.ErrConnection, sim.ErrUnreachable)}, 0, "fail"},
		{"unknown-host", []any{fmt.Errorf("kproc: unknown host %q", "x")}, 0, "fail"},
		{"not-enough-after-append", []any{proto.NotEnoughReplicasAfterAppend}, 0, "info"},
		{"broker-timeout", []any{proto.RequestTimedOut}, 0, "info"},
		{"not-leader", []any{proto.NotLeaderForPartition}, 0, "fail"},
		{"not-enough", []any{proto.NotEnoughReplicas}, 0, "fail"},
		{"timeout-then-not-leader", []any{rpc.ErrTimeout, proto.NotLeaderForPartition}, 1, "info"},
		{"not-leader-then-ok", []any{proto.NotLeaderForPartition, nil}, 1, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, s := staticAcked(t, func(c *Config) { c.MaxRetries, c.NoRetries = tc.retry, tc.retry == 0 })
			for i, e := range tc.errs {
				if i > 0 {
					s = one[kproc.Send](t, h.advance(DefaultRetryBackoff))
				}
				switch e := e.(type) {
				case error:
					h.step(kproc.RPCResult{Req: s.ID, Err: e})
				case proto.ErrorCode:
					h.step(answerCode(s, e))
				default:
					h.step(ackAll(s))
				}
			}
			got := fmt.Sprint(len(all[Acked](h.out)), len(all[Failed](h.out)), len(all[Unknown](h.out)))
			want := map[string]string{"ok": "1 0 0", "fail": "0 1 0", "info": "0 0 1"}[tc.want]
			if got != want {
				t.Fatalf("ok/fail/info %s, want %s (%v)", got, want, h.out)
			}
		})
	}
}

// TestRetriesBounded: a send failing every time is sent 1+MaxRetries
// times, each after the back-off, then fails.
func TestRetriesBounded(t *testing.T) {
	h, s := staticAcked(t, func(c *Config) { c.MaxRetries = 2; c.RetryBackoff = 250 * sim.Millisecond })
	sends := 1
	for {
		h.step(answerCode(s, proto.NotLeaderForPartition))
		if f := all[Failed](h.out); len(f) > 0 {
			if f[0].Attempts != 3 || f[0].Err != "NOT_LEADER_FOR_PARTITION" {
				t.Fatalf("failed %+v", f[0])
			}
			break
		}
		timer := one[kproc.SetTimer](t, h.out)
		if timer.After != 250*sim.Millisecond {
			t.Fatalf("back-off %v", timer.After)
		}
		if n := len(produces(h.advance(249 * sim.Millisecond))); n != 0 {
			t.Fatal("resent before the back-off")
		}
		s = one[kproc.Send](t, h.advance(sim.Millisecond))
		sends++
		if sends > 10 {
			t.Fatal("retries unbounded")
		}
	}
	if sends != 3 {
		t.Fatalf("sent %d times, want 3", sends)
	}
}

// TestInFlightBound: at most MaxInFlight requests per broker are in flight;
// an answer lets the next go.
func TestInFlightBound(t *testing.T) {
	h := newHarness(t, DiscoveryStatic, func(c *Config) { c.MaxInFlight = 2; c.BatchMax = 1 })
	sends := produces(h.produce(5))
	if len(sends) != 2 || h.p.View().InFlight != 2 || h.p.View().Queued != 3 {
		t.Fatalf("%d sends, view %+v", len(sends), h.p.View())
	}
	next := produces(h.step(ackAll(sends[0])))
	if len(next) != 1 {
		t.Fatalf("%d sends after one answer, want 1", len(next))
	}
	if v := h.p.View(); v.InFlight != 2 || v.Acked != 1 {
		t.Fatalf("view %+v", v)
	}
}

// TestBatching: queued messages for one broker go out together, at most
// BatchMax per request, grouped by partition.
func TestBatching(t *testing.T) {
	h := newHarness(t, DiscoveryStatic, func(c *Config) { c.MaxInFlight = 1; c.BatchMax = 3 })
	first := one[kproc.Send](t, h.produce(1))
	h.produce(7)
	next := produces(h.step(ackAll(first)))
	if len(next) != 1 {
		t.Fatalf("%d sends", len(next))
	}
	n := 0
	for _, pp := range next[0].Req.(*proto.ProduceRequest).Partitions {
		n += len(pp.Entries)
	}
	if n != 3 {
		t.Fatalf("batch of %d, want 3", n)
	}
	acks := all[Acked](h.step(ackAll(next[0])))
	if len(acks) != 3 {
		t.Fatalf("%d acked", len(acks))
	}
}

// TestIdempotent: records carry the producer id and per-partition
// sequences, kept across a retry.
func TestIdempotent(t *testing.T) {
	h := newHarness(t, DiscoveryStatic, func(c *Config) { c.Idempotent = true; c.ProducerID = 42; c.BatchMax = 1 })
	sends := produces(h.produce(MaxIdempotentInFlight))
	seqs := map[int32][]int32{}
	for _, s := range sends {
		pp := s.Req.(*proto.ProduceRequest).Partitions[0]
		e := pp.Entries[0]
		if e.ProducerID != 42 {
			t.Fatalf("producer id %d", e.ProducerID)
		}
		seqs[pp.Partition] = append(seqs[pp.Partition], e.Sequence)
	}
	for p, ss := range seqs {
		for i, s := range ss {
			if s != int32(i) {
				t.Fatalf("partition %d sequences %v", p, ss)
			}
		}
	}
	pp := sends[0].Req.(*proto.ProduceRequest).Partitions[0]
	h.step(kproc.RPCResult{Req: sends[0].ID, Err: rpc.ErrTimeout})
	again := one[kproc.Send](t, h.advance(DefaultRetryBackoff)).Req.(*proto.ProduceRequest).Partitions[0]
	if again.TopicPartition != pp.TopicPartition || again.Entries[0] != pp.Entries[0] {
		t.Fatalf("retry %v %v, first %v %v", again.TopicPartition, again.Entries[0], pp.TopicPartition, pp.Entries[0])
	}
}

// TestWorkload: the steady rate and bursts run on timers from Start to
// Stop; values are Index<<40 | n; keys come from the Zipf.
func TestWorkload(t *testing.T) {
	zipf, _ := partition.NewZipf(10, 1)
	h := newHarness(t, DiscoveryStatic, func(c *Config) {
		c.Index = 3
		c.Rate = 10
		c.BurstEvery, c.BurstSize = sim.Second, 5
		c.Start, c.Stop = sim.Second, 3*sim.Second
		c.Keys, c.Partitioner = zipf, PartitionHash
	})
	pending := map[kproc.TimerName]sim.Time{}
	var values []uint64
	collect := func(effects []kproc.Effect) {
		for _, e := range effects {
			switch e := e.(type) {
			case kproc.SetTimer:
				pending[e.Name] = h.now.Add(e.After)
			case Invoked:
				if !e.Keyed || e.Key >= 10 {
					t.Fatalf("key %v", e.Message)
				}
				values = append(values, e.Value)
			case kproc.Send:
				h.p.Step(h.now, ackAll(e)) // drop the acks' effects
			}
		}
	}
	collect(h.out)
	for range 1000 {
		var name kproc.TimerName
		var at sim.Time = -1
		for _, n := range []kproc.TimerName{timerStart, timerTick, timerBurst, timerRetry} {
			if t, ok := pending[n]; ok && (at < 0 || t < at) {
				name, at = n, t
			}
		}
		if at < 0 {
			break
		}
		delete(pending, name)
		h.now = at
		collect(h.step(kproc.TimerFired{Name: name}))
	}
	// Ticks every 100 ms from 1.1 s to 2.9 s (19; the one at 3 s is past
	// Stop) and one burst of 5 at 2 s.
	if len(values) != 24 {
		t.Fatalf("%d messages, want 24", len(values))
	}
	for i, v := range values {
		if v != 3<<40|uint64(i+1) {
			t.Fatalf("value %d is %x", i, v)
		}
	}
}

// TestQueueFull: beyond QueueMax a message fails at once.
func TestQueueFull(t *testing.T) {
	h := newHarness(t, DiscoveryStatic, func(c *Config) { c.QueueMax, c.BatchMax, c.MaxInFlight = 2, 1, 1 })
	h.produce(3)
	if f := all[Failed](h.out); len(f) != 1 || f[0].Err != "queue full" {
		t.Fatalf("failed %v", f)
	}
}

// TestShutdown: queued messages never sent fail; those in flight are
// unknown; then Exit.
func TestShutdown(t *testing.T) {
	h := newHarness(t, DiscoveryStatic, func(c *Config) { c.MaxInFlight, c.BatchMax = 1, 1 })
	h.produce(3)
	h.step(kproc.Shutdown{})
	if f, u := len(all[Failed](h.out)), len(all[Unknown](h.out)); f != 2 || u != 1 {
		t.Fatalf("fail %d info %d", f, u)
	}
	if _, ok := h.out[len(h.out)-1].(kproc.Exit); !ok {
		t.Fatal("no Exit last")
	}
	if len(h.step(kproc.TimerFired{Name: timerRetry})) != 0 {
		t.Fatal("stepped after Exit")
	}
}

// TestMetadataRefreshNotPostponed: failures that keep coming do not push
// the refresh back: it starts one back-off after the first.
func TestMetadataRefreshNotPostponed(t *testing.T) {
	h := newHarness(t, DiscoveryMetadata, func(c *Config) { c.BatchMax = 1 })
	md := one[kproc.Send](t, h.produce(1))
	s := one[kproc.Send](t, h.step(metadata(md, 1)))
	h.step(answerCode(s, proto.NotLeaderForPartition))
	h.now = h.now.Add(50 * sim.Millisecond)
	s = one[kproc.Send](t, h.produce(1)) // sent with the old view while the refresh waits
	h.step(answerCode(s, proto.NotLeaderForPartition))
	if n := len(metadataSends(h.advance(50 * sim.Millisecond))); n != 1 {
		t.Fatalf("%d metadata requests one back-off after the first failure, want 1", n)
	}
}

// ---- zk, Kafka 0.7's znodes ----

func tree07() zkTree {
	return zkTree{
		"/brokers/ids":        []byte("1,2"),
		"/brokers/ids/1":      []byte("broker-1-1352252334123:broker-1:9092"),
		"/brokers/ids/2":      []byte("broker-2-1352252334123:broker-2:9092"),
		"/brokers/topics":     []byte("t"),
		"/brokers/topics/t":   []byte("1,2"),
		"/brokers/topics/t/1": []byte("2"),
		"/brokers/topics/t/2": []byte("1"),
	}
}

func pairs(v View) string {
	var b []string
	for _, p := range v.Partitions {
		b = append(b, fmt.Sprintf("%d-%d", p.Leader, p.Partition))
	}
	return strings.Join(b, " ")
}

// TestZK07View follows the 0.7 producer's (broker, partition) list as
// brokers come and go (ZKBrokerPartitionInfo@0.7.2's listeners).
func TestZK07View(t *testing.T) {
	h := newHarness(t, DiscoveryZK, func(c *Config) { c.Layout07 = true; c.Partitioner = PartitionRandom })
	if hd := all[kproc.ZKHandler](h.out); len(hd) != 3 || !hd[2].Child || hd[2].Path != "/brokers/topics/t" {
		t.Fatalf("handlers %v", hd)
	}
	tree := tree07()
	h.zkServe(tree, h.out)
	if got := pairs(h.p.View()); got != "1-0 1-1 2-0" {
		t.Fatalf("pairs %s", got)
	}
	// Broker 2 goes: its pairs leave every topic's set at once.
	tree["/brokers/ids"] = []byte("1")
	h.zkServe(tree, h.step(kproc.ZKChange{Path: "/brokers/ids", Kind: kproc.ChildChange}))
	if got := pairs(h.p.View()); got != "1-0 1-1" {
		t.Fatalf("pairs after broker 2 left %s", got)
	}
	// Broker 3 comes and registers the topic with 2 partitions; broker 1's
	// topic registration vanishes meanwhile, but a live broker's
	// partitions are never dropped (the union rule).
	tree["/brokers/ids"] = []byte("1,3")
	tree["/brokers/ids/3"] = []byte("broker-3-1:broker-3:9092")
	h.zkServe(tree, h.step(kproc.ZKChange{Path: "/brokers/ids", Kind: kproc.ChildChange}))
	tree["/brokers/topics/t"] = []byte("3")
	tree["/brokers/topics/t/3"] = []byte("2")
	h.zkServe(tree, h.step(kproc.ZKChange{Path: "/brokers/topics/t", Kind: kproc.ChildChange}))
	if got := pairs(h.p.View()); got != "1-0 1-1 3-0 3-1" {
		t.Fatalf("pairs after broker 3 came %s", got)
	}
	// Sends go to the pair's broker, with its partition id.
	for _, s := range produces(h.produce(40)) {
		for _, pp := range s.Req.(*proto.ProduceRequest).Partitions {
			if s.Host != "broker-1" && s.Host != "broker-3" || pp.Partition > 1 {
				t.Fatalf("sent %s to %s", pp.TopicPartition, s.Host)
			}
		}
	}
}

// TestZK07Bootstrap: a topic no broker has registered goes to partition 0
// of a live broker, and that list is kept as the topic's.
func TestZK07Bootstrap(t *testing.T) {
	h := newHarness(t, DiscoveryZK, func(c *Config) { c.Layout07 = true; c.Topics = []string{"u"} })
	h.zkServe(tree07(), h.out)
	out := h.produce(1)
	s := one[kproc.Send](t, out)
	pp := s.Req.(*proto.ProduceRequest).Partitions[0]
	if pp.Partition != 0 || (s.Host != "broker-1" && s.Host != "broker-2") {
		t.Fatalf("bootstrap sent %s to %s", pp.TopicPartition, s.Host)
	}
	if got := pairs(h.p.View()); got != "1-0 2-0" {
		t.Fatalf("bootstrap list %s", got)
	}
	// A 0.7 produce request has no response: the outcome is unknown as
	// soon as it is sent, and the broker's (empty) answer changes nothing.
	if u := one[Unknown](t, out); u.Why != "a 0.7 produce request has no response" {
		t.Fatalf("unknown %+v", u)
	}
	h.step(kproc.RPCResult{Req: s.ID, Resp: &proto.ProduceResponse{}})
	if len(all[Acked](h.out)) != 0 || len(all[Unknown](h.out)) != 0 {
		t.Fatalf("the answer to a 0.7 send reported %v", h.out)
	}
	if v := h.p.View(); v.Acked != 0 || v.Unknown != 1 || v.InFlight != 0 {
		t.Fatalf("view %+v", v)
	}
}

// TestStatic07: 0.7's broker.list producer sends partition −1 (the broker
// picks one), ignores the key, and learns nothing from the answer.
func TestStatic07(t *testing.T) {
	h := newHarness(t, DiscoveryStatic, func(c *Config) { c.Layout07 = true })
	for _, s := range produces(h.produce(5)) {
		for _, pp := range s.Req.(*proto.ProduceRequest).Partitions {
			if pp.Partition != -1 {
				t.Fatalf("static 0.7 sent partition %d, want -1", pp.Partition)
			}
		}
	}
	if v := h.p.View(); v.Unknown != 5 || v.Acked != 0 {
		t.Fatalf("view %+v", v)
	}
	if _, err := New(Config{Index: 1, Discovery: DiscoveryMetadata, Layout07: true, Topics: []string{"t"}, Bootstrap: []string{"b"}, Rand: sim.NewRand(1)}); err == nil {
		t.Fatal("a 0.7 metadata producer was accepted")
	}
}

// TestHistoryOp: each send report becomes its history line, and the lines
// of a send pass the history writer's checks.
func TestHistoryOp(t *testing.T) {
	h, s := staticAcked(t, nil)
	var ops []history.Op
	record := func(effects []kproc.Effect) {
		for _, e := range effects {
			if op, ok := HistoryOp("p1", e, h.now); ok {
				ops = append(ops, op)
			}
		}
	}
	record(h.out)
	h.now += 5
	record(h.step(ackAll(s)))
	if len(ops) != 2 || ops[0].Type != history.Invoke || ops[1].Type != history.OK || ops[1].Offset != 10 || ops[1].TimeNs != 5 {
		t.Fatalf("ops %+v", ops)
	}
	var b strings.Builder
	w := history.NewWriter(&b)
	if err := w.WriteConfig(history.Config{Acks: history.AcksOne, MinInsyncReplicas: 1}); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if err := w.Write(op); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := HistoryOp("p1", Started{}, 0); ok {
		t.Fatal("Started made a history line")
	}
}

// TestTraceRecords: every report is traced under a kafka.producer kind,
// with the fields the history needs as typed attributes.
func TestTraceRecords(t *testing.T) {
	m := Message{Topic: "t", Keyed: true, Key: 7, Value: 1<<40 | 3}
	for _, tc := range []struct {
		r     kproc.Traced
		kind  string
		attrs string
	}{
		{Invoked{Message: m}, KindInvoke, "topic keyed key value"},
		{Acked{Message: m, Partition: 2, Offset: 9, Broker: 1, Host: "broker-1", Attempts: 1}, KindOK, "topic keyed key value partition offset broker host attempts"},
		{Failed{Message: m, Err: "x"}, KindFail, "topic keyed key value err attempts"},
		{Unknown{Message: m, Why: "x"}, KindInfo, "topic keyed key value why attempts"},
		{Started{Discovery: DiscoveryStatic, Target: "b"}, KindStarted, "target"},
		{ViewChanged{Cause: "metadata"}, KindView, "brokers partitions leaderless"},
	} {
		_, attrs := tc.r.TraceRecord()
		var keys []string
		for _, a := range attrs {
			keys = append(keys, a.Key)
		}
		if tc.r.TraceKind() != tc.kind || strings.Join(keys, " ") != tc.attrs {
			t.Errorf("%T: kind %s attrs %v", tc.r, tc.r.TraceKind(), keys)
		}
	}
	for _, d := range []Discovery{DiscoveryZK, DiscoveryMetadata, DiscoveryStatic} {
		if got, err := ParseDiscovery(d.String()); err != nil || got != d {
			t.Errorf("ParseDiscovery(%s) = %v, %v", d, got, err)
		}
	}
	if _, err := ParseDiscovery("dns"); err == nil {
		t.Error("ParseDiscovery accepted dns")
	}
}
