package invariants

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/sim"
)

// fakeCluster is a hand-set view of the brokers for CheckSettled.
type fakeCluster struct {
	alive    map[int32]bool
	sessions map[int32]int64
	md       map[int32]map[kafkazk.TopicPartition]PartitionMeta
}

func (f *fakeCluster) Brokers() []int32 {
	var out []int32
	for b := range f.alive {
		out = append(out, b)
	}
	return out // unsorted on purpose: CheckSettled sorts
}
func (f *fakeCluster) Alive(b int32) bool { return f.alive[b] }
func (f *fakeCluster) Session(b int32) (int64, bool) {
	s, ok := f.sessions[b]
	return s, ok
}
func (f *fakeCluster) Metadata(b int32) (map[kafkazk.TopicPartition]PartitionMeta, bool) {
	m, ok := f.md[b]
	return m, ok
}

// kafkaWorld is one fakezk server with the Kafka invariants watching it, an
// admin client, and one client per broker that writes what that broker's
// Kafka would.
type kafkaWorld struct {
	t       *testing.T
	w       *sim.World
	srv     *fakezk.Server
	c       *Checker
	k       *KafkaWatch
	cluster *fakeCluster
	admin   *fakezk.Client
	brokers map[int32]*fakezk.Client
}

var openACL = fakezk.WorldACL(fakezk.PermAll)

func newKafkaWorld(t *testing.T, cfg fakezk.ServerConfig, brokers ...int32) *kafkaWorld {
	t.Helper()
	w := sim.New(sim.Options{Seed: 1, Latency: sim.Fixed(sim.Millisecond)})
	cfg.TickTime = 200 * sim.Millisecond
	kw := &kafkaWorld{t: t, w: w, srv: fakezk.NewServer(w, "zk", cfg), c: NewChecker(w),
		cluster: &fakeCluster{alive: map[int32]bool{}, sessions: map[int32]int64{}, md: map[int32]map[kafkazk.TopicPartition]PartitionMeta{}},
		brokers: map[int32]*fakezk.Client{}}
	kw.k = WatchKafka(kw.c, kw.srv, kw.cluster)
	kw.admin = kw.connect("admin")
	for _, p := range append([]string{kafkazk.BrokersPath, kafkazk.ConfigPath, kafkazk.AdminPath}, kafkazk.PersistentPaths()...) {
		kw.create(kw.admin, p, nil, 0)
	}
	kw.create(kw.admin, kafkazk.ControllerEpochPath, kafkazk.EncodeControllerEpoch(kafkazk.InitialControllerEpoch), 0)
	for _, b := range brokers {
		kw.register(b)
	}
	return kw
}

func (kw *kafkaWorld) connect(name string) *fakezk.Client {
	id := kw.w.AddProcess(name, sim.ProcessHooks{})
	c := fakezk.Connect(kw.w, id, []sim.ProcID{kw.srv.ID()}, fakezk.ClientConfig{SessionTimeout: 6 * sim.Second})
	for i := 0; i < 100 && c.SessionID() == 0; i++ {
		kw.w.RunFor(10 * sim.Millisecond)
	}
	require.NotZero(kw.t, c.SessionID())
	return c
}

// register starts broker b: a session and its /brokers/ids/<b>.
func (kw *kafkaWorld) register(b int32) {
	c := kw.connect(fmt.Sprintf("broker-%d", b))
	kw.brokers[b] = c
	reg := kafkazk.BrokerRegistration{Version: 4, JMXPort: -1,
		Endpoints: []kafkazk.Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: fmt.Sprintf("b%d", b), Port: 9092}}}
	kw.create(c, kafkazk.BrokerIDPath(b), reg.Encode(), fakezk.FlagEphemeral)
	kw.cluster.alive[b], kw.cluster.sessions[b] = true, c.SessionID()
}

// wait runs the world until done is set.
func (kw *kafkaWorld) wait(done *bool) {
	kw.t.Helper()
	for i := 0; i < 1000 && !*done; i++ {
		kw.w.RunFor(sim.Millisecond)
	}
	require.True(kw.t, *done, "the request was not answered")
}

func (kw *kafkaWorld) multi(c *fakezk.Client, ops ...fakezk.Op) error {
	kw.t.Helper()
	var err error
	done := false
	c.Multi(ops, func(_ []fakezk.MultiResponse, e error) { err, done = e, true })
	kw.wait(&done)
	return err
}

func (kw *kafkaWorld) create(c *fakezk.Client, path string, data []byte, flags int32) {
	kw.t.Helper()
	require.NoError(kw.t, kw.multi(c, &fakezk.CreateRequest{Path: path, Data: data, Acl: openACL, Flags: flags}), path)
}

func (kw *kafkaWorld) set(c *fakezk.Client, path string, data []byte) {
	kw.t.Helper()
	require.NoError(kw.t, kw.multi(c, &fakezk.SetDataRequest{Path: path, Data: data, Version: -1}), path)
}

