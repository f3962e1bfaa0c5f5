package producer

import (
	"errors"
	"fmt"

	"github.com/kzsim/kzsim/nodes/kafka/producer/partition"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/sim"
)

// Discovery is how a producer finds the brokers and partition leaders.
type Discovery uint8

// The discovery modes.
const (
	// DiscoveryZK watches ZooKeeper's broker and topic registrations, as
	// Kafka 0.7.2's `ZKBrokerPartitionInfo` did, and with the controller
	// layout reads each partition's state znode for its leader.
	DiscoveryZK Discovery = iota + 1
	// DiscoveryMetadata asks a bootstrap broker for metadata, as the old
	// Scala producer did (`BrokerPartitionInfo`, `DefaultEventHandler`@0.8.2).
	DiscoveryMetadata
	// DiscoveryStatic sends everything to one broker of a fixed list, picked
	// once, as 0.7.2's `broker.list` producer behind a layer-4 balancer
	// (`ConfigBrokerPartitionInfo`): it never learns of brokers coming or
	// going.
	DiscoveryStatic
)

func (d Discovery) String() string {
	switch d {
	case DiscoveryZK:
		return "zk"
	case DiscoveryMetadata:
		return "metadata"
	case DiscoveryStatic:
		return "static"
	}
	return "discovery(?)"
}

// ParseDiscovery reads a discovery mode's name ("zk", "metadata", "static").
func ParseDiscovery(s string) (Discovery, error) {
	for _, d := range []Discovery{DiscoveryZK, DiscoveryMetadata, DiscoveryStatic} {
		if d.String() == s {
			return d, nil
		}
	}
	return 0, fmt.Errorf("producer: unknown discovery %q (want zk, metadata or static)", s)
}

// Partitioner is how a producer picks a message's partition.
type Partitioner uint8

// The partitioners (package partition holds the functions).
const (
	// PartitionHash: messages carry a key drawn from Config.Keys, placed by
	// abs(key.hashCode) % numPartitions over every partition of the topic,
	// leaderless ones included (the old producers' DefaultPartitioner).
	PartitionHash Partitioner = iota + 1
	// PartitionRoundRobin: unkeyed, Kafka 2.4's RoundRobinPartitioner over
	// the partitions with a leader.
	PartitionRoundRobin
	// PartitionRandom: unkeyed, 0.7's random.nextInt(numPartitions).
	PartitionRandom
	// PartitionSticky: unkeyed, the old Scala producer's sticky random
	// partition, re-drawn after every metadata refresh.
	PartitionSticky
)

func (p Partitioner) String() string {
	switch p {
	case PartitionHash:
		return "hash"
	case PartitionRoundRobin:
		return "round-robin"
	case PartitionRandom:
		return "random"
	case PartitionSticky:
		return "sticky"
	}
	return "partitioner(?)"
}

// Defaults, the old Scala producer's (`ProducerConfig`@0.8.2.2) unless
// said otherwise.
const (
	DefaultRequestTimeout          = 10 * sim.Second       // request.timeout.ms
	DefaultMaxRetries              = 3                     // message.send.max.retries
	DefaultRetryBackoff            = 100 * sim.Millisecond // retry.backoff.ms
	DefaultMetadataRefreshInterval = 600 * sim.Second      // topic.metadata.refresh.interval.ms
	DefaultMaxInFlight             = 5                     // max.in.flight.requests.per.connection (the Java producer's; the Scala sync producer had 1)
	DefaultBatchMax                = 200                   // batch.num.messages
	DefaultQueueMax                = 10000                 // queue.buffering.max.messages
	// ZKRetryInterval is how long the zk producer waits to read a
	// registration path again that does not exist yet (0.7 created
	// /brokers/topics itself; here the brokers create the paths).
	ZKRetryInterval = sim.Second
)

// Limits on a configuration.
const (
	MaxIndex = 1<<23 - 1 // values are Index<<40 | n: 23 bits of index, 40 of count
	MaxRate  = 1e6       // messages per second
	// MaxProducerID bounds Config.ProducerID: the bits above carry the
	// partition's sequence generation.
	MaxProducerID = 1<<pidGenShift - 1
	// MaxIdempotentInFlight is Kafka 2.6's bound on
	// max.in.flight.requests.per.connection with idempotence (the broker
	// keeps 5 batches per producer, ProducerStateEntry.NumBatchesToRetain).
	MaxIdempotentInFlight = 5
)

// NoRefresh, as Config.MetadataRefreshInterval, disables the periodic
// metadata refresh (the old producer's negative interval).
const NoRefresh sim.Duration = -1

