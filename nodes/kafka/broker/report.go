package broker

import (
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/sim"
)

// Trace kinds of the broker's reports.
const (
	KindRegistered       = "kafka.broker.registered"
	KindSessionReinit    = "kafka.broker.session-reinitialized"
	KindFatal            = "kafka.broker.fatal"
	KindRequestApplied   = "kafka.broker.request-applied"
	KindRequestRejected  = "kafka.broker.request-rejected"
	KindPartitionApplied = "kafka.broker.partition-applied"
	KindIsrChanged       = "kafka.broker.isr-changed"
	KindIsrWriteFailed   = "kafka.broker.isr-write-failed"
	KindTruncated        = "kafka.broker.truncated"
	KindEpochOutOfOrder  = "kafka.broker.epoch-out-of-order"
	KindShutdown         = "kafka.broker.controlled-shutdown"
	KindProducerBatch    = "kafka.broker.producer-batch"
)

// Registered: the broker's /brokers/ids/<id> exists for its current
// session, with BrokerEpoch its czxid (PreviousEpoch is
// kafkazk.NoBrokerEpoch at the first registration of an incarnation).
type Registered struct {
	kproc.Report
	Broker        int32
	BrokerEpoch   int64
	PreviousEpoch int64
}

// SessionReinitialized: the broker's session expired and a new one was
// started; it registers again.
type SessionReinitialized struct {
	kproc.Report
	Broker int32
}

// Fatal: an unrecoverable error; the broker exits.
type Fatal struct {
	kproc.Report
	Broker int32
	Why    string
}

// RequestApplied: the broker accepted a controller request (LeaderAndIsr,
// UpdateMetadata, StopReplica) of ControllerEpoch.
type RequestApplied struct {
	kproc.Report
	Broker          int32
	API             string
	ControllerID    int32
	ControllerEpoch int32
	Partitions      int
}

// RequestRejected: the broker refused a controller request as stale.
type RequestRejected struct {
	kproc.Report
	Broker          int32
	API             string
	ControllerID    int32
	ControllerEpoch int32 // the request's
	KnownEpoch      int32 // the broker's newest
	BrokerEpoch     int64 // the request's
	Error           proto.ErrorCode
}

// PartitionApplied: the broker took a partition's new leader epoch from a
// LeaderAndIsr: it leads it (Leader == Broker) or follows.
type PartitionApplied struct {
	kproc.Report
	Broker      int32
	TP          proto.TopicPartition
	Leader      int32
	LeaderEpoch int32
	ISR         []int32
}

// IsrChanged: the leader wrote a new ISR to the partition state znode.
type IsrChanged struct {
	kproc.Report
	Broker      int32
	TP          proto.TopicPartition
	LeaderEpoch int32
	ISR         []int32
	ZkVersion   int32
	Shrink      bool
}

// IsrWriteFailed: the leader's conditional ISR write met another zkVersion
// (the controller changed the state): the leader keeps its ISR and waits
// for the controller's LeaderAndIsr (Partition.updateIsr's "cached
// zkVersion not equal" path).
type IsrWriteFailed struct {
	kproc.Report
	Broker int32
	TP     proto.TopicPartition
	Err    string
}

// Truncated: a follower truncated its log to follow a new leader.
type Truncated struct {
	kproc.Report
	Broker        int32
	TP            proto.TopicPartition
	From, To      int64
	LeaderEpoch   int32
	ByLeaderEpoch bool
}

// ProducerBatch: the leader did not append an idempotent producer's batch:
// it was a duplicate (Error NONE, answered with the offset DuplicateOf it
// was first appended at) or its sequence was refused (Error
// OUT_OF_ORDER_SEQUENCE_NUMBER, UNKNOWN_PRODUCER_ID, INVALID_RECORD).
type ProducerBatch struct {
	kproc.Report
	Broker      int32
	TP          proto.TopicPartition
	ProducerID  int64
	FirstSeq    int32
	Records     int
	Error       proto.ErrorCode
	DuplicateOf int64 // -1 unless a duplicate
	Why         string
}

// EpochOutOfOrder: a follower appended records whose leader epoch (or
// start offset) is below its epoch cache's latest entry. Kafka 2.6 logs a
// warning ("This implies messages have arrived out of order",
// `LeaderEpochFileCache.validateAndMaybeWarn`) and appends them; the cache
// drops the entries the new one conflicts with. Records below the append
// may differ from the leader's at the same offsets (see
// log.OutOfOrderEpoch).
type EpochOutOfOrder struct {
	kproc.Report
	Broker int32
	TP     proto.TopicPartition
	// Epoch began at StartOffset, per the records appended.
	Epoch       int32
	StartOffset int64
	// LatestEpoch began at LatestStartOffset: the cache's latest entry
	// before the append.
	LatestEpoch       int32
	LatestStartOffset int64
}

// ControlledShutdown: a step of the broker's controlled shutdown.
type ControlledShutdown struct {
	kproc.Report
	Broker    int32
	Attempt   int
	Remaining int
	Done      bool
}

