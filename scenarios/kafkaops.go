package scenarios

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/controller/algo"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/sim"
)

// Fault kinds and admin operations of the Kafka scenarios. A "controller"
// target is resolved when the fault fires: whoever /controller names then.
const (
	faultCrashController     = "crash-controller"
	faultCrashBroker         = "crash-broker"      // the process is killed; the page cache survives
	faultPowerLossBroker     = "power-loss-broker" // the machine loses power: unsynced writes are gone
	faultPauseController     = "pause-controller"  // a GC pause, up to past the session timeout: a zombie
	faultPauseBroker         = "pause-broker"
	faultPartitionController = "partition-controller" // cut from ZooKeeper
	faultPartitionBroker     = "partition-broker"     // cut from ZooKeeper
	faultIsolateBroker       = "isolate-broker"       // cut from everyone
	faultExpireController    = "expire-controller"    // ZooKeeper expires the session, the process lives on
	faultExpireBroker        = "expire-broker"
	faultControlledShutdown  = "controlled-shutdown" // SIGTERM, restarted after the hold
	// faultZombie crashes a broker and pauses the controller past its
	// session timeout the moment it starts sending the LeaderAndIsr that
	// move that broker's leaders: it wakes with requests of its old epoch
	// still queued for its brokers.
	faultZombie = "zombie"

	opCreateTopic       = "create-topic"
	opDeleteTopic       = "delete-topic"
	opPreferredElection = "preferred-election"
	opReassign          = "reassign"
)

// kafkaEvent is one entry of a Kafka scenario's schedule: a fault or an
// admin operation, with its target drawn as an index (resolved at its
// time) and how long a fault holds.
type kafkaEvent struct {
	At     sim.Time
	Kind   string
	Target int // broker index, or a topic index for operations
	Hold   sim.Duration
}

func (e kafkaEvent) String() string {
	return fmt.Sprintf("%v %s #%d for %v", sim.Duration(e.At), e.Kind, e.Target, e.Hold)
}

// drawKafkaSchedule draws the safety phase's events. Swarm testing: the
// seed first picks which of the plan's kinds this run uses.
func drawKafkaSchedule(r *sim.Rand, plan kafkaPlan) ([]kafkaEvent, []string) {
	kinds := append(slices.Clone(plan.faults), plan.ops...)
	if len(kinds) == 0 {
		return nil, nil
	}
	enabled := swarm(r, kinds, 0.6)
	every := plan.faultEvery
	if every == 0 {
		every = 10 * sim.Second
	}
	var s []kafkaEvent
	for at := sim.Time(0).Add(10*sim.Second + r.DurationBetween(0, every)); at < sim.Time(plan.safety-10*sim.Second); at = at.Add(r.DurationBetween(every/2, every*3/2)) {
		kind := enabled[r.Intn(len(enabled))]
		hold := r.DurationBetween(sim.Second, 15*sim.Second)
		if kind == faultPauseController || kind == faultPauseBroker {
			hold = r.DurationBetween(2*sim.Second, 30*sim.Second) // past the 18 s session timeout at times
		}
		s = append(s, kafkaEvent{At: at, Kind: kind, Target: r.Intn(1 << 16), Hold: hold})
	}
	return s, enabled
}

func (c *kcluster) scheduleFaults() {
	w := c.w
	c.faults = sim.NewInjector(w)
	c.faults.OnHeal = func(f sim.Fault, why string) {
		c.narrateHeal(f, why)
		if f.Kind == sim.FaultPause || f.Kind == sim.FaultIsolate {
			if id, err := strconv.ParseInt(strings.TrimPrefix(f.Proc, "broker-"), 10, 32); err == nil {
				if b := c.broker(int32(id)); b != nil {
					c.resumed(b)
				}
			}
		}
	}
	events, enabled := drawKafkaSchedule(w.Rand("faults"), c.plan)
	w.At(sim.Kernel, 0, "swarm", func() { c.narrate("fault kinds and operations this run: %v", enabled) })
	for _, e := range events {
		w.At(sim.Kernel, e.At, e.Kind, func() { c.fire(e) })
	}
	for _, t := range c.plan.topics {
		w.At(c.admin.pid, sim.Time(kafkaAdminStart), "create-topic", func() { c.admin.createTopic(t) })
	}
}