// Config configures a producer machine. Zero fields take the defaults.
type Config struct {
	// Index numbers the producer in its run: its message values are
	// Index<<40 | n, n counting from 1, unique per run.
	Index int
	// Discovery is how it finds brokers (required).
	Discovery Discovery
	// Topics are the topics it writes; each message's topic is drawn
	// uniformly (required, no duplicates).
	Topics []string
	// Bootstrap are broker hosts: DiscoveryMetadata's metadata.broker.list
	// (the only brokers it asks for metadata), DiscoveryStatic's broker.list
	// (one picked once). DiscoveryZK ignores it.
	Bootstrap []string
	// StaticPartitions is, for DiscoveryStatic, how many partitions it
	// assumes each topic has. Simplified: a 0.7 broker picked the partition
	// of a request naming partition -1; a Kafka 2.6 broker cannot, so the
	// static producer picks one of this many itself.
	StaticPartitions int
	// Partitioner picks a message's partition (default PartitionHash when
	// Keys is set, else PartitionSticky).
	Partitioner Partitioner
	// Abs is the key hash's abs function (the release's Utils.abs).
	Abs partition.Abs
	// Keys draws message keys (required with PartitionHash).
	Keys *partition.Zipf
	// Acks is request.required.acks: proto.AcksNone, AcksLeader or AcksAll
	// (default AcksLeader; set AcksNoneSet for 0).
	Acks int16
	// AcksNoneSet makes a zero Acks mean acks=0 rather than the default.
	AcksNoneSet bool
	// RequestTimeout is request.timeout.ms: how long the broker waits for
	// acks=all and how long the producer waits for an answer.
	RequestTimeout sim.Duration
	// MaxRetries is message.send.max.retries: sends after the first
	// (default DefaultMaxRetries; set NoRetries for 0).
	MaxRetries int
	// NoRetries makes a zero MaxRetries mean no retries.
	NoRetries bool
	// RetryBackoff is retry.backoff.ms.
	RetryBackoff sim.Duration
	// MetadataRefreshInterval is topic.metadata.refresh.interval.ms
	// (DiscoveryMetadata; NoRefresh: never).
	MetadataRefreshInterval sim.Duration
	// MaxInFlight bounds the produce requests in flight per broker
	// connection; the scenario sets kproc.Config.MaxInFlight of
	// kproc.ChannelClient to the same.
	MaxInFlight int
	// BatchMax bounds the messages of one ProduceRequest.
	BatchMax int
	// QueueMax bounds the messages waiting to be sent or answered; a message
	// beyond it fails at once (queue.enqueue.timeout.ms = 0).
	QueueMax int
	// Layout07 makes DiscoveryZK read Kafka 0.7.2's znodes (`--layout
	// 0.7`): /brokers/ids/<id> as "<creatorId>:<host>:<port>" and each
	// broker's /brokers/topics/<t>/<id> partition count, a topic's
	// partitions being the sorted (broker, partition) pairs
	// (ZKBrokerPartitionInfo@0.7.2). With DiscoveryStatic it is 0.7's
	// broker.list producer: partition −1, the broker picks. Either way a
	// 0.7 produce request has no response, so every send's outcome is
	// Unknown once it is sent (a history "info"), whatever Acks says.
	// DiscoveryMetadata refuses it (0.7 had no metadata request).
	Layout07 bool
	// Idempotent stamps records with a producer id and a sequence per
	// partition (KIP-98, enable.idempotence); a message keeps its
	// partition and sequence across retries, a batch is retried whole, and
	// the leader answers a retry of a batch it holds with its first
	// offsets. As in Kafka 2.6 it needs acks=all (the default then) and at
	// most 5 requests in flight.
	Idempotent bool
	// ProducerID is the idempotent producer's id, 1 to MaxProducerID
	// (Kafka allocates it with InitProducerId; here the scenario gives it).
	// A partition whose sequences had to start again is sent as
	// ProducerID + n<<40 for its n-th new start (see Producer.resetSequences).
	ProducerID int64
	// Rate is the steady rate, messages per second (0: none).
	Rate float64
	// BurstEvery and BurstSize: every BurstEvery, BurstSize messages at once.
	BurstEvery sim.Duration
	BurstSize  int
	// Start delays the workload after the process starts; Stop, if
	// positive, is when (since the start of the process) it stops making
	// new messages.
	Start, Stop sim.Duration
	// Rand is the producer's seeded stream: topics, keys, partitions,
	// bootstrap order (required).
	Rand *sim.Rand
}

