package consumer

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/broker07"
	"github.com/kzsim/kzsim/nodes/kafka/consumer/assign"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/rpc"
)

// requestRebalance is a listener's rebalanceEventTriggered (and
// handleNewSession's direct call): a rebalance starts now unless one is
// running or the consumer is not registered, in which case it is queued,
// and every change heard meanwhile coalesces into that one (KAFKA-1139).
// Simplified: the watcher executor's wake-up is immediate (Kafka's waits on
// a condition signalled by the trigger, polling every second).
func (c *Consumer) requestRebalance(reason string) {
	if c.phase != phaseRunning || c.rebalancing || c.shuttingDown {
		if c.pending == "" {
			c.pending = reason
		}
		return
	}
	c.rebalancing = true
	c.attempt = 0
	c.emit(RebalanceStarted{Group: c.cfg.Group, ConsumerID: c.id, Reason: reason})
	c.runAttempt()
}

// endRebalance: syncedRebalance returned (or threw); a queued change
// starts the next.
func (c *Consumer) endRebalance() {
	c.rebalancing = false
	if c.pending != "" && c.phase == phaseRunning && !c.shuttingDown {
		reason := c.pending
		c.pending = ""
		c.requestRebalance(reason)
	}
}

// attempt is one rebalance attempt's working state.
type attempt struct {
	gen       uint64
	share     []assign.TopicPartition
	threads   map[proto.TopicPartition]string
	offsets   map[proto.TopicPartition]int64
	created   []proto.TopicPartition // owner znodes this attempt made (or found with its data)
	exists    []proto.TopicPartition // owner znodes in the way, to read back
	conflicts []proto.TopicPartition // held by another thread
	claimErr  string                 // a claim's other error
}

func (c *Consumer) current(a *attempt) bool { return a.gen == c.attemptGen && c.rebalancing }

// runAttempt is one turn of syncedRebalance's loop: rebalance(cluster).
func (c *Consumer) runAttempt() {
	if c.shuttingDown { // checked before every attempt from 0.9.0.0
		c.endRebalance()
		return
	}
	c.attempt++
	c.attemptGen++
	a := &attempt{gen: c.attemptGen}
	// The cluster, and my own registration (my topics and threads).
	// Simplified: getCluster's reads of each broker's registration are left
	// out; the leader finder reads them when it needs them.
	c.zk([]fakezk.Request{&fakezk.GetChildrenRequest{Path: kafkazk.BrokerIDsPath}, &fakezk.GetDataRequest{Path: c.idsPath() + "/" + c.id}}, func(rs []fakezk.Response) {
		if !c.current(a) {
			return
		}
		if err := rs[0].Err; err != nil {
			c.attemptFailed(a, "reading /brokers/ids: "+err.Error(), nil)
			return
		}
		if err := rs[1].Err; err != nil {
			c.attemptFailed(a, "reading my registration: "+err.Error(), nil)
			return
		}
		if _, err := c.parseReg(rs[1].Data); err != nil {
			c.attemptFailed(a, err.Error(), nil)
			return
		}
		if len(rs[0].Children) == 0 && !c.cfg.Era07 { // 0.7 has no such case: it assigns nothing
			// KAFKA-969: no broker yet; subscribe to /brokers/ids and report
			// success without touching fetchers or owners.
			if !c.brokersWatched {
				c.brokersWatched = true
				c.emitHandler(kafkazk.BrokerIDsPath)
			}
			c.zk([]fakezk.Request{&fakezk.GetChildrenRequest{Path: kafkazk.BrokerIDsPath}}, func([]fakezk.Response) {})
			c.emit(RebalanceEnded{Group: c.cfg.Group, ConsumerID: c.id, Attempts: c.attempt, Owned: c.ownedList(), NoBrokers: true})
			c.endRebalance()
			return
		}
		// Stop all fetchers; commit what is owned (ownership still held).
		c.fetch.stop(c)
		if c.cfg.AutoCommitDisabled {
			c.release(a)
			return
		}
		c.commit(func(err error) {
			if !c.current(a) {
				return
			}
			if err != nil {
				c.attemptFailed(a, "committing offsets: "+err.Error(), nil)
				return
			}
			c.release(a)
		})
	})
}

