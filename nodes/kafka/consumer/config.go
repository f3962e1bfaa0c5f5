package consumer

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/kzsim/kzsim/sim"
)

// Strategy is partition.assignment.strategy.
type Strategy string

// The assignors (nodes/kafka/consumer/assign).
const (
	StrategyRange      Strategy = "range"      // RangeAssignor, the default
	StrategyRoundRobin Strategy = "roundrobin" // RoundRobinAssignor of 0.10.2+ (KAFKA-2434)
)

// Reset is auto.offset.reset: where a partition without a committed offset
// (or with one out of the log's range) starts.
type Reset string

// The reset policies the old consumer accepts (ConsumerConfig.validate).
const (
	ResetLargest  Reset = "largest"  // the high watermark, the default
	ResetSmallest Reset = "smallest" // the log start offset
)

// Limits.
const (
	// MaxStreams bounds a topic's stream count in a subscription.
	MaxStreams = 64
	// MaxRebalanceRetries bounds rebalance.max.retries.
	MaxRebalanceRetries = 1000
)

// Config configures a consumer. DefaultConfig gives Kafka's defaults
// (ConsumerConfig, Kafka 0.8.2.2 to 1.1.1).
type Config struct {
	// Group is group.id (required).
	Group string
	// ConsumerID is consumer.id: "" generates "<Host>-<ms>-<8 hex digits>"
	// at each start (ZookeeperConsumerConnector.consumerIdString); either way
	// the id registered is "<Group>_<…>".
	ConsumerID string
	// Host is the consumer's host name, part of a generated id.
	Host string
	// Topics is the static subscription: topic → stream count (≥ 1).
	Topics map[string]int
	// Strategy is partition.assignment.strategy (range).
	Strategy Strategy
	// RebalanceMaxRetries is rebalance.max.retries (4): attempts per
	// rebalance before ConsumerRebalanceFailedException.
	RebalanceMaxRetries int
	// RebalanceBackoff is rebalance.backoff.ms (= zookeeper.sync.time.ms,
	// 2000 ms): the sleep after each failed attempt.
	RebalanceBackoff sim.Duration
	// AutoCommitDisabled is auto.commit.enable=false (the default is true).
	AutoCommitDisabled bool
	// AutoCommitInterval is auto.commit.interval.ms (60 s).
	AutoCommitInterval sim.Duration
	// AutoOffsetReset is auto.offset.reset (largest).
	AutoOffsetReset Reset
	// FetchWaitMax is fetch.wait.max.ms (100 ms).
	FetchWaitMax sim.Duration
	// FetchMaxRecords stands in for fetch.message.max.bytes (1 MiB): the
	// records one fetch asks for per partition (records carry no bytes).
	FetchMaxRecords int
	// RefreshLeaderBackoff is refresh.leader.backoff.ms (200 ms): the
	// leader finder's sleep between passes.
	RefreshLeaderBackoff sim.Duration
	// SocketTimeout is socket.timeout.ms (30 s), the timeout of metadata
	// and fetch requests.
	SocketTimeout sim.Duration
	// Rand is the consumer's seeded stream (its id's random digits, the
	// order brokers are asked for metadata). Required.
	Rand *sim.Rand
	// Era07 makes the consumer Kafka 0.7.2's (ZookeeperConsumerConnector,
	// TopicCount@0.7.2; DefaultConfig07 gives its defaults): a partition is
	// (broker, partition), named "<b>-<p>" in owner and offset znodes and
	// packed as assign.BrokerPartition.Pack07 in a TopicPartition; the
	// registration is `{ "t": n }`; it watches each subscribed topic's
	// children (its brokers' registrations), never /brokers/ids; range only;
	// a partition without a committed offset asks its broker for the
	// earliest or latest offset within the rebalance; fetches go straight to
	// the partition's broker; every commit writes every offset.
	Era07 bool
}

