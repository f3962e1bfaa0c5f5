package invariants

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafkazk"
)

// Names of the Kafka invariants. The safety ones are checked as the run goes:
// from ZooKeeper's commits (Kafka 2.6's znodes, read with the payload codecs
// of nodes/kafkazk) and from the brokers' reports (KafkaWatch.ControllerElected,
// RequestApplied, PartitionApplied). The liveness ones are checked once, by
// KafkaWatch.CheckSettled, after the faults have healed and the cluster has
// settled.
const (
	// ControllerEpochsOnlyGrow: /controller_epoch never goes down; every
	// write of it raises it by exactly one (Kafka 2.6
	// KafkaZkClient.registerControllerAndIncrementControllerEpoch writes
	// e+1 conditionally on the version it read e at; 0.11–2.0's separate
	// conditional update did the same), and a re-creation after a delete
	// must be above what it held. No partition state znode is written with a
	// controller_epoch above the current /controller_epoch.
	ControllerEpochsOnlyGrow = "controller-epochs-only-grow"
	// OneControllerPerEpoch: no two brokers, nor one broker in two ZooKeeper
	// sessions, claim the same controller epoch (KafkaWatch.ControllerElected),
	// and each claim is backed by the ZooKeeper commit that set
	// /controller_epoch to that epoch while /controller belonged to the
	// claimer's session (in Kafka 2.6 one multi creates /controller and bumps
	// the epoch).
	OneControllerPerEpoch = "one-controller-per-epoch"
	// LeaderInISRSubsetOfReplicas: every partition state znode written has
	// leader -1 or a leader in its ISR, and an ISR within the replicas its
	// topic znode lists for it (during a reassignment, Kafka 2.4+ lists the
	// union of old and new replicas in "partitions"). The topic znode must
	// hold a valid assignment naming the partition when the state is
	// written; state and topic payloads must decode.
	LeaderInISRSubsetOfReplicas = "leader-in-isr-subset-of-replicas"
	// LeaderEpochsOnlyGrow: per partition, a state znode's leader_epoch never
	// goes down across writes, and a write that changes the leader (-1
	// included) raises it (Kafka's controller bumps it on every election and
	// controller-side ISR shrink; a leader's own ISR write keeps it). A
	// topic deleted and created again starts over.
	LeaderEpochsOnlyGrow = "leader-epochs-only-grow"
	// NoStaleRequestApplied: within one incarnation of a broker, no applied
	// LeaderAndIsr, UpdateMetadata or StopReplica carries a controller epoch
	// below one already applied (Kafka 2.6 ReplicaManager and
	// KafkaApis answer those STALE_CONTROLLER_EPOCH), and no partition
	// applies a leader epoch below one it applied before (Partition.makeLeader
	// and makeFollower are reached only with a newer epoch).
	NoStaleRequestApplied = "no-stale-request-applied"
	// ControllerIsLive: at the end, /controller exists and names a broker
	// that is alive, whose current ZooKeeper session owns /controller and its
	// /brokers/ids/<id> registration.
	ControllerIsLive = "controller-is-live"
	// PartitionsHaveLiveLeaders: at the end, every partition whose ISR holds
	// a live broker has a live leader. Topics queued for deletion
	// (/admin/delete_topics/<t>) are exempt: Kafka's controller elects no
	// leaders for them.
	PartitionsHaveLiveLeaders = "partitions-have-live-leaders"
	// MetadataAgrees: at the end, every live broker's metadata has exactly
	// the partitions ZooKeeper has state znodes for (topics queued for
	// deletion aside), each with ZooKeeper's leader, leader epoch and ISR
	// (compared as a set).
	MetadataAgrees = "metadata-agrees"
)

// The control requests NoStaleRequestApplied covers, by their Kafka API
// names (the RPC payload kinds).
const (
	APILeaderAndIsr   = "LeaderAndIsr"
	APIUpdateMetadata = "UpdateMetadata"
	APIStopReplica    = "StopReplica"
)

