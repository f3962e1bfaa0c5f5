package controller

import (
	"maps"
	"slices"
	"strconv"

	"github.com/kzsim/kzsim/nodes/kafka/config"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// requestBatch is ControllerBrokerRequestBatch: the requests one state
// change accumulates, at most one LeaderAndIsr, one UpdateMetadata and one
// StopReplica per broker, sent by flush (sendRequestsToBrokers).
//
// Simplified: Kafka stores each partition's LeaderAndIsr and UpdateMetadata
// entry as it is added; here entries are indices and the state is read
// from the context when the batch is flushed, which is the same except for
// a partition changed twice in one batch, where the last state wins in
// both.
type requestBatch struct {
	lai       map[int32][]uint64 // broker → partition index<<1 | isNew
	umBrokers map[int32]bool
	umParts   []int32
	stop      map[int32][]stopEntry
}

type stopEntry struct {
	part   int32
	delete bool
}

func (b *requestBatch) empty() bool {
	return len(b.lai) == 0 && len(b.umBrokers) == 0 && len(b.stop) == 0
}

// addLeaderAndIsr is addLeaderAndIsrRequestForBrokers: partition i to each
// of brokers, and (as Kafka 2.6 does) an UpdateMetadata entry of i to every
// live or shutting-down broker.
func (c *Controller) addLeaderAndIsr(brokers []int32, i int32, isNew bool) {
	if c.batch.lai == nil {
		c.batch.lai = map[int32][]uint64{}
	}
	e := uint64(i) << 1
	if isNew {
		e |= 1
	}
	for _, b := range brokers {
		if b >= 0 {
			c.batch.lai[b] = append(c.batch.lai[b], e)
		}
	}
	c.addUpdateMetadata(c.ctx.liveIDs, i)
}

// addUpdateMetadata is addUpdateMetadataRequestForBrokers: the brokers get
// an UpdateMetadata holding every partition added to the batch's; parts may
// be empty (a request with live brokers only).
func (c *Controller) addUpdateMetadata(brokers []int32, parts ...int32) {
	if c.batch.umBrokers == nil {
		c.batch.umBrokers = map[int32]bool{}
	}
	for _, b := range brokers {
		c.batch.umBrokers[b] = true
	}
	c.batch.umParts = append(c.batch.umParts, parts...)
}

// addStopReplica is addStopReplicaRequestForBrokers.
func (c *Controller) addStopReplica(brokers []int32, i int32, del bool) {
	if c.batch.stop == nil {
		c.batch.stop = map[int32][]stopEntry{}
	}
	for _, b := range brokers {
		if b >= 0 {
			c.batch.stop[b] = append(c.batch.stop[b], stopEntry{part: i, delete: del})
		}
	}
}

func (c *Controller) header(b int32) proto.ControllerHeader {
	h := proto.ControllerHeader{ControllerID: c.cfg.BrokerID, ControllerEpoch: c.epoch, BrokerEpoch: proto.NoEpoch}
	if c.feat.BrokerEpochs {
		if br := c.ctx.brokers[b]; br != nil {
			h.BrokerEpoch = br.epoch
		}
	}
	return h
}

// partitionState is partition i as a request carries it.
func (c *Controller) partitionState(i int32, isNew bool) proto.PartitionState {
	p := &c.ctx.parts[i]
	return proto.PartitionState{
		TopicPartition:  c.ctx.tp(i),
		ControllerEpoch: p.ctrlEpoch,
		Leader:          p.leader,
		LeaderEpoch:     p.epoch,
		ISR:             p.isr,
		ZkVersion:       p.zkVersion,
		Replicas:        p.replicas,
		Adding:          p.adding,
		Removing:        p.removing,
		IsNew:           isNew,
	}
}

// flush is sendRequestsToBrokers: per broker, LeaderAndIsr, then
// UpdateMetadata, then StopReplica, each handed to the broker's sender
// (dropped for brokers not live or shutting down, as
// ControllerChannelManager.sendRequest drops them).
func (c *Controller) flush() {
	b := c.batch
	c.batch = requestBatch{}
	if b.empty() {
		return
	}
	costs := c.cfg.Costs
	for _, id := range slices.Sorted(maps.Keys(b.lai)) {
		if c.ctx.brokers[id] == nil {
			continue
		}
		es := b.lai[id]
		slices.Sort(es)
		ps := make([]proto.PartitionState, 0, len(es))
		leaders := map[int32]bool{}
		for k := 0; k < len(es); {
			i, isNew := int32(es[k]>>1), false
			for ; k < len(es) && int32(es[k]>>1) == i; k++ {
				isNew = isNew || es[k]&1 == 1
			}
			p := &c.ctx.parts[i]
			if !p.hasLeader || p.deleted {
				continue
			}
			ps = append(ps, c.partitionState(i, isNew))
			leaders[p.leader] = true
		}
		var live []proto.Broker
		for _, l := range c.ctx.liveIDs {
			if leaders[l] {
				live = append(live, c.ctx.brokers[l].info)
			}
		}
		req := &proto.LeaderAndIsrRequest{ControllerHeader: c.header(id), Partitions: ps, LiveLeaders: live}
		c.cost += costs.ControllerRequest + sim.Duration(len(ps))*costs.ControllerRequestPartition
		c.queueRequest(id, proto.KindLeaderAndIsr, req, len(ps))
	}
	if len(b.umBrokers) > 0 {
		// One entry list shared by every broker's request: requests are
		// immutable once sent, so they may share it.
		parts := b.umParts
		slices.Sort(parts)
		parts = slices.Compact(parts)
		ps := make([]proto.PartitionState, 0, len(parts))
		for _, i := range parts {
			p := &c.ctx.parts[i]
			if !p.hasLeader || p.deleted {
				continue // "Leader not yet assigned for partition …"
			}
			st := c.partitionState(i, false)
			if c.ctx.topics[p.topic].queued {
				// LeaderAndIsr.duringDelete: the leader says it.
				st.Leader = proto.LeaderDuringDelete
			}
			for _, r := range p.replicas {
				if !c.ctx.online(r) {
					st.Offline = append(st.Offline, r)
				}
			}
			ps = append(ps, st)
		}
		brokers := c.ctx.brokerList()
		for _, id := range slices.Sorted(maps.Keys(b.umBrokers)) {
			if c.ctx.brokers[id] == nil {
				continue
			}
			req := &proto.UpdateMetadataRequest{ControllerHeader: c.header(id), Partitions: ps, LiveBrokers: brokers}
			c.cost += costs.ControllerRequest + sim.Duration(len(ps))*costs.ControllerRequestPartition
			c.queueRequest(id, proto.KindUpdateMetadata, req, len(ps))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(b.stop)) {
		if c.ctx.brokers[id] == nil {
			continue
		}
		es := b.stop[id]
		ps := make([]proto.StopReplicaPartition, 0, len(es))
		for _, e := range es {
			epoch := int32(-1)
			if c.feat.StopReplicaLeaderEpoch {
				epoch = c.ctx.parts[e.part].epoch
				if e.delete {
					epoch = proto.LeaderEpochDuringDelete
				}
			}
			ps = append(ps, proto.StopReplicaPartition{TopicPartition: c.ctx.tp(e.part), LeaderEpoch: epoch, Delete: e.delete})
		}
		req := &proto.StopReplicaRequest{ControllerHeader: c.header(id), Partitions: ps}
		c.cost += costs.ControllerRequest + sim.Duration(len(ps))*costs.ControllerRequestPartition
		c.queueRequest(id, proto.KindStopReplica, req, len(ps))
	}
}

// queueRequest hands a request to broker id's sender once the event
// thread's pending work is done.
func (c *Controller) queueRequest(id int32, api string, req rpc.Payload, n int) {
	c.report(ControlRequestSent{Broker: id, API: api, Partitions: n, ControllerEpoch: c.epoch})
	c.held = append(c.held, held{req: &queuedReq{broker: id, api: api, req: req}})
}

// queuedReq is a request in a sender's queue.
type queuedReq struct {
	broker int32
	api    string
	req    rpc.Payload
}

// maxSenderQueue bounds a sender's queue; Kafka's is unbounded.
const maxSenderQueue = 1 << 16

// sender is a RequestSendThread: one request in flight at a time, each
// retried after ControllerSenderBackoff until it gets a response or the
// broker is removed (Kafka 2.6 ControllerChannelManager).
type sender struct {
	broker   int32
	host     string
	queue    []*queuedReq
	inflight *queuedReq
	id       kproc.ReqID
	backoff  bool
	timer    kproc.TimerName
}

const timerBackoffPrefix = TimerPrefix + "backoff/"

// addSender is ControllerChannelManager.addBroker.
func (c *Controller) addSender(b *broker) {
	if c.senders[b.id] != nil {
		return
	}
	c.senders[b.id] = &sender{broker: b.id, host: b.info.Host, timer: kproc.TimerName(timerBackoffPrefix + strconv.Itoa(int(b.id)))}
}

// removeSender is ControllerChannelManager.removeBroker: the queue is
// dropped and the connection closed.
func (c *Controller) removeSender(id int32) {
	s := c.senders[id]
	if s == nil {
		return
	}
	delete(c.senders, id)
	if s.inflight != nil {
		delete(c.inflight, s.id)
	}
	if s.backoff {
		c.out = append(c.out, kproc.CancelTimer{Name: s.timer})
	}
	c.out = append(c.out, kproc.CloseChannel{Host: s.host, Channel: kproc.ChannelController})
}

func (c *Controller) handOff(s *sender, q *queuedReq) {
	if len(s.queue) >= maxSenderQueue {
		panic("controller: sender queue to broker " + strconv.Itoa(int(s.broker)) + " over its bound")
	}
	s.queue = append(s.queue, q)
	c.sendNext(s)
}

func (c *Controller) sendNext(s *sender) {
	if s.inflight != nil || s.backoff || len(s.queue) == 0 {
		return
	}
	s.inflight = s.queue[0]
	s.queue[0] = nil
	s.queue = s.queue[1:]
	c.transmit(s)
}

func (c *Controller) transmit(s *sender) {
	s.id = c.newID()
	c.inflight[s.id] = s.broker
	c.out = append(c.out, kproc.Send{ID: s.id, Host: s.host, Channel: kproc.ChannelController, Req: s.inflight.req, Timeout: c.cfg.Kafka.RequestTimeout})
}

func (c *Controller) rpcResult(in kproc.RPCResult) {
	id, ok := c.inflight[in.Req]
	if !ok {
		return // the broker was removed
	}
	delete(c.inflight, in.Req)
	s := c.senders[id]
	if s == nil || s.id != in.Req || s.inflight == nil {
		return
	}
	if in.Err != nil {
		c.out = append(c.out, ControlRequestFailed{Broker: id, API: s.inflight.api, Err: in.Err.Error()})
		s.backoff = true
		c.out = append(c.out, kproc.SetTimer{Name: s.timer, After: config.ControllerSenderBackoff})
		return
	}
	q := s.inflight
	s.inflight = nil
	c.responseReceived(id, q, in.Resp)
	c.sendNext(s)
}

func (c *Controller) senderBackoffDone(name kproc.TimerName) {
	id, err := strconv.Atoi(string(name[len(timerBackoffPrefix):]))
	if err != nil {
		panic("controller: bad back-off timer " + string(name))
	}
	s := c.senders[int32(id)]
	if s == nil || !s.backoff {
		return
	}
	s.backoff = false
	c.transmit(s) // the same request again
}

// responseReceived is the sender's callback: LeaderAndIsr and
// UpdateMetadata responses become events (LeaderAndIsrResponseReceived,
// UpdateMetadataResponseReceived); StopReplica responses of a deletion
// become TopicDeletionStopReplicaResponseReceived.
func (c *Controller) responseReceived(broker int32, q *queuedReq, resp rpc.Payload) {
	switch r := resp.(type) {
	case *proto.LeaderAndIsrResponse:
		c.enqueue(&event{name: "LeaderAndIsrResponseReceived", run: func() { c.cost += c.cfg.Costs.ControllerRequest }})
	case *proto.UpdateMetadataResponse:
		c.enqueue(&event{name: "UpdateMetadataResponseReceived", run: func() { c.cost += c.cfg.Costs.ControllerRequest }})
	case *proto.StopReplicaResponse:
		req := q.req.(*proto.StopReplicaRequest)
		if hasDelete(req) {
			c.enqueue(&event{name: "TopicDeletionStopReplicaResponseReceived", run: func() { c.processStopReplicaDeletionResponse(broker, req, r) }})
		}
	}
}

func hasDelete(r *proto.StopReplicaRequest) bool {
	for _, p := range r.Partitions {
		if p.Delete {
			return true
		}
	}
	return false
}
