package assign

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
)

// render prints an assignment as "thread: topic/partition ..." lines in
// thread order, the shape of the hand-worked tables below.
func render(a Assignment) string {
	byThread := map[string][]string{}
	for _, tp := range a.Partitions() {
		th := a[tp].String()
		byThread[th] = append(byThread[th], fmt.Sprintf("%s/%d", tp.Topic, tp.Partition))
	}
	return renderThreads(byThread)
}

func render07(a Assignment07) string {
	byThread := map[string][]string{}
	for _, c := range consumersOf07(a) {
		for _, k := range a.Of(c) {
			th := a[k].String()
			byThread[th] = append(byThread[th], k.Topic+"/"+k.Name())
		}
	}
	return renderThreads(byThread)
}

func consumersOf07(a Assignment07) []string {
	set := map[string]bool{}
	for _, th := range a {
		set[th.Consumer] = true
	}
	return slices.Sorted(maps.Keys(set))
}

func renderThreads(byThread map[string][]string) string {
	threads := slices.Collect(maps.Keys(byThread))
	sort.Strings(threads)
	var b strings.Builder
	for _, th := range threads {
		fmt.Fprintf(&b, "%s: %s\n", th, strings.Join(byThread[th], " "))
	}
	return b.String()
}

func streams(topics ...any) map[string]int {
	m := map[string]int{}
	for i := 0; i < len(topics); i += 2 {
		m[topics[i].(string)] = topics[i+1].(int)
	}
	return m
}

