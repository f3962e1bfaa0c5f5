package controller

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafkazk"
)

// zkChange turns a handler's event into the controller event Kafka 2.6's
// handler enqueues. Events of paths the controller does not handle (the
// broker's own) are ignored.
func (c *Controller) zkChange(in kproc.ZKChange) {
	p, kind := in.Path, in.Kind
	ev := func(name string, run func()) { c.enqueue(&event{name: name, run: run}) }
	switch {
	case p == kafkazk.ControllerPath:
		if kind == kproc.Deletion {
			ev("Reelect", c.processReelect)
		} else {
			ev("ControllerChange", c.processControllerChange)
		}
	case p == kafkazk.BrokerIDsPath && kind == kproc.ChildChange:
		ev("BrokerChange", c.processBrokerChange)
	case strings.HasPrefix(p, kafkazk.BrokerIDsPath+"/") && kind == kproc.DataChange:
		id, err := strconv.ParseInt(p[len(kafkazk.BrokerIDsPath)+1:], 10, 32)
		if err == nil {
			ev("BrokerModifications", func() { c.processBrokerModifications(int32(id)) })
		}
	case p == kafkazk.TopicsPath && kind == kproc.ChildChange:
		ev("TopicChange", c.processTopicChange)
	case strings.HasPrefix(p, kafkazk.TopicsPath+"/"):
		rest := strings.Split(p[len(kafkazk.TopicsPath)+1:], "/")
		switch {
		case len(rest) == 1 && kind == kproc.DataChange:
			t := rest[0]
			ev("PartitionModifications", func() { c.processPartitionModifications(t) })
		case len(rest) == 4 && rest[1] == "partitions" && rest[3] == "state":
			pid, err := strconv.ParseInt(rest[2], 10, 32)
			if err == nil {
				t := rest[0]
				ev("PartitionReassignmentIsrChange", func() { c.processReassignmentIsrChange(t, int32(pid)) })
			}
		}
	case p == kafkazk.DeleteTopicsPath && kind == kproc.ChildChange:
		ev("TopicDeletion", c.processTopicDeletion)
	case p == kafkazk.ReassignPartitionsPath && kind == kproc.Creation:
		ev("ZkPartitionReassignment", c.processZkPartitionReassignment)
	case p == kafkazk.PreferredReplicaPath && kind == kproc.Creation:
		ev("ReplicaLeaderElection", c.processPreferredReplicaElection)
	case p == kafkazk.IsrChangeNotificationPath && kind == kproc.ChildChange:
		ev("IsrChangeNotification", c.processIsrChangeNotification)
	case p == kafkazk.LogDirEventPath && kind == kproc.ChildChange:
		ev("LogDirEventNotification", c.processLogDirEvent)
	}
}

// processBrokerChange (Kafka 2.6): re-read /brokers/ids with epochs; new,
// then bounced (a larger czxid, 2.2+: failure then startup), then dead
// brokers, each group by id.
func (c *Controller) processBrokerChange() {
	if !c.IsActive() {
		return
	}
	c.readBrokers(func(bs []*broker) {
		var added, bounced, dead []*broker
		cur := map[int32]*broker{}
		for _, b := range bs {
			cur[b.id] = b
			old := c.ctx.brokers[b.id]
			switch {
			case old == nil:
				added = append(added, b)
			case c.feat.BrokerEpochs && b.epoch > old.epoch:
				bounced = append(bounced, b)
			}
		}
		for _, id := range c.ctx.liveIDs {
			if cur[id] == nil {
				dead = append(dead, c.ctx.brokers[id])
			}
		}
		for _, b := range added {
			c.addSender(b)
		}
		for _, b := range bounced {
			c.removeSender(b.id)
			c.addSender(b)
		}
		for _, b := range dead {
			c.removeSender(b.id)
		}
		c.brokersUp(added, false, func() {
			c.brokersBounced(bounced, func() {
				ids := make([]int32, len(dead))
				for k, b := range dead {
					ids[k] = b.id
					c.ctx.removeBroker(b.id)
					c.report(BrokerRemoved{Broker: b.id})
				}
				c.onBrokerFailure(ids, func() {})
			})
		})
	})
}