func (kw *kafkaWorld) del(c *fakezk.Client, path string) {
	kw.t.Helper()
	require.NoError(kw.t, kw.multi(c, &fakezk.DeleteRequest{Path: path, Version: -1}), path)
}

func (kw *kafkaWorld) epoch() int32 {
	data, _, err := kw.srv.Tree().Get(reader, kafkazk.ControllerEpochPath)
	require.NoError(kw.t, err)
	e, err := kafkazk.DecodeControllerEpoch(data)
	require.NoError(kw.t, err)
	return e
}

// elect makes broker b controller as Kafka 2.6 does, in one multi: create
// /controller and raise /controller_epoch; then b reports it.
func (kw *kafkaWorld) elect(b int32) int32 {
	kw.t.Helper()
	e := kw.epoch() + 1
	c := kw.brokers[b]
	require.NoError(kw.t, kw.multi(c,
		&fakezk.CreateRequest{Path: kafkazk.ControllerPath, Data: kafkazk.ControllerData{BrokerID: b}.Encode(), Acl: openACL, Flags: fakezk.FlagEphemeral},
		&fakezk.SetDataRequest{Path: kafkazk.ControllerEpochPath, Data: kafkazk.EncodeControllerEpoch(e), Version: -1}))
	kw.k.ControllerElected(b, e, c.SessionID())
	return e
}

// createTopic writes /brokers/topics/<topic> as Kafka 2.6's admin does.
func (kw *kafkaWorld) createTopic(topic string, replicas ...[]int32) {
	kw.t.Helper()
	kw.create(kw.admin, kafkazk.TopicPath(topic), assignment(replicas...).Encode(), 0)
}

func assignment(replicas ...[]int32) kafkazk.TopicAssignment {
	a := kafkazk.TopicAssignment{Version: 2, Partitions: map[int32]kafkazk.ReplicaAssignment{}}
	for p, rs := range replicas {
		a.Partitions[int32(p)] = kafkazk.ReplicaAssignment{Replicas: rs}
	}
	return a
}

// state writes a partition state znode from broker b's session, creating it
// (and its parents, as the controller's createTopicPartitionStatesRaw does)
// if it is missing.
func (kw *kafkaWorld) state(b int32, topic string, p int32, leader, leaderEpoch int32, isr ...int32) {
	kw.t.Helper()
	c := kw.brokers[b]
	data := kafkazk.PartitionState{Leader: leader, LeaderEpoch: leaderEpoch, ISR: isr, ControllerEpoch: kw.epoch()}.Encode()
	path := kafkazk.PartitionStatePath(topic, p)
	if _, ok := kw.srv.Tree().Exists(path); ok {
		kw.set(c, path, data)
		return
	}
	for _, parent := range []string{kafkazk.TopicPartitionsPath(topic), kafkazk.TopicPartitionPath(topic, p)} {
		if _, ok := kw.srv.Tree().Exists(parent); !ok {
			kw.create(c, parent, nil, 0)
		}
	}
	kw.create(c, path, data, 0)
}

// deleteTopic deletes the topic's subtree, deepest first, one znode per
// request, as Kafka 2.6's KafkaZkClient.deleteRecursive does.
func (kw *kafkaWorld) deleteTopic(b int32, topic string) {
	kw.t.Helper()
	for _, p := range partitionIDs(kw.srv.Tree(), topic) {
		if _, ok := kw.srv.Tree().Exists(kafkazk.PartitionStatePath(topic, p)); ok {
			kw.del(kw.brokers[b], kafkazk.PartitionStatePath(topic, p))
		}
		kw.del(kw.brokers[b], kafkazk.TopicPartitionPath(topic, p))
	}
	if _, ok := kw.srv.Tree().Exists(kafkazk.TopicPartitionsPath(topic)); ok {
		kw.del(kw.brokers[b], kafkazk.TopicPartitionsPath(topic))
	}
	kw.del(kw.brokers[b], kafkazk.TopicPath(topic))
}

// metadataFromZK gives every live broker ZooKeeper's partition states as its
// metadata, as settled UpdateMetadata requests would.
func (kw *kafkaWorld) metadataFromZK() {
	zk := settledPartitions(kw.srv.View())
	for b, alive := range kw.cluster.alive {
		if !alive {
			continue
		}
		md := map[kafkazk.TopicPartition]PartitionMeta{}
		for _, p := range zk.parts {
			if !zk.deleting[p.tp.Topic] {
				md[p.tp] = PartitionMeta{Leader: p.state.Leader, LeaderEpoch: p.state.LeaderEpoch, ISR: p.state.ISR}
			}
		}
		kw.cluster.md[b] = md
	}
}

func (kw *kafkaWorld) session(b int32) int64 { return kw.brokers[b].SessionID() }

func tp(topic string, p int32) kafkazk.TopicPartition {
	return kafkazk.TopicPartition{Topic: topic, Partition: p}
}

