package config

import (
	"fmt"

	"github.com/kzsim/kzsim/sim"
)

// FlushNever is log.flush.interval.ms's default: Kafka's Long.MaxValue,
// "never by time", so the log is flushed only by the operating system and
// at segment roll and shutdown (Kafka 2.6 Defaults.LogFlushSchedulerIntervalMs;
// log.flush.interval.ms falls back to it). Its JSON form is
// 9223372036854775807, Kafka's literal value.
const FlushNever sim.Duration = 1<<63 - 1

// FlushMessagesNever is log.flush.interval.messages's default, Kafka's
// Long.MaxValue (Defaults.LogFlushIntervalMessages): Kafka does not fsync
// per write; durability comes from replication.
const FlushMessagesNever int64 = 1<<63 - 1

// Kafka's hard-coded timings in ZooKeeper mode (not settings).
const (
	// IsrChangeCheckInterval is how often a leader looks at its set of
	// changed ISRs (2.6 ReplicaManager: "isr-change-propagation" every 2500 ms).
	IsrChangeCheckInterval = 2500 * sim.Millisecond
	// IsrChangeBlackout is how long after the last ISR change a leader
	// waits before writing an isr_change notification (2.6
	// ReplicaManager.IsrChangePropagationBlackOut, 5000 ms).
	IsrChangeBlackout = 5 * sim.Second
	// IsrChangeMaxDelay is the longest a leader defers that write (2.6
	// ReplicaManager.IsrChangePropagationInterval, 60000 ms).
	IsrChangeMaxDelay = 60 * sim.Second
	// AutoRebalanceFirstDelay is when the first automatic preferred-leader
	// check runs after a failover (2.6 KafkaController.scheduleAutoLeaderRebalanceTask, 5 s).
	AutoRebalanceFirstDelay = 5 * sim.Second
	// ControllerSenderBackoff is how long the controller's sender thread
	// waits before resending a failed request (2.6 ControllerChannelManager, 100 ms).
	ControllerSenderBackoff = 100 * sim.Millisecond
	// ZooKeeperReinitBackoff is how long ZooKeeperClient.reinitialize waits
	// between attempts to create a new handle (2.6 ZooKeeperClient, 1 s).
	ZooKeeperReinitBackoff = sim.Second
)