// release is releasePartitionOwnership: delete the owner znode of each
// partition owned (NoNode is fine), then clear the registry.
func (c *Consumer) release(a *attempt) {
	owned := slices.SortedFunc(maps.Keys(c.registry), proto.Compare)
	if len(owned) == 0 {
		c.readGroup(a)
		return
	}
	reqs := make([]fakezk.Request, len(owned))
	for i, tp := range owned {
		reqs[i] = &fakezk.DeleteRequest{Path: c.ownerPath(tp), Version: -1}
	}
	c.zk(reqs, func(rs []fakezk.Response) {
		if !c.current(a) {
			return
		}
		for i, r := range rs {
			if r.Err != nil && !errors.Is(r.Err, fakezk.ErrNoNode) {
				c.attemptFailed(a, fmt.Sprintf("releasing %s: %v", owned[i], r.Err), nil)
				return
			}
		}
		clear(c.registry)
		c.readGroup(a)
	})
}

// readGroup reads every member's registration and the partitions of
// every topic any member subscribes to (0.10.2+: all topics of all
// members), then assigns.
func (c *Consumer) readGroup(a *attempt) {
	c.zk([]fakezk.Request{&fakezk.GetChildrenRequest{Path: c.idsPath()}}, func(rs []fakezk.Response) {
		if !c.current(a) {
			return
		}
		if rs[0].Err != nil {
			c.attemptFailed(a, "reading the group's members: "+rs[0].Err.Error(), nil)
			return
		}
		ids := slices.Sorted(slices.Values(rs[0].Children))
		reqs := make([]fakezk.Request, len(ids))
		for i, id := range ids {
			reqs[i] = &fakezk.GetDataRequest{Path: c.idsPath() + "/" + id}
		}
		c.zk(reqs, func(rs []fakezk.Response) {
			if !c.current(a) {
				return
			}
			subs := make([]assign.Subscription, len(ids))
			wildcard := false
			for i, r := range rs {
				if r.Err != nil {
					// getConsumersPerTopic's readData throws on a member gone.
					c.attemptFailed(a, fmt.Sprintf("reading member %s: %v", ids[i], r.Err), nil)
					return
				}
				s, err := c.parseReg(r.Data)
				if err != nil {
					c.attemptFailed(a, fmt.Sprintf("member %s: %v", ids[i], err), nil)
					return
				}
				subs[i] = s
				wildcard = wildcard || s.Pattern != assign.Static
			}
			if !wildcard {
				c.readPartitions(a, ids, subs, nil)
				return
			}
			c.zk([]fakezk.Request{&fakezk.GetChildrenRequest{Path: kafkazk.TopicsPath}}, func(rs []fakezk.Response) {
				if !c.current(a) {
					return
				}
				if rs[0].Err != nil {
					c.attemptFailed(a, "reading /brokers/topics: "+rs[0].Err.Error(), nil)
					return
				}
				c.readPartitions(a, ids, subs, slices.Sorted(slices.Values(rs[0].Children)))
			})
		})
	})
}

