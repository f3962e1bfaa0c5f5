package producer

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/producer/partition"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// Timers.
const (
	timerStart   kproc.TimerName = "producer/start"
	timerTick    kproc.TimerName = "producer/tick"
	timerBurst   kproc.TimerName = "producer/burst"
	timerRetry   kproc.TimerName = "producer/retry"
	timerZKRetry kproc.TimerName = "producer/zk-retry"
)

// maxCount bounds the messages one producer makes (40 bits of the value).
const maxCount = 1<<40 - 1

// Producer is a producer process's machine. It serves no requests: it makes
// messages on its timers, places each on a partition from its view of the
// cluster, sends them to the leaders in ProduceRequests and reports every
// send's outcome.
type Producer struct {
	cfg     Config
	now     sim.Time
	out     []kproc.Effect
	startAt sim.Time
	exited  bool
	nextID  kproc.ReqID
	count   uint64 // messages made

	queue       []*message // waiting to be sent (ready or backing off), in value order
	outstanding int        // queued plus in flight, bounded by QueueMax
	inflight    map[string]int
	calls       map[kproc.ReqID]*call
	retryAt     sim.Time
	retrySet    bool
	seqs        map[proto.TopicPartition]int32
	sticky      partition.Sticky
	rr          partition.RoundRobin

	// Idempotent mode: per partition, the generation its sequences belong
	// to and the last sequence acknowledged in it (absent: none); the
	// partitions whose sequences start again at the next dispatch; the
	// last batch tag given.
	gens      map[proto.TopicPartition]int32
	lastAcked map[proto.TopicPartition]int32
	resets    []proto.TopicPartition
	lastTag   uint64

	// The view (zk and metadata): live brokers and each topic's partitions.
	brokers map[int32]string
	topics  map[string][]partInfo // by partition id
	target  string                // static: the one broker

	// metadata
	refreshing       bool
	refreshed        bool
	needRefresh      bool
	lastRefresh      sim.Time
	refreshNotBefore sim.Time
	refreshOrder     []string
	refreshIdx       int
	refreshes        int

	// zk
	listed      map[int32]bool // the children of /brokers/ids last read
	brokersRead bool
	topicRead   map[string]bool
	statePaths  map[string]proto.TopicPartition

	hosts                          map[string]*HostCount
	invoked, acked, failed, unsure int
}

type partInfo struct {
	id          int32
	leader      int32 // proto.NoLeader: none
	leaderEpoch int32
}

type message struct {
	Message
	partition int32 // -1: not placed
	broker    int32 // the broker placed on (-1: static, known only by host)
	seq       int32
	gen       int32  // idempotent: the generation seq belongs to
	tag       uint64 // idempotent: the batch it was first sent in (0: never sent)
	attempts  int
	unknown   bool // an attempt may have written it
	lastErr   string
	notBefore sim.Time
}

type callKind uint8

const (
	callProduce callKind = iota + 1
	callMetadata
	callZK
)

type zkRead uint8

const (
	zkBrokerIDs zkRead = iota + 1
	zkBrokerData
	zkTopicList
	zkTopic
	zkStates
	zkStateExists
	zkTopic07       // 0.7: the children of /brokers/topics/<t>, its brokers
	zkTopic07Counts // 0.7: their partition counts
)

type call struct {
	kind   callKind
	host   string
	parts  []proto.ProducePartition
	groups [][]*message
	// zk
	read  zkRead
	topic string
	ids   []int32
	all   bool // zkTopic: read every partition's state, not only new ones
}

// New returns a producer machine for cfg, or an error naming what is wrong
// with cfg.
func New(cfg Config) (*Producer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Producer{
		cfg: cfg, inflight: map[string]int{}, calls: map[kproc.ReqID]*call{}, seqs: map[proto.TopicPartition]int32{},
		gens: map[proto.TopicPartition]int32{}, lastAcked: map[proto.TopicPartition]int32{},
		brokers: map[int32]string{}, topics: map[string][]partInfo{}, listed: map[int32]bool{},
		topicRead: map[string]bool{}, statePaths: map[string]proto.TopicPartition{}, hosts: map[string]*HostCount{},
	}, nil
}

// Config returns the producer's configuration, defaults applied.
func (p *Producer) Config() Config { return p.cfg }