func (Registered) TraceKind() string           { return KindRegistered }
func (SessionReinitialized) TraceKind() string { return KindSessionReinit }
func (Fatal) TraceKind() string                { return KindFatal }
func (RequestApplied) TraceKind() string       { return KindRequestApplied }
func (RequestRejected) TraceKind() string      { return KindRequestRejected }
func (PartitionApplied) TraceKind() string     { return KindPartitionApplied }
func (IsrChanged) TraceKind() string           { return KindIsrChanged }
func (IsrWriteFailed) TraceKind() string       { return KindIsrWriteFailed }
func (Truncated) TraceKind() string            { return KindTruncated }
func (EpochOutOfOrder) TraceKind() string      { return KindEpochOutOfOrder }
func (ControlledShutdown) TraceKind() string   { return KindShutdown }
func (ProducerBatch) TraceKind() string        { return KindProducerBatch }

func (r Registered) TraceRecord() (string, []sim.Attr) {
	return "registered", []sim.Attr{sim.Int("broker", int64(r.Broker)), sim.Hex("broker_epoch", uint64(r.BrokerEpoch)), sim.Int("previous_epoch", r.PreviousEpoch)}
}
func (r SessionReinitialized) TraceRecord() (string, []sim.Attr) {
	return "session re-initialised", []sim.Attr{sim.Int("broker", int64(r.Broker))}
}
func (r Fatal) TraceRecord() (string, []sim.Attr) {
	return r.Why, []sim.Attr{sim.Int("broker", int64(r.Broker))}
}
func (r RequestApplied) TraceRecord() (string, []sim.Attr) {
	return r.API, []sim.Attr{sim.Int("broker", int64(r.Broker)), sim.Int("controller", int64(r.ControllerID)), sim.Int("controller_epoch", int64(r.ControllerEpoch)), sim.Int("partitions", int64(r.Partitions))}
}
func (r RequestRejected) TraceRecord() (string, []sim.Attr) {
	return r.API, []sim.Attr{sim.Int("broker", int64(r.Broker)), sim.Int("controller", int64(r.ControllerID)), sim.Int("controller_epoch", int64(r.ControllerEpoch)), sim.Int("known_epoch", int64(r.KnownEpoch)), sim.Str("error", r.Error.String())}
}
func (r PartitionApplied) TraceRecord() (string, []sim.Attr) {
	return r.TP.String(), []sim.Attr{sim.Int("broker", int64(r.Broker)), sim.Int("leader", int64(r.Leader)), sim.Int("leader_epoch", int64(r.LeaderEpoch)), sim.Str("isr", formatIDs(r.ISR))}
}
func (r IsrChanged) TraceRecord() (string, []sim.Attr) {
	return r.TP.String(), []sim.Attr{sim.Int("broker", int64(r.Broker)), sim.Int("leader_epoch", int64(r.LeaderEpoch)), sim.Str("isr", formatIDs(r.ISR)), sim.Int("zk_version", int64(r.ZkVersion)), sim.Bool("shrink", r.Shrink)}
}
func (r IsrWriteFailed) TraceRecord() (string, []sim.Attr) {
	return r.TP.String(), []sim.Attr{sim.Int("broker", int64(r.Broker)), sim.Str("err", r.Err)}
}
func (r Truncated) TraceRecord() (string, []sim.Attr) {
	return r.TP.String(), []sim.Attr{sim.Int("broker", int64(r.Broker)), sim.Int("from", r.From), sim.Int("to", r.To), sim.Int("leader_epoch", int64(r.LeaderEpoch)), sim.Bool("by_leader_epoch", r.ByLeaderEpoch)}
}
func (r EpochOutOfOrder) TraceRecord() (string, []sim.Attr) {
	return r.TP.String(), []sim.Attr{sim.Int("broker", int64(r.Broker)), sim.Int("epoch", int64(r.Epoch)), sim.Int("start_offset", r.StartOffset),
		sim.Int("latest_epoch", int64(r.LatestEpoch)), sim.Int("latest_start_offset", r.LatestStartOffset)}
}
func (r ControlledShutdown) TraceRecord() (string, []sim.Attr) {
	return "controlled shutdown", []sim.Attr{sim.Int("broker", int64(r.Broker)), sim.Int("attempt", int64(r.Attempt)), sim.Int("remaining", int64(r.Remaining)), sim.Bool("done", r.Done)}
}

func (r ProducerBatch) TraceRecord() (string, []sim.Attr) {
	what := "duplicate"
	if r.Error != proto.None {
		what = r.Why
	}
	return what, []sim.Attr{sim.Int("broker", int64(r.Broker)), sim.Str("tp", r.TP.String()), sim.Int("producer_id", r.ProducerID),
		sim.Int("first_seq", int64(r.FirstSeq)), sim.Int("records", int64(r.Records)), sim.Str("error", r.Error.String()), sim.Int("duplicate_of", r.DuplicateOf)}
}

func formatIDs(ids []int32) string {
	b := []byte{'['}
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, itoa(id)...)
	}
	return string(append(b, ']'))
}
