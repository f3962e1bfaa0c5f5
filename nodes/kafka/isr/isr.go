package isr

import (
	"fmt"
	"slices"

	"github.com/kzsim/kzsim/sim"
)

// UnknownOffset is the log end offset of a follower the leader has not
// heard from since it became leader (Kafka 2.6 `Log.UnknownOffset`).
const UnknownOffset int64 = -1

// NeverCaughtUp is the LastCaughtUp of a follower never known to have
// caught up. Kafka uses 0 ms since 1970, which a wall clock puts decades
// back; virtual time starts at 0, so the sentinel is far before it.
const NeverCaughtUp sim.Time = -1 << 60

// Follower is the leader's view of one follower replica (Kafka 2.6
// `Replica`).
type Follower struct {
	ID int32
	// LogEndOffset is the offset of the follower's last fetch, its LEO as
	// the leader knows it; UnknownOffset before its first fetch.
	LogEndOffset int64
	// LastCaughtUp is the last time the follower was known to have
	// reached the leader's log end.
	LastCaughtUp sim.Time
	// LastFetchLeaderLogEndOffset and LastFetch are the leader's log end
	// offset at, and the time of, the follower's previous fetch.
	LastFetchLeaderLogEndOffset int64
	LastFetch                   sim.Time
}

// BecomeLeader returns f as a leader that has just taken over at now sees
// it (Kafka 2.6 `Partition.makeLeader`, `Replica.resetLastCaughtUpTime`): a
// follower in the ISR counts as caught up now, one outside it as never
// caught up (time 0); the previous fetch is taken as now at the epoch's
// start offset. If newLeader (the broker was not leader before), its log
// end offset becomes unknown until it fetches again.
func BecomeLeader(f Follower, inISR bool, now sim.Time, epochStartOffset int64, newLeader bool) Follower {
	f.LastFetchLeaderLogEndOffset = epochStartOffset
	f.LastFetch = now
	f.LastCaughtUp = NeverCaughtUp
	if inISR {
		f.LastCaughtUp = now
	}
	if newLeader {
		f.LogEndOffset = UnknownOffset
	}
	return f
}

// Fetched returns f after a fetch at now from offset fetchOffset while the
// leader's log ends at leaderLogEndOffset (Kafka 2.6
// `Replica.updateFetchState`): a fetch that reaches the leader's log end
// makes the follower caught up now; one that reaches the log end of the
// previous fetch makes it caught up as of that previous fetch. So a follower
// that keeps up with a steady stream of writes, always one fetch behind,
// stays in sync.
func (f Follower) Fetched(fetchOffset int64, now sim.Time, leaderLogEndOffset int64) Follower {
	switch {
	case fetchOffset >= leaderLogEndOffset:
		f.LastCaughtUp = max(f.LastCaughtUp, now)
	case fetchOffset >= f.LastFetchLeaderLogEndOffset:
		f.LastCaughtUp = max(f.LastCaughtUp, f.LastFetch)
	}
	f.LogEndOffset = fetchOffset
	f.LastFetchLeaderLogEndOffset = leaderLogEndOffset
	f.LastFetch = now
	return f
}

// OutOfSync reports whether f has fallen out of sync at now (Kafka 2.6
// `Partition.isFollowerOutOfSync`): its log end differs from the leader's
// and it was last caught up more than maxLag ago
// (`replica.lag.time.max.ms`).
func (f Follower) OutOfSync(leaderLogEndOffset int64, now sim.Time, maxLag sim.Duration) bool {
	return f.LogEndOffset != leaderLogEndOffset && now.Sub(f.LastCaughtUp) > maxLag
}

// byID returns the follower with the given id from followers.
func byID(followers []Follower, id int32) (Follower, bool) {
	i := slices.IndexFunc(followers, func(f Follower) bool { return f.ID == id })
	if i < 0 {
		return Follower{}, false
	}
	return followers[i], true
}

// Shrink returns the ISR after the leader's periodic check at now (Kafka
// 2.6 `Partition.maybeShrinkIsr`, `getOutOfSyncReplicas`, run every
// maxLag/2): the members other than the leader that are out of sync leave,
// in ISR order; the leader never does. out lists those removed; when it is
// empty nothing is to be written. A member of isr other than the leader
// that is missing from followers is an error, as Kafka's
// `getReplicaOrException` raises.
func Shrink(isr []int32, leader int32, followers []Follower, leaderLogEndOffset int64, now sim.Time, maxLag sim.Duration) (next, out []int32, err error) {
	next = make([]int32, 0, len(isr))
	for _, id := range isr {
		if id == leader {
			next = append(next, id)
			continue
		}
		f, ok := byID(followers, id)
		if !ok {
			return nil, nil, fmt.Errorf("isr shrink: ISR member %d has no follower state on leader %d", id, leader)
		}
		if f.OutOfSync(leaderLogEndOffset, now, maxLag) {
			out = append(out, id)
		} else {
			next = append(next, id)
		}
	}
	return next, out, nil
}

// CanJoin reports whether f, not in the ISR, may join it after a fetch
// (Kafka 2.6 `Partition.isFollowerInSync`): its log end has reached the
// high watermark and, when checkEpochStart (Kafka 2.0.1 and 2.1.0 on,
// KAFKA-7128), the start offset of the leader's current epoch, so that a
// follower cannot join before it holds the new leader's first record of its
// epoch.
func (f Follower) CanJoin(highWatermark, epochStartOffset int64, checkEpochStart bool) bool {
	if f.LogEndOffset < highWatermark {
		return false
	}
	return !checkEpochStart || f.LogEndOffset >= epochStartOffset
}

// HighWatermark returns the leader's high watermark after a change in the
// log end offsets at now (Kafka 2.6 `Partition.maybeIncrementLeaderHW`): the
// least log end offset over the leader and every follower that is in the
// ISR or was caught up within maxLag, never below old. advanced reports
// whether it moved. A follower out of the ISR but recently caught up holds
// the watermark back, so that it can rejoin without truncation.
func HighWatermark(old, leaderLogEndOffset int64, isr []int32, followers []Follower, now sim.Time, maxLag sim.Duration) (hw int64, advanced bool) {
	hw = leaderLogEndOffset
	for _, f := range followers {
		if f.LogEndOffset < hw && (now.Sub(f.LastCaughtUp) <= maxLag || slices.Contains(isr, f.ID)) {
			hw = f.LogEndOffset
		}
	}
	if hw > old {
		return hw, true
	}
	return old, false
}