// DefaultConfig07 returns Kafka 0.7.2's consumer defaults (ConsumerConfig.
// scala@0.7.2): autocommit.interval.ms 10 s, rebalance.retries.max 4,
// rebalance.backoff.ms = zk.synctime.ms 2 s, autooffset.reset smallest,
// socket.timeout.ms 30 s; FetchWaitMax stands for fetcher.backoff.ms
// (1000 ms, the sleep after a fetch that returned nothing).
func DefaultConfig07(group, host string, topics map[string]int, r *sim.Rand) Config {
	c := DefaultConfig(group, host, topics, r)
	c.Era07 = true
	c.AutoCommitInterval = 10 * sim.Second
	c.AutoOffsetReset = ResetSmallest
	c.FetchWaitMax = 1000 * sim.Millisecond
	return c
}

// DefaultConfig returns Kafka's defaults for a consumer of group on host
// subscribing to topics.
func DefaultConfig(group, host string, topics map[string]int, r *sim.Rand) Config {
	return Config{
		Group:                group,
		Host:                 host,
		Topics:               topics,
		Strategy:             StrategyRange,
		RebalanceMaxRetries:  4,
		RebalanceBackoff:     2000 * sim.Millisecond,
		AutoCommitInterval:   60 * sim.Second,
		AutoOffsetReset:      ResetLargest,
		FetchWaitMax:         100 * sim.Millisecond,
		FetchMaxRecords:      500,
		RefreshLeaderBackoff: 200 * sim.Millisecond,
		SocketTimeout:        30 * sim.Second,
		Rand:                 r,
	}
}

// Validate reports the first problem with c, in one line.
func (c Config) Validate() error {
	switch {
	case c.Group == "":
		return errors.New("consumer: group.id is required")
	case c.ConsumerID == "" && c.Host == "":
		return errors.New("consumer: a host name is needed to generate a consumer id")
	case len(c.Topics) == 0:
		return fmt.Errorf("consumer %s: no topic subscribed", c.Group)
	case c.Strategy != StrategyRange && c.Strategy != StrategyRoundRobin:
		return fmt.Errorf("consumer %s: partition.assignment.strategy %q is neither range nor roundrobin", c.Group, c.Strategy)
	case c.Era07 && c.Strategy != StrategyRange:
		return fmt.Errorf("consumer %s: Kafka 0.7 has only the range assignment, not %q", c.Group, c.Strategy)
	case c.RebalanceMaxRetries < 1 || c.RebalanceMaxRetries > MaxRebalanceRetries:
		return fmt.Errorf("consumer %s: rebalance.max.retries %d outside 1..%d", c.Group, c.RebalanceMaxRetries, MaxRebalanceRetries)
	case c.RebalanceBackoff < 0:
		return fmt.Errorf("consumer %s: negative rebalance.backoff.ms", c.Group)
	case !c.AutoCommitDisabled && c.AutoCommitInterval <= 0:
		return fmt.Errorf("consumer %s: auto.commit.interval.ms must be positive", c.Group)
	case c.AutoOffsetReset != ResetLargest && c.AutoOffsetReset != ResetSmallest:
		return fmt.Errorf("consumer %s: auto.offset.reset %q is neither smallest nor largest", c.Group, c.AutoOffsetReset)
	case c.FetchWaitMax < 0 || c.FetchMaxRecords < 1:
		return fmt.Errorf("consumer %s: fetch.wait.max.ms must be ≥ 0 and the fetch size ≥ 1", c.Group)
	case c.RefreshLeaderBackoff <= 0 || c.SocketTimeout <= 0:
		return fmt.Errorf("consumer %s: refresh.leader.backoff.ms and socket.timeout.ms must be positive", c.Group)
	case c.Rand == nil:
		return fmt.Errorf("consumer %s: Config.Rand is required", c.Group)
	}
	for _, t := range slices.Sorted(maps.Keys(c.Topics)) {
		if t == "" {
			return fmt.Errorf("consumer %s: empty topic name", c.Group)
		}
		if n := c.Topics[t]; n < 1 || n > MaxStreams {
			return fmt.Errorf("consumer %s: topic %s: %d streams, want 1..%d", c.Group, t, n, MaxStreams)
		}
	}
	return nil
}