func ids(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

type assignor func([]Member, map[string][]int32) (Assignment, error)

func TestHandWorked(t *testing.T) {
	twoByTwo := []Member{{"g_C1", streams("t", 2)}, {"g_C2", streams("t", 2)}}
	tests := []struct {
		name    string
		assign  assignor
		members []Member
		parts   map[string][]int32
		want    string
	}{{
		// The example in Kafka's RangeAssignor scaladoc (PartitionAssignor.scala@0.8.2.2):
		// "p0 -> C1-0, p1 -> C1-0, p2 -> C1-1, p3 -> C2-0, p4 -> C2-1".
		name:    "range/kafka-scaladoc",
		assign:  Range,
		members: []Member{{"C1", streams("t", 2)}, {"C2", streams("t", 2)}},
		parts:   map[string][]int32{"t": ids(5)},
		want:    "C1-0: t/0 t/1\nC1-1: t/2\nC2-0: t/3\nC2-1: t/4\n",
	}, {
		// Kafka's docs (docs/implementation.html@0.10.2.2, "Consumer
		// rebalancing algorithm") give thread i partitions i·N … (i+1)·N−1 with
		// N = |P| div |C|, which would leave partition 4 unowned here; the
		// code, followed here, gives the first |P| mod |C| threads one more.
		name:    "range/code-not-docs-remainder",
		assign:  Range,
		members: []Member{{"a", streams("t", 1)}, {"b", streams("t", 1)}},
		parts:   map[string][]int32{"t": ids(5)},
		want:    "a-0: t/0 t/1 t/2\nb-0: t/3 t/4\n",
	}, {
		// 10 partitions over 4 threads: n = 2, x = 2, the first two take 3.
		name:    "range/uneven",
		assign:  Range,
		members: twoByTwo,
		parts:   map[string][]int32{"t": ids(10)},
		want:    "g_C1-0: t/0 t/1 t/2\ng_C1-1: t/3 t/4 t/5\ng_C2-0: t/6 t/7\ng_C2-1: t/8 t/9\n",
	}, {
		// More threads than partitions: c-0 gets nothing.
		name:    "range/more-consumers-than-partitions",
		assign:  Range,
		members: []Member{{"c", streams("t", 1)}, {"a", streams("t", 1)}, {"b", streams("t", 1)}},
		parts:   map[string][]int32{"t": ids(2)},
		want:    "a-0: t/0\nb-0: t/1\n",
	}, {
		// Thread ids sort as strings: c-0 c-1 c-10 c-11 c-2 … c-9, so c-10
		// takes partition 2 and c-2 partition 4.
		name:    "range/thread-ids-as-strings",
		assign:  Range,
		members: []Member{{"c", streams("t", 12)}},
		parts:   map[string][]int32{"t": ids(12)},
		want: "c-0: t/0\nc-1: t/1\nc-10: t/2\nc-11: t/3\nc-2: t/4\nc-3: t/5\n" +
			"c-4: t/6\nc-5: t/7\nc-6: t/8\nc-7: t/9\nc-8: t/10\nc-9: t/11\n",
	}, {
		// Each topic splits on its own: the low-sorted thread takes the extra
		// partition of every topic (a-0 gets 4 of 6).
		name:    "range/extra-of-every-topic",
		assign:  Range,
		members: []Member{{"a", streams("x", 1, "y", 1)}, {"b", streams("x", 1, "y", 1)}},
		parts:   map[string][]int32{"x": ids(3), "y": ids(3)},
		want:    "a-0: x/0 x/1 y/0 y/1\nb-0: x/2 y/2\n",
	}, {
		// Partition ids sort numerically (10 after 2), a topic nobody
		// subscribes to is left alone, and one only b reads goes to b.
		name:    "range/numeric-partitions-partial-subscription",
		assign:  Range,
		members: []Member{{"a", streams("x", 1)}, {"b", streams("x", 1, "y", 1)}},
		parts:   map[string][]int32{"x": {10, 2, 1}, "y": {0}, "z": {0}},
		want:    "a-0: x/1 x/2\nb-0: x/10 y/0\n",
	}, {
		name:    "range/subscribed-topic-without-partitions",
		assign:  Range,
		members: []Member{{"a", streams("x", 1, "gone", 2)}},
		parts:   map[string][]int32{"x": {0}},
		want:    "a-0: x/0\n",
	}, {
		// hash("[t,p]") = 87540032 + 31p for p < 10: numeric order, cycled.
		name:    "roundrobin/hash-order-numeric",
		assign:  RoundRobin,
		members: twoByTwo,
		parts:   map[string][]int32{"t": ids(10)},
		want:    "g_C1-0: t/0 t/4 t/8\ng_C1-1: t/1 t/5 t/9\ng_C2-0: t/2 t/6\ng_C2-1: t/3 t/7\n",
	}, {
		// hash("[t,10]") = −1581226645 and hash("[t,11]") = −1581226614 are
		// negative, so the order is 10, 11, 0, …, 9.
		name:    "roundrobin/hash-order-wraps",
		assign:  RoundRobin,
		members: twoByTwo,
		parts:   map[string][]int32{"t": ids(12)},
		want:    "g_C1-0: t/2 t/6 t/10\ng_C1-1: t/3 t/7 t/11\ng_C2-0: t/0 t/4 t/8\ng_C2-1: t/1 t/5 t/9\n",
	}, {
		name:    "roundrobin082/same-as-0.10.2-for-identical-subscriptions",
		assign:  RoundRobin082,
		members: twoByTwo,
		parts:   map[string][]int32{"t": ids(12)},
		want:    "g_C1-0: t/2 t/6 t/10\ng_C1-1: t/3 t/7 t/11\ng_C2-0: t/0 t/4 t/8\ng_C2-1: t/1 t/5 t/9\n",
	}, {
		// KAFKA-2434: order [t1,0] [t1,1] [t2,0] [t2,1] (hashes −1581082495,
		// −1581082464, −1581052704, −1581052673); threads a-0 b-0 cycled; at
		// [t2,1] the cycle is at b-0, which does not read t2, so it is
		// skipped and a-0 takes it.
		name:    "roundrobin/skips-unsubscribed-threads",
		assign:  RoundRobin,
		members: []Member{{"a", streams("t1", 1, "t2", 1)}, {"b", streams("t1", 1)}},
		parts:   map[string][]int32{"t1": ids(2), "t2": ids(2)},
		want:    "a-0: t1/0 t2/0 t2/1\nb-0: t1/1\n",
	}, {
		name:    "roundrobin/more-consumers-than-partitions",
		assign:  RoundRobin,
		members: []Member{{"a", streams("t", 1)}, {"b", streams("t", 1)}, {"c", streams("t", 1)}},
		parts:   map[string][]int32{"t": ids(2)},
		want:    "a-0: t/0\nb-0: t/1\n",
	}, {
		name:    "roundrobin/no-subscriptions",
		assign:  RoundRobin,
		members: []Member{{"a", nil}},
		parts:   map[string][]int32{"t": ids(2)},
		want:    "",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := tt.assign(tt.members, tt.parts)
			if err != nil {
				t.Fatal(err)
			}
			if got := render(a); got != tt.want {
				t.Errorf("got\n%swant\n%s", got, tt.want)
			}
			if err := checkAssignment(tt.members, tt.parts, a); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestOf(t *testing.T) {
	a, err := Range([]Member{{"a", streams("x", 2, "y", 1)}, {"b", streams("x", 1)}}, map[string][]int32{"x": ids(3), "y": ids(2)})
	if err != nil {
		t.Fatal(err)
	}
	want := []TopicPartition{{"x", 0}, {"x", 1}, {"y", 0}, {"y", 1}}
	if got := a.Of("a"); !slices.Equal(got, want) {
		t.Errorf("Of(a) = %v, want %v", got, want)
	}
	if got := a.Of("nobody"); len(got) != 0 {
		t.Errorf("Of(nobody) = %v", got)
	}
}

func TestRange07StringOrder(t *testing.T) {
	tests := []struct {
		name    string
		members []Member
		counts  map[int32]int32
		want    string
	}{{
		// Brokers 1, 2, 10 with one partition each sort "1-0" "10-0" "2-0":
		// a-0 takes broker 10's partition, not broker 2's.
		name:    "10-0 before 2-0",
		members: []Member{{"a", streams("t", 1)}, {"b", streams("t", 1)}},
		counts:  map[int32]int32{1: 1, 2: 1, 10: 1},
		want:    "a-0: t/1-0 t/10-0\nb-0: t/2-0\n",
	}, {
		// One broker with 12 partitions: "1-0" "1-1" "1-10" "1-11" "1-2" …
		name:    "1-10 before 1-2",
		members: []Member{{"a", streams("t", 1)}, {"b", streams("t", 1)}, {"c", streams("t", 1)}},
		counts:  map[int32]int32{1: 12},
		want:    "a-0: t/1-0 t/1-1 t/1-10 t/1-11\nb-0: t/1-2 t/1-3 t/1-4 t/1-5\nc-0: t/1-6 t/1-7 t/1-8 t/1-9\n",
	}, {
		name:    "more consumers than partitions",
		members: []Member{{"a", streams("t", 2)}, {"b", streams("t", 1)}},
		counts:  map[int32]int32{3: 1, 1: 1},
		want:    "a-0: t/1-0\na-1: t/3-0\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bps, err := BrokerPartitions(tt.counts)
			if err != nil {
				t.Fatal(err)
			}
			a, err := Range07(tt.members, map[string][]BrokerPartition{"t": bps})
			if err != nil {
				t.Fatal(err)
			}
			if got := render07(a); got != tt.want {
				t.Errorf("got\n%swant\n%s", got, tt.want)
			}
		})
	}
}

func TestParseBrokerPartition(t *testing.T) {
	bp, err := ParseBrokerPartition("10-3")
	if err != nil || bp != (BrokerPartition{10, 3}) || bp.Name() != "10-3" {
		t.Errorf("ParseBrokerPartition(10-3) = %v, %v", bp, err)
	}
	for _, bad := range []string{"", "1", "1-", "-1", "a-1", "1-2-3", "1--2"} {
		if _, err := ParseBrokerPartition(bad); err == nil {
			t.Errorf("ParseBrokerPartition(%q) accepted", bad)
		}
	}
}

func TestBadInput(t *testing.T) {
	one := map[string][]int32{"t": {0}}
	tests := []struct {
		name    string
		assign  assignor
		members []Member
		parts   map[string][]int32
		want    string
	}{
		{"empty id", Range, []Member{{"", streams("t", 1)}}, one, "empty consumer id"},
		{"duplicate id", RoundRobin, []Member{{"a", streams("t", 1)}, {"a", streams("t", 1)}}, one, `consumer id "a" appears twice`},
		{"zero streams", Range, []Member{{"a", streams("t", 0)}}, one, `asks for 0 streams of topic "t"`},
		{"empty topic", Range, []Member{{"a", streams("", 1)}}, one, "empty topic name"},
		{"negative partition", RoundRobin, []Member{{"a", streams("t", 1)}}, map[string][]int32{"t": {-1}}, "partition id -1"},
		{"duplicate partition", Range, []Member{{"a", streams("t", 1)}}, map[string][]int32{"t": {3, 3}}, "lists partition 3 twice"},
		{"0.8.2 different topics", RoundRobin082, []Member{{"a", streams("t1", 1, "t2", 1)}, {"b", streams("t1", 1)}}, one, "same topics with the same stream counts"},
		{"0.8.2 different stream counts", RoundRobin082, []Member{{"a", streams("t1", 1, "t2", 2)}}, one, "same topics with the same stream counts"},
		{"0.8.2 nothing subscribed", RoundRobin082, []Member{{"a", nil}}, one, "no subscribed topic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.assign(tt.members, tt.parts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line containing %q", err, tt.want)
			}
		})
	}
	if _, err := Range07([]Member{{"a", streams("t", 1)}}, map[string][]BrokerPartition{"t": {{1, 0}, {1, 0}}}); err == nil {
		t.Error("Range07 accepted a duplicate partition")
	}
	if _, err := BrokerPartitions(map[int32]int32{1: -1}); err == nil {
		t.Error("BrokerPartitions accepted a negative count")
	}
}

