package broker

import (
	"maps"
	"slices"

	"github.com/kzsim/kzsim/nodes/kafka/proto"
)

// metadataCache is the broker's MetadataCache: the controller's view of
// the cluster as the last applied UpdateMetadata gave it. Entries point
// into the requests they came in (requests are immutable once sent), so a
// cache of 200,000 partitions costs a map, not copies.
type metadataCache struct {
	partitions   map[proto.TopicPartition]*proto.PartitionState
	brokers      []proto.Broker // live brokers, by id
	controllerID int32
}

func (m *metadataCache) init() {
	m.partitions = map[proto.TopicPartition]*proto.PartitionState{}
	m.controllerID = -1
}

// update applies an UpdateMetadata (MetadataCache.updateMetadata): the live
// brokers are replaced, each partition entry replaces the cached one, and
// one whose leader is LeaderDuringDelete removes it.
func (m *metadataCache) update(r *proto.UpdateMetadataRequest) {
	m.controllerID = r.ControllerID
	m.brokers = slices.Clone(r.LiveBrokers)
	slices.SortFunc(m.brokers, func(a, b proto.Broker) int { return int(a.ID) - int(b.ID) })
	for i := range r.Partitions {
		p := &r.Partitions[i]
		if p.Leader == proto.LeaderDuringDelete {
			delete(m.partitions, p.TopicPartition)
			continue
		}
		m.partitions[p.TopicPartition] = p
	}
}

func (m *metadataCache) alive(id int32) bool {
	_, ok := slices.BinarySearchFunc(m.brokers, id, func(b proto.Broker, id int32) int { return int(b.ID) - int(id) })
	return ok
}

// response answers a MetadataRequest from the cache (KafkaApis.
// handleTopicMetadataRequest, without auto-creation): partitions in topic
// then partition order; an unknown topic gets UNKNOWN_TOPIC_OR_PARTITION.
func (m *metadataCache) response(r *proto.MetadataRequest) *proto.MetadataResponse {
	resp := &proto.MetadataResponse{Brokers: slices.Clone(m.brokers), ControllerID: m.controllerID}
	want := map[string]bool{}
	for _, t := range r.Topics {
		want[t] = true
	}
	found := map[string]bool{}
	for tp, p := range m.partitions {
		if r.Topics != nil && !want[tp.Topic] {
			continue
		}
		found[tp.Topic] = true
		pm := proto.PartitionMetadata{TopicPartition: tp, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			Replicas: slices.Clone(p.Replicas), ISR: slices.Clone(p.ISR), Offline: slices.Clone(p.Offline)}
		if p.Leader == proto.NoLeader || !m.alive(p.Leader) {
			pm.Error = proto.LeaderNotAvailable
		}
		resp.Partitions = append(resp.Partitions, pm)
	}
	slices.SortFunc(resp.Partitions, func(a, b proto.PartitionMetadata) int { return proto.Compare(a.TopicPartition, b.TopicPartition) })
	for _, t := range slices.Sorted(maps.Keys(want)) {
		if !found[t] {
			resp.Errors = append(resp.Errors, proto.PartitionError{TopicPartition: proto.TopicPartition{Topic: t, Partition: -1}, Error: proto.UnknownTopicOrPartition})
		}
	}
	return resp
}

// MetadataEntry is one partition of a broker's metadata cache, for checks.
type MetadataEntry struct {
	Leader      int32
	LeaderEpoch int32
	ISR         []int32 // shared with the cache: read only
}

// Metadata calls fn for each partition of the broker's metadata cache, in
// no particular order (checks compare it with ZooKeeper); read only.
func (b *Broker) Metadata(fn func(tp proto.TopicPartition, e MetadataEntry)) {
	for tp, p := range b.meta.partitions {
		fn(tp, MetadataEntry{Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, ISR: p.ISR})
	}
}

// MetadataSize returns the number of partitions in the metadata cache.
func (b *Broker) MetadataSize() int { return len(b.meta.partitions) }
