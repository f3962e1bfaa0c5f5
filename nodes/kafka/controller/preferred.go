package controller

import (
	"slices"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/controller/algo"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafkazk"
)

// processPreferredReplicaElection is the ReplicaLeaderElection event of a
// created /admin/preferred_replica_election (Kafka 2.6
// processReplicaLeaderElection, ZkTriggered).
func (c *Controller) processPreferredReplicaElection() {
	if !c.IsActive() {
		return
	}
	c.preferredFromZk(func() {})
}

// pendingPreferredElections runs the election a /admin/preferred_replica_election
// found at failover asks for.
func (c *Controller) pendingPreferredElections(pending bool, then func()) {
	if !pending {
		then()
		return
	}
	c.preferredFromZk(then)
}

// preferredFromZk reads the partitions listed, elects the preferred replica
// of those known, not being deleted and not already led by it, and deletes
// the znode (fenced); an exists call re-arms the watch for the next one.
func (c *Controller) preferredFromZk(then func()) {
	path := kafkazk.PreferredReplicaPath
	c.zk([]fakezk.Request{&fakezk.GetDataRequest{Path: path}}, 0, func(rs []fakezk.Response) {
		var parts []int32
		if rs[0].Err == nil {
			if l, err := kafkazk.DecodePartitionList(kafkazk.KindPreferredElection, rs[0].Data); err == nil {
				for _, tp := range l.Partitions {
					i, ok := c.ctx.lookup(tp.Topic, tp.Partition)
					if !ok || c.ctx.queuedForDeletion(i) {
						continue
					}
					if p := &c.ctx.parts[i]; p.hasLeader && len(p.replicas) > 0 && p.leader != p.replicas[0] && !slices.Contains(parts, i) {
						parts = append(parts, i)
					}
				}
			} else {
				c.fail(err)
			}
		}
		slices.Sort(parts)
		c.toOnline(parts, electPreferred, nil, func([]int32) {
			c.zk([]fakezk.Request{c.fenced(&fakezk.DeleteRequest{Path: path, Version: -1})}, 0, func(rs []fakezk.Response) {
				if c.anyMoved(rs) {
					c.controllerMoved()
					return
				}
				c.zk([]fakezk.Request{&fakezk.ExistsRequest{Path: path}}, 0, func([]fakezk.Response) { then() })
			})
		})
	})
}

// processAutoRebalance is AutoPreferredReplicaLeaderElection
// (checkAndTriggerAutoLeaderRebalance, Kafka 2.6): per broker whose share
// of preferred partitions it does not lead exceeds
// leader.imbalance.per.broker.percentage, a preferred election of those
// whose preferred replica can lead, one broker after the other; then the
// next check is scheduled. It walks every partition, as Kafka does, once
// per leader.imbalance.check.interval.seconds.
func (c *Controller) processAutoRebalance() {
	if !c.IsActive() {
		return
	}
	views := make([]algo.PartitionView, 0, c.ctx.livePartitions)
	for i := range c.ctx.parts {
		p := &c.ctx.parts[i]
		if p.deleted {
			continue
		}
		tp := c.ctx.tp(int32(i))
		v := algo.PartitionView{TopicPartition: algo.TopicPartition{Topic: tp.Topic, Partition: tp.Partition}, Assignment: p.replicas, QueuedForDeletion: c.ctx.queuedForDeletion(int32(i))}
		if p.hasLeader {
			st := p.leaderAndIsr()
			v.State = &st
		}
		views = append(views, v)
	}
	var groups [][]int32
	if len(c.ctx.reassigning) == 0 {
		l := c.ctx.liveness()
		for _, bi := range algo.LeaderImbalance(views) {
			if !bi.Exceeds(c.cfg.Kafka.LeaderImbalancePerBrokerPercentage) {
				continue
			}
			var g []int32
			for _, tp := range bi.NotLed {
				i, _ := c.ctx.lookup(tp.Topic, tp.Partition)
				p := &c.ctx.parts[i]
				if algo.ElectPreferred(p.replicas, p.leaderAndIsr(), l).Elected {
					g = append(g, i)
				}
			}
			if len(g) > 0 {
				groups = append(groups, g)
			}
		}
	}
	var next func(k int)
	next = func(k int) {
		if k == len(groups) {
			c.emit(kproc.SetTimer{Name: timerRebalance, After: c.cfg.Kafka.LeaderImbalanceCheckInterval})
			return
		}
		c.toOnline(groups[k], electPreferred, nil, func([]int32) { next(k + 1) })
	}
	next(0)
}
