package controller

import (
	"fmt"
	"maps"
	"slices"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/controller/algo"
	"github.com/kzsim/kzsim/nodes/kafkazk"
)

// strategy is a PartitionLeaderElectionStrategy.
type strategy uint8

const (
	electOffline strategy = iota
	electReassign
	electPreferred
	electControlledShutdown
)

// statePath is partition i's state znode.
func (c *Controller) statePath(i int32) string {
	tp := c.ctx.tp(i)
	return kafkazk.PartitionStatePath(tp.Topic, tp.Partition)
}

// replicaStateMachineStartup (ZkReplicaStateMachine.startup): replicas on
// live brokers go OnlineReplica (a LeaderAndIsr each, batched per broker),
// then the others OfflineReplica.
func (c *Controller) replicaStateMachineStartup(then func()) {
	offline := map[int32][]int32{}
	for i := range c.ctx.parts {
		p := &c.ctx.parts[i]
		if p.deleted {
			continue
		}
		for _, r := range p.replicas {
			if c.ctx.online(r) {
				if p.hasLeader {
					c.addLeaderAndIsr([]int32{r}, int32(i), false)
				}
			} else if !c.ctx.queuedForDeletion(int32(i)) {
				offline[r] = append(offline[r], int32(i))
			}
		}
	}
	c.flush()
	c.replicasOffline(offline, then)
}

// partitionStateMachineStartup (ZkPartitionStateMachine.startup): Online
// where the leader is live, Offline where it is not, New where there is no
// state; then triggerOnlinePartitionStateChange.
func (c *Controller) partitionStateMachineStartup(then func()) {
	for i := range c.ctx.parts {
		p := &c.ctx.parts[i]
		if p.deleted {
			continue
		}
		switch {
		case !p.hasLeader:
			c.ctx.setState(int32(i), stateNew)
		case c.ctx.online(p.leader):
			c.ctx.setState(int32(i), stateOnline)
		default:
			c.ctx.setState(int32(i), stateOffline)
		}
	}
	c.triggerOnline(then)
}

// triggerOnline is triggerOnlinePartitionStateChange: every New or Offline
// partition not queued for deletion goes Online with the offline election.
func (c *Controller) triggerOnline(then func()) {
	parts := make([]int32, 0, len(c.ctx.offline))
	for i := range c.ctx.offline {
		if !c.ctx.queuedForDeletion(i) {
			parts = append(parts, i)
		}
	}
	slices.Sort(parts)
	c.toOnline(parts, electOffline, nil, func([]int32) { then() })
}

// toOffline moves partitions to OfflinePartition (no ZooKeeper write); a
// PartitionOffline report follows only if the election that comes next
// finds no leader.
func (c *Controller) toOffline(parts []int32) {
	for _, i := range parts {
		c.ctx.setState(i, stateOffline)
	}
}

// toOnline is handleStateChanges(parts, OnlinePartition, strategy): New
// partitions get their first leader, the others an election; the batch is
// sent at the end. then gets the partitions that went online. target is
// the reassignment's target replicas per partition (electReassign only).
func (c *Controller) toOnline(parts []int32, st strategy, target map[int32][]int32, then func(done []int32)) {
	var fresh, elect []int32
	for _, i := range parts {
		switch c.ctx.parts[i].state {
		case stateNew:
			fresh = append(fresh, i)
		case stateOnline, stateOffline:
			elect = append(elect, i)
		}
	}
	c.initializeNew(fresh, func(done []int32) {
		c.electLeaders(elect, st, target, func(elected []int32) {
			c.flush()
			then(append(done, elected...))
		})
	})
}

