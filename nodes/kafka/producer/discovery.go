package producer

import (
	"errors"
	"slices"
	"strconv"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/broker07"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
)

const (
	brokerIDsPath = kafkazk.BrokerIDsPath
	topicsPath    = kafkazk.TopicsPath
)

func topicPath(t string) string { return kafkazk.TopicPath(t) }

// ---- metadata (the old Scala producer) ----

// startRefresh asks the bootstrap brokers, in a shuffled order, for the
// topics' metadata; the first answer wins (ClientUtils.fetchTopicMetadata).
func (p *Producer) startRefresh() {
	p.refreshing, p.needRefresh = true, false
	p.refreshOrder = slices.Clone(p.cfg.Bootstrap)
	p.cfg.Rand.Shuffle(len(p.refreshOrder), func(i, j int) {
		p.refreshOrder[i], p.refreshOrder[j] = p.refreshOrder[j], p.refreshOrder[i]
	})
	p.refreshIdx = 0
	p.sendMetadata()
}

func (p *Producer) sendMetadata() {
	id := p.newID()
	h := p.refreshOrder[p.refreshIdx]
	p.calls[id] = &call{kind: callMetadata, host: h}
	// Simplified: the Scala producer opens a connection of its own for each
	// metadata request; here it shares the client channel with produces.
	p.emit(kproc.Send{ID: id, Host: h, Channel: kproc.ChannelClient, Req: &proto.MetadataRequest{Topics: slices.Clone(p.cfg.Topics)}, Timeout: p.cfg.RequestTimeout})
}

func (p *Producer) metadataResult(in kproc.RPCResult) {
	resp, ok := in.Resp.(*proto.MetadataResponse)
	if in.Err != nil || !ok {
		p.refreshIdx++
		if p.refreshIdx < len(p.refreshOrder) {
			p.sendMetadata()
			return
		}
		// Every bootstrap broker failed: KafkaException, the round fails.
		p.refreshing, p.needRefresh = false, true
		p.refreshNotBefore = p.now.Add(p.cfg.RetryBackoff)
		why := "fetching topic metadata failed"
		if in.Err != nil {
			why += ": " + in.Err.Error()
		}
		kept := p.queue[:0:0]
		for _, m := range p.queue {
			if m.notBefore <= p.now && !p.attemptFailed(m, why, false) {
				continue
			}
			kept = append(kept, m)
		}
		p.queue = kept
		return
	}
	p.refreshing, p.refreshed = false, true
	p.lastRefresh = p.now
	p.refreshes++
	clear(p.brokers)
	for _, b := range resp.Brokers {
		p.brokers[b.ID] = b.Host
	}
	for _, t := range p.cfg.Topics {
		var parts []partInfo
		for _, pm := range resp.Partitions {
			if pm.Topic != t {
				continue
			}
			leader := pm.Leader
			if pm.Error != proto.None {
				leader = proto.NoLeader // a leaderless partition is kept, without a leader
			}
			parts = append(parts, partInfo{id: pm.Partition, leader: leader, leaderEpoch: pm.LeaderEpoch})
		}
		if len(parts) == 0 {
			continue // an error for the topic: the older entry stays (BrokerPartitionInfo.updateInfo)
		}
		slices.SortFunc(parts, func(a, b partInfo) int { return int(a.id) - int(b.id) })
		p.topics[t] = parts
	}
	p.viewChanged("metadata")
}

// viewChanged reports the view after a change; the sticky choices are
// forgotten (the Scala producer's sendPartitionPerTopicCache.clear on every
// metadata refresh; the zk producer clears them on every change it hears).
func (p *Producer) viewChanged(cause string) {
	p.sticky.Clear()
	parts, leaderless := 0, 0
	for _, t := range p.cfg.Topics {
		for _, pi := range p.topics[t] {
			parts++
			if p.leaderHost(pi) == "" {
				leaderless++
			}
		}
	}
	p.emit(ViewChanged{Cause: cause, Brokers: len(p.brokers), Partitions: parts, Leaderless: leaderless})
}

