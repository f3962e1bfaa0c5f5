package producer

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	klog "github.com/kzsim/kzsim/nodes/kafka/log"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// fakeLeader answers produce requests from real logs with the leader's
// producer-state checks (as broker.replicaManager.appendChecked does).
type fakeLeader struct {
	logs   map[proto.TopicPartition]*klog.Log
	dedupe bool
}

func newFakeLeader() *fakeLeader {
	return &fakeLeader{logs: map[proto.TopicPartition]*klog.Log{}, dedupe: true}
}

func (f *fakeLeader) log(tp proto.TopicPartition) *klog.Log {
	if f.logs[tp] == nil {
		f.logs[tp] = klog.New()
	}
	return f.logs[tp]
}

func (f *fakeLeader) answer(s kproc.Send) kproc.RPCResult {
	req := s.Req.(*proto.ProduceRequest)
	resp := &proto.ProduceResponse{}
	for _, pp := range req.Partitions {
		l := f.log(pp.TopicPartition)
		r := proto.ProducePartitionResponse{TopicPartition: pp.TopicPartition, BaseOffset: -1}
		var dup klog.Duplicate
		var isDup bool
		var err error
		if f.dedupe {
			dup, isDup, err = l.AnalyzeProducer(pp.Entries)
		}
		switch {
		case errors.Is(err, klog.ErrOutOfOrderSequence):
			r.Error = proto.OutOfOrderSequenceNumber
		case errors.Is(err, klog.ErrUnknownProducerID):
			r.Error = proto.UnknownProducerID
		case err != nil:
			r.Error = proto.InvalidRecord
		case isDup:
			r.BaseOffset = dup.First
		default:
			r.BaseOffset, _, _ = l.AppendAsLeader(0, pp.Entries)
		}
		resp.Partitions = append(resp.Partitions, r)
	}
	return kproc.RPCResult{Req: s.ID, Resp: resp}
}

// values lists a log's values, and those at two offsets.
func (f *fakeLeader) values(tp proto.TopicPartition) (all []uint64, twice []uint64) {
	recs, _ := f.log(tp).Read(0, klog.MaxReadRecords)
	seen := map[uint64]bool{}
	for _, r := range recs {
		all = append(all, r.Value)
		if seen[r.Value] {
			twice = append(twice, r.Value)
		}
		seen[r.Value] = true
	}
	return all, twice
}

// entriesOf prints a send's entries as pid/seq pairs.
func entriesOf(s kproc.Send) string {
	var b []string
	for _, pp := range s.Req.(*proto.ProduceRequest).Partitions {
		for _, e := range pp.Entries {
			b = append(b, fmt.Sprintf("%d/%d", e.ProducerID, e.Sequence))
		}
	}
	return strings.Join(b, " ")
}

// oneProduce returns the one produce request among effects.
func oneProduce(t *testing.T, effects []kproc.Effect) kproc.Send {
	t.Helper()
	ss := produces(effects)
	if len(ss) != 1 {
		t.Fatalf("want one produce, got %d in %v", len(ss), effects)
	}
	return ss[0]
}

var tp0 = proto.TopicPartition{Topic: "t", Partition: 0}

func idempotentHarness(t *testing.T, tweak func(*Config)) *harness {
	return newHarness(t, DiscoveryStatic, func(c *Config) {
		c.Idempotent, c.ProducerID, c.StaticPartitions, c.BatchMax = true, 7, 1, 2
		if tweak != nil {
			tweak(c)
		}
	})
}