// target resolves a fault's broker: the controller, or one by index.
func (c *kcluster) target(e kafkaEvent) *kbroker {
	switch e.Kind {
	case faultCrashController, faultPauseController, faultPartitionController, faultExpireController:
		id, ok := c.activeController()
		if !ok {
			return nil
		}
		return c.broker(id)
	}
	return c.brokers[e.Target%len(c.brokers)]
}

// fire applies one scheduled event, if it can apply now (a crashed broker
// is not crashed again, a paused one not paused).
func (c *kcluster) fire(e kafkaEvent) {
	w := c.w
	switch e.Kind {
	case opCreateTopic, opDeleteTopic, opPreferredElection, opReassign:
		w.At(c.admin.pid, w.Now(), e.Kind, func() { c.admin.operate(e) })
		return
	}
	if e.Kind == faultZombie {
		c.fireZombie(e)
		return
	}
	b := c.target(e)
	if b == nil || !w.IsUp(b.pid) || w.IsPaused(b.pid) {
		return
	}
	role := ""
	if id, ok := c.activeController(); ok && id == b.id {
		role = " (the controller)"
	}
	c.faultID++
	f := sim.Fault{ID: c.faultID, Proc: b.name}
	zk := []string{w.Name(c.srv.ID())}
	switch e.Kind {
	case faultCrashController, faultCrashBroker:
		f.Kind = sim.FaultCrash
		c.narrate("crash %s%s for %v", b.name, role, e.Hold)
	case faultPowerLossBroker:
		f.Kind = sim.FaultDiskCrashLoss
		c.powerLosses++
		c.narrate("power failure of %s%s for %v: what it did not fsync is lost", b.name, role, e.Hold)
	case faultPauseController, faultPauseBroker:
		f.Kind = sim.FaultPause
		c.narrate("GC pause of %s%s for %v", b.name, role, e.Hold)
	case faultPartitionController, faultPartitionBroker:
		f = sim.Fault{ID: c.faultID, Kind: sim.FaultPartition, A: []string{b.name}, B: zk}
		c.narrate("partition %s%s from ZooKeeper for %v", b.name, role, e.Hold)
	case faultIsolateBroker:
		f.Kind = sim.FaultIsolate
		c.narrate("isolate %s%s for %v", b.name, role, e.Hold)
	case faultExpireController, faultExpireBroker:
		_, session := b.shell.Session()
		if session == 0 || !c.srv.SessionAlive(session) || !c.w.IsUp(c.srv.ID()) {
			return
		}
		// Hit before the expiry: it deletes /controller, which brokerHit
		// reads to start the failover clock.
		c.brokerHit(b, hitZooKeeper)
		c.srv.Expire(session)
		c.narrate("ZooKeeper expires the session 0x%x of %s%s; the process lives on", session, b.name, role)
		return
	case faultControlledShutdown:
		c.narrate("controlled shutdown of %s%s; restart after %v", b.name, role, e.Hold)
		w.At(b.pid, w.Now(), "shutdown", b.shell.Shutdown)
		w.At(sim.Kernel, w.Now().Add(e.Hold), "restart", func() {
			if !w.IsUp(b.pid) {
				c.narrate("restart %s", b.name)
				w.Restart(b.pid)
			}
		})
		return
	default:
		panic("kafka scenario: unknown fault kind " + e.Kind)
	}
	switch f.Kind {
	case sim.FaultCrash, sim.FaultDiskCrashLoss:
		c.brokerHit(b, hitCrash)
	case sim.FaultPartition:
		c.brokerHit(b, hitZooKeeper)
	default:
		c.brokerHit(b, hitPause)
	}
	if err := c.faults.Apply(f, e.Hold); err != nil {
		panic(fmt.Sprintf("kafka scenario: %v: %v", f, err)) // targets were checked above
	}
}

func (c *kcluster) fireZombie(e kafkaEvent) {
	w := c.w
	ctl, ok := c.activeController()
	if !ok || c.zombiePause > 0 {
		return
	}
	var others []*kbroker
	for _, b := range c.brokers {
		if b.id != ctl && w.IsUp(b.pid) && !w.IsPaused(b.pid) {
			others = append(others, b)
		}
	}
	if len(others) == 0 {
		return
	}
	victim := others[e.Target%len(others)]
	c.zombiePause = kafkaZombiePause
	c.narrate("crash %s for %v; the controller (broker-%d) will pause for %v as it moves its leaders", victim.name, e.Hold+30*sim.Second, ctl, kafkaZombiePause)
	c.faultID++
	c.brokerHit(victim, hitCrash)
	if err := c.faults.Apply(sim.Fault{ID: c.faultID, Kind: sim.FaultCrash, Proc: victim.name}, e.Hold+30*sim.Second); err != nil {
		panic(fmt.Sprintf("kafka scenario: zombie crash: %v", err))
	}
}

