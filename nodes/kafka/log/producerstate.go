package log

import (
	"errors"
	"fmt"
	"math"
)

// NoProducerID is the producer id of a record no idempotent producer
// wrote: the zero value, so that a plain Entry carries none. Kafka's
// RecordBatch.NO_PRODUCER_ID, -1, means none too; producer ids start at 1
// (see HasProducerID).
const NoProducerID int64 = 0

// HasProducerID says whether pid is an idempotent producer's id (Kafka 2.6
// `RecordBatch.hasProducerId` is pid > -1; here 0 is none as well).
func HasProducerID(pid int64) bool { return pid > 0 }

// Limits of the producer state.
const (
	// NumBatchesToRetain is how many batches' metadata the log keeps per
	// producer id to answer a retried batch with its original offsets
	// (Kafka 2.6 `ProducerStateEntry.NumBatchesToRetain`, KAFKA-5793),
	// matching the idempotent producer's max.in.flight.requests.per.
	// connection bound of 5.
	NumBatchesToRetain = 5
	// MaxProducers bounds the producer ids one log remembers. Simplified:
	// Kafka 2.6 expires a producer id transactional.id.expiration.ms (7
	// days) after its last write (`ProducerStateManager.
	// removeExpiredProducers`); here the id with the oldest last write is
	// forgotten when a new one would pass the bound.
	MaxProducers = 1024
)

// Errors of AnalyzeProducer, which the broker answers with Kafka's codes.
var (
	// ErrOutOfOrderSequence: the batch's first sequence does not follow
	// the producer's last (OUT_OF_ORDER_SEQUENCE_NUMBER).
	ErrOutOfOrderSequence = errors.New("out of order sequence number")
	// ErrUnknownProducerID: the log knows nothing of the producer id and
	// the batch does not start at sequence 0 (UNKNOWN_PRODUCER_ID).
	ErrUnknownProducerID = errors.New("unknown producer id")
	// ErrInvalidProducerBatch: the entries of one batch mix producer ids
	// or do not have consecutive sequences (Kafka's producer cannot build
	// such a batch; its broker would answer INVALID_RECORD).
	ErrInvalidProducerBatch = errors.New("invalid producer batch")
)

// BatchMetadata is what the log remembers of one of a producer's batches
// (Kafka 2.6 `BatchMetadata`): its sequences and where it was appended.
// Its last offset is FirstOffset + LastSeq - FirstSeq: one record per
// sequence, at consecutive offsets.
//
// Simplified: records here keep no batch boundaries, so a batch is a
// maximal run of a producer's records with consecutive offsets and
// sequences; two batches appended back to back count as one.
type BatchMetadata struct {
	FirstSeq, LastSeq int32
	FirstOffset       int64
}

// LastOffset is the offset of the batch's last record.
func (b BatchMetadata) LastOffset() int64 { return b.FirstOffset + int64(b.LastSeq-b.FirstSeq) }

// producerEntry is one producer id's state in one log (Kafka 2.6
// `ProducerStateEntry` without epochs or transactions): its last batches,
// oldest first.
type producerEntry struct {
	batches [NumBatchesToRetain]BatchMetadata
	n       int
}

func (e *producerEntry) last() *BatchMetadata { return &e.batches[e.n-1] }

// observe adds a record to the producer state: it extends the producer's
// last batch when it follows it in both offset and sequence, or else
// starts a batch (Kafka 2.6 `ProducerAppendInfo.append`, here per record).
func (l *Log) observe(r *Record) {
	if !HasProducerID(r.ProducerID) {
		return
	}
	if l.producers == nil {
		l.producers = map[int64]*producerEntry{}
	}
	e := l.producers[r.ProducerID]
	if e == nil {
		if len(l.producers) >= MaxProducers {
			l.forgetOldestProducer()
		}
		e = &producerEntry{}
		l.producers[r.ProducerID] = e
	}
	if e.n > 0 {
		b := e.last()
		if b.LastSeq != math.MaxInt32 && r.Sequence == b.LastSeq+1 && r.Offset == b.LastOffset()+1 {
			b.LastSeq++
			return
		}
	}
	if e.n == NumBatchesToRetain {
		copy(e.batches[:], e.batches[1:])
		e.n--
	}
	e.batches[e.n] = BatchMetadata{FirstSeq: r.Sequence, LastSeq: r.Sequence, FirstOffset: r.Offset}
	e.n++
}

// forgetOldestProducer drops the producer id whose last record is oldest
// (offsets are unique, so the choice does not depend on map order).
func (l *Log) forgetOldestProducer() {
	oldest, at := NoProducerID, int64(math.MaxInt64)
	for id, e := range l.producers {
		if o := e.last().LastOffset(); o < at {
			oldest, at = id, o
		}
	}
	delete(l.producers, oldest)
}

