// Package partition holds the producers' partition choices as pure
// functions and small value types, as Kafka's old producers made them:
//   - Hash: the default partitioner of the 0.7 producer and the old Scala
//     producer, abs(key.hashCode) % numPartitions, with each release's abs
//     (`DefaultPartitioner.scala` at Kafka 0.7.2, 0.8.0 and 0.8.2.2);
//   - Random: 0.7's choice for a message without a key
//     (`Producer.getPartition`, `random.nextInt(numPartitions)`);
//   - Sticky: the old Scala producer's choice for a message without a key
//     (`DefaultEventHandler.getPartition`@0.8.2.2, `sendPartitionPerTopicCache`);
//   - RoundRobin: Kafka 2.4's `RoundRobinPartitioner` (KAFKA-3333), which
//     the old producers lacked: a per-topic counter over the partitions that
//     have a leader.
//
// Keys are the simulation's uint64 ids. The key object the old producers
// hash is a `java.lang.String`, its decimal text (KeyString): with the
// default `kafka.serializer.DefaultEncoder` a key is a `byte[]`, whose Java
// hashCode is the array's identity, so keyed producers of that era used
// String keys with `kafka.serializer.StringEncoder`.
//
// Zipf draws skewed key ids for workloads from a seeded *sim.Rand.
package partition

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/kzsim/kzsim/nodes/kafka/jstring"
	"github.com/kzsim/kzsim/sim"
)

// KeyString returns the key object a key id stands for: the Java String of
// its decimal digits, "0", "17", "18446744073709551615". Its UTF-8 bytes are
// what StringEncoder puts on the wire.
func KeyString(id uint64) string { return strconv.FormatUint(id, 10) }

// KeyHashCode returns the Java hashCode of the key id's String.
func KeyHashCode(id uint64) int32 { return jstring.HashCode(KeyString(id)) }

// Abs is the absolute value a release's DefaultPartitioner applies to the
// key's hashCode before taking it modulo the partition count.
type Abs int

// The abs functions of Kafka's releases.
const (
	// AbsMath is Kafka 0.7's `math.abs`, which leaves Int.MinValue
	// negative: that key fails with InvalidPartitionException unless the
	// partition count divides 2^31.
	AbsMath Abs = iota
	// AbsMask is Kafka 0.8.0–0.8.1.1's `Utils.abs`, n & 0x7fffffff, which
	// maps a negative hash h to h + 2^31, not to −h.
	AbsMask
	// AbsZeroMin is Kafka 0.8.2.0–1.1.1's `Utils.abs` (KAFKA-1469,
	// commit d3007171102): math.abs, with Int.MinValue mapped to 0.
	AbsZeroMin
)

func (a Abs) apply(h int32) int32 {
	switch a {
	case AbsMath:
		if h < 0 {
			return -h // -MinInt32 wraps to MinInt32, as the JVM's does
		}
		return h
	case AbsMask:
		return h & 0x7fffffff
	case AbsZeroMin:
		if h == math.MinInt32 {
			return 0
		}
		if h < 0 {
			return -h
		}
		return h
	}
	panic(fmt.Sprintf("partition: unknown Abs %d", a))
}

// ErrInvalidPartition is Kafka's InvalidPartitionException (0.7) or
// UnknownTopicOrPartitionException (0.8): the partitioner returned an index
// outside [0, numPartitions). The producer fails that message.
var ErrInvalidPartition = errors.New("partition: invalid partition index")

// Hash returns the index, in [0, numPartitions), of the partition the
// default partitioner picks for the key id: abs(KeyHashCode(key)) %
// numPartitions, with Java's remainder (the sign of the dividend). The index
// is into the topic's partition list as the producer holds it (0.7: the
// sorted (broker, partition) pairs of every live broker; 0.8: the metadata's
// partitions by id), counting partitions without a leader too. It panics if
// numPartitions ≤ 0 (the producer checks first: NoBrokersForPartition).
func Hash(key uint64, numPartitions int, abs Abs) (int, error) {
	if numPartitions <= 0 {
		panic("partition: Hash with numPartitions <= 0")
	}
	// numPartitions comes from a partition list, far below 2^31.
	p := abs.apply(KeyHashCode(key)) % int32(numPartitions)
	if p < 0 {
		return 0, fmt.Errorf("%w: key %d gives %d of %d", ErrInvalidPartition, key, p, numPartitions)
	}
	return int(p), nil
}

// Random returns 0.7's index for a message without a key,
// `random.nextInt(numPartitions)`, drawn from r. It panics if
// numPartitions ≤ 0.
func Random(r *sim.Rand, numPartitions int) int { return r.Intn(numPartitions) }

// ErrLeaderNotAvailable is the old Scala producer's
// LeaderNotAvailableException: no partition of the topic has a leader, so
// an unkeyed message cannot be placed and the round fails.
var ErrLeaderNotAvailable = errors.New("partition: no partition of the topic has a leader")

