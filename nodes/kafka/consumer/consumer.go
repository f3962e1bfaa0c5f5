package consumer

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/consumer/assign"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// Timers.
const (
	timerBackoff    kproc.TimerName = "consumer/rebalance-backoff"
	timerAutoCommit kproc.TimerName = "consumer/auto-commit"
	timerFinder     kproc.TimerName = "consumer/leader-finder"
)

// SameOwner is the checker 0.8.2's registerConsumerInZK hands
// createEphemeralPathExpectConflictHandleZKBug ((consumerZKString,
// consumer) => true): any node in the way is taken for this consumer's
// from an expired session. A scenario running the 0.8.2 consumer sets it
// as kafkazk.Config.SameOwner with Era08.
func SameOwner([]byte) bool { return true }

type phase uint8

const (
	phaseNew         phase = iota // before the group paths exist
	phaseRegistering              // the registration is being created
	phaseRunning                  // registered in the current session
	phaseExited
)

func (p phase) String() string {
	return [...]string{"new", "registering", "running", "exited"}[p]
}

// partInfo is Kafka's PartitionTopicInfo: one owned partition's thread and
// offsets. The fetchers hold it too, so one dropped from the registry (at a
// session expiry) is still fetched until the next rebalance stops them.
type partInfo struct {
	tp       proto.TopicPartition
	thread   string
	consumed int64 // the next offset to deliver; −1 until a reset gives one
	fetched  int64 // the next offset to fetch
}

// Consumer is the machine of one old high-level consumer.
type Consumer struct {
	cfg   Config
	sub   assign.Subscription
	now   sim.Time
	out   []kproc.Effect
	next  kproc.ReqID
	zkRes map[kproc.ReqID]func([]fakezk.Response)
	rpcs  map[kproc.ReqID]func(rpc.Payload, error)

	id       string // the consumer id registered
	phase    phase
	regReq   kproc.ReqID // the registration awaited
	regCount int
	// brokersWatched: a rebalance found no broker and subscribed to
	// /brokers/ids (KAFKA-969); zkclient keeps the subscription.
	brokersWatched bool
	shuttingDown   bool
	// sessions counts the new sessions begun (AfterInitializingSession);
	// pathsLost: the group paths' creation met an expired session before
	// the next began, and waits for it.
	sessions  int
	pathsLost bool

	// syncedRebalance.
	rebalancing bool
	pending     string // a change heard while a rebalance ran: rebalance again (KAFKA-1139)
	attempt     int
	attemptGen  uint64
	failed      bool // the last syncedRebalance gave up

	registry     map[proto.TopicPartition]*partInfo // topicRegistry
	checkpointed map[proto.TopicPartition]int64     // checkpointedZkOffsets: last read or written

	fetch fetchManager
}

// New returns a consumer's machine for one incarnation. cfg must be valid
// (Config.Validate): an invalid one is a programming error and panics.
func New(cfg Config) *Consumer {
	if err := cfg.Validate(); err != nil {
		panic(err.Error())
	}
	c := &Consumer{
		cfg:          cfg,
		sub:          assign.Subscription{Pattern: assign.Static, Streams: maps.Clone(cfg.Topics)},
		zkRes:        map[kproc.ReqID]func([]fakezk.Response){},
		rpcs:         map[kproc.ReqID]func(rpc.Payload, error){},
		registry:     map[proto.TopicPartition]*partInfo{},
		checkpointed: map[proto.TopicPartition]int64{},
	}
	c.fetch.init()
	return c
}

// ID returns the consumer id (empty before the first start).
func (c *Consumer) ID() string { return c.id }

// Step implements kproc.Machine.
func (c *Consumer) Step(now sim.Time, in kproc.Input) []kproc.Effect {
	c.now = now
	if c.phase == phaseExited {
		return nil
	}
	switch in := in.(type) {
	case kproc.Started:
		c.start()
	case kproc.ZKResult:
		cont, ok := c.zkRes[in.Req]
		if !ok {
			panic(fmt.Sprintf("consumer %s: ZooKeeper answer to unknown request %d", c.id, in.Req))
		}
		delete(c.zkRes, in.Req)
		cont(in.Resps)
	case kproc.ZKRegistered:
		c.registered(in)
	case kproc.ZKChange:
		c.changed(in)
	case kproc.ZKSessionPhase:
		if in.Phase == kproc.AfterInitializingSession {
			c.newSession()
		}
	case kproc.RPCResult:
		cont, ok := c.rpcs[in.Req]
		if !ok {
			panic(fmt.Sprintf("consumer %s: rpc answer to unknown request %d", c.id, in.Req))
		}
		delete(c.rpcs, in.Req)
		cont(in.Resp, in.Err)
	case kproc.TimerFired:
		c.timer(in.Name)
	case kproc.Shutdown:
		c.shutdown()
	case kproc.RPCIn, kproc.Synced:
		panic(fmt.Sprintf("consumer %s: unexpected input %v (a consumer serves no APIs and syncs nothing)", c.id, in))
	}
	out := c.out
	c.out = nil
	return out
}

