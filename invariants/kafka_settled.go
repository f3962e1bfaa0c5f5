package invariants

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafkazk"
)

// maxMetadataExamples bounds how many disagreeing partitions one
// MetadataAgrees violation names; the rest are counted.
const maxMetadataExamples = 3

// CheckSettled checks the liveness invariants once, on the tree as it is
// now and on the cluster: ControllerIsLive, PartitionsHaveLiveLeaders and
// MetadataAgrees. The scenario calls it after the faults have healed and the
// cluster has settled (long enough for ISR change notifications to reach
// every broker's metadata: Kafka 2.6 propagates them within 5–60 s). It
// walks every partition state once, and every live broker's metadata once.
func (k *KafkaWatch) CheckSettled() {
	if k.cluster == nil {
		panic("invariants: KafkaWatch.CheckSettled: WatchKafka was given no KafkaCluster")
	}
	k.noticeReload()
	v := k.srv.View()
	k.checkController(v)
	zk := settledPartitions(v)
	k.checkLeaders(zk)
	for _, b := range slices.Sorted(slices.Values(k.cluster.Brokers())) {
		if k.cluster.Alive(b) {
			k.checkMetadata(b, zk)
		}
	}
}

// checkController checks ControllerIsLive.
func (k *KafkaWatch) checkController(v fakezk.View) {
	data, st, ok := v.Get(kafkazk.ControllerPath)
	if !ok {
		k.c.Liveness(ControllerIsLive, "no /controller: no broker is controller")
		return
	}
	cd, err := kafkazk.DecodeController(data)
	if err != nil {
		k.c.Liveness(ControllerIsLive, "%v", err)
		return
	}
	b, owner := cd.BrokerID, st.EphemeralOwner
	if !k.cluster.Alive(b) {
		k.c.Liveness(ControllerIsLive, "/controller names broker %d, which is not alive", b)
		return
	}
	session, ok := k.cluster.Session(b)
	switch {
	case !ok:
		k.c.Liveness(ControllerIsLive, "/controller names broker %d, which has no ZooKeeper session (/controller is owned by session 0x%x)", b, owner)
		return
	case session != owner:
		k.c.Liveness(ControllerIsLive, "/controller names broker %d but is owned by session 0x%x, not the broker's session 0x%x", b, owner, session)
		return
	}
	reg, ok := v.Exists(kafkazk.BrokerIDPath(b))
	switch {
	case !ok:
		k.c.Liveness(ControllerIsLive, "/controller names broker %d, which is not registered (no %s)", b, kafkazk.BrokerIDPath(b))
	case reg.EphemeralOwner != owner:
		k.c.Liveness(ControllerIsLive, "/controller names broker %d of session 0x%x, but %s is owned by session 0x%x",
			b, owner, kafkazk.BrokerIDPath(b), reg.EphemeralOwner)
	}
}

// zkPartition is one partition state znode, read at the end.
type zkPartition struct {
	tp    kafkazk.TopicPartition
	state kafkazk.PartitionState
}

// settled is the partitions ZooKeeper holds states for, in topic and
// partition order, and the topics queued for deletion.
type settled struct {
	parts    []zkPartition
	index    map[kafkazk.TopicPartition]int
	deleting map[string]bool
}

// settledPartitions reads every partition state znode once. A state that
// does not decode was reported when it was written and is left out.
func settledPartitions(v fakezk.View) settled {
	s := settled{index: map[kafkazk.TopicPartition]int{}, deleting: map[string]bool{}}
	marked, _, _ := v.Children(kafkazk.DeleteTopicsPath)
	for _, t := range marked {
		s.deleting[t] = true
	}
	topics, _, _ := v.Children(kafkazk.TopicsPath)
	for _, topic := range topics {
		names, _, _ := v.Children(kafkazk.TopicPartitionsPath(topic))
		ids := make([]int32, 0, len(names))
		for _, name := range names {
			if p, ok := parsePartition(name); ok {
				ids = append(ids, p)
			}
		}
		slices.Sort(ids)
		for _, p := range ids {
			data, _, ok := v.Get(kafkazk.PartitionStatePath(topic, p))
			if !ok {
				continue
			}
			st, err := kafkazk.DecodePartitionState(data)
			if err != nil {
				continue
			}
			tp := kafkazk.TopicPartition{Topic: topic, Partition: p}
			s.index[tp] = len(s.parts)
			s.parts = append(s.parts, zkPartition{tp: tp, state: st})
		}
	}
	return s
}