// Step applies one input.
func (p *Producer) Step(now sim.Time, in kproc.Input) []kproc.Effect {
	p.now, p.out = now, nil
	if p.exited {
		return nil
	}
	switch in := in.(type) {
	case kproc.Started:
		p.start()
	case kproc.TimerFired:
		p.timer(in.Name)
	case kproc.RPCResult:
		p.rpcResult(in)
	case kproc.ZKResult:
		p.zkResult(in)
	case kproc.ZKChange:
		p.zkChange(in)
	case kproc.ZKSessionPhase:
		if in.Phase == kproc.AfterInitializingSession && p.cfg.Discovery == DiscoveryZK {
			p.zkLoad() // the old session's watches are gone: read (and so watch) everything again
		}
	case kproc.Shutdown:
		p.shutdown()
		return p.out
	case kproc.RPCIn:
		panic(fmt.Sprintf("producer %d: a producer serves no requests, got %s", p.cfg.Index, in.Req.Kind()))
	}
	p.dispatch()
	return p.out
}

func (p *Producer) emit(e kproc.Effect) { p.out = append(p.out, e) }

func (p *Producer) newID() kproc.ReqID {
	p.nextID++
	return p.nextID
}

func (p *Producer) host(h string) *HostCount {
	c := p.hosts[h]
	if c == nil {
		c = &HostCount{Host: h}
		p.hosts[h] = c
	}
	return c
}

func (p *Producer) start() {
	p.startAt = p.now
	switch p.cfg.Discovery {
	case DiscoveryStatic:
		// ConfigBrokerPartitionInfo: the address picks one broker, once.
		p.target = p.cfg.Bootstrap[p.cfg.Rand.Intn(len(p.cfg.Bootstrap))]
	case DiscoveryZK:
		p.emit(kproc.ZKHandler{Path: brokerIDsPath, Child: true})
		p.emit(kproc.ZKHandler{Path: topicsPath, Child: true})
		for _, t := range p.cfg.Topics {
			// 0.7: a child listener on the topic (its brokers' registrations);
			// 2.6: a data handler on its assignment.
			p.emit(kproc.ZKHandler{Path: topicPath(t), Child: p.cfg.Layout07})
		}
		p.zkLoad()
	}
	p.emit(Started{Discovery: p.cfg.Discovery, Target: p.target})
	if p.cfg.Rate > 0 || p.cfg.BurstSize > 0 {
		p.emit(kproc.SetTimer{Name: timerStart, After: p.cfg.Start})
	}
}

func (p *Producer) tickEvery() sim.Duration {
	return max(sim.Duration(float64(sim.Second)/p.cfg.Rate), 1)
}

func (p *Producer) stopped() bool {
	return p.cfg.Stop > 0 && p.now.Sub(p.startAt) >= p.cfg.Stop
}

func (p *Producer) timer(name kproc.TimerName) {
	switch name {
	case timerStart:
		if p.cfg.Rate > 0 {
			p.emit(kproc.SetTimer{Name: timerTick, After: p.tickEvery()})
		}
		if p.cfg.BurstSize > 0 {
			p.emit(kproc.SetTimer{Name: timerBurst, After: p.cfg.BurstEvery})
		}
	case timerTick:
		if !p.stopped() {
			p.produce()
			p.emit(kproc.SetTimer{Name: timerTick, After: p.tickEvery()})
		}
	case timerBurst:
		if !p.stopped() {
			for range p.cfg.BurstSize {
				p.produce()
			}
			p.emit(kproc.SetTimer{Name: timerBurst, After: p.cfg.BurstEvery})
		}
	case timerRetry:
		p.retrySet = false
	case timerZKRetry:
		p.zkLoad()
	}
}

// produce makes one message now and queues it.
func (p *Producer) produce() {
	if p.count >= maxCount {
		panic(fmt.Sprintf("producer %d: more than 2^40 messages", p.cfg.Index))
	}
	p.count++
	topic := p.cfg.Topics[0]
	if len(p.cfg.Topics) > 1 {
		topic = p.cfg.Topics[p.cfg.Rand.Intn(len(p.cfg.Topics))]
	}
	m := &message{Message: Message{Topic: topic, Value: uint64(p.cfg.Index)<<40 | p.count, At: p.now}, partition: -1}
	if p.cfg.Partitioner == PartitionHash {
		m.Keyed, m.Key = true, p.cfg.Keys.Next(p.cfg.Rand)
	}
	p.invoked++
	p.emit(Invoked{Message: m.Message})
	if p.outstanding >= p.cfg.QueueMax {
		// queue.enqueue.timeout.ms = 0: QueueFullException at once.
		p.failed++
		p.emit(Failed{Message: m.Message, Err: "queue full"})
		return
	}
	p.outstanding++
	p.queue = append(p.queue, m) // values only grow: the queue stays in value order
}