func (c *Consumer) emit(e kproc.Effect) { c.out = append(c.out, e) }

func (c *Consumer) newID() kproc.ReqID {
	c.next++
	return c.next
}

// zk sends reqs as one pipelined batch; cont gets the answers.
func (c *Consumer) zk(reqs []fakezk.Request, cont func([]fakezk.Response)) {
	id := c.newID()
	c.zkRes[id] = cont
	c.emit(kproc.ZKBatch{ID: id, Reqs: reqs})
}

// send sends req to the broker at host on the client channel.
func (c *Consumer) send(host string, req rpc.Payload, cont func(rpc.Payload, error)) {
	id := c.newID()
	c.rpcs[id] = cont
	c.emit(kproc.Send{ID: id, Host: host, Channel: kproc.ChannelClient, Req: req, Timeout: c.cfg.SocketTimeout})
}

// Paths (Kafka's ZKGroupDirs, ZKGroupTopicDirs).
func (c *Consumer) groupPath() string { return kafkazk.ConsumersPath + "/" + c.cfg.Group }
func (c *Consumer) idsPath() string   { return c.groupPath() + "/ids" }
func (c *Consumer) ownersPath(topic string) string {
	return c.groupPath() + "/owners/" + topic
}
func (c *Consumer) ownerPath(tp proto.TopicPartition) string {
	return c.ownersPath(tp.Topic) + "/" + c.partName(tp.Partition)
}

// partName names a partition in owner and offset znodes: its id, or under
// Era07 "<b>-<p>" (0.7.2 Partition.name).
func (c *Consumer) partName(p int32) string {
	if c.cfg.Era07 {
		return assign.Unpack07(p).Name()
	}
	return strconv.Itoa(int(p))
}

// wire returns tp as the broker names it: under Era07 the partition id
// within its broker.
func (c *Consumer) wire(tp proto.TopicPartition) proto.TopicPartition {
	if c.cfg.Era07 {
		tp.Partition = assign.Unpack07(tp.Partition).Part
	}
	return tp
}

// parseReg reads a member's registration in the consumer's form.
func (c *Consumer) parseReg(data []byte) (assign.Subscription, error) {
	if c.cfg.Era07 {
		return assign.ParseRegistration07(string(data))
	}
	return assign.ParseRegistration(data)
}
func (c *Consumer) offsetsPath(topic string) string {
	return c.groupPath() + "/offsets/" + topic
}
func (c *Consumer) offsetPath(tp proto.TopicPartition) string {
	return c.offsetsPath(tp.Topic) + "/" + c.partName(tp.Partition)
}

// OwnerPath returns /consumers/<group>/owners/<topic>/<partition>.
func OwnerPath(group string, tp proto.TopicPartition) string {
	return kafkazk.ConsumersPath + "/" + group + "/owners/" + tp.Topic + "/" + strconv.Itoa(int(tp.Partition))
}

// OffsetPath returns /consumers/<group>/offsets/<topic>/<partition>.
func OffsetPath(group string, tp proto.TopicPartition) string {
	return kafkazk.ConsumersPath + "/" + group + "/offsets/" + tp.Topic + "/" + strconv.Itoa(int(tp.Partition))
}

// OwnerPath07 and OffsetPath07 are OwnerPath and OffsetPath of a 0.7
// partition: /consumers/<group>/{owners,offsets}/<topic>/<b>-<p>.
func OwnerPath07(group, topic string, bp assign.BrokerPartition) string {
	return kafkazk.ConsumersPath + "/" + group + "/owners/" + topic + "/" + bp.Name()
}

// OffsetPath07: see OwnerPath07.
func OffsetPath07(group, topic string, bp assign.BrokerPartition) string {
	return kafkazk.ConsumersPath + "/" + group + "/offsets/" + topic + "/" + bp.Name()
}

