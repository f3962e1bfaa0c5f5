package broker

import (
	"fmt"
	"slices"

	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// APIs are the request kinds a broker serves.
var APIs = []string{
	proto.KindLeaderAndIsr, proto.KindUpdateMetadata, proto.KindStopReplica,
	proto.KindControlledShutdown, proto.KindProduce, proto.KindFetch,
	proto.KindOffsetsForLeaderEpoch, proto.KindMetadata,
}

// maxQueuedReplies bounds the answers waiting for the request handler
// (queued.max.requests, 500 in Kafka 2.6, per handler pool); past it the
// broker is overloaded, a state the simulation treats as a bug.
const maxQueuedReplies = 1 << 16

// handler is the broker's request handler thread: each request costs time
// (Costs.BrokerRequest and per-partition costs), and answers go out in
// order once the thread has spent it. Simplified: one thread, where Kafka
// 2.6 has num.io.threads (8); a request's effects on the broker's state
// happen when it arrives, only its answer waits.
type handler struct {
	busyUntil sim.Time
	queue     []queuedReply
}

type queuedReply struct {
	at    sim.Time
	token kproc.Token
	resp  rpc.Payload
}

const timerHandler kproc.TimerName = "broker/request-handler"

// reply answers token with resp once the handler has spent cost on it.
func (b *Broker) reply(token kproc.Token, resp rpc.Payload, cost sim.Duration) {
	h := &b.handler
	start := max(b.now, h.busyUntil)
	h.busyUntil = start.Add(cost)
	if len(h.queue) >= maxQueuedReplies {
		panic(fmt.Sprintf("broker %d: %d answers queued: request handler overloaded", b.cfg.ID, len(h.queue)))
	}
	h.queue = append(h.queue, queuedReply{at: h.busyUntil, token: token, resp: resp})
	if len(h.queue) == 1 {
		b.emit(kproc.SetTimer{Name: timerHandler, After: h.busyUntil.Sub(b.now)})
	}
}

func (b *Broker) handlerTimer() {
	h := &b.handler
	i := 0
	for ; i < len(h.queue) && h.queue[i].at <= b.now; i++ {
		b.emit(kproc.Reply{Token: h.queue[i].token, Resp: h.queue[i].resp})
		h.queue[i] = queuedReply{}
	}
	h.queue = h.queue[i:]
	if len(h.queue) > 0 {
		b.emit(kproc.SetTimer{Name: timerHandler, After: h.queue[0].at.Sub(b.now)})
	} else {
		h.queue = nil
	}
}

func (b *Broker) rpcIn(in kproc.RPCIn) {
	if b.phase < phaseRunning {
		// Kafka does not start its socket server's data plane before the
		// broker is registered: nobody can have sent it a request yet but a
		// peer with stale metadata, which gets an error.
		b.reply(in.Token, notReady(in.Req), b.cfg.Costs.BrokerRequest)
		return
	}
	switch r := in.Req.(type) {
	case *proto.LeaderAndIsrRequest:
		b.leaderAndIsr(in.Token, r)
	case *proto.UpdateMetadataRequest:
		b.updateMetadata(in.Token, r)
	case *proto.StopReplicaRequest:
		b.stopReplica(in.Token, r)
	case *proto.ControlledShutdownRequest:
		if b.ctl == nil {
			b.reply(in.Token, &proto.ControlledShutdownResponse{Error: proto.NotController}, b.cfg.Costs.BrokerRequest)
			return
		}
		b.toController(in)
	case *proto.MetadataRequest:
		b.reply(in.Token, b.meta.response(r), b.cfg.Costs.BrokerRequest)
	case *proto.ProduceRequest:
		b.replicas.produce(in.Token, r)
	case *proto.FetchRequest:
		b.replicas.fetch(in.Token, r)
	case *proto.OffsetsForLeaderEpochRequest:
		b.replicas.offsetsForLeaderEpoch(in.Token, r)
	default:
		panic(fmt.Sprintf("broker %d: request of unserved kind %s", b.cfg.ID, in.Req.Kind()))
	}
}

// notReady is the answer of a broker still starting up.
func notReady(p rpc.Payload) rpc.Payload {
	switch p.(type) {
	case *proto.LeaderAndIsrRequest:
		return &proto.LeaderAndIsrResponse{Error: proto.BrokerNotAvailable}
	case *proto.UpdateMetadataRequest:
		return &proto.UpdateMetadataResponse{Error: proto.BrokerNotAvailable}
	case *proto.StopReplicaRequest:
		return &proto.StopReplicaResponse{Error: proto.BrokerNotAvailable}
	case *proto.ControlledShutdownRequest:
		return &proto.ControlledShutdownResponse{Error: proto.NotController}
	case *proto.MetadataRequest:
		return &proto.MetadataResponse{ControllerID: -1}
	case *proto.ProduceRequest:
		return &proto.ProduceResponse{}
	case *proto.FetchRequest:
		return &proto.FetchResponse{}
	case *proto.OffsetsForLeaderEpochRequest:
		return &proto.OffsetsForLeaderEpochResponse{}
	}
	panic("broker: notReady of " + p.Kind())
}

// staleBrokerEpoch is KafkaApis.isBrokerEpochStale (KIP-380, 2.2): a
// request naming an older epoch of this broker was meant for its previous
// registration. Before 2.6 (KAFKA-9839) any other epoch was stale, a newer
// one included; 2.6 accepts a newer one, which the controller may know
// before the broker has seen its own registration's answer.
func (b *Broker) staleBrokerEpoch(epoch int64) bool {
	f := b.cfg.Kafka.Features
	if !f.BrokerEpochs || epoch == proto.NoEpoch {
		return false
	}
	if f.AcceptNewerBrokerEpoch {
		return epoch < b.brokerEpoch
	}
	return epoch != b.brokerEpoch
}

// fenced checks a controller request's epochs, reporting and returning the
// error that refuses it (None to apply it).
func (b *Broker) fenced(api string, h proto.ControllerHeader) proto.ErrorCode {
	code := proto.None
	switch {
	case b.staleBrokerEpoch(h.BrokerEpoch):
		code = proto.StaleBrokerEpoch
	case h.ControllerEpoch < b.controllerEpoch && !b.cfg.BugIgnoreControllerEpoch:
		code = proto.StaleControllerEpoch
	}
	if code != proto.None {
		b.emit(RequestRejected{Broker: b.cfg.ID, API: api, ControllerID: h.ControllerID, ControllerEpoch: h.ControllerEpoch,
			KnownEpoch: b.controllerEpoch, BrokerEpoch: h.BrokerEpoch, Error: code})
	}
	return code
}

func (b *Broker) applied(api string, h proto.ControllerHeader, partitions int) {
	b.controllerEpoch = h.ControllerEpoch
	b.emit(RequestApplied{Broker: b.cfg.ID, API: api, ControllerID: h.ControllerID, ControllerEpoch: h.ControllerEpoch, Partitions: partitions})
}

// leaderAndIsr is ReplicaManager.becomeLeaderOrFollower.
func (b *Broker) leaderAndIsr(token kproc.Token, r *proto.LeaderAndIsrRequest) {
	k := b.cfg.Costs
	if code := b.fenced(proto.KindLeaderAndIsr, r.ControllerHeader); code != proto.None {
		b.reply(token, &proto.LeaderAndIsrResponse{Error: code}, k.BrokerRequest)
		return
	}
	b.applied(proto.KindLeaderAndIsr, r.ControllerHeader, len(r.Partitions))
	resp := &proto.LeaderAndIsrResponse{Partitions: make([]proto.PartitionError, len(r.Partitions))}
	leaders := map[int32]proto.Broker{}
	for _, l := range r.LiveLeaders {
		leaders[l.ID] = l
	}
	for i := range r.Partitions {
		resp.Partitions[i] = proto.PartitionError{TopicPartition: r.Partitions[i].TopicPartition,
			Error: b.replicas.becomeLeaderOrFollower(&r.Partitions[i], leaders)}
	}
	b.replicas.leaderAndIsrDone()
	b.reply(token, resp, k.BrokerRequest+sim.Duration(len(r.Partitions))*k.BrokerLeaderAndIsrPartition)
}

// updateMetadata is KafkaApis.handleUpdateMetadataRequest.
func (b *Broker) updateMetadata(token kproc.Token, r *proto.UpdateMetadataRequest) {
	k := b.cfg.Costs
	if code := b.fenced(proto.KindUpdateMetadata, r.ControllerHeader); code != proto.None {
		b.reply(token, &proto.UpdateMetadataResponse{Error: code}, k.BrokerRequest)
		return
	}
	b.applied(proto.KindUpdateMetadata, r.ControllerHeader, len(r.Partitions))
	b.meta.update(r)
	b.reply(token, &proto.UpdateMetadataResponse{}, k.BrokerRequest+sim.Duration(len(r.Partitions))*k.BrokerUpdateMetadataPartition)
}

// stopReplica is ReplicaManager.stopReplicas.
func (b *Broker) stopReplica(token kproc.Token, r *proto.StopReplicaRequest) {
	k := b.cfg.Costs
	if code := b.fenced(proto.KindStopReplica, r.ControllerHeader); code != proto.None {
		b.reply(token, &proto.StopReplicaResponse{Error: code}, k.BrokerRequest)
		return
	}
	b.applied(proto.KindStopReplica, r.ControllerHeader, len(r.Partitions))
	resp := &proto.StopReplicaResponse{Partitions: make([]proto.PartitionError, len(r.Partitions))}
	for i, p := range r.Partitions {
		resp.Partitions[i] = proto.PartitionError{TopicPartition: p.TopicPartition, Error: b.replicas.stop(p)}
	}
	b.reply(token, resp, k.BrokerRequest+sim.Duration(len(r.Partitions))*k.BrokerLeaderAndIsrPartition)
}

func (b *Broker) rpcResult(in kproc.RPCResult) {
	c, ok := b.calls[in.Req]
	if !ok {
		panic(fmt.Sprintf("broker %d: rpc result for unknown request %d", b.cfg.ID, in.Req))
	}
	delete(b.calls, in.Req)
	switch c.kind {
	case callFetch:
		b.replicas.fetchResult(c, in)
	case callEpochQuery:
		b.replicas.epochResult(c, in)
	case callControlledShutdown:
		b.shutdownResult(in)
	default:
		panic(fmt.Sprintf("broker %d: rpc result for a %d call", b.cfg.ID, c.kind))
	}
}

var _ = slices.Clone[[]int32]
