package controller

import (
	"slices"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/controller/algo"
	"github.com/kzsim/kzsim/nodes/kafkazk"
)

// Partition reassignment as Kafka 2.4–2.6 run it (KIP-455,
// KafkaController.onPartitionReassignment): phase U writes RS = TRS ++ ORS
// with adding and removing replicas to the topic znode and watches the
// partition's state znode; phase A (TRS not yet in the ISR) bumps the
// leader epoch and starts the adding replicas; phase B (TRS ⊆ ISR) makes RS
// = TRS, elects a leader in TRS if needed, stops and deletes the removed
// replicas, rewrites the topic znode and drops the partition from
// /admin/reassign_partitions. Simplified: before 2.4 the same phases run,
// with the topic znode written in version 1 (no adding/removing fields).

// forEach runs step on each element in turn, each continuing with next.
func forEach(list []int32, step func(i int32, next func()), then func()) {
	var run func(k int)
	run = func(k int) {
		if k == len(list) {
			then()
			return
		}
		step(list[k], func() { run(k + 1) })
	}
	run(0)
}

// processZkPartitionReassignment is the ZkPartitionReassignment event.
func (c *Controller) processZkPartitionReassignment() {
	if !c.IsActive() {
		return
	}
	c.zkReassignment(func(map[int32]bool) {})
}

// zkReassignment re-arms the watch and, if /admin/reassign_partitions
// exists, starts each listed reassignment; the entries that cannot start
// (unknown partition, topic being deleted, bad target) are dropped from
// the znode. then gets the partitions started.
func (c *Controller) zkReassignment(then func(started map[int32]bool)) {
	path := kafkazk.ReassignPartitionsPath
	c.zk([]fakezk.Request{&fakezk.ExistsRequest{Path: path}}, 0, func(rs []fakezk.Response) {
		if rs[0].Err != nil || !rs[0].Exists {
			then(nil)
			return
		}
		c.zk([]fakezk.Request{&fakezk.GetDataRequest{Path: path}}, 0, func(rs []fakezk.Response) {
			if rs[0].Err != nil {
				then(nil)
				return
			}
			r, err := kafkazk.DecodeReassignPartitions(rs[0].Data)
			if err != nil {
				c.fail(err)
				then(nil)
				return
			}
			started := map[int32]bool{}
			targets := map[int32]algo.ReplicaAssignment{}
			var list []int32
			failed := map[kafkazk.TopicPartition]bool{}
			for _, e := range r.Partitions {
				i, ok := c.ctx.lookup(e.Topic, e.Partition)
				if !ok || c.ctx.queuedForDeletion(i) || !validTarget(e.Replicas) {
					failed[kafkazk.TopicPartition{Topic: e.Topic, Partition: e.Partition}] = true
					continue
				}
				if !started[i] {
					list = append(list, i)
				}
				started[i] = true
				targets[i] = c.ctx.parts[i].assignment().ReassignTo(e.Replicas)
			}
			forEach(list, func(i int32, next func()) { c.onPartitionReassignment(i, targets[i], next) }, func() {
				if len(failed) == 0 {
					then(started)
					return
				}
				c.removeFromZkReassignment(func(e kafkazk.PartitionReplicas) bool {
					return failed[kafkazk.TopicPartition{Topic: e.Topic, Partition: e.Partition}]
				}, func() { then(started) })
			})
		})
	})
}

func validTarget(rs []int32) bool {
	if len(rs) == 0 {
		return false
	}
	for k, r := range rs {
		if r < 0 || slices.Contains(rs[:k], r) {
			return false
		}
	}
	return true
}

// initializePartitionReassignments, at failover: the znode's reassignments,
// then those the topic znodes show in flight (maybeResumeReassignments).
func (c *Controller) initializePartitionReassignments(_ bool, then func()) {
	c.zkReassignment(func(started map[int32]bool) {
		var list []int32
		for i := range c.ctx.reassigning {
			if !started[i] {
				list = append(list, i)
			}
		}
		slices.Sort(list)
		forEach(list, func(i int32, next func()) { c.onPartitionReassignment(i, c.ctx.parts[i].assignment(), next) }, then)
	})
}

// resumeReassignments, on broker startup: the reassignments whose target
// includes a new broker.
func (c *Controller) resumeReassignments(ids []int32, then func()) {
	var list []int32
	for i := range c.ctx.reassigning {
		for _, r := range c.ctx.parts[i].assignment().Target() {
			if slices.Contains(ids, r) {
				list = append(list, i)
				break
			}
		}
	}
	slices.Sort(list)
	forEach(list, func(i int32, next func()) { c.onPartitionReassignment(i, c.ctx.parts[i].assignment(), next) }, then)
}