func (c *Consumer) readPartitions(a *attempt, ids []string, subs []assign.Subscription, topics []string) {
	members := make([]assign.Member, len(ids))
	all := map[string]bool{}
	for i, s := range subs {
		streams, err := s.Resolve(topics, true)
		if err != nil {
			c.attemptFailed(a, fmt.Sprintf("member %s: %v", ids[i], err), nil)
			return
		}
		members[i] = assign.Member{ID: ids[i], Streams: streams}
		for t := range streams {
			all[t] = true
		}
	}
	names := slices.Sorted(maps.Keys(all))
	if c.cfg.Era07 {
		c.readPartitions07(a, members, names)
		return
	}
	c.zkTopics(a, names, func(path string) fakezk.Request { return &fakezk.GetDataRequest{Path: path} }, func(rs []fakezk.Response) {
		partitions := map[string][]int32{}
		for i, r := range rs {
			if errors.Is(r.Err, fakezk.ErrNoNode) {
				continue // getPartitionsForTopics reads a missing topic as none
			}
			if r.Err != nil {
				c.attemptFailed(a, fmt.Sprintf("reading topic %s: %v", names[i], r.Err), nil)
				return
			}
			ta, err := kafkazk.DecodeTopicAssignment(r.Data)
			if err != nil {
				c.attemptFailed(a, err.Error(), nil)
				return
			}
			partitions[names[i]] = slices.Sorted(maps.Keys(ta.Partitions))
		}
		assignor := assign.Range
		if c.cfg.Strategy == StrategyRoundRobin {
			assignor = assign.RoundRobin
		}
		whole, err := assignor(members, partitions)
		if err != nil {
			c.attemptFailed(a, err.Error(), nil)
			return
		}
		a.share = whole.Of(c.id)
		a.threads = map[proto.TopicPartition]string{}
		for _, tp := range a.share {
			a.threads[ptp(tp)] = whole[tp].String()
		}
		c.fetchOffsets(a)
	})
}

// readPartitions07 is 0.7.2's getPartitionsForTopics: each topic's brokers
// (the children of /brokers/topics/<t>) and their partition counts, the
// partitions "<b>-<p>" sorted as strings, then Range07.
func (c *Consumer) readPartitions07(a *attempt, members []assign.Member, names []string) {
	c.zkTopics(a, names, func(path string) fakezk.Request { return &fakezk.GetChildrenRequest{Path: path} }, func(rs []fakezk.Response) {
		type reg struct {
			topic  string
			broker int32
		}
		var regs []reg
		var reads []fakezk.Request
		for i, r := range rs {
			if errors.Is(r.Err, fakezk.ErrNoNode) {
				// No broker has the topic yet: no partitions. An exists arms
				// the creation watch (zkclient's watchForChilds).
				c.zk([]fakezk.Request{&fakezk.ExistsRequest{Path: kafkazk.TopicPath(names[i])}}, func([]fakezk.Response) {})
				continue
			}
			if r.Err != nil {
				c.attemptFailed(a, fmt.Sprintf("reading topic %s: %v", names[i], r.Err), nil)
				return
			}
			for _, child := range slices.Sorted(slices.Values(r.Children)) {
				b, err := strconv.ParseInt(child, 10, 32)
				if err != nil || b < 0 || b > assign.MaxBroker07 {
					c.attemptFailed(a, fmt.Sprintf("topic %s: broker %q is not an id", names[i], child), nil)
					return
				}
				regs = append(regs, reg{names[i], int32(b)})
				reads = append(reads, &fakezk.GetDataRequest{Path: kafkazk.TopicPath(names[i]) + "/" + child})
			}
		}
		withCounts := func(rs []fakezk.Response) {
			if !c.current(a) {
				return
			}
			counts := map[string]map[int32]int32{}
			for i, r := range rs {
				if errors.Is(r.Err, fakezk.ErrNoNode) {
					continue // the broker went between the two reads
				}
				if r.Err != nil {
					c.attemptFailed(a, fmt.Sprintf("reading %s/%d: %v", kafkazk.TopicPath(regs[i].topic), regs[i].broker, r.Err), nil)
					return
				}
				n, err := strconv.ParseInt(string(r.Data), 10, 32)
				if err != nil || n < 0 || n > assign.MaxPart07+1 {
					c.attemptFailed(a, fmt.Sprintf("topic %s: broker %d registers %q partitions", regs[i].topic, regs[i].broker, r.Data), nil)
					return
				}
				if counts[regs[i].topic] == nil {
					counts[regs[i].topic] = map[int32]int32{}
				}
				counts[regs[i].topic][regs[i].broker] = int32(n)
			}
			partitions := map[string][]assign.BrokerPartition{}
			for _, t := range slices.Sorted(maps.Keys(counts)) {
				bps, err := assign.BrokerPartitions(counts[t])
				if err != nil {
					c.attemptFailed(a, err.Error(), nil)
					return
				}
				partitions[t] = bps
			}
			whole, err := assign.Range07(members, partitions)
			if err != nil {
				c.attemptFailed(a, err.Error(), nil)
				return
			}
			a.share, a.threads = nil, map[proto.TopicPartition]string{}
			for _, tbp := range whole.Of(c.id) {
				tp := assign.TopicPartition{Topic: tbp.Topic, Partition: tbp.Pack07()}
				a.share = append(a.share, tp)
				a.threads[ptp(tp)] = whole[tbp].String()
			}
			c.fetchOffsets(a)
		}
		if len(reads) == 0 {
			withCounts(nil)
			return
		}
		c.zk(reads, withCounts)
	})
}