// TestIdempotentRetryAfterALostAnswer: the leader appended a batch whose
// answer was lost; the retry is the same batch alone (not merged with the
// messages made meanwhile), the leader answers it with the first offsets,
// and the log holds each value once. Without the leader's check
// (BugNoProducerDedupe's stand-in) the log holds the batch twice.
func TestIdempotentRetryAfterALostAnswer(t *testing.T) {
	for _, dedupe := range []bool{true, false} {
		t.Run(fmt.Sprintf("dedupe=%v", dedupe), func(t *testing.T) {
			h := idempotentHarness(t, func(c *Config) { c.MaxInFlight = 1 })
			f := newFakeLeader()
			f.dedupe = dedupe
			first := oneProduce(t, h.produce(1))
			if n := len(produces(h.produce(1))); n != 0 {
				t.Fatalf("%d sends with the one request slot taken", n)
			}
			f.answer(first) // appended; the answer is lost
			if n := len(produces(h.step(kproc.RPCResult{Req: first.ID, Err: rpc.ErrTimeout}))); n != 0 {
				t.Fatalf("%d sends while the partition's first batch backs off", n)
			}
			if n := len(produces(h.produce(1))); n != 0 {
				t.Fatalf("%d sends while the partition's first batch backs off", n)
			}
			retry := oneProduce(t, h.advance(DefaultRetryBackoff))
			if got, want := entriesOf(retry), entriesOf(first); got != want {
				t.Fatalf("retry sent %s, first %s", got, want)
			}
			acks := all[Acked](h.step(f.answer(retry)))
			next := oneProduce(t, h.out)
			if got := entriesOf(next); got != "7/1 7/2" {
				t.Fatalf("next batch %s, want 7/1 7/2", got)
			}
			acks = append(acks, all[Acked](h.step(f.answer(next)))...)
			var offsets []int64
			for _, a := range acks {
				offsets = append(offsets, a.Offset)
			}
			vals, twice := f.values(tp0)
			if dedupe {
				if fmt.Sprint(offsets) != "[0 1 2]" || len(vals) != 3 || len(twice) != 0 {
					t.Fatalf("acked at %v; log %v (twice %v)", offsets, vals, twice)
				}
				return
			}
			if len(twice) != 1 {
				t.Fatalf("without dedupe the log should hold the batch twice: %v", vals)
			}
		})
	}
}

