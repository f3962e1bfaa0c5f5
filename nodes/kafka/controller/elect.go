package controller

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/config"
	"github.com/kzsim/kzsim/nodes/kafka/controller/algo"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
)

var openACL = fakezk.WorldACL(fakezk.PermAll)

// processStartup is the Startup event: arm the /controller watch
// (registerZNodeChangeHandlerAndCheckExistence), then elect.
func (c *Controller) processStartup() {
	c.zk([]fakezk.Request{&fakezk.ExistsRequest{Path: kafkazk.ControllerPath}}, 0, func([]fakezk.Response) { c.elect() })
}

// elect is KafkaController.elect (Kafka 2.6): read /controller and return
// if anyone holds it, even this broker (KAFKA-13407); otherwise read
// /controller_epoch and try to take /controller and bump the epoch.
func (c *Controller) elect() {
	c.zk([]fakezk.Request{&fakezk.GetDataRequest{Path: kafkazk.ControllerPath}}, 0, func(rs []fakezk.Response) {
		r := rs[0]
		switch {
		case r.Err == nil:
			d, err := kafkazk.DecodeController(r.Data)
			if err != nil {
				c.fail(err)
				return
			}
			c.activeID = d.BrokerID
			c.report(ElectionLost{Winner: d.BrokerID})
		case isErr(r.Err, fakezk.ErrNoNode):
			c.readEpochAndRegister()
		default:
			c.fail(fmt.Errorf("read /controller: %w", r.Err))
		}
	})
}

// readEpochAndRegister is the start of registerControllerAndIncrementControllerEpoch:
// read /controller_epoch, creating it with 0 if absent.
func (c *Controller) readEpochAndRegister() {
	c.zk([]fakezk.Request{&fakezk.GetDataRequest{Path: kafkazk.ControllerEpochPath}}, 0, func(rs []fakezk.Response) {
		r := rs[0]
		switch {
		case r.Err == nil:
			e, err := kafkazk.DecodeControllerEpoch(r.Data)
			if err != nil {
				c.fail(err)
				return
			}
			c.tryRegister(e, r.Stat.Version)
		case isErr(r.Err, fakezk.ErrNoNode):
			create := &fakezk.CreateRequest{Path: kafkazk.ControllerEpochPath, Data: kafkazk.EncodeControllerEpoch(kafkazk.InitialControllerEpoch), Acl: openACL}
			c.zk([]fakezk.Request{create}, 0, func(rs []fakezk.Response) {
				switch {
				case rs[0].Err == nil:
					c.tryRegister(kafkazk.InitialControllerEpoch, 0)
				case isErr(rs[0].Err, fakezk.ErrNodeExists):
					c.readEpochAndRegister()
				default:
					c.fail(fmt.Errorf("create /controller_epoch: %w", rs[0].Err))
				}
			})
		default:
			c.fail(fmt.Errorf("read /controller_epoch: %w", r.Err))
		}
	})
}