// ---- zk (Kafka 0.7.2's ZKBrokerPartitionInfo, on the 2.6 znodes) ----

func (p *Producer) zkBatch(c *call, reqs ...fakezk.Request) {
	id := p.newID()
	c.kind = callZK
	p.calls[id] = c
	p.emit(kproc.ZKBatch{ID: id, Reqs: reqs})
}

// zkLoad reads (and so watches) the brokers, the topic list, every topic
// and every partition state: at start, after a session re-initialisation.
func (p *Producer) zkLoad() {
	p.zkBatch(&call{read: zkBrokerIDs}, &fakezk.GetChildrenRequest{Path: brokerIDsPath})
	p.zkBatch(&call{read: zkTopicList}, &fakezk.GetChildrenRequest{Path: topicsPath})
	for _, t := range p.cfg.Topics {
		p.zkReadTopic(t, true)
	}
}

func (p *Producer) zkReadTopic(t string, all bool) {
	if p.cfg.Layout07 {
		p.zkBatch(&call{read: zkTopic07, topic: t}, &fakezk.GetChildrenRequest{Path: topicPath(t)})
		return
	}
	p.zkBatch(&call{read: zkTopic, topic: t, all: all}, &fakezk.GetDataRequest{Path: topicPath(t)})
}

func (p *Producer) zkReadStates(t string, ids []int32) {
	if len(ids) == 0 {
		return
	}
	reqs := make([]fakezk.Request, len(ids))
	for i, id := range ids {
		reqs[i] = &fakezk.GetDataRequest{Path: kafkazk.PartitionStatePath(t, id)}
	}
	p.zkBatch(&call{read: zkStates, topic: t, ids: ids}, reqs...)
}

func (p *Producer) zkChange(in kproc.ZKChange) {
	switch {
	case in.Path == brokerIDsPath:
		p.zkBatch(&call{read: zkBrokerIDs}, &fakezk.GetChildrenRequest{Path: brokerIDsPath})
	case in.Path == topicsPath:
		p.zkBatch(&call{read: zkTopicList}, &fakezk.GetChildrenRequest{Path: topicsPath})
	default:
		if tp, ok := p.statePaths[in.Path]; ok {
			p.zkReadStates(tp.Topic, []int32{tp.Partition})
			return
		}
		for _, t := range p.cfg.Topics {
			if in.Path == topicPath(t) {
				p.zkReadTopic(t, false)
			}
		}
	}
}

func (p *Producer) zkResult(in kproc.ZKResult) {
	c := p.calls[in.Req]
	if c == nil || c.kind != callZK {
		panic("producer: ZooKeeper result for an unknown request " + strconv.FormatUint(uint64(in.Req), 10))
	}
	delete(p.calls, in.Req)
	switch c.read {
	case zkBrokerIDs:
		p.zkBrokerIDs(in.Resps[0])
	case zkBrokerData:
		changed := false
		for i, r := range in.Resps {
			id := c.ids[i]
			if r.Err != nil || !p.listed[id] {
				continue
			}
			h, ok := p.brokerHost(r.Data)
			if !ok {
				continue // an unreadable registration: the broker stays unknown
			}
			if p.brokers[id] != h {
				p.brokers[id], changed = h, true
			}
		}
		if changed {
			p.viewChanged("zk-brokers")
			if p.cfg.Layout07 {
				// A topic registration read before its broker's was dropped
				// (not live yet): read the topics again.
				for _, t := range p.cfg.Topics {
					p.zkReadTopic(t, false)
				}
			}
		}
	case zkTopicList:
		r := in.Resps[0]
		if errors.Is(r.Err, fakezk.ErrNoNode) {
			p.emit(kproc.SetTimer{Name: timerZKRetry, After: ZKRetryInterval})
			return
		}
		for _, t := range p.cfg.Topics {
			if _, known := p.topics[t]; !known && slices.Contains(r.Children, t) {
				p.zkReadTopic(t, false)
			}
		}
	case zkTopic:
		p.zkTopic(c, in.Resps[0])
	case zkStates:
		p.zkStates(c, in.Resps)
	case zkTopic07:
		p.zkTopic07(c, in.Resps[0])
	case zkTopic07Counts:
		p.zkTopic07Counts(c, in.Resps)
	case zkStateExists:
		var again []int32
		for i, r := range in.Resps {
			if r.Err == nil && r.Exists {
				again = append(again, c.ids[i])
			}
		}
		p.zkReadStates(c.topic, again)
	}
}