// KafkaCluster is what the end checks read of the brokers; the scenario
// implements it. Broker ids are Kafka's broker.id.
type KafkaCluster interface {
	// Brokers returns the id of every broker of the cluster, alive or not.
	Brokers() []int32
	// Alive reports whether broker's process is up and serving.
	Alive(broker int32) bool
	// Session returns the id of broker's current ZooKeeper session, and
	// false when it has none.
	Session(broker int32) (int64, bool)
	// Metadata returns broker's metadata cache, every partition it knows,
	// and false when the broker has none. The checks only read the map.
	Metadata(broker int32) (map[kafkazk.TopicPartition]PartitionMeta, bool)
}

// PartitionMeta is what a broker's metadata says of one partition, as an
// UpdateMetadata request set it.
type PartitionMeta struct {
	Leader      int32 // -1: no leader
	LeaderEpoch int32
	ISR         []int32
}

// KafkaWatch checks a Kafka cluster's invariants against one ZooKeeper
// server. Create it with WatchKafka.
type KafkaWatch struct {
	c       *Checker
	srv     *fakezk.Server
	cluster KafkaCluster
	tree    *fakezk.Tree // the tree last swept; a new one means the server reloaded from its disk

	// /controller_epoch: its value as last written (kept across a delete).
	epoch     int32
	epochSeen bool  // some value was held
	epochZxid int64 // the commit that last wrote it
	// elections: per epoch, the commit that set /controller_epoch to it.
	elections map[int32]election
	// claims: per epoch, the first broker that claimed it.
	claims map[int32]claim

	topics  map[string]*topicState
	brokers map[int32]*brokerApplied
}

// election is a commit that set /controller_epoch, and whom /controller
// belonged to once it had applied.
type election struct {
	zxid    int64
	broker  int32 // -1: /controller absent or not the writer's
	session int64 // the session that committed it
	owner   int64 // /controller's owner (0: absent)
}

// claim is a broker's report that it became controller.
type claim struct {
	broker  int32
	session int64
}

// topicState is a topic's assignment and its partitions' last states.
type topicState struct {
	assignErr error // the topic znode's data did not decode
	zxid      int64 // the commit that last wrote the topic znode
	parts     map[int32]*partState
}

// partState is one partition: its replicas from the topic znode and the last
// state znode written for it.
type partState struct {
	replicas    []int32
	listed      bool // the topic znode lists the partition now
	hasState    bool // a state was written since the topic was created
	leader      int32
	leaderEpoch int32
	zxid        int64 // the commit that last wrote the state
}

// brokerApplied is what one incarnation of a broker applied.
type brokerApplied struct {
	incarnation     uint32
	controllerEpoch int32 // the highest applied
	api             string
	seen            bool
	leaderEpochs    map[string]map[int32]int32 // topic -> partition -> highest applied
}

// reader reads the tree as the server's own observer, with no ACL checks.
var reader = fakezk.Caller{Identities: []fakezk.Identity{{Scheme: "super"}}}

// WatchKafka checks the Kafka invariants on srv and on what the scenario
// reports from now on, reporting to c; cluster serves CheckSettled. The
// safety checks run from srv's commits (fakezk.Server.OnCommit): a commit
// costs in proportion to what it changed (a state znode's decode and a map
// lookup; a topic znode's decode), never a walk of the partitions. The
// tree's Kafka znodes are read once now, and once after each crash of the
// server, whose tree is then whatever its disk gave back.
func WatchKafka(c *Checker, srv *fakezk.Server, cluster KafkaCluster) *KafkaWatch {
	k := &KafkaWatch{c: c, srv: srv, cluster: cluster, claims: map[int32]claim{}, elections: map[int32]election{}, brokers: map[int32]*brokerApplied{}}
	k.sweep()
	srv.OnCommit(k.commit)
	c.w.OnStep(k.noticeReload)
	return k
}

// noticeReload, after every step, notices that the server crashed and
// reloaded its tree from the disk: O(1) unless it did.
func (k *KafkaWatch) noticeReload() {
	if k.srv.Tree() != k.tree {
		k.sweep()
	}
}

