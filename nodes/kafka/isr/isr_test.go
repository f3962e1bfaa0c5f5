package isr

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kzsim/kzsim/sim"
)

const ms = sim.Millisecond

func at(d sim.Duration) sim.Time { return sim.Time(0).Add(d) }

// TestFetchedCaughtUp walks Kafka 2.6 `Replica.updateFetchState` by hand.
func TestFetchedCaughtUp(t *testing.T) {
	f := Follower{ID: 2}
	steps := []struct {
		name          string
		now           sim.Duration
		fetch, leader int64
		want          sim.Duration
	}{
		// Reaches the leader's end: caught up now.
		{"reaches the end", 100 * ms, 10, 10, 100 * ms},
		// Writes keep coming: at 200 ms the leader is at 20, the fetch asks
		// for 15, short of 20 but past 10 (the leader's end at the last
		// fetch): caught up as of that fetch, 100 ms.
		{"one fetch behind", 200 * ms, 15, 20, 100 * ms},
		// 20 ≥ 20 (the previous fetch's leader end): caught up at 200 ms.
		{"still keeping up", 300 * ms, 20, 30, 200 * ms},
		// Stuck at 20 while the last fetch saw 30: no progress.
		{"stuck", 400 * ms, 20, 40, 200 * ms},
		// A fetch never moves the time back.
		{"monotonic", 500 * ms, 40, 40, 500 * ms},
	}
	for _, s := range steps {
		f = f.Fetched(s.fetch, at(s.now), s.leader)
		if f.LastCaughtUp != at(s.want) || f.LogEndOffset != s.fetch || f.LastFetch != at(s.now) || f.LastFetchLeaderLogEndOffset != s.leader {
			t.Fatalf("%s: got %+v, want caught up at %v", s.name, f, s.want)
		}
	}
}

func TestOutOfSync(t *testing.T) {
	lag := 30000 * ms
	tests := []struct {
		name string
		leo  int64
		now  sim.Duration
		want bool
	}{
		{"behind past the lag", 5, 30001 * ms, true},
		{"behind exactly the lag", 5, 30000 * ms, false}, // strictly greater, as Kafka
		{"behind within the lag", 5, 1000 * ms, false},
		{"at the end, however old", 10, 99999 * ms, false},
	}
	for _, tc := range tests {
		f := Follower{ID: 2, LogEndOffset: tc.leo}
		if got := f.OutOfSync(10, at(tc.now), lag); got != tc.want {
			t.Errorf("%s: out of sync %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestShrink: at 30.001 s with a 30 s lag and the leader at 10, follower 2
// (behind, caught up at 0) leaves; 3 (behind, caught up at 25 s) and 4 (at
// the end) stay; the leader 1 stays though it has no follower state.
func TestShrink(t *testing.T) {
	followers := []Follower{
		{ID: 2, LogEndOffset: 5},
		{ID: 3, LogEndOffset: 5, LastCaughtUp: at(25000 * ms)},
		{ID: 4, LogEndOffset: 10},
	}
	next, out, err := Shrink([]int32{4, 1, 2, 3}, 1, followers, 10, at(30001*ms), 30000*ms)
	if err != nil || fmt.Sprint(next, out) != "[4 1 3] [2]" {
		t.Fatalf("got %v %v %v, want [4 1 3] [2]", next, out, err)
	}
	next, out, err = Shrink([]int32{1, 3}, 1, followers, 10, at(30001*ms), 30000*ms)
	if err != nil || fmt.Sprint(next, out) != "[1 3] []" {
		t.Fatalf("nothing to remove: got %v %v %v", next, out, err)
	}
	if _, _, err := Shrink([]int32{1, 9}, 1, followers, 10, 0, 30000*ms); err == nil || !strings.Contains(err.Error(), "ISR member 9") {
		t.Fatalf("missing follower: got %v", err)
	}
}

// TestCanJoin: high watermark 10, the leader's epoch started at 12 (it
// became leader with uncommitted records 10 and 11 of its own). A follower
// at 11 has reached the watermark: before KAFKA-7128 it joins, after it
// must also reach 12.
func TestCanJoin(t *testing.T) {
	tests := []struct {
		leo   int64
		check bool
		want  bool
	}{
		{9, false, false},
		{11, false, true},
		{11, true, false},
		{12, true, true},
	}
	for _, tc := range tests {
		f := Follower{ID: 2, LogEndOffset: tc.leo}
		if got := f.CanJoin(10, 12, tc.check); got != tc.want {
			t.Errorf("LEO %d check %v: %v, want %v", tc.leo, tc.check, got, tc.want)
		}
	}
}

// TestHighWatermark: the leader at 20; 2 in the ISR at 15; 3 out of the ISR
// at 12.
func TestHighWatermark(t *testing.T) {
	lag := 30000 * ms
	now := at(40000 * ms)
	isr := []int32{1, 2}
	recent := []Follower{{ID: 2, LogEndOffset: 15, LastCaughtUp: now}, {ID: 3, LogEndOffset: 12, LastCaughtUp: at(20000 * ms)}}
	stale := []Follower{{ID: 2, LogEndOffset: 15}, {ID: 3, LogEndOffset: 12, LastCaughtUp: at(9999 * ms)}}
	tests := []struct {
		name      string
		old       int64
		followers []Follower
		want      string
	}{
		// 3 caught up 20 s ago, within the lag: it holds the watermark at 12.
		{"recent non-ISR follower counts", 0, recent, "12 true"},
		// 3 last caught up 30.001 s ago: only 2 (in the ISR, even though
		// never caught up) counts: 15.
		{"stale non-ISR follower ignored", 0, stale, "15 true"},
		{"never moves back", 16, stale, "16 false"},
		{"unknown ISR follower holds it", 5, []Follower{{ID: 2, LogEndOffset: UnknownOffset}}, "5 false"},
		{"alone", 0, nil, "20 true"},
	}
	for _, tc := range tests {
		hw, adv := HighWatermark(tc.old, 20, isr, tc.followers, now, lag)
		if got := fmt.Sprint(hw, adv); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestBecomeLeader(t *testing.T) {
	f := Follower{ID: 2, LogEndOffset: 7, LastCaughtUp: at(5 * ms), LastFetch: at(6 * ms), LastFetchLeaderLogEndOffset: 9}
	got := BecomeLeader(f, true, at(100*ms), 12, true)
	want := Follower{ID: 2, LogEndOffset: UnknownOffset, LastCaughtUp: at(100 * ms), LastFetch: at(100 * ms), LastFetchLeaderLogEndOffset: 12}
	if got != want {
		t.Fatalf("in ISR, new leader: got %+v, want %+v", got, want)
	}
	got = BecomeLeader(f, false, at(100*ms), 12, false)
	want = Follower{ID: 2, LogEndOffset: 7, LastCaughtUp: NeverCaughtUp, LastFetch: at(100 * ms), LastFetchLeaderLogEndOffset: 12}
	if got != want {
		t.Fatalf("out of ISR, already leader: got %+v, want %+v", got, want)
	}
}
