package log

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Record is one record of a partition's log. The field order is that of
// nodes/kafka/proto.Record, and packs into 40 bytes with no padding.
type Record struct {
	// Offset is the record's position in the partition, from 0.
	Offset int64
	// LeaderEpoch is the epoch of the leader that appended the record
	// (Kafka's batch field partitionLeaderEpoch).
	LeaderEpoch int32
	// Sequence and ProducerID identify the producer's write, as Kafka's
	// idempotent producer stamps its batches (KIP-98); no deduplication
	// is done here.
	Sequence   int32
	ProducerID int64
	// Key and Value are short ids of what was written, so that a consumer
	// can say what it read at an offset (no payload bytes are kept).
	Key, Value uint64
}

// Entry is what a producer sends for one record; the leader assigns the
// offset and the leader epoch. The field order is that of
// nodes/kafka/proto.Entry.
type Entry struct {
	// ProducerID and Sequence are the producer's id and the record's
	// sequence number (Record.ProducerID, Record.Sequence).
	ProducerID int64
	Sequence   int32
	// Key and Value are the short ids of what is written.
	Key, Value uint64
}

// Sizes of the log file's parts, in bytes.
const (
	// HeaderSize is the size of the file header: magic, log start offset,
	// CRC-32C of the two.
	HeaderSize = 16
	// RecordSize is the size of one record in the file: offset, leader
	// epoch, producer id, sequence, key, value, CRC-32C of the rest.
	RecordSize = 44
)

// fileMagic opens every log file ("KZL1": kzsim log, format 1).
const fileMagic uint32 = 0x4b5a4c31

// castagnoli is the CRC-32C table, the checksum of Kafka's v2 record batches
// (Kafka 2.6 `DefaultRecordBatch.computeChecksum`, `Crc32C`).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Simplified: the CRC covers the whole record; Kafka's batch CRC covers the
// bytes from the attributes on, leaving the base offset, length, leader epoch
// and magic to other checks.

// putRecord encodes r into b[:RecordSize], big-endian as Kafka's wire and
// log formats are.
func putRecord(b []byte, r *Record) {
	_ = b[RecordSize-1]
	binary.BigEndian.PutUint64(b[0:], uint64(r.Offset))
	binary.BigEndian.PutUint32(b[8:], uint32(r.LeaderEpoch))
	binary.BigEndian.PutUint64(b[12:], uint64(r.ProducerID))
	binary.BigEndian.PutUint32(b[20:], uint32(r.Sequence))
	binary.BigEndian.PutUint64(b[24:], r.Key)
	binary.BigEndian.PutUint64(b[32:], r.Value)
	binary.BigEndian.PutUint32(b[40:], crc32.Checksum(b[:40], castagnoli))
}

// parseRecord decodes b[:RecordSize], checking its CRC.
func parseRecord(b []byte) (Record, error) {
	_ = b[RecordSize-1]
	if got, want := binary.BigEndian.Uint32(b[40:]), crc32.Checksum(b[:40], castagnoli); got != want {
		return Record{}, fmt.Errorf("CRC-32C %08x, computed %08x", got, want)
	}
	return decodeRecord(b), nil
}

// decodeRecord decodes the fields of b[:RecordSize] without checking them.
func decodeRecord(b []byte) Record {
	return Record{
		Offset:      int64(binary.BigEndian.Uint64(b[0:])),
		LeaderEpoch: int32(binary.BigEndian.Uint32(b[8:])),
		ProducerID:  int64(binary.BigEndian.Uint64(b[12:])),
		Sequence:    int32(binary.BigEndian.Uint32(b[20:])),
		Key:         binary.BigEndian.Uint64(b[24:]),
		Value:       binary.BigEndian.Uint64(b[32:]),
	}
}

// putHeader encodes the file header for a log starting at start.
func putHeader(b []byte, start int64) {
	_ = b[HeaderSize-1]
	binary.BigEndian.PutUint32(b[0:], fileMagic)
	binary.BigEndian.PutUint64(b[4:], uint64(start))
	binary.BigEndian.PutUint32(b[12:], crc32.Checksum(b[:12], castagnoli))
}

// parseHeader decodes the file header, returning the log start offset.
func parseHeader(data []byte) (int64, error) {
	if len(data) < HeaderSize {
		return 0, fmt.Errorf("log: file of %d bytes is shorter than its %d-byte header", len(data), HeaderSize)
	}
	if m := binary.BigEndian.Uint32(data[0:]); m != fileMagic {
		return 0, fmt.Errorf("log: file header magic %08x, want %08x", m, fileMagic)
	}
	if got, want := binary.BigEndian.Uint32(data[12:]), crc32.Checksum(data[:12], castagnoli); got != want {
		return 0, fmt.Errorf("log: file header CRC-32C %08x, computed %08x", got, want)
	}
	start := int64(binary.BigEndian.Uint64(data[4:]))
	if start < 0 {
		return 0, fmt.Errorf("log: file header log start offset %d is negative", start)
	}
	return start, nil
}
