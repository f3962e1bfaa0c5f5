package log

import (
	"errors"
	"fmt"
)

// Limits.
const (
	// MaxReadRecords is the most records one Read returns, and the most
	// one append takes: a fetch response or a produce batch (Kafka bounds
	// them in bytes, replica.fetch.max.bytes and message.max.bytes).
	MaxReadRecords = 1000
	// MaxRecords is the most records one log holds (Kafka has no such
	// limit; it deletes old segments by retention, which is not modelled).
	// At 40 bytes a record that is 640 MiB in memory; the broker checks
	// Len before appending.
	MaxRecords = 1 << 24
)

// ErrOffsetOutOfRange is wrapped by Read's error for an offset outside
// [LogStartOffset, LogEndOffset] (Kafka's OFFSET_OUT_OF_RANGE).
var ErrOffsetOutOfRange = errors.New("offset out of range")

// Log is one partition replica's log (Kafka 2.6 `kafka.log.Log` with a
// single segment): the records from LogStartOffset to LogEndOffset, the
// leader epoch cache, and the recovery point.
//
// Records, once appended, are never rewritten in place: truncation clips
// the slice's capacity so that the next append reallocates. So a slice that
// Read returned stays valid and unchanged for ever, even if it is held in a
// message in flight while the log is truncated.
//
// The zero Log is not valid; use New or Recover.
type Log struct {
	records       []Record // records[i].Offset == start+i
	start         int64    // log start offset
	recoveryPoint int64    // offsets below are known to be on disk
	epochs        Epochs
	epochsChanged bool // since the last TakeEpochCheckpoint
	// producers is the idempotent producers' state (Kafka 2.6
	// `ProducerStateManager`), nil until a record has a producer id.
	producers map[int64]*producerEntry
}

// New returns an empty log starting at offset 0. Its file is File(), which
// the broker writes (Disk.Write) when it creates the replica.
func New() *Log { return &Log{} }

// LogStartOffset is the offset of the first record the log holds, or would
// hold if it is empty.
func (l *Log) LogStartOffset() int64 { return l.start }

// LogEndOffset is the log end offset (LEO): the offset the next record gets.
func (l *Log) LogEndOffset() int64 { return l.start + int64(len(l.records)) }

// Len is the number of records held.
func (l *Log) Len() int { return len(l.records) }

// LastRecord returns the last record, if any.
func (l *Log) LastRecord() (Record, bool) {
	if len(l.records) == 0 {
		return Record{}, false
	}
	return l.records[len(l.records)-1], true
}

// FileSize is the size in bytes of the log's file as the log knows it.
func (l *Log) FileSize() int { return HeaderSize + len(l.records)*RecordSize }

// File returns the whole file image: the header and every record. The
// broker writes it (Disk.Write) for a new replica; tests compare it.
func (l *Log) File() []byte {
	b := make([]byte, l.FileSize())
	putHeader(b, l.start)
	for i := range l.records {
		putRecord(b[HeaderSize+i*RecordSize:], &l.records[i])
	}
	return b
}

// RecoveryPoint is the offset below which the log is known to be on disk
// (Kafka's recoveryPoint, written to recovery-point-offset-checkpoint).
func (l *Log) RecoveryPoint() int64 { return l.recoveryPoint }

// MarkFlushed records that a sync covering the log up to offset upTo has
// completed (Kafka `Log.flush` moving the recovery point). The broker calls
// it with the LEO it had when it asked for the sync; a truncation since then
// may have moved the LEO below, so upTo is clamped to the LEO. The recovery
// point never moves back here. Simplified: records truncated and appended
// again after the sync was asked for and before it completed count as
// flushed; Kafka's flush is synchronous and has no such window. Recover
// does not trust the recovery point (it checks every record), so only the
// recovery-point-offset-checkpoint shows it.
func (l *Log) MarkFlushed(upTo int64) {
	upTo = min(upTo, l.LogEndOffset())
	l.recoveryPoint = max(l.recoveryPoint, upTo)
}

// checkRoom panics if n more records would not fit.
func (l *Log) checkRoom(n int) {
	if n > MaxReadRecords {
		panic(fmt.Sprintf("log: append of %d records, more than MaxReadRecords (%d)", n, MaxReadRecords))
	}
	if len(l.records)+n > MaxRecords {
		panic(fmt.Sprintf("log: append of %d records to a log of %d would pass MaxRecords (%d)", n, len(l.records), MaxRecords))
	}
}

