package scenarios

import (
	"maps"
	"slices"

	"github.com/kzsim/kzsim/nodes/kafka/broker"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
)

// The end checks of particular Kafka scenarios, beside the invariants
// every one of them checks.

// shutdownStep checks a controlled shutdown the controller reported done:
// no partition that another in-sync replica could lead is still led by
// the broker (KafkaController.doControlledShutdown moved them, and wrote
// ZooKeeper before it answered). Exempt are the partitions of topics
// queued for deletion (doControlledShutdown neither moves nor counts them)
// and partitions whose state a later controller wrote: the set of brokers
// shutting down lives in the answering controller's memory
// (ControllerContext.shuttingDownBrokerIds), so its successor may have
// elected the broker meanwhile.
func (c *kcluster) shutdownStep(b *kbroker, r broker.ControlledShutdown) {
	if !r.Done {
		return
	}
	c.shutdowns++
	deleting, _, _ := c.srv.View().Children(kafkazk.DeleteTopicsPath)
	answeredAt, known := c.shutdownEpoch[b.id]
	c.forEachPartition(func(tp proto.TopicPartition, a kafkazk.ReplicaAssignment, st *kafkazk.PartitionState) {
		if st == nil || slices.Contains(deleting, tp.Topic) || (known && st.ControllerEpoch > answeredAt) {
			return
		}
		if st.Leader == b.id && len(st.ISR) > 1 {
			c.safety("controlled-shutdown-moves-leaders", "%s finished its controlled shutdown still leading %s (ISR %v)", b.name, tp, st.ISR)
		}
	})
}

// preferredAfterHeal asks for a preferred replica election of every
// partition once everything has healed and the replicas are back in sync
// (a broker restarted by the healing waits for its old session to expire,
// up to 18 s, before it can register).
func preferredAfterHeal(c *kcluster) {
	if c.plan.bugs.skipFinalPreferredElection {
		return
	}
	c.w.At(c.admin.pid, c.w.Now().Add(c.plan.grace*2/3), "preferred-election", func() {
		c.admin.operate(kafkaEvent{Kind: opPreferredElection})
	})
}

// checkPreferredLeaders: after the last preferred election, every
// partition whose preferred replica (the first of its assignment) is alive
// and in sync is led by it.
func checkPreferredLeaders(c *kcluster) {
	c.forEachPartition(func(tp proto.TopicPartition, a kafkazk.ReplicaAssignment, st *kafkazk.PartitionState) {
		if st == nil || len(a.Replicas) == 0 {
			return
		}
		preferred := a.Replicas[0]
		if c.Alive(preferred) && slices.Contains(st.ISR, preferred) && st.Leader != preferred {
			c.liveness("preferred-leaders", "%s is led by %d, not by its preferred replica %d (ISR %v)", tp, st.Leader, preferred, st.ISR)
		}
	})
}

// checkReassignments: every reassignment the admin started has completed:
// /admin/reassign_partitions is gone and each partition's replicas are its
// last target, in order (the target's order is the new preference).
func checkReassignments(c *kcluster) {
	v := c.srv.View()
	if _, ok := v.Exists(kafkazk.ReassignPartitionsPath); ok {
		c.liveness("reassignments-complete", "%s still exists", kafkazk.ReassignPartitionsPath)
	}
	got := map[proto.TopicPartition]kafkazk.ReplicaAssignment{}
	c.forEachPartition(func(tp proto.TopicPartition, a kafkazk.ReplicaAssignment, _ *kafkazk.PartitionState) {
		if _, ok := c.reassigned[tp]; ok {
			got[tp] = a
		}
	})
	for _, tp := range slices.SortedFunc(maps.Keys(c.reassigned), proto.Compare) {
		want := c.reassigned[tp]
		a, ok := got[tp]
		switch {
		case !ok:
			c.liveness("reassignments-complete", "%s was reassigned to %v and is gone", tp, want)
		case !slices.Equal(a.Replicas, want) || len(a.Adding) > 0 || len(a.Removing) > 0:
			c.liveness("reassignments-complete", "%s has replicas %v (adding %v, removing %v), want %v", tp, a.Replicas, a.Adding, a.Removing, want)
		}
	}
}

// checkDeletions: every topic marked for deletion is gone from ZooKeeper
// (its assignment, its partitions, its marker) and from every live broker.
func checkDeletions(c *kcluster) {
	v := c.srv.View()
	for _, t := range c.deleted {
		if _, ok := v.Exists(kafkazk.TopicPath(t)); ok {
			c.liveness("topics-deleted", "topic %s was marked for deletion and %s still exists", t, kafkazk.TopicPath(t))
		}
		if _, ok := v.Exists(kafkazk.DeleteTopicPath(t)); ok {
			c.liveness("topics-deleted", "%s still exists", kafkazk.DeleteTopicPath(t))
		}
		for _, b := range c.brokers {
			m, ok := b.machine()
			if !ok {
				continue
			}
			if n := m.ReplicasOf(t); n > 0 {
				c.liveness("topics-deleted", "%s still hosts %d %s of deleted topic %s", b.name, n, plural(n, "replica"), t)
			}
		}
	}
}