// ProduceNow steps the producer with one message made now, as a timer of
// the workload would: for tests and for scenarios that drive sends by
// command.
func (p *Producer) ProduceNow(now sim.Time) []kproc.Effect {
	p.now, p.out = now, nil
	if p.exited {
		return nil
	}
	p.produce()
	p.dispatch()
	return p.out
}

// ---- sending ----

type batch struct {
	host   string
	parts  []proto.ProducePartition
	groups [][]*message
	tags   []uint64 // idempotent: each part's batch tag
	fresh  []bool   // idempotent: the part's tag is new (its messages were never sent)
	n      int
}

// part returns the index of tp's part, or -1.
func (b *batch) part(tp proto.TopicPartition) int {
	for i := range b.parts {
		if b.parts[i].TopicPartition == tp {
			return i
		}
	}
	return -1
}

// joins says whether m may go in part i: an idempotent producer retries a
// batch whole and alone, as Kafka's does (the ProducerBatch is
// re-enqueued, RecordAccumulator.reenqueue), so a part holds either
// messages never sent or those of one earlier batch.
func (b *batch) joins(i int, m *message) bool {
	if m.tag == 0 {
		return b.fresh[i]
	}
	return b.tags[i] == m.tag
}

func (b *batch) add(m *message, e proto.Entry, newTag func() uint64) {
	tp := proto.TopicPartition{Topic: m.Topic, Partition: m.partition}
	if i := b.part(tp); i >= 0 {
		b.parts[i].Entries = append(b.parts[i].Entries, e)
		b.groups[i] = append(b.groups[i], m)
		b.n++
		if newTag != nil {
			m.tag = b.tags[i]
		}
		return
	}
	b.parts = append(b.parts, proto.ProducePartition{TopicPartition: tp, Entries: []proto.Entry{e}})
	b.groups = append(b.groups, []*message{m})
	b.n++
	if newTag != nil {
		fresh := m.tag == 0
		if fresh {
			m.tag = newTag()
		}
		b.tags = append(b.tags, m.tag)
		b.fresh = append(b.fresh, fresh)
	}
}

// dispatch sends what can be sent: every ready message placed on a
// partition, grouped per leader into requests of at most BatchMax messages,
// at most MaxInFlight requests in flight per broker.
// Simplified: the old Scala producer (sync, or async's one send thread)
// sent a round and waited for it; here every broker's connection pipelines
// up to MaxInFlight requests, as the Java producer does, and message.send.
// max.retries applies to every mode (0.7's sync producer did not retry).
func (p *Producer) dispatch() {
	if p.exited {
		return
	}
	p.applyResets()
	if len(p.queue) == 0 || !p.viewReady() {
		return
	}
	idem := p.cfg.Idempotent
	kept := p.queue[:0:0]
	open := map[string]*batch{}
	var order []*batch
	// Idempotent: a partition with an earlier message kept back sends
	// nothing more this round, so that sequences go out in order (Kafka
	// 2.6 RecordAccumulator.shouldStopDrainBatchesForPartition holds a
	// partition back while a retried batch is not the first in flight).
	var blocked map[proto.TopicPartition]bool
	keep := func(m *message) {
		kept = append(kept, m)
		if idem && m.partition >= 0 {
			if blocked == nil {
				blocked = map[proto.TopicPartition]bool{}
			}
			blocked[proto.TopicPartition{Topic: m.Topic, Partition: m.partition}] = true
		}
	}
	var newTag func() uint64
	if idem {
		newTag = func() uint64 { p.lastTag++; return p.lastTag }
	}
	for _, m := range p.queue {
		if m.notBefore > p.now || (idem && m.partition >= 0 && p.holdBack(blocked, m)) {
			keep(m)
			continue
		}
		host, err := p.place(m)
		if err != nil {
			if p.attemptFailed(m, err.Error(), false) {
				keep(m)
			}
			continue
		}
		if idem && p.holdBack(blocked, m) {
			keep(m)
			continue
		}
		b := open[host]
		if b == nil {
			if p.inflight[host] >= p.cfg.MaxInFlight {
				keep(m)
				continue
			}
			p.inflight[host]++
			b = &batch{host: host}
			open[host] = b
			order = append(order, b)
		}
		if idem {
			if i := b.part(proto.TopicPartition{Topic: m.Topic, Partition: m.partition}); i >= 0 && !b.joins(i, m) {
				keep(m)
				continue
			}
		}
		e := proto.Entry{Key: m.Key, Value: m.Value}
		if idem {
			e.ProducerID, e.Sequence = p.wireProducerID(m.gen), m.seq
		}
		b.add(m, e, newTag)
		if b.n == p.cfg.BatchMax {
			delete(open, host)
		}
	}
	p.queue = kept
	for _, b := range order {
		p.send(b)
	}
	p.applyResets() // a message given up above
	p.armRetry()
}

