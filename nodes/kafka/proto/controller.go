package proto

import (
	"fmt"

	"github.com/kzsim/kzsim/rpc"
)

// Requests are immutable once sent: the controller builds a fresh request
// for each broker and never touches it again, and a receiver copies any
// slice it keeps. So Clone returns the receiver (rpc.Payload allows it), and
// a LeaderAndIsr of 50,000 partitions costs nothing to deliver five times.

// API kinds, as Kafka's ApiKeys names them.
const (
	KindLeaderAndIsr          = "LeaderAndIsr"
	KindUpdateMetadata        = "UpdateMetadata"
	KindStopReplica           = "StopReplica"
	KindControlledShutdown    = "ControlledShutdown"
	KindProduce               = "Produce"
	KindFetch                 = "Fetch"
	KindOffsetsForLeaderEpoch = "OffsetsForLeaderEpoch"
	KindMetadata              = "Metadata"
)

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// Compare orders partitions by topic, then partition number (for
// slices.SortFunc and deterministic iteration).
func Compare(a, b TopicPartition) int {
	if a.Topic != b.Topic {
		if a.Topic < b.Topic {
			return -1
		}
		return 1
	}
	return int(a.Partition) - int(b.Partition)
}

// NoLeader is the leader id of a partition without a leader
// (LeaderAndIsr.NoLeader).
const NoLeader int32 = -1

// NoEpoch is a broker epoch the request does not name: older requests had
// none, and brokers accept them (KIP-380's -1).
const NoEpoch int64 = -1

// Broker is a live broker as the controller tells the others of it (an
// UpdateMetadata live_brokers entry, a LeaderAndIsr live_leaders entry).
type Broker struct {
	ID   int32
	Host string
	Port int32
	Rack string
}

// PartitionState is one partition's entry in a LeaderAndIsr or
// UpdateMetadata request: what the controller holds of it.
type PartitionState struct {
	TopicPartition
	ControllerEpoch int32 // of the controller that elected this leader
	Leader          int32 // NoLeader when offline; LeaderDuringDelete in UpdateMetadata for a partition being deleted
	LeaderEpoch     int32
	ISR             []int32 // in the znode's order
	ZkVersion       int32   // the state znode's version (the partition epoch)
	Replicas        []int32 // assignment order; head is the preferred replica
	Adding          []int32 // reassignment (LeaderAndIsr v3+)
	Removing        []int32
	Offline         []int32 // UpdateMetadata only: replicas on dead brokers
	IsNew           bool    // LeaderAndIsr only: the replica is being created
}

// LeaderDuringDelete is the leader of an UpdateMetadata entry telling
// brokers a partition is being deleted (Kafka 2.6 LeaderAndIsr.
// LeaderDuringDelete, set by LeaderAndIsr.duringDelete).
const LeaderDuringDelete int32 = -2

// LeaderEpochDuringDelete is the leader epoch of a StopReplica entry that
// deletes the partition (KIP-570's EpochDuringDelete).
const LeaderEpochDuringDelete int32 = -2

// ControllerHeader is what every controller-to-broker request carries: who
// sent it, at which controller epoch, and the epoch of the broker it is for
// (KIP-380), which a broker compares with its own.
type ControllerHeader struct {
	ControllerID    int32
	ControllerEpoch int32
	BrokerEpoch     int64
}

func (h ControllerHeader) String() string {
	return fmt.Sprintf("controller=%d controller_epoch=%d broker_epoch=%d", h.ControllerID, h.ControllerEpoch, h.BrokerEpoch)
}

// LeaderAndIsrRequest tells a broker to lead or follow the partitions
// listed (LeaderAndIsrRequest v4).
type LeaderAndIsrRequest struct {
	ControllerHeader
	Partitions  []PartitionState
	LiveLeaders []Broker // the leaders of Partitions, to fetch from
}

// PartitionError is one partition's outcome in a response.
type PartitionError struct {
	TopicPartition
	Error ErrorCode
}

// LeaderAndIsrResponse answers a LeaderAndIsrRequest: a top-level error
// (STALE_CONTROLLER_EPOCH, STALE_BROKER_EPOCH) or one per partition.
type LeaderAndIsrResponse struct {
	Error      ErrorCode
	Partitions []PartitionError
}

// UpdateMetadataRequest gives a broker the controller's view of the
// cluster: partition states and the live brokers (UpdateMetadataRequest v6).
type UpdateMetadataRequest struct {
	ControllerHeader
	Partitions  []PartitionState
	LiveBrokers []Broker
}

