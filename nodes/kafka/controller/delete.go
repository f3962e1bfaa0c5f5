package controller

import (
	"fmt"
	"maps"
	"slices"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
)

// Topic deletion as Kafka 2.6's TopicDeletionManager runs it: a topic
// named under /admin/delete_topics is queued; when eligible (no replica
// deletion running, not marked ineligible) its partitions go NonExistent
// in memory, every broker gets UpdateMetadata marking them deleted, live
// replicas go OfflineReplica then ReplicaDeletionStarted (StopReplica with
// delete) and replicas on dead brokers ReplicaDeletionIneligible; each
// StopReplica response marks replicas successful or ineligible; once all
// are successful the topic's znodes, its config and the marker are deleted
// (fenced).

// initTopicDeletion is fetchTopicDeletionsInProgress and
// TopicDeletionManager.init, at failover.
func (c *Controller) initTopicDeletion(then func()) {
	c.zk([]fakezk.Request{&fakezk.GetChildrenRequest{Path: kafkazk.DeleteTopicsPath}}, 0, func(rs []fakezk.Response) {
		if rs[0].Err != nil {
			then()
			return
		}
		names := slices.Sorted(slices.Values(rs[0].Children))
		if !c.cfg.Kafka.DeleteTopicEnable {
			c.deleteMarkers(names, then)
			return
		}
		for _, n := range names {
			ti, ok := c.ctx.topicIdx[n]
			if !ok || c.ctx.topics[ti].deleted {
				continue
			}
			c.queueTopic(ti)
			t := &c.ctx.topics[ti]
			for _, i := range t.parts {
				if i < 0 {
					continue
				}
				p := &c.ctx.parts[i]
				if _, r := c.ctx.reassigning[i]; r {
					t.ineligible = true
				}
				for _, b := range p.replicas {
					if !c.ctx.online(b) {
						t.ineligible = true
					}
				}
			}
		}
		then()
	})
}

// deleteMarkers deletes /admin/delete_topics/<t> for names (fenced).
func (c *Controller) deleteMarkers(names []string, then func()) {
	reqs := make([]fakezk.Request, len(names))
	for k, n := range names {
		reqs[k] = c.fenced(&fakezk.DeleteRequest{Path: kafkazk.DeleteTopicPath(n), Version: -1})
	}
	c.zk(reqs, 0, func(rs []fakezk.Response) {
		if c.anyMoved(rs) {
			c.controllerMoved()
			return
		}
		then()
	})
}

// queueTopic is queueTopicDeletion: the topic and a deletion state per
// replica.
func (c *Controller) queueTopic(ti int32) {
	t := &c.ctx.topics[ti]
	if t.queued {
		return
	}
	t.queued = true
	c.ctx.deleting = append(c.ctx.deleting, ti)
	for _, i := range t.parts {
		if i >= 0 {
			c.ctx.parts[i].rstate = make([]replicaState, len(c.ctx.parts[i].replicas))
		}
	}
}

// processTopicDeletion is the TopicDeletion event.
func (c *Controller) processTopicDeletion() {
	if !c.IsActive() {
		return
	}
	c.zk([]fakezk.Request{&fakezk.GetChildrenRequest{Path: kafkazk.DeleteTopicsPath}}, 0, func(rs []fakezk.Response) {
		if rs[0].Err != nil {
			c.fail(fmt.Errorf("read %s: %w", kafkazk.DeleteTopicsPath, rs[0].Err))
			return
		}
		var unknown, known []string
		for _, n := range slices.Sorted(slices.Values(rs[0].Children)) {
			if ti, ok := c.ctx.topicIdx[n]; ok && !c.ctx.topics[ti].deleted {
				known = append(known, n)
			} else {
				unknown = append(unknown, n)
			}
		}
		c.deleteMarkers(unknown, func() {
			if !c.cfg.Kafka.DeleteTopicEnable {
				c.deleteMarkers(known, func() {})
				return
			}
			for _, n := range known {
				ti := c.ctx.topicIdx[n]
				for _, i := range c.ctx.topics[ti].parts {
					if _, r := c.ctx.reassigning[i]; i >= 0 && r {
						c.ctx.topics[ti].ineligible = true
					}
				}
				c.queueTopic(ti)
			}
			c.resumeDeletions(func() {})
		})
	})
}

