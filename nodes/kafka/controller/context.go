package controller

import (
	"slices"

	"github.com/kzsim/kzsim/nodes/kafka/controller/algo"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
)

// partitionState is a PartitionStateMachine state (Kafka 2.6
// PartitionState: NewPartition, OnlinePartition, OfflinePartition,
// NonExistentPartition).
type partitionState uint8

const (
	stateNonExistent partitionState = iota
	stateNew
	stateOnline
	stateOffline
)

func (s partitionState) String() string {
	switch s {
	case stateNew:
		return "new"
	case stateOnline:
		return "online"
	case stateOffline:
		return "offline"
	}
	return "non-existent"
}

// replicaState is a ReplicaStateMachine state, kept only where it is not
// implied by the broker's liveness: the deletion states of a topic being
// deleted (Kafka 2.6 ReplicaState). Simplified: Kafka keeps a state for
// every replica; here Online and Offline are read from broker liveness.
type replicaState uint8

const (
	replicaLive replicaState = iota // OnlineReplica or OfflineReplica, by liveness
	replicaDeletionStarted
	replicaDeletionSuccessful
	replicaDeletionIneligible
)

// partition is the controller's knowledge of one partition
// (ControllerContext.partitionAssignments, partitionLeadershipInfo,
// partitionStates). Slices are never mutated once stored: a change stores a
// fresh slice, so requests may share them.
type partition struct {
	topic     int32 // index into context.topics
	id        int32
	replicas  []int32 // assignment order (RS); head is the preferred replica
	adding    []int32 // KIP-455 AR
	removing  []int32 // KIP-455 RR
	leader    int32
	epoch     int32 // leader epoch
	isr       []int32
	ctrlEpoch int32 // controller epoch in the state znode
	zkVersion int32 // the state znode's version (partition epoch)
	hasLeader bool  // a partitionLeadershipInfo entry exists
	state     partitionState
	deleted   bool           // the topic was deleted: the slot is dead
	rstate    []replicaState // aligned with replicas; nil unless the topic is being deleted
	watchISR  bool           // a reassignment's state-znode handler is registered
}

func (p *partition) leaderAndIsr() algo.LeaderAndIsr {
	return algo.LeaderAndIsr{Leader: p.leader, LeaderEpoch: p.epoch, ISR: p.isr}
}

func (p *partition) assignment() algo.ReplicaAssignment {
	return algo.ReplicaAssignment{Replicas: p.replicas, Adding: p.adding, Removing: p.removing}
}

// topic is one topic: its partitions' indices by partition id.
type topic struct {
	name       string
	parts      []int32 // parts[pid] = index into context.parts, -1 for a gap
	queued     bool    // queued for deletion (TopicDeletionManager.topicsToBeDeleted)
	ineligible bool    // deletion ineligible
	started    bool    // deletion started (partitions moved to NonExistent)
	deleted    bool
}

// broker is a live (or shutting down) broker as the controller knows it.
type broker struct {
	id    int32
	epoch int64 // the registration's czxid (KIP-380)
	info  proto.Broker
}

// context is ControllerContext, laid out for 200,000 partitions: a dense
// slice of partitions, topics by index, and per broker the partitions it
// holds replicas of, so that a broker's failure costs O(its partitions).
type context struct {
	parts          []partition
	topics         []topic
	topicIdx       map[string]int32
	brokers        map[int32]*broker // live or shutting down
	liveIDs        []int32           // sorted ids of brokers
	shuttingDown   map[int32]bool
	live           map[int32]bool    // algo.Liveness.Live
	replicasOn     map[int32][]int32 // broker id (live or not) → indices of partitions with a replica there (RS)
	offline        map[int32]struct{}
	offlineCount   int
	livePartitions int
	reassigning    map[int32]struct{} // partitions with a reassignment in flight
	deleting       []int32            // topics queued for deletion, in queue order
}

func newContext() *context {
	return &context{
		topicIdx:     map[string]int32{},
		brokers:      map[int32]*broker{},
		shuttingDown: map[int32]bool{},
		live:         map[int32]bool{},
		replicasOn:   map[int32][]int32{},
		offline:      map[int32]struct{}{},
		reassigning:  map[int32]struct{}{},
	}
}

func (x *context) liveness() algo.Liveness {
	return algo.Liveness{Live: x.live, ShuttingDown: x.shuttingDown}
}

// online is ControllerContext.isReplicaOnline: live and not shutting down.
func (x *context) online(b int32) bool { return x.live[b] && !x.shuttingDown[b] }

// tp names partition i.
func (x *context) tp(i int32) proto.TopicPartition {
	p := &x.parts[i]
	return proto.TopicPartition{Topic: x.topics[p.topic].name, Partition: p.id}
}

