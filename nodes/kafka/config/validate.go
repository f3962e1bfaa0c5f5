package config

import (
	"fmt"

	"github.com/kzsim/kzsim/sim"
)

// Validate reports the first invalid setting, as a one-line error naming the
// property and its value. It applies Kafka 2.6's own checks (the atLeast
// validators of KafkaConfig's definitions and KafkaConfig.validateValues);
// where Kafka has none it refuses values that would break Kafka at run time
// (a zero period handed to its scheduler, a zero timeout) and says so.
// A min.insync.replicas above the replication factor is valid, as in Kafka.
func (c *Config) Validate() error {
	var first error
	add := func(format string, args ...any) {
		if first == nil {
			first = fmt.Errorf(format, args...)
		}
	}

	// positive: Kafka has no validator, but a zero or negative value cannot
	// work (a timeout that expires at once; ScheduledThreadPoolExecutor
	// refuses a period ≤ 0 at start-up).
	positive := func(name string, d sim.Duration) {
		if d <= 0 {
			add("%s: %s must be positive", name, ms(d))
		}
	}
	nonNegative := func(name string, d sim.Duration) {
		if d < 0 {
			add("%s: %s must not be negative", name, ms(d))
		}
	}
	atLeast := func(name string, v, min int64) {
		if v < min {
			add("%s: %d must be at least %d", name, v, min)
		}
	}

	positive("zookeeper.session.timeout.ms", c.ZooKeeperSessionTimeout)
	nonNegative("zookeeper.connection.timeout.ms", c.ZooKeeperConnectionTimeout) // 0 = unset
	atLeast("zookeeper.max.in.flight.requests", int64(c.ZooKeeperMaxInFlightRequests), 1)

	positive("replica.lag.time.max.ms", c.ReplicaLagTimeMax) // the shrink check runs every half of it
	atLeast("replica.lag.max.messages", c.ReplicaLagMaxMessages, 0)
	nonNegative("replica.fetch.wait.max.ms", c.ReplicaFetchWaitMax)
	atLeast("replica.fetch.min.bytes", int64(c.ReplicaFetchMinBytes), 0)
	atLeast("replica.fetch.max.bytes", int64(c.ReplicaFetchMaxBytes), 0)
	nonNegative("replica.fetch.backoff.ms", c.ReplicaFetchBackoff)
	positive("replica.socket.timeout.ms", c.ReplicaSocketTimeout)
	atLeast("num.replica.fetchers", int64(c.NumReplicaFetchers), 1) // no validator; zero fetchers cannot replicate
	positive("replica.high.watermark.checkpoint.interval.ms", c.ReplicaHighWatermarkCheckpointInterval)
	// KafkaConfig.validateValues.
	if c.ReplicaFetchWaitMax > c.ReplicaSocketTimeout {
		add("replica.fetch.wait.max.ms: %s exceeds replica.socket.timeout.ms %s", ms(c.ReplicaFetchWaitMax), ms(c.ReplicaSocketTimeout))
	}
	if c.ReplicaFetchWaitMax > c.ReplicaLagTimeMax {
		add("replica.fetch.wait.max.ms: %s exceeds replica.lag.time.max.ms %s", ms(c.ReplicaFetchWaitMax), ms(c.ReplicaLagTimeMax))
	}

	atLeast("min.insync.replicas", int64(c.MinInsyncReplicas), 1)
	// No validator in Kafka; a topic created with it fails INVALID_REPLICATION_FACTOR.
	atLeast("default.replication.factor", int64(c.DefaultReplicationFactor), 1)
	atLeast("num.partitions", int64(c.NumPartitions), 1)
	atLeast("offsets.topic.replication.factor", int64(c.OffsetsTopicReplicationFactor), 1)
	atLeast("offsets.topic.num.partitions", int64(c.OffsetsTopicNumPartitions), 1)

	if c.AutoLeaderRebalanceEnable {
		positive("leader.imbalance.check.interval.seconds", c.LeaderImbalanceCheckInterval)
	} else {
		nonNegative("leader.imbalance.check.interval.seconds", c.LeaderImbalanceCheckInterval)
	}
	if c.LeaderImbalanceCheckInterval%sim.Second != 0 {
		add("leader.imbalance.check.interval.seconds: %dns is not a whole number of seconds", int64(c.LeaderImbalanceCheckInterval))
	}
	atLeast("leader.imbalance.per.broker.percentage", int64(c.LeaderImbalancePerBrokerPercentage), 0)

	atLeast("controlled.shutdown.max.retries", int64(c.ControlledShutdownMaxRetries), 0)
	nonNegative("controlled.shutdown.retry.backoff.ms", c.ControlledShutdownRetryBackoff)
	positive("controller.socket.timeout.ms", c.ControllerSocketTimeout)
	positive("request.timeout.ms", c.RequestTimeout)

	atLeast("log.flush.interval.messages", c.LogFlushIntervalMessages, 1)
	positive("log.flush.interval.ms", c.LogFlushInterval)
	// Kafka's validator is atLeast(0), but LogManager schedules the
	// checkpoint with this period, which the scheduler refuses at 0.
	positive("log.flush.offset.checkpoint.interval.ms", c.LogFlushOffsetCheckpointInterval)

	atLeast("reserved.broker.max.id", int64(c.ReservedBrokerMaxID), 0)

	// Every duration property is in whole milliseconds (FlushNever is Kafka's Long.MaxValue).
	for _, d := range c.durations() {
		if d.key == "log.flush.interval.ms" && *d.dur == FlushNever {
			continue
		}
		if *d.dur%sim.Millisecond != 0 {
			add("%s: %dns is not a whole number of milliseconds", d.key, int64(*d.dur))
		}
	}

	f := &c.Features
	if f.CheckedEphemeral > Ephemeral08 {
		add("features.checked_ephemeral: unknown form %d", uint8(f.CheckedEphemeral))
	}
	if f.Truncation > TruncateHighWatermark {
		add("features.truncation: unknown mode %d", uint8(f.Truncation))
	}
	if f.BrokerZNodeVersion != 2 && f.BrokerZNodeVersion != 4 {
		add("features.broker_znode_version: %d is neither 2 nor 4", f.BrokerZNodeVersion)
	}
	if f.BrokerEpochs && f.CheckedEphemeral != Ephemeral22 {
		// Not a Kafka check: no release had broker epochs with an older form,
		// and a bounce detected by czxid needs the 2.2 re-registration.
		add("features.broker_epochs: true needs features.checked_ephemeral 2.2, not %s", f.CheckedEphemeral)
	}
	if f.AcceptNewerBrokerEpoch && !f.BrokerEpochs {
		add("features.accept_newer_broker_epoch: true needs features.broker_epochs")
	}
	if !f.PipelinedZooKeeper && c.ZooKeeperMaxInFlightRequests > 1 {
		add("zookeeper.max.in.flight.requests: %d needs features.pipelined_zookeeper (the synchronous client has one request outstanding)", c.ZooKeeperMaxInFlightRequests)
	}
	return first
}

// ValidateBrokerID checks a broker.id as Kafka 2.6's validateValues does:
// with broker.id.generation.enable, -1 (generate) to reserved.broker.max.id;
// without, at least 0.
func (c *Config) ValidateBrokerID(id int32) error {
	if c.BrokerIDGenerationEnable {
		if id < -1 || id > c.ReservedBrokerMaxID {
			return fmt.Errorf("broker.id: %d must be between -1 and reserved.broker.max.id %d", id, c.ReservedBrokerMaxID)
		}
		return nil
	}
	if id < 0 {
		return fmt.Errorf("broker.id: %d must be at least 0 (broker.id.generation.enable is false)", id)
	}
	return nil
}

// ms formats a duration as its property value.
func ms(d sim.Duration) string {
	if d%sim.Millisecond == 0 {
		return fmt.Sprintf("%dms", int64(d/sim.Millisecond))
	}
	return fmt.Sprintf("%dns", int64(d))
}