// holdBack says whether the idempotent m, placed on a partition, must wait:
// an earlier message of its partition is held back this round, or its
// partition's sequences start again before the next round.
func (p *Producer) holdBack(blocked map[proto.TopicPartition]bool, m *message) bool {
	tp := proto.TopicPartition{Topic: m.Topic, Partition: m.partition}
	return blocked[tp] || slices.Contains(p.resets, tp)
}

// armRetry sets the retry timer for the earliest backing-off message.
func (p *Producer) armRetry() {
	first, ok := sim.Time(0), false
	for _, m := range p.queue {
		if m.notBefore > p.now && (!ok || m.notBefore < first) {
			first, ok = m.notBefore, true
		}
	}
	if p.cfg.Discovery == DiscoveryMetadata && p.refreshNotBefore > p.now && len(p.queue) > 0 && (!ok || p.refreshNotBefore < first) {
		first, ok = p.refreshNotBefore, true
	}
	if ok && (!p.retrySet || first < p.retryAt || p.retryAt <= p.now) {
		p.retryAt, p.retrySet = first, true
		p.emit(kproc.SetTimer{Name: timerRetry, After: first.Sub(p.now)})
	}
}

func (p *Producer) send(b *batch) {
	req := &proto.ProduceRequest{Acks: p.cfg.Acks, TimeoutMs: int32(p.cfg.RequestTimeout / sim.Millisecond), Partitions: b.parts}
	id := p.newID()
	p.calls[id] = &call{kind: callProduce, host: b.host, parts: b.parts, groups: b.groups}
	p.emit(kproc.Send{ID: id, Host: b.host, Channel: kproc.ChannelClient, Req: req, Timeout: p.cfg.RequestTimeout})
	p.host(b.host).Sent += b.n
	if p.unanswered() {
		// Kafka's broker sends no answer to acks=0, nor any 0.7 broker to a
		// produce request (0.7.2 SyncProducer.send writes and returns): the
		// producer never learns the outcome. Simplified: the broker here
		// answers anyway, and the answer only frees the in-flight slot.
		why := "acks=0"
		if p.cfg.Layout07 {
			why = "a 0.7 produce request has no response"
		}
		for _, g := range b.groups {
			for _, m := range g {
				m.attempts++
				p.finish(m, true, why)
			}
		}
	}
}

// unanswered reports whether produce requests get no answer that says
// anything: acks=0, or any 0.7 send.
func (p *Producer) unanswered() bool { return p.cfg.Acks == proto.AcksNone || p.cfg.Layout07 }