// processReassignmentIsrChange is PartitionReassignmentIsrChange: a
// reassigning partition's state changed; complete it if TRS ⊆ ISR.
func (c *Controller) processReassignmentIsrChange(topic string, pid int32) {
	if !c.IsActive() {
		return
	}
	i, ok := c.ctx.lookup(topic, pid)
	if !ok || !c.ctx.parts[i].watchISR {
		return
	}
	ra := c.ctx.parts[i].assignment()
	c.readStates([]int32{i}, func(states []readState) {
		if states[0].err == nil && algo.ReassignmentDone(ra, states[0].st.ISR) {
			c.onPartitionReassignment(i, ra, func() {})
		}
	})
}

// onPartitionReassignment runs phase U, then A or B.
func (c *Controller) onPartitionReassignment(i int32, ra algo.ReplicaAssignment, then func()) {
	c.ctx.topics[c.ctx.parts[i].topic].ineligible = true // no deletion while reassigning
	c.updateCurrentReassignment(i, ra, func() {
		c.readStates([]int32{i}, func(states []readState) {
			if states[0].err != nil {
				then()
				return
			}
			if !algo.ReassignmentDone(ra, states[0].st.ISR) {
				// A1, A2.
				c.bumpLeaderEpoch(i, ra.Replicas, func(bool) {
					p := &c.ctx.parts[i]
					for _, r := range ra.Adding {
						if p.hasLeader && p.leader != r {
							c.addLeaderAndIsr([]int32{r}, i, true)
						}
					}
					c.flush()
					then()
				})
				return
			}
			c.completeReassignment(i, ra, then)
		})
	})
}

// completeReassignment is phase B.
func (c *Controller) completeReassignment(i int32, ra algo.ReplicaAssignment, then func()) {
	byAdding := map[int32][]int32{}
	for _, r := range ra.Adding {
		byAdding[r] = []int32{i}
	}
	c.replicasOnline(byAdding) // B1
	done := ra.Complete()
	c.ctx.setReplicas(i, done)               // B2
	c.moveLeaderIfRequired(i, done, func() { // B3
		c.stopRemoved(i, ra.Removing, func() { // B4, B5
			c.writeTopicAssignment(c.ctx.parts[i].topic, func() { // B6
				c.removeFromReassigning(i, done, func() { // B7
					c.addUpdateMetadata(c.ctx.liveIDs, i) // B8
					c.flush()
					tp := c.ctx.tp(i)
					c.report(ReassignmentDone{Topic: tp.Topic, Partition: tp.Partition, Replicas: done.Replicas})
					c.resumeDeletionOf(c.ctx.parts[i].topic, then)
				})
			})
		})
	})
}

// updateCurrentReassignment is phase U.
func (c *Controller) updateCurrentReassignment(i int32, ra algo.ReplicaAssignment, then func()) {
	cur := c.ctx.parts[i].assignment()
	watch := func() {
		p := &c.ctx.parts[i]
		if !p.watchISR {
			p.watchISR = true
			c.register(c.statePath(i), false)
		}
		c.ctx.reassigning[i] = struct{}{}
		then()
	}
	if sameAssignment(cur, ra) {
		watch()
		return
	}
	old := c.ctx.parts[i].replicas
	c.ctx.setReplicas(i, ra)
	tp := c.ctx.tp(i)
	c.report(ReassignmentStarted{Topic: tp.Topic, Partition: tp.Partition, Target: ra.Target()})
	c.writeTopicAssignment(c.ctx.parts[i].topic, func() {
		var unneeded []int32
		for _, r := range old {
			if !slices.Contains(ra.Replicas, r) {
				unneeded = append(unneeded, r)
			}
		}
		c.stopRemoved(i, unneeded, watch)
	})
}

func sameAssignment(a, b algo.ReplicaAssignment) bool {
	return slices.Equal(a.Replicas, b.Replicas) && slices.Equal(a.Adding, b.Adding) && slices.Equal(a.Removing, b.Removing)
}

// writeTopicAssignment writes topic ti's znode from the context (fenced,
// any version): setTopicAssignmentRaw.
func (c *Controller) writeTopicAssignment(ti int32, then func()) {
	t := &c.ctx.topics[ti]
	ta := kafkazk.TopicAssignment{Version: 1, Partitions: map[int32]kafkazk.ReplicaAssignment{}}
	if c.feat.ReassignmentAddingRemoving {
		ta.Version = 2
	}
	for pid, i := range t.parts {
		if i >= 0 {
			p := &c.ctx.parts[i]
			ta.Partitions[int32(pid)] = kafkazk.ReplicaAssignment{Replicas: p.replicas, Adding: p.adding, Removing: p.removing}
		}
	}
	set := &fakezk.SetDataRequest{Path: kafkazk.TopicPath(t.name), Data: ta.Encode(), Version: -1}
	c.zk([]fakezk.Request{c.fenced(set)}, 0, func(rs []fakezk.Response) {
		res, moved := c.unfence(rs[0])
		if moved {
			c.controllerMoved()
			return
		}
		if res.Err != nil {
			c.fail(res.Err)
			return
		}
		then()
	})
}