// AppendAsLeader appends entries as the leader of leaderEpoch (Kafka 2.6
// `Log.appendAsLeader`): offsets are assigned from the LEO, each record is
// stamped with leaderEpoch, and the epoch cache learns leaderEpoch's start
// if it did not know it. It returns the first and last offsets assigned and
// the bytes the broker appends to the log's file (Disk.Append).
//
// Programmer errors panic: no entries, more than MaxReadRecords, a full log
// (see MaxRecords), or a leaderEpoch below the latest epoch known (leader
// epochs only grow; a broker must reject stale requests before this).
func (l *Log) AppendAsLeader(leaderEpoch int32, entries []Entry) (first, last int64, data []byte) {
	if len(entries) == 0 {
		panic("log: leader append of no entries")
	}
	l.checkRoom(len(entries))
	if latest := l.epochs.LatestEpoch(); leaderEpoch < latest {
		panic(fmt.Sprintf("log: leader append with leader epoch %d below the latest epoch %d", leaderEpoch, latest))
	}
	if leaderEpoch < 0 {
		panic(fmt.Sprintf("log: leader append with negative leader epoch %d", leaderEpoch))
	}
	first = l.LogEndOffset()
	data = make([]byte, len(entries)*RecordSize)
	for i, e := range entries {
		r := Record{
			Offset:      first + int64(i),
			LeaderEpoch: leaderEpoch,
			ProducerID:  e.ProducerID,
			Sequence:    e.Sequence,
			Key:         e.Key,
			Value:       e.Value,
		}
		putRecord(data[i*RecordSize:], &r)
		l.records = append(l.records, r)
		l.observe(&l.records[len(l.records)-1])
	}
	// Kafka 2.6 Log.append: maybeAssignEpochStartOffset per batch.
	if l.epochs.Assign(leaderEpoch, first) {
		l.epochsChanged = true
	}
	return first, first + int64(len(entries)) - 1, data
}

// AppendAsFollower appends records the leader sent (Kafka 2.6
// `Log.appendAsFollower`): they must start at the LEO and have consecutive
// offsets and leader epochs that are not negative. The epoch cache learns
// each new epoch's start. It returns the bytes the broker appends to the
// log's file (Disk.Append), nil for no records, and the epoch assignments
// that went below the cache's latest entry, oldest first. A bad batch is
// rejected whole with a one-line error and the log is unchanged.
//
// As in Kafka 2.6, the leader epochs need not grow: `Log.append` checks
// offsets, not epochs, and `LeaderEpochFileCache.assign` takes an epoch
// below its latest with a warning, dropping the entries it conflicts with
// (see OutOfOrderEpoch for how a follower gets there).
func (l *Log) AppendAsFollower(recs []Record) (data []byte, outOfOrder []OutOfOrderEpoch, err error) {
	if len(recs) == 0 {
		return nil, nil, nil
	}
	if len(recs) > MaxReadRecords {
		return nil, nil, fmt.Errorf("log: follower append of %d records, more than MaxReadRecords (%d)", len(recs), MaxReadRecords)
	}
	if len(l.records)+len(recs) > MaxRecords {
		return nil, nil, fmt.Errorf("log: follower append of %d records to a log of %d would pass MaxRecords (%d)", len(recs), len(l.records), MaxRecords)
	}
	leo := l.LogEndOffset()
	if recs[0].Offset != leo {
		// Kafka: UnexpectedAppendOffsetException.
		return nil, nil, fmt.Errorf("log: follower append starts at offset %d, want the log end offset %d", recs[0].Offset, leo)
	}
	for i := range recs {
		r := &recs[i]
		if r.Offset != leo+int64(i) {
			// Kafka: OffsetsOutOfOrderException.
			return nil, nil, fmt.Errorf("log: follower append record %d has offset %d, want %d", i, r.Offset, leo+int64(i))
		}
		if r.LeaderEpoch < 0 {
			// Kafka: IllegalArgumentException from LeaderEpochFileCache.assign.
			return nil, nil, fmt.Errorf("log: follower append record at offset %d has negative leader epoch %d", r.Offset, r.LeaderEpoch)
		}
	}
	data = make([]byte, len(recs)*RecordSize)
	for i := range recs {
		putRecord(data[i*RecordSize:], &recs[i])
	}
	l.records = append(l.records, recs...)
	// Kafka 2.6 Log.append with origin Replication: the producer state
	// learns the batches, unchecked.
	for i := len(l.records) - len(recs); i < len(l.records); i++ {
		l.observe(&l.records[i])
	}
	// Kafka 2.6 Log.append assigns per batch; here per change of epoch.
	cur := l.epochs.LatestEpoch()
	for i := range recs {
		if recs[i].LeaderEpoch != cur || i == 0 {
			cur = recs[i].LeaderEpoch
			if w, ok := l.epochs.outOfOrder(cur, recs[i].Offset); ok {
				outOfOrder = append(outOfOrder, w)
			}
			if l.epochs.Assign(cur, recs[i].Offset) {
				l.epochsChanged = true
			}
		}
	}
	return data, outOfOrder, nil
}

// Read returns up to maxRecords records from offset from (Kafka 2.6
// `Log.read` at FetchLogEnd isolation; the broker bounds reads by the high
// watermark itself). from == LogEndOffset gives no records; from outside
// [LogStartOffset, LogEndOffset] gives an error wrapping
// ErrOffsetOutOfRange. The slice shares the log's memory: the caller must
// not modify it; the log never will (see Log). maxRecords outside
// [1, MaxReadRecords] is a programmer error and panics.
func (l *Log) Read(from int64, maxRecords int) ([]Record, error) {
	if maxRecords < 1 || maxRecords > MaxReadRecords {
		panic(fmt.Sprintf("log: read of %d records, want 1 to MaxReadRecords (%d)", maxRecords, MaxReadRecords))
	}
	leo := l.LogEndOffset()
	if from < l.start || from > leo {
		return nil, fmt.Errorf("log: read at offset %d, but the log holds %d to %d: %w", from, l.start, leo, ErrOffsetOutOfRange)
	}
	i := int(from - l.start)
	j := min(len(l.records), i+maxRecords)
	return l.records[i:j:j], nil
}

