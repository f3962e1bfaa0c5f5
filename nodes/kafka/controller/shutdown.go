package controller

import (
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
)

// processControlledShutdown is the ControlledShutdown event
// (KafkaController.doControlledShutdown, Kafka 2.6): refuse when not
// active, for a stale broker epoch (2.2+) or an unknown broker; mark the
// broker shutting down; move the leaderships of its replicated partitions
// by the controlled-shutdown election; take it out of the ISRs it follows
// (StopReplica, then OfflineReplica); answer with the replicated partitions
// it still leads.
func (c *Controller) processControlledShutdown(tok kproc.Token, req *proto.ControlledShutdownRequest) {
	id := req.BrokerID
	if !c.IsActive() {
		c.replyShutdown(tok, id, proto.NotController, nil)
		return
	}
	b := c.ctx.brokers[id]
	if c.feat.BrokerEpochs && req.BrokerEpoch != proto.NoEpoch && b != nil && req.BrokerEpoch < b.epoch {
		c.replyShutdown(tok, id, proto.StaleBrokerEpoch, nil)
		return
	}
	if b == nil {
		c.replyShutdown(tok, id, proto.BrokerNotAvailable, nil)
		return
	}
	c.ctx.shuttingDown[id] = true
	var led, followed []int32
	for _, i := range c.livePartsOn(id) {
		p := &c.ctx.parts[i]
		if len(p.replicas) <= 1 || !p.hasLeader || c.ctx.queuedForDeletion(i) {
			continue
		}
		if p.leader == id {
			led = append(led, i)
		} else {
			followed = append(followed, i)
		}
	}
	c.toOnline(led, electControlledShutdown, nil, func([]int32) {
		for _, i := range followed {
			c.addStopReplica([]int32{id}, i, false)
		}
		c.flush()
		c.replicasOffline(map[int32][]int32{id: followed}, func() {
			var remaining []proto.TopicPartition
			for _, i := range c.livePartsOn(id) {
				p := &c.ctx.parts[i]
				if p.hasLeader && p.leader == id && len(p.replicas) > 1 && !c.ctx.queuedForDeletion(i) {
					remaining = append(remaining, c.ctx.tp(i))
				}
			}
			c.replyShutdown(tok, id, proto.None, remaining)
		})
	})
}

func (c *Controller) replyShutdown(tok kproc.Token, broker int32, code proto.ErrorCode, remaining []proto.TopicPartition) {
	c.report(ControlledShutdownHandled{Broker: broker, Error: code.String(), Remaining: len(remaining)})
	c.emit(kproc.Reply{Token: tok, Resp: &proto.ControlledShutdownResponse{Error: code, Remaining: remaining}})
}