// place returns the host to send m to, placing m on a partition first if
// it has none.
func (p *Producer) place(m *message) (string, error) {
	switch {
	case p.cfg.Discovery == DiscoveryStatic && p.cfg.Layout07:
		// Producer.configSend@0.7.2: partition −1 (ProducerRequest.
		// RandomPartition), so the broker picks one; the key is ignored.
		// Simplified: 0.7 picks a random broker of broker.list per send;
		// here the list is one address (a layer-4 balancer), picked once.
		m.broker = -1
		return p.target, nil
	case p.cfg.Discovery == DiscoveryStatic:
		if m.partition < 0 {
			all := indexes(p.cfg.StaticPartitions)
			id, err := p.choose(m, all, all)
			if err != nil {
				return "", err
			}
			p.setPartition(m, id)
			m.broker = -1
		}
		return p.target, nil
	case p.cfg.Layout07 && p.cfg.Discovery == DiscoveryZK:
		return p.place07(m)
	}
	parts := p.topics[m.Topic]
	if len(parts) == 0 {
		return "", fmt.Errorf("%s: no partitions known for %s", proto.UnknownTopicOrPartition, m.Topic)
	}
	if m.partition < 0 {
		ids := make([]int32, len(parts))
		var avail []int32
		for i, pi := range parts {
			ids[i] = pi.id
			if p.leaderHost(pi) != "" {
				avail = append(avail, pi.id)
			}
		}
		id, err := p.choose(m, ids, avail)
		if err != nil {
			return "", err
		}
		p.setPartition(m, id)
	}
	i, ok := slices.BinarySearchFunc(parts, m.partition, func(pi partInfo, id int32) int { return int(pi.id) - int(id) })
	if !ok {
		return "", fmt.Errorf("%s: %s-%d is gone", proto.UnknownTopicOrPartition, m.Topic, m.partition)
	}
	h := p.leaderHost(parts[i])
	if h == "" {
		return "", fmt.Errorf("%s: %s-%d has no live leader", proto.LeaderNotAvailable, m.Topic, m.partition)
	}
	m.broker = parts[i].leader
	return h, nil
}

// place07 is Producer.zkSend@0.7.2: the topic's sorted (broker, partition)
// list, or, when it is unknown or empty, partition 0 of every live broker
// (the bootstrap list, cached as the topic's); the partitioner indexes the
// list.
func (p *Producer) place07(m *message) (string, error) {
	list := p.topics[m.Topic]
	if len(list) == 0 {
		for _, id := range slices.Sorted(maps.Keys(p.brokers)) {
			list = append(list, partInfo{id: 0, leader: id})
		}
		if len(list) == 0 {
			return "", fmt.Errorf("NoBrokersForPartitionException: no broker registered for %s", m.Topic)
		}
		p.topics[m.Topic] = list
	}
	if m.partition < 0 {
		all := indexes(len(list))
		i, err := p.choose(m, all, all)
		if err != nil {
			return "", err
		}
		m.broker, m.partition = list[i].leader, list[i].id
	}
	// Simplified: 0.7 re-reads all ZooKeeper state up to zk.read.num.retries
	// times when the broker is gone; here the attempt fails and the next is
	// placed again from the view the watches keep.
	h := p.brokers[m.broker]
	if h == "" {
		return "", fmt.Errorf("NoBrokersForPartitionException: broker %d of %s-%d is gone", m.broker, m.Topic, m.partition)
	}
	return h, nil
}

// indexes returns 0..n-1.
func indexes(n int) []int32 {
	all := make([]int32, n)
	for i := range all {
		all[i] = int32(i)
	}
	return all
}

func (p *Producer) leaderHost(pi partInfo) string {
	if pi.leader == proto.NoLeader {
		return ""
	}
	return p.brokers[pi.leader]
}

func (p *Producer) setPartition(m *message, id int32) {
	m.partition = id
	if p.cfg.Idempotent {
		tp := proto.TopicPartition{Topic: m.Topic, Partition: id}
		m.gen, m.seq = p.gens[tp], p.seqs[tp]
		if m.seq == math.MaxInt32 {
			// Simplified: Kafka wraps sequences to 0; the broker here does
			// not take a batch that wraps (log.AnalyzeProducer).
			panic(fmt.Sprintf("producer %d: more than 2^31 messages on %s", p.cfg.Index, tp))
		}
		p.seqs[tp]++
	}
}

// pidGenShift places a partition's sequence generation in the producer id
// it sends (Config.ProducerID).
const pidGenShift = 40

// wireProducerID is the producer id sent with the sequences of generation
// gen.
//
// Simplified: Kafka 2.6's idempotent producer, when a partition's
// sequences cannot go on (a real gap, an unknown producer id, a failed
// batch), bumps its producer epoch and starts the partition's sequences
// at 0 again (KIP-360, TransactionManager.bumpIdempotentProducerEpoch);
// producer epochs are not modelled here, so the new start is a new
// producer id, as Kafka 1.0-2.4's producer got one with InitProducerId
// (TransactionManager.resetProducerId).
func (p *Producer) wireProducerID(gen int32) int64 {
	return p.cfg.ProducerID + int64(gen)<<pidGenShift
}