// tryRegister takes /controller and sets /controller_epoch to epoch+1 at
// version: 2.1+ in one multi (KafkaZkClient.tryCreateControllerZNodeAndIncrementEpoch),
// before as a create then a conditional set.
func (c *Controller) tryRegister(epoch int32, version int32) {
	next := epoch + 1
	data := kafkazk.ControllerData{BrokerID: c.cfg.BrokerID, TimestampMs: c.now.Millis()}.Encode()
	create := &fakezk.CreateRequest{Path: kafkazk.ControllerPath, Data: data, Acl: openACL, Flags: fakezk.FlagEphemeral}
	set := &fakezk.SetDataRequest{Path: kafkazk.ControllerEpochPath, Data: kafkazk.EncodeControllerEpoch(next), Version: version}
	if c.feat.FencedControllerWrites {
		c.zk([]fakezk.Request{&fakezk.MultiRequest{Ops: []fakezk.Op{create, set}}}, 0, func(rs []fakezk.Response) {
			r := rs[0]
			switch {
			case r.Err == nil:
				c.becomeActive(next, r.Multi[1].Stat.Version)
			case isErr(r.Err, fakezk.ErrNodeExists), isErr(r.Err, fakezk.ErrBadVersion):
				c.checkControllerAndEpoch(next)
			default:
				c.fail(fmt.Errorf("register controller: %w", r.Err))
			}
		})
		return
	}
	// Simplified: ≤2.0 created /controller through the checked-ephemeral
	// path; here a plain ephemeral create.
	c.zk([]fakezk.Request{create}, 0, func(rs []fakezk.Response) {
		switch {
		case rs[0].Err == nil:
			c.zk([]fakezk.Request{set}, 0, func(rs []fakezk.Response) {
				switch {
				case rs[0].Err == nil:
					c.becomeActive(next, rs[0].Stat.Version)
				case isErr(rs[0].Err, fakezk.ErrBadVersion):
					c.maybeResign(nil) // ControllerMovedException from incrementControllerEpoch
				default:
					c.fail(fmt.Errorf("increment /controller_epoch: %w", rs[0].Err))
				}
			})
		case isErr(rs[0].Err, fakezk.ErrNodeExists):
			c.maybeResign(nil)
		default:
			c.fail(fmt.Errorf("create /controller: %w", rs[0].Err))
		}
	})
}

// checkControllerAndEpoch: after NodeExists or BadVersion, an earlier
// attempt of ours may have landed; accept it if /controller names us and
// the epoch reads next, else the controller moved.
func (c *Controller) checkControllerAndEpoch(next int32) {
	c.zk([]fakezk.Request{&fakezk.GetDataRequest{Path: kafkazk.ControllerPath}}, 0, func(rs []fakezk.Response) {
		if rs[0].Err != nil {
			c.maybeResign(nil)
			return
		}
		d, err := kafkazk.DecodeController(rs[0].Data)
		if err != nil || d.BrokerID != c.cfg.BrokerID {
			c.maybeResign(nil)
			return
		}
		c.zk([]fakezk.Request{&fakezk.GetDataRequest{Path: kafkazk.ControllerEpochPath}}, 0, func(rs []fakezk.Response) {
			if rs[0].Err == nil {
				if e, err := kafkazk.DecodeControllerEpoch(rs[0].Data); err == nil && e == next {
					c.becomeActive(next, rs[0].Stat.Version)
					return
				}
			}
			c.maybeResign(nil)
		})
	})
}

// maybeResign is KafkaController.maybeResign: re-arm the /controller watch,
// read who is controller, resign if this broker was active and no longer
// is; then continue with then (nil: the event ends).
func (c *Controller) maybeResign(then func()) {
	wasActive := c.IsActive()
	c.zk([]fakezk.Request{&fakezk.ExistsRequest{Path: kafkazk.ControllerPath}}, 0, func([]fakezk.Response) {
		c.zk([]fakezk.Request{&fakezk.GetDataRequest{Path: kafkazk.ControllerPath}}, 0, func(rs []fakezk.Response) {
			c.activeID = -1
			if rs[0].Err == nil {
				if d, err := kafkazk.DecodeController(rs[0].Data); err == nil {
					c.activeID = d.BrokerID
				}
			}
			if wasActive && !c.IsActive() {
				c.onControllerResignation()
			}
			if then != nil {
				then()
			}
		})
	})
}

func (c *Controller) becomeActive(epoch, version int32) {
	c.activeID = c.cfg.BrokerID
	c.epoch, c.epochZkVersion = epoch, version
	c.report(BecameController{Epoch: epoch, EpochZkVersion: version})
	c.onControllerFailover()
}

// processControllerChange is the ControllerChange event (/controller
// created or changed): maybeResign.
func (c *Controller) processControllerChange() { c.maybeResign(nil) }

// processReelect is the Reelect event (/controller deleted): maybeResign,
// then elect.
func (c *Controller) processReelect() { c.maybeResign(c.elect) }

