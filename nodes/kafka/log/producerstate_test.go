package log

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batch makes n entries of producer pid from sequence first.
func batch(pid int64, first int32, n int) []Entry {
	es := make([]Entry, n)
	for i := range es {
		es[i] = Entry{ProducerID: pid, Sequence: first + int32(i), Key: uint64(first) + uint64(i), Value: uint64(pid)<<32 | uint64(first+int32(i))}
	}
	return es
}

// analyze prints AnalyzeProducer's answer: "append", "dup 3..4" or the
// error's sentinel.
func analyze(l *Log, es []Entry) string {
	dup, ok, err := l.AnalyzeProducer(es)
	switch {
	case errors.Is(err, ErrOutOfOrderSequence):
		return "out of order"
	case errors.Is(err, ErrUnknownProducerID):
		return "unknown producer"
	case errors.Is(err, ErrInvalidProducerBatch):
		return "invalid"
	case err != nil:
		return err.Error()
	case ok:
		return fmt.Sprintf("dup %d..%d", dup.First, dup.Last)
	}
	return "append"
}

// TestAnalyzeProducer: Kafka 2.6's checks of a client's batch against
// the producer state, after the appends given (each appended as leader
// unless it is a duplicate or an error).
func TestAnalyzeProducer(t *testing.T) {
	type send struct {
		pid   int64
		first int32
		n     int
	}
	cases := []struct {
		name  string
		sends []send
		want  []string
	}{
		{"a new producer starts at 0", []send{{1, 0, 2}, {1, 2, 3}}, []string{"append", "append"}},
		{"a new producer not at 0 is unknown (2.6 checkSequence, NO_PRODUCER_EPOCH)", []send{{1, 3, 1}}, []string{"unknown producer"}},
		{"a gap is out of order", []send{{1, 0, 2}, {1, 3, 1}}, []string{"append", "out of order"}},
		{"a retried batch gets its original offsets", []send{{1, 0, 2}, {2, 0, 1}, {1, 2, 2}, {1, 2, 2}, {1, 0, 2}},
			[]string{"append", "append", "append", "dup 3..4", "dup 0..1"}},
		{"a range inside a kept run is a duplicate (no batch boundaries here)", []send{{1, 0, 3}, {1, 3, 3}, {1, 4, 1}}, []string{"append", "append", "dup 4..4"}},
		{"a range straddling the last sequence is out of order", []send{{1, 0, 3}, {1, 2, 2}}, []string{"append", "out of order"}},
		{"only the last 5 runs are kept (KAFKA-5793)", []send{{1, 0, 1}, {2, 0, 1}, {1, 1, 1}, {2, 1, 1}, {1, 2, 1}, {2, 2, 1}, {1, 3, 1}, {2, 3, 1}, {1, 4, 1}, {2, 4, 1}, {1, 5, 1}, {1, 1, 1}, {1, 0, 1}},
			[]string{"append", "append", "append", "append", "append", "append", "append", "append", "append", "append", "append", "dup 2..2", "out of order"}},
		{"no producer id passes", []send{{NoProducerID, 9, 2}, {NoProducerID, 9, 2}}, []string{"append", "append"}},
		{"nor does Kafka's -1", []send{{-1, -1, 2}, {-1, -1, 2}}, []string{"append", "append"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := New()
			var got []string
			for _, s := range tc.sends {
				es := batch(s.pid, s.first, s.n)
				out := analyze(l, es)
				got = append(got, out)
				if out == "append" {
					l.AppendAsLeader(0, es)
				}
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestAnalyzeProducerRejectsBadBatches: mixed ids, gaps inside a batch
// and sequences past MaxInt32 are a one-line error, not a panic.
func TestAnalyzeProducerRejectsBadBatches(t *testing.T) {
	l := New()
	for name, es := range map[string][]Entry{
		"mixed ids":     {{ProducerID: 1}, {ProducerID: 2, Sequence: 1}},
		"id after none": {{}, {ProducerID: 2}},
		"gap inside":    {{ProducerID: 1}, {ProducerID: 1, Sequence: 2}},
		"negative":      {{ProducerID: 1, Sequence: -1}},
		"wraps":         batch(1, math.MaxInt32, 2),
	} {
		_, _, err := l.AnalyzeProducer(es)
		require.ErrorIs(t, err, ErrInvalidProducerBatch, name)
		assert.NotContains(t, err.Error(), "\n", name)
	}
	_, _, err := l.AnalyzeProducer(batch(1, math.MaxInt32, 1))
	require.ErrorIs(t, err, ErrUnknownProducerID)
}

// TestProducerStateRebuiltFromTheLog: a follower's appends, a recovery
// and a truncation give the producer state the leader's appends gave for
// the same records (2.6 snapshots it; here it is the log's function).
func TestProducerStateRebuiltFromTheLog(t *testing.T) {
	leader := New()
	for _, b := range [][]Entry{batch(1, 0, 2), batch(2, 0, 1), batch(1, 2, 2), batch(1, 4, 1), {{Key: 5}}, batch(2, 1, 3)} {
		leader.AppendAsLeader(0, b)
	}
	want := [][]BatchMetadata{
		nil,
		{{FirstSeq: 0, LastSeq: 1, FirstOffset: 0}, {FirstSeq: 2, LastSeq: 4, FirstOffset: 3}},
		{{FirstSeq: 0, LastSeq: 0, FirstOffset: 2}, {FirstSeq: 1, LastSeq: 3, FirstOffset: 7}},
	}
	for pid := range int64(3) {
		assert.Equal(t, want[pid], leader.ProducerBatches(pid), "leader, producer %d", pid)
	}
	all, err := leader.Read(0, MaxReadRecords)
	require.NoError(t, err)
	follower := New()
	_, _, err = follower.AppendAsFollower(all)
	require.NoError(t, err)
	recovered, _, err := Recover(leader.File())
	require.NoError(t, err)
	for pid := range int64(3) {
		assert.Equal(t, want[pid], follower.ProducerBatches(pid), "follower, producer %d", pid)
		assert.Equal(t, want[pid], recovered.ProducerBatches(pid), "recovered, producer %d", pid)
	}
	// Truncating the last batch of producer 1 (offsets 3..5) lets it send
	// sequence 2 again, as a new write.
	follower.TruncateTo(4)
	assert.Equal(t, []BatchMetadata{{FirstSeq: 0, LastSeq: 1, FirstOffset: 0}, {FirstSeq: 2, LastSeq: 2, FirstOffset: 3}}, follower.ProducerBatches(1))
	assert.Equal(t, "append", analyze(follower, batch(1, 3, 2)))
	assert.Equal(t, "dup 3..3", analyze(follower, batch(1, 2, 1)))
	follower.TruncateTo(0)
	assert.Nil(t, follower.ProducerBatches(1))
	assert.Equal(t, "unknown producer", analyze(follower, batch(1, 2, 1)))
	leader.TruncateFully(8)
	assert.Equal(t, 0, leader.Producers())
}

// TestProducerStateForgetsTheOldestProducer: past MaxProducers, the id
// whose last record is oldest goes.
func TestProducerStateForgetsTheOldestProducer(t *testing.T) {
	l := New()
	for pid := int64(1); pid <= MaxProducers+1; pid++ {
		l.AppendAsLeader(0, batch(pid, 0, 1))
		if pid == 2 {
			l.AppendAsLeader(0, batch(1, 1, 1)) // producer 1 writes again: 2 is now the oldest
		}
	}
	assert.Equal(t, MaxProducers, l.Producers())
	assert.Nil(t, l.ProducerBatches(2))
	assert.NotNil(t, l.ProducerBatches(1))
}