// initializeNew is initializeLeaderAndIsrForPartitions: the first live
// replica leads, every live replica is in the ISR; the state znodes (and
// their parents) are created fenced; LeaderAndIsr with isNew to the ISR.
func (c *Controller) initializeNew(parts []int32, then func(done []int32)) {
	type init struct {
		i  int32
		st algo.LeaderAndIsr
	}
	var inits []init
	for _, i := range parts {
		st, ok := algo.InitialLeaderAndIsr(c.ctx.parts[i].replicas, c.ctx.liveness())
		if !ok {
			tp := c.ctx.tp(i)
			c.report(PartitionOffline{Topic: tp.Topic, Partition: tp.Partition})
			continue
		}
		inits = append(inits, init{i, st})
	}
	if len(inits) == 0 {
		then(nil)
		return
	}
	// createTopicPartitions, then createTopicPartition, then the states.
	var topicReqs, partReqs, stateReqs []fakezk.Request
	seen := map[int32]bool{}
	for _, in := range inits {
		tp := c.ctx.tp(in.i)
		if t := c.ctx.parts[in.i].topic; !seen[t] {
			seen[t] = true
			topicReqs = append(topicReqs, c.fenced(&fakezk.CreateRequest{Path: kafkazk.TopicPartitionsPath(tp.Topic), Acl: openACL}))
		}
		partReqs = append(partReqs, c.fenced(&fakezk.CreateRequest{Path: kafkazk.TopicPartitionPath(tp.Topic, tp.Partition), Acl: openACL}))
		data := c.stateOf(in.st).Encode()
		stateReqs = append(stateReqs, c.fenced(&fakezk.CreateRequest{Path: kafkazk.PartitionStatePath(tp.Topic, tp.Partition), Data: data, Acl: openACL}))
	}
	c.zk(topicReqs, 0, func(rs []fakezk.Response) {
		if c.anyMoved(rs) {
			c.controllerMoved()
			return
		}
		c.zk(partReqs, 0, func(rs []fakezk.Response) {
			if c.anyMoved(rs) {
				c.controllerMoved()
				return
			}
			c.zk(stateReqs, c.cfg.Costs.ControllerPartitionChange, func(rs []fakezk.Response) {
				if c.anyMoved(rs) {
					c.controllerMoved()
					return
				}
				var done []int32
				for k, r := range rs {
					res, _ := c.unfence(r)
					in := inits[k]
					if res.Err != nil {
						continue // logFailedStateChange: the partition stays New
					}
					c.setLeadership(in.i, c.stateOf(in.st), 0)
					c.ctx.setState(in.i, stateOnline)
					c.addLeaderAndIsr(in.st.ISR, in.i, true)
					c.reportElected(in.i, ElectionInitial)
					done = append(done, in.i)
				}
				then(done)
			})
		})
	})
}

func (c *Controller) reportElected(i int32, kind string) {
	p := &c.ctx.parts[i]
	tp := c.ctx.tp(i)
	c.report(LeaderElected{Topic: tp.Topic, Partition: tp.Partition, Leader: p.leader, LeaderEpoch: p.epoch, ISR: p.isr, ZkVersion: p.zkVersion, Election: kind})
}

// readStates re-reads the state znodes of parts
// (getTopicPartitionStatesRaw); k gets each decoded state with its version,
// or an error.
type readState struct {
	st      kafkazk.PartitionState
	version int32
	err     error
}

func (c *Controller) readStates(parts []int32, k func([]readState)) {
	reqs := make([]fakezk.Request, len(parts))
	for n, i := range parts {
		reqs[n] = &fakezk.GetDataRequest{Path: c.statePath(i)}
	}
	c.zk(reqs, c.cfg.Costs.ControllerPartitionChange, func(rs []fakezk.Response) {
		out := make([]readState, len(rs))
		for n, r := range rs {
			if r.Err != nil {
				out[n].err = r.Err
				continue
			}
			st, err := kafkazk.DecodePartitionState(r.Data)
			if err != nil {
				out[n].err = err
				continue
			}
			out[n] = readState{st: st, version: r.Stat.Version}
			if st.ControllerEpoch > c.epoch {
				out[n].err = fmt.Errorf("state written by controller epoch %d, newer than %d", st.ControllerEpoch, c.epoch)
			}
		}
		k(out)
	})
}

