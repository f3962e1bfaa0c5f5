package log

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// truncMode is how a follower truncates when it starts following.
type truncMode int

const (
	byHighWatermark truncMode = iota // before 0.11 (KAFKA-1211)
	byKIP101                         // 0.11–1.1: the answer carries no epoch
	byKIP279                         // 2.0+: the answer carries the epoch
)

// maxRounds bounds the OffsetsForLeaderEpoch rounds of follow.
const maxRounds = 10

// follow makes f follow leader as a Kafka 2.6 fetcher would: truncate (by
// leader epoch or high watermark hw), then fetch until caught up. fix10706
// cleans the epoch cache after each truncation (KAFKA-10706). It returns
// the OffsetsForLeaderEpoch rounds and whether truncation completed.
func follow(t *testing.T, f, leader *Log, hw int64, mode truncMode, fix10706 bool) (rounds int, done bool) {
	t.Helper()
	rounds, done = truncateFollower(t, f, leader, hw, mode, fix10706)
	if done {
		catchUp(t, f, leader)
	}
	return rounds, done
}

// catchUp fetches from leader into f until f reaches the leader's LEO.
func catchUp(t *testing.T, f, leader *Log) {
	t.Helper()
	for f.LogEndOffset() < leader.LogEndOffset() {
		got, err := leader.Read(f.LogEndOffset(), MaxReadRecords)
		require.NoError(t, err)
		_, _, err = f.AppendAsFollower(got)
		require.NoError(t, err)
	}
}

// truncateFollower is follow's truncation.
func truncateFollower(t *testing.T, f, leader *Log, hw int64, mode truncMode, fix10706 bool) (rounds int, done bool) {
	t.Helper()
	truncateTo := func(off int64) {
		if off < f.LogStartOffset() {
			f.TruncateFully(off)
			return
		}
		f.TruncateTo(off)
		if fix10706 {
			f.TruncateEpochsFromEnd(off)
		}
	}
	if mode == byHighWatermark || f.LatestEpoch() == UndefinedEpoch {
		truncateTo(min(hw, f.LogEndOffset()))
		done = true
	}
	for !done && rounds < maxRounds {
		rounds++
		epoch, end := leader.EndOffsetForEpoch(f.LatestEpoch())
		if mode == byKIP101 {
			epoch = UndefinedEpoch // version 0 of the response
		}
		var off int64
		off, done = f.TruncationOffset(epoch, end, hw)
		truncateTo(off)
	}
	return rounds, done
}

// divergence returns the first offset where a and b hold different
// records, or -1 if one is a prefix of the other.
func divergence(a, b *Log) int64 {
	for off := max(a.LogStartOffset(), b.LogStartOffset()); off < min(a.LogEndOffset(), b.LogEndOffset()); off++ {
		ra, _ := a.Read(off, 1)
		rb, _ := b.Read(off, 1)
		if ra[0] != rb[0] {
			return off
		}
	}
	return -1
}

// restart is a crash and recovery from everything the log wrote.
func restart(t *testing.T, l *Log) *Log {
	t.Helper()
	r, info, err := Recover(l.File())
	require.NoError(t, err)
	require.Empty(t, info.Problem)
	return r
}

func keys(l *Log) string {
	got, _ := l.Read(l.LogStartOffset(), MaxReadRecords)
	s := ""
	for _, r := range got {
		s += fmt.Sprintf("%d:e%d/k%d ", r.Offset, r.LeaderEpoch, r.Key)
	}
	return s
}

// KIP-101 scenario 1, "high watermark truncation followed by immediate
// leader election": B has m1 and m2 but a high watermark of 1 when it
// restarts. Truncating to it loses m2, which A acknowledged, once A dies
// and B leads. By leader epoch, A says epoch 0 ends at 2 and B keeps m2.
func TestKIP101Scenario1HighWatermarkTruncationLosesAcknowledgedData(t *testing.T) {
	for _, tc := range []struct {
		mode    truncMode
		wantLEO int64
	}{
		{byHighWatermark, 1},
		{byKIP101, 2},
		{byKIP279, 2},
	} {
		a, b := New(), New()
		a.AssignEpoch(0, 0)
		a.AppendAsLeader(0, entries(1, 2)) // m1, m2
		got, _ := a.Read(0, 2)
		_, _, err := b.AppendAsFollower(got)
		require.NoError(t, err)
		b = restart(t, b)
		// B truncates, and A dies before B fetches again.
		_, done := truncateFollower(t, b, a, 1, tc.mode, false)
		require.True(t, done)
		// A dies; B leads epoch 1.
		b.AssignEpoch(1, b.LogEndOffset())
		assert.Equal(t, tc.wantLEO, b.LogEndOffset(), "mode %d: B's log as new leader: %s", tc.mode, keys(b))
	}
}

