// Package log is one partition replica's log as a Kafka broker keeps it: the
// records (offset, leader epoch, producer id, sequence, and the key and value
// as short ids; no payload bytes), the leader epoch cache of KIP-101, and the
// text checkpoint files a broker writes beside its logs.
//
// It is a pure data structure, as etcd-io/raft's storage is to its caller: it
// never touches the disk. Each mutating method returns what the broker must
// do to the log's file (bytes to append, a size to truncate to, a new image
// to write), and the broker turns that into sim.Disk effects on file names of
// its choosing. After a crash the broker hands Recover the bytes its disk
// kept, and Recover rebuilds the log as Kafka 2.6 `LogSegment.recover` does:
// it keeps the valid prefix and reports where the file must be cut.
//
// The file is one segment: a 16-byte header holding the log start offset
// (Kafka puts it in the segment's file name) and fixed-size records, each
// with a CRC-32C (Castagnoli, as Kafka's record batches use). Simplified:
// Kafka checks a CRC per batch, so a crash keeps a produce batch whole or
// not at all; here each record stands alone, and a crash may keep the
// first records of an append and lose the rest. There is one segment per
// log (no rolling, no retention, no index files).
//
// The follower's truncation by leader epoch follows Kafka 2.6
// `AbstractFetcherThread.getOffsetTruncationState` (KIP-101, KIP-279); see
// Log.TruncationOffset.
//
// Memory is designed for 200,000 partitions with 3 replicas on one machine:
// an empty Log is a few words (no maps, no buffers), records are 40 bytes.
package log