func (p *Producer) zkBrokerIDs(r fakezk.Response) {
	if errors.Is(r.Err, fakezk.ErrNoNode) {
		p.emit(kproc.SetTimer{Name: timerZKRetry, After: ZKRetryInterval})
		return
	}
	if r.Err != nil {
		return // the session expired: the re-initialisation reads again
	}
	p.brokersRead = true
	now := map[int32]bool{}
	var fresh []int32
	for _, s := range r.Children {
		v, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			continue
		}
		id := int32(v)
		now[id] = true
		if _, ok := p.brokers[id]; !ok {
			fresh = append(fresh, id)
		}
	}
	slices.Sort(fresh)
	gone := false
	for id := range p.brokers {
		if !now[id] {
			delete(p.brokers, id) // a vanished broker leaves every topic's view (its partitions are leaderless)
			gone = true
		}
	}
	if gone && p.cfg.Layout07 {
		// 0.7: removed from allBrokers and from every topic's set.
		for _, t := range p.cfg.Topics {
			p.topics[t] = slices.DeleteFunc(p.topics[t], func(pi partInfo) bool { return !now[pi.leader] })
		}
	}
	p.listed = now
	if gone {
		p.viewChanged("zk-brokers")
	}
	if len(fresh) > 0 {
		reqs := make([]fakezk.Request, len(fresh))
		for i, id := range fresh {
			reqs[i] = &fakezk.GetDataRequest{Path: kafkazk.BrokerIDPath(id)}
		}
		p.zkBatch(&call{read: zkBrokerData, ids: fresh}, reqs...)
	}
}

func (p *Producer) zkTopic(c *call, r fakezk.Response) {
	t := c.topic
	if r.Err != nil {
		if errors.Is(r.Err, fakezk.ErrNoNode) {
			p.topicRead[t] = true
			if _, ok := p.topics[t]; ok {
				delete(p.topics, t) // deleted: the topic list's watch tells if it comes back
				p.viewChanged("zk-topic-deleted")
			}
		}
		return
	}
	ta, err := kafkazk.DecodeTopicAssignment(r.Data)
	if err != nil {
		p.topicRead[t] = true
		return
	}
	p.topicRead[t] = true
	old := p.topics[t]
	var parts []partInfo
	var read []int32
	for id := range ta.Partitions {
		parts = append(parts, partInfo{id: id, leader: proto.NoLeader})
	}
	slices.SortFunc(parts, func(a, b partInfo) int { return int(a.id) - int(b.id) })
	for i := range parts {
		id := parts[i].id
		if j, ok := slices.BinarySearchFunc(old, id, func(pi partInfo, id int32) int { return int(pi.id) - int(id) }); ok {
			parts[i] = old[j]
			if !c.all {
				continue
			}
		} else {
			path := kafkazk.PartitionStatePath(t, id)
			p.statePaths[path] = proto.TopicPartition{Topic: t, Partition: id}
			p.emit(kproc.ZKHandler{Path: path})
		}
		read = append(read, id)
	}
	p.topics[t] = parts
	p.zkReadStates(t, read)
}

