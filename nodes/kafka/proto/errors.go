package proto

import "strconv"

// ErrorCode is a Kafka error code (org.apache.kafka.common.protocol.Errors,
// Kafka 2.6).
type ErrorCode int16

// The error codes the simulation uses, with Kafka's numbers.
const (
	None                         ErrorCode = 0
	OffsetOutOfRange             ErrorCode = 1
	UnknownTopicOrPartition      ErrorCode = 3
	LeaderNotAvailable           ErrorCode = 5
	NotLeaderForPartition        ErrorCode = 6
	RequestTimedOut              ErrorCode = 7
	BrokerNotAvailable           ErrorCode = 8
	ReplicaNotAvailable          ErrorCode = 9
	StaleControllerEpoch         ErrorCode = 11
	NetworkException             ErrorCode = 13
	NotEnoughReplicas            ErrorCode = 19
	NotEnoughReplicasAfterAppend ErrorCode = 20
	NotController                ErrorCode = 41
	OutOfOrderSequenceNumber     ErrorCode = 45
	DuplicateSequenceNumber      ErrorCode = 46
	KafkaStorageError            ErrorCode = 56
	UnknownProducerID            ErrorCode = 59
	FencedLeaderEpoch            ErrorCode = 74
	UnknownLeaderEpoch           ErrorCode = 75
	StaleBrokerEpoch             ErrorCode = 77
	InvalidRecord                ErrorCode = 87
)

var errorNames = map[ErrorCode]string{
	None:                         "NONE",
	OffsetOutOfRange:             "OFFSET_OUT_OF_RANGE",
	UnknownTopicOrPartition:      "UNKNOWN_TOPIC_OR_PARTITION",
	LeaderNotAvailable:           "LEADER_NOT_AVAILABLE",
	NotLeaderForPartition:        "NOT_LEADER_FOR_PARTITION",
	RequestTimedOut:              "REQUEST_TIMED_OUT",
	BrokerNotAvailable:           "BROKER_NOT_AVAILABLE",
	ReplicaNotAvailable:          "REPLICA_NOT_AVAILABLE",
	StaleControllerEpoch:         "STALE_CONTROLLER_EPOCH",
	NetworkException:             "NETWORK_EXCEPTION",
	NotEnoughReplicas:            "NOT_ENOUGH_REPLICAS",
	NotEnoughReplicasAfterAppend: "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
	NotController:                "NOT_CONTROLLER",
	OutOfOrderSequenceNumber:     "OUT_OF_ORDER_SEQUENCE_NUMBER",
	DuplicateSequenceNumber:      "DUPLICATE_SEQUENCE_NUMBER",
	KafkaStorageError:            "KAFKA_STORAGE_ERROR",
	UnknownProducerID:            "UNKNOWN_PRODUCER_ID",
	FencedLeaderEpoch:            "FENCED_LEADER_EPOCH",
	UnknownLeaderEpoch:           "UNKNOWN_LEADER_EPOCH",
	StaleBrokerEpoch:             "STALE_BROKER_EPOCH",
	InvalidRecord:                "INVALID_RECORD",
}

// String is Kafka 2.6's name of the error (2.7 renamed code 6
// NOT_LEADER_OR_FOLLOWER).
func (e ErrorCode) String() string {
	if s, ok := errorNames[e]; ok {
		return s
	}
	return "ERROR_" + strconv.Itoa(int(e))
}