// Config is the broker and controller settings of a cluster (every broker
// runs with the same ones). Each field names its Kafka property; durations
// are whole milliseconds (seconds for leader.imbalance.check.interval.seconds),
// as Kafka's properties are. Default gives Kafka 2.6's values.
type Config struct {
	// ZooKeeperSessionTimeout is zookeeper.session.timeout.ms: 18 s from
	// 2.5 (KIP-537, KAFKA-9102), 6 s before.
	ZooKeeperSessionTimeout sim.Duration
	// ZooKeeperConnectionTimeout is zookeeper.connection.timeout.ms: how
	// long start-up waits for the first connection before failing. Zero is
	// Kafka's default, unset, which means the session timeout
	// (ConnectionTimeout gives the value in force).
	ZooKeeperConnectionTimeout sim.Duration
	// ZooKeeperMaxInFlightRequests is zookeeper.max.in.flight.requests (10,
	// at least 1): requests ZooKeeperClient has outstanding at once. New in
	// 1.1; earlier releases' synchronous ZkClient had one (ForEra sets 1).
	ZooKeeperMaxInFlightRequests int

	// ReplicaLagTimeMax is replica.lag.time.max.ms: 30 s from 2.5
	// (KIP-537, KAFKA-9102), 10 s before. A follower not caught up for
	// this long leaves the ISR; the shrink check runs every half of it.
	ReplicaLagTimeMax sim.Duration
	// ReplicaLagMaxMessages is replica.lag.max.messages: 0.8.x only (4000),
	// removed in 0.9.0; 0 means absent (only the time-based lag applies).
	ReplicaLagMaxMessages int64
	// ReplicaFetchWaitMax is replica.fetch.wait.max.ms (500 ms): how long a
	// leader holds a follower's fetch with nothing new. Kafka requires it
	// ≤ replica.socket.timeout.ms and ≤ replica.lag.time.max.ms.
	ReplicaFetchWaitMax sim.Duration
	// ReplicaFetchMinBytes is replica.fetch.min.bytes (1).
	ReplicaFetchMinBytes int
	// ReplicaFetchMaxBytes is replica.fetch.max.bytes (1048576, at least 0).
	ReplicaFetchMaxBytes int
	// ReplicaFetchBackoff is replica.fetch.backoff.ms (1000 ms, at least
	// 0): a follower's pause after a fetch error. Added in 0.9.0
	// (KAFKA-1461); 0.8 fetchers did not back off (ForEra sets 0).
	ReplicaFetchBackoff sim.Duration
	// ReplicaSocketTimeout is replica.socket.timeout.ms (30 s).
	ReplicaSocketTimeout sim.Duration
	// NumReplicaFetchers is num.replica.fetchers (1): fetcher threads per
	// source broker.
	NumReplicaFetchers int
	// ReplicaHighWatermarkCheckpointInterval is
	// replica.high.watermark.checkpoint.interval.ms (5 s): how often each
	// broker writes its high watermarks to disk.
	ReplicaHighWatermarkCheckpointInterval sim.Duration

	// MinInsyncReplicas is min.insync.replicas (1, at least 1), the broker
	// default of the topic setting. Larger than a topic's replication factor
	// is allowed (acks=all produces then fail NOT_ENOUGH_REPLICAS).
	// From 0.8.2; before, acks=all waited for the ISR only (ForEra keeps 1).
	MinInsyncReplicas int
	// UncleanLeaderElectionEnable is unclean.leader.election.enable: false
	// from 0.11.0 (KIP-106), true in 0.8.2–0.10.2; 0.8.0–0.8.1 had no
	// setting and always elected uncleanly (ForEra sets true).
	UncleanLeaderElectionEnable bool
	// DefaultReplicationFactor is default.replication.factor (1), for
	// topics created without one.
	DefaultReplicationFactor int
	// NumPartitions is num.partitions (1, at least 1), for topics created
	// without a count.
	NumPartitions int
	// AutoCreateTopicsEnable is auto.create.topics.enable (true).
	AutoCreateTopicsEnable bool
	// DeleteTopicEnable is delete.topic.enable: true from 1.0.0, false
	// before (the controller then deletes the marker and stops).
	DeleteTopicEnable bool
	// OffsetsTopicReplicationFactor is offsets.topic.replication.factor
	// (3, at least 1), the __consumer_offsets topic's.
	OffsetsTopicReplicationFactor int
	// OffsetsTopicNumPartitions is offsets.topic.num.partitions (50, at
	// least 1).
	OffsetsTopicNumPartitions int

	// AutoLeaderRebalanceEnable is auto.leader.rebalance.enable: true from
	// 0.8.2, false in 0.8.1 (absent in 0.8.0).
	AutoLeaderRebalanceEnable bool
	// LeaderImbalanceCheckInterval is leader.imbalance.check.interval.seconds
	// (300 s): how often the controller checks preferred leadership.
	LeaderImbalanceCheckInterval sim.Duration
	// LeaderImbalancePerBrokerPercentage is
	// leader.imbalance.per.broker.percentage (10): the share of a broker's
	// preferred partitions it may fail to lead before a rebalance.
	LeaderImbalancePerBrokerPercentage int

	// ControlledShutdownEnable is controlled.shutdown.enable: true from
	// 0.8.2, false in 0.8.0–0.8.1.
	ControlledShutdownEnable bool
	// ControlledShutdownMaxRetries is controlled.shutdown.max.retries (3).
	ControlledShutdownMaxRetries int
	// ControlledShutdownRetryBackoff is controlled.shutdown.retry.backoff.ms (5 s).
	ControlledShutdownRetryBackoff sim.Duration
	// ControllerSocketTimeout is controller.socket.timeout.ms (30 s): the
	// connect timeout of the controller's channels to brokers, and of a
	// broker's connection to the controller for controlled shutdown.
	ControllerSocketTimeout sim.Duration
	// RequestTimeout is request.timeout.ms (30 s): the bound on each control
	// request and each controlled-shutdown attempt. The setting arrived in
	// 0.9.0 (KIP-19); before, the controller's blocking channel used
	// controller.socket.timeout.ms, also 30 s, so ForEra leaves it.
	RequestTimeout sim.Duration

	// LogFlushIntervalMessages is log.flush.interval.messages
	// (FlushMessagesNever, at least 1): records a partition's log takes
	// before it is fsynced.
	LogFlushIntervalMessages int64
	// LogFlushInterval is log.flush.interval.ms (FlushNever): the longest
	// a record stays unsynced. Kafka's default is unset, falling back to
	// log.flush.scheduler.interval.ms, which is Long.MaxValue.
	// Simplified: the flusher's own period (log.flush.scheduler.interval.ms)
	// is not modelled; a time-based flush is due exactly at this interval.
	LogFlushInterval sim.Duration
	// LogFlushOffsetCheckpointInterval is
	// log.flush.offset.checkpoint.interval.ms (60 s): how often the
	// recovery points are written to disk.
	LogFlushOffsetCheckpointInterval sim.Duration

	// BrokerIDGenerationEnable is broker.id.generation.enable (true):
	// a broker without broker.id takes one from /brokers/seqid. Generation
	// arrived in 0.9.0.0, the flag in 0.9.0.1 (KAFKA-3012); 0.8 required
	// broker.id (ForEra sets false).
	BrokerIDGenerationEnable bool
	// ReservedBrokerMaxID is reserved.broker.max.id (1000, at least 0):
	// generated ids start above it. Unused when generation is off.
	ReservedBrokerMaxID int32

	// Features are the behaviours that changed between releases in code.
	Features Features
}

