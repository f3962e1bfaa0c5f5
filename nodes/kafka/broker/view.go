package broker

import (
	"github.com/kzsim/kzsim/nodes/kafka/proto"
)

// View is what checks and narration may read of a broker: values, never
// the machine's own state.
type View struct {
	ID              int32
	Phase           string
	BrokerEpoch     int64
	ControllerEpoch int32 // the newest controller epoch applied
	Partitions      int   // replicas hosted
	Leading         int   // of which it leads
}

// View returns the broker's view: O(partitions) to count leaders.
func (b *Broker) View() View {
	v := View{ID: b.cfg.ID, Phase: b.phase.String(), BrokerEpoch: b.brokerEpoch, ControllerEpoch: b.controllerEpoch, Partitions: len(b.replicas.parts)}
	for _, p := range b.replicas.parts {
		if p.isLeader(b.cfg.ID) {
			v.Leading++
		}
	}
	return v
}

// Running reports whether the broker is registered and serving.
func (b *Broker) Running() bool { return b.phase == phaseRunning || b.phase == phaseShuttingDown }

// ReplicaView is one partition replica as a broker holds it.
type ReplicaView struct {
	Leader        int32
	LeaderEpoch   int32
	ZkVersion     int32
	ISR           []int32 // shared: read only
	HighWatermark int64
	LogEndOffset  int64
	LogStart      int64
}

// Replica returns the broker's replica of tp.
func (b *Broker) Replica(tp proto.TopicPartition) (ReplicaView, bool) {
	p := b.replicas.parts[tp]
	if p == nil {
		return ReplicaView{}, false
	}
	return ReplicaView{Leader: p.leader, LeaderEpoch: p.leaderEpoch, ZkVersion: p.zkVersion, ISR: p.isr,
		HighWatermark: p.hw, LogEndOffset: p.log.LogEndOffset(), LogStart: p.log.LogStartOffset()}, true
}

// Read returns the records of the replica of tp from offset from (at most
// max), for checks that compare logs; read only.
func (b *Broker) Read(tp proto.TopicPartition, from int64, max int) []proto.Record {
	p := b.replicas.parts[tp]
	if p == nil || from >= p.log.LogEndOffset() {
		return nil
	}
	recs, err := p.log.Read(from, max)
	if err != nil {
		return nil
	}
	return recs
}

// ReplicasOf returns how many replicas of topic the broker hosts (logs
// recovered from its disk and not yet claimed by a LeaderAndIsr included).
func (b *Broker) ReplicasOf(topic string) int {
	n := 0
	for tp := range b.replicas.parts {
		if tp.Topic == topic {
			n++
		}
	}
	for tp := range b.replicas.recovered {
		if tp.Topic == topic {
			n++
		}
	}
	return n
}