// A history with every kind of change the invariants follow, done right:
// elections, failover by session expiry, a late duplicate report, leader
// changes and ISR changes, a reassignment, a topic deleted and created again,
// a broker restarted, a topic stuck in deletion, and the end state.
func TestKafkaInvariantsQuietOnACorrectHistory(t *testing.T) {
	kw := newKafkaWorld(t, fakezk.ServerConfig{}, 1, 2, 3, 4)
	e1 := kw.elect(1)
	require.Equal(t, int32(1), e1)
	kw.createTopic("t", []int32{1, 2, 3}, []int32{2, 3, 1})
	kw.state(1, "t", 0, 1, 0, 1, 2, 3)
	kw.state(1, "t", 1, 2, 0, 2, 3, 1)
	for _, b := range []int32{1, 2, 3} {
		kw.k.RequestApplied(b, 1, APILeaderAndIsr, e1)
		kw.k.PartitionApplied(b, 1, "t", 0, 0)
		kw.k.PartitionApplied(b, 1, "t", 1, 0)
		kw.k.RequestApplied(b, 1, APIUpdateMetadata, e1)
	}
	kw.state(2, "t", 1, 2, 0, 2, 3) // the leader's own ISR shrink keeps the epoch

	// Broker 1's session expires: /controller goes, broker 2 wins epoch 2.
	s1 := kw.session(1)
	require.True(t, kw.srv.Expire(s1))
	kw.cluster.alive[1] = false
	delete(kw.cluster.sessions, 1)
	e2 := kw.elect(2)
	require.Equal(t, int32(2), e2)
	kw.k.ControllerElected(1, e1, s1) // a late repeat of broker 1's report: no violation
	kw.state(2, "t", 0, 2, 1, 2, 3)   // offline election: epoch up
	kw.state(2, "t", 1, 2, 1, 2, 3)   // controller-side shrink of dead broker 1: epoch up
	kw.k.RequestApplied(2, 1, APILeaderAndIsr, e2)
	kw.k.PartitionApplied(2, 1, "t", 0, 1)
	kw.k.RequestApplied(3, 1, APIStopReplica, e2)

	// Reassign t-0 from [1,2,3] to [4,2,3]: the union first, then the target.
	reassigning := assignment([]int32{4, 2, 3, 1}, []int32{2, 3, 1})
	reassigning.Partitions[0] = kafkazk.ReplicaAssignment{Replicas: []int32{4, 2, 3, 1}, Adding: []int32{4}, Removing: []int32{1}}
	kw.set(kw.brokers[2], kafkazk.TopicPath("t"), reassigning.Encode())
	kw.state(2, "t", 0, 2, 2, 2, 3)
	kw.state(2, "t", 0, 2, 2, 2, 3, 4) // the leader adds the caught-up 4
	kw.set(kw.brokers[2], kafkazk.TopicPath("t"), assignment([]int32{4, 2, 3}, []int32{2, 3, 1}).Encode())
	kw.state(2, "t", 0, 4, 3, 4, 2, 3) // preferred election

	// Broker 3 restarts: a new incarnation applies from scratch.
	kw.k.RequestApplied(3, 2, APIUpdateMetadata, e1)
	kw.k.PartitionApplied(3, 2, "t", 0, 0)

	// Delete t and create it again: leader epochs start over.
	kw.deleteTopic(2, "t")
	kw.createTopic("t", []int32{2, 3, 4})
	kw.state(2, "t", 0, 2, 0, 2, 3, 4)
	kw.k.PartitionApplied(2, 1, "t", 0, 0)
	kw.k.PartitionApplied(2, 1, "t", 0, 0) // the same epoch reported again

	// A topic whose replicas are all dead, and one stuck in deletion with a
	// dead leader: neither needs a live leader.
	kw.createTopic("dead", []int32{1})
	kw.createTopic("doomed", []int32{1, 2})
	kw.state(2, "dead", 0, -1, 1, 1)
	kw.state(2, "doomed", 0, 1, 0, 1, 2)
	kw.create(kw.admin, kafkazk.DeleteTopicPath("doomed"), nil, 0)

	kw.metadataFromZK()
	kw.cluster.md[3][tp("doomed", 0)] = PartitionMeta{Leader: -2} // brokers may still cache a deleting topic
	kw.k.CheckSettled()
	assert.Empty(t, kw.c.Violations())
}

// plant is one history with one planted bug and the violation it must
// cause.
type plant struct {
	name    string
	history func(kw *kafkaWorld)
	inv     string
	message string
}

func runPlants(t *testing.T, plants []plant) {
	for _, p := range plants {
		t.Run(p.name, func(t *testing.T) {
			kw := newKafkaWorld(t, fakezk.ServerConfig{}, 1, 2, 3)
			p.history(kw)
			vs := kw.c.Violations()
			require.Len(t, vs, 1, "%v", vs)
			assert.Equal(t, p.inv, vs[0].Invariant)
			assert.Equal(t, kw.expand(p.message), vs[0].Message)
		})
	}
}

