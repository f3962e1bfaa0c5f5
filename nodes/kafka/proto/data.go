package proto

import (
	"fmt"
	"strconv"

	"github.com/kzsim/kzsim/nodes/kafka/log"
	"github.com/kzsim/kzsim/rpc"
)

// Record is one record of a partition's log, as a Fetch returns it (the
// log's own type: offset, leader epoch, producer id and sequence, key and
// value ids; no payload bytes).
type Record = log.Record

// Entry is a record as a producer sends it, before the leader gives it an
// offset and an epoch.
type Entry = log.Entry

// Acks values of a ProduceRequest.
const (
	AcksNone   int16 = 0  // no response
	AcksLeader int16 = 1  // the leader's append
	AcksAll    int16 = -1 // every in-sync replica (min.insync.replicas)
)

// ProducePartition is one partition's records in a ProduceRequest.
type ProducePartition struct {
	TopicPartition
	Entries []Entry
}

// ProduceRequest appends records to partitions led by the broker
// (ProduceRequest v8).
type ProduceRequest struct {
	Acks       int16
	TimeoutMs  int32
	Partitions []ProducePartition
}

// ProducePartitionResponse is one partition's outcome.
type ProducePartitionResponse struct {
	TopicPartition
	Error      ErrorCode
	BaseOffset int64
}

// ProduceResponse answers a ProduceRequest (none with AcksNone).
type ProduceResponse struct {
	Partitions []ProducePartitionResponse
}

// ConsumerReplicaID is the replica id of a fetch from a consumer, as
// opposed to a follower (FetchRequest.CONSUMER_REPLICA_ID).
const ConsumerReplicaID int32 = -1

// FetchPartition is one partition of a FetchRequest.
type FetchPartition struct {
	TopicPartition
	CurrentLeaderEpoch int32 // -1: unchecked (KIP-320)
	FetchOffset        int64
	LogStartOffset     int64 // of the follower
	MaxRecords         int   // the simulation's stand-in for partition_max_bytes
}

// FetchRequest reads records from partitions the broker leads, from a
// follower (ReplicaID ≥ 0) or a consumer (FetchRequest v11).
type FetchRequest struct {
	ReplicaID   int32
	BrokerEpoch int64 // the follower's, for the simulation's own fencing checks; Kafka 2.6 carries none
	MaxWaitMs   int32
	MinRecords  int // the stand-in for min_bytes
	Partitions  []FetchPartition
}

// FetchPartitionResponse is one partition's answer.
type FetchPartitionResponse struct {
	TopicPartition
	Error          ErrorCode
	HighWatermark  int64
	LogStartOffset int64
	LogEndOffset   int64 // the simulation's own addition, for narration
	Records        []Record
}

// FetchResponse answers a FetchRequest.
type FetchResponse struct {
	Partitions []FetchPartitionResponse
}

// EpochQuery is one partition of an OffsetsForLeaderEpochRequest.
type EpochQuery struct {
	TopicPartition
	CurrentLeaderEpoch int32
	LeaderEpoch        int32
}

// OffsetsForLeaderEpochRequest asks a leader where each given epoch ends
// in its log (KIP-101, KIP-279; v3).
type OffsetsForLeaderEpochRequest struct {
	ReplicaID  int32
	Partitions []EpochQuery
}

// EpochEndOffset is one partition's answer.
type EpochEndOffset struct {
	TopicPartition
	Error       ErrorCode
	LeaderEpoch int32
	EndOffset   int64
}

// OffsetsForLeaderEpochResponse answers an OffsetsForLeaderEpochRequest.
type OffsetsForLeaderEpochResponse struct {
	Partitions []EpochEndOffset
}

// MetadataRequest asks a broker for its metadata of topics (all with nil).
type MetadataRequest struct {
	Topics []string
}

// PartitionMetadata is one partition as a broker's metadata cache holds it.
type PartitionMetadata struct {
	TopicPartition
	Error       ErrorCode
	Leader      int32
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32
	Offline     []int32
}

// MetadataResponse answers a MetadataRequest (v9).
type MetadataResponse struct {
	Brokers      []Broker
	ControllerID int32 // -1 when the broker knows none
	Partitions   []PartitionMetadata
	Errors       []PartitionError // per topic: UNKNOWN_TOPIC_OR_PARTITION (partition -1)
}

