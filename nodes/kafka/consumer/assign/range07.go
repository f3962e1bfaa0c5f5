package assign

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/nodes/kafka/jstring"
)

// BrokerPartition is a partition of Kafka 0.7, where a partition lives on one
// broker and is named by both ids (0.7.2 `kafka.cluster.Partition`).
type BrokerPartition struct {
	Broker int32
	Part   int32
}

// Name returns the partition's name in consumer znodes, "<brokerId>-<partId>"
// (0.7.2 `Partition.name`), e.g. "2-0".
func (bp BrokerPartition) Name() string {
	return strconv.FormatInt(int64(bp.Broker), 10) + "-" + strconv.FormatInt(int64(bp.Part), 10)
}

// ParseBrokerPartition reads a "<brokerId>-<partId>" name, as 0.7.2's
// `Partition(name)` constructor does.
func ParseBrokerPartition(name string) (BrokerPartition, error) {
	b, p, ok := strings.Cut(name, "-")
	bi, err1 := strconv.ParseInt(b, 10, 32)
	pi, err2 := strconv.ParseInt(p, 10, 32)
	if !ok || err1 != nil || err2 != nil || bi < 0 || pi < 0 {
		return BrokerPartition{}, fmt.Errorf("assign: partition name %q is not <brokerId>-<partId>", name)
	}
	return BrokerPartition{int32(bi), int32(pi)}, nil
}

// BrokerPartitions lists a 0.7 topic's partitions from the children of
// /brokers/topics/<topic>: broker id → the partition count in its znode
// (0.7.2 `ZkUtils.getPartitionsForTopics`). Counts must be ≥ 0.
func BrokerPartitions(counts map[int32]int32) ([]BrokerPartition, error) {
	brokers := make([]int32, 0, len(counts))
	for b := range counts {
		brokers = append(brokers, b)
	}
	slices.Sort(brokers)
	var out []BrokerPartition
	for _, b := range brokers {
		if b < 0 || counts[b] < 0 {
			return nil, fmt.Errorf("assign: broker %d registers %d partitions", b, counts[b])
		}
		for p := range counts[b] {
			out = append(out, BrokerPartition{b, p})
		}
	}
	return out, nil
}

// TopicBrokerPartition names a partition of a 0.7 topic.
type TopicBrokerPartition struct {
	Topic string
	BrokerPartition
}

// Assignment07 is a 0.7 group's whole assignment: the owner thread of every
// partition of a subscribed topic.
type Assignment07 map[TopicBrokerPartition]Thread

// Of returns one consumer's share, by topic and then partition name in Java
// string order (the order the assignor walked them).
func (a Assignment07) Of(consumerID string) []TopicBrokerPartition {
	var out []TopicBrokerPartition
	for tp, th := range a {
		if th.Consumer == consumerID {
			out = append(out, tp)
		}
	}
	slices.SortFunc(out, func(x, y TopicBrokerPartition) int {
		if c := strings.Compare(x.Topic, y.Topic); c != 0 {
			return c
		}
		return jstring.Compare(x.Name(), y.Name())
	})
	return out
}

// Range07 is Kafka 0.7.2's only assignor (`ZookeeperConsumerConnector.rebalance`
// at tag kafka-0.7.2-incubating-candidate-5): the range split of Range over
// each topic's partitions sorted by their "<brokerId>-<partId>" names as Java
// strings (`ZkUtils.getPartitionsForTopics`: `sortWith((s,t) => s < t)`), so
// "1-10" precedes "1-2" and "10-0" precedes "2-0". The sort keeps each
// broker's partitions together, which Kafka's docs give as its purpose
// ("so partitions on the same broker are clustered together",
// docs/implementation.html), so a thread reads from few brokers.
func Range07(members []Member, partitions map[string][]BrokerPartition) (Assignment07, error) {
	g, err := newGroup(members)
	if err != nil {
		return nil, err
	}
	out := Assignment07{}
	for _, topic := range g.topics {
		names := make([]string, 0, len(partitions[topic]))
		for _, bp := range partitions[topic] {
			if bp.Broker < 0 || bp.Part < 0 {
				return nil, fmt.Errorf("assign: topic %q has partition %d-%d (ids must be ≥ 0)", topic, bp.Broker, bp.Part)
			}
			names = append(names, bp.Name())
		}
		slices.SortFunc(names, jstring.Compare)
		for i := 1; i < len(names); i++ {
			if names[i] == names[i-1] {
				return nil, fmt.Errorf("assign: topic %q lists partition %s twice", topic, names[i])
			}
		}
		ts := g.threads[topic]
		for i, th := range ts {
			start, n := rangeShare(len(names), len(ts), i)
			for _, name := range names[start : start+n] {
				bp, _ := ParseBrokerPartition(name) // made by Name above
				out[TopicBrokerPartition{topic, bp}] = th
			}
		}
	}
	return out, nil
}

// Limits of a packed 0.7 partition (Pack07).
const (
	MaxBroker07 = 1<<15 - 1
	MaxPart07   = 1<<16 - 1
)

// Pack07 packs a 0.7 partition into one int32, Broker<<16 | Part, where a
// partition id must be one number (proto.TopicPartition, history lines).
// It panics beyond MaxBroker07 and MaxPart07.
func (bp BrokerPartition) Pack07() int32 {
	if bp.Broker < 0 || bp.Broker > MaxBroker07 || bp.Part < 0 || bp.Part > MaxPart07 {
		panic(fmt.Sprintf("assign: 0.7 partition %d-%d cannot be packed (broker 0..%d, partition 0..%d)", bp.Broker, bp.Part, MaxBroker07, MaxPart07))
	}
	return bp.Broker<<16 | bp.Part
}

// Unpack07 is Pack07's inverse.
func Unpack07(packed int32) BrokerPartition {
	return BrokerPartition{Broker: packed >> 16, Part: packed & 0xffff}
}