// tryTopicDeletion, at the end of failover, is resumeDeletions.
func (c *Controller) tryTopicDeletion(then func()) { c.resumeDeletions(then) }

// replicaStates counts topic ti's replicas in each deletion state.
func (c *Controller) replicaStates(ti int32) (total int, by [4]int) {
	for _, i := range c.ctx.topics[ti].parts {
		if i < 0 {
			continue
		}
		for _, s := range c.ctx.parts[i].rstate {
			total++
			by[s]++
		}
	}
	return total, by
}

// resumeDeletions (TopicDeletionManager.resumeDeletions): complete the
// topics whose replicas are all deleted, retry those with ineligible
// replicas and no deletion running, start the eligible ones.
func (c *Controller) resumeDeletions(then func()) {
	var complete, retry, eligible []int32
	for _, ti := range c.ctx.deleting {
		t := &c.ctx.topics[ti]
		total, by := c.replicaStates(ti)
		switch {
		case total > 0 && by[replicaDeletionSuccessful] == total:
			complete = append(complete, ti)
			continue
		case by[replicaDeletionStarted] == 0 && by[replicaDeletionIneligible] > 0:
			retry = append(retry, ti)
		}
		if t.queued && by[replicaDeletionStarted] == 0 && !t.ineligible {
			eligible = append(eligible, ti)
		}
	}
	forEach(complete, func(ti int32, next func()) { c.completeDeleteTopic(ti, next) }, func() {
		c.retryIneligible(retry, func() {
			c.onTopicDeletion(eligible, then)
		})
	})
}

// retryIneligible is retryDeletionForIneligibleReplicas: the failed
// replicas go OfflineReplica (from which deletion starts again).
func (c *Controller) retryIneligible(topics []int32, then func()) {
	by := map[int32][]int32{}
	for _, ti := range topics {
		c.ctx.topics[ti].ineligible = false
		for _, i := range c.ctx.topics[ti].parts {
			if i < 0 {
				continue
			}
			p := &c.ctx.parts[i]
			for k, s := range p.rstate {
				if s == replicaDeletionIneligible {
					p.rstate[k] = replicaLive
					by[p.replicas[k]] = append(by[p.replicas[k]], i)
				}
			}
		}
	}
	if len(by) == 0 {
		then()
		return
	}
	c.replicasOffline(by, then)
}

// onTopicDeletion and onPartitionDeletion.
func (c *Controller) onTopicDeletion(topics []int32, then func()) {
	if len(topics) == 0 {
		then()
		return
	}
	var parts []int32
	for _, ti := range topics {
		t := &c.ctx.topics[ti]
		for _, i := range t.parts {
			if i < 0 {
				continue
			}
			parts = append(parts, i)
			if !t.started {
				c.ctx.setState(i, stateNonExistent)
			}
		}
		t.started = true
	}
	c.addUpdateMetadata(c.ctx.liveIDs, parts...)
	c.flush()
	alive := map[int32][]int32{}
	for _, i := range parts {
		p := &c.ctx.parts[i]
		for k, r := range p.replicas {
			switch {
			case !c.ctx.online(r):
				p.rstate[k] = replicaDeletionIneligible
				c.ctx.topics[p.topic].ineligible = true
			case p.rstate[k] != replicaDeletionSuccessful:
				alive[r] = append(alive[r], i)
			}
		}
	}
	c.replicasOffline(alive, func() {
		for _, r := range slices.Sorted(maps.Keys(alive)) {
			for _, i := range alive[r] {
				p := &c.ctx.parts[i]
				p.rstate[slices.Index(p.replicas, r)] = replicaDeletionStarted
				c.addStopReplica([]int32{r}, i, true)
			}
		}
		c.flush()
		then()
	})
}

