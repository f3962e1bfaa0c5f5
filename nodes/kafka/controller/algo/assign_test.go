package algo

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kzsim/kzsim/sim"
)

func brokers(ids ...int32) []Broker {
	out := make([]Broker, len(ids))
	for i, id := range ids {
		out[i] = Broker{ID: id}
	}
	return out
}

// TestAssignKafkaDocumentedExample reproduces the table in the comment of
// Kafka 2.6 `AdminUtils.assignReplicasToBrokers`: 5 brokers, 10 partitions,
// replication factor 3, start index 0 and shift 0. The table lists, per
// broker (column), which partitions have their 1st, 2nd and 3rd replica
// there; the test turns it into per-partition replica lists. Worked by hand:
// p0 leads on broker 0, its 2nd replica is 1+(0+0)%4 = 1 place on (broker 1),
// its 3rd 1+(0+1)%4 = 2 places on (broker 2). At p5 the partition id wraps
// past the broker count, the shift becomes 1, so p5 = 0, then 0+1+(1+0)%4 =
// 2, then 0+1+(1+1)%4 = 3: [0 2 3].
func TestAssignKafkaDocumentedExample(t *testing.T) {
	// rows of the comment's table, columns broker-0 .. broker-4
	table := [][5]int{
		{0, 1, 2, 3, 4}, // 1st replica
		{5, 6, 7, 8, 9}, // 1st replica
		{4, 0, 1, 2, 3}, // 2nd replica
		{8, 9, 5, 6, 7}, // 2nd replica
		{3, 4, 0, 1, 2}, // 3rd replica
		{7, 8, 9, 5, 6}, // 3rd replica
	}
	want := make([][]int32, 10)
	for row, cols := range table {
		for broker, p := range cols {
			if len(want[p]) != row/2 {
				t.Fatalf("table row %d: partition %d out of order", row, p)
			}
			want[p] = append(want[p], int32(broker))
		}
	}
	got, err := AssignReplicas(brokers(0, 1, 2, 3, 4), 10, 3, FixedPlacement(0), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("assignment\n got %v\nwant %v", got, want)
	}
	if fmt.Sprint(want[5]) != "[0 2 3]" {
		t.Fatalf("hand-worked p5 = %v, want [0 2 3]", want[5])
	}
}