func (c *Controller) brokersUp(bs []*broker, bounced bool, then func()) {
	if len(bs) == 0 {
		then()
		return
	}
	ids := make([]int32, len(bs))
	for k, b := range bs {
		ids[k] = b.id
		c.ctx.addBroker(b)
		c.report(BrokerAdded{Broker: b.id, BrokerEpoch: b.epoch, Bounced: bounced})
	}
	c.onBrokerStartup(ids, then)
}

func (c *Controller) brokersBounced(bs []*broker, then func()) {
	if len(bs) == 0 {
		then()
		return
	}
	ids := make([]int32, len(bs))
	for k, b := range bs {
		ids[k] = b.id
		c.ctx.removeBroker(b.id)
		c.report(BrokerRemoved{Broker: b.id, Bounced: true})
	}
	c.onBrokerFailure(ids, func() { c.brokersUp(bs, true, then) })
}

// onBrokerStartup (Kafka 2.6): UpdateMetadata without partitions to the
// others and with every partition to the new brokers, their replicas
// OnlineReplica, the offline partitions elected, reassignments and
// deletions resumed, the broker handlers registered.
func (c *Controller) onBrokerStartup(ids []int32, then func()) {
	var existing []int32
	for _, id := range c.ctx.liveIDs {
		if !slices.Contains(ids, id) {
			existing = append(existing, id)
		}
	}
	c.addUpdateMetadata(existing)
	c.flush()
	all := make([]int32, 0, c.ctx.livePartitions)
	for i := range c.ctx.parts {
		if p := &c.ctx.parts[i]; !p.deleted && p.hasLeader {
			all = append(all, int32(i))
		}
	}
	c.addUpdateMetadata(ids, all...)
	c.flush()
	byReplica := map[int32][]int32{}
	for _, id := range ids {
		byReplica[id] = c.livePartsOn(id)
	}
	c.replicasOnline(byReplica)
	c.triggerOnline(func() {
		c.resumeReassignments(ids, func() {
			c.resumeDeletionsOn(ids, func() { c.registerBrokerHandlers(ids, then) })
		})
	})
}

// livePartsOn is the partitions with a replica on broker id.
func (c *Controller) livePartsOn(id int32) []int32 {
	var out []int32
	for _, i := range c.ctx.replicasOn[id] {
		if !c.ctx.parts[i].deleted {
			out = append(out, i)
		}
	}
	return out
}

// onBrokerFailure (Kafka 2.6, with onReplicasBecomeOffline): partitions
// whose leader is gone or shutting down go Offline and are elected; the
// dead replicas go OfflineReplica (replicas of topics being deleted fail
// their deletion instead); UpdateMetadata to all if no leader moved; the
// broker handlers are unregistered.
func (c *Controller) onBrokerFailure(ids []int32, then func()) {
	if len(ids) == 0 {
		then()
		return
	}
	offlineReplicas := map[int32][]int32{}
	var forDeletion []replicaRef
	leaderless := map[int32]struct{}{}
	for _, id := range ids {
		for _, i := range c.livePartsOn(id) {
			if c.ctx.queuedForDeletion(i) {
				forDeletion = append(forDeletion, replicaRef{i, id})
				continue
			}
			offlineReplicas[id] = append(offlineReplicas[id], i)
		}
	}
	// partitionsWithOfflineLeader, from the dead and shutting-down brokers'
	// partitions rather than a walk of every partition.
	for _, id := range append(slices.Clone(ids), slices.Sorted(maps.Keys(c.ctx.shuttingDown))...) {
		for _, i := range c.livePartsOn(id) {
			p := &c.ctx.parts[i]
			if p.hasLeader && p.leader == id && !c.ctx.online(id) && !c.ctx.queuedForDeletion(i) {
				leaderless[i] = struct{}{}
			}
		}
	}
	parts := slices.Sorted(maps.Keys(leaderless))
	c.toOffline(parts)
	c.triggerOnline(func() {
		c.replicasOffline(offlineReplicas, func() {
			c.failReplicaDeletion(forDeletion, func() {
				if len(parts) == 0 {
					c.addUpdateMetadata(c.ctx.liveIDs)
					c.flush()
				}
				for _, id := range ids {
					c.unregister(kafkazk.BrokerIDPath(id), false)
				}
				then()
			})
		})
	})
}

