package producer

import (
	"maps"
	"slices"
	"strings"

	"github.com/kzsim/kzsim/nodes/kafka/proto"
)

// HostCount is what a producer sent to one broker host and had acknowledged.
type HostCount struct {
	Host  string
	Sent  int // messages sent in requests (retries count again)
	Acked int
}

// BrokerView is a live broker in a producer's view.
type BrokerView struct {
	ID   int32
	Host string
}

// PartitionView is one partition in a producer's view.
type PartitionView struct {
	proto.TopicPartition
	Leader      int32 // proto.NoLeader: none known, or its broker is not live
	LeaderEpoch int32
}

// View is what checks may read of a producer: values only.
type View struct {
	Discovery                       Discovery
	Target                          string          // DiscoveryStatic: the one broker it sends to
	Brokers                         []BrokerView    // by id
	Partitions                      []PartitionView // by topic, then partition
	Hosts                           []HostCount     // by host
	Refreshes                       int             // metadata answers taken
	Queued                          int             // messages waiting to be sent
	InFlight                        int             // produce requests in flight
	Invoked, Acked, Failed, Unknown int
}

// View returns the producer's view.
func (p *Producer) View() View {
	v := View{Discovery: p.cfg.Discovery, Target: p.target, Refreshes: p.refreshes, Queued: len(p.queue),
		Invoked: p.invoked, Acked: p.acked, Failed: p.failed, Unknown: p.unsure}
	for _, id := range slices.Sorted(maps.Keys(p.brokers)) {
		v.Brokers = append(v.Brokers, BrokerView{ID: id, Host: p.brokers[id]})
	}
	for _, t := range slices.Sorted(maps.Keys(p.topics)) {
		for _, pi := range p.topics[t] {
			leader := pi.leader
			if p.leaderHost(pi) == "" {
				leader = proto.NoLeader
			}
			v.Partitions = append(v.Partitions, PartitionView{TopicPartition: proto.TopicPartition{Topic: t, Partition: pi.id}, Leader: leader, LeaderEpoch: pi.leaderEpoch})
		}
	}
	for _, h := range slices.Sorted(maps.Keys(p.hosts)) {
		v.Hosts = append(v.Hosts, *p.hosts[h])
	}
	for _, h := range slices.Sorted(maps.Keys(p.inflight)) {
		v.InFlight += p.inflight[h]
	}
	return v
}

// Leader returns the leader of tp in the view (proto.NoLeader if none;
// under Layout07 the first broker holding a partition of that id).
func (v View) Leader(tp proto.TopicPartition) int32 {
	for _, pv := range v.Partitions {
		if pv.TopicPartition == tp {
			return pv.Leader
		}
	}
	return proto.NoLeader
}

// BrokerIDs returns the ids of the live brokers in the view.
func (v View) BrokerIDs() []int32 {
	ids := make([]int32, len(v.Brokers))
	for i, b := range v.Brokers {
		ids[i] = b.ID
	}
	return ids
}

// String summarises the view on one line.
func (v View) String() string {
	var b strings.Builder
	b.WriteString(v.Discovery.String())
	if v.Target != "" {
		b.WriteString(" target=" + v.Target)
	}
	b.WriteString(" brokers=")
	for i, br := range v.Brokers {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(br.Host)
	}
	return b.String()
}
