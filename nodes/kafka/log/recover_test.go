package log

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// threeRecords is a file of three records in epochs 1, 1 and 2, starting
// at offset 5.
func threeRecords(t *testing.T) (*Log, []byte) {
	l := New()
	var file []byte
	file = append(file, l.TruncateFully(5)...)
	l.AssignEpoch(1, 5)
	_, _, d := l.AppendAsLeader(1, entries(1, 2))
	file = append(file, d...)
	_, _, d = l.AppendAsLeader(2, entries(3))
	file = append(file, d...)
	require.Equal(t, l.File(), file, "the appended bytes are the file image")
	return l, file
}

// TestRecoverEveryCutOfAThreeRecordFile: a crash can keep any prefix of
// the file past its header; recovery keeps the whole records and drops a
// torn one.
func TestRecoverEveryCutOfAThreeRecordFile(t *testing.T) {
	orig, file := threeRecords(t)
	require.Equal(t, HeaderSize+3*RecordSize, len(file))
	for cut := HeaderSize; cut <= len(file); cut++ {
		l, info, err := Recover(file[:cut])
		require.NoError(t, err, "cut %d", cut)
		whole := (cut - HeaderSize) / RecordSize
		torn := (cut-HeaderSize)%RecordSize != 0
		assert.Equal(t, HeaderSize+whole*RecordSize, info.ValidSize, "cut %d", cut)
		assert.Equal(t, cut-info.ValidSize, info.DroppedBytes, "cut %d", cut)
		assert.Equal(t, map[bool]int{false: 0, true: 1}[torn], info.DroppedRecords, "cut %d", cut)
		assert.Equal(t, torn, info.Problem != "", "cut %d: %q", cut, info.Problem)
		assert.Equal(t, int64(5), l.LogStartOffset())
		assert.Equal(t, int64(5+whole), l.LogEndOffset(), "cut %d", cut)
		assert.Equal(t, l.LogEndOffset(), l.RecoveryPoint())
		want, _ := orig.Read(5, MaxReadRecords)
		got, _ := l.Read(5, MaxReadRecords)
		assert.Equal(t, want[:whole], got, "cut %d", cut)
		assert.Equal(t, file[:info.ValidSize], l.File(), "cut %d", cut)
		wantEpochs := [][]EpochEntry{{}, {ee(1, 5)}, {ee(1, 5)}, {ee(1, 5), ee(2, 7)}}[whole]
		assert.Equal(t, wantEpochs, append([]EpochEntry{}, l.Epochs().Entries()...), "cut %d", cut)
	}
	_, info, _ := Recover(file[:HeaderSize+RecordSize+20])
	assert.Equal(t, "torn record at byte 60: 20 of 44 bytes", info.Problem)
}

func TestRecoverDropsEverythingFromTheFirstInvalidRecord(t *testing.T) {
	_, file := threeRecords(t)
	second := HeaderSize + RecordSize
	// A record with a good CRC that does not belong: built by encoding.
	encoded := func(r Record) []byte {
		b := make([]byte, RecordSize)
		putRecord(b, &r)
		return b
	}
	for _, tc := range []struct {
		name        string
		data        []byte
		keep        int
		wantProblem string
	}{
		{"a zero-filled tail", append(bytes.Clone(file), make([]byte, 100)...), 3, "record at byte 148: CRC-32C 00000000, computed "},
		{"a flipped bit in the second record", func() []byte {
			b := bytes.Clone(file)
			b[second+30] ^= 0x04
			return b
		}(), 1, "record at byte 60: CRC-32C "},
		{"the last record again (a replayed append)", append(bytes.Clone(file), file[len(file)-RecordSize:]...), 3, "record at byte 148 has offset 7, want 8"},
		{"an offset gap", append(bytes.Clone(file), encoded(Record{Offset: 9, LeaderEpoch: 2})...), 3, "record at byte 148 has offset 9, want 8"},
		{"a negative epoch", append(bytes.Clone(file), encoded(Record{Offset: 8, LeaderEpoch: -3})...), 3, "record at offset 8 has negative leader epoch -3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, info, err := Recover(tc.data)
			require.NoError(t, err)
			assert.Equal(t, tc.keep, l.Len())
			assert.Equal(t, HeaderSize+tc.keep*RecordSize, info.ValidSize)
			assert.Equal(t, len(tc.data)-info.ValidSize, info.DroppedBytes)
			assert.Equal(t, (info.DroppedBytes+RecordSize-1)/RecordSize, info.DroppedRecords)
			assert.Contains(t, info.Problem, tc.wantProblem)
		})
	}
}

// A leader epoch going back is not corruption (Kafka 2.6 LogSegment.recover
// checks CRCs and offsets only): Recover keeps the records, and its cache
// is the one the live log built.
func TestRecoverKeepsLeaderEpochsGoingBack(t *testing.T) {
	l := New()
	_, warnings, err := l.AppendAsFollower(recs(t, "0:1:1 1:1:2 2:0:3 3:0:4 4:1:5 5:2:6"))
	require.NoError(t, err)
	require.Len(t, warnings, 1)
	l.MarkFlushed(l.LogEndOffset())
	r, info, err := Recover(l.File())
	require.NoError(t, err)
	assert.Empty(t, info.Problem)
	assert.Equal(t, len(l.File()), info.ValidSize)
	assert.Equal(t, "start=0 leo=6 rp=6 epochs=[0@2 1@4 2@5] recs=[0:e1/k1 1:e1/k2 2:e0/k3 3:e0/k4 4:e1/k5 5:e2/k6]", describe(r))
	assert.Equal(t, describe(l), describe(r))
}

func TestRecoverRejectsABadHeader(t *testing.T) {
	good := New().File()
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 1; return b }
	negative := make([]byte, HeaderSize)
	putHeader(negative, -4)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "log: file of 0 bytes is shorter than its 16-byte header"},
		{"short", good[:10], "log: file of 10 bytes is shorter than its 16-byte header"},
		{"bad magic", flip(0), "log: file header magic 4a5a4c31, want 4b5a4c31"},
		{"bad start", flip(11), "log: file header CRC-32C "},
		{"negative start", negative, "log: file header log start offset -4 is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Recover(tc.data)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestRecoveredLogAppendsAfterItsValidPrefix(t *testing.T) {
	_, file := threeRecords(t)
	l, info, err := Recover(file[:len(file)-3])
	require.NoError(t, err)
	kept := file[:info.ValidSize] // the broker's Disk.Truncate(info.ValidSize)
	data, _, err := l.AppendAsFollower([]Record{{Offset: 7, LeaderEpoch: 4, Key: 9}})
	require.NoError(t, err)
	assert.Equal(t, append(bytes.Clone(kept), data...), l.File())
	assert.Equal(t, []EpochEntry{ee(1, 5), ee(4, 7)}, l.Epochs().Entries())
	ckpt, changed := l.TakeEpochCheckpoint()
	assert.True(t, changed)
	assert.Equal(t, "0\n2\n1 5\n4 7\n", string(ckpt))
}