// requestReset asks for tp's sequences to start again at the next
// dispatch (Kafka 2.6 TransactionManager.requestEpochBumpForPartition).
func (p *Producer) requestReset(tp proto.TopicPartition, why string) {
	if !slices.Contains(p.resets, tp) {
		p.resets = append(p.resets, tp)
		p.emit(SequenceReset{TP: tp, ProducerID: p.wireProducerID(p.gens[tp] + 1), Why: why})
	}
}

// applyResets starts the sequences of the partitions requestReset named
// again at 0 in a new generation: the queued messages of each are
// numbered again in queue order and retried as new batches, except those
// an earlier attempt may have written, whose outcome stays unknown (sent
// again under a new number they could be written twice). Messages in
// flight keep their old numbers; if their answer is an error they are
// given up (rpcResult).
func (p *Producer) applyResets() {
	if len(p.resets) == 0 {
		return
	}
	resets := p.resets
	p.resets = nil
	for _, tp := range resets {
		if p.gens[tp] >= 1<<(63-pidGenShift)-1 {
			panic(fmt.Sprintf("producer %d: too many sequence resets on %s", p.cfg.Index, tp))
		}
		p.gens[tp]++
		p.seqs[tp] = 0
		delete(p.lastAcked, tp)
		kept := p.queue[:0]
		var lost []*message
		for _, m := range p.queue {
			if m.Topic != tp.Topic || m.partition != tp.Partition {
				kept = append(kept, m)
				continue
			}
			if m.unknown {
				lost = append(lost, m)
				continue
			}
			m.gen, m.seq, m.tag = p.gens[tp], p.seqs[tp], 0
			p.seqs[tp]++
			kept = append(kept, m)
		}
		p.queue = kept
		for _, m := range lost {
			p.finish(m, true, "sequences of "+tp.String()+" started again after an attempt that may have been written: "+m.lastErr)
		}
	}
}

// choose applies the partitioner: all are the topic's partition ids in
// order, avail those with a leader.
func (p *Producer) choose(m *message, all, avail []int32) (int32, error) {
	switch p.cfg.Partitioner {
	case PartitionHash:
		i, err := partition.Hash(m.Key, len(all), p.cfg.Abs)
		if err != nil {
			return 0, err
		}
		return all[i], nil
	case PartitionRoundRobin:
		return p.rr.Partition(m.Topic, len(all), avail), nil
	case PartitionRandom:
		return all[partition.Random(p.cfg.Rand, len(all))], nil
	default:
		return p.sticky.Partition(p.cfg.Rand, m.Topic, avail)
	}
}

// attemptFailed ends one attempt of m; it reports whether m is to be sent
// again (after the back-off), or else reports the send's outcome.
func (p *Producer) attemptFailed(m *message, why string, unknown bool) bool {
	m.attempts++
	m.unknown = m.unknown || unknown
	m.lastErr = why
	if p.cfg.Discovery == DiscoveryMetadata {
		// DefaultEventHandler.handle: sleep retry.backoff.ms, then refresh
		// the failed topics' metadata. The first failure since the last
		// refresh sets the time: later ones must not postpone it.
		if !p.needRefresh {
			p.refreshNotBefore = p.now.Add(p.cfg.RetryBackoff)
		}
		p.needRefresh = true
	}
	if m.attempts > p.cfg.MaxRetries {
		p.finish(m, m.unknown, why)
		return false
	}
	m.notBefore = p.now.Add(p.cfg.RetryBackoff)
	if !p.cfg.Idempotent {
		m.partition = -1 // the next round places it again (an idempotent send keeps its partition and sequence)
	}
	return true
}

// requeue puts m back in the queue in value order.
func (p *Producer) requeue(m *message) {
	i, _ := slices.BinarySearchFunc(p.queue, m.Value, func(q *message, v uint64) int {
		switch {
		case q.Value < v:
			return -1
		case q.Value > v:
			return 1
		}
		return 0
	})
	p.queue = slices.Insert(p.queue, i, m)
}

