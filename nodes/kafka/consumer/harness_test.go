package consumer

import (
	"errors"
	"slices"
	"testing"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/broker07"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/sim"
)

// harness runs consumer machines input by input against a ZooKeeper data
// tree (fakezk.Tree: sessions, ephemerals, one-shot watches armed by reads
// of paths with a handler, as kafkazk arms them) and one fake broker that
// leads every partition. Effects are carried out as they are returned;
// their answers are queued as inputs and run in order by run. Timers and
// the broker's parked fetches fire in virtual time with advance.
type harness struct {
	t       *testing.T
	now     sim.Time
	tree    *fakezk.Tree
	zxid    int64
	session int64
	members []*member
	queue   []queued
	timed   []timedEvent
	seq     uint64
	broker  *fakeBroker
}

type queued struct {
	m  *member
	in kproc.Input
}

type timedEvent struct {
	at  sim.Time
	seq uint64
	fn  func()
}

// member is one consumer process.
type member struct {
	h        *harness
	name     string
	c        *Consumer
	session  int64
	paused   bool // its inputs wait in held until resumed
	held     []kproc.Input
	exited   bool
	handlers map[string]bool // data handlers; child handlers in children
	children map[string]bool
	dataW    map[string]bool // armed watches
	childW   map[string]bool
	timers   map[kproc.TimerName]uint64 // the seq of the live timer event
	reports  []kproc.Effect
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, tree: fakezk.NewTree(), session: 0x100}
	h.broker = &fakeBroker{h: h, logs: map[proto.TopicPartition][]proto.Record{}, hw: map[proto.TopicPartition]int64{}}
	for _, p := range kafkazk.PersistentPaths() {
		h.mkdirs(p)
	}
	reg := kafkazk.BrokerRegistration{Version: 4, Endpoints: []kafkazk.Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "broker-1", Port: 9092}}, JMXPort: -1}
	h.create(kafkazk.BrokerIDPath(1), reg.Encode(), 0x1, fakezk.FlagEphemeral)
	return h
}

func (h *harness) mkdirs(path string) {
	for i := 1; i <= len(path); i++ {
		if i == len(path) || path[i] == '/' {
			if _, ok := h.tree.Exists(path[:i]); !ok {
				h.create(path[:i], nil, 0, 0)
			}
		}
	}
}

func (h *harness) create(path string, data []byte, session int64, flags int32) {
	h.t.Helper()
	h.zxid++
	_, ch, err := h.tree.Create(fakezk.Caller{Session: session}, h.zxid, int64(h.now)/int64(sim.Millisecond), path, data, acl, flags)
	if err != nil {
		h.t.Fatalf("create %s: %v", path, err)
	}
	h.fire(ch)
}

func (h *harness) delete(path string) {
	h.t.Helper()
	h.zxid++
	ch, err := h.tree.Delete(fakezk.Caller{}, h.zxid, path, -1)
	if err != nil {
		h.t.Fatalf("delete %s: %v", path, err)
	}
	h.fire(ch)
}

func (h *harness) set(path string, data []byte) {
	h.t.Helper()
	h.zxid++
	_, ch, err := h.tree.Set(fakezk.Caller{}, h.zxid, int64(h.now)/int64(sim.Millisecond), path, data, -1)
	if err != nil {
		h.t.Fatalf("set %s: %v", path, err)
	}
	h.fire(ch)
}

func (h *harness) get(path string) (string, bool) {
	data, _, err := h.tree.Get(fakezk.Caller{}, path)
	return string(data), err == nil
}

// topic creates /brokers/topics/<name> with n partitions, or rewrites it.
func (h *harness) topic(name string, n int) {
	ta := kafkazk.TopicAssignment{Version: 2, Partitions: map[int32]kafkazk.ReplicaAssignment{}}
	for p := range n {
		ta.Partitions[int32(p)] = kafkazk.ReplicaAssignment{Replicas: []int32{1}}
	}
	if _, ok := h.tree.Exists(kafkazk.TopicPath(name)); ok {
		h.set(kafkazk.TopicPath(name), ta.Encode())
		return
	}
	h.create(kafkazk.TopicPath(name), ta.Encode(), 0, 0)
}