// sweep rebuilds the index from the tree: /controller_epoch, every topic's
// assignment and every partition state, checking each state as it would a
// write. A reload may have taken back transactions whose fsync had not
// completed (nobody was told of them, and their epochs may be given out
// again), so the index starts from what the tree holds, and the elections
// of lost commits are forgotten.
func (k *KafkaWatch) sweep() {
	k.tree = k.srv.Tree()
	zxid := k.srv.Zxid()
	for e, el := range k.elections {
		if el.zxid > zxid {
			delete(k.elections, e)
		}
	}
	if data, st, err := k.tree.Get(reader, kafkazk.ControllerEpochPath); err == nil {
		if e, err := kafkazk.DecodeControllerEpoch(data); err != nil {
			k.once(ControllerEpochsOnlyGrow, kafkazk.ControllerEpochPath, st.Mzxid, "%v", err)
		} else {
			k.epoch, k.epochSeen, k.epochZxid = e, true, st.Mzxid
		}
	}
	k.topics = map[string]*topicState{}
	topics, _, err := k.tree.Children(reader, kafkazk.TopicsPath)
	if err != nil {
		return
	}
	for _, topic := range topics {
		data, st, err := k.tree.Get(reader, kafkazk.TopicPath(topic))
		if err != nil {
			continue
		}
		t := &topicState{parts: map[int32]*partState{}}
		k.topics[topic] = t
		k.assign(t, data, st.Mzxid)
		for _, p := range partitionIDs(k.tree, topic) {
			path := kafkazk.PartitionStatePath(topic, p)
			data, st, err := k.tree.Get(reader, path)
			if err != nil {
				continue
			}
			k.checkState(topic, p, path, data, st.Mzxid, true)
		}
	}
}

// partitionIDs returns the partitions of topic that have a znode under
// …/partitions, ascending.
func partitionIDs(tree *fakezk.Tree, topic string) []int32 {
	names, _, err := tree.Children(reader, kafkazk.TopicPartitionsPath(topic))
	if err != nil {
		return nil
	}
	ids := make([]int32, 0, len(names))
	for _, name := range names {
		if p, ok := parsePartition(name); ok {
			ids = append(ids, p)
		}
	}
	slices.Sort(ids)
	return ids
}

// commit checks one transaction's changes to Kafka's znodes.
func (k *KafkaWatch) commit(cm fakezk.Commit) {
	if k.srv.Tree() != k.tree {
		// Reloaded within this step: the sweep sees this commit's result
		// and checks its states, but not against what came before.
		k.sweep()
		return
	}
	epochWritten := false
	for _, ch := range cm.Changes {
		kind, topic, p := classify(ch.Path)
		if kind == otherNode {
			continue
		}
		if ch.Type == fakezk.EventNodeDeleted {
			k.deleted(kind, topic)
			continue
		}
		if ch.Type != fakezk.EventNodeCreated && ch.Type != fakezk.EventNodeDataChanged {
			continue
		}
		// The tree already reflects the whole transaction: a node a multi
		// created and deleted again is gone (its delete follows), and a
		// node it wrote twice shows its last data, checked once.
		data, st, err := k.tree.Get(reader, ch.Path)
		if err != nil {
			continue
		}
		switch kind {
		case epochNode:
			if k.epochZxid != cm.Zxid {
				k.epochWritten(ch.Type == fakezk.EventNodeCreated, data, cm.Zxid)
				epochWritten = true
			}
		case topicNode:
			t := k.topics[topic]
			if ch.Type == fakezk.EventNodeCreated || t == nil {
				t = &topicState{parts: map[int32]*partState{}}
				k.topics[topic] = t
			}
			if t.zxid != cm.Zxid {
				k.assign(t, data, cm.Zxid)
			}
		case stateNode:
			k.checkState(topic, p, ch.Path, data, st.Mzxid, false)
		}
	}
	if epochWritten {
		k.recordElection(cm)
	}
}

// znodeKind classifies the paths the checks read.
type znodeKind uint8