func (p *Producer) finish(m *message, unknown bool, why string) {
	p.outstanding--
	if p.cfg.Idempotent && m.partition >= 0 && !p.exited {
		if tp := (proto.TopicPartition{Topic: m.Topic, Partition: m.partition}); m.gen == p.gens[tp] {
			// Kafka 2.6 TransactionManager.handleFailedBatch: a failed
			// batch of the idempotent producer bumps the epoch. Simplified:
			// Kafka first waits to learn whether a batch that expired in
			// flight was written (an unresolved sequence); here the
			// sequences start again at once.
			p.requestReset(tp, "gave up "+m.Topic+" value "+strconv.FormatUint(m.Value, 10)+": "+why)
		}
	}
	if unknown {
		p.unsure++
		p.emit(Unknown{Message: m.Message, Why: why, Attempts: m.attempts})
		return
	}
	p.failed++
	p.emit(Failed{Message: m.Message, Err: why, Attempts: m.attempts})
}

func (p *Producer) rpcResult(in kproc.RPCResult) {
	c := p.calls[in.Req]
	if c == nil {
		panic(fmt.Sprintf("producer %d: result for unknown request %d", p.cfg.Index, in.Req))
	}
	delete(p.calls, in.Req)
	switch c.kind {
	case callMetadata:
		p.metadataResult(in)
		return
	case callProduce:
	default:
		panic(fmt.Sprintf("producer %d: rpc result for a %d call", p.cfg.Index, c.kind))
	}
	p.inflight[c.host]--
	if p.unanswered() {
		if in.Err != nil && p.cfg.Discovery == DiscoveryMetadata {
			p.needRefresh = true
		}
		return
	}
	if in.Err != nil {
		// A timeout or a broken connection: the request may have been
		// appended. A connection never made (refused, unreachable) and
		// anything else (an unknown host, the client's queue full) means it
		// was not sent.
		unknown := errors.Is(in.Err, rpc.ErrTimeout) || errors.Is(in.Err, rpc.ErrConnection) || errors.Is(in.Err, rpc.ErrClosed)
		if errors.Is(in.Err, sim.ErrRefused) || errors.Is(in.Err, sim.ErrUnreachable) {
			unknown = false
		}
		for _, g := range c.groups {
			if p.staleGroup(g, in.Err.Error(), unknown) {
				continue
			}
			for _, m := range g {
				if p.attemptFailed(m, in.Err.Error(), unknown) {
					p.requeue(m)
				}
			}
		}
		return
	}
	resp, _ := in.Resp.(*proto.ProduceResponse)
	for i, part := range c.parts {
		code, base, ok := proto.BrokerNotAvailable, int64(-1), false
		if resp != nil {
			for _, r := range resp.Partitions {
				if r.TopicPartition == part.TopicPartition {
					code, base, ok = r.Error, r.BaseOffset, true
					break
				}
			}
		}
		if !(ok && code == proto.None) && p.staleGroup(c.groups[i], code.String(), code == proto.NotEnoughReplicasAfterAppend || code == proto.RequestTimedOut) {
			continue
		}
		if p.cfg.Idempotent && ok && code == proto.OutOfOrderSequenceNumber && p.ackedPast(part.TopicPartition, c.groups[i]) {
			// A later sequence was acknowledged, so the leader took this
			// batch before it (it takes sequences only in order): it is in
			// the log, but older than the batches the leader keeps, so its
			// offsets are unknown. Retrying cannot help.
			for _, m := range c.groups[i] {
				m.attempts++
				p.outstanding--
				p.unsure++
				p.emit(Unknown{Message: m.Message, Why: "written before the last acknowledged sequence, offset unknown: " + code.String(), Attempts: m.attempts})
			}
			continue
		}
		gap := p.cfg.Idempotent && ok && (code == proto.OutOfOrderSequenceNumber || code == proto.UnknownProducerID) && p.isNextSequence(part.TopicPartition, c.groups[i][0].seq)
		for j, m := range c.groups[i] {
			if ok && code == proto.None {
				if p.cfg.Idempotent {
					if last, ok := p.lastAcked[part.TopicPartition]; (!ok || m.seq > last) && m.gen == p.gens[part.TopicPartition] {
						p.lastAcked[part.TopicPartition] = m.seq
					}
				}
				m.attempts++
				p.acked++
				p.host(c.host).Acked++
				p.outstanding--
				p.emit(Acked{Message: m.Message, Partition: part.Partition, Offset: base + int64(j), Broker: m.broker, Host: c.host, Attempts: m.attempts})
				continue
			}
			// Appended without its acks: it may yet be committed.
			unknown := code == proto.NotEnoughReplicasAfterAppend || code == proto.RequestTimedOut
			if p.attemptFailed(m, code.String(), unknown) {
				p.requeue(m)
			}
		}
		if gap {
			// Kafka 2.6 TransactionManager.canRetry: OUT_OF_ORDER_SEQUENCE
			// or UNKNOWN_PRODUCER_ID on the batch right after the last one
			// acknowledged is a real gap (the broker lost records it had
			// acknowledged): the idempotent producer bumps its epoch and
			// retries from sequence 0. On a later batch it only retries
			// (an earlier batch failed and will be sent again first).
			p.requestReset(part.TopicPartition, code.String()+" right after the last sequence acknowledged")
		}
	}
}

