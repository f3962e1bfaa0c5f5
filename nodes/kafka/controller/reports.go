package controller

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/sim"
)

// Election kinds, as LeaderElected.Election names them.
const (
	ElectionInitial            = "initial"             // a new partition's first leader
	ElectionOffline            = "offline"             // broker failure, start-up
	ElectionUnclean            = "unclean"             // offline, leader outside the ISR
	ElectionReassign           = "reassign"            // end of a reassignment
	ElectionPreferred          = "preferred"           // preferred replica (admin or auto rebalance)
	ElectionControlledShutdown = "controlled-shutdown" // the leader is shutting down
)

// BecameController: this broker won the election at Epoch.
type BecameController struct {
	kproc.Report
	Epoch          int32
	EpochZkVersion int32
}

// ElectionLost: the election found Winner as controller (-1: none, when
// the znode vanished meanwhile).
type ElectionLost struct {
	kproc.Report
	Winner int32
}

// Resigned: the controller of Epoch stopped being active.
type Resigned struct {
	kproc.Report
	Epoch int32
}

// Fenced: a write failed its /controller_epoch check (ControllerMovedException).
type Fenced struct {
	kproc.Report
	Epoch          int32
	EpochZkVersion int32
}

// FailoverDone: onControllerFailover has handed LeaderAndIsr for every
// partition to the sender queues.
type FailoverDone struct {
	kproc.Report
	Epoch      int32
	Partitions int
	Offline    int
}

// BrokerAdded: a broker came up (or came back with a new epoch: Bounced).
type BrokerAdded struct {
	kproc.Report
	Broker      int32
	BrokerEpoch int64
	Bounced     bool
}

// BrokerRemoved: a broker's registration went (or was replaced: Bounced).
type BrokerRemoved struct {
	kproc.Report
	Broker  int32
	Bounced bool
}

// LeaderElected: a partition state write with a new leader succeeded.
type LeaderElected struct {
	kproc.Report
	Topic       string
	Partition   int32
	Leader      int32
	LeaderEpoch int32
	ISR         []int32
	ZkVersion   int32
	Election    string
}

// PartitionOffline: a partition has no live leader and none could be
// elected.
type PartitionOffline struct {
	kproc.Report
	Topic     string
	Partition int32
}

// ISRChanged: the controller wrote a partition state without electing
// (a replica going offline removed from the ISR, a leader epoch bump).
type ISRChanged struct {
	kproc.Report
	Topic       string
	Partition   int32
	Leader      int32
	LeaderEpoch int32
	ISR         []int32
	ZkVersion   int32
	Reason      string
}

// ControlRequestSent: a request was handed to a broker's sender queue.
type ControlRequestSent struct {
	kproc.Report
	Broker          int32
	API             string
	Partitions      int
	ControllerEpoch int32
}

// ControlRequestFailed: a send failed and will be retried after the
// back-off.
type ControlRequestFailed struct {
	kproc.Report
	Broker int32
	API    string
	Err    string
}

// EventFailed: an event ended with an error Kafka would log.
type EventFailed struct {
	kproc.Report
	Event string
	Err   string
}

// TopicCreated: the controller brought partitions of a topic online: a new
// topic's, or those added to an existing one.
type TopicCreated struct {
	kproc.Report
	Topic      string
	Partitions int // brought online
	Failed     int // whose state znode could not be created (they stay new)
}

// TopicDeleted: a topic's deletion completed.
type TopicDeleted struct {
	kproc.Report
	Topic string
}

// ReassignmentStarted: a partition's reassignment began (phase U).
type ReassignmentStarted struct {
	kproc.Report
	Topic     string
	Partition int32
	Target    []int32
}

// ReassignmentDone: a partition's reassignment completed (phase B).
type ReassignmentDone struct {
	kproc.Report
	Topic     string
	Partition int32
	Replicas  []int32
}

// ControlledShutdownHandled: a ControlledShutdown request was answered.
type ControlledShutdownHandled struct {
	kproc.Report
	Broker    int32
	Error     string
	Remaining int
}

// ints renders ids as "1,2,3" ("" for none).
func ints(s []int32) string {
	var b strings.Builder
	for i, v := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(v)))
	}
	return b.String()
}

func (BecameController) TraceKind() string          { return "kafka.controller.elected" }
func (ElectionLost) TraceKind() string              { return "kafka.controller.election-lost" }
func (Resigned) TraceKind() string                  { return "kafka.controller.resigned" }
func (Fenced) TraceKind() string                    { return "kafka.controller.fenced" }
func (FailoverDone) TraceKind() string              { return "kafka.controller.failover-done" }
func (BrokerAdded) TraceKind() string               { return "kafka.controller.broker-added" }
func (BrokerRemoved) TraceKind() string             { return "kafka.controller.broker-removed" }
func (LeaderElected) TraceKind() string             { return "kafka.controller.leader-elected" }
func (PartitionOffline) TraceKind() string          { return "kafka.controller.partition-offline" }
func (ISRChanged) TraceKind() string                { return "kafka.controller.isr-changed" }
func (ControlRequestSent) TraceKind() string        { return "kafka.controller.request-sent" }
func (ControlRequestFailed) TraceKind() string      { return "kafka.controller.request-failed" }
func (EventFailed) TraceKind() string               { return "kafka.controller.event-failed" }
func (TopicCreated) TraceKind() string              { return "kafka.controller.topic-created" }
func (TopicDeleted) TraceKind() string              { return "kafka.controller.topic-deleted" }
func (ReassignmentStarted) TraceKind() string       { return "kafka.controller.reassignment-started" }
func (ReassignmentDone) TraceKind() string          { return "kafka.controller.reassignment-done" }
func (ControlledShutdownHandled) TraceKind() string { return "kafka.controller.controlled-shutdown" }

