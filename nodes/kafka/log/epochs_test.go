package log

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func epochsOf(es ...EpochEntry) *Epochs { return &Epochs{entries: append([]EpochEntry(nil), es...)} }

func ee(epoch int32, start int64) EpochEntry { return EpochEntry{Epoch: epoch, StartOffset: start} }

// The cases follow Kafka 2.6 LeaderEpochFileCacheTest where it has them.
func TestEpochsAssign(t *testing.T) {
	for _, tc := range []struct {
		name        string
		have        []EpochEntry
		epoch       int32
		start       int64
		want        []EpochEntry
		wantChanged bool
	}{
		{"first", nil, 2, 5, []EpochEntry{ee(2, 5)}, true},
		{"a larger epoch appends", []EpochEntry{ee(2, 5)}, 3, 9, []EpochEntry{ee(2, 5), ee(3, 9)}, true},
		{"the latest epoch again is ignored", []EpochEntry{ee(2, 5)}, 2, 9, []EpochEntry{ee(2, 5)}, false},
		{"the latest epoch at an earlier offset moves its start", []EpochEntry{ee(1, 0), ee(2, 5)}, 2, 3, []EpochEntry{ee(1, 0), ee(2, 3)}, true},
		{"a larger epoch at the same offset replaces the entry", []EpochEntry{ee(1, 0), ee(2, 5)}, 3, 5, []EpochEntry{ee(1, 0), ee(3, 5)}, true},
		{"a smaller epoch drops the conflicting entries", []EpochEntry{ee(1, 0), ee(2, 5), ee(4, 8)}, 3, 6, []EpochEntry{ee(1, 0), ee(2, 5), ee(3, 6)}, true},
		{"a larger epoch at an earlier offset drops the later entries", []EpochEntry{ee(1, 0), ee(2, 5), ee(4, 8)}, 5, 4, []EpochEntry{ee(1, 0), ee(5, 4)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := epochsOf(tc.have...)
			assert.Equal(t, tc.wantChanged, e.Assign(tc.epoch, tc.start))
			assert.Equal(t, tc.want, e.entries)
		})
	}
}

// outOfOrder is what Kafka 2.6 validateAndMaybeWarn warns about: an epoch
// or a start offset below the latest entry's.
func TestEpochsOutOfOrder(t *testing.T) {
	have := []EpochEntry{ee(1, 0), ee(3, 5)}
	for _, tc := range []struct {
		name  string
		epoch int32
		start int64
		want  bool
	}{
		{"a larger epoch later", 4, 9, false},
		{"the latest epoch later", 3, 9, false},
		{"the latest epoch at its start", 3, 5, false},
		{"a smaller epoch later", 2, 9, true},
		{"the latest epoch earlier", 3, 4, true},
		{"a larger epoch earlier", 4, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, got := epochsOf(have...).outOfOrder(tc.epoch, tc.start)
			assert.Equal(t, tc.want, got)
			if got {
				assert.Equal(t, OutOfOrderEpoch{Assigned: ee(tc.epoch, tc.start), Latest: ee(3, 5)}, w)
			}
		})
	}
	_, got := new(Epochs).outOfOrder(0, 0)
	assert.False(t, got, "an empty cache has no order to break")
}

func TestEpochsEndOffsetFor(t *testing.T) {
	cache := []EpochEntry{ee(2, 6), ee(5, 10), ee(7, 15)}
	const leo = 20
	for _, tc := range []struct {
		name      string
		have      []EpochEntry
		requested int32
		epoch     int32
		end       int64
	}{
		{"undefined requested", cache, UndefinedEpoch, UndefinedEpoch, UndefinedEpochOffset},
		{"empty cache", nil, 3, UndefinedEpoch, UndefinedEpochOffset},
		{"the latest epoch ends at the LEO", cache, 7, 7, leo},
		{"a known epoch ends where the next starts", cache, 5, 5, 15},
		{"an unknown epoch gets the largest below it (KIP-279)", cache, 4, 2, 10},
		{"an unknown epoch just below the latest", cache, 6, 5, 15},
		{"an epoch below every entry gets itself and the first start", cache, 1, 1, 6},
		{"an epoch above the latest is undefined", cache, 8, UndefinedEpoch, UndefinedEpochOffset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			epoch, end := epochsOf(tc.have...).EndOffsetFor(tc.requested, leo)
			assert.Equal(t, tc.epoch, epoch)
			assert.Equal(t, tc.end, end)
		})
	}
}

func TestEpochsTruncateFromEndAndStart(t *testing.T) {
	cache := []EpochEntry{ee(2, 6), ee(3, 8), ee(4, 11)}
	for _, tc := range []struct {
		name        string
		fromEnd     bool
		offset      int64
		want        []EpochEntry
		wantChanged bool
	}{
		{"end: past the last start does nothing", true, 12, cache, false},
		{"end: at the last start drops it", true, 11, []EpochEntry{ee(2, 6), ee(3, 8)}, true},
		{"end: inside an epoch keeps it", true, 9, []EpochEntry{ee(2, 6), ee(3, 8)}, true},
		{"end: below every start empties", true, 6, []EpochEntry{}, true},
		{"end: negative does nothing", true, -1, cache, false},
		{"start: below every start does nothing", false, 5, cache, false},
		{"start: at the first start does nothing", false, 6, cache, false},
		{"start: inside an epoch moves its start", false, 9, []EpochEntry{ee(3, 9), ee(4, 11)}, true},
		{"start: at a start drops the ones before", false, 8, []EpochEntry{ee(3, 8), ee(4, 11)}, true},
		{"start: past the last start keeps one entry", false, 30, []EpochEntry{ee(4, 30)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := epochsOf(cache...)
			var changed bool
			if tc.fromEnd {
				changed = e.TruncateFromEnd(tc.offset)
			} else {
				changed = e.TruncateFromStart(tc.offset)
			}
			assert.Equal(t, tc.wantChanged, changed)
			assert.Equal(t, tc.want, e.entries)
		})
	}
}

func TestLogTakeEpochCheckpointReportsEachChangeOnce(t *testing.T) {
	l := New()
	_, changed := l.TakeEpochCheckpoint()
	assert.False(t, changed, "a new log has nothing to checkpoint")
	l.AppendAsLeader(0, entries(1))
	data, changed := l.TakeEpochCheckpoint()
	assert.True(t, changed)
	assert.Equal(t, "0\n1\n0 0\n", string(data))
	l.AppendAsLeader(0, entries(2))
	_, changed = l.TakeEpochCheckpoint()
	assert.False(t, changed, "a second append in the same epoch changes nothing")
	l.AssignEpoch(3, 2)
	data, changed = l.TakeEpochCheckpoint()
	assert.True(t, changed)
	assert.Equal(t, "0\n2\n0 0\n3 2\n", string(data))
	l.TruncateTo(2)
	_, changed = l.TakeEpochCheckpoint()
	assert.False(t, changed, "a truncation at the LEO changes nothing in Kafka 2.6")
	assert.True(t, l.TruncateEpochsFromEnd(2))
	data, changed = l.TakeEpochCheckpoint()
	assert.True(t, changed)
	assert.Equal(t, "0\n1\n0 0\n", string(data))
	l.TruncateFully(9)
	data, changed = l.TakeEpochCheckpoint()
	assert.True(t, changed)
	assert.Equal(t, "0\n0\n", string(data))
}
