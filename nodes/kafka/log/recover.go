package log

import "fmt"

// RecoveryInfo says what Recover found in a log file.
type RecoveryInfo struct {
	// ValidSize is the size of the valid prefix: the broker truncates the
	// file to it (Disk.Truncate) if it is below the file's size.
	ValidSize int
	// DroppedBytes is the size of the invalid tail.
	DroppedBytes int
	// DroppedRecords is the number of record slots in the invalid tail,
	// a torn last one included.
	DroppedRecords int
	// Problem names the first invalid record ("" if none): a torn record,
	// a CRC mismatch, an unexpected offset or a negative leader epoch.
	Problem string
}

// plantRecoverKeepsTornRecord is a planted bug for tests: Recover keeps a
// torn last record, its missing bytes read as zeros, as if its CRC passed.
var plantRecoverKeepsTornRecord bool

// Recover rebuilds a log from the bytes its file held after a crash, as
// Kafka 2.6 `LogSegment.recover` does: records are read in order and the
// first invalid one (torn, bad CRC-32C, an offset that does not follow, a
// negative leader epoch) ends the log; everything from it on is dropped,
// and RecoveryInfo says where the broker cuts the file. A leader epoch
// below the previous record's is valid, as in Kafka (see
// AppendAsFollower). The epoch cache is rebuilt from the records' leader
// epochs, assigned in order at each change of epoch (Epochs.Assign, which
// drops conflicting entries as the live cache did), the recovery point is
// the new LEO (Kafka `Log.recoverLog`), and TakeEpochCheckpoint reports a
// change.
//
// Simplified: Kafka loads the cache from leader-epoch-checkpoint, adds the
// epochs of the records recovered past the recovery point, then drops the
// entries at or past the LEO (Kafka 2.6 `Log` initialisation,
// `truncateFromEnd`). Kafka syncs that checkpoint on every change, before
// the log, so its entries below the LEO are those the records' assignments
// left; this rebuild gives the same cache without trusting a checkpoint a
// crash could have lost here (the broker's writes are not synchronous).
// Recovery also checks every record, not just those past the recovery
// point.
//
// A file shorter than the header, or with a bad header, is an error: the
// header is written whole (Disk.Write), so it is not a torn tail.
func Recover(data []byte) (*Log, RecoveryInfo, error) {
	start, err := parseHeader(data)
	if err != nil {
		return nil, RecoveryInfo{}, err
	}
	body := data[HeaderSize:]
	n := len(body) / RecordSize
	if n > MaxRecords {
		return nil, RecoveryInfo{}, fmt.Errorf("log: file holds %d records, more than MaxRecords (%d)", n, MaxRecords)
	}
	l := &Log{start: start, records: make([]Record, 0, n)}
	var problem string
	var prevEpoch int32
	pos := 0
	for pos < len(body) {
		off := start + int64(len(l.records))
		if len(body)-pos < RecordSize {
			if plantRecoverKeepsTornRecord {
				var b [RecordSize]byte
				copy(b[:], body[pos:])
				r := decodeRecord(b[:])
				r.Offset = off
				l.records = append(l.records, r)
				pos = len(body)
				break
			}
			problem = fmt.Sprintf("torn record at byte %d: %d of %d bytes", HeaderSize+pos, len(body)-pos, RecordSize)
			break
		}
		r, err := parseRecord(body[pos:])
		if err != nil {
			problem = fmt.Sprintf("record at byte %d: %v", HeaderSize+pos, err)
			break
		}
		if r.Offset != off {
			problem = fmt.Sprintf("record at byte %d has offset %d, want %d", HeaderSize+pos, r.Offset, off)
			break
		}
		if r.LeaderEpoch < 0 {
			problem = fmt.Sprintf("record at offset %d has negative leader epoch %d", r.Offset, r.LeaderEpoch)
			break
		}
		if len(l.records) == 0 || r.LeaderEpoch != prevEpoch {
			l.epochs.Assign(r.LeaderEpoch, r.Offset)
			prevEpoch = r.LeaderEpoch
		}
		l.records = append(l.records, r)
		pos += RecordSize
	}
	l.recoveryPoint = l.LogEndOffset()
	l.epochsChanged = true
	// Kafka 2.6 Log.loadProducerState: the producer state from the records.
	for i := range l.records {
		l.observe(&l.records[i])
	}
	valid := HeaderSize + pos
	dropped := len(data) - valid
	return l, RecoveryInfo{
		ValidSize:      valid,
		DroppedBytes:   dropped,
		DroppedRecords: (dropped + RecordSize - 1) / RecordSize,
		Problem:        problem,
	}, nil
}