// electLeaders is electLeaderForPartitions: read the states, elect, write
// each conditionally on the version read (fenced); BadVersion is re-read
// and retried (1.1+) until nothing is left.
func (c *Controller) electLeaders(parts []int32, st strategy, target map[int32][]int32, then func(elected []int32)) {
	var elected []int32
	var round func(remaining []int32)
	round = func(remaining []int32) {
		if len(remaining) == 0 {
			then(elected)
			return
		}
		c.readStates(remaining, func(states []readState) {
			type write struct {
				i       int32
				next    algo.LeaderAndIsr
				unclean bool
				recips  []int32
			}
			var writes []write
			var reqs []fakezk.Request
			l := c.ctx.liveness()
			for n, i := range remaining {
				rs := states[n]
				if rs.err != nil {
					continue // logFailedStateChange
				}
				p := &c.ctx.parts[i]
				cur := algo.LeaderAndIsr{Leader: rs.st.Leader, LeaderEpoch: rs.st.LeaderEpoch, ISR: rs.st.ISR}
				var e algo.Election
				switch st {
				case electOffline:
					if c.feat.OfflineElectionAssignmentOrder {
						e = algo.ElectOffline(p.replicas, cur, l, c.cfg.Kafka.UncleanLeaderElectionEnable)
					} else {
						e = algo.ElectOfflineISROrder(p.replicas, cur, l, c.cfg.Kafka.UncleanLeaderElectionEnable)
					}
				case electReassign:
					e = algo.ElectReassign(target[i], cur, l)
				case electPreferred:
					e = algo.ElectPreferred(p.replicas, cur, l)
				case electControlledShutdown:
					e = algo.ElectControlledShutdown(p.replicas, cur, l)
				}
				if !e.Elected {
					if st == electOffline {
						c.ctx.setState(i, stateOffline)
						tp := c.ctx.tp(i)
						c.report(PartitionOffline{Topic: tp.Topic, Partition: tp.Partition})
					}
					continue
				}
				data := c.stateOf(e.State).Encode()
				writes = append(writes, write{i: i, next: e.State, unclean: e.Unclean, recips: e.Recipients})
				reqs = append(reqs, c.fenced(&fakezk.SetDataRequest{Path: c.statePath(i), Data: data, Version: rs.version}))
			}
			c.zk(reqs, 0, func(rs []fakezk.Response) {
				if c.anyMoved(rs) {
					c.controllerMoved()
					return
				}
				var retry []int32
				for n, r := range rs {
					res, _ := c.unfence(r)
					w := writes[n]
					switch {
					case res.Err == nil:
						c.setLeadership(w.i, c.stateOf(w.next), res.Stat.Version)
						c.ctx.setState(w.i, stateOnline)
						c.addLeaderAndIsr(w.recips, w.i, false)
						kind := electionKind(st, w.unclean)
						c.reportElected(w.i, kind)
						elected = append(elected, w.i)
					case isErr(res.Err, fakezk.ErrBadVersion) && c.feat.ControllerRetriesBadVersion:
						retry = append(retry, w.i)
					}
				}
				round(retry)
			})
		})
	}
	round(parts)
}

func electionKind(st strategy, unclean bool) string {
	switch st {
	case electReassign:
		return ElectionReassign
	case electPreferred:
		return ElectionPreferred
	case electControlledShutdown:
		return ElectionControlledShutdown
	}
	if unclean {
		return ElectionUnclean
	}
	return ElectionOffline
}

// removeFromIsr is algo.RemoveFromIsr, or before 1.1 (no KAFKA-5083) the
// removal of even the last member.
func (c *Controller) removeFromIsr(cur algo.LeaderAndIsr, replica int32) (algo.LeaderAndIsr, bool) {
	next, changed := algo.RemoveFromIsr(cur, replica)
	if changed && !c.feat.KeepLastIsrMember && len(cur.ISR) == 1 {
		next.ISR = []int32{}
	}
	return next, changed
}

