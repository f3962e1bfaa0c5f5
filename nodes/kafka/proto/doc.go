// Package proto holds the Kafka requests and responses that simulated
// brokers and their controller exchange over package rpc, with the fields
// Kafka 2.6's request schemas give them (clients/src/main/resources/common/
// message/*.json at tag 2.6.0): LeaderAndIsr (v4), UpdateMetadata (v6),
// StopReplica (v3), ControlledShutdown (v3), Produce (v8), Fetch (v11),
// OffsetsForLeaderEpoch (v3) and Metadata (v9).
//
// Only what the simulation uses is kept: no client ids, no throttle times,
// no byte sizes (records carry ids, not bytes). Every type is an
// rpc.Payload: Kind names the API as Kafka's ApiKeys does, String is a one
// line summary for the trace (never one line per partition: a LeaderAndIsr
// of 50,000 partitions is summarised), and Clone copies every slice.
//
// Error codes are Kafka's own numbers (org.apache.kafka.common.protocol.
// Errors), so a trace reads as Kafka's logs do.
package proto