// Sticky is the old Scala producer's choice for unkeyed messages
// (`DefaultEventHandler.getPartition`@0.8.2.2): per topic, a partition
// drawn once among those with a leader and kept until the producer next
// refreshes its metadata (Clear), whatever becomes of its leader meanwhile.
// The zero value is ready to use.
type Sticky struct {
	cache map[string]int32
}

// Partition returns the topic's cached partition id, or draws one uniformly
// from available (the ids of partitions with a leader) and caches it.
// Simplification: Kafka draws Utils.abs(Random.nextInt) % len, a slight bias
// toward low indexes; here the draw is uniform.
func (s *Sticky) Partition(r *sim.Rand, topic string, available []int32) (int32, error) {
	if p, ok := s.cache[topic]; ok {
		return p, nil
	}
	if len(available) == 0 {
		return 0, fmt.Errorf("%w: topic %q", ErrLeaderNotAvailable, topic)
	}
	if s.cache == nil {
		s.cache = map[string]int32{}
	}
	p := available[r.Intn(len(available))]
	s.cache[topic] = p
	return p, nil
}

// Clear forgets every cached choice; the producer calls it on every metadata
// refresh (`DefaultEventHandler.handle`: `sendPartitionPerTopicCache.clear`).
func (s *Sticky) Clear() { clear(s.cache) }

// RoundRobin is Kafka 2.4's `RoundRobinPartitioner` (KAFKA-3333): a 32-bit
// counter per topic, starting at 0, taken and incremented for every message,
// made non-negative with `Utils.toPositive` (n & 0x7fffffff). The zero value
// is ready to use.
type RoundRobin struct {
	next map[string]int32
}

// Partition returns the partition id for the topic's next message: the
// counter modulo len(available) indexes available (the partitions with a
// leader, in the order given); if none has a leader, the counter modulo
// numPartitions is returned as the id, as Kafka gives "a non-available
// partition". It panics if numPartitions ≤ 0.
func (rr *RoundRobin) Partition(topic string, numPartitions int, available []int32) int32 {
	if numPartitions <= 0 {
		panic("partition: RoundRobin.Partition with numPartitions <= 0")
	}
	if rr.next == nil {
		rr.next = map[string]int32{}
	}
	v := rr.next[topic]
	rr.next[topic] = v + 1 // wraps as Java's AtomicInteger does
	v &= 0x7fffffff
	if len(available) > 0 {
		return available[v%int32(len(available))]
	}
	return v % int32(numPartitions)
}

// ZipfKeysMax bounds the key space of a Zipf generator (its table holds one
// float64 per key).
const ZipfKeysMax = 1 << 20

// Zipf draws key ids in [0, keys) with P(k) ∝ 1/(k+1)^s: key 0 is the
// hottest, s = 0 is uniform, s around 1 is the classic skew of key
// popularity. It inverts a cumulative table by binary search, one draw of
// the caller's *sim.Rand per key, so a seed gives the same keys.
// The table is built with math.Pow, whose last bit may differ between
// architectures; runs are identical on one architecture.
type Zipf struct {
	cdf []float64 // cdf[k] = Σ_{i ≤ k} 1/(i+1)^s
}

// NewZipf returns a generator over keys ids with exponent s. It refuses a
// key count outside [1, ZipfKeysMax] and an exponent that is negative, NaN
// or infinite.
func NewZipf(keys int, s float64) (*Zipf, error) {
	if keys < 1 || keys > ZipfKeysMax {
		return nil, fmt.Errorf("partition: zipf over %d keys (need 1..%d)", keys, ZipfKeysMax)
	}
	if !(s >= 0) || math.IsInf(s, 0) {
		return nil, fmt.Errorf("partition: zipf exponent %v (need a finite s ≥ 0)", s)
	}
	z := &Zipf{cdf: make([]float64, keys)}
	sum := 0.0
	for k := range keys {
		sum += 1 / math.Pow(float64(k+1), s)
		z.cdf[k] = sum
	}
	return z, nil
}

// Keys returns the size of the key space.
func (z *Zipf) Keys() int { return len(z.cdf) }

// Next draws a key id.
func (z *Zipf) Next(r *sim.Rand) uint64 {
	u := r.Float64() * z.cdf[len(z.cdf)-1]
	// The first k with cdf[k] > u; u < total, so k < len.
	k, _ := slices.BinarySearchFunc(z.cdf, u, func(c, target float64) int {
		if c <= target {
			return -1
		}
		return 1
	})
	return uint64(min(k, len(z.cdf)-1))
}

// Probability returns P(key), the share of draws the key gets.
func (z *Zipf) Probability(key uint64) float64 {
	if key >= uint64(len(z.cdf)) {
		return 0
	}
	w := z.cdf[key]
	if key > 0 {
		w -= z.cdf[key-1]
	}
	return w / z.cdf[len(z.cdf)-1]
}