// fire delivers the watch triggers of a write to the members that armed
// them, as ZooKeeper and kafkazk's handler maps do.
func (h *harness) fire(changes []fakezk.Change) {
	for _, ch := range changes {
		for _, m := range h.members {
			switch ch.Type {
			case fakezk.EventNodeChildrenChanged:
				if m.childW[ch.Path] {
					delete(m.childW, ch.Path)
					if m.children[ch.Path] {
						h.enqueue(m, kproc.ZKChange{Path: ch.Path, Kind: kproc.ChildChange})
					}
				}
			default:
				if m.dataW[ch.Path] {
					delete(m.dataW, ch.Path)
					kind := map[fakezk.EventType]kproc.ChangeKind{fakezk.EventNodeCreated: kproc.Creation,
						fakezk.EventNodeDeleted: kproc.Deletion, fakezk.EventNodeDataChanged: kproc.DataChange}[ch.Type]
					if m.handlers[ch.Path] {
						h.enqueue(m, kproc.ZKChange{Path: ch.Path, Kind: kind})
					}
				}
				if ch.Type == fakezk.EventNodeDeleted {
					delete(m.childW, ch.Path)
				}
			}
		}
	}
}

func (h *harness) enqueue(m *member, in kproc.Input) { h.queue = append(h.queue, queued{m, in}) }

func (h *harness) after(d sim.Duration, fn func()) uint64 {
	h.seq++
	h.timed = append(h.timed, timedEvent{at: h.now.Add(d), seq: h.seq, fn: fn})
	return h.seq
}

// addConsumer adds a consumer process (not started).
func (h *harness) addConsumer(name string, tweak func(*Config)) *member {
	cfg := DefaultConfig("g", name, map[string]int{"t": 1}, sim.NewRand(uint64(len(h.members)+1)))
	cfg.ConsumerID = name
	if tweak != nil {
		tweak(&cfg)
	}
	h.session++
	m := &member{h: h, name: name, c: New(cfg), session: h.session, handlers: map[string]bool{}, children: map[string]bool{},
		dataW: map[string]bool{}, childW: map[string]bool{}, timers: map[kproc.TimerName]uint64{}}
	h.members = append(h.members, m)
	return m
}

func (m *member) start() { m.h.enqueue(m, kproc.Started{Incarnation: 1}) }

// run runs queued inputs until none is left.
func (h *harness) run() {
	for n := 0; len(h.queue) > 0; n++ {
		if n > 100000 {
			h.t.Fatal("harness: no quiescence after 100000 inputs")
		}
		q := h.queue[0]
		h.queue = h.queue[1:]
		q.m.step(q.in)
	}
}

// advance runs until now+d, firing timed events in order.
func (h *harness) advance(d sim.Duration) {
	end := h.now.Add(d)
	h.run()
	for {
		slices.SortStableFunc(h.timed, func(a, b timedEvent) int {
			if a.at != b.at {
				return int(a.at - b.at)
			}
			return int(a.seq - b.seq)
		})
		if len(h.timed) == 0 || h.timed[0].at > end {
			break
		}
		e := h.timed[0]
		h.timed = h.timed[1:]
		h.now = e.at
		e.fn()
		h.run()
	}
	h.now = end
}

func (m *member) step(in kproc.Input) {
	if m.exited {
		return
	}
	if m.paused {
		m.held = append(m.held, in)
		return
	}
	for _, e := range m.c.Step(m.h.now, in) {
		m.apply(e)
	}
}

func (m *member) resume() {
	m.paused = false
	held := m.held
	m.held = nil
	for _, in := range held {
		m.h.enqueue(m, in)
	}
}

// expire ends m's session: its ephemerals go, its watches with them; the
// layer starts a new session and says so.
func (h *harness) expire(m *member) {
	h.zxid++
	h.fire(h.tree.CloseSession(h.zxid, m.session))
	h.session++
	m.session = h.session
	clear(m.dataW)
	clear(m.childW)
	h.enqueue(m, kproc.ZKSessionPhase{Phase: kproc.BeforeInitializingSession})
	h.enqueue(m, kproc.ZKSessionPhase{Phase: kproc.AfterInitializingSession})
}

func (m *member) apply(e kproc.Effect) {
	h := m.h
	switch e := e.(type) {
	case kproc.ZKBatch:
		resps := make([]fakezk.Response, len(e.Reqs))
		for i, r := range e.Reqs {
			resps[i] = m.zkDo(r)
		}
		h.enqueue(m, kproc.ZKResult{Req: e.ID, Resps: resps})
	case kproc.ZKHandler:
		set := m.handlers
		if e.Child {
			set = m.children
		}
		if e.Remove {
			delete(set, e.Path)
		} else {
			set[e.Path] = true
		}
	case kproc.ZKRegister:
		// kafkazk Era09 (ZKCheckedEphemeral): a node in the way is ours
		// only if this session owns it.
		r := m.zkDo(&fakezk.CreateRequest{Path: e.Path, Data: e.Data, Acl: acl, Flags: fakezk.FlagEphemeral})
		var err error
		if errors.Is(r.Err, fakezk.ErrNodeExists) {
			if st, ok := h.tree.Exists(e.Path); !ok || st.EphemeralOwner != m.session {
				err = r.Err
			}
		} else {
			err = r.Err
		}
		h.enqueue(m, kproc.ZKRegistered{Req: e.ID, Czxid: -1, Err: err})
	case kproc.SetTimer:
		name := e.Name
		var seq uint64
		seq = h.after(e.After, func() {
			if m.timers[name] == seq {
				delete(m.timers, name)
				m.step(kproc.TimerFired{Name: name})
			}
		})
		m.timers[name] = seq
	case kproc.CancelTimer:
		delete(m.timers, e.Name)
	case kproc.Send:
		if e.Host != "broker-1" || e.Channel != kproc.ChannelClient {
			h.t.Fatalf("%s sends %s to %s on %v", m.name, e.Req.Kind(), e.Host, e.Channel)
		}
		h.broker.serve(m, e)
	case kproc.Exit:
		m.exited = true
		h.zxid++
		h.fire(h.tree.CloseSession(h.zxid, m.session))
	default:
		m.reports = append(m.reports, e)
	}
}

