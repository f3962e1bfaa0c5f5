package isr

import (
	"slices"
	"testing"

	"github.com/kzsim/kzsim/sim"
	"pgregory.net/rapid"
)

// TestPropertyShrinkAndHighWatermark: a shrink keeps the leader, splits the
// ISR into kept and removed without losing or inventing a member, removes
// exactly the out-of-sync followers; the high watermark never moves back
// and never passes the leader's log end.
func TestPropertyShrinkAndHighWatermark(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ids := rapid.SliceOfNDistinct(rapid.Int32Range(0, 9), 1, 6, rapid.ID[int32]).Draw(t, "ids")
		leader := ids[0]
		leaderLEO := rapid.Int64Range(0, 100).Draw(t, "leaderLEO")
		now := sim.Time(rapid.Int64Range(0, 100_000).Draw(t, "now"))
		maxLag := sim.Duration(rapid.Int64Range(0, 50_000).Draw(t, "lag"))
		var followers []Follower
		for _, id := range ids[1:] {
			followers = append(followers, Follower{
				ID:           id,
				LogEndOffset: rapid.Int64Range(UnknownOffset, leaderLEO).Draw(t, "leo"),
				LastCaughtUp: sim.Time(rapid.Int64Range(0, int64(now)).Draw(t, "caughtUp")),
			})
		}
		isr := rapid.Permutation(ids).Draw(t, "isr")
		next, out, err := Shrink(isr, leader, followers, leaderLEO, now, maxLag)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(next, leader) || slices.Contains(out, leader) {
			t.Fatalf("leader %d removed: next %v out %v", leader, next, out)
		}
		if len(next)+len(out) != len(isr) {
			t.Fatalf("isr %v split into %v and %v", isr, next, out)
		}
		for _, f := range followers {
			if slices.Contains(out, f.ID) != f.OutOfSync(leaderLEO, now, maxLag) {
				t.Fatalf("follower %+v: removed %v, out of sync %v", f, slices.Contains(out, f.ID), f.OutOfSync(leaderLEO, now, maxLag))
			}
		}
		old := rapid.Int64Range(0, leaderLEO).Draw(t, "oldHW")
		// The ISR before the shrink: after it, every stale member is at the
		// leader's end, which would hide the ISR rule.
		hw, adv := HighWatermark(old, leaderLEO, isr, followers, now, maxLag)
		if hw < old || hw > leaderLEO || adv != (hw > old) {
			t.Fatalf("high watermark %d (advanced %v) from %d, leader at %d", hw, adv, old, leaderLEO)
		}
		for _, f := range followers {
			if slices.Contains(isr, f.ID) && adv && f.LogEndOffset < hw {
				t.Fatalf("high watermark %d passes ISR member %+v", hw, f)
			}
		}
	})
}