func (r *ProduceRequest) Kind() string                      { return KindProduce }
func (r *ProduceResponse) Kind() string                     { return KindProduce }
func (r *FetchRequest) Kind() string                        { return KindFetch }
func (r *FetchResponse) Kind() string                       { return KindFetch }
func (r *OffsetsForLeaderEpochRequest) Kind() string        { return KindOffsetsForLeaderEpoch }
func (r *OffsetsForLeaderEpochResponse) Kind() string       { return KindOffsetsForLeaderEpoch }
func (r *MetadataRequest) Kind() string                     { return KindMetadata }
func (r *MetadataResponse) Kind() string                    { return KindMetadata }
func (r *ProduceRequest) Clone() rpc.Payload                { return r }
func (r *ProduceResponse) Clone() rpc.Payload               { return r }
func (r *FetchRequest) Clone() rpc.Payload                  { return r }
func (r *FetchResponse) Clone() rpc.Payload                 { return r }
func (r *OffsetsForLeaderEpochRequest) Clone() rpc.Payload  { return r }
func (r *OffsetsForLeaderEpochResponse) Clone() rpc.Payload { return r }
func (r *MetadataRequest) Clone() rpc.Payload               { return r }
func (r *MetadataResponse) Clone() rpc.Payload              { return r }

func (r *ProduceRequest) String() string {
	n := 0
	for _, p := range r.Partitions {
		n += len(p.Entries)
	}
	return fmt.Sprintf("acks=%d partitions=%d records=%d", r.Acks, len(r.Partitions), n)
}

func (r *ProduceResponse) String() string {
	s := fmt.Sprintf("partitions=%d", len(r.Partitions))
	if len(r.Partitions) == 1 {
		p := r.Partitions[0]
		s += fmt.Sprintf(" %s error=%s base_offset=%d", p.TopicPartition, p.Error, p.BaseOffset)
	}
	return s
}

// The fetch path's summaries are built with strconv, not fmt: every
// follower fetch and its answer is formatted for the trace hash.

func (r *FetchRequest) String() string {
	b := make([]byte, 0, 64)
	b = append(b, "replica="...)
	b = strconv.AppendInt(b, int64(r.ReplicaID), 10)
	b = append(b, " partitions="...)
	b = strconv.AppendInt(b, int64(len(r.Partitions)), 10)
	if len(r.Partitions) == 1 {
		p := r.Partitions[0]
		b = append(b, ' ')
		b = appendTP(b, p.TopicPartition)
		b = append(b, " offset="...)
		b = strconv.AppendInt(b, p.FetchOffset, 10)
	}
	return string(b)
}

// appendTP appends tp as TopicPartition.String does.
func appendTP(b []byte, tp TopicPartition) []byte {
	b = append(b, tp.Topic...)
	b = append(b, '-')
	return strconv.AppendInt(b, int64(tp.Partition), 10)
}

func (r *FetchResponse) String() string {
	n, failed := 0, 0
	for _, p := range r.Partitions {
		n += len(p.Records)
		if p.Error != None {
			failed++
		}
	}
	b := make([]byte, 0, 48)
	b = append(b, "partitions="...)
	b = strconv.AppendInt(b, int64(len(r.Partitions)), 10)
	b = append(b, " records="...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, " failed="...)
	b = strconv.AppendInt(b, int64(failed), 10)
	return string(b)
}

func (r *OffsetsForLeaderEpochRequest) String() string {
	return "replica=" + strconv.Itoa(int(r.ReplicaID)) + " partitions=" + strconv.Itoa(len(r.Partitions))
}

func (r *OffsetsForLeaderEpochResponse) String() string {
	return "partitions=" + strconv.Itoa(len(r.Partitions))
}

func (r *MetadataRequest) String() string {
	if r.Topics == nil {
		return "topics=all"
	}
	return fmt.Sprintf("topics=%v", r.Topics)
}

func (r *MetadataResponse) String() string {
	return fmt.Sprintf("brokers=%d controller=%d partitions=%d", len(r.Brokers), r.ControllerID, len(r.Partitions))
}