// checkLeaders checks PartitionsHaveLiveLeaders.
func (k *KafkaWatch) checkLeaders(zk settled) {
	for _, p := range zk.parts {
		if zk.deleting[p.tp.Topic] {
			continue
		}
		live := -1
		for i, r := range p.state.ISR {
			if k.cluster.Alive(r) {
				live = i
				break
			}
		}
		if live < 0 || (p.state.Leader != -1 && k.cluster.Alive(p.state.Leader)) {
			continue
		}
		what := "no leader"
		if p.state.Leader != -1 {
			what = fmt.Sprintf("leader %d, which is not alive", p.state.Leader)
		}
		k.c.Liveness(PartitionsHaveLiveLeaders, "partition %s-%d has %s, though its ISR %v has live broker %d (leader epoch %d)",
			p.tp.Topic, p.tp.Partition, what, p.state.ISR, p.state.ISR[live], p.state.LeaderEpoch)
	}
}

// checkMetadata checks MetadataAgrees for one live broker: one violation
// per broker, naming the first disagreements and counting them all.
func (k *KafkaWatch) checkMetadata(b int32, zk settled) {
	md, ok := k.cluster.Metadata(b)
	if !ok {
		k.c.Liveness(MetadataAgrees, "broker %d is alive but has no metadata", b)
		return
	}
	var examples []string
	bad := 0
	note := func(format string, args ...any) {
		bad++
		if len(examples) < maxMetadataExamples {
			examples = append(examples, fmt.Sprintf(format, args...))
		}
	}
	matched := 0
	for _, p := range zk.parts {
		if zk.deleting[p.tp.Topic] {
			continue
		}
		m, ok := md[p.tp]
		if !ok {
			note("%s-%d missing", p.tp.Topic, p.tp.Partition)
			continue
		}
		matched++
		z := p.state
		if m.Leader != z.Leader || m.LeaderEpoch != z.LeaderEpoch || !sameSet(m.ISR, z.ISR) {
			note("%s-%d leader %d epoch %d isr %v, ZooKeeper has leader %d epoch %d isr %v",
				p.tp.Topic, p.tp.Partition, m.Leader, m.LeaderEpoch, m.ISR, z.Leader, z.LeaderEpoch, z.ISR)
		}
	}
	if len(md) > matched {
		// Some partitions ZooKeeper does not have: find them, in order.
		var extra []kafkazk.TopicPartition
		for tp := range md {
			if _, ok := zk.index[tp]; !ok && !zk.deleting[tp.Topic] {
				extra = append(extra, tp)
			}
		}
		slices.SortFunc(extra, func(a, b kafkazk.TopicPartition) int {
			if c := strings.Compare(a.Topic, b.Topic); c != 0 {
				return c
			}
			return int(a.Partition) - int(b.Partition)
		})
		for _, tp := range extra {
			note("%s-%d has no state znode", tp.Topic, tp.Partition)
		}
	}
	if bad > 0 {
		k.c.Liveness(MetadataAgrees, "broker %d's metadata disagrees with ZooKeeper on %d partitions: %s",
			b, bad, strings.Join(examples, "; "))
	}
}

// sameSet reports whether a and b hold the same brokers, each once (ISRs
// are short: a quadratic check allocates nothing).
func sameSet(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}
