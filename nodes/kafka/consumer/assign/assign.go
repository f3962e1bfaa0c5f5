package assign

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/nodes/kafka/jstring"
)

// Thread is one consumer stream, Kafka's `ConsumerThreadId`: the owner
// znodes hold its String form.
type Thread struct {
	Consumer string // the consumer id, e.g. "g_host1-1420070400000-1a2b3c4d"
	N        int    // the stream number, 0..streams−1 within each topic
}

// String returns the thread id "<consumerId>-<n>" (Kafka 0.8.2
// `TopicCount.makeThreadId`, `ConsumerThreadId.toString`; 0.7.2
// `TopicCount.getConsumerThreadIdsPerTopic`).
func (t Thread) String() string { return t.Consumer + "-" + strconv.Itoa(t.N) }

// Compare orders threads as Kafka does, by their thread ids as Java strings
// (`ConsumerThreadId.compare`), so "c-10" sorts before "c-2".
func (t Thread) Compare(u Thread) int { return jstring.Compare(t.String(), u.String()) }

// Member is one registered consumer of a group: its id (the child of
// /consumers/<group>/ids) and, per topic, the number of streams its
// registration asks for. A wildcard registration is resolved to topics
// first (Subscription.Resolve).
type Member struct {
	ID      string
	Streams map[string]int // topic → stream count, each ≥ 1
}

// TopicPartition names a partition of Kafka 0.8 and later.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// String returns Kafka's `TopicAndPartition.toString`, "[<topic>,<partition>]",
// whose Java hash orders the round robin assignment.
func (tp TopicPartition) String() string {
	return "[" + tp.Topic + "," + strconv.FormatInt(int64(tp.Partition), 10) + "]"
}

// Assignment is a group's whole assignment: the owner thread of every
// partition of a subscribed topic.
type Assignment map[TopicPartition]Thread

// Partitions returns the assigned partitions in (topic, partition) order.
func (a Assignment) Partitions() []TopicPartition {
	out := make([]TopicPartition, 0, len(a))
	for tp := range a {
		out = append(out, tp)
	}
	slices.SortFunc(out, compareTP)
	return out
}

// Of returns the share of one consumer, Kafka's `partitionOwnershipDecision`
// of that member, in (topic, partition) order.
func (a Assignment) Of(consumerID string) []TopicPartition {
	var out []TopicPartition
	for tp, th := range a {
		if th.Consumer == consumerID {
			out = append(out, tp)
		}
	}
	slices.SortFunc(out, compareTP)
	return out
}

func compareTP(a, b TopicPartition) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return int(a.Partition) - int(b.Partition)
}

// group is what every assignor reads, Kafka's `AssignmentContext`: each
// topic's subscribed threads in Java string order
// (`ZkUtils.getConsumersPerTopic`), and the topics in byte order (Kafka
// iterates a HashMap; the range split of each topic is independent of that
// order, so only the result's construction sees it).
type group struct {
	topics  []string
	threads map[string][]Thread
}

func newGroup(members []Member) (group, error) {
	g := group{threads: map[string][]Thread{}}
	seen := map[string]bool{}
	for _, m := range members {
		if m.ID == "" {
			return group{}, errors.New("assign: a member has an empty consumer id")
		}
		if seen[m.ID] {
			return group{}, fmt.Errorf("assign: consumer id %q appears twice", m.ID)
		}
		seen[m.ID] = true
		for topic, n := range m.Streams {
			if topic == "" {
				return group{}, fmt.Errorf("assign: consumer %q subscribes to an empty topic name", m.ID)
			}
			// Kafka asserts nConsumers >= 1 in TopicCount.makeConsumerThreadIdsPerTopic.
			if n < 1 {
				return group{}, fmt.Errorf("assign: consumer %q asks for %d streams of topic %q (need ≥ 1)", m.ID, n, topic)
			}
			for i := range n {
				g.threads[topic] = append(g.threads[topic], Thread{Consumer: m.ID, N: i})
			}
		}
	}
	for topic, ts := range g.threads {
		g.topics = append(g.topics, topic)
		slices.SortFunc(ts, Thread.Compare)
	}
	slices.Sort(g.topics)
	return g, nil
}

// sortedPartitions returns topic's partition ids in numeric order
// (`ZkUtils.getPartitionsForTopics`); a topic with no entry has none, as
// Kafka reads a missing /brokers/topics/<topic> as an empty map.
func sortedPartitions(partitions map[string][]int32, topic string) ([]int32, error) {
	ps := slices.Clone(partitions[topic])
	slices.Sort(ps)
	for i, p := range ps {
		if p < 0 {
			return nil, fmt.Errorf("assign: topic %q has partition id %d (need ≥ 0)", topic, p)
		}
		if i > 0 && ps[i-1] == p {
			return nil, fmt.Errorf("assign: topic %q lists partition %d twice", topic, p)
		}
	}
	return ps, nil
}