const (
	otherNode znodeKind = iota
	epochNode           // /controller_epoch
	topicNode           // /brokers/topics/<t>
	stateNode           // /brokers/topics/<t>/partitions/<p>/state
)

// classify says which of Kafka's znodes path is, in O(len(path)).
func classify(path string) (kind znodeKind, topic string, partition int32) {
	if path == kafkazk.ControllerEpochPath {
		return epochNode, "", 0
	}
	rest, ok := strings.CutPrefix(path, kafkazk.TopicsPath+"/")
	if !ok || rest == "" {
		return otherNode, "", 0
	}
	topic, rest, nested := strings.Cut(rest, "/")
	if !nested {
		return topicNode, topic, 0
	}
	rest, ok = strings.CutPrefix(rest, "partitions/")
	if !ok {
		return otherNode, "", 0
	}
	id, rest, nested := strings.Cut(rest, "/")
	p, ok := parsePartition(id)
	if !nested || rest != "state" || !ok {
		return otherNode, "", 0
	}
	return stateNode, topic, p
}

// parsePartition parses a partition id as Kafka writes it: decimal, no sign.
func parsePartition(s string) (int32, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 32)
	return int32(n), err == nil
}

// deleted handles a delete of one of Kafka's znodes. Kafka never deletes
// /controller_epoch; its value is kept, so that a re-creation must still
// go up. A state znode deleted alone keeps its history: Kafka deletes states
// only with their topic, and one written again must not go back.
func (k *KafkaWatch) deleted(kind znodeKind, topic string) {
	if kind != topicNode {
		return
	}
	// The topic is gone with its subtree: a topic created again under the
	// same name starts its leader epochs over, in ZooKeeper and on the
	// brokers (ReplicaManager dropped its Partition objects at
	// StopReplica(delete=true), before the controller deleted the znode).
	delete(k.topics, topic)
	for _, b := range k.brokers {
		delete(b.leaderEpochs, topic)
	}
}

// epochWritten checks a write of /controller_epoch at zxid.
func (k *KafkaWatch) epochWritten(created bool, data []byte, zxid int64) {
	e, err := kafkazk.DecodeControllerEpoch(data)
	if err != nil {
		k.c.Safety(ControllerEpochsOnlyGrow, "%v", err)
		return
	}
	switch {
	case !k.epochSeen:
	case created && e <= k.epoch:
		k.c.Safety(ControllerEpochsOnlyGrow, "/controller_epoch was created again with %d, not above the %d it held before", e, k.epoch)
	case created:
	case e < k.epoch:
		k.c.Safety(ControllerEpochsOnlyGrow, "/controller_epoch went down from %d to %d", k.epoch, e)
	case e == k.epoch:
		k.c.Safety(ControllerEpochsOnlyGrow, "/controller_epoch was written with %d, the value it held", e)
	case e != k.epoch+1:
		k.c.Safety(ControllerEpochsOnlyGrow, "/controller_epoch went from %d to %d: Kafka raises it by one", k.epoch, e)
	}
	k.epoch, k.epochSeen, k.epochZxid = e, true, zxid
}

// recordElection remembers whom the commit that set /controller_epoch made
// controller: the broker /controller names, if the committing session owns
// it (created in the same multi from Kafka 2.1 on; by an earlier request
// before).
func (k *KafkaWatch) recordElection(cm fakezk.Commit) {
	el := election{zxid: cm.Zxid, broker: -1, session: cm.Session}
	if data, st, err := k.tree.Get(reader, kafkazk.ControllerPath); err == nil {
		el.owner = st.EphemeralOwner
		if cd, err := kafkazk.DecodeController(data); err == nil && st.EphemeralOwner == cm.Session {
			el.broker = cd.BrokerID
		}
	}
	k.elections[k.epoch] = el
}