// EphemeralForm is how Kafka creates an ephemeral znode that may already
// exist (a broker's registration, the controller's /controller); the
// broker maps it to the ZooKeeper layer's era (nodes/kafkazk Era22, Era09,
// Era08), which this package does not import.
type EphemeralForm uint8

const (
	// Ephemeral22 is 2.2+ (KafkaZkClient.CheckedEphemeral, KAFKA-7165): a
	// node owned by this client's previous registration's session is
	// deleted and re-created.
	Ephemeral22 EphemeralForm = iota
	// Ephemeral09 is 0.9.0–2.1 (ZKCheckedEphemeral, KAFKA-1387): success
	// only when the node's owner is the current session.
	Ephemeral09
	// Ephemeral08 is 0.8.x (ZkUtils.createEphemeralPathExpectConflictHandleZKBug):
	// wait a session timeout and retry while the node looks like ours.
	Ephemeral08
)

// String is the release that introduced the form ("2.2", "0.9", "0.8").
func (f EphemeralForm) String() string {
	switch f {
	case Ephemeral22:
		return "2.2"
	case Ephemeral09:
		return "0.9"
	case Ephemeral08:
		return "0.8"
	}
	return fmt.Sprintf("EphemeralForm(%d)", uint8(f))
}

// Truncation is how a follower finds where its log diverges from a new
// leader's.
type Truncation uint8

const (
	// TruncateEpochV2 is 2.0+ (KIP-279, KAFKA-6361): OffsetsForLeaderEpoch
	// answers carry an epoch; the follower walks back until the logs agree.
	TruncateEpochV2 Truncation = iota
	// TruncateEpoch is 0.11–1.1 (KIP-101): truncate to the end offset the
	// leader reports for the follower's latest epoch.
	TruncateEpoch
	// TruncateHighWatermark is before 0.11: truncate to the follower's own
	// high watermark (KAFKA-1211 loses acknowledged data this way).
	TruncateHighWatermark
)