// zkDo applies one request to the tree for m's session; reads of paths
// with a handler arm its watch.
func (m *member) zkDo(r fakezk.Request) fakezk.Response {
	h := m.h
	c := fakezk.Caller{Session: m.session}
	ms := int64(h.now) / int64(sim.Millisecond)
	switch r := r.(type) {
	case *fakezk.CreateRequest:
		h.zxid++
		p, ch, err := h.tree.Create(c, h.zxid, ms, r.Path, r.Data, r.Acl, r.Flags)
		h.fire(ch)
		return fakezk.Response{Path: p, Err: err}
	case *fakezk.SetDataRequest:
		h.zxid++
		st, ch, err := h.tree.Set(c, h.zxid, ms, r.Path, r.Data, r.Version)
		h.fire(ch)
		return fakezk.Response{Stat: &st, Err: err}
	case *fakezk.DeleteRequest:
		h.zxid++
		ch, err := h.tree.Delete(c, h.zxid, r.Path, r.Version)
		h.fire(ch)
		return fakezk.Response{Err: err}
	case *fakezk.GetDataRequest:
		if m.handlers[r.Path] {
			m.dataW[r.Path] = true
		}
		data, st, err := h.tree.Get(c, r.Path)
		return fakezk.Response{Data: data, Stat: &st, Err: err}
	case *fakezk.ExistsRequest:
		if m.handlers[r.Path] {
			m.dataW[r.Path] = true
		}
		st, ok := h.tree.Exists(r.Path)
		return fakezk.Response{Exists: ok, Stat: &st}
	case *fakezk.GetChildrenRequest:
		kids, _, err := h.tree.Children(c, r.Path)
		if err == nil && m.children[r.Path] {
			m.childW[r.Path] = true
		}
		return fakezk.Response{Children: kids, Err: err}
	}
	h.t.Fatalf("harness: request %T", r)
	return fakezk.Response{}
}

// fakeBroker is broker 1, leader of every partition, with a log and a
// high watermark per partition. An empty fetch waits up to its MaxWaitMs.
type fakeBroker struct {
	h      *harness
	logs   map[proto.TopicPartition][]proto.Record
	hw     map[proto.TopicPartition]int64
	parked []parkedFetch
	// pastHW, when set, answers fetches with every record of the log,
	// beyond the high watermark too (a planted broker bug).
	pastHW bool
	// down, when set, fails every request with a broken connection.
	down bool
	// notLeader lists partitions it answers with NOT_LEADER_FOR_PARTITION
	// (and leaves out of its metadata, as a leader move in progress).
	notLeader map[proto.TopicPartition]bool
	// offsetAsks counts the 0.7 OffsetsRequests answered.
	offsetAsks int
}

type parkedFetch struct {
	m   *member
	e   kproc.Send
	seq uint64
}

// produce appends n records to tp (values 1000·partition + offset) and
// moves the high watermark to the log end unless hold.
func (b *fakeBroker) produce(tp proto.TopicPartition, n int, hold bool) {
	for range n {
		off := int64(len(b.logs[tp]))
		b.logs[tp] = append(b.logs[tp], proto.Record{Offset: off, Value: uint64(1000*int(tp.Partition)) + uint64(off)})
	}
	if !hold {
		b.hw[tp] = int64(len(b.logs[tp]))
	}
	parked := b.parked
	b.parked = nil
	for _, p := range parked {
		b.serve(p.m, p.e)
	}
}