// expand replaces {sN} in an expected message with broker N's session id
// and {eN} with the zxid of the commit that set controller epoch N.
func (kw *kafkaWorld) expand(msg string) string {
	return regexp.MustCompile(`\{[se][0-9]+\}`).ReplaceAllStringFunc(msg, func(m string) string {
		n, _ := strconv.Atoi(m[2 : len(m)-1])
		if m[1] == 's' {
			return fmt.Sprintf("0x%x", kw.session(int32(n)))
		}
		return fmt.Sprintf("0x%x", kw.k.elections[int32(n)].zxid)
	})
}

// withTopic elects broker 1 and creates topic t, replicas [1,2,3], led by 1.
func withTopic(kw *kafkaWorld) {
	kw.elect(1)
	kw.createTopic("t", []int32{1, 2, 3})
	kw.state(1, "t", 0, 1, 0, 1, 2, 3)
}

func TestKafkaSafetyInvariantsCatchPlantedBugs(t *testing.T) {
	runPlants(t, []plant{
		{"epoch goes down", func(kw *kafkaWorld) {
			kw.elect(1)
			kw.del(kw.brokers[1], kafkazk.ControllerPath) // broker 1 resigns
			kw.elect(2)
			kw.set(kw.brokers[2], kafkazk.ControllerEpochPath, kafkazk.EncodeControllerEpoch(1))
		}, ControllerEpochsOnlyGrow, "/controller_epoch went down from 2 to 1"},
		{"epoch skips", func(kw *kafkaWorld) {
			kw.set(kw.brokers[2], kafkazk.ControllerEpochPath, kafkazk.EncodeControllerEpoch(2))
		}, ControllerEpochsOnlyGrow, "/controller_epoch went from 0 to 2: Kafka raises it by one"},
		{"epoch rewritten", func(kw *kafkaWorld) {
			kw.set(kw.brokers[2], kafkazk.ControllerEpochPath, kafkazk.EncodeControllerEpoch(0))
		}, ControllerEpochsOnlyGrow, "/controller_epoch was written with 0, the value it held"},
		{"epoch created again lower", func(kw *kafkaWorld) {
			kw.elect(1)
			kw.del(kw.admin, kafkazk.ControllerEpochPath)
			kw.create(kw.admin, kafkazk.ControllerEpochPath, kafkazk.EncodeControllerEpoch(0), 0)
		}, ControllerEpochsOnlyGrow, "/controller_epoch was created again with 0, not above the 1 it held before"},
		{"epoch not a number", func(kw *kafkaWorld) {
			kw.set(kw.admin, kafkazk.ControllerEpochPath, []byte("one"))
		}, ControllerEpochsOnlyGrow, `kafkazk: decode /controller_epoch: want a decimal 32-bit integer, got "one": malformed znode data`},
		{"state above the controller epoch", func(kw *kafkaWorld) {
			withTopic(kw)
			data := kafkazk.PartitionState{Leader: 2, LeaderEpoch: 1, ISR: []int32{2, 3}, ControllerEpoch: 2}.Encode()
			kw.set(kw.brokers[1], kafkazk.PartitionStatePath("t", 0), data)
		}, ControllerEpochsOnlyGrow, "partition t-0 state written with controller_epoch 2, above /controller_epoch (1)"},

		{"second broker claims the epoch", func(kw *kafkaWorld) {
			kw.elect(1)
			kw.k.ControllerElected(2, 1, kw.session(2))
		}, OneControllerPerEpoch, "broker 2 (session {s2}) claims controller epoch 1, already claimed by broker 1 (session {s1})"},
		{"same broker, two sessions", func(kw *kafkaWorld) {
			kw.elect(1)
			kw.k.ControllerElected(1, 1, 99)
		}, OneControllerPerEpoch, "broker 1 (session 0x63) claims controller epoch 1, already claimed by broker 1 (session {s1})"},
		{"claim no commit backs", func(kw *kafkaWorld) {
			kw.k.ControllerElected(3, 7, kw.session(3))
		}, OneControllerPerEpoch, "broker 3 (session {s3}) claims controller epoch 7, but no commit set /controller_epoch to 7"},
		{"claim of another broker's election", func(kw *kafkaWorld) {
			require.NoError(t, kw.multi(kw.brokers[1],
				&fakezk.CreateRequest{Path: kafkazk.ControllerPath, Data: kafkazk.ControllerData{BrokerID: 1}.Encode(), Acl: openACL, Flags: fakezk.FlagEphemeral},
				&fakezk.SetDataRequest{Path: kafkazk.ControllerEpochPath, Data: kafkazk.EncodeControllerEpoch(1), Version: -1}))
			kw.k.ControllerElected(2, 1, kw.session(2))
		}, OneControllerPerEpoch, "broker 2 (session {s2}) claims controller epoch 1, but the commit that set it (zxid {e1}) made broker 1 of session {s1} controller"},
		{"epoch raised without /controller", func(kw *kafkaWorld) {
			kw.set(kw.brokers[3], kafkazk.ControllerEpochPath, kafkazk.EncodeControllerEpoch(1))
			kw.k.ControllerElected(3, 1, kw.session(3))
		}, OneControllerPerEpoch, "broker 3 (session {s3}) claims controller epoch 1, but the commit that set it (zxid {e1}) made no controller: session {s3} wrote it with /controller absent"},
		{"epoch raised by a session that does not own /controller", func(kw *kafkaWorld) {
			kw.elect(1)
			kw.set(kw.brokers[3], kafkazk.ControllerEpochPath, kafkazk.EncodeControllerEpoch(2))
			kw.k.ControllerElected(3, 2, kw.session(3))
		}, OneControllerPerEpoch, "broker 3 (session {s3}) claims controller epoch 2, but the commit that set it (zxid {e2}) made no controller: session {s3} wrote it while /controller belonged to session {s1}"},

		{"leader not in the ISR", func(kw *kafkaWorld) {
			withTopic(kw)
			kw.state(1, "t", 0, 1, 1, 2, 3)
		}, LeaderInISRSubsetOfReplicas, "partition t-0 leader 1 is not in its ISR [2 3] (leader epoch 1)"},
		{"ISR outside the replicas", func(kw *kafkaWorld) {
			withTopic(kw)
			kw.state(1, "t", 0, 1, 0, 1, 2, 3, 4)
		}, LeaderInISRSubsetOfReplicas, "partition t-0 ISR [1 2 3 4] has broker 4, not among its replicas [1 2 3] (leader epoch 0)"},
		{"ISR outside the replicas after a reassignment shrank them", func(kw *kafkaWorld) {
			withTopic(kw)
			kw.set(kw.brokers[1], kafkazk.TopicPath("t"), assignment([]int32{2, 3}).Encode())
			kw.state(1, "t", 0, 2, 1, 2, 3, 1)
		}, LeaderInISRSubsetOfReplicas, "partition t-0 ISR [2 3 1] has broker 1, not among its replicas [2 3] (leader epoch 1)"},
		{"partition not in the assignment", func(kw *kafkaWorld) {
			withTopic(kw)
			kw.state(1, "t", 1, 1, 0, 1)
		}, LeaderInISRSubsetOfReplicas, "partition t-1 state written, but /brokers/topics/t does not list partition 1"},
		{"topic znode without an assignment", func(kw *kafkaWorld) {
			kw.elect(1)
			kw.create(kw.admin, kafkazk.TopicPath("t"), nil, 0) // as a recursive create of the state's parents would
			kw.state(1, "t", 0, 1, 0, 1)
		}, LeaderInISRSubsetOfReplicas, "partition t-0 state written while /brokers/topics/t holds no assignment: kafkazk: decode /brokers/topics/<t>: not a JSON object: \"\": malformed znode data"},
		{"state does not decode", func(kw *kafkaWorld) {
			withTopic(kw)
			kw.set(kw.brokers[1], kafkazk.PartitionStatePath("t", 0), []byte(`{"version":1}`))
		}, LeaderInISRSubsetOfReplicas, `partition t-0: kafkazk: decode …/partitions/<p>/state: missing field "leader": malformed znode data`},

		{"leader epoch goes down", func(kw *kafkaWorld) {
			withTopic(kw)
			kw.state(1, "t", 0, 2, 2, 2, 3)
			kw.state(1, "t", 0, 3, 1, 3)
		}, LeaderEpochsOnlyGrow, "partition t-0 leader epoch went down from 2 to 1 (leader 2 -> 3)"},
		{"leader changes without an epoch", func(kw *kafkaWorld) {
			withTopic(kw)
			kw.state(1, "t", 0, 2, 0, 2, 3)
		}, LeaderEpochsOnlyGrow, "partition t-0 leader changed from 1 to 2 without raising leader epoch 0"},
		{"leader lost without an epoch", func(kw *kafkaWorld) {
			withTopic(kw)
			kw.state(1, "t", 0, -1, 0, 1)
		}, LeaderEpochsOnlyGrow, "partition t-0 leader changed from 1 to -1 without raising leader epoch 0"},
		{"state deleted alone and written again from 0", func(kw *kafkaWorld) {
			withTopic(kw)
			kw.state(1, "t", 0, 2, 1, 2, 3)
			kw.del(kw.brokers[1], kafkazk.PartitionStatePath("t", 0))
			kw.state(1, "t", 0, 1, 0, 1, 2, 3)
		}, LeaderEpochsOnlyGrow, "partition t-0 leader epoch went down from 1 to 0 (leader 2 -> 1)"},

		{"stale controller epoch applied", func(kw *kafkaWorld) {
			kw.k.RequestApplied(2, 1, APILeaderAndIsr, 3)
			kw.k.RequestApplied(2, 1, APIUpdateMetadata, 3)
			kw.k.RequestApplied(2, 1, APIStopReplica, 2)
		}, NoStaleRequestApplied, "broker 2 (incarnation 1) applied StopReplica of controller epoch 2 after UpdateMetadata of controller epoch 3"},
		{"stale leader epoch applied", func(kw *kafkaWorld) {
			kw.k.PartitionApplied(2, 1, "t", 0, 4)
			kw.k.PartitionApplied(2, 1, "t", 1, 1)
			kw.k.PartitionApplied(2, 1, "t", 0, 3)
		}, NoStaleRequestApplied, "broker 2 (incarnation 1) applied leader epoch 3 to partition t-0 after leader epoch 4"},
		{"stale leader epoch applied after another topic was deleted", func(kw *kafkaWorld) {
			withTopic(kw)
			kw.k.PartitionApplied(2, 1, "t", 0, 4)
			kw.k.PartitionApplied(2, 1, "u", 0, 0) // another topic: its own history
			kw.createTopic("u", []int32{2})
			kw.deleteTopic(1, "u")
			kw.k.PartitionApplied(2, 1, "t", 0, 0)
		}, NoStaleRequestApplied, "broker 2 (incarnation 1) applied leader epoch 0 to partition t-0 after leader epoch 4"},
	})
}