func (r BecameController) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("became controller at epoch %d", r.Epoch), []sim.Attr{sim.Int("epoch", r.Epoch), sim.Int("epoch_zk_version", r.EpochZkVersion)}
}
func (r ElectionLost) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("controller is %d", r.Winner), []sim.Attr{sim.Int("winner", r.Winner)}
}
func (r Resigned) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("resigned at epoch %d", r.Epoch), []sim.Attr{sim.Int("epoch", r.Epoch)}
}
func (r Fenced) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("fenced: /controller_epoch moved past version %d", r.EpochZkVersion), []sim.Attr{sim.Int("epoch", r.Epoch), sim.Int("epoch_zk_version", r.EpochZkVersion)}
}
func (r FailoverDone) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("failover done at epoch %d: %d partitions", r.Epoch, r.Partitions),
		[]sim.Attr{sim.Int("epoch", r.Epoch), sim.Int("partitions", r.Partitions), sim.Int("offline", r.Offline)}
}
func (r BrokerAdded) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("broker %d up", r.Broker), []sim.Attr{sim.Int("broker", r.Broker), sim.Hex("broker_epoch", r.BrokerEpoch), sim.Bool("bounced", r.Bounced)}
}
func (r BrokerRemoved) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("broker %d down", r.Broker), []sim.Attr{sim.Int("broker", r.Broker), sim.Bool("bounced", r.Bounced)}
}
func (r LeaderElected) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("%s-%d leader %d epoch %d (%s)", r.Topic, r.Partition, r.Leader, r.LeaderEpoch, r.Election),
		[]sim.Attr{sim.Str("topic", r.Topic), sim.Int("partition", r.Partition), sim.Int("leader", r.Leader), sim.Int("leader_epoch", r.LeaderEpoch),
			sim.Str("isr", ints(r.ISR)), sim.Int("zk_version", r.ZkVersion), sim.Str("election", r.Election)}
}
func (r PartitionOffline) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("%s-%d offline", r.Topic, r.Partition), []sim.Attr{sim.Str("topic", r.Topic), sim.Int("partition", r.Partition)}
}
func (r ISRChanged) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("%s-%d isr %s epoch %d (%s)", r.Topic, r.Partition, ints(r.ISR), r.LeaderEpoch, r.Reason),
		[]sim.Attr{sim.Str("topic", r.Topic), sim.Int("partition", r.Partition), sim.Int("leader", r.Leader), sim.Int("leader_epoch", r.LeaderEpoch),
			sim.Str("isr", ints(r.ISR)), sim.Int("zk_version", r.ZkVersion), sim.Str("reason", r.Reason)}
}
func (r ControlRequestSent) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("%s to %d: %d partitions", r.API, r.Broker, r.Partitions),
		[]sim.Attr{sim.Int("broker", r.Broker), sim.Str("api", r.API), sim.Int("partitions", r.Partitions), sim.Int("controller_epoch", r.ControllerEpoch)}
}
func (r ControlRequestFailed) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("%s to %d failed: %s", r.API, r.Broker, r.Err), []sim.Attr{sim.Int("broker", r.Broker), sim.Str("api", r.API), sim.Str("err", r.Err)}
}
func (r EventFailed) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("%s failed: %s", r.Event, r.Err), []sim.Attr{sim.Str("event", r.Event), sim.Str("err", r.Err)}
}
func (r TopicCreated) TraceRecord() (string, []sim.Attr) {
	label := fmt.Sprintf("topic %s: %d partitions created", r.Topic, r.Partitions)
	if r.Failed > 0 {
		label += fmt.Sprintf(", %d failed", r.Failed)
	}
	return label, []sim.Attr{sim.Str("topic", r.Topic), sim.Int("partitions", r.Partitions), sim.Int("failed", r.Failed)}
}
func (r TopicDeleted) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("topic %s deleted", r.Topic), []sim.Attr{sim.Str("topic", r.Topic)}
}
func (r ReassignmentStarted) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("%s-%d reassigning to %s", r.Topic, r.Partition, ints(r.Target)),
		[]sim.Attr{sim.Str("topic", r.Topic), sim.Int("partition", r.Partition), sim.Str("target", ints(r.Target))}
}
func (r ReassignmentDone) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("%s-%d reassigned to %s", r.Topic, r.Partition, ints(r.Replicas)),
		[]sim.Attr{sim.Str("topic", r.Topic), sim.Int("partition", r.Partition), sim.Str("replicas", ints(r.Replicas))}
}
func (r ControlledShutdownHandled) TraceRecord() (string, []sim.Attr) {
	return fmt.Sprintf("controlled shutdown of %d: %s, %d remaining", r.Broker, r.Error, r.Remaining),
		[]sim.Attr{sim.Int("broker", r.Broker), sim.Str("error", r.Error), sim.Int("remaining", r.Remaining)}
}