// IDsPath returns /consumers/<group>/ids.
func IDsPath(group string) string { return kafkazk.ConsumersPath + "/" + group + "/ids" }

var acl = fakezk.WorldACL(fakezk.PermAll)

func persistent(path string) fakezk.Request {
	return &fakezk.CreateRequest{Path: path, Acl: acl}
}

// start: the connector's construction and createMessageStreams: the
// consumer id, the group's paths, the registration, the listeners, the
// auto-commit schedule.
func (c *Consumer) start() {
	if c.phase != phaseNew {
		panic(fmt.Sprintf("consumer %s: started twice", c.id))
	}
	if c.cfg.ConsumerID != "" {
		c.id = c.cfg.Group + "_" + c.cfg.ConsumerID
	} else {
		// consumerIdString: <host>-<currentTimeMillis>-<the first 8 hex
		// digits of a random (version 4) UUID's high 64 bits, unpadded>.
		hi := c.cfg.Rand.Uint64()&^0xf000 | 0x4000
		hex := strconv.FormatUint(hi, 16)
		c.id = c.cfg.Group + "_" + c.cfg.Host + "-" + strconv.FormatInt(c.nowMs(), 10) + "-" + hex[:min(8, len(hex))]
	}
	c.createPaths()
	// The listeners (reinitializeConsumer): the group's members, and each
	// subscribed topic's partitions (KAFKA-1075). The reads of the
	// rebalance arm their watches.
	c.emit(kproc.ZKHandler{Path: c.idsPath(), Child: true})
	for _, t := range slices.Sorted(maps.Keys(c.cfg.Topics)) {
		// 0.7: a child listener on the topic's broker registrations.
		c.emit(kproc.ZKHandler{Path: kafkazk.TopicPath(t), Child: c.cfg.Era07})
		if c.cfg.Era07 {
			// zkclient's subscribeChildChanges also watches the path's
			// existence (watchForChilds), so a topic no broker has
			// registered yet is heard of when it is created.
			c.emit(kproc.ZKHandler{Path: kafkazk.TopicPath(t)})
		}
	}
	if !c.cfg.AutoCommitDisabled {
		c.emit(kproc.SetTimer{Name: timerAutoCommit, After: c.cfg.AutoCommitInterval})
	}
}

// createPaths makes the registration's missing parents persistent, as
// ZKCheckedEphemeral.createRecursive (0.8.2: createParentPath) does, then
// registers. A session that expired meanwhile: made again on the next, at
// once if it has begun, else when it does (zkclient's retryUntilConnected
// waits for it; retrying on the expired handle, which fails every request
// at once, would spin without time passing).
func (c *Consumer) createPaths() {
	sent := c.sessions
	c.zk([]fakezk.Request{persistent(kafkazk.ConsumersPath), persistent(c.groupPath()), persistent(c.idsPath())}, func(rs []fakezk.Response) {
		for _, r := range rs {
			if errors.Is(r.Err, fakezk.ErrSessionExpired) {
				if c.sessions > sent {
					c.createPaths()
				} else {
					c.pathsLost = true
				}
				return
			}
			if r.Err != nil && !errors.Is(r.Err, fakezk.ErrNodeExists) {
				c.registrationFailed(r.Err)
				return
			}
		}
		c.register()
	})
}

func (c *Consumer) nowMs() int64 { return int64(c.now) / int64(sim.Millisecond) }

// register creates /consumers/<group>/ids/<id> with a fresh timestamp
// (registerConsumerInZK).
func (c *Consumer) register() {
	data, err := assign.EncodeRegistration(c.sub, c.nowMs())
	if c.cfg.Era07 {
		var s string
		s, err = assign.EncodeRegistration07(c.sub) // no timestamp in 0.7
		data = []byte(s)
	}
	if err != nil {
		panic(fmt.Sprintf("consumer %s: %v", c.id, err)) // Validate admitted the subscription
	}
	c.phase = phaseRegistering
	c.regReq = c.newID()
	c.emit(kproc.ZKRegister{ID: c.regReq, Path: c.idsPath() + "/" + c.id, Data: data})
}