// replicaRef names one replica: partition index and broker.
type replicaRef struct {
	part   int32
	broker int32
}

// unregister removes a handler registered while active.
func (c *Controller) unregister(path string, child bool) {
	for k, h := range c.handlers {
		if h.Path == path && h.Child == child {
			c.handlers = slices.Delete(c.handlers, k, k+1)
			c.emit(kproc.ZKHandler{Path: path, Child: child, Remove: true})
			return
		}
	}
}

// processBrokerModifications (Kafka 2.6): a registration's data changed;
// new endpoints → UpdateMetadata to all.
func (c *Controller) processBrokerModifications(id int32) {
	if !c.IsActive() {
		return
	}
	c.zk([]fakezk.Request{&fakezk.GetDataRequest{Path: kafkazk.BrokerIDPath(id)}}, 0, func(rs []fakezk.Response) {
		old := c.ctx.brokers[id]
		if rs[0].Err != nil || old == nil {
			return
		}
		reg, err := kafkazk.DecodeBrokerRegistration(rs[0].Data)
		if err != nil {
			c.fail(err)
			return
		}
		if info := brokerInfo(id, reg); info != old.info {
			old.info = info
			c.addUpdateMetadata(c.ctx.liveIDs)
			c.flush()
		}
	})
}

// processTopicChange (Kafka 2.6): the topics added get a handler, their
// assignment is read and their partitions created; the topics gone are
// dropped from the context.
func (c *Controller) processTopicChange() {
	if !c.IsActive() {
		return
	}
	c.readTopics(func(names []string) {
		var added []string
		now := map[string]bool{}
		for _, n := range names {
			now[n] = true
			if ti, ok := c.ctx.topicIdx[n]; !ok || c.ctx.topics[ti].deleted {
				added = append(added, n)
			}
		}
		for ti := range c.ctx.topics {
			t := &c.ctx.topics[ti]
			if !t.deleted && !now[t.name] {
				c.removeTopic(int32(ti))
			}
		}
		for _, n := range added {
			c.register(kafkazk.TopicPath(n), false)
		}
		c.readAssignments(added, func(tas []*kafkazk.TopicAssignment) {
			var parts []int32
			for k, ta := range tas {
				if ta == nil {
					continue
				}
				c.reviveTopic(added[k])
				parts = append(parts, c.addTopicAssignment(added[k], ta)...)
			}
			c.onNewPartitionCreation(parts, func() {})
		})
	})
}

// reviveTopic clears a deleted topic's entry so a topic of the same name
// can be created again.
func (c *Controller) reviveTopic(name string) {
	if ti, ok := c.ctx.topicIdx[name]; ok && c.ctx.topics[ti].deleted {
		c.ctx.topics[ti] = topic{name: name}
	}
}

// removeTopic is ControllerContext.removeTopic: the topic's partitions
// leave the context.
func (c *Controller) removeTopic(ti int32) {
	t := &c.ctx.topics[ti]
	for _, i := range t.parts {
		if i >= 0 && !c.ctx.parts[i].deleted {
			if c.ctx.parts[i].watchISR {
				c.unregister(c.statePath(i), false)
			}
			c.ctx.dropPartition(i)
		}
	}
	t.parts = nil
	t.deleted, t.queued, t.started, t.ineligible = true, false, false, false
	c.ctx.deleting = slices.DeleteFunc(c.ctx.deleting, func(x int32) bool { return x == ti })
}