// resolveOffsets07 asks each partition's broker for its earliest or latest
// offset (auto.offset.reset), for the partitions of the share with no
// committed offset: 0.7.2's rebalance does it itself (earliestOrLatestOffset
// in addPartitionTopicInfo); an answer missing fails the attempt.
func (c *Consumer) resolveOffsets07(a *attempt, missing []proto.TopicPartition) {
	brokers := map[int32]bool{}
	for _, tp := range missing {
		brokers[assign.Unpack07(tp.Partition).Broker] = true
	}
	ids := slices.Sorted(maps.Keys(brokers))
	reqs := make([]fakezk.Request, len(ids))
	for i, b := range ids {
		reqs[i] = &fakezk.GetDataRequest{Path: broker07.IDPath(b)}
	}
	c.zk(reqs, func(rs []fakezk.Response) {
		if !c.current(a) {
			return
		}
		hosts := map[int32]string{}
		for i, r := range rs {
			bi, err := broker07.ParseBrokerInfo(string(r.Data))
			if r.Err != nil || err != nil {
				c.attemptFailed(a, fmt.Sprintf("finding broker %d for an offset: %v", ids[i], errors.Join(r.Err, err)), nil)
				return
			}
			hosts[ids[i]] = bi.Host
		}
		when := broker07.LatestTime
		if c.cfg.AutoOffsetReset == ResetSmallest {
			when = broker07.EarliestTime
		}
		left := len(missing)
		failed := false
		for _, tp := range missing {
			b := assign.Unpack07(tp.Partition).Broker
			c.send(hosts[b], &broker07.OffsetsRequest{TopicPartition: c.wire(tp), Time: when}, func(resp rpc.Payload, err error) {
				if !c.current(a) || failed {
					return
				}
				or, ok := resp.(*broker07.OffsetsResponse)
				if err == nil && (!ok || or.Error != proto.None) {
					err = fmt.Errorf("answer %v", resp)
				}
				if err != nil {
					failed = true
					c.attemptFailed(a, fmt.Sprintf("asking broker %d for the offset of %s: %v", b, tp, err), nil)
					return
				}
				a.offsets[tp] = or.Offset
				c.emit(OffsetReset{Group: c.cfg.Group, ConsumerID: c.id, TP: tp, From: -1, To: or.Offset, Policy: c.cfg.AutoOffsetReset})
				if left--; left == 0 {
					c.claim(a)
				}
			})
		}
	})
}

// zkTopics sends one request per topic, mk making it from the topic's path
// /brokers/topics/<t>; cont gets the answers while a is the current attempt.
func (c *Consumer) zkTopics(a *attempt, names []string, mk func(path string) fakezk.Request, cont func([]fakezk.Response)) {
	reqs := make([]fakezk.Request, len(names))
	for i, t := range names {
		reqs[i] = mk(kafkazk.TopicPath(t))
	}
	c.zk(reqs, func(rs []fakezk.Response) {
		if c.current(a) {
			cont(rs)
		}
	})
}

func ptp(tp assign.TopicPartition) proto.TopicPartition {
	return proto.TopicPartition{Topic: tp.Topic, Partition: tp.Partition}
}

