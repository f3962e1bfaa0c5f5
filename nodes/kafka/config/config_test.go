package config

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/sim"
)

// flat encodes c and flattens it to key → JSON value, features as
// "features.<name>".
func flat(t *testing.T, c Config) map[string]string {
	t.Helper()
	b, err := json.Marshal(c)
	require.NoError(t, err)
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &top))
	out := map[string]string{}
	for k, v := range top {
		if k != "features" {
			out[k] = string(v)
			continue
		}
		var ft map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(v, &ft))
		for fk, fv := range ft {
			out["features."+fk] = string(fv)
		}
	}
	return out
}

// diff lists the keys whose values differ between a and b, sorted.
func diff(a, b map[string]string) []string {
	var keys []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			keys = append(keys, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// Kafka 2.6's defaults, each from core/src/main/scala/kafka/server/KafkaConfig.scala
// at tag 2.6.0 (object Defaults) unless noted.
func TestDefaultIsKafka26(t *testing.T) {
	want := map[string]string{
		"zookeeper.session.timeout.ms":                  "18000",               // Defaults.ZkSessionTimeoutMs
		"zookeeper.max.in.flight.requests":              "10",                  // Defaults.ZkMaxInFlightRequests
		"replica.lag.time.max.ms":                       "30000",               // Defaults.ReplicaLagTimeMaxMs
		"replica.lag.max.messages":                      "0",                   // absent since 0.9.0
		"replica.fetch.wait.max.ms":                     "500",                 // Defaults.ReplicaFetchWaitMaxMs
		"replica.fetch.min.bytes":                       "1",                   // Defaults.ReplicaFetchMinBytes
		"replica.fetch.max.bytes":                       "1048576",             // Defaults.ReplicaFetchMaxBytes
		"replica.fetch.backoff.ms":                      "1000",                // Defaults.ReplicaFetchBackoffMs
		"replica.socket.timeout.ms":                     "30000",               // Defaults.ReplicaSocketTimeoutMs
		"num.replica.fetchers":                          "1",                   // Defaults.NumReplicaFetchers
		"replica.high.watermark.checkpoint.interval.ms": "5000",                // Defaults.ReplicaHighWatermarkCheckpointIntervalMs
		"min.insync.replicas":                           "1",                   // Defaults.MinInSyncReplicas
		"unclean.leader.election.enable":                "false",               // Defaults.UncleanLeaderElectionEnable
		"default.replication.factor":                    "1",                   // Defaults.DefaultReplicationFactor
		"num.partitions":                                "1",                   // Defaults.NumPartitions
		"auto.create.topics.enable":                     "true",                // Defaults.AutoCreateTopicsEnable
		"delete.topic.enable":                           "true",                // Defaults.DeleteTopicEnable
		"offsets.topic.replication.factor":              "3",                   // OffsetConfig.DefaultOffsetsTopicReplicationFactor
		"offsets.topic.num.partitions":                  "50",                  // OffsetConfig.DefaultOffsetsTopicNumPartitions
		"auto.leader.rebalance.enable":                  "true",                // Defaults.AutoLeaderRebalanceEnable
		"leader.imbalance.check.interval.seconds":       "300",                 // Defaults.LeaderImbalanceCheckIntervalSeconds
		"leader.imbalance.per.broker.percentage":        "10",                  // Defaults.LeaderImbalancePerBrokerPercentage
		"controlled.shutdown.enable":                    "true",                // Defaults.ControlledShutdownEnable
		"controlled.shutdown.max.retries":               "3",                   // Defaults.ControlledShutdownMaxRetries
		"controlled.shutdown.retry.backoff.ms":          "5000",                // Defaults.ControlledShutdownRetryBackoffMs
		"controller.socket.timeout.ms":                  "30000",               // Defaults.ControllerSocketTimeoutMs = RequestTimeoutMs
		"request.timeout.ms":                            "30000",               // Defaults.RequestTimeoutMs
		"log.flush.interval.messages":                   "9223372036854775807", // Defaults.LogFlushIntervalMessages = Long.MaxValue
		"log.flush.interval.ms":                         "9223372036854775807", // unset → Defaults.LogFlushSchedulerIntervalMs = Long.MaxValue
		"log.flush.offset.checkpoint.interval.ms":       "60000",               // Defaults.LogFlushOffsetCheckpointIntervalMs
		"broker.id.generation.enable":                   "true",                // Defaults.BrokerIdGenerationEnable
		"reserved.broker.max.id":                        "1000",                // Defaults.MaxReservedBrokerId
		// zookeeper.connection.timeout.ms is defined with default null:
		// unset, so it is absent and the session timeout applies.
		"features.checked_ephemeral":                 "\"2.2\"",
		"features.truncation":                        "\"kip-279\"",
		"features.broker_znode_version":              "4",
		"features.pipelined_zookeeper":               "true",
		"features.controller_retries_bad_version":    "true",
		"features.keep_last_isr_member":              "true",
		"features.offline_election_assignment_order": "true",
		"features.fenced_controller_writes":          "true",
		"features.broker_epochs":                     "true",
		"features.accept_newer_broker_epoch":         "true",
		"features.stop_replica_leader_epoch":         "true",
		"features.epoch_cache_truncated_at_end":      "true",
		"features.isr_expand_needs_epoch_start":      "true",
		"features.isr_write_read_back":               "true",
		"features.reassignment_adding_removing":      "true",
		"features.topic_rewrite_on_deleted_add":      "true",
	}
	c := Default()
	got := flat(t, c)
	for _, k := range slices.Sorted(func(y func(string) bool) {
		for k := range want {
			if !y(k) {
				return
			}
		}
	}) {
		assert.Equal(t, want[k], got[k], k)
	}
	assert.Empty(t, diff(want, got), "keys beyond the table")
	require.NoError(t, c.Validate())
	assert.Equal(t, 18*sim.Second, c.ConnectionTimeout(), "unset connection timeout is the session timeout")
	c.ZooKeeperConnectionTimeout = 3 * sim.Second
	assert.Equal(t, 3*sim.Second, c.ConnectionTimeout())
}

// Each era's ForEra differs from the previous era's in exactly the keys the
// era documents, and the newest era is Default.
func TestEraChangesOnlyItsFlags(t *testing.T) {
	eras := Eras()
	require.Equal(t, Era26, eras[len(eras)-1])
	assert.Equal(t, Default(), ForEra(Era26))
	for i, e := range eras {
		c := ForEra(e)
		require.NoError(t, c.Validate(), "era %s", e)
		if i == 0 {
			assert.Empty(t, e.Changed())
			continue
		}
		got := diff(flat(t, ForEra(eras[i-1])), flat(t, c))
		want := e.Changed()
		slices.Sort(want)
		assert.Equal(t, want, got, "era %s changes", e)
	}
}

// The check above catches an undo that touches a setting its era does not
// list: plant one and see the diff disagree.
func TestEraDiffCatchesUndocumentedChange(t *testing.T) {
	prev := ForEra(Era24)
	prev.MinInsyncReplicas = 2 // a planted extra change
	got := diff(flat(t, prev), flat(t, ForEra(Era25)))
	want := Era25.Changed()
	slices.Sort(want)
	assert.NotEqual(t, want, got)
	assert.Contains(t, got, "min.insync.replicas")
}

// Hand-checked values of some eras, against the releases' KafkaConfig.
func TestEraValues(t *testing.T) {
	tests := []struct {
		era   Era
		check func(c Config) bool
		what  string
	}{
		{Era24, func(c Config) bool { return c.ZooKeeperSessionTimeout == 6*sim.Second }, "2.4.0 Defaults.ZkSessionTimeoutMs = 6000"},
		{Era24, func(c Config) bool { return c.ReplicaLagTimeMax == 10*sim.Second }, "2.4.0 Defaults.ReplicaLagTimeMaxMs = 10000"},
		{Era24, func(c Config) bool { return c.ConnectionTimeout() == 6*sim.Second }, "connection timeout follows the session timeout"},
		{Era25, func(c Config) bool { return c.ZooKeeperSessionTimeout == 18*sim.Second }, "2.5.0 Defaults.ZkSessionTimeoutMs = 18000"},
		{Era25, func(c Config) bool { return !c.Features.AcceptNewerBrokerEpoch && c.Features.BrokerEpochs }, "KAFKA-9839 is 2.6"},
		{Era21, func(c Config) bool { return c.Features.CheckedEphemeral == Ephemeral09 && !c.Features.BrokerEpochs }, "KAFKA-7165, KIP-380 are 2.2"},
		{Era21, func(c Config) bool { return c.Features.FencedControllerWrites }, "KAFKA-6082 is 2.1"},
		{Era20, func(c Config) bool { return !c.Features.FencedControllerWrites }, "no fencing in 2.0"},
		{Era11, func(c Config) bool { return c.Features.PipelinedZooKeeper && c.ZooKeeperMaxInFlightRequests == 10 }, "1.1.0 Defaults.ZkMaxInFlightRequests = 10"},
		{Era10, func(c Config) bool { return !c.Features.PipelinedZooKeeper && c.ZooKeeperMaxInFlightRequests == 1 }, "synchronous ZkClient in 1.0"},
		{Era10, func(c Config) bool { return c.DeleteTopicEnable && !c.Features.KeepLastIsrMember }, "1.0.0 Defaults.DeleteTopicEnable = true; KAFKA-5083 is 1.1"},
		{Era011, func(c Config) bool { return !c.DeleteTopicEnable && !c.UncleanLeaderElectionEnable }, "0.11.0.0 DeleteTopicEnable = false, UncleanLeaderElectionEnable = false"},
		{Era011, func(c Config) bool { return c.Features.Truncation == TruncateEpoch }, "KIP-101 in 0.11"},
		{Era010, func(c Config) bool {
			return c.UncleanLeaderElectionEnable && c.Features.Truncation == TruncateHighWatermark
		}, "0.10.2.0 UncleanLeaderElectionEnable = true"},
		{Era010, func(c Config) bool { return c.Features.BrokerZNodeVersion == 4 }, "broker znode v4 from 0.10.0"},
		{Era09, func(c Config) bool { return c.Features.BrokerZNodeVersion == 2 && c.ReplicaFetchBackoff == sim.Second }, "0.9.0.0 Defaults.ReplicaFetchBackoffMs = 1000"},
		{Era082, func(c Config) bool {
			return c.ReplicaLagMaxMessages == 4000 && c.ReplicaFetchBackoff == 0 && !c.BrokerIDGenerationEnable && c.Features.CheckedEphemeral == Ephemeral08
		}, "0.8.2.0 replica.lag.max.messages 4000, no fetch back-off, broker.id required"},
		{Era082, func(c Config) bool {
			return c.UncleanLeaderElectionEnable && c.AutoLeaderRebalanceEnable && c.ControlledShutdownEnable
		}, "0.8.2.0 defaults true"},
		{Era08, func(c Config) bool {
			return !c.AutoLeaderRebalanceEnable && !c.ControlledShutdownEnable && !c.Features.IsrWriteReadBack
		}, "0.8.1.1 defaults false; KAFKA-1382 is 0.8.2"},
		{Era08, func(c Config) bool { return c.ZooKeeperSessionTimeout == 6*sim.Second && c.MinInsyncReplicas == 1 }, "0.8.2.0 ZKConfig zookeeper.session.timeout.ms 6000"},
	}
	for _, tc := range tests {
		assert.True(t, tc.check(ForEra(tc.era)), "%s: %s", tc.era, tc.what)
	}
}

func TestParseEra(t *testing.T) {
	tests := []struct {
		in   string
		want Era
		err  string
	}{
		{"2.6", Era26, ""}, {"2.6.0", Era26, ""}, {"2.5.1", Era25, ""}, {"2.3", Era22, ""},
		{"2.2.0", Era22, ""}, {"2.0.1", Era20, ""}, {"1.1", Era11, ""}, {"1.0.2", Era10, ""},
		{"0.11.0.3", Era011, ""}, {"0.10.2.1", Era010, ""}, {"0.9.0.1", Era09, ""},
		{"0.8.2.1", Era082, ""}, {"0.8.1.1", Era08, ""}, {"0.8", Era08, ""},
		{"0.7", 0, "older than"}, {"2.7", 0, "newer than 2.6"}, {"3.0", 0, "newer than 2.6"},
		{"two", 0, "not a Kafka release"}, {"2", 0, "not a Kafka release"}, {"2..6", 0, "not a Kafka release"},
	}
	for _, tc := range tests {
		got, err := ParseEra(tc.in)
		if tc.err != "" {
			require.Error(t, err, tc.in)
			assert.Contains(t, err.Error(), tc.err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	for _, e := range Eras() {
		got, err := ParseEra(e.String())
		require.NoError(t, err)
		assert.Equal(t, e, got)
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		set  func(c *Config)
		want string
	}{
		{func(c *Config) { c.ZooKeeperSessionTimeout = 0 }, "zookeeper.session.timeout.ms: 0ms must be positive"},
		{func(c *Config) { c.ZooKeeperConnectionTimeout = -sim.Millisecond }, "zookeeper.connection.timeout.ms: -1ms must not be negative"},
		{func(c *Config) { c.ZooKeeperMaxInFlightRequests = 0 }, "zookeeper.max.in.flight.requests: 0 must be at least 1"},
		{func(c *Config) { c.ReplicaLagTimeMax = 0 }, "replica.lag.time.max.ms: 0ms must be positive"},
		{func(c *Config) { c.ReplicaLagMaxMessages = -1 }, "replica.lag.max.messages: -1 must be at least 0"},
		{func(c *Config) { c.ReplicaFetchWaitMax = -sim.Millisecond }, "replica.fetch.wait.max.ms: -1ms must not be negative"},
		{func(c *Config) { c.ReplicaFetchMaxBytes = -1 }, "replica.fetch.max.bytes: -1 must be at least 0"},
		{func(c *Config) { c.ReplicaFetchBackoff = -sim.Millisecond }, "replica.fetch.backoff.ms: -1ms must not be negative"},
		{func(c *Config) { c.NumReplicaFetchers = 0 }, "num.replica.fetchers: 0 must be at least 1"},
		{func(c *Config) { c.ReplicaHighWatermarkCheckpointInterval = 0 }, "replica.high.watermark.checkpoint.interval.ms: 0ms must be positive"},
		{func(c *Config) { c.ReplicaFetchWaitMax = 31 * sim.Second; c.ReplicaLagTimeMax = 60 * sim.Second }, "replica.fetch.wait.max.ms: 31000ms exceeds replica.socket.timeout.ms 30000ms"},
		{func(c *Config) { c.ReplicaFetchWaitMax = 20 * sim.Second; c.ReplicaLagTimeMax = 10 * sim.Second }, "replica.fetch.wait.max.ms: 20000ms exceeds replica.lag.time.max.ms 10000ms"},
		{func(c *Config) { c.MinInsyncReplicas = 0 }, "min.insync.replicas: 0 must be at least 1"},
		{func(c *Config) { c.DefaultReplicationFactor = 0 }, "default.replication.factor: 0 must be at least 1"},
		{func(c *Config) { c.NumPartitions = -3 }, "num.partitions: -3 must be at least 1"},
		{func(c *Config) { c.OffsetsTopicReplicationFactor = 0 }, "offsets.topic.replication.factor: 0 must be at least 1"},
		{func(c *Config) { c.OffsetsTopicNumPartitions = 0 }, "offsets.topic.num.partitions: 0 must be at least 1"},
		{func(c *Config) { c.LeaderImbalanceCheckInterval = 0 }, "leader.imbalance.check.interval.seconds: 0ms must be positive"},
		{func(c *Config) { c.LeaderImbalanceCheckInterval = 1500 * sim.Millisecond }, "leader.imbalance.check.interval.seconds: 1500000000ns is not a whole number of seconds"},
		{func(c *Config) { c.LeaderImbalancePerBrokerPercentage = -1 }, "leader.imbalance.per.broker.percentage: -1 must be at least 0"},
		{func(c *Config) { c.ControlledShutdownMaxRetries = -1 }, "controlled.shutdown.max.retries: -1 must be at least 0"},
		{func(c *Config) { c.ControlledShutdownRetryBackoff = -sim.Second }, "controlled.shutdown.retry.backoff.ms: -1000ms must not be negative"},
		{func(c *Config) { c.ControllerSocketTimeout = 0 }, "controller.socket.timeout.ms: 0ms must be positive"},
		{func(c *Config) { c.RequestTimeout = -sim.Second }, "request.timeout.ms: -1000ms must be positive"},
		{func(c *Config) { c.LogFlushIntervalMessages = 0 }, "log.flush.interval.messages: 0 must be at least 1"},
		{func(c *Config) { c.LogFlushInterval = 0 }, "log.flush.interval.ms: 0ms must be positive"},
		{func(c *Config) { c.LogFlushOffsetCheckpointInterval = 0 }, "log.flush.offset.checkpoint.interval.ms: 0ms must be positive"},
		{func(c *Config) { c.ReservedBrokerMaxID = -1 }, "reserved.broker.max.id: -1 must be at least 0"},
		{func(c *Config) { c.RequestTimeout = 30*sim.Second + 1 }, "request.timeout.ms: 30000000001ns is not a whole number of milliseconds"},
		{func(c *Config) { c.Features.CheckedEphemeral = 9 }, "features.checked_ephemeral: unknown form 9"},
		{func(c *Config) { c.Features.Truncation = 9 }, "features.truncation: unknown mode 9"},
		{func(c *Config) { c.Features.BrokerZNodeVersion = 3 }, "features.broker_znode_version: 3 is neither 2 nor 4"},
		{func(c *Config) { c.Features.CheckedEphemeral = Ephemeral09 }, "features.broker_epochs: true needs features.checked_ephemeral 2.2, not 0.9"},
		{func(c *Config) { c.Features.BrokerEpochs = false; c.Features.CheckedEphemeral = Ephemeral09 }, "features.accept_newer_broker_epoch: true needs features.broker_epochs"},
		{func(c *Config) { c.Features.PipelinedZooKeeper = false }, "zookeeper.max.in.flight.requests: 10 needs features.pipelined_zookeeper"},
	}
	for _, tc := range tests {
		c := Default()
		tc.set(&c)
		err := c.Validate()
		require.Error(t, err, tc.want)
		assert.Contains(t, err.Error(), tc.want)
		assert.NotContains(t, err.Error(), "\n")
	}
	// Valid edge values Kafka accepts.
	c := Default()
	c.MinInsyncReplicas = 5 // above default.replication.factor: allowed, as in Kafka
	c.ReplicaFetchWaitMax = 0
	c.ReplicaFetchBackoff = 0
	c.ControlledShutdownMaxRetries = 0
	c.AutoLeaderRebalanceEnable = false
	c.LeaderImbalanceCheckInterval = 0
	c.ReservedBrokerMaxID = 0
	require.NoError(t, c.Validate())
}

func TestValidateBrokerID(t *testing.T) {
	gen := Default()
	noGen := ForEra(Era082)
	tests := []struct {
		c    Config
		id   int32
		want string
	}{
		{gen, -1, ""}, {gen, 0, ""}, {gen, 1000, ""},
		{gen, 1001, "broker.id: 1001 must be between -1 and reserved.broker.max.id 1000"},
		{gen, -2, "broker.id: -2 must be between -1"},
		{noGen, 0, ""}, {noGen, 5000, ""},
		{noGen, -1, "broker.id: -1 must be at least 0"},
	}
	for _, tc := range tests {
		err := tc.c.ValidateBrokerID(tc.id)
		if tc.want == "" {
			assert.NoError(t, err, "%d", tc.id)
			continue
		}
		require.Error(t, err, "%d", tc.id)
		assert.Contains(t, err.Error(), tc.want)
	}
}

func TestStrings(t *testing.T) {
	assert.Equal(t, "2.6", Era26.String())
	assert.Equal(t, "0.10", Era010.String())
	assert.Equal(t, "Era(99)", Era(99).String())
	assert.Equal(t, "EphemeralForm(7)", EphemeralForm(7).String())
	assert.Equal(t, "Truncation(7)", Truncation(7).String())
	assert.Panics(t, func() { ForEra(Era(99)) })
	assert.Equal(t, fmt.Sprint(FlushNever), fmt.Sprint(sim.Duration(1<<63-1)))
}
