package algo

import (
	"fmt"
	"testing"
)

func set(ids ...int32) map[int32]bool {
	m := map[int32]bool{}
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// live returns a Liveness with the given live brokers and none shutting down.
func live(ids ...int32) Liveness { return Liveness{Live: set(ids...)} }

// show renders an election compactly for table comparison.
func show(e Election) string {
	if !e.Elected {
		return fmt.Sprintf("none to %v", e.Recipients)
	}
	u := ""
	if e.Unclean {
		u = " unclean"
	}
	return fmt.Sprintf("leader %d epoch %d isr %v%s to %v", e.State.Leader, e.State.LeaderEpoch, e.State.ISR, u, e.Recipients)
}

func TestElectOffline(t *testing.T) {
	tests := []struct {
		name    string
		a       []int32
		isr     []int32
		l       Liveness
		unclean bool
		want    string
	}{
		// Leader 1 died: the first of A in live ∩ ISR is 2; the ISR keeps
		// its online members.
		{"leader died", []int32{1, 2, 3}, []int32{1, 2, 3}, live(2, 3), false, "leader 2 epoch 6 isr [2 3] to [2 3]"},
		// Assignment order, not ISR order: ISR [3 2] would give 3 under
		// Kafka ≤1.0's selector; 2.6 takes 2, and keeps the ISR's order.
		{"assignment order", []int32{1, 2, 3}, []int32{3, 2}, live(2, 3), false, "leader 2 epoch 6 isr [3 2] to [2 3]"},
		// 2 is live but out of the ISR, 1 in the ISR but dead: 3 leads
		// alone.
		{"dead ISR member dropped", []int32{1, 2, 3}, []int32{1, 3}, live(2, 3), false, "leader 3 epoch 6 isr [3] to [2 3]"},
		// Only the dead 1 is in sync; unclean disabled: no leader, the
		// znode stays as it is.
		{"unclean disabled", []int32{1, 2, 3}, []int32{1}, live(2, 3), false, "none to [2 3]"},
		// The same with unclean enabled: the first live replica of A, ISR
		// reset to it alone.
		{"unclean enabled", []int32{1, 2, 3}, []int32{1}, live(3, 2), true, "leader 2 epoch 6 isr [2] unclean to [2 3]"},
		{"empty ISR, unclean disabled", []int32{1, 2}, nil, live(1, 2), false, "none to [1 2]"},
		{"empty ISR, unclean enabled", []int32{2, 1}, nil, live(1, 2), true, "leader 2 epoch 6 isr [2] unclean to [2 1]"},
		{"no live replica", []int32{1, 2}, []int32{1, 2}, live(3), true, "none to []"},
		// A clean choice exists: unclean enabled changes nothing.
		{"clean despite unclean enabled", []int32{1, 2, 3}, []int32{3}, live(2, 3), true, "leader 3 epoch 6 isr [3] to [2 3]"},
		// A shutting-down broker does not count as live for this election
		// and leaves the ISR.
		{"shutting down not live", []int32{1, 2, 3}, []int32{1, 2, 3}, Liveness{Live: set(1, 2, 3), ShuttingDown: set(1)}, false, "leader 2 epoch 6 isr [2 3] to [2 3]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur := LeaderAndIsr{Leader: tc.a[0], LeaderEpoch: 5, ISR: tc.isr}
			if got := show(ElectOffline(tc.a, cur, tc.l, tc.unclean)); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestElectOfflineISROrder: Kafka 0.8.0/0.8.1 took the first live ISR
// member in ISR order. Same states as the 2.6 table where they differ.
func TestElectOfflineISROrder(t *testing.T) {
	tests := []struct {
		name    string
		a       []int32
		isr     []int32
		l       Liveness
		unclean bool
		want    string
	}{
		// 2.6 elects 2 here (assignment order); 0.8.1 elects 3.
		{"ISR order", []int32{1, 2, 3}, []int32{3, 2}, live(2, 3), false, "leader 3 epoch 6 isr [3 2] to [2 3]"},
		{"leader died", []int32{1, 2, 3}, []int32{1, 2, 3}, live(2, 3), false, "leader 2 epoch 6 isr [2 3] to [2 3]"},
		// No live ISR member: the unclean fallback takes assignment order.
		{"unclean fallback", []int32{1, 3, 2}, []int32{1}, live(2, 3), true, "leader 3 epoch 6 isr [3] unclean to [3 2]"},
		{"no leader", []int32{1, 2}, []int32{1}, live(2), false, "none to [2]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur := LeaderAndIsr{Leader: tc.a[0], LeaderEpoch: 5, ISR: tc.isr}
			if got := show(ElectOfflineISROrder(tc.a, cur, tc.l, tc.unclean)); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestElectReassign(t *testing.T) {
	tests := []struct {
		name   string
		target []int32
		isr    []int32
		l      Liveness
		want   string
	}{
		// Target order decides: 5 before 4. The ISR is left as it is,
		// old replica 1 included (phase B removes it afterwards).
		{"target order", []int32{5, 4}, []int32{1, 4, 5}, live(1, 4, 5), "leader 5 epoch 3 isr [1 4 5] to [5 4]"},
		{"first target dead", []int32{5, 4}, []int32{1, 4, 5}, live(1, 4), "leader 4 epoch 3 isr [1 4 5] to [5 4]"},
		// Recipients are the whole target, dead ones too.
		{"no target in ISR", []int32{5, 4}, []int32{1}, live(1, 4, 5), "none to [5 4]"},
		{"target shutting down", []int32{5, 4}, []int32{4, 5}, Liveness{Live: set(4, 5), ShuttingDown: set(5)}, "leader 4 epoch 3 isr [4 5] to [5 4]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur := LeaderAndIsr{Leader: 1, LeaderEpoch: 2, ISR: tc.isr}
			if got := show(ElectReassign(tc.target, cur, tc.l)); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestElectPreferred(t *testing.T) {
	tests := []struct {
		name string
		a    []int32
		isr  []int32
		l    Liveness
		want string
	}{
		{"preferred back", []int32{2, 1, 3}, []int32{1, 2, 3}, live(1, 2, 3), "leader 2 epoch 1 isr [1 2 3] to [2 1 3]"},
		// Only A's head is ever tried: 3 would do but is not preferred.
		{"preferred out of ISR", []int32{2, 3, 1}, []int32{1, 3}, live(1, 2, 3), "none to [2 3 1]"},
		{"preferred dead", []int32{2, 1}, []int32{1, 2}, live(1), "none to [2 1]"},
		{"preferred shutting down", []int32{2, 1}, []int32{1, 2}, Liveness{Live: set(1, 2), ShuttingDown: set(2)}, "none to [2 1]"},
		{"empty assignment", nil, []int32{1}, live(1), "none to []"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur := LeaderAndIsr{Leader: 1, LeaderEpoch: 0, ISR: tc.isr}
			if got := show(ElectPreferred(tc.a, cur, tc.l)); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestElectControlledShutdown(t *testing.T) {
	tests := []struct {
		name string
		a    []int32
		isr  []int32
		l    Liveness
		want string
	}{
		// 1 shuts down: 2 leads, 1 leaves the ISR; 1 still gets the request.
		{"leader shuts down", []int32{1, 2, 3}, []int32{1, 2, 3}, Liveness{Live: set(1, 2, 3), ShuttingDown: set(1)}, "leader 2 epoch 8 isr [2 3] to [1 2 3]"},
		// 2 is dead and in the ISR: skipped as leader but kept in the ISR
		// (only shutting-down brokers are removed here).
		{"dead ISR member kept", []int32{1, 2, 3}, []int32{1, 2, 3}, Liveness{Live: set(1, 3), ShuttingDown: set(1)}, "leader 3 epoch 8 isr [2 3] to [1 3]"},
		// The shutting-down broker is the only one in sync: no leader.
		{"sole ISR member", []int32{1, 2}, []int32{1}, Liveness{Live: set(1, 2), ShuttingDown: set(1)}, "none to [1 2]"},
		// Two brokers shutting down at once: both leave the ISR.
		{"two shutting down", []int32{1, 2, 3}, []int32{1, 2, 3}, Liveness{Live: set(1, 2, 3), ShuttingDown: set(1, 2)}, "leader 3 epoch 8 isr [3] to [1 2 3]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cur := LeaderAndIsr{Leader: 1, LeaderEpoch: 7, ISR: tc.isr}
			if got := show(ElectControlledShutdown(tc.a, cur, tc.l)); got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestInitialLeaderAndIsr(t *testing.T) {
	// Assignment order [3 1 2] with 3 dead: 1 leads, the ISR is the live
	// replicas in assignment order, epoch 0.
	got, ok := InitialLeaderAndIsr([]int32{3, 1, 2}, live(2, 1))
	if !ok || fmt.Sprint(got) != "{1 0 [1 2]}" {
		t.Fatalf("got %v %v, want {1 0 [1 2]} true", got, ok)
	}
	// A shutting-down broker is not online: 2 leads alone.
	got, ok = InitialLeaderAndIsr([]int32{1, 2}, Liveness{Live: set(1, 2), ShuttingDown: set(1)})
	if !ok || fmt.Sprint(got) != "{2 0 [2]}" {
		t.Fatalf("got %v %v, want {2 0 [2]} true", got, ok)
	}
	if got, ok := InitialLeaderAndIsr([]int32{1, 2}, live(3)); ok {
		t.Fatalf("no live replica: got %v, want none (partition stays New)", got)
	}
}

func TestRemoveFromIsr(t *testing.T) {
	tests := []struct {
		name    string
		cur     LeaderAndIsr
		replica int32
		want    string
	}{
		{"follower", LeaderAndIsr{1, 4, []int32{1, 2, 3}}, 2, "{1 5 [1 3]} true"},
		{"leader", LeaderAndIsr{1, 4, []int32{1, 2, 3}}, 1, "{-1 5 [2 3]} true"},
		// KAFKA-5083: the last member stays in the ISR, the leader goes.
		{"last member kept", LeaderAndIsr{1, 4, []int32{1}}, 1, "{-1 5 [1]} true"},
		// Not in the ISR: nothing is written, the epoch stays.
		{"not in ISR", LeaderAndIsr{1, 4, []int32{1, 3}}, 2, "{1 4 [1 3]} false"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next, changed := RemoveFromIsr(tc.cur, tc.replica)
			if got := fmt.Sprint(next, " ", changed); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestElectionsDoNotAlias: the returned ISR is never the caller's slice.
func TestElectionsDoNotAlias(t *testing.T) {
	isr := []int32{1, 2}
	cur := LeaderAndIsr{Leader: 2, LeaderEpoch: 1, ISR: isr}
	l := live(1, 2)
	for name, e := range map[string]Election{
		"offline":  ElectOffline([]int32{1, 2}, cur, l, false),
		"reassign": ElectReassign([]int32{1, 2}, cur, l),
		"pref":     ElectPreferred([]int32{1, 2}, cur, l),
		"cs":       ElectControlledShutdown([]int32{1, 2}, cur, l),
	} {
		e.State.ISR[0] = 99
		if isr[0] != 1 {
			t.Fatalf("%s: election result shares the caller's ISR", name)
		}
	}
	next, _ := RemoveFromIsr(cur, 3)
	next.ISR[0] = 99
	if isr[0] != 1 {
		t.Fatal("RemoveFromIsr result shares the caller's ISR")
	}
}
