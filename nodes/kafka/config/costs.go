package config

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/kzsim/kzsim/sim"
)

// Costs is the processing time of the simulated Kafka processes: how long
// the controller's event thread or a broker's request handler is busy. It
// leaves out what other layers cost: ZooKeeper's request processing and
// fsync (fakezk.ServerConfig), network latency (the kernel's links), and a
// broker's fsyncs, such as the leader-epoch checkpoint written on becoming
// leader (the process's disk). Costs are the same in every era: what
// changed between releases (one partition at a time before 1.1, batches
// after) is behaviour, selected by Features.
//
// The published figures are from Confluent's "Apache Kafka Supports 200K
// Partitions Per Cluster" (Jun Rao, 2018: Kafka 1.0.0 against 1.1.0, 5
// brokers, 5 ZooKeeper servers): loading every partition's state at
// controller failover took 28 s in 1.0 and 14 s in 1.1 for 100,000
// partitions, and a controlled shutdown moving 10,000 leaders took 6.5 min
// in 1.0 and 3 s in 1.1. Where no figure exists, a field's comment says how
// its value was reasoned.
type Costs struct {
	// ControllerEvent is the controller's fixed cost per event taken from
	// its queue: the dequeue, the event's rate-and-time metric and its log
	// lines. No published figure; a blocking-queue handoff and a few log
	// lines on the JVM cost microseconds, so 10 µs.
	ControllerEvent sim.Duration `json:"controller_event_ns"`
	// ControllerPartitionLoad is the controller's work per partition state
	// read at failover: the ZooKeeper client decoding the reply, Kafka
	// decoding the state JSON and updating the controller context. Derived
	// from the failover figures above: 1.0 read the states one synchronous
	// round trip at a time, so N·(r + c) = 28 s, with r the ZooKeeper round
	// trip and c this cost; 1.1 pipelined them (at most 10 in flight) on one
	// event thread, so N·max(c, r/10) = 14 s. With N = 100,000 and c the same
	// in both, c = 140 µs and r = 140 µs (r/10 < c, so 1.1 was bound by c).
	ControllerPartitionLoad sim.Duration `json:"controller_partition_load_ns"`
	// ControllerPartitionChange is the controller's work per partition whose
	// state it changes (an election, a replica going offline, an ISR
	// refreshed from ZooKeeper): the state machine's checks, the election
	// over the replicas, decoding the write's reply, the context update and
	// the state-change log line. Taken equal to ControllerPartitionLoad, as
	// it handles one ZooKeeper reply and one state the same way; held below
	// the 1.1 controlled-shutdown figure (10,000 leaders in 3 s: 300 µs per
	// leader for the controller's and the brokers' work together).
	ControllerPartitionChange sim.Duration `json:"controller_partition_change_ns"`
	// ControllerRequest is the controller's cost per control request
	// (LeaderAndIsr, UpdateMetadata, StopReplica) handed to a broker's
	// sender queue, and per response handled. No published figure: building
	// the request header, the queue handoff and the sender thread's network
	// send are tens of microseconds on the JVM; 50 µs.
	ControllerRequest sim.Duration `json:"controller_request_ns"`
	// ControllerRequestPartition is the cost per partition entry serialised
	// into a control request. No published figure: an entry is under 100
	// bytes and Kafka's protocol serialisation runs at hundreds of MB/s,
	// well under 1 µs; 1 µs.
	ControllerRequestPartition sim.Duration `json:"controller_request_partition_ns"`
	// BrokerRequest is a broker's fixed cost per request it handles (network
	// thread to request queue to handler and back, the response). No
	// published figure; tens of microseconds of handoffs and metrics, 50 µs.
	BrokerRequest sim.Duration `json:"broker_request_ns"`
	// BrokerLeaderAndIsrPartition is a broker's cost per partition of a
	// LeaderAndIsr it applies (Partition.makeLeader or makeFollower: the
	// partition state, adding or removing the fetcher, the state-change log
	// lines), not counting the fsync of the leader-epoch checkpoint (a disk
	// cost). No published figure; 100 µs, which with ControllerPartitionChange
	// and two request entries stays within the 300 µs per moved leader of
	// the 1.1 controlled-shutdown figure.
	BrokerLeaderAndIsrPartition sim.Duration `json:"broker_leader_and_isr_partition_ns"`
	// BrokerUpdateMetadataPartition is a broker's cost per partition of an
	// UpdateMetadata (an entry of the new metadata snapshot). No published
	// figure; a map insert and a small object, 2 µs.
	BrokerUpdateMetadataPartition sim.Duration `json:"broker_update_metadata_partition_ns"`
	// BrokerRecord is a broker's cost per record appended to a log (by the
	// leader on produce or a follower on fetch) or read by a fetch. From
	// LinkedIn's "Benchmarking Apache Kafka: 2 Million Writes Per Second (On
	// Three Cheap Machines)" (Jay Kreps, 2014): one producer with no
	// replication reached about 820,000 100-byte records a second, about
	// 1.2 µs a record end to end; 1 µs for the broker's share.
	BrokerRecord sim.Duration `json:"broker_record_ns"`
	// BrokerLogLoadPartition is a broker's cost per partition log opened at
	// start-up before the records past the recovery point are replayed
	// (BrokerRecord each). No published figure: opening the segment, its
	// offset and time indexes and reading the leader-epoch checkpoint is
	// about five file-system calls of ~100 µs each on a cold cache; 500 µs.
	BrokerLogLoadPartition sim.Duration `json:"broker_log_load_partition_ns"`
}