func TestKafkaLivenessInvariantsCatchPlantedBugs(t *testing.T) {
	settle := func(kw *kafkaWorld) {
		kw.metadataFromZK()
		kw.k.CheckSettled()
	}
	runPlants(t, []plant{
		{"no controller", func(kw *kafkaWorld) {
			settle(kw)
		}, ControllerIsLive, "no /controller: no broker is controller"},
		{"controller not alive", func(kw *kafkaWorld) {
			kw.elect(1)
			kw.cluster.alive[1] = false // paused past its session, say: /controller stays for now
			settle(kw)
		}, ControllerIsLive, "/controller names broker 1, which is not alive"},
		{"controller of another session", func(kw *kafkaWorld) {
			kw.elect(1)
			kw.cluster.sessions[1] = 77
			settle(kw)
		}, ControllerIsLive, "/controller names broker 1 but is owned by session {s1}, not the broker's session 0x4d"},
		{"controller without a session", func(kw *kafkaWorld) {
			kw.elect(1)
			delete(kw.cluster.sessions, 1)
			settle(kw)
		}, ControllerIsLive, "/controller names broker 1, which has no ZooKeeper session (/controller is owned by session {s1})"},
		{"controller registered by another session", func(kw *kafkaWorld) {
			kw.elect(1)
			kw.del(kw.brokers[1], kafkazk.BrokerIDPath(1))
			kw.create(kw.brokers[2], kafkazk.BrokerIDPath(1), nil, fakezk.FlagEphemeral)
			settle(kw)
		}, ControllerIsLive, "/controller names broker 1 of session {s1}, but /brokers/ids/1 is owned by session {s2}"},
		{"controller not registered", func(kw *kafkaWorld) {
			kw.elect(1)
			kw.del(kw.brokers[1], kafkazk.BrokerIDPath(1))
			settle(kw)
		}, ControllerIsLive, "/controller names broker 1, which is not registered (no /brokers/ids/1)"},
		{"partition with a dead leader and a live ISR member", func(kw *kafkaWorld) {
			withTopic(kw)
			kw.cluster.alive[2] = false
			kw.state(1, "t", 0, 2, 1, 2, 3)
			settle(kw)
		}, PartitionsHaveLiveLeaders, "partition t-0 has leader 2, which is not alive, though its ISR [2 3] has live broker 3 (leader epoch 1)"},
		{"partition with no leader and a live ISR member", func(kw *kafkaWorld) {
			withTopic(kw)
			kw.state(1, "t", 0, -1, 1, 3)
			settle(kw)
		}, PartitionsHaveLiveLeaders, "partition t-0 has no leader, though its ISR [3] has live broker 3 (leader epoch 1)"},
		{"metadata with another leader", func(kw *kafkaWorld) {
			withTopic(kw)
			kw.metadataFromZK()
			kw.cluster.md[2][tp("t", 0)] = PartitionMeta{Leader: 2, LeaderEpoch: 0, ISR: []int32{1, 2, 3}}
			kw.k.CheckSettled()
		}, MetadataAgrees, "broker 2's metadata disagrees with ZooKeeper on 1 partitions: t-0 leader 2 epoch 0 isr [1 2 3], ZooKeeper has leader 1 epoch 0 isr [1 2 3]"},
		{"metadata with an old ISR, a missing and an extra partition", func(kw *kafkaWorld) {
			withTopic(kw)
			kw.createTopic("u", []int32{3})
			kw.state(1, "u", 0, 3, 0, 3)
			kw.metadataFromZK()
			md := kw.cluster.md[3]
			md[tp("t", 0)] = PartitionMeta{Leader: 1, LeaderEpoch: 0, ISR: []int32{1, 2}}
			delete(md, tp("u", 0))
			md[tp("gone", 4)] = PartitionMeta{Leader: 1}
			kw.k.CheckSettled()
		}, MetadataAgrees, "broker 3's metadata disagrees with ZooKeeper on 3 partitions: t-0 leader 1 epoch 0 isr [1 2], ZooKeeper has leader 1 epoch 0 isr [1 2 3]; u-0 missing; gone-4 has no state znode"},
		{"live broker without metadata", func(kw *kafkaWorld) {
			kw.elect(1)
			kw.metadataFromZK()
			delete(kw.cluster.md, 2)
			kw.k.CheckSettled()
		}, MetadataAgrees, "broker 2 is alive but has no metadata"},
	})
}

