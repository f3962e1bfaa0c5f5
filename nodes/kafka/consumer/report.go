package consumer

import (
	"strings"

	"github.com/kzsim/kzsim/nodes/kafka/history"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/sim"
)

// Trace kinds of the consumer's reports.
const (
	KindRegistered         = "kafka.consumer.registered"
	KindRegistrationFailed = "kafka.consumer.registration-failed"
	KindRebalanceStarted   = "kafka.consumer.rebalance-started"
	KindRebalanceRetry     = "kafka.consumer.rebalance-retry"
	KindRebalanceEnded     = "kafka.consumer.rebalance-ended"
	KindRebalanceFailed    = "kafka.consumer.rebalance-failed"
	KindFetching           = "kafka.consumer.fetching"
	KindDelivered          = "kafka.consumer.delivered"
	KindCommitted          = "kafka.consumer.committed"
	KindCommitFailed       = "kafka.consumer.commit-failed"
	KindOffsetReset        = "kafka.consumer.offset-reset"
	KindPastHighWatermark  = "kafka.consumer.past-high-watermark"
)

// Registered: /consumers/<group>/ids/<consumerId> exists for the current
// session (Again after a session expiry).
type Registered struct {
	kproc.Report
	Group, ConsumerID string
	Again             bool
}

// RegistrationFailed: the registration could not be created (an older
// node in the way, under Era09); the consumer exits, as an application
// whose createMessageStreams threw.
type RegistrationFailed struct {
	kproc.Report
	Group, ConsumerID, Why string
}

// RebalanceStarted: a syncedRebalance begins (Reason: what triggered it).
type RebalanceStarted struct {
	kproc.Report
	Group, ConsumerID, Reason string
}

// RebalanceRetry: an attempt failed (Why); the next comes after Backoff.
// Conflicts are the partitions whose owner znode another thread still held.
type RebalanceRetry struct {
	kproc.Report
	Group, ConsumerID string
	Attempt           int
	Why               string
	Conflicts         []proto.TopicPartition
	Backoff           sim.Duration
}

// RebalanceEnded: an attempt succeeded; Owned is this consumer's share,
// claimed, in (topic, partition) order (NoBrokers: there was no broker, so
// nothing was touched, as KAFKA-969's case).
type RebalanceEnded struct {
	kproc.Report
	Group, ConsumerID string
	Attempts          int
	Owned             []proto.TopicPartition
	NoBrokers         bool
}

// RebalanceFailed: every attempt failed (ConsumerRebalanceFailedException);
// the consumer owns and fetches nothing until the next change it watches.
type RebalanceFailed struct {
	kproc.Report
	Group, ConsumerID string
	Attempts          int
}

// Fetching: after a rebalance, every partition it gave has a fetcher at
// its leader (for a rebalance's duration: from a membership change to every
// partition owned and fetching).
type Fetching struct {
	kproc.Report
	Group, ConsumerID string
	Partitions        int
}

// Delivered: one message handed to the application.
type Delivered struct {
	kproc.Report
	Group, ConsumerID, Thread string
	TP                        proto.TopicPartition
	Offset                    int64
	Key, Value                uint64
}

// Committed: Offset (the next to deliver) was written to
// /consumers/<group>/offsets/<topic>/<partition>.
type Committed struct {
	kproc.Report
	Group, ConsumerID string
	TP                proto.TopicPartition
	Offset            int64
}

// CommitFailed: a commit's write failed (the rest of that commit's writes
// may have gone through).
type CommitFailed struct {
	kproc.Report
	Group, ConsumerID string
	TP                proto.TopicPartition
	Why               string
}

// OffsetReset: a partition had no committed offset (From −1) or its
// offset was out of range, and auto.offset.reset moved it to To.
type OffsetReset struct {
	kproc.Report
	Group, ConsumerID string
	TP                proto.TopicPartition
	From, To          int64
	Policy            Reset
}

// PastHighWatermark: a broker answered a consumer fetch with a record at or
// beyond the high watermark it gave; the record is not delivered. Kafka's
// brokers never do (consumers read committed records only): this report
// is a check's.
type PastHighWatermark struct {
	kproc.Report
	Group, ConsumerID     string
	TP                    proto.TopicPartition
	Offset, HighWatermark int64
}

// HistoryOp returns the delivery's history line for process at now.
func (r Delivered) HistoryOp(process string, now sim.Time) history.Op {
	return history.Op{Type: history.OK, F: history.Poll, Process: process, Group: r.Group, Topic: r.TP.Topic,
		Partition: r.TP.Partition, Offset: r.Offset, Value: r.Value, TimeNs: int64(now)}
}

// HistoryOp returns the commit's history line for process at now.
func (r Committed) HistoryOp(process string, now sim.Time) history.Op {
	return history.Op{Type: history.OK, F: history.Commit, Process: process, Group: r.Group, Topic: r.TP.Topic,
		Partition: r.TP.Partition, Offset: r.Offset, TimeNs: int64(now)}
}

func tpList(tps []proto.TopicPartition) string {
	var b strings.Builder
	for i, tp := range tps {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(tp.String())
	}
	return b.String()
}