// rebuildProducers recomputes the producer state from the records.
// Simplified: Kafka 2.6 reloads it from the latest producer snapshot at or
// below the new log end and reads the log from there
// (`ProducerStateManager.truncateAndReload`, `Log.loadProducerState`); here
// the whole log is scanned, and only when some record has a producer id.
func (l *Log) rebuildProducers() {
	if l.producers == nil {
		return
	}
	clear(l.producers)
	for i := range l.records {
		l.observe(&l.records[i])
	}
}

// ProducerBatches returns a copy of the metadata the log keeps for a
// producer id, oldest first (nil if it knows none): for tests and views.
func (l *Log) ProducerBatches(producerID int64) []BatchMetadata {
	e := l.producers[producerID]
	if e == nil {
		return nil
	}
	return append([]BatchMetadata(nil), e.batches[:e.n]...)
}

// Producers is the number of producer ids the log keeps state for.
func (l *Log) Producers() int { return len(l.producers) }

// Duplicate is where a batch the log already holds was appended.
type Duplicate struct {
	First, Last int64
}

// AnalyzeProducer checks a batch a client sends before the leader appends
// it (Kafka 2.6 `Log.analyzeAndValidateProducerState` with origin Client,
// then `ProducerAppendInfo.checkSequence`):
//   - entries without a producer id pass;
//   - a batch whose sequences lie within one the log keeps for the producer
//     is a duplicate: ok is true and dup says where it was appended, and
//     the leader must not append it again;
//   - a producer id the log does not know must start at sequence 0, else
//     ErrUnknownProducerID;
//   - otherwise the first sequence must follow the producer's last (0
//     follows math.MaxInt32), else ErrOutOfOrderSequence.
//
// Kafka 2.6 matches a duplicate's exact sequence range
// (`ProducerStateEntry.batchWithSequenceRange`); here, batches having no
// boundaries in the log (see BatchMetadata), a range inside a kept run
// matches. Producer epochs are not modelled. The errors wrap the ones
// above with the sequences involved; the log is not changed.
func (l *Log) AnalyzeProducer(entries []Entry) (dup Duplicate, ok bool, err error) {
	if len(entries) == 0 {
		return Duplicate{}, false, nil
	}
	pid, first := entries[0].ProducerID, entries[0].Sequence
	if !HasProducerID(pid) {
		for i := range entries {
			if HasProducerID(entries[i].ProducerID) {
				return Duplicate{}, false, fmt.Errorf("entry %d has producer id %d, entry 0 none: %w", i, entries[i].ProducerID, ErrInvalidProducerBatch)
			}
		}
		return Duplicate{}, false, nil
	}
	if first < 0 || int64(first)+int64(len(entries))-1 > math.MaxInt32 {
		// Simplified: Kafka lets a batch's sequences wrap past MaxInt32
		// (`DefaultRecordBatch.incrementSequence`); here a batch may not.
		return Duplicate{}, false, fmt.Errorf("producer %d: sequences %d+%d leave 0..MaxInt32: %w", pid, first, len(entries), ErrInvalidProducerBatch)
	}
	for i := range entries {
		if entries[i].ProducerID != pid || entries[i].Sequence != first+int32(i) {
			return Duplicate{}, false, fmt.Errorf("producer %d: entry %d is producer %d sequence %d, want sequence %d: %w",
				pid, i, entries[i].ProducerID, entries[i].Sequence, first+int32(i), ErrInvalidProducerBatch)
		}
	}
	last := first + int32(len(entries)) - 1
	e := l.producers[pid]
	if e == nil {
		if first != 0 {
			return Duplicate{}, false, fmt.Errorf("producer %d: no state for it and sequence %d is not 0: %w", pid, first, ErrUnknownProducerID)
		}
		return Duplicate{}, false, nil
	}
	for _, b := range e.batches[:e.n] {
		if first >= b.FirstSeq && last <= b.LastSeq {
			at := b.FirstOffset + int64(first-b.FirstSeq)
			return Duplicate{First: at, Last: at + int64(last-first)}, true, nil
		}
	}
	lastSeq := e.last().LastSeq
	if first != lastSeq+1 && !(first == 0 && lastSeq == math.MaxInt32) {
		return Duplicate{}, false, fmt.Errorf("producer %d: sequence %d, the last is %d: %w", pid, first, lastSeq, ErrOutOfOrderSequence)
	}
	return Duplicate{}, false, nil
}