// KIP-101 scenario 2, "replica divergence on restart after multiple hard
// failures": A has m1, m2 (m2 committed by A alone), B has m1. Both lose
// power; B comes back first, leads epoch 1 and takes m3 at offset 1. A
// comes back as follower. Truncating to its high watermark (2) keeps m2
// where B has m3: the logs diverge for ever. By leader epoch, B says epoch
// 0 ended at 1, A drops m2 and fetches m3.
func TestKIP101Scenario2ReplicaDivergenceAfterMultipleHardFailures(t *testing.T) {
	for _, tc := range []struct {
		mode           truncMode
		wantDivergence int64
	}{
		{byHighWatermark, 1},
		{byKIP101, -1},
		{byKIP279, -1},
	} {
		a, b := New(), New()
		a.AssignEpoch(0, 0)
		a.AppendAsLeader(0, entries(1, 2))
		got, _ := a.Read(0, 1)
		_, _, err := b.AppendAsFollower(got)
		require.NoError(t, err)
		a, b = restart(t, a), restart(t, b)
		b.AssignEpoch(1, b.LogEndOffset())
		b.AppendAsLeader(1, entries(3))
		_, done := follow(t, a, b, 2, tc.mode, false)
		require.True(t, done)
		assert.Equal(t, tc.wantDivergence, divergence(a, b), "mode %d: A %s, B %s", tc.mode, keys(a), keys(b))
		assert.Equal(t, b.LogEndOffset(), a.LogEndOffset())
	}
}

// KAFKA-6361 (fixed by KIP-279): A has epoch 1 up to offset 4, B only to
// 2; B leads epoch 2 and writes 2..4, dies; A leads epoch 3 from 4. B
// asks A about epoch 2, which A never had. A version 0 answer is the start
// of A's next epoch, 4, and B keeps its epoch-2 records 2 and 3 where A
// has epoch 1's. With the epoch in the answer (1, 4), B truncates to the
// end of its own epoch 1, 2.
func TestKIP279FastLeaderFailoverDivergence(t *testing.T) {
	for _, tc := range []struct {
		mode           truncMode
		wantDivergence int64
	}{
		{byKIP101, 2},
		{byKIP279, -1},
	} {
		a, b := New(), New()
		_, _, err := a.AppendAsFollower(recs(t, "0:1:1 1:1:2 2:1:3 3:1:4"))
		require.NoError(t, err)
		_, _, err = b.AppendAsFollower(recs(t, "0:1:1 1:1:2"))
		require.NoError(t, err)
		b.AssignEpoch(2, 2)
		b.AppendAsLeader(2, entries(20, 21, 22))
		a.AssignEpoch(3, 4)
		a.AppendAsLeader(3, entries(30, 31))
		rounds, done := follow(t, b, a, 2, tc.mode, false)
		require.True(t, done)
		assert.Equal(t, 1, rounds)
		assert.Equal(t, tc.wantDivergence, divergence(a, b), "mode %d: A %s, B %s", tc.mode, keys(a), keys(b))
	}
}

// KIP-279's second round: the follower lacks the epoch the leader answers
// with, truncates to the end of its own largest epoch below it, and asks
// again.
func TestKIP279FollowerAsksAgainWhenItLacksTheAnsweredEpoch(t *testing.T) {
	leader, f := New(), New()
	_, _, err := leader.AppendAsFollower(recs(t, "0:1:1 1:1:2 2:3:3 3:3:4 4:3:5 5:3:6 6:5:7 7:5:8"))
	require.NoError(t, err)
	_, _, err = f.AppendAsFollower(recs(t, "0:1:1 1:1:2 2:2:9 3:2:9 4:4:9 5:4:9"))
	require.NoError(t, err)

	epoch, end := leader.EndOffsetForEpoch(f.LatestEpoch())
	assert.Equal(t, []any{int32(3), int64(6)}, []any{epoch, end})
	off, done := f.TruncationOffset(epoch, end, 0)
	assert.Equal(t, []any{int64(4), false}, []any{off, done}, "truncate to the end of epoch 2, then ask again")

	rounds, done := follow(t, f, leader, 0, byKIP279, false)
	require.True(t, done)
	assert.Equal(t, 2, rounds)
	assert.Equal(t, int64(-1), divergence(f, leader))
	assert.Equal(t, leader.LogEndOffset(), f.LogEndOffset())
}

// KAFKA-10706: F led epoch 3 without writing (its cache has 3@10 at its
// LEO), then follows L, which has epoch 2 from 10 and epoch 4 from 15. L
// answers epoch 3 with (2, 15); F lacks epoch 2 and truncates to the end
// of its epoch 1, 10, its LEO, which in Kafka 2.6 leaves the cache alone:
// the next round asks the same. With the fix the cache loses 3@10 and the
// second round completes.
func TestKAFKA10706EmptyEpochAtTheLogEndRepeatsTheRound(t *testing.T) {
	for _, fix := range []bool{false, true} {
		f, leader := New(), New()
		ten := "0:1:1 1:1:1 2:1:1 3:1:1 4:1:1 5:1:1 6:1:1 7:1:1 8:1:1 9:1:1"
		_, _, err := f.AppendAsFollower(recs(t, ten))
		require.NoError(t, err)
		f.AssignEpoch(3, 10)
		_, _, err = leader.AppendAsFollower(recs(t, ten+" 10:2:2 11:2:2 12:2:2 13:2:2 14:2:2 15:4:4 16:4:4"))
		require.NoError(t, err)
		rounds, done := follow(t, f, leader, 0, byKIP279, fix)
		if !fix {
			assert.False(t, done, "Kafka 2.6 repeats the round")
			assert.Equal(t, maxRounds, rounds)
			continue
		}
		require.True(t, done)
		assert.Equal(t, 2, rounds)
		assert.Equal(t, int64(-1), divergence(f, leader))
		assert.Equal(t, leader.LogEndOffset(), f.LogEndOffset())
	}
}