func TestKafkaMetadataNamesAFewDisagreementsAndCountsAll(t *testing.T) {
	kw := newKafkaWorld(t, fakezk.ServerConfig{}, 1, 2, 3)
	kw.elect(1)
	kw.createTopic("t", []int32{1}, []int32{1}, []int32{1}, []int32{1}, []int32{1})
	for p := int32(0); p < 5; p++ {
		kw.state(1, "t", p, 1, 0, 1)
	}
	kw.metadataFromZK()
	kw.cluster.md[1] = map[kafkazk.TopicPartition]PartitionMeta{}
	kw.k.CheckSettled()
	vs := kw.c.Violations()
	require.Len(t, vs, 1)
	assert.Equal(t, "broker 1's metadata disagrees with ZooKeeper on 5 partitions: t-0 missing; t-1 missing; t-2 missing", vs[0].Message)
	assert.Equal(t, Liveness, vs[0].Class)
}

// A watch attached to a server that already holds a bad state finds it by
// its one read of the tree, and reports it once.
func TestKafkaWatchAttachedLateSweepsTheTree(t *testing.T) {
	kw := newKafkaWorld(t, fakezk.ServerConfig{}, 1, 2, 3)
	withTopic(kw)
	kw.state(1, "t", 0, 1, 1, 2, 3)
	require.Len(t, kw.c.Violations(), 1)

	late := NewChecker(kw.w)
	k := WatchKafka(late, kw.srv, kw.cluster)
	vs := late.Violations()
	require.Len(t, vs, 1)
	assert.Equal(t, LeaderInISRSubsetOfReplicas, vs[0].Invariant)
	assert.Equal(t, "partition t-0 leader 1 is not in its ISR [2 3] (leader epoch 1)", vs[0].Message)
	k.sweep()
	assert.Len(t, late.Violations(), 1, "a lasting bad state is reported once")

	// The late watch follows writes from what it read: a lower epoch is caught.
	kw.state(1, "t", 0, 2, 0, 2, 3)
	vs = late.Violations()
	require.Len(t, vs, 2)
	assert.Equal(t, "partition t-0 leader epoch went down from 1 to 0 (leader 1 -> 2)", vs[1].Message)
}