// triggerControllerMove is what Kafka does on an unexpected error during
// failover: resign, then delete /controller (fenced) so that another broker
// is elected.
func (c *Controller) triggerControllerMove(err error) {
	c.fail(err)
	if !c.IsActive() {
		return
	}
	c.onControllerResignation()
	c.activeID = -1
	c.zk([]fakezk.Request{c.fenced(&fakezk.DeleteRequest{Path: kafkazk.ControllerPath, Version: -1})}, 0, func([]fakezk.Response) {})
}

// register records and emits a handler registration made while active.
func (c *Controller) register(path string, child bool) {
	h := kproc.ZKHandler{Path: path, Child: child}
	c.handlers = append(c.handlers, h)
	c.emit(h)
}

// onControllerResignation (Kafka 2.6): unregister every handler but
// /controller's, stop the scheduler, close the senders, reset the context.
func (c *Controller) onControllerResignation() {
	for _, h := range c.handlers {
		h.Remove = true
		c.emit(h)
	}
	c.handlers = nil
	c.emit(kproc.CancelTimer{Name: timerRebalance})
	for _, id := range slices.Sorted(maps.Keys(c.senders)) {
		c.removeSender(id)
	}
	c.batch = requestBatch{}
	c.ctx = newContext()
	c.report(Resigned{Epoch: c.epoch})
}

// onControllerFailover (Kafka 2.6), in order: handlers, notification
// cleanup, the context, deletions, UpdateMetadata, the replica and
// partition state machines, then reassignments, deletions and preferred
// elections, and the rebalance timer.
func (c *Controller) onControllerFailover() {
	for _, p := range []string{kafkazk.BrokerIDsPath, kafkazk.TopicsPath, kafkazk.DeleteTopicsPath, kafkazk.LogDirEventPath, kafkazk.IsrChangeNotificationPath} {
		c.register(p, true)
	}
	c.register(kafkazk.PreferredReplicaPath, false)
	c.zk([]fakezk.Request{&fakezk.ExistsRequest{Path: kafkazk.PreferredReplicaPath}}, 0, func(rs []fakezk.Response) {
		preferredPending := rs[0].Err == nil && rs[0].Exists
		c.register(kafkazk.ReassignPartitionsPath, false)
		c.zk([]fakezk.Request{&fakezk.ExistsRequest{Path: kafkazk.ReassignPartitionsPath}}, 0, func(rs []fakezk.Response) {
			reassignPending := rs[0].Err == nil && rs[0].Exists
			c.deleteNotifications(kafkazk.LogDirEventPath, func() {
				c.deleteNotifications(kafkazk.IsrChangeNotificationPath, func() {
					c.initializeControllerContext(func() {
						c.failoverRest(preferredPending, reassignPending)
					})
				})
			})
		})
	})
}

func (c *Controller) failoverRest(preferredPending, reassignPending bool) {
	c.initTopicDeletion(func() {
		c.addUpdateMetadata(c.ctx.liveIDs)
		c.flush()
		c.replicaStateMachineStartup(func() {
			c.partitionStateMachineStartup(func() {
				c.report(FailoverDone{Epoch: c.epoch, Partitions: c.ctx.livePartitions, Offline: c.ctx.offlineCount})
				c.initializePartitionReassignments(reassignPending, func() {
					c.tryTopicDeletion(func() {
						c.pendingPreferredElections(preferredPending, func() {
							if c.cfg.Kafka.AutoLeaderRebalanceEnable {
								c.emit(kproc.SetTimer{Name: timerRebalance, After: config.AutoRebalanceFirstDelay})
							}
						})
					})
				})
			})
		})
	})
}

// deleteNotifications reads path's children and deletes them (fenced), as
// deleteLogDirEventNotifications and deleteIsrChangeNotifications do.
func (c *Controller) deleteNotifications(path string, then func()) {
	c.zk([]fakezk.Request{&fakezk.GetChildrenRequest{Path: path}}, 0, func(rs []fakezk.Response) {
		if rs[0].Err != nil {
			then()
			return
		}
		c.deleteChildren(path, rs[0].Children, then)
	})
}

