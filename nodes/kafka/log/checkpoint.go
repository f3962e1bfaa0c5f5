package log

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Checkpoint files in Kafka 2.6's text format (`CheckpointFile`): a version
// line ("0"), a count line, then one entry per line, fields separated by a
// space and every line ended by "\n".
//
//   - replication-offset-checkpoint (high watermarks),
//     recovery-point-offset-checkpoint and log-start-offset-checkpoint:
//     "topic partition offset" (`OffsetCheckpointFile`), one file per log
//     directory;
//   - leader-epoch-checkpoint: "epoch startOffset"
//     (`LeaderEpochCheckpointFile`), one file per partition replica.
//
// Decoding is stricter than Kafka's (which splits on any whitespace and
// accepts a missing last newline or a version line alone): it takes exactly
// what Encode writes, in any entry order for offsets (Kafka writes a hash
// map's order), and names the line and the problem in a one-line error.
// Kafka writes through a temporary file and a rename; the broker's
// Disk.Write is atomic in the same way.

// Checkpoint limits.
const (
	// CheckpointVersion is the only version of both formats (Kafka's
	// CurrentVersion 0).
	CheckpointVersion = 0
	// MaxCheckpointEntries is the most entries a checkpoint file may hold:
	// above the 200,000 partitions times 3 replicas one machine is
	// designed for.
	MaxCheckpointEntries = 1 << 20
	// maxTopicLength is Kafka's topic name limit (`Topic.MaxNameLength`).
	maxTopicLength = 249
)

// PartitionOffset is one entry of an offset checkpoint file.
type PartitionOffset struct {
	// Topic and Partition name the partition (Kafka's TopicPartition).
	Topic     string
	Partition int32
	// Offset is the checkpointed offset: a high watermark, recovery point
	// or log start offset, by file.
	Offset int64
}

func comparePartitionOffsets(a, b PartitionOffset) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// validTopic reports what is wrong with a topic name, "" if nothing (Kafka
// 2.6 `Topic.validate`: 1 to 249 of [a-zA-Z0-9._-], not "." or "..").
func validTopic(t string) string {
	switch {
	case t == "":
		return "empty topic name"
	case len(t) > maxTopicLength:
		return fmt.Sprintf("topic name of %d characters, more than %d", len(t), maxTopicLength)
	case t == "." || t == "..":
		return fmt.Sprintf("topic name %q", t)
	}
	for _, c := range []byte(t) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Sprintf("topic name %q has a character outside [a-zA-Z0-9._-]", t)
		}
	}
	return ""
}

// EncodeOffsets returns an offset checkpoint file holding entries, sorted
// by topic then partition (entries itself is not reordered). An invalid
// topic name, a negative partition or offset, a repeated partition or more
// than MaxCheckpointEntries entries is a programmer error and panics.
func EncodeOffsets(entries []PartitionOffset) []byte {
	if len(entries) > MaxCheckpointEntries {
		panic(fmt.Sprintf("log: checkpoint of %d entries, more than MaxCheckpointEntries (%d)", len(entries), MaxCheckpointEntries))
	}
	sorted := slices.SortedFunc(slices.Values(entries), comparePartitionOffsets)
	b := make([]byte, 0, 8+len(sorted)*24)
	b = strconv.AppendInt(b, CheckpointVersion, 10)
	b = append(b, '\n')
	b = strconv.AppendInt(b, int64(len(sorted)), 10)
	b = append(b, '\n')
	for i, e := range sorted {
		if p := validTopic(e.Topic); p != "" {
			panic("log: checkpoint entry: " + p)
		}
		if e.Partition < 0 || e.Offset < 0 {
			panic(fmt.Sprintf("log: checkpoint entry %s-%d has offset %d (negative partition or offset)", e.Topic, e.Partition, e.Offset))
		}
		if i > 0 && comparePartitionOffsets(sorted[i-1], e) == 0 {
			panic(fmt.Sprintf("log: checkpoint entry %s-%d repeated", e.Topic, e.Partition))
		}
		b = append(b, e.Topic...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(e.Partition), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, e.Offset, 10)
		b = append(b, '\n')
	}
	return b
}

// EncodeEpochs returns a leader-epoch-checkpoint file holding entries in
// their order. Entries not strictly growing in epoch and start offset, or
// negative, are a programmer error and panic (an Epochs keeps them so).
func EncodeEpochs(entries []EpochEntry) []byte {
	if len(entries) > MaxCheckpointEntries {
		panic(fmt.Sprintf("log: checkpoint of %d entries, more than MaxCheckpointEntries (%d)", len(entries), MaxCheckpointEntries))
	}
	b := make([]byte, 0, 8+len(entries)*12)
	b = strconv.AppendInt(b, CheckpointVersion, 10)
	b = append(b, '\n')
	b = strconv.AppendInt(b, int64(len(entries)), 10)
	b = append(b, '\n')
	for i, e := range entries {
		if e.Epoch < 0 || e.StartOffset < 0 {
			panic(fmt.Sprintf("log: epoch checkpoint entry %d %d is negative", e.Epoch, e.StartOffset))
		}
		if i > 0 && (e.Epoch <= entries[i-1].Epoch || e.StartOffset <= entries[i-1].StartOffset) {
			panic(fmt.Sprintf("log: epoch checkpoint entry %d %d does not grow from %d %d", e.Epoch, e.StartOffset, entries[i-1].Epoch, entries[i-1].StartOffset))
		}
		b = strconv.AppendInt(b, int64(e.Epoch), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, e.StartOffset, 10)
		b = append(b, '\n')
	}
	return b
}