// A ZooKeeper crash takes back an election and a leader change whose fsync
// had not completed; nobody heard of them, and the epochs they used are
// given out again to others: no violation.
func TestKafkaInvariantsAllowReusingEpochsOfLostCommits(t *testing.T) {
	kw := newKafkaWorld(t, fakezk.ServerConfig{FsyncCost: 50 * sim.Millisecond}, 1, 2, 3)
	withTopic(kw)
	kw.w.Disk(kw.srv.ID()).SetLossMode(sim.LossTail)

	// Broker 1's controller moves t-0 to broker 2, and the ZooKeeper server
	// crashes before the write is on disk.
	path := kafkazk.PartitionStatePath("t", 0)
	kw.brokers[1].Set(path, kafkazk.PartitionState{Leader: 2, LeaderEpoch: 1, ISR: []int32{2, 3}, ControllerEpoch: 1}.Encode(), -1, func(*fakezk.Stat, error) {})
	for kw.srv.Zxid() == kw.srv.DurableZxid() {
		require.True(t, kw.w.Step())
	}
	kw.w.Crash(kw.srv.ID())
	kw.w.RunFor(100 * sim.Millisecond)
	kw.w.Restart(kw.srv.ID())
	kw.w.RunFor(sim.Second)
	data, _, err := kw.srv.Tree().Get(reader, path)
	require.NoError(t, err)
	s, err := kafkazk.DecodePartitionState(data)
	require.NoError(t, err)
	require.Equal(t, int32(1), s.Leader, "the crash took the leader change back")

	// After the restart, the same epoch goes to another leader.
	kw.state(1, "t", 0, 3, 1, 3)
	assert.Empty(t, kw.c.Violations())
	assert.Equal(t, int32(3), kw.k.topics["t"].parts[0].leader)
}