// TestIdempotentOutOfOrder: the producer's answers to the leader's
// sequence errors (Kafka 2.6 TransactionManager.canRetry).
func TestIdempotentOutOfOrder(t *testing.T) {
	t.Run("later batches are retried after the failed one, in order, with their sequences", func(t *testing.T) {
		h := idempotentHarness(t, func(c *Config) { c.BatchMax = 1 })
		f := newFakeLeader()
		sends := produces(h.produce(3))
		if len(sends) != 3 {
			t.Fatalf("%d sends", len(sends))
		}
		h.step(answerCode(sends[0], proto.NotLeaderForPartition))
		for _, s := range sends[1:] {
			if code := f.answer(s).Resp.(*proto.ProduceResponse).Partitions[0].Error; code != proto.UnknownProducerID {
				t.Fatalf("leader answered %s, want UNKNOWN_PRODUCER_ID", code)
			}
			h.step(f.answer(s))
			if n := len(all[SequenceReset](h.out)); n != 0 {
				t.Fatal("sequences started again for a batch that was not the next")
			}
		}
		var sent []string
		for _, s := range produces(h.advance(DefaultRetryBackoff)) {
			sent = append(sent, entriesOf(s))
			if n := len(all[Acked](h.step(f.answer(s)))); n != 1 {
				t.Fatalf("%d acked", n)
			}
		}
		if got := strings.Join(sent, ", "); got != "7/0, 7/1, 7/2" {
			t.Fatalf("retries %s, want each batch again, in order", got)
		}
		if vals, twice := f.values(tp0); len(vals) != 3 || len(twice) != 0 {
			t.Fatalf("log %v", vals)
		}
	})
	t.Run("a real gap starts the sequences again", func(t *testing.T) {
		h := idempotentHarness(t, func(c *Config) { c.BatchMax = 1 })
		f := newFakeLeader()
		for range 2 {
			s := oneProduce(t, h.produce(1))
			h.step(f.answer(s))
		}
		f.log(tp0).TruncateTo(1) // an unclean leader lost acknowledged sequence 1
		s := oneProduce(t, h.produce(1))
		h.step(f.answer(s))
		reset := one[SequenceReset](t, h.out)
		if reset.ProducerID != 7+1<<40 {
			t.Fatalf("reset to producer id %d", reset.ProducerID)
		}
		again := oneProduce(t, h.advance(DefaultRetryBackoff))
		if got := entriesOf(again); got != fmt.Sprintf("%d/0", 7+1<<40) {
			t.Fatalf("retry %s, want the new producer id at sequence 0", got)
		}
		if a := one[Acked](t, h.step(f.answer(again))); a.Offset != 1 {
			t.Fatalf("acked at %d", a.Offset)
		}
	})
	t.Run("a batch behind an acknowledged sequence was written: unknown, not retried", func(t *testing.T) {
		h := idempotentHarness(t, func(c *Config) { c.BatchMax = 1 })
		sends := produces(h.produce(2))
		if len(sends) != 2 {
			t.Fatalf("%d sends", len(sends))
		}
		h.step(ackAll(sends[1]))
		h.step(answerCode(sends[0], proto.OutOfOrderSequenceNumber))
		one[Unknown](t, h.out)
		if len(all[SequenceReset](h.out)) != 0 || len(produces(h.advance(DefaultRetryBackoff))) != 0 {
			t.Fatal("retried or started the sequences again")
		}
	})
	t.Run("a message that may have been written is not sent under a new number", func(t *testing.T) {
		h := idempotentHarness(t, func(c *Config) { c.BatchMax, c.MaxRetries, c.MaxInFlight = 1, 1, 1 })
		f := newFakeLeader()
		a := oneProduce(t, h.produce(1))
		h.step(f.answer(a))
		b := oneProduce(t, h.produce(1))
		h.step(kproc.RPCResult{Req: b.ID, Err: rpc.ErrTimeout}) // b may be written
		h.produce(1)                                            // c waits behind b
		b2 := oneProduce(t, h.advance(DefaultRetryBackoff))
		// b's second and last attempt is refused: given up, the sequences
		// start again; c is numbered again, b is not sent again.
		h.step(answerCode(b2, proto.NotLeaderForPartition))
		if u := one[Unknown](t, h.out); u.Value != b.Req.(*proto.ProduceRequest).Partitions[0].Entries[0].Value {
			t.Fatalf("unknown %v", u)
		}
		one[SequenceReset](t, h.out)
		c := oneProduce(t, h.out)
		if got := entriesOf(c); got != fmt.Sprintf("%d/0", 7+1<<40) {
			t.Fatalf("c sent as %s", got)
		}
	})
}

// TestIdempotentConfig: Kafka 2.6's constraints on an idempotent producer.
func TestIdempotentConfig(t *testing.T) {
	base := func() Config {
		return Config{Discovery: DiscoveryStatic, Topics: []string{"t"}, Bootstrap: []string{"b"}, StaticPartitions: 1, Rand: nil, Idempotent: true, ProducerID: 1}
	}
	for name, tc := range map[string]struct {
		tweak func(*Config)
		err   string
	}{
		"acks=1":        {func(c *Config) { c.Acks = proto.AcksLeader }, "needs acks=all"},
		"6 in flight":   {func(c *Config) { c.MaxInFlight = 6 }, "at most 5 requests in flight"},
		"no id":         {func(c *Config) { c.ProducerID = 0 }, "idempotent producer id 0"},
		"id too big":    {func(c *Config) { c.ProducerID = MaxProducerID + 1 }, "idempotent producer id"},
		"acks defaults": {func(c *Config) {}, ""},
	} {
		c := base()
		c.Rand = sim.NewRand(1)
		tc.tweak(&c)
		p, err := New(c)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.err == "" && p.Config().Acks != proto.AcksAll:
			t.Errorf("%s: acks %d, want all", name, p.Config().Acks)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want %q", name, err, tc.err)
		}
	}
}