// checkpointLines splits a checkpoint file into its entry lines after
// checking the version and count lines. An empty file has no entries, as
// Kafka reads the empty file its CheckpointFile constructor creates.
func checkpointLines(data []byte) ([]string, error) {
	if len(data) == 0 {
		return nil, nil
	}
	s := string(data)
	if !strings.HasSuffix(s, "\n") {
		return nil, fmt.Errorf("checkpoint: line %d: no final newline", strings.Count(s, "\n")+1)
	}
	lines := strings.Split(s[:len(s)-1], "\n")
	if v, err := parseCanonical(lines[0], 0, 1<<31-1); err != nil {
		return nil, fmt.Errorf("checkpoint: line 1: version: %v", err)
	} else if v != CheckpointVersion {
		return nil, fmt.Errorf("checkpoint: line 1: version %d, want %d", v, CheckpointVersion)
	}
	if len(lines) < 2 {
		return nil, fmt.Errorf("checkpoint: line 2: no entry count")
	}
	n, err := parseCanonical(lines[1], 0, MaxCheckpointEntries)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: line 2: entry count: %v", err)
	}
	if got := len(lines) - 2; int64(got) != n {
		return nil, fmt.Errorf("checkpoint: %d entries, but line 2 says %d", got, n)
	}
	return lines[2:], nil
}

// parseCanonical parses a decimal integer in [lo, hi] written as
// strconv.FormatInt writes it (no sign but '-', no leading zeros).
func parseCanonical(s string, lo, hi int64) (int64, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || strconv.FormatInt(v, 10) != s {
		return 0, fmt.Errorf("%q is not a decimal integer", s)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%d is outside [%d, %d]", v, lo, hi)
	}
	return v, nil
}

// DecodeOffsets parses an offset checkpoint file, returning its entries
// sorted by topic then partition.
func DecodeOffsets(data []byte) ([]PartitionOffset, error) {
	lines, err := checkpointLines(data)
	if err != nil || len(lines) == 0 {
		return nil, err
	}
	out := make([]PartitionOffset, 0, len(lines))
	for i, line := range lines {
		no := i + 3
		f := strings.Split(line, " ")
		if len(f) != 3 {
			return nil, fmt.Errorf("checkpoint: line %d: %d fields, want 3 (topic partition offset) separated by single spaces", no, len(f))
		}
		if p := validTopic(f[0]); p != "" {
			return nil, fmt.Errorf("checkpoint: line %d: %s", no, p)
		}
		part, err := parseCanonical(f[1], 0, 1<<31-1)
		if err != nil {
			return nil, fmt.Errorf("checkpoint: line %d: partition: %v", no, err)
		}
		off, err := parseCanonical(f[2], 0, 1<<63-1)
		if err != nil {
			return nil, fmt.Errorf("checkpoint: line %d: offset: %v", no, err)
		}
		out = append(out, PartitionOffset{Topic: f[0], Partition: int32(part), Offset: off})
	}
	// Sort by partition, remembering the line of each entry for the error.
	idx := make([]int, len(out))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return comparePartitionOffsets(out[a], out[b]) })
	sorted := make([]PartitionOffset, len(out))
	for i, j := range idx {
		sorted[i] = out[j]
		if i > 0 && comparePartitionOffsets(sorted[i-1], sorted[i]) == 0 {
			return nil, fmt.Errorf("checkpoint: line %d: %s-%d repeats line %d", j+3, out[j].Topic, out[j].Partition, idx[i-1]+3)
		}
	}
	return sorted, nil
}

// DecodeEpochs parses a leader-epoch-checkpoint file. Its entries must grow
// strictly in epoch and start offset, as a leader epoch cache keeps them.
func DecodeEpochs(data []byte) ([]EpochEntry, error) {
	lines, err := checkpointLines(data)
	if err != nil || len(lines) == 0 {
		return nil, err
	}
	out := make([]EpochEntry, 0, len(lines))
	for i, line := range lines {
		no := i + 3
		f := strings.Split(line, " ")
		if len(f) != 2 {
			return nil, fmt.Errorf("checkpoint: line %d: %d fields, want 2 (epoch startOffset) separated by a single space", no, len(f))
		}
		epoch, err := parseCanonical(f[0], 0, 1<<31-1)
		if err != nil {
			return nil, fmt.Errorf("checkpoint: line %d: epoch: %v", no, err)
		}
		start, err := parseCanonical(f[1], 0, 1<<63-1)
		if err != nil {
			return nil, fmt.Errorf("checkpoint: line %d: start offset: %v", no, err)
		}
		e := EpochEntry{Epoch: int32(epoch), StartOffset: start}
		if i > 0 {
			prev := out[i-1]
			if e.Epoch <= prev.Epoch {
				return nil, fmt.Errorf("checkpoint: line %d: epoch %d does not grow from %d", no, e.Epoch, prev.Epoch)
			}
			if e.StartOffset <= prev.StartOffset {
				return nil, fmt.Errorf("checkpoint: line %d: start offset %d does not grow from %d", no, e.StartOffset, prev.StartOffset)
			}
		}
		out = append(out, e)
	}
	return out, nil
}
