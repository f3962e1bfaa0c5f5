package log

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestEncodeOffsetsWritesKafkasFormatSorted(t *testing.T) {
	in := []PartitionOffset{{"orders", 2, 40}, {"clicks", 10, 7}, {"orders", 0, 0}, {"clicks", 9, 123456789012}}
	want := "0\n4\nclicks 9 123456789012\nclicks 10 7\norders 0 0\norders 2 40\n"
	assert.Equal(t, want, string(EncodeOffsets(in)))
	assert.Equal(t, "orders", in[0].Topic, "the caller's slice is not reordered")
	got, err := DecodeOffsets([]byte(want))
	require.NoError(t, err)
	assert.Equal(t, []PartitionOffset{{"clicks", 9, 123456789012}, {"clicks", 10, 7}, {"orders", 0, 0}, {"orders", 2, 40}}, got)
	assert.Equal(t, "0\n0\n", string(EncodeOffsets(nil)))
}

func TestDecodeOffsetsAcceptsKafkasHashOrderAndTheEmptyFile(t *testing.T) {
	got, err := DecodeOffsets([]byte("0\n2\nb 1 5\na 3 6\n"))
	require.NoError(t, err)
	assert.Equal(t, []PartitionOffset{{"a", 3, 6}, {"b", 1, 5}}, got)
	got, err = DecodeOffsets(nil)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestEncodeEpochsWritesKafkasFormat(t *testing.T) {
	in := []EpochEntry{ee(0, 0), ee(3, 17), ee(9, 4000)}
	want := "0\n3\n0 0\n3 17\n9 4000\n"
	assert.Equal(t, want, string(EncodeEpochs(in)))
	got, err := DecodeEpochs([]byte(want))
	require.NoError(t, err)
	assert.Equal(t, in, got)
}

func TestDecodeCheckpointRejectsBadInput(t *testing.T) {
	offsets := []struct{ in, want string }{
		{"0", "checkpoint: line 1: no final newline"},
		{"0\n1\na 0 1", "checkpoint: line 3: no final newline"},
		{"1\n0\n", "checkpoint: line 1: version 1, want 0"},
		{"x\n0\n", `checkpoint: line 1: version: "x" is not a decimal integer`},
		{"0\n", "checkpoint: line 2: no entry count"},
		{"0\n-1\n", "checkpoint: line 2: entry count: -1 is outside [0, 1048576]"},
		{"0\n01\na 0 1\n", `checkpoint: line 2: entry count: "01" is not a decimal integer`},
		{"0\n2\na 0 1\n", "checkpoint: 1 entries, but line 2 says 2"},
		{"0\n1\na 0 1\nb 0 1\n", "checkpoint: 2 entries, but line 2 says 1"},
		{"0\n1\na 0\n", "checkpoint: line 3: 2 fields, want 3 (topic partition offset) separated by single spaces"},
		{"0\n1\na  0 1\n", "checkpoint: line 3: 4 fields, want 3 (topic partition offset) separated by single spaces"},
		{"0\n1\na\t0 1\n", "checkpoint: line 3: 2 fields, want 3 (topic partition offset) separated by single spaces"},
		{"0\n1\n\n", "checkpoint: line 3: 1 fields, want 3 (topic partition offset) separated by single spaces"},
		{"0\n1\na/b 0 1\n", `checkpoint: line 3: topic name "a/b" has a character outside [a-zA-Z0-9._-]`},
		{"0\n1\n.. 0 1\n", `checkpoint: line 3: topic name ".."`},
		{"0\n1\n" + strings.Repeat("t", 250) + " 0 1\n", "checkpoint: line 3: topic name of 250 characters, more than 249"},
		{"0\n1\na -1 1\n", "checkpoint: line 3: partition: -1 is outside [0, 2147483647]"},
		{"0\n1\na 2147483648 1\n", "checkpoint: line 3: partition: 2147483648 is outside [0, 2147483647]"},
		{"0\n1\na 0 +1\n", `checkpoint: line 3: offset: "+1" is not a decimal integer`},
		{"0\n1\na 0 99999999999999999999\n", `checkpoint: line 3: offset: "99999999999999999999" is not a decimal integer`},
		{"0\n3\nb 0 1\na 0 2\nb 0 3\n", "checkpoint: line 5: b-0 repeats line 3"},
	}
	for _, tc := range offsets {
		_, err := DecodeOffsets([]byte(tc.in))
		assert.EqualError(t, err, tc.want, "%q", tc.in)
	}
	epochs := []struct{ in, want string }{
		{"0\n1\n1\n", "checkpoint: line 3: 1 fields, want 2 (epoch startOffset) separated by a single space"},
		{"0\n1\n1 2 3\n", "checkpoint: line 3: 3 fields, want 2 (epoch startOffset) separated by a single space"},
		{"0\n1\n-1 2\n", "checkpoint: line 3: epoch: -1 is outside [0, 2147483647]"},
		{"0\n1\n1 x\n", `checkpoint: line 3: start offset: "x" is not a decimal integer`},
		{"0\n2\n3 5\n3 6\n", "checkpoint: line 4: epoch 3 does not grow from 3"},
		{"0\n2\n3 5\n4 5\n", "checkpoint: line 4: start offset 5 does not grow from 5"},
		{"0\n2\n3 5\n", "checkpoint: 1 entries, but line 2 says 2"},
	}
	for _, tc := range epochs {
		_, err := DecodeEpochs([]byte(tc.in))
		assert.EqualError(t, err, tc.want, "%q", tc.in)
	}
}

func TestEncodeCheckpointMisusePanics(t *testing.T) {
	assert.Panics(t, func() { EncodeOffsets([]PartitionOffset{{"a b", 0, 0}}) })
	assert.Panics(t, func() { EncodeOffsets([]PartitionOffset{{"a", -1, 0}}) })
	assert.Panics(t, func() { EncodeOffsets([]PartitionOffset{{"a", 0, 1}, {"a", 0, 2}}) })
	assert.Panics(t, func() { EncodeEpochs([]EpochEntry{ee(2, 5), ee(2, 6)}) })
	assert.Panics(t, func() { EncodeEpochs([]EpochEntry{ee(-1, 0)}) })
}

func TestPropertyCheckpointsRoundTrip(t *testing.T) {
	topic := rapid.StringMatching(`[a-zA-Z0-9._-]{1,12}`).Filter(func(s string) bool { return s != "." && s != ".." })
	rapid.Check(t, func(t *rapid.T) {
		type tp struct {
			topic     string
			partition int32
		}
		written := map[tp]int64{}
		var in []PartitionOffset
		for range rapid.IntRange(0, 20).Draw(t, "n") {
			e := PartitionOffset{Topic: topic.Draw(t, "topic"), Partition: rapid.Int32Range(0, 1<<31-1).Draw(t, "partition")}
			if _, dup := written[tp{e.Topic, e.Partition}]; dup {
				continue
			}
			e.Offset = rapid.Int64Min(0).Draw(t, "offset")
			written[tp{e.Topic, e.Partition}] = e.Offset
			in = append(in, e)
		}
		got, err := DecodeOffsets(EncodeOffsets(in))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(in) {
			t.Fatalf("%d entries back, %d in", len(got), len(in))
		}
		for i, e := range got {
			if i > 0 && comparePartitionOffsets(got[i-1], e) >= 0 {
				t.Fatalf("not sorted at %d: %v", i, got)
			}
			if off, ok := written[tp{e.Topic, e.Partition}]; !ok || off != e.Offset {
				t.Fatalf("entry %v was not written (written: %d, %v)", e, off, ok)
			}
		}
		var es []EpochEntry
		epoch, start := int32(0), int64(0)
		for range rapid.IntRange(0, 20).Draw(t, "epochs") {
			epoch += rapid.Int32Range(1, 1000).Draw(t, "epoch step")
			start += rapid.Int64Range(1, 1<<40).Draw(t, "start step")
			es = append(es, EpochEntry{Epoch: epoch, StartOffset: start})
		}
		back, err := DecodeEpochs(EncodeEpochs(es))
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			es = nil
		}
		if len(back) == 0 {
			back = nil
		}
		if !assert.ObjectsAreEqual(es, back) {
			t.Fatalf("epochs %v came back %v", es, back)
		}
	})
}