// String names the mode as its JSON form does.
func (t Truncation) String() string {
	switch t {
	case TruncateEpochV2:
		return "kip-279"
	case TruncateEpoch:
		return "kip-101"
	case TruncateHighWatermark:
		return "high-watermark"
	}
	return fmt.Sprintf("Truncation(%d)", uint8(t))
}

// Features are the behaviours of the brokers and controller that changed
// between releases without a setting. The zero value is not meaningful;
// Default and ForEra fill it. Each field names the release that changed it.
type Features struct {
	// CheckedEphemeral is the form of ephemeral creation (2.2: Ephemeral22,
	// KAFKA-7165; 0.9: Ephemeral09, KAFKA-1387; 0.8: Ephemeral08).
	CheckedEphemeral EphemeralForm
	// PipelinedZooKeeper (1.1, KAFKA-5642 on the async ZooKeeperClient of
	// KAFKA-5501): the controller's state machines work on batches of
	// partitions and pipeline their ZooKeeper requests, at most
	// zookeeper.max.in.flight.requests outstanding; watches are armed by the
	// next read. Before, every read and write was a synchronous round trip,
	// one partition at a time. The same release batched controlled shutdown
	// (credited to KAFKA-5027 by Confluent's 200K-partitions post).
	PipelinedZooKeeper bool
	// ControllerRetriesBadVersion (1.1, KAFKA-5642): a BADVERSION on the
	// controller's leader/ISR write is re-read and retried.
	ControllerRetriesBadVersion bool
	// KeepLastIsrMember (1.1, KAFKA-5083 in KAFKA-5642's commit): removing
	// a replica from a one-member ISR keeps that member.
	KeepLastIsrMember bool
	// OfflineElectionAssignmentOrder (1.1, PartitionLeaderElectionAlgorithms
	// of KAFKA-5642): the offline election takes the first live ISR member
	// in assignment order; ≤1.0 took it in ISR order.
	OfflineElectionAssignmentOrder bool
	// FencedControllerWrites (2.1, KAFKA-6082): every controller write is a
	// multi with a check of /controller_epoch's version, and election
	// creates /controller and bumps the epoch in one multi. Before, only
	// the controller_epoch inside the state JSON guarded writes.
	FencedControllerWrites bool
	// BrokerEpochs (2.2, KIP-380, KAFKA-7235): a broker's epoch is its
	// registration's czxid; control requests carry it, stale ones are
	// rejected, and the controller sees a bounce as failure plus startup.
	BrokerEpochs bool
	// AcceptNewerBrokerEpoch (2.6, KAFKA-9839): a request naming a broker
	// epoch newer than the broker's own is accepted; 2.2–2.5 threw
	// IllegalStateException.
	AcceptNewerBrokerEpoch bool
	// StopReplicaLeaderEpoch (2.6, KIP-570, KAFKA-9539): StopReplica
	// carries leader epochs and the broker fences older ones.
	StopReplicaLeaderEpoch bool
	// EpochCacheTruncatedAtEnd (2.6.1, KAFKA-10706, apache/kafka#9633): a
	// follower's truncation at or past its log end still drops the epoch
	// cache's entries from that offset on. Without it, consecutive leader
	// elections with no records between them leave conflicting epoch
	// entries at the log end, and the follower repeats the same
	// OffsetsForLeaderEpoch round for ever, never fetching.
	EpochCacheTruncatedAtEnd bool
	// Truncation is the follower's truncation (2.0: TruncateEpochV2;
	// 0.11: TruncateEpoch; before: TruncateHighWatermark).
	Truncation Truncation
	// IsrExpandNeedsEpochStart (2.0.1/2.1.0, KAFKA-7128): a follower joins
	// the ISR only once its log end reaches the leader epoch's start offset.
	IsrExpandNeedsEpochStart bool
	// IsrWriteReadBack (0.8.2, KAFKA-1382): a leader whose ISR write fails
	// BADVERSION re-reads and, if the stored state is what it wrote, adopts
	// the new version.
	IsrWriteReadBack bool
	// ReassignmentAddingRemoving (2.4, KIP-455): the topic znode (version 2)
	// carries adding_replicas and removing_replicas and holds the
	// reassignment's target first; before, the target lived only in
	// /admin/reassign_partitions.
	ReassignmentAddingRemoving bool
	// TopicRewriteOnDeletedAdd (2.0, KAFKA-6612): partitions added to a
	// topic queued for deletion are removed from its znode; before, only
	// an error was logged.
	TopicRewriteOnDeletedAdd bool
	// BrokerZNodeVersion is the version of /brokers/ids/<id>'s JSON: 4 from
	// inter.broker.protocol.version 0.10.0-IV1, 2 before.
	BrokerZNodeVersion int
}