// assign records a topic znode's assignment, written at zxid.
func (k *KafkaWatch) assign(t *topicState, data []byte, zxid int64) {
	t.zxid = zxid
	a, err := kafkazk.DecodeTopicAssignment(data)
	if err != nil {
		t.assignErr = err
		return
	}
	t.assignErr = nil
	for _, ps := range t.parts {
		ps.listed = false // order-free: every entry gets the same assignment
	}
	for p, ra := range a.Partitions {
		ps := t.parts[p]
		if ps == nil {
			ps = &partState{}
			t.parts[p] = ps
		}
		ps.replicas, ps.listed = ra.Replicas, true
	}
}

// checkState checks a state znode of topic's partition p, written at zxid
// (swept: read from a reloaded tree, checked against nothing before it).
func (k *KafkaWatch) checkState(topic string, p int32, path string, data []byte, zxid int64, swept bool) {
	report := func(inv, format string, args ...any) {
		if swept {
			k.once(inv, path, zxid, format, args...)
			return
		}
		k.c.Safety(inv, format, args...)
	}
	t := k.topics[topic]
	var ps *partState
	if t != nil {
		ps = t.parts[p]
	}
	if ps != nil && ps.hasState && ps.zxid == zxid && !swept {
		return // this commit's write, seen already
	}
	s, err := kafkazk.DecodePartitionState(data)
	if err != nil {
		report(LeaderInISRSubsetOfReplicas, "partition %s-%d: %v", topic, p, err)
		return
	}
	if s.ControllerEpoch > k.epoch || !k.epochSeen {
		held := "absent"
		if k.epochSeen {
			held = strconv.Itoa(int(k.epoch))
		}
		report(ControllerEpochsOnlyGrow, "partition %s-%d state written with controller_epoch %d, above /controller_epoch (%s)", topic, p, s.ControllerEpoch, held)
	}
	switch {
	case t == nil:
		report(LeaderInISRSubsetOfReplicas, "partition %s-%d state written while /brokers/topics/%s is missing", topic, p, topic)
		return
	case t.assignErr != nil:
		report(LeaderInISRSubsetOfReplicas, "partition %s-%d state written while /brokers/topics/%s holds no assignment: %v", topic, p, topic, t.assignErr)
		return
	}
	if ps == nil || !ps.listed {
		report(LeaderInISRSubsetOfReplicas, "partition %s-%d state written, but /brokers/topics/%s does not list partition %d", topic, p, topic, p)
		if ps == nil {
			ps = &partState{}
			t.parts[p] = ps
		}
	} else {
		if s.Leader != -1 && !slices.Contains(s.ISR, s.Leader) {
			report(LeaderInISRSubsetOfReplicas, "partition %s-%d leader %d is not in its ISR %v (leader epoch %d)", topic, p, s.Leader, s.ISR, s.LeaderEpoch)
		}
		for _, r := range s.ISR {
			if !slices.Contains(ps.replicas, r) {
				report(LeaderInISRSubsetOfReplicas, "partition %s-%d ISR %v has broker %d, not among its replicas %v (leader epoch %d)", topic, p, s.ISR, r, ps.replicas, s.LeaderEpoch)
				break
			}
		}
	}
	if ps.hasState && !swept {
		switch {
		case s.LeaderEpoch < ps.leaderEpoch:
			k.c.Safety(LeaderEpochsOnlyGrow, "partition %s-%d leader epoch went down from %d to %d (leader %d -> %d)", topic, p, ps.leaderEpoch, s.LeaderEpoch, ps.leader, s.Leader)
		case s.Leader != ps.leader && s.LeaderEpoch == ps.leaderEpoch:
			k.c.Safety(LeaderEpochsOnlyGrow, "partition %s-%d leader changed from %d to %d without raising leader epoch %d", topic, p, ps.leader, s.Leader, s.LeaderEpoch)
		}
	}
	ps.hasState, ps.leader, ps.leaderEpoch, ps.zxid = true, s.Leader, s.LeaderEpoch, zxid
}

// once reports a violation found by a sweep once per znode version, so that
// a bad state that lasts across reloads is reported once.
func (k *KafkaWatch) once(inv, path string, zxid int64, format string, args ...any) {
	if k.c.Once(fmt.Sprintf("%s %s 0x%x", inv, path, zxid)) {
		k.c.Safety(inv, format, args...)
	}
}