// fetchOffsets reads the committed offset of each partition of the share
// (fetchOffsetFromZooKeeper): −1 where there is none.
func (c *Consumer) fetchOffsets(a *attempt) {
	a.offsets = map[proto.TopicPartition]int64{}
	if len(a.share) == 0 {
		c.claim(a)
		return
	}
	reqs := make([]fakezk.Request, len(a.share))
	for i, tp := range a.share {
		reqs[i] = &fakezk.GetDataRequest{Path: c.offsetPath(ptp(tp))}
	}
	c.zk(reqs, func(rs []fakezk.Response) {
		if !c.current(a) {
			return
		}
		for i, r := range rs {
			tp := ptp(a.share[i])
			switch {
			case errors.Is(r.Err, fakezk.ErrNoNode):
				a.offsets[tp] = -1
			case r.Err != nil:
				c.attemptFailed(a, fmt.Sprintf("reading the offset of %s: %v", tp, r.Err), nil)
				return
			default:
				off, err := strconv.ParseInt(string(r.Data), 10, 64)
				if err != nil {
					c.attemptFailed(a, fmt.Sprintf("offset of %s is %q, not a decimal number", tp, r.Data), nil)
					return
				}
				a.offsets[tp] = off
				c.checkpointed[tp] = off
			}
		}
		if c.cfg.Era07 {
			var missing []proto.TopicPartition
			for _, tp := range a.share {
				if a.offsets[ptp(tp)] < 0 {
					missing = append(missing, ptp(tp))
				}
			}
			if len(missing) > 0 {
				c.resolveOffsets07(a, missing)
				return
			}
		}
		c.claim(a)
	})
}

// claim is reflectPartitionOwnershipDecision: create each owner znode with
// the thread id (createEphemeralPathExpectConflict: a node holding the same
// data is ours; its missing parents are created first). Simplified: the
// creates are pipelined; Kafka makes them one after the other.
func (c *Consumer) claim(a *attempt) {
	if len(a.share) == 0 {
		c.succeed(a)
		return
	}
	tps := make([]proto.TopicPartition, len(a.share))
	for i, tp := range a.share {
		tps[i] = ptp(tp)
	}
	c.createOwners(a, tps, true, func() { c.checkExisting(a) })
}

// createOwners creates the owner znodes of tps; on NoNode (the first time)
// it creates the parents and tries those again. NodeExists goes to
// a.exists, to be read back.
func (c *Consumer) createOwners(a *attempt, tps []proto.TopicPartition, first bool, done func()) {
	reqs := make([]fakezk.Request, len(tps))
	for i, tp := range tps {
		reqs[i] = &fakezk.CreateRequest{Path: c.ownerPath(tp), Data: []byte(a.threads[tp]), Acl: acl, Flags: fakezk.FlagEphemeral}
	}
	c.zk(reqs, func(rs []fakezk.Response) {
		if !c.current(a) {
			return
		}
		var noParent []proto.TopicPartition
		for i, r := range rs {
			switch {
			case r.Err == nil:
				a.created = append(a.created, tps[i])
			case errors.Is(r.Err, fakezk.ErrNodeExists):
				a.exists = append(a.exists, tps[i])
			case errors.Is(r.Err, fakezk.ErrNoNode) && first:
				noParent = append(noParent, tps[i])
			case a.claimErr == "":
				a.claimErr = fmt.Sprintf("claiming %s: %v", tps[i], r.Err)
			}
		}
		if len(noParent) == 0 {
			done()
			return
		}
		paths := []string{c.groupPath() + "/owners"}
		for _, tp := range noParent {
			if p := c.ownersPath(tp.Topic); !slices.Contains(paths, p) {
				paths = append(paths, p)
			}
		}
		reqs := make([]fakezk.Request, len(paths))
		for i, p := range paths {
			reqs[i] = persistent(p)
		}
		c.zk(reqs, func(rs []fakezk.Response) {
			if !c.current(a) {
				return
			}
			for i, r := range rs {
				if r.Err != nil && !errors.Is(r.Err, fakezk.ErrNodeExists) && a.claimErr == "" {
					a.claimErr = fmt.Sprintf("creating %s: %v", paths[i], r.Err)
				}
			}
			c.createOwners(a, noParent, false, done)
		})
	})
}