// rangeShare returns the slice [start, start+count) of nParts sorted
// partitions that the thread at position i of nThreads gets: the first
// nParts mod nThreads threads get one extra (`RangeAssignor.assign`:
// startPart = nPartsPerConsumer·i + min(i, nConsumersWithExtraPart)).
func rangeShare(nParts, nThreads, i int) (start, count int) {
	per, extra := nParts/nThreads, nParts%nThreads
	start = per*i + min(i, extra)
	count = per
	if i < extra {
		count++
	}
	return start, count
}

// Range is Kafka's default assignor (`RangeAssignor`, Kafka 0.8.2.2 to
// 1.1.1 `kafka/consumer/PartitionAssignor.scala`). Each topic is split on
// its own: its partitions in numeric order are cut into contiguous runs over
// its subscribed threads in Java string order, the first
// |partitions| mod |threads| threads taking one more (the code; Kafka's
// docs/implementation.html states i·N … (i+1)·N−1, which would leave the
// remainder unowned). A thread whose share is
// empty gets nothing (Kafka logs "No broker partitions consumed by consumer
// thread"). Partitions of topics nobody subscribes to are not assigned.
func Range(members []Member, partitions map[string][]int32) (Assignment, error) {
	g, err := newGroup(members)
	if err != nil {
		return nil, err
	}
	out := Assignment{}
	for _, topic := range g.topics {
		ps, err := sortedPartitions(partitions, topic)
		if err != nil {
			return nil, err
		}
		ts := g.threads[topic]
		for i, th := range ts {
			start, n := rangeShare(len(ps), len(ts), i)
			for _, p := range ps[start : start+n] {
				out[TopicPartition{topic, p}] = th
			}
		}
	}
	return out, nil
}

// hashOrder returns every partition of the subscribed topics in the round
// robin assignor's order: ascending by the signed Java hash of
// TopicPartition.String, stably (Scala's `sortWith` is a stable merge sort).
// Within a topic, ties keep numeric order as in Kafka (each topic's ids come
// sorted). Simplification: across topics Kafka feeds the sort from a
// HashMap, so two partitions of different topics whose names collide in hash
// keep the map's order; here they keep topic byte order.
func hashOrder(g group, partitions map[string][]int32) ([]TopicPartition, error) {
	var all []TopicPartition
	for _, topic := range g.topics {
		ps, err := sortedPartitions(partitions, topic)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			all = append(all, TopicPartition{topic, p})
		}
	}
	hash := make(map[TopicPartition]int32, len(all))
	for _, tp := range all {
		hash[tp] = jstring.HashCode(tp.String())
	}
	slices.SortStableFunc(all, func(a, b TopicPartition) int {
		ha, hb := hash[a], hash[b]
		switch {
		case ha < hb:
			return -1
		case ha > hb:
			return 1
		}
		return 0
	})
	return all, nil
}

// RoundRobin is the round robin assignor as Kafka 0.10.2.0 to 1.1.1 run it
// (`RoundRobinAssignor`, `kafka/consumer/PartitionAssignor.scala`@0.10.2.2,
// KAFKA-2434): the union of all the group's threads in Java string order is
// cycled over every partition of every subscribed topic in hash order
// (hashOrder); a thread not subscribed to the partition's topic is skipped
// and loses its turn (`circularIterator.dropWhile`). When every member
// subscribes to every topic the counts per thread differ by at most one.
func RoundRobin(members []Member, partitions map[string][]int32) (Assignment, error) {
	g, err := newGroup(members)
	if err != nil {
		return nil, err
	}
	out := Assignment{}
	if len(g.topics) == 0 {
		return out, nil // Kafka: `if (ctx.consumersForTopic.nonEmpty)`
	}
	subscribed := map[string]map[Thread]bool{}
	var all []Thread
	for _, topic := range g.topics {
		subscribed[topic] = map[Thread]bool{}
		for _, th := range g.threads[topic] {
			if !slices.Contains(all, th) {
				all = append(all, th)
			}
			subscribed[topic][th] = true
		}
	}
	slices.SortFunc(all, Thread.Compare)
	order, err := hashOrder(g, partitions)
	if err != nil {
		return nil, err
	}
	next := 0
	for _, tp := range order {
		// Terminates within one cycle: every topic in g has a subscribed thread.
		for !subscribed[tp.Topic][all[next%len(all)]] {
			next++
		}
		out[tp] = all[next%len(all)]
		next++
	}
	return out, nil
}