// Broker-crash seed 362, orders-3: B led epochs 0 and 1 and A copied them;
// a power loss took B's whole log (nothing synced) while the controller
// never saw B leave, so B led epoch 1 again from offset 0 and took other
// records there, then epoch 2 (an ISR shrink) from 2. A leads epoch 3; B
// asks about epoch 2, A answers (1, 5), and B's epoch 1 ends at its LEO,
// 2: KIP-101 sees no divergence (both logs have epoch 1 at offsets 0
// and 1), B keeps its own records 0 and 1 and fetches A's from 2, whose
// epoch 0 is below its latest. Kafka 2.6 appends them with a warning; so
// does Log, and a restart recovers the same log.
func TestPowerLossLeaderOfTheSameEpochDivergesUnseen(t *testing.T) {
	for _, fix := range []bool{false, true} {
		a := New()
		_, _, err := a.AppendAsFollower(recs(t, "0:0:1 1:0:2 2:0:3 3:1:4 4:1:5"))
		require.NoError(t, err)
		b := restart(t, New()) // nothing of B's log survived
		b.AssignEpoch(1, 0)
		b.AppendAsLeader(1, entries(10, 11))
		b.AssignEpoch(2, 2)
		a.AssignEpoch(3, 5)

		epoch, end := a.EndOffsetForEpoch(b.LatestEpoch())
		assert.Equal(t, []any{int32(1), int64(5)}, []any{epoch, end})
		rounds, done := truncateFollower(t, b, a, 0, byKIP279, fix)
		require.True(t, done)
		assert.Equal(t, 1, rounds)
		assert.Equal(t, int64(2), b.LogEndOffset(), "nothing truncated")

		got, err := a.Read(b.LogEndOffset(), MaxReadRecords)
		require.NoError(t, err)
		_, warnings, err := b.AppendAsFollower(got)
		require.NoError(t, err, "fix %v", fix)
		latest := ee(2, 2)
		if fix {
			latest = ee(1, 0) // KAFKA-10706: the empty epoch 2 went with the truncation to 2
		}
		assert.Equal(t, []OutOfOrderEpoch{{Assigned: ee(0, 2), Latest: latest}}, warnings)
		assert.Equal(t, int64(0), divergence(a, b), "A %s, B %s", keys(a), keys(b))
		assert.Equal(t, "start=0 leo=5 rp=0 epochs=[0@2 1@3] recs=[0:e1/k10 1:e1/k11 2:e0/k3 3:e1/k4 4:e1/k5]", describe(b))
		assert.Equal(t, describe(b)[len("start=0 leo=5 rp=0"):], describe(restart(t, b))[len("start=0 leo=5 rp=5"):])
	}
}

func TestTruncationOffsetCases(t *testing.T) {
	f := New()
	_, _, err := f.AppendAsFollower(recs(t, "0:1:1 1:1:1 2:3:1 3:3:1 4:3:1"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name             string
		epoch            int32
		end, fetchOffset int64
		want             int64
		done             bool
	}{
		{"the leader knows no epoch: the fetch offset", UndefinedEpoch, UndefinedEpochOffset, 2, 2, true},
		{"version 0 answer: the leader's end offset", UndefinedEpoch, 3, 0, 3, true},
		{"version 0 answer past the LEO: the LEO", UndefinedEpoch, 9, 0, 5, true},
		{"same epoch, leader ends first", 3, 4, 0, 4, true},
		{"same epoch, follower ends first", 1, 4, 0, 2, true},
		{"same latest epoch, past the LEO", 3, 9, 0, 5, true},
		{"an epoch the follower lacks: its own end, ask again", 2, 4, 0, 2, false},
		{"an epoch below all the follower's: its first epoch's start", 0, 1, 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			off, done := f.TruncationOffset(tc.epoch, tc.end, tc.fetchOffset)
			assert.Equal(t, tc.want, off)
			assert.Equal(t, tc.done, done)
		})
	}
	t.Run("a follower with no epochs: the leader's end", func(t *testing.T) {
		e := New()
		e.TruncateFully(3)
		off, done := e.TruncationOffset(2, 1, 0)
		assert.Equal(t, int64(1), off)
		assert.True(t, done)
	})
}
