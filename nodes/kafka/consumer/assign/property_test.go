package assign

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/kzsim/kzsim/nodes/kafka/jstring"

	"pgregory.net/rapid"
)

// checkAssignment is the contract every assignor keeps, as Kafka's
// PartitionAssignorTest.assignAndVerify (0.10.2.2) checks it: every
// partition of a subscribed topic has exactly one owner, a thread of a
// member subscribed to that topic with that many streams, and nothing else
// is assigned.
func checkAssignment(members []Member, parts map[string][]int32, a Assignment) error {
	byID := map[string]Member{}
	for _, m := range members {
		byID[m.ID] = m
	}
	subscribed := map[string]bool{}
	for _, m := range members {
		for t := range m.Streams {
			subscribed[t] = true
		}
	}
	want := 0
	for _, t := range slices.Sorted(maps.Keys(parts)) {
		if !subscribed[t] {
			continue
		}
		for _, p := range parts[t] {
			want++
			th, ok := a[TopicPartition{t, p}]
			if !ok {
				return fmt.Errorf("%s/%d has no owner", t, p)
			}
			m, ok := byID[th.Consumer]
			if !ok {
				return fmt.Errorf("%s/%d owned by %s, not a member", t, p, th)
			}
			if th.N < 0 || th.N >= m.Streams[t] {
				return fmt.Errorf("%s/%d owned by %s, which does not read %s", t, p, th, t)
			}
		}
	}
	if len(a) != want {
		return fmt.Errorf("%d partitions assigned, %d exist in subscribed topics", len(a), want)
	}
	return nil
}

// counts returns the partitions per thread over threads (zero included).
func counts(a Assignment, threads []Thread, topic string) []int {
	out := make([]int, len(threads))
	for tp, th := range a {
		if topic != "" && tp.Topic != topic {
			continue
		}
		if i := slices.Index(threads, th); i >= 0 {
			out[i]++
		}
	}
	return out
}

func within1(cs []int) bool {
	return len(cs) == 0 || slices.Max(cs)-slices.Min(cs) <= 1
}

// TestCheckAssignmentCatchesPlantedBugs shows the contract check fails.
func TestCheckAssignmentCatchesPlantedBugs(t *testing.T) {
	members := []Member{{"a", streams("t", 2)}, {"b", streams("u", 1)}}
	parts := map[string][]int32{"t": ids(3), "u": ids(1), "v": ids(1)}
	good, err := Range(members, parts)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkAssignment(members, parts, good); err != nil {
		t.Fatal(err)
	}
	plant := map[string]func(Assignment){
		"dropped":        func(a Assignment) { delete(a, TopicPartition{"t", 1}) },
		"unsubscribed":   func(a Assignment) { a[TopicPartition{"t", 1}] = Thread{"b", 0} },
		"no such stream": func(a Assignment) { a[TopicPartition{"t", 1}] = Thread{"a", 2} },
		"stranger":       func(a Assignment) { a[TopicPartition{"t", 1}] = Thread{"z", 0} },
		"extra":          func(a Assignment) { a[TopicPartition{"v", 0}] = Thread{"a", 0} },
	}
	for _, name := range slices.Sorted(maps.Keys(plant)) {
		a := maps.Clone(good)
		plant[name](a)
		if err := checkAssignment(members, parts, a); err == nil {
			t.Errorf("planted %s: not caught", name)
		}
	}
	// A planted imbalance fails the within-one rule the properties use.
	if within1([]int{3, 1}) || !within1([]int{2, 1, 2}) {
		t.Error("within1 is wrong")
	}
}

type drawn struct {
	members []Member
	parts   map[string][]int32
	uniform bool // every member reads every topic with one stream count
}

var topicNames = []string{"a", "b", "orders"}

func drawGroup(t *rapid.T) drawn {
	n := rapid.IntRange(1, 6).Draw(t, "members")
	// Ids like g_c1 … g_c12 so that "g_c10" sorts before "g_c2".
	idNums := rapid.SliceOfNDistinct(rapid.IntRange(1, 12), n, n, rapid.ID[int]).Draw(t, "ids")
	uniform := rapid.Bool().Draw(t, "uniform")
	d := drawn{parts: map[string][]int32{}, uniform: uniform}
	for _, topic := range topicNames {
		d.parts[topic] = rapid.SliceOfDistinct(rapid.Int32Range(0, 40), rapid.ID[int32]).Filter(func(s []int32) bool { return len(s) <= 24 }).Draw(t, "parts-"+topic)
	}
	for i, num := range idNums {
		m := Member{ID: fmt.Sprintf("g_c%d", num), Streams: map[string]int{}}
		if uniform {
			k := rapid.IntRange(1, 12).Draw(t, fmt.Sprintf("streams-%d", i))
			for _, topic := range topicNames {
				m.Streams[topic] = k
			}
		} else {
			for _, topic := range topicNames {
				if rapid.Bool().Draw(t, fmt.Sprintf("reads-%d-%s", i, topic)) {
					m.Streams[topic] = rapid.IntRange(1, 12).Draw(t, fmt.Sprintf("streams-%d-%s", i, topic))
				}
			}
		}
		d.members = append(d.members, m)
	}
	return d
}