// RoundRobin082 is the round robin assignor of Kafka 0.8.2.0 to 0.10.1.1
// (`RoundRobinAssignor`, `kafka/consumer/PartitionAssignor.scala`@0.8.2.2,
// KAFKA-687). It requires every topic to have the same thread set, that is
// every member subscribing to the same topics with the same stream count per
// topic, and otherwise fails as Kafka's `require` does (the rebalance attempt
// fails). A group with no subscribed topic fails too: Kafka takes the head of
// an empty map (NoSuchElementException). Otherwise the sorted threads are
// cycled over the partitions in hash order.
func RoundRobin082(members []Member, partitions map[string][]int32) (Assignment, error) {
	g, err := newGroup(members)
	if err != nil {
		return nil, err
	}
	if len(g.topics) == 0 {
		return nil, errors.New("assign: round robin (0.8.2) over a group with no subscribed topic")
	}
	head := g.threads[g.topics[0]]
	for _, topic := range g.topics[1:] {
		if !slices.Equal(g.threads[topic], head) {
			return nil, fmt.Errorf("assign: round robin (0.8.2) needs every consumer to subscribe to the same topics with the same stream counts; topic %q has %d threads, topic %q has %d or different ones",
				topic, len(g.threads[topic]), g.topics[0], len(head))
		}
	}
	order, err := hashOrder(g, partitions)
	if err != nil {
		return nil, err
	}
	out := Assignment{}
	for i, tp := range order {
		out[tp] = head[i%len(head)]
	}
	return out, nil
}

// Pattern is a registration's "pattern" field (Kafka 0.8.2
// `TopicCount.staticPattern`, `whiteListPattern`, `blackListPattern`).
type Pattern string

// The subscription patterns.
const (
	Static    Pattern = "static"
	WhiteList Pattern = "white_list"
	BlackList Pattern = "black_list"
)

// InternalTopics are the topics a wildcard skips when
// `exclude.internal.topics` is set (Kafka 0.8.2 `Topic.InternalTopics`).
var InternalTopics = []string{"__consumer_offsets"}

// Subscription is a registration's subscription: for Static, topic → stream
// count; for a wildcard, the single entry regex → stream count.
type Subscription struct {
	Pattern Pattern
	Streams map[string]int
}

// Resolve returns the topics and stream counts the subscription means given
// the children of /brokers/topics, as `TopicCount.constructTopicCount` and
// `WildcardTopicCount.getConsumerThreadIdsPerTopic` (Kafka 0.8.2.2) do: a
// static one (or one with an empty map, or an unknown pattern) as written; a
// whitelist keeps the topics its regex matches in full, a blacklist those it
// does not, both skipping InternalTopics when excludeInternal is set. The
// regex is cleaned as `TopicFilter` does (trimmed, ',' → '|', spaces and
// surrounding quotes removed).
// Kafka 0.7.2's TopicFilter cleans and matches the same way and has no
// internal topics: pass excludeInternal false for it (its registrations,
// `*<n>*<regex>` and `!<n>!<regex>`, parse to the same Subscription).
// Simplification: the regex is Go's RE2 syntax, not java.util.regex; a
// pattern RE2 lacks (backreferences, lookaround) is an error here.
func (s Subscription) Resolve(topics []string, excludeInternal bool) (map[string]int, error) {
	if len(s.Streams) == 0 || (s.Pattern != WhiteList && s.Pattern != BlackList) {
		return s.Streams, nil
	}
	if len(s.Streams) != 1 {
		return nil, fmt.Errorf("assign: a %s subscription has %d entries (need 1)", s.Pattern, len(s.Streams))
	}
	var raw string
	var n int
	for raw, n = range s.Streams {
	}
	re, err := compileFilter(raw)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, t := range topics {
		if excludeInternal && slices.Contains(InternalTopics, t) {
			continue
		}
		if re.MatchString(t) == (s.Pattern == WhiteList) {
			out[t] = n
		}
	}
	return out, nil
}

// cleanFilter is `TopicFilter.regex` (Kafka 0.7.2 and 0.8.2.2): trimmed,
// ',' → '|', spaces and surrounding quotes removed. Registrations store it
// cleaned.
func cleanFilter(raw string) string {
	r := strings.TrimSpace(raw)
	r = strings.ReplaceAll(r, ",", "|")
	r = strings.ReplaceAll(r, " ", "")
	r = leadingQuotes.ReplaceAllString(r, "")
	return trailingQuotes.ReplaceAllString(r, "")
}

var (
	leadingQuotes  = regexp.MustCompile(`^["']+`)
	trailingQuotes = regexp.MustCompile(`["']+$`)
)

// compileFilter cleans a wildcard's regex as Kafka 0.8.2 `TopicFilter` does
// and anchors it, since Java's `String.matches` matches the whole topic.
func compileFilter(raw string) (*regexp.Regexp, error) {
	r := cleanFilter(raw)
	re, err := regexp.Compile("^(?:" + r + ")$")
	if err != nil {
		return nil, fmt.Errorf("assign: %s is an invalid regex", r)
	}
	return re, nil
}