func (p *Producer) zkStates(c *call, resps []fakezk.Response) {
	parts := p.topics[c.topic]
	var missing []int32
	changed := false
	for i, r := range resps {
		id := c.ids[i]
		j, ok := slices.BinarySearchFunc(parts, id, func(pi partInfo, id int32) int { return int(pi.id) - int(id) })
		if !ok {
			continue
		}
		leader, epoch := proto.NoLeader, int32(-1)
		switch {
		case r.Err == nil:
			st, err := kafkazk.DecodePartitionState(r.Data)
			if err != nil {
				continue
			}
			leader, epoch = st.Leader, st.LeaderEpoch
		case errors.Is(r.Err, fakezk.ErrNoNode):
			missing = append(missing, id) // not created yet: an exists arms the creation watch
		default:
			continue
		}
		if parts[j].leader != leader || parts[j].leaderEpoch != epoch {
			parts[j].leader, parts[j].leaderEpoch, changed = leader, epoch, true
		}
	}
	if len(missing) > 0 {
		reqs := make([]fakezk.Request, len(missing))
		for i, id := range missing {
			reqs[i] = &fakezk.ExistsRequest{Path: kafkazk.PartitionStatePath(c.topic, id)}
		}
		p.zkBatch(&call{read: zkStateExists, topic: c.topic, ids: missing}, reqs...)
	}
	if changed {
		p.viewChanged("zk-leaders")
	}
}

// brokerHost reads a broker registration's host: 2.6's JSON (its first
// endpoint), or 0.7's "<creatorId>:<host>:<port>".
func (p *Producer) brokerHost(data []byte) (string, bool) {
	if p.cfg.Layout07 {
		bi, err := broker07.ParseBrokerInfo(string(data))
		return bi.Host, err == nil
	}
	reg, err := kafkazk.DecodeBrokerRegistration(data)
	if err != nil || len(reg.Endpoints) == 0 {
		return "", false
	}
	return reg.Endpoints[0].Host, true
}

// zkTopic07 takes the brokers registered for a topic and reads their
// partition counts.
func (p *Producer) zkTopic07(c *call, r fakezk.Response) {
	if r.Err != nil {
		if errors.Is(r.Err, fakezk.ErrNoNode) {
			p.topicRead[c.topic] = true // not registered yet: the topic list's watch tells when it is
		}
		return
	}
	var ids []int32
	for _, s := range r.Children {
		if v, err := strconv.ParseInt(s, 10, 32); err == nil {
			ids = append(ids, int32(v))
		}
	}
	slices.Sort(ids)
	if len(ids) == 0 {
		p.topicRead[c.topic] = true
		return
	}
	reqs := make([]fakezk.Request, len(ids))
	for i, id := range ids {
		reqs[i] = &fakezk.GetDataRequest{Path: broker07.TopicPath(c.topic, id)}
	}
	p.zkBatch(&call{read: zkTopic07Counts, topic: c.topic, ids: ids}, reqs...)
}

// zkTopic07Counts merges a topic's re-read registrations into its set, as
// ZKBrokerPartitionInfo's topic listener does: the old set united with the
// pairs read, minus the brokers not live. Being a union, it never drops a
// partition of a live broker.
func (p *Producer) zkTopic07Counts(c *call, resps []fakezk.Response) {
	t := c.topic
	p.topicRead[t] = true
	set := map[partInfo]bool{}
	for _, pi := range p.topics[t] {
		set[pi] = true
	}
	for i, r := range resps {
		if r.Err != nil {
			continue
		}
		n, err := broker07.ParsePartitionCount(string(r.Data))
		if err != nil {
			continue
		}
		for part := range n {
			set[partInfo{id: int32(part), leader: c.ids[i]}] = true
		}
	}
	var list []partInfo
	for pi := range set {
		if _, live := p.brokers[pi.leader]; live {
			list = append(list, pi)
		}
	}
	slices.SortFunc(list, func(a, b partInfo) int {
		if a.leader != b.leader {
			return int(a.leader) - int(b.leader)
		}
		return int(a.id) - int(b.id)
	})
	if !slices.Equal(list, p.topics[t]) {
		p.topics[t] = list
		p.viewChanged("zk-topic")
	}
}