// kafkaZombiePause is past the 18 s session timeout and its 2 s ticks.
const kafkaZombiePause = 25 * sim.Second

// maybeZombie pauses the controller that is sending requests, if a zombie
// fault armed the pause.
func (c *kcluster) maybeZombie(b *kbroker) {
	w := c.w
	if c.zombiePause == 0 || !w.IsUp(b.pid) || w.IsPaused(b.pid) {
		return
	}
	hold := c.zombiePause
	c.zombiePause = 0
	c.faultID++
	c.narrate("GC pause of %s (the controller) for %v while it sends LeaderAndIsr", b.name, hold)
	c.brokerHit(b, hitPause)
	if err := c.faults.Apply(sim.Fault{ID: c.faultID, Kind: sim.FaultPause, Proc: b.name}, hold); err != nil {
		panic(fmt.Sprintf("kafka scenario: zombie pause: %v", err))
	}
}

func (c *kcluster) narrateHeal(f sim.Fault, why string) {
	early, quiet := healNote(why)
	if quiet {
		return
	}
	switch f.Kind {
	case sim.FaultCrash:
		c.narrate("restart %s%s", f.Proc, early)
	case sim.FaultDiskCrashLoss:
		c.narrate("power is back: restart %s%s", f.Proc, early)
	case sim.FaultPause:
		c.narrate("%s resumes%s", f.Proc, early)
	case sim.FaultPartition:
		c.narrate("heal %s | ZooKeeper%s", f.A[0], early)
	case sim.FaultIsolate:
		c.narrate("%s rejoins the network%s", f.Proc, early)
	}
}

// kadmin is the operator's tooling (kafka-topics.sh and friends in their
// ZooKeeper form): a process that writes Kafka's admin znodes through
// Kafka's ZooKeeper layer, as AdminZkClient does.
type kadmin struct {
	c      *kcluster
	pid    sim.ProcID
	zk     *kafkazk.Client
	topics []topicSpec // created, in order
	next   int
}

func newAdmin(c *kcluster) *kadmin {
	a := &kadmin{c: c}
	a.pid = c.w.AddProcess("admin", sim.ProcessHooks{})
	c.w.At(a.pid, 0, "admin-start", func() {
		a.zk = kafkazk.New(c.w, a.pid, kafkazk.Config{Servers: []sim.ProcID{c.srv.ID()}, SessionTimeout: c.kcfg.ZooKeeperSessionTimeout})
	})
	return a
}

// createTopic is AdminZkClient.createTopic: the replicas are assigned over
// the registered brokers (AdminUtils.assignReplicasToBrokers), then the
// topic's config and its assignment znode are written; the controller does
// the rest.
func (a *kadmin) createTopic(t topicSpec) {
	c := a.c
	a.zk.Handle([]fakezk.Request{&fakezk.GetChildrenRequest{Path: kafkazk.BrokerIDsPath}}, func(rs []fakezk.Response) {
		if rs[0].Err != nil {
			c.narrate("admin: cannot list brokers to create %s: %v", t.name, rs[0].Err)
			return
		}
		var brokers []algo.Broker
		for _, s := range rs[0].Children {
			id, err := strconv.ParseInt(s, 10, 32)
			if err == nil {
				brokers = append(brokers, algo.Broker{ID: int32(id)})
			}
		}
		slices.SortFunc(brokers, func(x, y algo.Broker) int { return int(x.ID) - int(y.ID) })
		if len(brokers) == 0 { // AdminUtils refuses before drawing a placement (DrawPlacement needs a broker)
			c.narrate("admin: cannot create %s: no broker is registered", t.name)
			return
		}
		assignment, err := algo.AssignReplicas(brokers, t.partitions, t.rf, algo.DrawPlacement(c.w.Rand("admin/"+t.name), len(brokers)), 0)
		if err != nil {
			c.narrate("admin: cannot create %s: %v", t.name, err)
			return
		}
		ta := kafkazk.TopicAssignment{Version: 2, Partitions: map[int32]kafkazk.ReplicaAssignment{}}
		for p, replicas := range assignment {
			if c.plan.bugs.assignToMissingBrokers {
				for i := range replicas {
					replicas[i] += 90
				}
			}
			ta.Partitions[int32(p)] = kafkazk.ReplicaAssignment{Replicas: replicas}
		}
		acl := fakezk.WorldACL(fakezk.PermAll)
		a.zk.Handle([]fakezk.Request{
			&fakezk.CreateRequest{Path: kafkazk.ConfigEntityPath("topics", t.name), Data: []byte(`{"version":1,"config":{}}`), Acl: acl},
			&fakezk.CreateRequest{Path: kafkazk.TopicPath(t.name), Data: ta.Encode(), Acl: acl},
		}, func(rs []fakezk.Response) {
			if err := rs[1].Err; err != nil {
				c.narrate("admin: creating %s: %v", t.name, err)
				return
			}
			a.topics = append(a.topics, t)
			c.narrate("admin creates topic %s: %d partitions, replication factor %d", t.name, t.partitions, t.rf)
		})
	})
}