// DefaultCosts returns the costs derived in Costs' comments.
func DefaultCosts() Costs {
	return Costs{
		ControllerEvent:               10 * sim.Microsecond,
		ControllerPartitionLoad:       140 * sim.Microsecond,
		ControllerPartitionChange:     140 * sim.Microsecond,
		ControllerRequest:             50 * sim.Microsecond,
		ControllerRequestPartition:    1 * sim.Microsecond,
		BrokerRequest:                 50 * sim.Microsecond,
		BrokerLeaderAndIsrPartition:   100 * sim.Microsecond,
		BrokerUpdateMetadataPartition: 2 * sim.Microsecond,
		BrokerRecord:                  1 * sim.Microsecond,
		BrokerLogLoadPartition:        500 * sim.Microsecond,
	}
}

// costFields lists the costs with their JSON keys, as pointers into k.
func (k *Costs) costFields() []struct {
	key string
	v   *sim.Duration
} {
	return []struct {
		key string
		v   *sim.Duration
	}{
		{"controller_event_ns", &k.ControllerEvent},
		{"controller_partition_load_ns", &k.ControllerPartitionLoad},
		{"controller_partition_change_ns", &k.ControllerPartitionChange},
		{"controller_request_ns", &k.ControllerRequest},
		{"controller_request_partition_ns", &k.ControllerRequestPartition},
		{"broker_request_ns", &k.BrokerRequest},
		{"broker_leader_and_isr_partition_ns", &k.BrokerLeaderAndIsrPartition},
		{"broker_update_metadata_partition_ns", &k.BrokerUpdateMetadataPartition},
		{"broker_record_ns", &k.BrokerRecord},
		{"broker_log_load_partition_ns", &k.BrokerLogLoadPartition},
	}
}

// Validate reports the first negative cost (zero is allowed: free).
func (k *Costs) Validate() error {
	for _, f := range k.costFields() {
		if *f.v < 0 {
			return fmt.Errorf("costs: %s: %d must not be negative", f.key, int64(*f.v))
		}
	}
	return nil
}

// ParseCosts decodes Costs from JSON (keys as the struct tags, values in
// nanoseconds), over DefaultCosts so a file names only what it changes;
// unknown keys and negative costs are one-line errors.
func ParseCosts(data []byte) (Costs, error) {
	k := DefaultCosts()
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&k); err != nil {
		return Costs{}, fmt.Errorf("costs: %v", err)
	}
	if d.More() {
		return Costs{}, fmt.Errorf("costs: trailing data after the object")
	}
	if err := k.Validate(); err != nil {
		return Costs{}, err
	}
	return k, nil
}
