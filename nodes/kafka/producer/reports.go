package producer

import (
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/sim"
)

// Trace kinds of the producer's reports.
const (
	KindInvoke  = "kafka.producer.invoke"
	KindOK      = "kafka.producer.ok"
	KindFail    = "kafka.producer.fail"
	KindInfo    = "kafka.producer.info"
	KindView    = "kafka.producer.view"
	KindStarted = "kafka.producer.started"
	KindReset   = "kafka.producer.sequence-reset"
)

// Message is one send as the history names it.
type Message struct {
	Topic string
	Keyed bool   // false: the message has no key (Key is 0)
	Key   uint64 // the key id (partition.KeyString gives its String)
	Value uint64 // Index<<40 | n: unique per run
	At    sim.Time
}

func (m Message) attrs(extra ...sim.Attr) []sim.Attr {
	a := []sim.Attr{sim.Str("topic", m.Topic), sim.Bool("keyed", m.Keyed), sim.Int("key", int64(m.Key)), sim.Hex("value", int64(m.Value))}
	return append(a, extra...)
}

// Invoked: a send began (a history "invoke").
type Invoked struct {
	kproc.Report
	Message
}

// Acked: the send was acknowledged at Partition and Offset by Broker at
// Host (a history "ok"). Under Layout07 a partition is the pair (Broker,
// Partition), named "<Broker>-<Partition>" as 0.7's consumers name it.
// Attempts counts the requests it took.
type Acked struct {
	kproc.Report
	Message
	Partition int32
	Offset    int64
	Broker    int32 // -1 for DiscoveryStatic, which knows only a host
	Host      string
	Attempts  int
}

// Failed: the send certainly did not write the message (a history "fail"):
// every attempt got a definite error; Err is the last.
type Failed struct {
	kproc.Report
	Message
	Err      string
	Attempts int
}

// Unknown: the send's outcome is unknown (a history "info"): an attempt
// timed out, lost its connection after sending, or was appended without its
// acks (NOT_ENOUGH_REPLICAS_AFTER_APPEND, REQUEST_TIMED_OUT), or acks=0
// gave no answer; Why is the reason.
type Unknown struct {
	kproc.Report
	Message
	Why      string
	Attempts int
}

// SequenceReset: the idempotent producer starts a partition's sequences
// again at 0, sent as ProducerID (see Config.ProducerID), because Why.
type SequenceReset struct {
	kproc.Report
	TP         proto.TopicPartition
	ProducerID int64
	Why        string
}

// Started: the producer picked its target (static) or began discovery.
type Started struct {
	kproc.Report
	Discovery Discovery
	Target    string // DiscoveryStatic: the one broker host
}

// ViewChanged: the producer's view of the cluster changed (a metadata
// answer, a ZooKeeper read).
type ViewChanged struct {
	kproc.Report
	Cause      string
	Brokers    int
	Partitions int
	Leaderless int
}

func (r Invoked) TraceKind() string                 { return KindInvoke }
func (r Invoked) TraceRecord() (string, []sim.Attr) { return "invoke", r.attrs() }
func (r Acked) TraceKind() string                   { return KindOK }
func (r Unknown) TraceKind() string                 { return KindInfo }
func (r Failed) TraceKind() string                  { return KindFail }
func (r Started) TraceKind() string                 { return KindStarted }
func (r ViewChanged) TraceKind() string             { return KindView }
func (r SequenceReset) TraceKind() string           { return KindReset }
func (r SequenceReset) TraceRecord() (string, []sim.Attr) {
	return r.Why, []sim.Attr{sim.Str("tp", r.TP.String()), sim.Int("producer_id", r.ProducerID)}
}
func (r Acked) TraceRecord() (string, []sim.Attr) {
	return "ok", r.attrs(sim.Int("partition", r.Partition), sim.Int("offset", r.Offset), sim.Int("broker", r.Broker), sim.Str("host", r.Host), sim.Int("attempts", r.Attempts))
}
func (r Failed) TraceRecord() (string, []sim.Attr) {
	return "fail", r.attrs(sim.Str("err", r.Err), sim.Int("attempts", r.Attempts))
}
func (r Unknown) TraceRecord() (string, []sim.Attr) {
	return "info", r.attrs(sim.Str("why", r.Why), sim.Int("attempts", r.Attempts))
}
func (r Started) TraceRecord() (string, []sim.Attr) {
	return r.Discovery.String(), []sim.Attr{sim.Str("target", r.Target)}
}
func (r ViewChanged) TraceRecord() (string, []sim.Attr) {
	return r.Cause, []sim.Attr{sim.Int("brokers", r.Brokers), sim.Int("partitions", r.Partitions), sim.Int("leaderless", r.Leaderless)}
}
