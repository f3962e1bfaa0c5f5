package log

import (
	"fmt"
	"sort"
)

// Undefined values of OffsetsForLeaderEpoch (Kafka 2.6 `EpochEndOffset`).
const (
	// UndefinedEpoch is UNDEFINED_EPOCH: no epoch known.
	UndefinedEpoch int32 = -1
	// UndefinedEpochOffset is UNDEFINED_EPOCH_OFFSET: no end offset known.
	UndefinedEpochOffset int64 = -1
)

// EpochEntry says that leader epoch Epoch began at offset StartOffset
// (Kafka 2.6 `EpochEntry`).
type EpochEntry struct {
	// Epoch is the leader epoch.
	Epoch int32
	// StartOffset is the offset of the epoch's first record.
	StartOffset int64
}

// Epochs is a replica's leader epoch cache (Kafka 2.6
// `LeaderEpochFileCache`, KIP-101): for each leader epoch the replica's log
// saw, the offset of its first record. Entries grow strictly in both epoch
// and start offset. The zero value is empty and ready to use.
//
// Unlike Kafka's cache, Epochs does not hold the log end offset; methods that
// need it take it as an argument. It does not write its checkpoint either:
// the Log reports changes (Log.TakeEpochCheckpoint).
type Epochs struct {
	entries []EpochEntry
}

// Len is the number of entries.
func (e *Epochs) Len() int { return len(e.entries) }

// Entries returns the entries, oldest first. The slice is the cache's own:
// the caller must not modify it, and it is valid until the next change.
func (e *Epochs) Entries() []EpochEntry { return e.entries }

// Latest returns the newest entry, if any (Kafka `latestEpoch`).
func (e *Epochs) Latest() (EpochEntry, bool) {
	if len(e.entries) == 0 {
		return EpochEntry{}, false
	}
	return e.entries[len(e.entries)-1], true
}

// LatestEpoch returns the newest epoch, or UndefinedEpoch when empty.
func (e *Epochs) LatestEpoch() int32 {
	if l, ok := e.Latest(); ok {
		return l.Epoch
	}
	return UndefinedEpoch
}

// OutOfOrderEpoch is an epoch assignment below the cache's latest entry, in
// epoch or in start offset. Kafka 2.6 `LeaderEpochFileCache` logs a warning
// for it (`validateAndMaybeWarn`: "This implies messages have arrived out of
// order") and assigns it anyway, dropping the entries it conflicts with
// (`truncateAndAppend`; see Assign). A follower meets it when its log and
// the leader's diverged where KIP-101 cannot see it: after a power loss
// took a replica's unsynced log, it led again in an epoch it had led
// before, with other records at the same offsets.
type OutOfOrderEpoch struct {
	// Assigned is the entry assigned.
	Assigned EpochEntry
	// Latest is the cache's latest entry before the assignment.
	Latest EpochEntry
}

// outOfOrder reports whether assigning epoch at startOffset goes below the
// latest entry, as Kafka 2.6 `validateAndMaybeWarn` checks.
func (e *Epochs) outOfOrder(epoch int32, startOffset int64) (OutOfOrderEpoch, bool) {
	l, ok := e.Latest()
	if !ok || (epoch >= l.Epoch && startOffset >= l.StartOffset) {
		return OutOfOrderEpoch{}, false
	}
	return OutOfOrderEpoch{Assigned: EpochEntry{Epoch: epoch, StartOffset: startOffset}, Latest: l}, true
}