// lookup finds a partition's index.
func (x *context) lookup(t string, pid int32) (int32, bool) {
	ti, ok := x.topicIdx[t]
	if !ok {
		return 0, false
	}
	tp := &x.topics[ti]
	if pid < 0 || int(pid) >= len(tp.parts) || tp.parts[pid] < 0 {
		return 0, false
	}
	return tp.parts[pid], true
}

// addTopic adds a topic with no partitions and returns its index.
func (x *context) addTopic(name string) int32 {
	if ti, ok := x.topicIdx[name]; ok {
		return ti
	}
	ti := int32(len(x.topics))
	x.topics = append(x.topics, topic{name: name})
	x.topicIdx[name] = ti
	return ti
}

// addPartition adds partition pid of topic ti with replicas and returns
// its index.
func (x *context) addPartition(ti, pid int32, a algo.ReplicaAssignment) int32 {
	i := int32(len(x.parts))
	x.parts = append(x.parts, partition{topic: ti, id: pid, replicas: a.Replicas, adding: a.Adding, removing: a.Removing, leader: proto.NoLeader})
	t := &x.topics[ti]
	for int(pid) >= len(t.parts) {
		t.parts = append(t.parts, -1)
	}
	t.parts[pid] = i
	for _, r := range a.Replicas {
		x.replicasOn[r] = append(x.replicasOn[r], i)
	}
	if a.Reassigning() {
		x.reassigning[i] = struct{}{}
	}
	x.livePartitions++
	return i
}

// setReplicas replaces partition i's assignment, keeping the per-broker
// index in step.
func (x *context) setReplicas(i int32, a algo.ReplicaAssignment) {
	p := &x.parts[i]
	for _, r := range p.replicas {
		if !slices.Contains(a.Replicas, r) {
			x.replicasOn[r] = removeIdx(x.replicasOn[r], i)
		}
	}
	for _, r := range a.Replicas {
		if !slices.Contains(p.replicas, r) {
			x.replicasOn[r] = append(x.replicasOn[r], i)
		}
	}
	p.replicas, p.adding, p.removing = a.Replicas, a.Adding, a.Removing
	if a.Reassigning() {
		x.reassigning[i] = struct{}{}
	} else {
		delete(x.reassigning, i)
	}
}

func removeIdx(s []int32, i int32) []int32 {
	for k, v := range s {
		if v == i {
			return append(s[:k], s[k+1:]...)
		}
	}
	return s
}

// setState moves partition i to state s, keeping the offline count and set.
func (x *context) setState(i int32, s partitionState) {
	p := &x.parts[i]
	wasOff := p.state == stateOffline || p.state == stateNew
	isOff := s == stateOffline || s == stateNew
	p.state = s
	switch {
	case isOff && !wasOff:
		x.offline[i] = struct{}{}
		x.offlineCount++
	case wasOff && !isOff:
		delete(x.offline, i)
		x.offlineCount--
	}
}

// addBroker makes a broker live.
func (x *context) addBroker(b *broker) {
	x.brokers[b.id] = b
	x.live[b.id] = true
	x.liveIDs = insertSorted(x.liveIDs, b.id)
}

// dropPartition removes deleted partition i from the per-broker index.
func (x *context) dropPartition(i int32) {
	p := &x.parts[i]
	for _, r := range p.replicas {
		x.replicasOn[r] = removeIdx(x.replicasOn[r], i)
	}
	delete(x.reassigning, i)
	delete(x.offline, i)
	if p.state == stateOffline || p.state == stateNew {
		x.offlineCount--
	}
	p.state = stateNonExistent
	p.deleted = true
	x.livePartitions--
}

func (x *context) removeBroker(id int32) {
	delete(x.brokers, id)
	delete(x.live, id)
	delete(x.shuttingDown, id)
	if k, ok := slices.BinarySearch(x.liveIDs, id); ok {
		x.liveIDs = slices.Delete(x.liveIDs, k, k+1)
	}
}

func insertSorted(s []int32, v int32) []int32 {
	k, ok := slices.BinarySearch(s, v)
	if ok {
		return s
	}
	return slices.Insert(s, k, v)
}

// brokerList returns the live brokers as requests name them, by id.
func (x *context) brokerList() []proto.Broker {
	out := make([]proto.Broker, 0, len(x.liveIDs))
	for _, id := range x.liveIDs {
		out = append(out, x.brokers[id].info)
	}
	return out
}

// queuedForDeletion reports whether partition i's topic is queued for
// deletion.
func (x *context) queuedForDeletion(i int32) bool { return x.topics[x.parts[i].topic].queued }