// operate runs one drawn admin operation.
func (a *kadmin) operate(e kafkaEvent) {
	c := a.c
	switch e.Kind {
	case opCreateTopic:
		a.next++
		a.createTopic(topicSpec{name: fmt.Sprintf("new-%d", a.next), partitions: 1 + e.Target%8, rf: min(3, len(c.brokers))})
	case opDeleteTopic:
		if len(a.topics) == 0 {
			return
		}
		t := a.topics[e.Target%len(a.topics)]
		a.topics = slices.DeleteFunc(a.topics, func(x topicSpec) bool { return x.name == t.name })
		a.zk.Handle([]fakezk.Request{&fakezk.CreateRequest{Path: kafkazk.DeleteTopicPath(t.name), Data: kafkazk.EmptyData, Acl: fakezk.WorldACL(fakezk.PermAll)}},
			func(rs []fakezk.Response) {
				if rs[0].Err == nil {
					c.deleted = append(c.deleted, t.name)
					c.narrate("admin marks topic %s for deletion", t.name)
				}
			})
	case opPreferredElection:
		var list kafkazk.PartitionList
		for _, t := range a.topics {
			for p := 0; p < t.partitions; p++ {
				list.Partitions = append(list.Partitions, kafkazk.TopicPartition{Topic: t.name, Partition: int32(p)})
			}
		}
		if len(list.Partitions) == 0 {
			return
		}
		a.zk.Handle([]fakezk.Request{&fakezk.CreateRequest{Path: kafkazk.PreferredReplicaPath, Data: list.Encode(), Acl: fakezk.WorldACL(fakezk.PermAll)}},
			func(rs []fakezk.Response) {
				if rs[0].Err == nil {
					c.narrate("admin asks for a preferred replica election of %d partitions", len(list.Partitions))
				}
			})
	case opReassign:
		a.reassign(e)
	}
}

// reassign moves one partition's replicas to a new set of brokers drawn
// from the event (kafka-reassign-partitions.sh's ZooKeeper path).
func (a *kadmin) reassign(e kafkaEvent) {
	c := a.c
	if len(a.topics) == 0 {
		return
	}
	t := a.topics[e.Target%len(a.topics)]
	p := int32((e.Target / 7) % t.partitions)
	n := len(c.brokers)
	rf := min(t.rf, n)
	start := (e.Target / 3) % n
	target := make([]int32, rf)
	for i := range target {
		target[i] = c.brokers[(start+i)%n].id
	}
	r := kafkazk.ReassignPartitions{Partitions: []kafkazk.PartitionReplicas{{Topic: t.name, Partition: p, Replicas: target}}}
	a.zk.Handle([]fakezk.Request{&fakezk.CreateRequest{Path: kafkazk.ReassignPartitionsPath, Data: r.Encode(), Acl: fakezk.WorldACL(fakezk.PermAll)}},
		func(rs []fakezk.Response) {
			if rs[0].Err == nil {
				recorded := target
				if c.plan.bugs.wrongReassignTarget {
					recorded = slices.Clone(target)
					slices.Reverse(recorded)
				}
				c.reassigned[proto.TopicPartition{Topic: t.name, Partition: p}] = recorded
				c.narrate("admin reassigns %s-%d to %v", t.name, p, target)
			}
		})
}