// removeReplicaFromIsr is removeReplicasFromIsr for one replica: read the
// states, write those holding the replica without it (fenced, on the
// version read; BadVersion retried), and store every state read or
// written. then gets the partitions whose state is now known.
func (c *Controller) removeReplicaFromIsr(replica int32, parts []int32, then func(done []int32)) {
	var done []int32
	var round func(remaining []int32)
	round = func(remaining []int32) {
		if len(remaining) == 0 {
			then(done)
			return
		}
		c.readStates(remaining, func(states []readState) {
			var writes []int32
			var nexts []algo.LeaderAndIsr
			var reqs []fakezk.Request
			for n, i := range remaining {
				rs := states[n]
				if rs.err != nil {
					continue
				}
				cur := algo.LeaderAndIsr{Leader: rs.st.Leader, LeaderEpoch: rs.st.LeaderEpoch, ISR: rs.st.ISR}
				next, changed := c.removeFromIsr(cur, replica)
				if !changed {
					// Kafka stores the state read, at its own epoch.
					c.setLeadership(i, c.stateOf(cur), rs.version)
					done = append(done, i)
					continue
				}
				data := c.stateOf(next).Encode()
				writes = append(writes, i)
				nexts = append(nexts, next)
				reqs = append(reqs, c.fenced(&fakezk.SetDataRequest{Path: c.statePath(i), Data: data, Version: rs.version}))
			}
			c.zk(reqs, 0, func(rs []fakezk.Response) {
				if c.anyMoved(rs) {
					c.controllerMoved()
					return
				}
				var retry []int32
				for n, r := range rs {
					res, _ := c.unfence(r)
					i, next := writes[n], nexts[n]
					switch {
					case res.Err == nil:
						c.setLeadership(i, c.stateOf(next), res.Stat.Version)
						tp := c.ctx.tp(i)
						c.report(ISRChanged{Topic: tp.Topic, Partition: tp.Partition, Leader: next.Leader, LeaderEpoch: next.LeaderEpoch, ISR: next.ISR, ZkVersion: res.Stat.Version, Reason: "replica-offline"})
						done = append(done, i)
					case isErr(res.Err, fakezk.ErrBadVersion) && c.feat.ControllerRetriesBadVersion:
						retry = append(retry, i)
					}
				}
				round(retry)
			})
		})
	}
	round(parts)
}

// replicasOffline is handleStateChanges(replicas, OfflineReplica), the
// replicas grouped by broker: StopReplica (delete=false) to the replica,
// its removal from the ISR, LeaderAndIsr to the other replicas; the batch is
// sent at the end.
func (c *Controller) replicasOffline(byReplica map[int32][]int32, then func()) {
	ids := slices.Sorted(maps.Keys(byReplica))
	var next func(k int)
	next = func(k int) {
		if k == len(ids) {
			c.flush()
			then()
			return
		}
		r := ids[k]
		parts := byReplica[r]
		var withLeader []int32
		for _, i := range parts {
			c.addStopReplica([]int32{r}, i, false)
			if c.ctx.parts[i].hasLeader {
				withLeader = append(withLeader, i)
			} else {
				c.addUpdateMetadata(c.ctx.liveIDs, i)
			}
		}
		c.removeReplicaFromIsr(r, withLeader, func(done []int32) {
			for _, i := range done {
				if !c.ctx.queuedForDeletion(i) {
					c.addLeaderAndIsr(without(c.ctx.parts[i].replicas, r), i, false)
				}
			}
			next(k + 1)
		})
	}
	next(0)
}

// replicasOnline is handleStateChanges(replicas, OnlineReplica): a
// LeaderAndIsr with the current state to each replica.
func (c *Controller) replicasOnline(byReplica map[int32][]int32) {
	for _, r := range slices.Sorted(maps.Keys(byReplica)) {
		for _, i := range byReplica[r] {
			if c.ctx.parts[i].hasLeader {
				c.addLeaderAndIsr([]int32{r}, i, false)
			}
		}
	}
	c.flush()
}

func without(s []int32, r int32) []int32 {
	out := make([]int32, 0, len(s))
	for _, v := range s {
		if v != r {
			out = append(out, v)
		}
	}
	return out
}

// stateOf is the partition state znode this controller writes for l: the
// leader and ISR, stamped with its controller epoch.
func (c *Controller) stateOf(l algo.LeaderAndIsr) kafkazk.PartitionState {
	return kafkazk.PartitionState{Leader: l.Leader, LeaderEpoch: l.LeaderEpoch, ISR: l.ISR, ControllerEpoch: c.epoch}
}