// checkExisting reads back each owner znode that was in the way: the same
// thread id is ours (a create applied before a connection loss), another
// is a conflict: its owner has not released it yet.
func (c *Consumer) checkExisting(a *attempt) {
	if len(a.exists) == 0 {
		c.claimsDone(a)
		return
	}
	reqs := make([]fakezk.Request, len(a.exists))
	for i, tp := range a.exists {
		reqs[i] = &fakezk.GetDataRequest{Path: c.ownerPath(tp)}
	}
	c.zk(reqs, func(rs []fakezk.Response) {
		if !c.current(a) {
			return
		}
		for i, r := range rs {
			tp := a.exists[i]
			if r.Err == nil && bytes.Equal(r.Data, []byte(a.threads[tp])) {
				a.created = append(a.created, tp) // "exists with value … during connection loss; this is ok"
				continue
			}
			a.conflicts = append(a.conflicts, tp) // gone meanwhile (null stored data) fails too
		}
		c.claimsDone(a)
	})
}

// claimsDone: if any claim failed, the partitions this attempt owned are
// released and the attempt fails; otherwise it succeeds.
func (c *Consumer) claimsDone(a *attempt) {
	if a.claimErr == "" && len(a.conflicts) == 0 {
		c.succeed(a)
		return
	}
	why := a.claimErr
	if why == "" {
		why = fmt.Sprintf("%d owner znodes held by other threads", len(a.conflicts))
	}
	slices.SortFunc(a.conflicts, proto.Compare)
	if len(a.created) == 0 {
		c.attemptFailed(a, why, a.conflicts)
		return
	}
	slices.SortFunc(a.created, proto.Compare)
	reqs := make([]fakezk.Request, len(a.created))
	for i, tp := range a.created {
		reqs[i] = &fakezk.DeleteRequest{Path: c.ownerPath(tp), Version: -1}
	}
	c.zk(reqs, func([]fakezk.Response) {
		if c.current(a) {
			c.attemptFailed(a, why, a.conflicts)
		}
	})
}

// succeed installs the new registry and starts the fetchers for it.
func (c *Consumer) succeed(a *attempt) {
	for _, tp := range a.share {
		p := ptp(tp)
		off := a.offsets[p]
		c.registry[p] = &partInfo{tp: p, thread: a.threads[p], consumed: off, fetched: off}
	}
	c.failed = false
	c.emit(RebalanceEnded{Group: c.cfg.Group, ConsumerID: c.id, Attempts: c.attempt, Owned: c.ownedList()})
	if !c.shuttingDown {
		c.fetch.start(c)
	}
	c.endRebalance()
}

// attemptFailed: the attempt returned false or threw. The fetchers are
// stopped, the queues cleared, what is owned committed, and the next
// attempt waits rebalance.backoff.ms (after the last one too, before the
// exception).
func (c *Consumer) attemptFailed(a *attempt, why string, conflicts []proto.TopicPartition) {
	c.fetch.stop(c)
	c.emit(RebalanceRetry{Group: c.cfg.Group, ConsumerID: c.id, Attempt: c.attempt, Why: why,
		Conflicts: slices.Clone(conflicts), Backoff: c.cfg.RebalanceBackoff})
	if !c.cfg.AutoCommitDisabled {
		c.commit(func(error) {})
	}
	c.emit(kproc.SetTimer{Name: timerBackoff, After: c.cfg.RebalanceBackoff})
}

func (c *Consumer) emitHandler(path string) { c.emit(kproc.ZKHandler{Path: path, Child: true}) }

// ownedList returns the registry's partitions in (topic, partition) order.
func (c *Consumer) ownedList() []proto.TopicPartition {
	return slices.SortedFunc(maps.Keys(c.registry), proto.Compare)
}