func (b *fakeBroker) serve(m *member, e kproc.Send) {
	h := b.h
	if b.down {
		h.enqueue(m, kproc.RPCResult{Req: e.ID, Err: errors.New("rpc: connection broken")})
		return
	}
	switch r := e.Req.(type) {
	case *proto.MetadataRequest:
		resp := &proto.MetadataResponse{Brokers: []proto.Broker{{ID: 1, Host: "broker-1", Port: 9092}}, ControllerID: 1}
		for _, t := range r.Topics {
			kids, _, _ := h.tree.Children(fakezk.Caller{}, kafkazk.TopicPath(t))
			_ = kids
			data, ok := h.get(kafkazk.TopicPath(t))
			if !ok {
				continue
			}
			ta, err := kafkazk.DecodeTopicAssignment([]byte(data))
			if err != nil {
				h.t.Fatal(err)
			}
			for p := range int32(len(ta.Partitions)) {
				tp := proto.TopicPartition{Topic: t, Partition: p}
				pm := proto.PartitionMetadata{TopicPartition: tp, Leader: 1}
				if b.notLeader[tp] {
					pm.Leader, pm.Error = proto.NoLeader, proto.LeaderNotAvailable
				}
				resp.Partitions = append(resp.Partitions, pm)
			}
		}
		h.enqueue(m, kproc.RPCResult{Req: e.ID, Resp: resp})
	case *proto.FetchRequest:
		if r.ReplicaID != proto.ConsumerReplicaID {
			h.t.Fatalf("fetch with replica id %d", r.ReplicaID)
		}
		resp := &proto.FetchResponse{}
		n := 0
		for _, fp := range r.Partitions {
			log := b.logs[fp.TopicPartition]
			out := proto.FetchPartitionResponse{TopicPartition: fp.TopicPartition, HighWatermark: b.hw[fp.TopicPartition], LogEndOffset: int64(len(log))}
			limit := b.hw[fp.TopicPartition]
			if b.pastHW {
				limit = int64(len(log))
			}
			if b.notLeader[fp.TopicPartition] {
				out = proto.FetchPartitionResponse{TopicPartition: fp.TopicPartition, Error: proto.NotLeaderForPartition}
			} else if fp.FetchOffset < 0 || fp.FetchOffset > int64(len(log)) {
				out.Error = proto.OffsetOutOfRange
			} else {
				for o := fp.FetchOffset; o < limit && o < fp.FetchOffset+int64(fp.MaxRecords); o++ {
					out.Records = append(out.Records, log[o])
				}
			}
			if out.Error != proto.None {
				n++
			}
			n += len(out.Records)
			resp.Partitions = append(resp.Partitions, out)
		}
		if n == 0 && r.MaxWaitMs > 0 {
			var p parkedFetch
			p = parkedFetch{m: m, e: e, seq: h.after(sim.Duration(r.MaxWaitMs)*sim.Millisecond, func() {
				i := slices.IndexFunc(b.parked, func(q parkedFetch) bool { return q.seq == p.seq })
				if i < 0 {
					return
				}
				b.parked = slices.Delete(b.parked, i, i+1)
				m.step(kproc.RPCResult{Req: e.ID, Resp: &proto.FetchResponse{Partitions: resp.Partitions}})
			})}
			b.parked = append(b.parked, p)
			return
		}
		h.enqueue(m, kproc.RPCResult{Req: e.ID, Resp: resp})
	case *broker07.OffsetsRequest:
		// A 0.7 broker's earliest (0) or latest (the high watermark) offset.
		b.offsetAsks++
		resp := &broker07.OffsetsResponse{}
		if r.Time == broker07.LatestTime {
			resp.Offset = b.hw[r.TopicPartition]
		}
		h.enqueue(m, kproc.RPCResult{Req: e.ID, Resp: resp})
	default:
		h.t.Fatalf("broker: request %T", e.Req)
	}
}

// reportsOf returns m's reports of type T so far.
func reportsOf[T kproc.Effect](m *member) []T {
	var out []T
	for _, e := range m.reports {
		if v, ok := e.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func (m *member) owned() []proto.TopicPartition {
	var out []proto.TopicPartition
	for _, o := range m.c.View().Owned {
		out = append(out, o.TP)
	}
	return out
}

func tps(topic string, parts ...int32) []proto.TopicPartition {
	var out []proto.TopicPartition
	for _, p := range parts {
		out = append(out, proto.TopicPartition{Topic: topic, Partition: p})
	}
	return out
}

// delivered returns the offsets m delivered of tp, in order.
func (m *member) delivered(tp proto.TopicPartition) []int64 {
	var out []int64
	for _, d := range reportsOf[Delivered](m) {
		if d.TP == tp {
			out = append(out, d.Offset)
		}
	}
	return out
}

func offsets(from, to int64) []int64 {
	var out []int64
	for o := from; o < to; o++ {
		out = append(out, o)
	}
	return out
}

func ownerOf(h *harness, tp proto.TopicPartition) string {
	s, _ := h.get(OwnerPath("g", tp))
	return s
}

func shutdown() kproc.Input { return kproc.Shutdown{} }