// Assign records that epoch began at startOffset, as Kafka 2.6
// `LeaderEpochFileCache.assign` does: nothing changes if epoch is already the
// latest and startOffset is not below its start; otherwise every entry not
// strictly below the new one in both epoch and start offset is removed
// (Kafka logs a warning for that: messages arrived out of order) and the new
// one appended. It reports whether the cache changed. A negative epoch is a
// programmer error and panics (Kafka throws IllegalArgumentException).
func (e *Epochs) Assign(epoch int32, startOffset int64) bool {
	if epoch < 0 {
		panic(fmt.Sprintf("log: assign of negative leader epoch %d at offset %d", epoch, startOffset))
	}
	if startOffset < 0 {
		panic(fmt.Sprintf("log: assign of leader epoch %d at negative offset %d", epoch, startOffset))
	}
	if l, ok := e.Latest(); ok && l.Epoch == epoch && startOffset >= l.StartOffset {
		return false
	}
	// Entries are sorted on both fields, so the retained ones are a prefix.
	keep := 0
	for keep < len(e.entries) && e.entries[keep].Epoch < epoch && e.entries[keep].StartOffset < startOffset {
		keep++
	}
	e.entries = append(e.entries[:keep], EpochEntry{Epoch: epoch, StartOffset: startOffset})
	return true
}

// EndOffsetFor answers OffsetsForLeaderEpoch for requested on a log ending at
// logEndOffset, as Kafka 2.6 `LeaderEpochFileCache.endOffsetFor` does
// (KIP-279): the largest epoch at most requested and its end offset, the
// start of the next larger epoch or logEndOffset for the latest epoch. A
// requested epoch below every entry gets itself back with the first entry's
// start; UndefinedEpoch, an empty cache or an epoch above the latest get
// (UndefinedEpoch, UndefinedEpochOffset).
func (e *Epochs) EndOffsetFor(requested int32, logEndOffset int64) (epoch int32, endOffset int64) {
	if requested == UndefinedEpoch || len(e.entries) == 0 {
		return UndefinedEpoch, UndefinedEpochOffset
	}
	if e.LatestEpoch() == requested {
		return requested, logEndOffset
	}
	// The first entry with a larger epoch.
	i := sort.Search(len(e.entries), func(i int) bool { return e.entries[i].Epoch > requested })
	switch {
	case i == len(e.entries):
		// Above the latest: Kafka says this should never be hit.
		return UndefinedEpoch, UndefinedEpochOffset
	case i == 0:
		// Below every entry: the data before it is gone, so the follower
		// should start from the first known epoch's start.
		return requested, e.entries[0].StartOffset
	}
	return e.entries[i-1].Epoch, e.entries[i].StartOffset
}

// TruncateFromEnd removes every entry starting at or after endOffset
// (Kafka 2.6 `truncateFromEnd`; a negative endOffset does nothing). It
// reports whether the cache changed.
func (e *Epochs) TruncateFromEnd(endOffset int64) bool {
	if endOffset < 0 || len(e.entries) == 0 || e.entries[len(e.entries)-1].StartOffset < endOffset {
		return false
	}
	i := 0
	for i < len(e.entries) && e.entries[i].StartOffset < endOffset {
		i++
	}
	e.entries = e.entries[:i]
	return true
}

// TruncateFromStart drops the entries wholly before startOffset (Kafka 2.6
// `truncateFromStart`): the last entry starting at or before startOffset is
// kept with its start moved to startOffset, the ones before it go. It
// reports whether the cache changed.
func (e *Epochs) TruncateFromStart(startOffset int64) bool {
	i := 0 // entries[:i] start at or before startOffset
	for i < len(e.entries) && e.entries[i].StartOffset <= startOffset {
		i++
	}
	if i == 0 {
		return false
	}
	first := EpochEntry{Epoch: e.entries[i-1].Epoch, StartOffset: startOffset}
	if i == 1 && e.entries[0] == first {
		return false
	}
	e.entries = append(e.entries[:0], e.entries[i-1:]...)
	e.entries[0] = first
	return true
}

// Clear removes every entry (Kafka `clearAndFlush`). It reports whether the
// cache changed.
func (e *Epochs) Clear() bool {
	if len(e.entries) == 0 {
		return false
	}
	e.entries = nil
	return true
}
