package broker

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
)

// seqBatch is an idempotent producer's batch: n records of producer pid
// from sequence first, values pid*100 + sequence.
func seqBatch(pid int64, first int32, n int) []proto.Entry {
	es := make([]proto.Entry, n)
	for i := range es {
		seq := first + int32(i)
		es[i] = proto.Entry{ProducerID: pid, Sequence: seq, Value: uint64(pid*100) + uint64(seq)}
	}
	return es
}

// produceOne sends one partition's batch with acks=1 and returns the answer.
func (h *harness) produceOne(token kproc.Token, es []proto.Entry) proto.ProducePartitionResponse {
	h.t.Helper()
	h.step(kproc.RPCIn{Token: token, Req: &proto.ProduceRequest{Acks: proto.AcksLeader, TimeoutMs: 30000,
		Partitions: []proto.ProducePartition{{TopicPartition: tp0, Entries: es}}}})
	for _, r := range h.answers() {
		if r.Token == token {
			return r.Resp.(*proto.ProduceResponse).Partitions[0]
		}
	}
	h.t.Fatalf("no answer to produce %d: %v", token, h.out)
	return proto.ProducePartitionResponse{}
}

// duplicateValues lists the values found at more than one offset.
func duplicateValues(recs []proto.Record) []string {
	at := map[uint64]int64{}
	var dups []string
	for _, r := range recs {
		if o, ok := at[r.Value]; ok {
			dups = append(dups, fmt.Sprintf("%d at %d and %d", r.Value, o, r.Offset))
			continue
		}
		at[r.Value] = r.Offset
	}
	return dups
}

// TestIdempotentProduce: the leader's answers to an idempotent producer's
// batches (Kafka 2.6 Log.analyzeAndValidateProducerState), and the log's
// content after them; with BugNoProducerDedupe the duplicate check on the
// log catches the retried batch written twice.
func TestIdempotentProduce(t *testing.T) {
	type send struct {
		pid   int64
		first int32
		n     int
	}
	cases := []struct {
		name  string
		bug   bool
		sends []send
		want  []string // error@base offset per send
		dups  bool     // the log holds a value twice
	}{
		{name: "a retry after a lost answer gets its original offset",
			sends: []send{{7, 0, 2}, {8, 0, 1}, {7, 2, 3}, {7, 2, 3}},
			want:  []string{"NONE@0", "NONE@2", "NONE@3", "NONE@3"}},
		{name: "an older batch of the last five is still found",
			sends: []send{{7, 0, 2}, {8, 0, 1}, {7, 2, 1}, {7, 0, 2}},
			want:  []string{"NONE@0", "NONE@2", "NONE@3", "NONE@0"}},
		{name: "a gap is out of order and not appended",
			sends: []send{{7, 0, 2}, {7, 5, 1}, {7, 2, 1}},
			want:  []string{"NONE@0", "OUT_OF_ORDER_SEQUENCE_NUMBER@-1", "NONE@2"}},
		{name: "an unknown producer id must start at 0",
			sends: []send{{7, 4, 1}, {7, 0, 1}},
			want:  []string{"UNKNOWN_PRODUCER_ID@-1", "NONE@0"}},
		{name: "BugNoProducerDedupe: the retry is appended again", bug: true,
			sends: []send{{7, 0, 2}, {7, 0, 2}},
			want:  []string{"NONE@0", "NONE@2"}, dups: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1, func(c *Config) { c.BugNoProducerDedupe = tc.bug })
			h.start(0x100)
			h.step(kproc.RPCIn{Token: 1, Req: lai(1, 0x100, 1, 0, 1)})
			h.answers()
			var got []string
			for i, s := range tc.sends {
				r := h.produceOne(kproc.Token(10+i), seqBatch(s.pid, s.first, s.n))
				got = append(got, fmt.Sprintf("%s@%d", r.Error, r.BaseOffset))
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("answers %v, want %v", got, tc.want)
			}
			if dups := duplicateValues(h.b.Read(tp0, 0, 100)); (len(dups) > 0) != tc.dups {
				t.Fatalf("duplicates in the log: %v (want some: %v)", dups, tc.dups)
			}
		})
	}
	t.Run("invalid batch", func(t *testing.T) {
		h := newHarness(t, 1, nil)
		h.start(0x100)
		h.step(kproc.RPCIn{Token: 1, Req: lai(1, 0x100, 1, 0, 1)})
		h.answers()
		r := h.produceOne(2, []proto.Entry{{ProducerID: 7, Sequence: 0}, {ProducerID: 7, Sequence: 2}})
		if r.Error != proto.InvalidRecord || len(h.b.Read(tp0, 0, 10)) != 0 {
			t.Fatalf("answer %+v, log %v", r, h.b.Read(tp0, 0, 10))
		}
	})
}

// TestFollowerLearnsProducerState: a follower that becomes leader answers
// a retry of a batch it only replicated with the batch's original offset.
func TestFollowerLearnsProducerState(t *testing.T) {
	h := newHarness(t, 2, nil)
	h.start(0x100)
	h.step(kproc.RPCIn{Token: 1, Req: lai(1, 0x100, 1, 0, 1, 2)})
	fetch := find[kproc.Send](h)
	h.answers()
	if fetch.Req.Kind() != proto.KindFetch {
		t.Fatalf("follower sent %s first", fetch.Req.Kind())
	}
	recs := []proto.Record{}
	for i, e := range append(seqBatch(7, 0, 2), seqBatch(7, 2, 2)...) {
		recs = append(recs, proto.Record{Offset: int64(i), ProducerID: e.ProducerID, Sequence: e.Sequence, Value: e.Value})
	}
	h.step(kproc.RPCResult{Req: fetch.ID, Resp: &proto.FetchResponse{Partitions: []proto.FetchPartitionResponse{{TopicPartition: tp0, HighWatermark: 4, LogEndOffset: 4, Records: recs}}}})
	// Broker 1 fails; broker 2 leads at epoch 1 and the producer retries
	// its second batch, whose first answer it never got.
	h.step(kproc.RPCIn{Token: 2, Req: lai(2, 0x100, 2, 1, 2)})
	h.answers()
	if r := h.produceOne(3, seqBatch(7, 2, 2)); r.Error != proto.None || r.BaseOffset != 2 {
		t.Fatalf("retry answered %s@%d, want NONE@2", r.Error, r.BaseOffset)
	}
	if n := len(h.b.Read(tp0, 0, 10)); n != 4 {
		t.Fatalf("log holds %d records, want 4", n)
	}
}