// crashBeforeFsync sends broker b's election multi for epoch e, and
// crashes and restarts the server once it is committed but not yet on disk
// (with BugAckBeforeFsync, once its reply has arrived). onReply runs when
// the reply arrives, before the crash, if it does.
func (kw *kafkaWorld) crashBeforeFsync(b, e int32, ackBeforeFsync bool, onReply func()) {
	kw.t.Helper()
	kw.w.RunFor(sim.Second) // what came before is on disk
	kw.w.Disk(kw.srv.ID()).SetLossMode(sim.LossTail)
	answered := false
	kw.brokers[b].Multi([]fakezk.Op{
		&fakezk.CreateRequest{Path: kafkazk.ControllerPath, Data: kafkazk.ControllerData{BrokerID: b}.Encode(), Acl: openACL, Flags: fakezk.FlagEphemeral},
		&fakezk.SetDataRequest{Path: kafkazk.ControllerEpochPath, Data: kafkazk.EncodeControllerEpoch(e), Version: -1},
	}, func(_ []fakezk.MultiResponse, err error) {
		if err != nil {
			return // the connection closed with the crash
		}
		answered = true
		onReply()
	})
	for kw.srv.Zxid() == kw.srv.DurableZxid() || (ackBeforeFsync && !answered) {
		require.True(kw.t, kw.w.Step())
	}
	require.Less(kw.t, kw.srv.DurableZxid(), kw.srv.Zxid(), "the election is not on disk yet")
	kw.w.Crash(kw.srv.ID())
	kw.w.RunFor(100 * sim.Millisecond)
	kw.w.Restart(kw.srv.ID())
	kw.w.RunFor(2 * sim.Second) // the clients notice and reconnect
	for _, c := range kw.brokers {
		for i := 0; i < 100 && c.State() != fakezk.StateHasSession; i++ {
			kw.w.RunFor(100 * sim.Millisecond)
		}
		require.Equal(kw.t, fakezk.StateHasSession, c.State())
	}
	_, ok := kw.srv.Tree().Exists(kafkazk.ControllerPath)
	require.False(kw.t, ok, "the crash took the election back")
}

// A crash takes an election back before anyone heard of it: a claim of its
// epoch made after that has no commit behind it.
func TestKafkaClaimOfALostElection(t *testing.T) {
	kw := newKafkaWorld(t, fakezk.ServerConfig{FsyncCost: 50 * sim.Millisecond}, 1, 2)
	kw.crashBeforeFsync(1, 1, false, func() { t.Fatal("the reply left before the fsync") })
	kw.k.ControllerElected(1, 1, kw.session(1))
	vs := kw.c.Violations()
	require.Len(t, vs, 1)
	assert.Equal(t, kw.expand("broker 1 (session {s1}) claims controller epoch 1, but no commit set /controller_epoch to 1"), vs[0].Message)
}

// A server that replies before its fsync lets broker 1 hear of an election
// the crash then takes back; broker 2 wins the same epoch again, and two
// brokers have believed they were controller in epoch 1.
func TestKafkaTwoControllersInOneEpochFromAnAckBeforeFsync(t *testing.T) {
	kw := newKafkaWorld(t, fakezk.ServerConfig{FsyncCost: 50 * sim.Millisecond, BugAckBeforeFsync: true}, 1, 2)
	s1 := kw.session(1)
	kw.crashBeforeFsync(1, 1, true, func() { kw.k.ControllerElected(1, 1, s1) })
	require.Empty(t, kw.c.Violations(), "checked on arrival against the commit, which existed then")
	kw.elect(2)
	vs := kw.c.Violations()
	require.Len(t, vs, 1)
	assert.Equal(t, OneControllerPerEpoch, vs[0].Invariant)
	assert.Equal(t, kw.expand(fmt.Sprintf("broker 2 (session {s2}) claims controller epoch 1, already claimed by broker 1 (session 0x%x)", s1)), vs[0].Message)
}

func TestKafkaReportsRefuseMisuse(t *testing.T) {
	kw := newKafkaWorld(t, fakezk.ServerConfig{})
	assert.PanicsWithValue(t, `invariants: RequestApplied(1, 1, "Produce", 3): not a control request (want LeaderAndIsr, UpdateMetadata or StopReplica)`,
		func() { kw.k.RequestApplied(1, 1, "Produce", 3) })
	kw.k.PartitionApplied(1, 2, "t", 0, 0)
	assert.PanicsWithValue(t, "invariants: broker 1 reported incarnation 1 after incarnation 2",
		func() { kw.k.PartitionApplied(1, 1, "t", 0, 0) })
}

func TestClassifyKafkaPaths(t *testing.T) {
	for _, c := range []struct {
		path  string
		kind  znodeKind
		topic string
		p     int32
	}{
		{"/controller_epoch", epochNode, "", 0},
		{"/controller", otherNode, "", 0},
		{"/brokers/topics", otherNode, "", 0},
		{"/brokers/topics/", otherNode, "", 0},
		{"/brokers/topics/t", topicNode, "t", 0},
		{"/brokers/topics/t/partitions", otherNode, "", 0},
		{"/brokers/topics/t/partitions/12", otherNode, "", 0},
		{"/brokers/topics/t/partitions/12/state", stateNode, "t", 12},
		{"/brokers/topics/t/partitions/-1/state", otherNode, "", 0},
		{"/brokers/topics/t/partitions/x/state", otherNode, "", 0},
		{"/brokers/topics/t/partitions/1/state/x", otherNode, "", 0},
		{"/brokers/ids/1", otherNode, "", 0},
	} {
		kind, topic, p := classify(c.path)
		assert.Equal(t, c.kind, kind, c.path)
		assert.Equal(t, c.topic, topic, c.path)
		assert.Equal(t, c.p, p, c.path)
	}
}