// Default returns Kafka 2.6's settings and behaviour.
func Default() Config {
	return Config{
		ZooKeeperSessionTimeout:      18 * sim.Second,
		ZooKeeperConnectionTimeout:   0,
		ZooKeeperMaxInFlightRequests: 10,

		ReplicaLagTimeMax:                      30 * sim.Second,
		ReplicaLagMaxMessages:                  0,
		ReplicaFetchWaitMax:                    500 * sim.Millisecond,
		ReplicaFetchMinBytes:                   1,
		ReplicaFetchMaxBytes:                   1 << 20,
		ReplicaFetchBackoff:                    sim.Second,
		ReplicaSocketTimeout:                   30 * sim.Second,
		NumReplicaFetchers:                     1,
		ReplicaHighWatermarkCheckpointInterval: 5 * sim.Second,

		MinInsyncReplicas:             1,
		UncleanLeaderElectionEnable:   false,
		DefaultReplicationFactor:      1,
		NumPartitions:                 1,
		AutoCreateTopicsEnable:        true,
		DeleteTopicEnable:             true,
		OffsetsTopicReplicationFactor: 3,
		OffsetsTopicNumPartitions:     50,

		AutoLeaderRebalanceEnable:          true,
		LeaderImbalanceCheckInterval:       300 * sim.Second,
		LeaderImbalancePerBrokerPercentage: 10,

		ControlledShutdownEnable:       true,
		ControlledShutdownMaxRetries:   3,
		ControlledShutdownRetryBackoff: 5 * sim.Second,
		ControllerSocketTimeout:        30 * sim.Second,
		RequestTimeout:                 30 * sim.Second,

		LogFlushIntervalMessages:         FlushMessagesNever,
		LogFlushInterval:                 FlushNever,
		LogFlushOffsetCheckpointInterval: 60 * sim.Second,

		BrokerIDGenerationEnable: true,
		ReservedBrokerMaxID:      1000,

		Features: Features{
			CheckedEphemeral:               Ephemeral22,
			PipelinedZooKeeper:             true,
			ControllerRetriesBadVersion:    true,
			KeepLastIsrMember:              true,
			OfflineElectionAssignmentOrder: true,
			FencedControllerWrites:         true,
			BrokerEpochs:                   true,
			AcceptNewerBrokerEpoch:         true,
			StopReplicaLeaderEpoch:         true,
			EpochCacheTruncatedAtEnd:       true,
			Truncation:                     TruncateEpochV2,
			IsrExpandNeedsEpochStart:       true,
			IsrWriteReadBack:               true,
			ReassignmentAddingRemoving:     true,
			TopicRewriteOnDeletedAdd:       true,
			BrokerZNodeVersion:             4,
		},
	}
}

// ConnectionTimeout is the zookeeper.connection.timeout.ms in force: the
// setting, or the session timeout when it is unset (2.6 KafkaConfig.zkConnectionTimeoutMs).
func (c *Config) ConnectionTimeout() sim.Duration {
	if c.ZooKeeperConnectionTimeout == 0 {
		return c.ZooKeeperSessionTimeout
	}
	return c.ZooKeeperConnectionTimeout
}
