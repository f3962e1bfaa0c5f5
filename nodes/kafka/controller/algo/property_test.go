package algo

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// brokerIDs draws n distinct broker ids from [0, 20).
func brokerIDs(t *rapid.T, n int, label string) []int32 {
	return rapid.SliceOfNDistinct(rapid.Int32Range(0, 19), n, n, rapid.ID[int32]).Draw(t, label)
}

// subset draws a subset of s in a random order.
func subset(t *rapid.T, s []int32, label string) []int32 {
	keep := rapid.SliceOfN(rapid.Bool(), len(s), len(s)).Draw(t, label+"-keep")
	var out []int32
	for i, k := range keep {
		if k {
			out = append(out, s[i])
		}
	}
	return rapid.Permutation(out).Draw(t, label)
}

// TestPropertyElections: whatever the state, an elected leader is a
// replica the strategy may pick (online; for controlled shutdown live and
// not shutting down), it is in the returned ISR, the epoch goes up by one,
// the new ISR holds nothing the old did not but an unclean leader, and
// only an offline election with unclean enabled is ever unclean, and then
// only when no online replica was in sync.
func TestPropertyElections(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		universe := brokerIDs(t, 6, "universe")
		a := brokerIDs(t, rapid.IntRange(1, 5).Draw(t, "rf"), "assignment")
		isr := subset(t, a, "isr")
		l := Liveness{Live: set(subset(t, universe, "live")...), ShuttingDown: set(subset(t, universe, "shutting")...)}
		for _, r := range subset(t, a, "liveReplicas") {
			l.Live[r] = true
		}
		cur := LeaderAndIsr{Leader: a[0], LeaderEpoch: rapid.Int32Range(0, 100).Draw(t, "epoch"), ISR: isr}
		unclean := rapid.Bool().Draw(t, "unclean")
		cleanPossible := slices.ContainsFunc(a, func(r int32) bool { return l.Online(r) && slices.Contains(isr, r) })

		check := func(name string, e Election, eligible func(int32) bool, mayBeUnclean bool) {
			if !e.Elected {
				return
			}
			s := e.State
			if !eligible(s.Leader) {
				t.Fatalf("%s: leader %d not eligible (live %v shutting %v)", name, s.Leader, l.Live, l.ShuttingDown)
			}
			if !slices.Contains(s.ISR, s.Leader) {
				t.Fatalf("%s: leader %d not in new ISR %v", name, s.Leader, s.ISR)
			}
			if s.LeaderEpoch != cur.LeaderEpoch+1 {
				t.Fatalf("%s: epoch %d after %d", name, s.LeaderEpoch, cur.LeaderEpoch)
			}
			if e.Unclean != !slices.Contains(isr, s.Leader) {
				t.Fatalf("%s: unclean %v but leader %d in old ISR %v: %v", name, e.Unclean, s.Leader, isr, slices.Contains(isr, s.Leader))
			}
			if e.Unclean && (!mayBeUnclean || cleanPossible) {
				t.Fatalf("%s: unclean election (enabled %v, clean possible %v)", name, mayBeUnclean, cleanPossible)
			}
			for _, r := range s.ISR {
				if !slices.Contains(isr, r) && !(e.Unclean && r == s.Leader) {
					t.Fatalf("%s: new ISR %v has %d, not in old ISR %v", name, s.ISR, r, isr)
				}
			}
		}
		off := ElectOffline(a, cur, l, unclean)
		check("offline", off, l.Online, unclean)
		if cleanPossible != (off.Elected && !off.Unclean) {
			t.Fatalf("offline: clean possible %v but got %+v", cleanPossible, off)
		}
		off08 := ElectOfflineISROrder(a, cur, l, unclean)
		check("offline 0.8.1", off08, l.Online, unclean)
		if off.Elected != off08.Elected || off.Unclean != off08.Unclean || !slices.Equal(off.State.ISR, off08.State.ISR) {
			// Both eras elect in the same cases and agree on the ISR (the
			// live ISR members, or the one unclean leader); only a clean leader may differ.
			t.Fatalf("offline eras disagree: 2.6 %+v, 0.8.1 %+v", off, off08)
		}
		check("reassign", ElectReassign(a, cur, l), l.Online, false)
		check("preferred", ElectPreferred(a, cur, l), l.Online, false)
		check("controlled shutdown", ElectControlledShutdown(a, cur, l), func(r int32) bool {
			return l.Live[r] && !l.ShuttingDown[r]
		}, false)
	})
}

// TestPropertyAssignment: every partition gets replicationFactor distinct
// brokers of the cluster; first replicas go round robin, so leader counts
// differ by at most one; without racks and over whole rounds of the broker
// list every broker holds the same number of replicas; with racks, each
// partition spans min(factor, racks) racks (Kafka's guarantee in the
// `assignReplicasToBrokers` comment).
func TestPropertyAssignment(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 8).Draw(t, "brokers")
		ids := brokerIDs(t, n, "ids")
		racked := rapid.Bool().Draw(t, "racked")
		numRacks := 0
		bs := make([]Broker, n)
		rackOf := map[int32]string{}
		if racked {
			numRacks = rapid.IntRange(1, n).Draw(t, "racks")
		}
		for i, id := range ids {
			bs[i] = Broker{ID: id}
			if racked {
				bs[i].Rack = string(rune('a' + rapid.IntRange(0, numRacks-1).Draw(t, "rack")))
				rackOf[id] = bs[i].Rack
			}
		}
		distinctRacks := map[string]bool{}
		for _, r := range rackOf {
			distinctRacks[r] = true
		}
		rf := rapid.IntRange(1, n).Draw(t, "rf")
		parts := rapid.IntRange(1, 40).Draw(t, "partitions")
		p := Placement{rapid.IntRange(0, 20).Draw(t, "start"), rapid.IntRange(0, 20).Draw(t, "shift")}
		got, err := AssignReplicas(bs, parts, rf, p, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != parts {
			t.Fatalf("%d partitions, want %d", len(got), parts)
		}
		leaders := map[int32]int{}
		replicas := map[int32]int{}
		for pid, rs := range got {
			if len(rs) != rf {
				t.Fatalf("partition %d: %v, want %d replicas", pid, rs, rf)
			}
			racks := map[string]bool{}
			for i, r := range rs {
				if !slices.Contains(ids, r) {
					t.Fatalf("partition %d: broker %d not in the cluster %v", pid, r, ids)
				}
				if slices.Contains(rs[:i], r) {
					t.Fatalf("partition %d: broker %d twice in %v", pid, r, rs)
				}
				replicas[r]++
				racks[rackOf[r]] = true
			}
			leaders[rs[0]]++
			if racked && len(racks) != min(rf, len(distinctRacks)) {
				t.Fatalf("partition %d: %v spans %d racks, want %d", pid, rs, len(racks), min(rf, len(distinctRacks)))
			}
		}
		lo, hi := parts, 0
		for _, id := range ids {
			lo, hi = min(lo, leaders[id]), max(hi, leaders[id])
		}
		if hi-lo > 1 {
			t.Fatalf("leader counts %v spread by %d", leaders, hi-lo)
		}
		if !racked && parts%n == 0 {
			for _, id := range ids {
				if replicas[id] != rf*parts/n {
					t.Fatalf("broker %d holds %d replicas, want %d (counts %v)", id, replicas[id], rf*parts/n, replicas)
				}
			}
		}
	})
}