// TruncateTo drops every record at or after offset (Kafka 2.6
// `Log.truncateTo`) and returns the file size the broker truncates the
// log's file to (Disk.Truncate). As in Kafka 2.6, an offset at or past the
// LEO changes nothing, not even the epoch cache (KAFKA-10706, fixed after
// 2.6, cleans the cache in that case too: see TruncateEpochsFromEnd).
// Otherwise the epoch cache loses the epochs starting at or after offset and
// the recovery point comes down to offset. An offset below LogStartOffset
// is a programmer error and panics: Kafka truncates fully there, which here
// is TruncateFully(offset).
func (l *Log) TruncateTo(offset int64) (fileSize int) {
	if offset < l.start {
		panic(fmt.Sprintf("log: truncate to offset %d below the log start offset %d (use TruncateFully)", offset, l.start))
	}
	if offset >= l.LogEndOffset() {
		return l.FileSize()
	}
	n := int(offset - l.start)
	l.records = l.records[:n:n] // clip: the next append reallocates
	l.rebuildProducers()
	if l.epochs.TruncateFromEnd(offset) {
		l.epochsChanged = true
	}
	l.recoveryPoint = min(l.recoveryPoint, offset)
	return l.FileSize()
}

// TruncateEpochsFromEnd removes the epoch cache's entries starting at or
// after endOffset without touching the records. A broker modelling Kafka
// after KAFKA-10706 (apache/kafka#9633) calls it after every truncation by
// leader epoch, so that an epoch entry at the LEO with no records (left by
// Partition.makeLeader) cannot make the follower repeat the same
// OffsetsForLeaderEpoch round for ever; Kafka 2.6 does not. It reports
// whether the cache changed.
func (l *Log) TruncateEpochsFromEnd(endOffset int64) bool {
	if !l.epochs.TruncateFromEnd(endOffset) {
		return false
	}
	l.epochsChanged = true
	return true
}

// TruncateFully empties the log and starts it at newStart (Kafka 2.6
// `Log.truncateFullyAndStartAt`): the epoch cache is cleared and the
// recovery point comes down to newStart if it was above. It returns the new
// file image (just the header) that the broker writes over the log's file
// (Disk.Write, atomic in the disk model).
func (l *Log) TruncateFully(newStart int64) (data []byte) {
	if newStart < 0 {
		panic(fmt.Sprintf("log: truncate fully to negative offset %d", newStart))
	}
	l.records = nil
	l.start = newStart
	l.rebuildProducers()
	if l.epochs.Clear() {
		l.epochsChanged = true
	}
	l.recoveryPoint = min(l.recoveryPoint, newStart)
	return l.File()
}

// AssignEpoch records that leader epoch began at startOffset, as Kafka 2.6
// `Partition.makeLeader` does with the LEO when the broker becomes leader
// (KAFKA-7415), before any record of that epoch exists. An epoch below the
// latest known is a programmer error and panics.
func (l *Log) AssignEpoch(epoch int32, startOffset int64) {
	if latest := l.epochs.LatestEpoch(); epoch < latest {
		panic(fmt.Sprintf("log: assign of leader epoch %d below the latest epoch %d", epoch, latest))
	}
	if l.epochs.Assign(epoch, startOffset) {
		l.epochsChanged = true
	}
}

// Epochs returns the log's epoch cache for reading. The caller must not
// change it: the Log's methods keep it consistent with the records.
func (l *Log) Epochs() *Epochs { return &l.epochs }

// LatestEpoch is the latest epoch of the cache, or UndefinedEpoch (Kafka
// `Log.latestEpoch`): what a follower sends in OffsetsForLeaderEpoch.
func (l *Log) LatestEpoch() int32 { return l.epochs.LatestEpoch() }

// EndOffsetForEpoch answers OffsetsForLeaderEpoch on this log (Kafka 2.6
// `Log.endOffsetForEpoch`, `Partition.lastOffsetForLeaderEpoch`): see
// Epochs.EndOffsetFor.
func (l *Log) EndOffsetForEpoch(requested int32) (epoch int32, endOffset int64) {
	return l.epochs.EndOffsetFor(requested, l.LogEndOffset())
}

// TakeEpochCheckpoint returns the leader-epoch-checkpoint file's content if
// the epoch cache changed since the last call (and always after Recover),
// for the broker to write and sync (Kafka flushes the cache's checkpoint on
// every change, `LeaderEpochFileCache.flush`).
func (l *Log) TakeEpochCheckpoint() (data []byte, changed bool) {
	if !l.epochsChanged {
		return nil, false
	}
	l.epochsChanged = false
	return EncodeEpochs(l.epochs.entries), true
}