// processStopReplicaDeletionResponse is
// TopicDeletionStopReplicaResponseReceived: replicas answered without error
// are deleted, the others ineligible. A partition the response does not
// list takes the request's error.
func (c *Controller) processStopReplicaDeletionResponse(broker int32, req *proto.StopReplicaRequest, resp *proto.StopReplicaResponse) {
	if !c.IsActive() {
		return
	}
	errs := map[proto.TopicPartition]proto.ErrorCode{}
	for _, pe := range resp.Partitions {
		errs[pe.TopicPartition] = pe.Error
	}
	var failed []replicaRef
	succeeded := false
	for _, sp := range req.Partitions {
		if !sp.Delete {
			continue
		}
		i, ok := c.ctx.lookup(sp.Topic, sp.Partition)
		if !ok || !c.ctx.queuedForDeletion(i) {
			continue
		}
		p := &c.ctx.parts[i]
		k := slices.Index(p.replicas, broker)
		if k < 0 || p.rstate[k] != replicaDeletionStarted {
			continue
		}
		e := resp.Error
		if pe, ok := errs[sp.TopicPartition]; ok && e == proto.None {
			e = pe
		}
		if e != proto.None {
			failed = append(failed, replicaRef{i, broker})
			continue
		}
		p.rstate[k] = replicaDeletionSuccessful
		succeeded = true
	}
	c.failReplicaDeletion(failed, func() {
		if succeeded {
			c.resumeDeletions(func() {})
		}
	})
}

// failReplicaDeletion marks replicas ReplicaDeletionIneligible and their
// topics ineligible, then resumes deletions.
func (c *Controller) failReplicaDeletion(refs []replicaRef, then func()) {
	if len(refs) == 0 {
		then()
		return
	}
	for _, r := range refs {
		p := &c.ctx.parts[r.part]
		if k := slices.Index(p.replicas, r.broker); k >= 0 && p.rstate != nil {
			p.rstate[k] = replicaDeletionIneligible
		}
		c.ctx.topics[p.topic].ineligible = true
	}
	c.resumeDeletions(then)
}

// resumeDeletionsOn is resumeDeletionForTopics for the queued topics with
// replicas on brokers that just started.
func (c *Controller) resumeDeletionsOn(ids []int32, then func()) {
	found := false
	for _, id := range ids {
		for _, i := range c.livePartsOn(id) {
			if t := &c.ctx.topics[c.ctx.parts[i].topic]; t.queued {
				t.ineligible = false
				found = true
			}
		}
	}
	if !found {
		then()
		return
	}
	c.resumeDeletions(then)
}

// resumeDeletionOf is resumeDeletionForTopics for one topic (a reassignment
// of it completed).
func (c *Controller) resumeDeletionOf(ti int32, then func()) {
	t := &c.ctx.topics[ti]
	if !t.queued {
		t.ineligible = false
		then()
		return
	}
	t.ineligible = false
	c.resumeDeletions(then)
}

// completeDeleteTopic: the topic's handler goes, its znodes are deleted
// bottom up (fenced; simplified: Kafka's deleteRecursive lists each level's
// children first, here the layout is known), then its config and its
// marker; the topic leaves the context.
func (c *Controller) completeDeleteTopic(ti int32, then func()) {
	t := &c.ctx.topics[ti]
	name := t.name
	c.unregister(kafkazk.TopicPath(name), false)
	var states, partNodes []fakezk.Request
	for pid, i := range t.parts {
		if i < 0 {
			continue
		}
		states = append(states, c.fenced(&fakezk.DeleteRequest{Path: kafkazk.PartitionStatePath(name, int32(pid)), Version: -1}))
		partNodes = append(partNodes, c.fenced(&fakezk.DeleteRequest{Path: kafkazk.TopicPartitionPath(name, int32(pid)), Version: -1}))
	}
	rest := []fakezk.Request{c.fenced(&fakezk.DeleteRequest{Path: kafkazk.TopicPartitionsPath(name), Version: -1})}
	top := []fakezk.Request{c.fenced(&fakezk.DeleteRequest{Path: kafkazk.TopicPath(name), Version: -1})}
	cfg := []fakezk.Request{c.fenced(&fakezk.DeleteRequest{Path: kafkazk.ConfigEntityPath("topics", name), Version: -1})}
	marker := []fakezk.Request{c.fenced(&fakezk.DeleteRequest{Path: kafkazk.DeleteTopicPath(name), Version: -1})}
	steps := [][]fakezk.Request{states, partNodes, rest, top, cfg, marker}
	var run func(k int)
	run = func(k int) {
		if k == len(steps) {
			c.removeTopic(ti)
			c.report(TopicDeleted{Topic: name})
			then()
			return
		}
		c.zk(steps[k], 0, func(rs []fakezk.Response) {
			if c.anyMoved(rs) {
				c.controllerMoved()
				return
			}
			run(k + 1)
		})
	}
	run(0)
}