// TestAssignRackAwareKafkaDocumentedExample reproduces the rack-aware
// example of the same comment: brokers 0→rack1, 1→rack3, 2→rack3, 3→rack2,
// 4→rack2, 5→rack1 alternate as 0,3,1,5,4,2; 6 partitions of factor 3 go
// round-robin over that list, and partition 6, after the wrap, shifts the
// followers by numRacks (3) places: 0 then 1+(3+0)%5 = 4 places on (broker
// 4), then 1+(3+1)%5 = 5 places on (broker 2).
func TestAssignRackAwareKafkaDocumentedExample(t *testing.T) {
	bs := []Broker{{0, "rack1"}, {1, "rack3"}, {2, "rack3"}, {3, "rack2"}, {4, "rack2"}, {5, "rack1"}}
	if got := RackAlternated(bs); fmt.Sprint(got) != "[0 3 1 5 4 2]" {
		t.Fatalf("rack alternated list %v, want [0 3 1 5 4 2]", got)
	}
	got, err := AssignReplicas(bs, 7, 3, FixedPlacement(0), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := "[[0 3 1] [3 1 5] [1 5 4] [5 4 2] [4 2 0] [2 0 3] [0 4 2]]"
	if fmt.Sprint(got) != want {
		t.Fatalf("assignment\n got %v\nwant %s", got, want)
	}
}

// TestRackAlternatedKafkaDocumentedExample is the example of Kafka 2.6
// `getRackAlternatedBrokerList`'s comment: three racks of three brokers.
func TestRackAlternatedKafkaDocumentedExample(t *testing.T) {
	var bs []Broker
	for id := int32(8); id >= 0; id-- { // given backwards: order must not matter
		bs = append(bs, Broker{id, fmt.Sprintf("rack%d", id/3+1)})
	}
	if got := RackAlternated(bs); fmt.Sprint(got) != "[0 3 6 1 4 7 2 5 8]" {
		t.Fatalf("rack alternated list %v, want [0 3 6 1 4 7 2 5 8]", got)
	}
}

// TestAssignHandWorked covers a start index and shift that differ, broker
// ids that are not 0..n-1 and are given unsorted, and a skipped rack.
func TestAssignHandWorked(t *testing.T) {
	tests := []struct {
		name      string
		brokers   []Broker
		parts, rf int
		p         Placement
		first     int32
		want      string
	}{
		// n=3 over ids sorted [1 2 3], start 1, shift 2. p0: first index
		// (0+1)%3=1 (broker 2), second (1+1+2%2)%3=2 (broker 3). p1: 2→3,
		// (2+1+0)%3=0 → 1. p2: 0→1, 1→2. p3 wraps: shift 3; first (3+1)%3=1
		// (broker 2), second (1+1+3%2)%3=0 (broker 1).
		{"start and shift differ", brokers(3, 1, 2), 4, 2, Placement{1, 2}, 0, "[[2 3] [3 1] [1 2] [2 1]]"},
		// Replication factor 1: only first replicas, round robin from 2.
		{"factor one", brokers(10, 20, 30), 4, 1, Placement{2, 0}, 0, "[[30] [10] [20] [30]]"},
		// Placement past the broker count wraps: start 4 on 3 brokers is 1;
		// shift 5: second replica 1+(5%2)=2 places after the first.
		{"placement wraps", brokers(1, 2, 3), 1, 2, Placement{4, 5}, 0, "[[2 1]]"},
		// Adding partitions from id 3 on 3 brokers with FixedPlacement(0):
		// p3 wraps immediately (shift 1): first 3%3=0 (broker 1), second
		// (0+1+1%2)%3=2 (broker 3); p4 (no wrap, shift still 1): first
		// 4%3=1 (broker 2), second (1+1+1%2)%3=0 (broker 1).
		{"first partition not zero", brokers(1, 2, 3), 2, 2, FixedPlacement(0), 3, "[[1 3] [2 1]]"},
		// Racks r1:{1,2} r2:{3}: alternated 1,3,2. p0 start 0: leader 1
		// (r1); next k=0 index 1 → 3 (r2, new rack): [1 3]; k=1 index 2 →
		// 2 (r1; every rack now has one, broker 2 has none): [1 3 2].
		{"rack aware, factor above racks", []Broker{{1, "r1"}, {2, "r1"}, {3, "r2"}}, 1, 3, FixedPlacement(0), 0, "[[1 3 2]]"},
		// Same racks, start 2: leader list[2] = 2 (r1). k=0: index
		// (2+1+0)%3=0 → broker 1, r1 already has one and r2 none: skipped;
		// k=1: index (2+1+1)%3=1 → 3 (r2): [2 3].
		{"rack aware skips a full rack", []Broker{{1, "r1"}, {2, "r1"}, {3, "r2"}}, 1, 2, FixedPlacement(2), 0, "[[2 3]]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AssignReplicas(tc.brokers, tc.parts, tc.rf, tc.p, tc.first)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != tc.want {
				t.Fatalf("got %v, want %s", got, tc.want)
			}
		})
	}
}