func (Registered) TraceKind() string         { return KindRegistered }
func (RegistrationFailed) TraceKind() string { return KindRegistrationFailed }
func (RebalanceStarted) TraceKind() string   { return KindRebalanceStarted }
func (RebalanceRetry) TraceKind() string     { return KindRebalanceRetry }
func (RebalanceEnded) TraceKind() string     { return KindRebalanceEnded }
func (RebalanceFailed) TraceKind() string    { return KindRebalanceFailed }
func (Fetching) TraceKind() string           { return KindFetching }
func (Delivered) TraceKind() string          { return KindDelivered }
func (Committed) TraceKind() string          { return KindCommitted }
func (CommitFailed) TraceKind() string       { return KindCommitFailed }
func (OffsetReset) TraceKind() string        { return KindOffsetReset }
func (PastHighWatermark) TraceKind() string  { return KindPastHighWatermark }

// TraceRecord implements kproc.Traced.
func (r Registered) TraceRecord() (string, []sim.Attr) {
	return "registered", []sim.Attr{sim.Str("group", r.Group), sim.Str("consumer", r.ConsumerID), sim.Bool("again", r.Again)}
}

// TraceRecord implements kproc.Traced.
func (r RegistrationFailed) TraceRecord() (string, []sim.Attr) {
	return "registration-failed", []sim.Attr{sim.Str("group", r.Group), sim.Str("consumer", r.ConsumerID), sim.Str("why", r.Why)}
}

// TraceRecord implements kproc.Traced.
func (r RebalanceStarted) TraceRecord() (string, []sim.Attr) {
	return "rebalance", []sim.Attr{sim.Str("group", r.Group), sim.Str("consumer", r.ConsumerID), sim.Str("reason", r.Reason)}
}

// TraceRecord implements kproc.Traced.
func (r RebalanceRetry) TraceRecord() (string, []sim.Attr) {
	return "retry", []sim.Attr{sim.Str("group", r.Group), sim.Str("consumer", r.ConsumerID), sim.Int("attempt", r.Attempt),
		sim.Str("why", r.Why), sim.Str("conflicts", tpList(r.Conflicts)), sim.Dur("backoff", r.Backoff)}
}

// TraceRecord implements kproc.Traced.
func (r RebalanceEnded) TraceRecord() (string, []sim.Attr) {
	return "rebalanced", []sim.Attr{sim.Str("group", r.Group), sim.Str("consumer", r.ConsumerID), sim.Int("attempts", r.Attempts),
		sim.Str("owned", tpList(r.Owned)), sim.Bool("no_brokers", r.NoBrokers)}
}

// TraceRecord implements kproc.Traced.
func (r RebalanceFailed) TraceRecord() (string, []sim.Attr) {
	return "rebalance-failed", []sim.Attr{sim.Str("group", r.Group), sim.Str("consumer", r.ConsumerID), sim.Int("attempts", r.Attempts)}
}

// TraceRecord implements kproc.Traced.
func (r Fetching) TraceRecord() (string, []sim.Attr) {
	return "fetching", []sim.Attr{sim.Str("group", r.Group), sim.Str("consumer", r.ConsumerID), sim.Int("partitions", r.Partitions)}
}

// TraceRecord implements kproc.Traced.
func (r Delivered) TraceRecord() (string, []sim.Attr) {
	return "delivered", []sim.Attr{sim.Str("group", r.Group), sim.Str("consumer", r.ConsumerID), sim.Str("topic", r.TP.Topic),
		sim.Int("partition", r.TP.Partition), sim.Int("offset", r.Offset), sim.Hex("value", r.Value)}
}

// TraceRecord implements kproc.Traced.
func (r Committed) TraceRecord() (string, []sim.Attr) {
	return "committed", []sim.Attr{sim.Str("group", r.Group), sim.Str("consumer", r.ConsumerID), sim.Str("topic", r.TP.Topic),
		sim.Int("partition", r.TP.Partition), sim.Int("offset", r.Offset)}
}

// TraceRecord implements kproc.Traced.
func (r CommitFailed) TraceRecord() (string, []sim.Attr) {
	return "commit-failed", []sim.Attr{sim.Str("group", r.Group), sim.Str("consumer", r.ConsumerID), sim.Str("topic", r.TP.Topic),
		sim.Int("partition", r.TP.Partition), sim.Str("why", r.Why)}
}

// TraceRecord implements kproc.Traced.
func (r OffsetReset) TraceRecord() (string, []sim.Attr) {
	return "offset-reset", []sim.Attr{sim.Str("group", r.Group), sim.Str("consumer", r.ConsumerID), sim.Str("topic", r.TP.Topic),
		sim.Int("partition", r.TP.Partition), sim.Int("from", r.From), sim.Int("to", r.To), sim.Str("policy", string(r.Policy))}
}

// TraceRecord implements kproc.Traced.
func (r PastHighWatermark) TraceRecord() (string, []sim.Attr) {
	return "past-high-watermark", []sim.Attr{sim.Str("group", r.Group), sim.Str("consumer", r.ConsumerID), sim.Str("topic", r.TP.Topic),
		sim.Int("partition", r.TP.Partition), sim.Int("offset", r.Offset), sim.Int("high_watermark", r.HighWatermark)}
}