// shuffled returns the same group with members and partition lists in
// another order: Kafka sorts everything it reads, so the result must not
// change.
func shuffled(t *rapid.T, d drawn) drawn {
	out := drawn{members: slices.Clone(d.members), parts: map[string][]int32{}}
	perm := rapid.Permutation(out.members).Draw(t, "perm")
	out.members = perm
	for topic, ps := range d.parts {
		out.parts[topic] = rapid.Permutation(ps).Draw(t, "perm-"+topic)
	}
	return out
}

func threadsOf(members []Member, topic string) []Thread {
	var out []Thread
	for _, m := range members {
		for t, n := range m.Streams {
			if topic != "" && t != topic {
				continue
			}
			for i := range n {
				th := Thread{m.ID, i}
				if !slices.Contains(out, th) {
					out = append(out, th)
				}
			}
		}
	}
	slices.SortFunc(out, Thread.Compare)
	return out
}

func TestRangeProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := drawGroup(t)
		a, err := Range(d.members, d.parts)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkAssignment(d.members, d.parts, a); err != nil {
			t.Fatal(err)
		}
		s := shuffled(t, d)
		b, err := Range(s.members, s.parts)
		if err != nil || !maps.Equal(a, b) {
			t.Fatalf("input order changed the result (%v)", err)
		}
		for _, topic := range topicNames {
			ts := threadsOf(d.members, topic)
			cs := counts(a, ts, topic)
			// Within one per topic, and the extra ones go to the first threads.
			if !within1(cs) || !slices.IsSortedFunc(cs, func(x, y int) int { return y - x }) {
				t.Fatalf("topic %s: counts %v over %v", topic, cs, ts)
			}
			// Contiguous: the threads' runs follow the numeric partition order.
			ps := slices.Sorted(slices.Values(d.parts[topic]))
			if len(ts) == 0 {
				continue
			}
			last := -1
			for _, p := range ps {
				i := slices.Index(ts, a[TopicPartition{topic, p}])
				if i < last {
					t.Fatalf("topic %s: partition %d goes back to thread %d", topic, p, i)
				}
				last = i
			}
		}
	})
}

func TestRoundRobinProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := drawGroup(t)
		a, err := RoundRobin(d.members, d.parts)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkAssignment(d.members, d.parts, a); err != nil {
			t.Fatal(err)
		}
		s := shuffled(t, d)
		if b, err := RoundRobin(s.members, s.parts); err != nil || !maps.Equal(a, b) {
			t.Fatalf("input order changed the result (%v)", err)
		}
		if !d.uniform {
			return
		}
		// PartitionAssignorTest's verifyAssignmentIsUniform, here over every
		// thread, owning or not.
		if cs := counts(a, threadsOf(d.members, ""), ""); !within1(cs) {
			t.Fatalf("identical subscriptions, counts %v", cs)
		}
		old, err := RoundRobin082(d.members, d.parts)
		if err != nil || !maps.Equal(a, old) {
			t.Fatalf("0.8.2 and 0.10.2 differ on identical subscriptions (%v)", err)
		}
	})
}

func TestRange07Properties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := drawGroup(t)
		parts07 := map[string][]BrokerPartition{}
		for _, topic := range topicNames {
			counts := rapid.MapOfN(rapid.Int32Range(0, 12), rapid.Int32Range(0, 12), 0, 4).Draw(t, "brokers-"+topic)
			bps, err := BrokerPartitions(counts)
			if err != nil {
				t.Fatal(err)
			}
			parts07[topic] = bps
		}
		a, err := Range07(d.members, parts07)
		if err != nil {
			t.Fatal(err)
		}
		for _, topic := range topicNames {
			ts := threadsOf(d.members, topic)
			got := 0
			cs := make([]int, len(ts))
			for tp, th := range a {
				if tp.Topic != topic {
					continue
				}
				got++
				i := slices.Index(ts, th)
				if i < 0 {
					t.Fatalf("%s/%s owned by %s, which does not read it", topic, tp.Name(), th)
				}
				cs[i]++
			}
			if len(ts) > 0 && got != len(parts07[topic]) {
				t.Fatalf("topic %s: %d of %d partitions assigned", topic, got, len(parts07[topic]))
			}
			if len(ts) == 0 && got != 0 {
				t.Fatalf("topic %s has no reader but %d owners", topic, got)
			}
			if !within1(cs) {
				t.Fatalf("topic %s: counts %v", topic, cs)
			}
			// Contiguous runs in Java string order of the names.
			sorted := slices.Clone(parts07[topic])
			slices.SortFunc(sorted, func(x, y BrokerPartition) int { return jstring.Compare(x.Name(), y.Name()) })
			last := -1
			for _, bp := range sorted {
				th, ok := a[TopicBrokerPartition{topic, bp}]
				if !ok {
					continue
				}
				i := slices.Index(ts, th)
				if i < last {
					t.Fatalf("topic %s: %s goes back to thread %d", topic, bp.Name(), i)
				}
				last = i
			}
		}
	})
}