// UpdateMetadataResponse answers an UpdateMetadataRequest.
type UpdateMetadataResponse struct {
	Error ErrorCode
}

// StopReplicaPartition is one partition of a StopReplicaRequest.
type StopReplicaPartition struct {
	TopicPartition
	LeaderEpoch int32 // -1: any (v3 carries it, KIP-570)
	Delete      bool  // delete the replica's log too
}

// StopReplicaRequest tells a broker to stop replicating partitions, and to
// delete them with Delete (StopReplicaRequest v3).
type StopReplicaRequest struct {
	ControllerHeader
	Partitions []StopReplicaPartition
}

// StopReplicaResponse answers a StopReplicaRequest.
type StopReplicaResponse struct {
	Error      ErrorCode
	Partitions []PartitionError
}

// ControlledShutdownRequest is a broker asking the controller to move its
// leaderships away before it shuts down (ControlledShutdownRequest v3).
type ControlledShutdownRequest struct {
	BrokerID    int32
	BrokerEpoch int64
}

// ControlledShutdownResponse answers with the partitions the broker still
// leads; the broker retries while any remain
// (controlled.shutdown.max.retries).
type ControlledShutdownResponse struct {
	Error     ErrorCode
	Remaining []TopicPartition
}

func (r *LeaderAndIsrRequest) Kind() string              { return KindLeaderAndIsr }
func (r *LeaderAndIsrResponse) Kind() string             { return KindLeaderAndIsr }
func (r *UpdateMetadataRequest) Kind() string            { return KindUpdateMetadata }
func (r *UpdateMetadataResponse) Kind() string           { return KindUpdateMetadata }
func (r *StopReplicaRequest) Kind() string               { return KindStopReplica }
func (r *StopReplicaResponse) Kind() string              { return KindStopReplica }
func (r *ControlledShutdownRequest) Kind() string        { return KindControlledShutdown }
func (r *ControlledShutdownResponse) Kind() string       { return KindControlledShutdown }
func (r *LeaderAndIsrRequest) Clone() rpc.Payload        { return r }
func (r *LeaderAndIsrResponse) Clone() rpc.Payload       { return r }
func (r *UpdateMetadataRequest) Clone() rpc.Payload      { return r }
func (r *UpdateMetadataResponse) Clone() rpc.Payload     { return r }
func (r *StopReplicaRequest) Clone() rpc.Payload         { return r }
func (r *StopReplicaResponse) Clone() rpc.Payload        { return r }
func (r *ControlledShutdownRequest) Clone() rpc.Payload  { return r }
func (r *ControlledShutdownResponse) Clone() rpc.Payload { return r }

func (r *LeaderAndIsrRequest) String() string {
	return fmt.Sprintf("%s partitions=%d%s", r.ControllerHeader, len(r.Partitions), firstPartition(r.Partitions))
}

func (r *UpdateMetadataRequest) String() string {
	return fmt.Sprintf("%s partitions=%d live_brokers=%d", r.ControllerHeader, len(r.Partitions), len(r.LiveBrokers))
}

func (r *StopReplicaRequest) String() string {
	del := 0
	for _, p := range r.Partitions {
		if p.Delete {
			del++
		}
	}
	return fmt.Sprintf("%s partitions=%d delete=%d", r.ControllerHeader, len(r.Partitions), del)
}

func (r *ControlledShutdownRequest) String() string {
	return fmt.Sprintf("broker=%d broker_epoch=%d", r.BrokerID, r.BrokerEpoch)
}

func (r *LeaderAndIsrResponse) String() string { return errorSummary(r.Error, r.Partitions) }
func (r *StopReplicaResponse) String() string  { return errorSummary(r.Error, r.Partitions) }
func (r *UpdateMetadataResponse) String() string {
	return "error=" + r.Error.String()
}
func (r *ControlledShutdownResponse) String() string {
	return fmt.Sprintf("error=%s remaining=%d", r.Error, len(r.Remaining))
}

// firstPartition names the first partition of a request, and its leader, so
// a small request reads fully in the trace.
func firstPartition(ps []PartitionState) string {
	if len(ps) == 0 {
		return ""
	}
	p := ps[0]
	s := fmt.Sprintf(" first=%s leader=%d leader_epoch=%d isr=%v", p.TopicPartition, p.Leader, p.LeaderEpoch, p.ISR)
	return s
}

func errorSummary(top ErrorCode, ps []PartitionError) string {
	failed := 0
	for _, p := range ps {
		if p.Error != None {
			failed++
		}
	}
	return fmt.Sprintf("error=%s partitions=%d failed=%d", top, len(ps), failed)
}