// withDefaults returns c with its zero fields defaulted.
func (c Config) withDefaults() Config {
	if c.Partitioner == 0 {
		c.Partitioner = PartitionSticky
		if c.Keys != nil {
			c.Partitioner = PartitionHash
		}
	}
	if c.Acks == 0 && !c.AcksNoneSet {
		c.Acks = proto.AcksLeader
		if c.Idempotent {
			c.Acks = proto.AcksAll // Kafka 2.6 ProducerConfig.maybeOverrideAcksAndRetries
		}
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxRetries == 0 && !c.NoRetries {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
	if c.MetadataRefreshInterval == 0 {
		c.MetadataRefreshInterval = DefaultMetadataRefreshInterval
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.BatchMax == 0 {
		c.BatchMax = DefaultBatchMax
	}
	if c.QueueMax == 0 {
		c.QueueMax = DefaultQueueMax
	}
	return c
}

// validate checks a defaulted configuration.
func (c Config) validate() error {
	switch {
	case c.Index < 0 || c.Index > MaxIndex:
		return fmt.Errorf("producer: index %d (need 0..%d)", c.Index, MaxIndex)
	case c.Discovery < DiscoveryZK || c.Discovery > DiscoveryStatic:
		return errors.New("producer: no discovery mode (zk, metadata or static)")
	case len(c.Topics) == 0:
		return errors.New("producer: no topics")
	case c.Rand == nil:
		return errors.New("producer: no Rand stream")
	case c.Discovery != DiscoveryZK && len(c.Bootstrap) == 0:
		return fmt.Errorf("producer: %s discovery needs bootstrap hosts", c.Discovery)
	case c.Discovery == DiscoveryStatic && c.StaticPartitions <= 0:
		return fmt.Errorf("producer: static discovery needs StaticPartitions > 0, not %d", c.StaticPartitions)
	case c.Partitioner < PartitionHash || c.Partitioner > PartitionSticky:
		return fmt.Errorf("producer: unknown partitioner %d", c.Partitioner)
	case c.Partitioner == PartitionHash && c.Keys == nil:
		return errors.New("producer: the hash partitioner needs Keys")
	case c.Acks != proto.AcksNone && c.Acks != proto.AcksLeader && c.Acks != proto.AcksAll:
		return fmt.Errorf("producer: acks %d (need 0, 1 or -1)", c.Acks)
	case c.RequestTimeout <= 0 || c.RetryBackoff < 0:
		return fmt.Errorf("producer: request timeout %v and retry backoff %v must be positive", c.RequestTimeout, c.RetryBackoff)
	case c.Layout07 && c.Discovery == DiscoveryMetadata:
		return errors.New("producer: Kafka 0.7 had no metadata request (the metadata producer is 0.8's)")
	case c.Layout07 && c.Idempotent:
		return errors.New("producer: Kafka 0.7 had no idempotent producer (KIP-98 is 0.11)")
	case c.Idempotent && (c.ProducerID < 1 || c.ProducerID > MaxProducerID):
		return fmt.Errorf("producer: idempotent producer id %d (need 1..%d)", c.ProducerID, int64(MaxProducerID))
	case c.Idempotent && c.Acks != proto.AcksAll:
		// Kafka 2.6 ProducerConfig: "Must set acks to all in order to use
		// the idempotent producer."
		return fmt.Errorf("producer: the idempotent producer needs acks=all, not %d", c.Acks)
	case c.Idempotent && c.MaxInFlight > MaxIdempotentInFlight:
		return fmt.Errorf("producer: the idempotent producer allows at most %d requests in flight, not %d", MaxIdempotentInFlight, c.MaxInFlight)
	case c.MaxRetries < 0 || c.MaxRetries > 1000:
		return fmt.Errorf("producer: max retries %d (need 0..1000)", c.MaxRetries)
	case c.MetadataRefreshInterval < 0 && c.MetadataRefreshInterval != NoRefresh:
		return fmt.Errorf("producer: metadata refresh interval %v", c.MetadataRefreshInterval)
	case c.MaxInFlight < 1 || c.MaxInFlight > 1024:
		return fmt.Errorf("producer: max in flight %d (need 1..1024)", c.MaxInFlight)
	case c.BatchMax < 1 || c.BatchMax > c.QueueMax:
		return fmt.Errorf("producer: batch of %d messages (need 1..QueueMax %d)", c.BatchMax, c.QueueMax)
	case c.QueueMax > 1<<20:
		return fmt.Errorf("producer: queue of %d messages (at most %d)", c.QueueMax, 1<<20)
	case !(c.Rate >= 0) || c.Rate > MaxRate:
		return fmt.Errorf("producer: rate %v (need 0..%v per second)", c.Rate, MaxRate)
	case c.BurstEvery < 0 || c.BurstSize < 0 || (c.BurstEvery > 0) != (c.BurstSize > 0):
		return fmt.Errorf("producer: bursts of %d every %v (both positive, or both zero)", c.BurstSize, c.BurstEvery)
	case c.Start < 0 || c.Stop < 0:
		return fmt.Errorf("producer: start %v and stop %v must not be negative", c.Start, c.Stop)
	}
	seen := map[string]bool{}
	for _, t := range c.Topics {
		if t == "" || seen[t] {
			return fmt.Errorf("producer: topic %q empty or listed twice", t)
		}
		seen[t] = true
	}
	for _, h := range c.Bootstrap {
		if h == "" {
			return errors.New("producer: an empty bootstrap host")
		}
	}
	return nil
}