// ackedPast says whether a sequence after the batch g's last was
// acknowledged on tp in g's generation.
func (p *Producer) ackedPast(tp proto.TopicPartition, g []*message) bool {
	last, ok := p.lastAcked[tp]
	return ok && len(g) > 0 && g[0].gen == p.gens[tp] && g[len(g)-1].seq < last
}

// isNextSequence says whether seq follows the last sequence acknowledged
// on tp in its current generation (TransactionManager.isNextSequence).
func (p *Producer) isNextSequence(tp proto.TopicPartition, seq int32) bool {
	last, ok := p.lastAcked[tp]
	if !ok {
		last = -1
	}
	return seq == last+1
}

// staleGroup handles a failed attempt of an idempotent batch sent before
// its partition's sequences started again: it cannot be sent again under
// its old number (the broker moved on to the new generation) nor under a
// new one (an earlier attempt may have been written), so each message is
// given up: unknown if any attempt may have been written, else failed.
// Simplified: one that certainly was not written could be numbered again,
// but only behind the partition's messages numbered at the reset, out of
// value order; it fails instead. It reports whether g was such a batch.
func (p *Producer) staleGroup(g []*message, why string, unknown bool) bool {
	if !p.cfg.Idempotent || len(g) == 0 {
		return false
	}
	tp := proto.TopicPartition{Topic: g[0].Topic, Partition: g[0].partition}
	if g[0].gen == p.gens[tp] {
		return false
	}
	for _, m := range g {
		m.attempts++
		m.unknown = m.unknown || unknown
		p.finish(m, m.unknown, "sequences of "+tp.String()+" started again while in flight: "+why)
	}
	return true
}

// shutdown ends the process: what is queued was never sent (or was, by an
// earlier attempt whose outcome is unknown), what is in flight is unknown.
func (p *Producer) shutdown() {
	p.exited = true // before finish: a closing producer starts no sequences again
	for _, m := range p.queue {
		p.finish(m, m.unknown, "producer closed")
	}
	p.queue = nil
	for _, id := range slices.Sorted(maps.Keys(p.calls)) {
		c := p.calls[id]
		if c.kind != callProduce || p.unanswered() {
			continue
		}
		for _, g := range c.groups {
			for _, m := range g {
				m.attempts++
				p.finish(m, true, "producer closed with the request in flight")
			}
		}
	}
	clear(p.calls)
	p.exited = true
	p.emit(kproc.Exit{})
}

// viewReady says whether the producer can place messages; a metadata
// producer starts a refresh here when one is due.
func (p *Producer) viewReady() bool {
	switch p.cfg.Discovery {
	case DiscoveryZK:
		if !p.brokersRead {
			return false
		}
		for _, t := range p.cfg.Topics {
			if !p.topicRead[t] {
				return false
			}
		}
		return true
	case DiscoveryMetadata:
		if p.refreshing {
			return false
		}
		due := p.needRefresh || !p.refreshed ||
			(p.cfg.MetadataRefreshInterval >= 0 && p.now.Sub(p.lastRefresh) >= p.cfg.MetadataRefreshInterval && p.anyReady())
		if !due {
			return true
		}
		if p.now < p.refreshNotBefore {
			// Simplified: the sync Scala producer sleeps through the back-off;
			// here messages not backing off go out with the old view meanwhile.
			p.armRetry()
			return p.refreshed
		}
		p.startRefresh()
		return false
	}
	return true
}

func (p *Producer) anyReady() bool {
	for _, m := range p.queue {
		if m.notBefore <= p.now {
			return true
		}
	}
	return false
}