func (c *Controller) deleteChildren(path string, children []string, then func()) {
	reqs := make([]fakezk.Request, 0, len(children))
	for _, ch := range children {
		reqs = append(reqs, c.fenced(&fakezk.DeleteRequest{Path: path + "/" + ch, Version: -1}))
	}
	c.zk(reqs, 0, func(rs []fakezk.Response) {
		if c.anyMoved(rs) {
			c.controllerMoved()
			return
		}
		then()
	})
}

// readBrokers is getAllBrokerAndEpochsInCluster: the children of
// /brokers/ids (arming the child watch), then each registration; k gets
// the brokers by id with their czxids.
func (c *Controller) readBrokers(k func(bs []*broker)) {
	c.zk([]fakezk.Request{&fakezk.GetChildrenRequest{Path: kafkazk.BrokerIDsPath}}, 0, func(rs []fakezk.Response) {
		if rs[0].Err != nil {
			c.fail(fmt.Errorf("read /brokers/ids: %w", rs[0].Err))
			return
		}
		var ids []int32
		for _, ch := range rs[0].Children {
			if id, err := strconv.ParseInt(ch, 10, 32); err == nil {
				ids = append(ids, int32(id))
			}
		}
		slices.Sort(ids)
		reqs := make([]fakezk.Request, len(ids))
		for k, id := range ids {
			reqs[k] = &fakezk.GetDataRequest{Path: kafkazk.BrokerIDPath(id)}
		}
		c.zk(reqs, 0, func(rs []fakezk.Response) {
			var bs []*broker
			for k, r := range rs {
				if r.Err != nil {
					continue // gone between the listing and the read
				}
				reg, err := kafkazk.DecodeBrokerRegistration(r.Data)
				if err != nil {
					continue
				}
				bs = append(bs, &broker{id: ids[k], epoch: r.Stat.Czxid, info: brokerInfo(ids[k], reg)})
			}
			k(bs)
		})
	})
}

// brokerInfo is the broker as requests name it: the first PLAINTEXT
// endpoint, else the first (simplified: Kafka picks the inter-broker
// listener).
func brokerInfo(id int32, reg kafkazk.BrokerRegistration) proto.Broker {
	b := proto.Broker{ID: id, Rack: reg.Rack}
	for k, e := range reg.Endpoints {
		if k == 0 || e.SecurityProtocol == "PLAINTEXT" {
			b.Host, b.Port = e.Host, e.Port
			if e.SecurityProtocol == "PLAINTEXT" {
				break
			}
		}
	}
	return b
}

// readTopics is getAllTopicsInCluster(registerWatch = true).
func (c *Controller) readTopics(k func(names []string)) {
	c.zk([]fakezk.Request{&fakezk.GetChildrenRequest{Path: kafkazk.TopicsPath}}, 0, func(rs []fakezk.Response) {
		if rs[0].Err != nil {
			c.fail(fmt.Errorf("read /brokers/topics: %w", rs[0].Err))
			return
		}
		names := slices.Clone(rs[0].Children)
		slices.Sort(names)
		k(names)
	})
}

// readAssignments is getFullReplicaAssignmentForTopics: each topic znode,
// arming the data watch its handler wants. k gets the assignments in the
// topics' order (nil for a topic that vanished or is malformed).
func (c *Controller) readAssignments(names []string, k func([]*kafkazk.TopicAssignment)) {
	reqs := make([]fakezk.Request, len(names))
	for i, n := range names {
		reqs[i] = &fakezk.GetDataRequest{Path: kafkazk.TopicPath(n)}
	}
	c.zk(reqs, 0, func(rs []fakezk.Response) {
		out := make([]*kafkazk.TopicAssignment, len(names))
		for i, r := range rs {
			if r.Err != nil {
				continue
			}
			if ta, err := kafkazk.DecodeTopicAssignment(r.Data); err == nil {
				out[i] = &ta
			}
		}
		k(out)
	})
}

