package algo

import (
	"fmt"
	"testing"
)

func showRA(a ReplicaAssignment) string {
	return fmt.Sprintf("rs %v adding %v removing %v", a.Replicas, a.Adding, a.Removing)
}

// TestReassignTo works KIP-455's sets by hand. ORS [1 2 3] to TRS [4 5 1]:
// RS = TRS then ORS−TRS = [4 5 1 2 3], AR = [4 5], RR = [2 3].
func TestReassignTo(t *testing.T) {
	a := ReplicaAssignment{Replicas: []int32{1, 2, 3}}
	if a.Reassigning() {
		t.Fatal("a plain assignment reports a reassignment in flight")
	}
	r := a.ReassignTo([]int32{4, 5, 1})
	if got := showRA(r); got != "rs [4 5 1 2 3] adding [4 5] removing [2 3]" {
		t.Fatalf("got %s", got)
	}
	if fmt.Sprint(r.Origin(), r.Target()) != "[1 2 3] [4 5 1]" || !r.Reassigning() {
		t.Fatalf("origin %v target %v reassigning %v", r.Origin(), r.Target(), r.Reassigning())
	}
	// Replacing the running reassignment with TRS [6 1]: the origin is
	// still [1 2 3] (RS minus adding), so RS = [6 1 2 3], AR = [6] (4 and
	// 5 are dropped, the caller stops them), RR = [2 3].
	if got := showRA(r.ReassignTo([]int32{6, 1})); got != "rs [6 1 2 3] adding [6] removing [2 3]" {
		t.Fatalf("replace: got %s", got)
	}
	// Cancelling (target = origin) leaves no reassignment in flight.
	if c := r.ReassignTo([]int32{1, 2, 3}); c.Reassigning() || fmt.Sprint(c.Replicas) != "[1 2 3]" {
		t.Fatalf("cancel: got %s", showRA(c))
	}
	// A reordering only: no replica moves, the preferred replica changes.
	if o := a.ReassignTo([]int32{3, 1, 2}); o.Reassigning() || fmt.Sprint(o.Replicas) != "[3 1 2]" {
		t.Fatalf("reorder: got %s", showRA(o))
	}
	if got := showRA(r.Complete()); got != "rs [4 5 1] adding [] removing []" {
		t.Fatalf("complete: got %s", got)
	}
}

func TestReassignmentDone(t *testing.T) {
	r := ReplicaAssignment{Replicas: []int32{1, 2, 3}}.ReassignTo([]int32{4, 5, 1})
	tests := []struct {
		isr  []int32
		want bool
	}{
		{[]int32{1, 2, 3}, false},
		{[]int32{1, 2, 3, 4}, false}, // 5 not caught up yet
		{[]int32{5, 1, 4}, true},     // order does not matter
		{[]int32{1, 2, 3, 4, 5}, true},
		{nil, false},
	}
	for _, tc := range tests {
		if got := ReassignmentDone(r, tc.isr); got != tc.want {
			t.Errorf("ISR %v: done %v, want %v", tc.isr, got, tc.want)
		}
	}
	if !ReassignmentDone(ReplicaAssignment{Replicas: []int32{1, 2}}, nil) {
		t.Error("no reassignment in flight: want done whatever the ISR")
	}
}