// bumpLeaderEpoch is updateLeaderEpochAndSendRequest: the same leader and
// ISR at the next leader epoch (read, conditional write, BADVERSION
// retried), then LeaderAndIsr to recipients.
func (c *Controller) bumpLeaderEpoch(i int32, recipients []int32, then func(ok bool)) {
	c.readStates([]int32{i}, func(states []readState) {
		rs := states[0]
		if rs.err != nil {
			then(false)
			return
		}
		next := kafkazk.PartitionState{Leader: rs.st.Leader, LeaderEpoch: rs.st.LeaderEpoch + 1, ISR: rs.st.ISR, ControllerEpoch: c.epoch}
		set := &fakezk.SetDataRequest{Path: c.statePath(i), Data: next.Encode(), Version: rs.version}
		c.zk([]fakezk.Request{c.fenced(set)}, 0, func(resps []fakezk.Response) {
			res, moved := c.unfence(resps[0])
			switch {
			case moved:
				c.controllerMoved()
			case res.Err == nil:
				c.setLeadership(i, next, res.Stat.Version)
				tp := c.ctx.tp(i)
				c.report(ISRChanged{Topic: tp.Topic, Partition: tp.Partition, Leader: next.Leader, LeaderEpoch: next.LeaderEpoch, ISR: next.ISR, ZkVersion: res.Stat.Version, Reason: "reassignment"})
				c.addLeaderAndIsr(recipients, i, false)
				c.flush()
				then(true)
			case isErr(res.Err, fakezk.ErrBadVersion) && c.feat.ControllerRetriesBadVersion:
				c.bumpLeaderEpoch(i, recipients, then)
			default:
				then(false)
			}
		})
	})
}

// moveLeaderIfRequired is moveReassignedPartitionLeaderIfRequired.
func (c *Controller) moveLeaderIfRequired(i int32, done algo.ReplicaAssignment, then func()) {
	p := &c.ctx.parts[i]
	if slices.Contains(done.Replicas, p.leader) && c.ctx.online(p.leader) {
		c.bumpLeaderEpoch(i, done.Replicas, func(bool) { then() })
		return
	}
	c.toOnline([]int32{i}, electReassign, map[int32][]int32{i: done.Replicas}, func([]int32) { then() })
}

// stopRemoved is stopRemovedReplicasOfReassignedPartition: OfflineReplica,
// then StopReplica with delete (ReplicaDeletionStarted; Successful and
// NonExistent are taken as done, as Kafka 2.6 does).
func (c *Controller) stopRemoved(i int32, removed []int32, then func()) {
	if len(removed) == 0 {
		then()
		return
	}
	by := map[int32][]int32{}
	for _, r := range removed {
		by[r] = []int32{i}
	}
	c.replicasOffline(by, func() {
		for _, r := range removed {
			c.addStopReplica([]int32{r}, i, true)
		}
		c.flush()
		then()
	})
}

// removeFromReassigning is removePartitionFromReassigningPartitions.
func (c *Controller) removeFromReassigning(i int32, done algo.ReplicaAssignment, then func()) {
	p := &c.ctx.parts[i]
	delete(c.ctx.reassigning, i)
	if !p.watchISR {
		then()
		return
	}
	p.watchISR = false
	c.unregister(c.statePath(i), false)
	tp := c.ctx.tp(i)
	c.removeFromZkReassignment(func(e kafkazk.PartitionReplicas) bool {
		return e.Topic == tp.Topic && e.Partition == tp.Partition && slices.Equal(e.Replicas, done.Replicas)
	}, then)
}

// removeFromZkReassignment is maybeRemoveFromZkReassignment: drop the
// entries drop selects from /admin/reassign_partitions, deleting it when
// none is left (then re-arming the watch with an exists call).
func (c *Controller) removeFromZkReassignment(drop func(kafkazk.PartitionReplicas) bool, then func()) {
	path := kafkazk.ReassignPartitionsPath
	c.zk([]fakezk.Request{&fakezk.GetDataRequest{Path: path}}, 0, func(rs []fakezk.Response) {
		if rs[0].Err != nil {
			then()
			return
		}
		r, err := kafkazk.DecodeReassignPartitions(rs[0].Data)
		if err != nil {
			then()
			return
		}
		var keep []kafkazk.PartitionReplicas
		for _, e := range r.Partitions {
			if !drop(e) {
				keep = append(keep, e)
			}
		}
		var req fakezk.Request
		if len(keep) == 0 {
			req = c.fenced(&fakezk.DeleteRequest{Path: path, Version: -1})
		} else {
			req = c.fenced(&fakezk.SetDataRequest{Path: path, Data: kafkazk.ReassignPartitions{Partitions: keep}.Encode(), Version: -1})
		}
		c.zk([]fakezk.Request{req}, 0, func(rs []fakezk.Response) {
			if c.anyMoved(rs) {
				c.controllerMoved()
				return
			}
			if len(keep) > 0 {
				then()
				return
			}
			c.zk([]fakezk.Request{&fakezk.ExistsRequest{Path: path}}, 0, func([]fakezk.Response) { then() })
		})
	})
}
