package algo

import (
	"cmp"
	"slices"
)

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Compare orders partitions by topic, then partition id.
func (tp TopicPartition) Compare(o TopicPartition) int {
	return cmp.Or(cmp.Compare(tp.Topic, o.Topic), cmp.Compare(tp.Partition, o.Partition))
}

// PartitionView is what the automatic rebalance reads of one partition in
// the controller's context.
type PartitionView struct {
	TopicPartition
	// Assignment is the replica list; its first member is the preferred
	// replica. A partition with an empty assignment is skipped.
	Assignment []int32
	// State is the leader and ISR the controller holds, nil when it holds
	// none (no `partitionLeadershipInfo` entry).
	State *LeaderAndIsr
	// QueuedForDeletion is true for a partition of a topic queued for
	// deletion; those take no part in the check.
	QueuedForDeletion bool
}

// BrokerImbalance is one broker's leader imbalance.
type BrokerImbalance struct {
	// Broker is the preferred replica the partitions share.
	Broker int32
	// Preferring counts the partitions whose preferred replica is Broker.
	Preferring int
	// NotLed lists, in order, those of them whose leader is another broker
	// or none. A partition with no state counts in Preferring only, as in
	// Kafka (`leadershipInfo.exists(...)` is false for it).
	NotLed []TopicPartition
}

// Ratio is the imbalance ratio, NotLed / Preferring.
func (b BrokerImbalance) Ratio() float64 { return float64(len(b.NotLed)) / float64(b.Preferring) }

// Exceeds reports whether the ratio is above percentage/100
// (`leader.imbalance.per.broker.percentage`, 10 by default): strictly
// greater, as Kafka compares. Compared in integers, NotLed*100 >
// percentage*Preferring, which is the same test without rounding.
func (b BrokerImbalance) Exceeds(percentage int) bool {
	return len(b.NotLed)*100 > percentage*b.Preferring
}

// LeaderImbalance groups the partitions not queued for deletion by their
// preferred replica and returns each such broker's imbalance, in broker id
// order (Kafka 2.6 `KafkaController.checkAndTriggerAutoLeaderRebalance`,
// which iterates a hash map; the order here is ours and fixed).
func LeaderImbalance(parts []PartitionView) []BrokerImbalance {
	sorted := slices.Clone(parts)
	slices.SortFunc(sorted, func(a, b PartitionView) int { return a.TopicPartition.Compare(b.TopicPartition) })
	byBroker := map[int32]*BrokerImbalance{}
	var brokers []int32
	for _, p := range sorted {
		if p.QueuedForDeletion || len(p.Assignment) == 0 {
			continue
		}
		pref := p.Assignment[0]
		bi := byBroker[pref]
		if bi == nil {
			bi = &BrokerImbalance{Broker: pref}
			byBroker[pref] = bi
			brokers = append(brokers, pref)
		}
		bi.Preferring++
		if p.State != nil && p.State.Leader != pref {
			bi.NotLed = append(bi.NotLed, p.TopicPartition)
		}
	}
	slices.Sort(brokers)
	out := make([]BrokerImbalance, 0, len(brokers))
	for _, b := range brokers {
		out = append(out, *byBroker[b])
	}
	return out
}

// RebalanceCandidates returns, in broker then partition order, the
// partitions the automatic rebalance sends to a preferred election: those
// not led by their preferred replica, of brokers whose imbalance exceeds
// percentage, and whose preferred replica could lead now (online and in the
// ISR, Kafka 2.6 `canPreferredReplicaBeLeader`). None while any partition is
// being reassigned (reassigning true), as in Kafka.
func RebalanceCandidates(parts []PartitionView, l Liveness, percentage int, reassigning bool) []TopicPartition {
	if reassigning {
		return nil
	}
	byTP := make(map[TopicPartition]PartitionView, len(parts))
	for _, p := range parts {
		byTP[p.TopicPartition] = p
	}
	var out []TopicPartition
	for _, bi := range LeaderImbalance(parts) {
		if !bi.Exceeds(percentage) {
			continue
		}
		for _, tp := range bi.NotLed {
			p := byTP[tp]
			if ElectPreferred(p.Assignment, *p.State, l).Elected {
				out = append(out, tp)
			}
		}
	}
	return out
}