// onNewPartitionCreation (Kafka 2.6): NewPartition, NewReplica (nothing to
// send yet), OnlinePartition (the state znodes created), OnlineReplica
// (nothing to send for a new replica).
func (c *Controller) onNewPartitionCreation(parts []int32, then func()) {
	if len(parts) == 0 {
		then()
		return
	}
	for _, i := range parts {
		c.ctx.setState(i, stateNew)
	}
	c.toOnline(parts, electOffline, nil, func(done []int32) {
		online := make(map[int32]bool, len(done))
		for _, i := range done {
			online[i] = true
		}
		count, failed := map[int32]int{}, map[int32]int{}
		var order []int32
		for _, i := range parts {
			t := c.ctx.parts[i].topic
			if count[t] == 0 && failed[t] == 0 {
				order = append(order, t)
			}
			if online[i] {
				count[t]++
			} else {
				failed[t]++
			}
		}
		for _, t := range order {
			c.report(TopicCreated{Topic: c.ctx.topics[t].name, Partitions: count[t], Failed: failed[t]})
		}
		then()
	})
}

// processPartitionModifications (Kafka 2.6): partitions added to a topic's
// znode are created. For a topic queued for deletion they are not: 2.0+
// (KAFKA-6612) rewrites the znode with the partitions the controller knows
// (Kafka keeps those with a partitions/<p> znode, the same set here).
func (c *Controller) processPartitionModifications(name string) {
	if !c.IsActive() {
		return
	}
	ti, ok := c.ctx.topicIdx[name]
	if !ok || c.ctx.topics[ti].deleted {
		return
	}
	c.readAssignments([]string{name}, func(tas []*kafkazk.TopicAssignment) {
		if tas[0] == nil {
			return
		}
		if c.ctx.topics[ti].queued {
			if c.feat.TopicRewriteOnDeletedAdd {
				c.writeTopicAssignment(ti, func() {})
			}
			return
		}
		c.onNewPartitionCreation(c.addTopicAssignment(name, tas[0]), func() {})
	})
}

// processIsrChangeNotification (Kafka 2.6): read the notifications, refresh
// those partitions' states, UpdateMetadata to all, and delete the
// notifications read (in a finally: also after an error).
func (c *Controller) processIsrChangeNotification() {
	if !c.IsActive() {
		return
	}
	path := kafkazk.IsrChangeNotificationPath
	c.zk([]fakezk.Request{&fakezk.GetChildrenRequest{Path: path}}, 0, func(rs []fakezk.Response) {
		if rs[0].Err != nil {
			c.fail(fmt.Errorf("read %s: %w", path, rs[0].Err))
			return
		}
		children := slices.Sorted(slices.Values(rs[0].Children))
		reqs := make([]fakezk.Request, len(children))
		for k, ch := range children {
			reqs[k] = &fakezk.GetDataRequest{Path: path + "/" + ch}
		}
		c.zk(reqs, 0, func(rs []fakezk.Response) {
			seen := map[int32]bool{}
			var parts []int32
			for _, r := range rs {
				if r.Err != nil {
					continue
				}
				l, err := kafkazk.DecodePartitionList(kafkazk.KindIsrChange, r.Data)
				if err != nil {
					continue
				}
				for _, tp := range l.Partitions {
					if i, ok := c.ctx.lookup(tp.Topic, tp.Partition); ok && !seen[i] {
						seen[i] = true
						parts = append(parts, i)
					}
				}
			}
			slices.Sort(parts)
			c.readStates(parts, func(states []readState) {
				var known []int32
				for n, i := range parts {
					if states[n].err != nil {
						continue
					}
					c.setLeadership(i, states[n].st, states[n].version)
					known = append(known, i)
				}
				if len(known) > 0 {
					c.addUpdateMetadata(c.ctx.liveIDs, known...)
					c.flush()
				}
				c.deleteChildren(path, children, func() {})
			})
		})
	})
}

// processLogDirEvent: log directories never fail in the simulation
// (simplified: JBOD and KIP-112 are not modelled); the notifications are
// deleted, as Kafka deletes them once handled.
func (c *Controller) processLogDirEvent() {
	if !c.IsActive() {
		return
	}
	c.deleteNotifications(kafkazk.LogDirEventPath, func() {})
}