// addTopicAssignment puts a topic's partitions in the context, in
// partition id order, and returns their indices.
func (c *Controller) addTopicAssignment(name string, ta *kafkazk.TopicAssignment) []int32 {
	ti := c.ctx.addTopic(name)
	pids := slices.Sorted(maps.Keys(ta.Partitions))
	var added []int32
	for _, pid := range pids {
		if _, ok := c.ctx.lookup(name, pid); ok {
			continue
		}
		a := ta.Partitions[pid]
		added = append(added, c.ctx.addPartition(ti, pid, algo.ReplicaAssignment{Replicas: a.Replicas, Adding: a.Adding, Removing: a.Removing}))
	}
	return added
}

// initializeControllerContext (Kafka 2.6): live brokers, topics and their
// assignments, a handler per broker (each an exists call of its own), every
// partition state, and a sender per live broker.
func (c *Controller) initializeControllerContext(then func()) {
	c.readBrokers(func(bs []*broker) {
		for _, b := range bs {
			c.ctx.addBroker(b)
		}
		c.readTopics(func(names []string) {
			for _, n := range names {
				c.register(kafkazk.TopicPath(n), false)
			}
			c.readAssignments(names, func(tas []*kafkazk.TopicAssignment) {
				for k, ta := range tas {
					if ta != nil {
						c.addTopicAssignment(names[k], ta)
					} else {
						c.ctx.addTopic(names[k])
					}
				}
				c.registerBrokerHandlers(slices.Clone(c.ctx.liveIDs), func() {
					c.loadPartitionStates(func() {
						for _, id := range c.ctx.liveIDs {
							c.addSender(c.ctx.brokers[id])
						}
						then()
					})
				})
			})
		})
	})
}

// registerBrokerHandlers is registerBrokerModificationsHandler: a handler
// and an exists call per broker, one after the other.
func (c *Controller) registerBrokerHandlers(ids []int32, then func()) {
	if len(ids) == 0 {
		then()
		return
	}
	c.register(kafkazk.BrokerIDPath(ids[0]), false)
	c.zk([]fakezk.Request{&fakezk.ExistsRequest{Path: kafkazk.BrokerIDPath(ids[0])}}, 0, func([]fakezk.Response) {
		c.registerBrokerHandlers(ids[1:], then)
	})
}

// loadPartitionStates is updateLeaderAndIsrCache over every partition:
// one read per state znode, ControllerPartitionLoad each.
func (c *Controller) loadPartitionStates(then func()) {
	n := len(c.ctx.parts)
	reqs := make([]fakezk.Request, 0, n)
	idx := make([]int32, 0, n)
	for i := range c.ctx.parts {
		p := &c.ctx.parts[i]
		if p.deleted {
			continue
		}
		tp := c.ctx.tp(int32(i))
		reqs = append(reqs, &fakezk.GetDataRequest{Path: kafkazk.PartitionStatePath(tp.Topic, tp.Partition)})
		idx = append(idx, int32(i))
	}
	c.zk(reqs, c.cfg.Costs.ControllerPartitionLoad, func(rs []fakezk.Response) {
		for k, r := range rs {
			if r.Err != nil {
				continue
			}
			st, err := kafkazk.DecodePartitionState(r.Data)
			if err != nil {
				continue
			}
			c.setLeadership(idx[k], st, r.Stat.Version)
		}
		then()
	})
}

// setLeadership stores a state read from or written to ZooKeeper.
func (c *Controller) setLeadership(i int32, st kafkazk.PartitionState, version int32) {
	p := &c.ctx.parts[i]
	p.leader, p.epoch, p.isr, p.ctrlEpoch, p.zkVersion, p.hasLeader = st.Leader, st.LeaderEpoch, st.ISR, st.ControllerEpoch, version, true
}
