package algo

import (
	"fmt"
	"testing"
)

func tp(topic string, p int32) TopicPartition { return TopicPartition{topic, p} }

func state(leader int32, isr ...int32) *LeaderAndIsr {
	return &LeaderAndIsr{Leader: leader, ISR: isr}
}

// rebalanceCluster is a hand-built state for the automatic rebalance.
//
//	broker 1 prefers a-0..a-9; a-9 is led by 2: 1/10 = 0.1, not above 10 %.
//	broker 2 prefers b-0..b-3: b-0 and b-1 led by 3, b-2 has no state (it
//	  counts in the denominator only), b-3 led by 2: 2/4 = 0.5. Of b-0 and
//	  b-1 only b-0 can move: 2 is out of b-1's ISR.
//	broker 3 prefers c-0, which has no leader: 1/1, but 3 is dead.
//	d-0 prefers 3 too but its topic is queued for deletion: not counted.
func rebalanceCluster() []PartitionView {
	var parts []PartitionView
	for p := int32(9); p >= 0; p-- { // given out of order on purpose
		leader := int32(1)
		if p == 9 {
			leader = 2
		}
		parts = append(parts, PartitionView{TopicPartition: tp("a", p), Assignment: []int32{1, 2}, State: state(leader, 1, 2)})
	}
	return append(parts,
		PartitionView{TopicPartition: tp("b", 0), Assignment: []int32{2, 3}, State: state(3, 2, 3)},
		PartitionView{TopicPartition: tp("b", 1), Assignment: []int32{2, 3}, State: state(3, 3)},
		PartitionView{TopicPartition: tp("b", 2), Assignment: []int32{2, 1}},
		PartitionView{TopicPartition: tp("b", 3), Assignment: []int32{2, 3}, State: state(2, 2, 3)},
		PartitionView{TopicPartition: tp("c", 0), Assignment: []int32{3, 1}, State: state(NoLeader, 3)},
		PartitionView{TopicPartition: tp("d", 0), Assignment: []int32{3, 1}, State: state(1, 1), QueuedForDeletion: true},
	)
}

func TestLeaderImbalance(t *testing.T) {
	got := LeaderImbalance(rebalanceCluster())
	want := "[{1 10 [{a 9}]} {2 4 [{b 0} {b 1}]} {3 1 [{c 0}]}]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got  %v\nwant %s", got, want)
	}
	for _, tc := range []struct {
		i       int
		ratio   float64
		pct     int
		exceeds bool
	}{
		{0, 0.1, 10, false}, // equal is not above
		{0, 0.1, 9, true},
		{1, 0.5, 10, true},
		{1, 0.5, 50, false},
		{2, 1, 99, true},
		{2, 1, 100, false},
	} {
		b := got[tc.i]
		if b.Ratio() != tc.ratio || b.Exceeds(tc.pct) != tc.exceeds {
			t.Errorf("broker %d: ratio %v exceeds(%d) %v, want %v %v", b.Broker, b.Ratio(), tc.pct, b.Exceeds(tc.pct), tc.ratio, tc.exceeds)
		}
	}
}

func TestRebalanceCandidates(t *testing.T) {
	parts := rebalanceCluster()
	l := live(1, 2)
	tests := []struct {
		name        string
		pct         int
		l           Liveness
		reassigning bool
		want        string
	}{
		{"default 10 %", 10, l, false, "[{b 0}]"},
		// Below 10 %, broker 1 qualifies too; a-9's preferred 1 is live
		// and in sync.
		{"9 %", 9, l, false, "[{a 9} {b 0}]"},
		// 3 back: c-0 moves too (3 is its sole ISR member).
		{"broker 3 live", 10, live(1, 2, 3), false, "[{b 0} {c 0}]"},
		{"broker 2 shutting down", 10, Liveness{Live: set(1, 2), ShuttingDown: set(2)}, false, "[]"},
		{"reassignment in flight", 10, l, true, "[]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fmt.Sprint(RebalanceCandidates(parts, tc.l, tc.pct, tc.reassigning)); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}