func TestAssignErrors(t *testing.T) {
	tests := []struct {
		name      string
		brokers   []Broker
		parts, rf int
		p         Placement
		first     int32
		want      string
	}{
		{"no partitions", brokers(1, 2), 0, 1, Placement{}, 0, "number of partitions must be larger than 0"},
		{"zero factor", brokers(1, 2), 1, 0, Placement{}, 0, "replication factor must be larger than 0"},
		{"factor above brokers", brokers(1, 2, 3), 1, 4, Placement{}, 0, "replication factor: 4 larger than available brokers: 3"},
		{"no brokers", nil, 1, 1, Placement{}, 0, "replication factor: 1 larger than available brokers: 0"},
		{"partial racks", []Broker{{1, "r1"}, {2, ""}}, 1, 1, Placement{}, 0, "not all brokers have rack information"},
		{"duplicate broker", brokers(1, 2, 1), 1, 1, Placement{}, 0, "broker 1 listed twice"},
		{"negative start", brokers(1, 2), 1, 1, Placement{-1, 0}, 0, "negative placement"},
		{"negative shift", brokers(1, 2), 1, 1, Placement{0, -1}, 0, "negative placement"},
		{"negative first partition", brokers(1, 2), 1, 1, Placement{}, -1, "negative first partition"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AssignReplicas(tc.brokers, tc.parts, tc.rf, tc.p, tc.first)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, %v; want an error with %q", got, err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

// TestAddPartitions follows Kafka 2.6 `AdminZkClient.createNewPartitionsAssignment`.
// Existing [[2 3] [3 1]] on brokers 1,2,3: the factor is 2 (partition 0's),
// the start index is that of the first broker id >= 2 (index 1), fixed, so
// the shift is 1 too. p2: first (2+1)%3=0 (broker 1), second
// (0+1+1%2)%3=2 (broker 3). p3 wraps, shift 2: first (3+1)%3=1 (broker
// 2), second (1+1+0)%3=2 (broker 3).
func TestAddPartitions(t *testing.T) {
	got, err := AddPartitions(brokers(3, 2, 1), [][]int32{{2, 3}, {3, 1}}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[[1 3] [2 3]]" {
		t.Fatalf("got %v, want [[1 3] [2 3]]", got)
	}
	// Partition 0 led by a broker above every id: indexWhere gives -1,
	// Kafka clamps it to 0. Factor 1: p1 first (1+0)%2=1 → broker 2.
	got, err = AddPartitions(brokers(1, 2), [][]int32{{9}}, 2)
	if err != nil || fmt.Sprint(got) != "[[2]]" {
		t.Fatalf("got %v, %v; want [[2]]", got, err)
	}
	for _, tc := range []struct {
		existing [][]int32
		total    int
		want     string
	}{
		{nil, 3, "partition 0 is missing"},
		{[][]int32{{1}, {2}}, 2, "can only be increased"},
		{[][]int32{{1}, {2}}, 1, "can only be increased"},
	} {
		if _, err := AddPartitions(brokers(1, 2), tc.existing, tc.total); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddPartitions(%v, %d): %v, want %q", tc.existing, tc.total, err, tc.want)
		}
	}
}

// TestDrawPlacement: both numbers in range, drawn start first, and the same
// seed gives the same placement.
func TestDrawPlacement(t *testing.T) {
	r := sim.NewRand(7)
	ref := sim.NewRand(7)
	for range 100 {
		p := DrawPlacement(r, 5)
		if p.StartIndex != ref.Intn(5) || p.ReplicaShift != ref.Intn(5) {
			t.Fatalf("placement %+v not drawn start then shift from the stream", p)
		}
		if p.StartIndex < 0 || p.StartIndex >= 5 || p.ReplicaShift < 0 || p.ReplicaShift >= 5 {
			t.Fatalf("placement %+v out of [0, 5)", p)
		}
	}
}

// TestAssignDoesNotMutateInput: the broker slice keeps its order.
func TestAssignDoesNotMutateInput(t *testing.T) {
	bs := brokers(3, 1, 2)
	if _, err := AssignReplicas(bs, 3, 2, FixedPlacement(0), 0); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(bs) != "[{3 } {1 } {2 }]" {
		t.Fatalf("input reordered: %v", bs)
	}
}

func TestValidateAssignment(t *testing.T) {
	bs := brokers(1, 2, 3)
	tests := []struct {
		name string
		a    [][]int32
		rf   int
		want string // "" for valid
	}{
		{"valid", [][]int32{{1, 2}, {2, 3}}, 2, ""},
		{"factor not checked", [][]int32{{1, 2}, {3}}, 0, ""},
		{"empty partition", [][]int32{{1}, {}}, 0, "replication factor of 0 for partition id 1"},
		{"duplicate", [][]int32{{1, 2, 1}}, 0, "duplicate brokers not allowed in replica assignment: [1 2 1] for partition id 0"},
		{"unknown broker", [][]int32{{1, 2}, {4, 1}}, 2, "partition id 1 are not available"},
		// The factor is checked after every partition's own checks: the
		// unknown broker of partition 2 is reported, not partition 1's
		// factor.
		{"factor checked last", [][]int32{{1, 2}, {3}, {9, 1}}, 2, "partition id 2 are not available"},
		{"inconsistent factor", [][]int32{{1, 2}, {3}}, 2, "partition 0 has 2 while partition 1 has 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateAssignment(tc.a, tc.rf, bs)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}