func TestResolve(t *testing.T) {
	topics := []string{"__consumer_offsets", "metrics.a", "metrics.b", "orders", "t1", "t2"}
	tests := []struct {
		name    string
		sub     Subscription
		exclude bool
		want    map[string]int
		err     string
	}{
		{"static as written", Subscription{Static, streams("orders", 2, "absent", 1)}, true, streams("orders", 2, "absent", 1), ""},
		{"whitelist matches whole names", Subscription{WhiteList, streams(`metrics\..`, 3)}, true, streams("metrics.a", 3, "metrics.b", 3), ""},
		{"whitelist is anchored", Subscription{WhiteList, streams(`t`, 1)}, true, map[string]int{}, ""},
		{"whitelist skips internal topics", Subscription{WhiteList, streams(`.*`, 1)}, true,
			streams("metrics.a", 1, "metrics.b", 1, "orders", 1, "t1", 1, "t2", 1), ""},
		{"whitelist keeps them when asked", Subscription{WhiteList, streams(`__.*`, 1)}, false, streams("__consumer_offsets", 1), ""},
		{"commas and quotes cleaned", Subscription{WhiteList, streams(` "t1, t2" `, 2)}, true, streams("t1", 2, "t2", 2), ""},
		{"blacklist", Subscription{BlackList, streams(`metrics\..*|t.`, 1)}, true, streams("orders", 1), ""},
		{"bad regex", Subscription{WhiteList, streams(`(`, 1)}, true, nil, "invalid regex"},
		{"two wildcard entries", Subscription{BlackList, streams(`a`, 1, `b`, 1)}, true, nil, "has 2 entries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sub.Resolve(topics, tt.exclude)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