func (c *Consumer) registered(in kproc.ZKRegistered) {
	if in.Req != c.regReq || c.phase != phaseRegistering {
		return // a registration of an earlier session, superseded
	}
	if in.Err != nil {
		if errors.Is(in.Err, fakezk.ErrSessionExpired) {
			return // the re-initialisation that follows registers again
		}
		c.registrationFailed(in.Err)
		return
	}
	c.phase = phaseRunning
	c.regCount++
	c.emit(Registered{Group: c.cfg.Group, ConsumerID: c.id, Again: c.regCount > 1})
	reason := "start"
	if c.regCount > 1 {
		reason = "new session"
	}
	c.pending = "" // the rebalance below reads everything anew
	c.requestRebalance(reason)
}

// registrationFailed: createMessageStreams (or handleNewSession) threw.
// Simplified: the application exits (Kafka leaves that to it).
func (c *Consumer) registrationFailed(err error) {
	c.emit(RegistrationFailed{Group: c.cfg.Group, ConsumerID: c.id, Why: err.Error()})
	c.exit()
}

func (c *Consumer) exit() {
	c.fetch.stop(c)
	c.phase = phaseExited
	c.emit(kproc.Exit{})
}

// newSession is ZKSessionExpireListener.handleNewSession: the registry is
// dropped without deleting anything (its ephemerals died with the old
// session; the fetchers run on), the consumer registers again with a new
// timestamp, then rebalances.
func (c *Consumer) newSession() {
	c.sessions++
	if c.phase == phaseNew {
		if c.pathsLost { // their creation met the expiry: make them on this session
			c.pathsLost = false
			c.createPaths()
		}
		return // the group paths are still being made; register follows
	}
	clear(c.registry)
	c.register()
}

// changed: a listener fired. zkclient re-arms a watch when it fires, so the
// path is read again at once; then a rebalance is queued.
func (c *Consumer) changed(in kproc.ZKChange) {
	switch {
	case in.Path == c.idsPath() && in.Kind == kproc.ChildChange:
		c.zk([]fakezk.Request{&fakezk.GetChildrenRequest{Path: in.Path}}, func([]fakezk.Response) {})
		c.requestRebalance("members changed")
	case in.Path == kafkazk.BrokerIDsPath && in.Kind == kproc.ChildChange:
		c.zk([]fakezk.Request{&fakezk.GetChildrenRequest{Path: in.Path}}, func([]fakezk.Response) {})
		c.requestRebalance("brokers changed")
	case c.cfg.Era07 && in.Kind == kproc.ChildChange && strings.HasPrefix(in.Path, kafkazk.TopicsPath+"/"):
		// 0.7: a broker registered or dropped the topic.
		c.zk([]fakezk.Request{&fakezk.GetChildrenRequest{Path: in.Path}}, func([]fakezk.Response) {})
		c.requestRebalance("partitions changed: " + in.Path)
	case in.Kind != kproc.ChildChange:
		c.zk([]fakezk.Request{&fakezk.ExistsRequest{Path: in.Path}}, func([]fakezk.Response) {})
		if in.Kind == kproc.Deletion {
			return // ZKTopicPartitionChangeListener.handleDataDeleted only warns
		}
		c.requestRebalance("partitions changed: " + in.Path)
	}
}

func (c *Consumer) timer(name kproc.TimerName) {
	switch name {
	case timerBackoff:
		if c.attempt >= c.cfg.RebalanceMaxRetries {
			c.failed = true
			c.emit(RebalanceFailed{Group: c.cfg.Group, ConsumerID: c.id, Attempts: c.attempt})
			c.endRebalance()
			return
		}
		c.runAttempt()
	case timerAutoCommit:
		c.commit(func(error) {}) // autoCommit: errors are logged
		c.emit(kproc.SetTimer{Name: timerAutoCommit, After: c.cfg.AutoCommitInterval})
	case timerFinder:
		c.fetch.finderSlept(c)
	default:
		panic(fmt.Sprintf("consumer %s: unknown timer %q", c.id, name))
	}
}

// shutdown is ZookeeperConsumerConnector.shutdown: fetchers stopped,
// offsets committed (auto-commit on), the ZooKeeper client closed (Exit).
func (c *Consumer) shutdown() {
	if c.shuttingDown {
		return
	}
	c.shuttingDown = true
	c.fetch.stop(c)
	c.emit(kproc.CancelTimer{Name: timerAutoCommit})
	if c.cfg.AutoCommitDisabled {
		c.exit()
		return
	}
	c.commit(func(error) {
		if c.phase != phaseExited {
			c.exit()
		}
	})
}

// Running reports whether the consumer is registered in its current
// session.
func (c *Consumer) Running() bool { return c.phase == phaseRunning }
