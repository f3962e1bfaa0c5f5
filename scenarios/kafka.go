package scenarios

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/nodes/kafka/broker"
	"github.com/kzsim/kzsim/nodes/kafka/config"
	"github.com/kzsim/kzsim/nodes/kafka/controller"
	"github.com/kzsim/kzsim/nodes/kafka/history"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/sim"
)

// kafkaPlan describes one Kafka 2.6 cluster scenario: its brokers and
// topics, the fault kinds its schedule draws from, its admin operations,
// and the checks of its end. The scenarios of this package are plans run
// by runKafka.
type kafkaPlan struct {
	name    string
	brokers int
	topics  []topicSpec
	// faults are the fault kinds the seed's swarm draws from (kafkaFaults).
	faults []string
	// ops are the admin operations, drawn with the faults.
	ops []string
	// faultEvery is the mean gap between faults of the safety phase.
	faultEvery sim.Duration
	safety     sim.Duration
	grace      sim.Duration
	// tweak adjusts the settings (era, bugs) for tests and scenarios.
	tweak func(*config.Config)
	// bugs are planted bugs that tests switch on to show a check firing.
	bugs kafkaBugs
	// afterHeal, if set, runs right after the healing (a last operation
	// whose outcome the end checks).
	afterHeal func(c *kcluster)
	// settled runs the scenario's own checks at the end.
	settled func(c *kcluster)
	// clients, if set, adds the scenario's client processes (producers,
	// consumers) once the cluster is built; metrics adds their metrics to
	// the run's.
	clients func(c *kcluster)
	// groups are the consumer groups the clients run (checkConsumers
	// checks each); produceRate is each producer's messages a second
	// (balanceRate if 0).
	groups      []groupSpec
	produceRate int
	metrics     func(c *kcluster, m map[string]float64)
	// drive, if set, runs the world in place of World.Run (benchmarks run a
	// faultless plan in phases and inject their own fault).
	drive func(c *kcluster) sim.Status
}

// kafkaBugs are planted bugs.
type kafkaBugs struct {
	// brokerIgnoresControllerEpoch: brokers apply controller requests
	// whatever their controller epoch (the fencing KAFKA-1120-era brokers
	// relied on, removed).
	brokerIgnoresControllerEpoch bool
	// leaveBrokerDown: healing leaves broker 1 crashed.
	leaveBrokerDown bool
	// The brokers' planted bugs (broker.Config's Bug fields).
	noIsrExpand, keepDeletedLogs, shutdownWithoutController bool
	// wrongReassignTarget: the admin records the reverse of the target it
	// asked for, as if the controller had reassigned elsewhere.
	wrongReassignTarget bool
	// skipFinalPreferredElection: no preferred election after the healing.
	skipFinalPreferredElection bool
	// consumersResetLargest: consumers join 30 s late and start from the
	// log end, not the log start, so what was written before is never
	// consumed.
	consumersResetLargest bool
	// consumersDownAtEnd: the healing leaves every consumer down.
	consumersDownAtEnd bool
	// ackAllAtLeader: brokers answer acks=all at the leader's append.
	ackAllAtLeader   bool
	noProducerDedupe bool // leaders append idempotent retries again (idempotence.go)
	// assignToMissingBrokers: the admin assigns topics to brokers that do
	// not exist, so the controller can create no partition state.
	assignToMissingBrokers bool
}

type topicSpec struct {
	name       string
	partitions int
	rf         int
}

// Cluster settings. Links are a datacenter's: the cost model's published
// figures imply about 50 µs between a broker and ZooKeeper.
var kafkaLatency = sim.Uniform(30*sim.Microsecond, 80*sim.Microsecond)

const (
	kafkaAdminStart = 2 * sim.Second // topics are created once brokers have registered
	kafkaPort       = 9092
	// kafkaSupervisorRestart is how long the process supervisor waits to
	// start a broker that exited on a fatal error again.
	kafkaSupervisorRestart = 5 * sim.Second
)

// kcluster is one run of a Kafka plan.
type kcluster struct {
	recorder
	plan    kafkaPlan
	kcfg    config.Config
	costs   config.Costs
	srv     *fakezk.Server
	brokers []*kbroker
	admin   *kadmin
	watch   *invariants.KafkaWatch
	faults  *sim.Injector
	faultID sim.FaultID

	// Metrics.
	controllerLostAt sim.Time // when the active controller was last hit; -1: none pending
	lostEpoch        int32    // the controller epoch it was hit at
	failovers        []sim.Duration
	elections        int
	leadersElected   int
	offline          map[proto.TopicPartition]bool
	offlineMax       int
	leaderOf         map[proto.TopicPartition]leaderAt
	unavailSince     map[proto.TopicPartition]unavailable
	unavail          []sim.Duration
	rejected         int
	applied          int
	producers        []*prodProc     // the scenario's producers (producer-balance, consumer-rebalance)
	consumers        []*consProc     // the scenario's consumers (consumer-rebalance)
	history          []history.Op    // the clients' operations, in order
	consumerAway     map[string]bool // consumers that left the group and wait to return
	groupClocks      map[string]*groupClock
	powerLosses      int          // brokers that lost power (and their unsynced writes)
	ackedLost        int          // acknowledged messages not in their leader's log at the end; -1: not checked
	zombiePause      sim.Duration // armed by a zombie fault: pause the controller as it next sends LeaderAndIsr
	shutdowns        int          // controlled shutdowns the controller completed
	fenced           int          // controllers that found themselves fenced

	// What the admin asked for, for the end checks.
	reassigned map[proto.TopicPartition][]int32 // the last target of each reassignment
	deleted    []string                         // topics marked for deletion

	// shutdownEpoch is, by broker, the epoch of the controller that last
	// answered its ControlledShutdown.
	shutdownEpoch map[int32]int32

	// onReport, if set, hears every report of a broker first (tests).
	onReport func(b *kbroker, inc uint32, r kproc.Effect)
}

type leaderAt struct {
	broker int32
	epoch  int32
}

// unavailable is a partition without a serving leader since a time: its
// leader crashed (until a broker applies its leadership), or is paused or
// isolated (also until that fault heals, if it still leads).
type unavailable struct {
	since     sim.Time
	leader    int32 // the leader lost; -1 when offline
	resumable bool  // the leader comes back by itself when its fault heals
}

// kbroker is the scenario's handle on one broker process.
type kbroker struct {
	c            *kcluster
	id           int32
	name         string
	pid          sim.ProcID
	shell        *kproc.Shell[*broker.Broker]
	ctl          *controller.Controller // the controller module of its latest incarnation
	fatal        bool                   // the machine reported Fatal: its Exit is a failure
	failedStarts int                    // fatal exits since the last registration
}

func (b *kbroker) machine() (*broker.Broker, bool) {
	m, ok := b.shell.Machine()
	if !ok || !b.c.w.IsUp(b.pid) {
		return nil, false
	}
	return m, true
}

func runKafka(cfg Config, plan kafkaPlan) *invariants.Result {
	if plan.grace == 0 {
		plan.grace = 90 * sim.Second
	}
	c := newKafkaCluster(cfg, plan, plan.safety+plan.grace)
	w := c.w
	if plan.clients != nil {
		plan.clients(c)
	}
	c.scheduleFaults()
	w.At(sim.Kernel, sim.Time(plan.safety), "heal-all", c.healAll)
	var status sim.Status
	if plan.drive != nil {
		status = plan.drive(c)
	} else {
		status = w.Run()
	}
	if c.ranToEnd(status) {
		c.checkSettled()
	}
	if cfg.ZKLog != nil {
		c.srv.FlushTxnLog()
	}
	if cfg.ZKDump != nil {
		_ = fakezk.WriteDump(cfg.ZKDump, c.srv.View()) // the writer keeps its error (Config.ZKDump)
	}
	if plan.clients != nil {
		c.writeHistory(cfg.History)
	}
	return c.finish(status, c.metrics())
}

// newKafkaCluster builds plan's cluster in a new world that ends at
// maxTime: ZooKeeper, the brokers (started at their times), the admin
// process and the invariant watches. It schedules no faults and no
// topics; runKafka does, and the datadriven scripts drive it by command.
func newKafkaCluster(cfg Config, plan kafkaPlan, maxTime sim.Duration) *kcluster {
	w := sim.New(sim.Options{
		Seed:            cfg.Seed,
		Latency:         kafkaLatency,
		ConnBreakDetect: 500 * sim.Millisecond,
		MaxTime:         maxTime,
		MaxEvents:       maxEvents(cfg, 0),
		Sinks:           cfg.Sinks,
	})
	c := &kcluster{recorder: newRecorder(w, plan.name, cfg), plan: plan, kcfg: config.Default(), costs: config.DefaultCosts(),
		controllerLostAt: -1, ackedLost: -1, offline: map[proto.TopicPartition]bool{}, leaderOf: map[proto.TopicPartition]leaderAt{},
		unavailSince: map[proto.TopicPartition]unavailable{}, reassigned: map[proto.TopicPartition][]int32{}}
	if plan.tweak != nil {
		plan.tweak(&c.kcfg)
	}
	c.srv = fakezk.NewServer(w, "zk", fakezk.ServerConfig{TxnLog: cfg.ZKLog})
	for i := 1; i <= plan.brokers; i++ {
		c.addBroker(int32(i))
	}
	c.admin = newAdmin(c)
	c.watch = invariants.WatchKafka(c.check, c.srv, c)
	invariants.WatchZooKeeper(c.check, c.srv)
	return c
}

func (c *kcluster) addBroker(id int32) {
	b := &kbroker{c: c, id: id, name: "broker-" + strconv.Itoa(int(id))}
	kcfg, costs := c.kcfg, c.costs
	w := c.w
	b.shell = kproc.NewShell(w, kproc.Config[*broker.Broker]{
		Name: b.name,
		New: func(inc uint32) *broker.Broker {
			return broker.New(broker.Config{
				ID: id, Host: b.name, Port: kafkaPort, Kafka: kcfg, Costs: costs,
				Rand: w.Rand(fmt.Sprintf("%s/%d", b.name, inc)),
				Controller: func() broker.Hosted {
					b.ctl = controller.New(controller.Config{BrokerID: id, Kafka: kcfg, Costs: costs})
					return b.ctl
				},
				BugIgnoreControllerEpoch:     c.plan.bugs.brokerIgnoresControllerEpoch,
				BugNoIsrExpand:               c.plan.bugs.noIsrExpand,
				BugKeepDeletedLogs:           c.plan.bugs.keepDeletedLogs,
				BugShutdownWithoutController: c.plan.bugs.shutdownWithoutController,
				BugAckAllAtLeader:            c.plan.bugs.ackAllAtLeader,
				BugNoProducerDedupe:          c.plan.bugs.noProducerDedupe,
			})
		},
		ZooKeeper: kafkazk.Config{
			Servers:        []sim.ProcID{c.srv.ID()},
			SessionTimeout: kcfg.ZooKeeperSessionTimeout,
			MaxInFlight:    kcfg.ZooKeeperMaxInFlightRequests,
			Era:            ephemeralEra(kcfg.Features.CheckedEphemeral),
		},
		APIs: broker.APIs,
		Resolve: func(host string) (sim.ProcID, bool) {
			return w.ProcByName(host)
		},
		MaxInFlight: func(ch kproc.Channel) int {
			if ch == kproc.ChannelClient {
				return 5 // max.in.flight.requests.per.connection
			}
			return 1 // the controller's RequestSendThread and a replica fetcher wait for each answer
		},
		OnReport: b.report,
		OnExit:   b.exited,
	})
	b.pid = b.shell.ID()
	// A crash-broker fault kills the process; its machine stays up, so the
	// page cache keeps what Kafka wrote and did not fsync (Kafka relies on
	// it: log.flush.interval.messages is unbounded). A power-loss fault
	// (sim.FaultDiskCrashLoss) loses it.
	w.Disk(b.pid).SetLossMode(sim.LossNone)
	c.brokers = append(c.brokers, b)
	w.At(b.pid, sim.Time(sim.Duration(id)*10*sim.Millisecond), "start", b.shell.Start)
}

func ephemeralEra(f config.EphemeralForm) kafkazk.Era {
	switch f {
	case config.Ephemeral09:
		return kafkazk.Era09
	case config.Ephemeral08:
		return kafkazk.Era08
	}
	return kafkazk.Era22
}

func (c *kcluster) broker(id int32) *kbroker {
	if id < 1 || int(id) > len(c.brokers) {
		return nil
	}
	return c.brokers[id-1]
}

// report handles one report of a broker's machine (the broker's own or its
// controller's): the invariants hear what they check, the metrics count,
// the timeline narrates.
func (b *kbroker) report(inc uint32, r kproc.Effect) {
	c := b.c
	now := c.w.Now()
	if c.onReport != nil {
		c.onReport(b, inc, r)
	}
	switch r := r.(type) {
	case controller.BecameController:
		_, session := b.shell.Session()
		c.watch.ControllerElected(b.id, r.Epoch, session)
		c.elections++
		c.narrate("%s becomes controller at epoch %d", b.name, r.Epoch)
	case controller.FailoverDone:
		if c.controllerLostAt >= 0 && r.Epoch > c.lostEpoch {
			d := now.Sub(c.controllerLostAt)
			c.failovers = append(c.failovers, d)
			c.narrate("%s has sent LeaderAndIsr for all %d partitions (%d offline): failover took %v", b.name, r.Partitions, r.Offline, d)
			c.controllerLostAt = -1
		}
	case controller.Resigned:
		c.narrate("%s resigns as controller of epoch %d", b.name, r.Epoch)
	case controller.Fenced:
		c.fenced++
		c.narrate("%s finds itself fenced: /controller_epoch moved past epoch %d", b.name, r.Epoch)
	case controller.LeaderElected:
		tp := proto.TopicPartition{Topic: r.Topic, Partition: r.Partition}
		c.leadersElected++
		if c.offline[tp] {
			delete(c.offline, tp)
		}
		if r.Election == controller.ElectionUnclean {
			c.narrate("%s: unclean election of %s: leader %d outside the ISR", b.name, tp, r.Leader)
		}
	case controller.PartitionOffline:
		tp := proto.TopicPartition{Topic: r.Topic, Partition: r.Partition}
		c.offline[tp] = true
		c.offlineMax = max(c.offlineMax, len(c.offline))
		c.markUnavailable(tp, unavailable{since: now, leader: -1})
	case controller.TopicCreated:
		if r.Failed > 0 {
			c.narrate("%s (controller): %d partitions of %s could not be created", b.name, r.Failed, r.Topic)
		}
	case controller.BrokerAdded:
		if r.Bounced {
			c.narrate("%s (controller) sees broker %d bounce (new epoch 0x%x)", b.name, r.Broker, r.BrokerEpoch)
		}
	case controller.ControlRequestSent:
		if r.API == proto.KindLeaderAndIsr {
			c.maybeZombie(b)
		}
	case controller.ControlledShutdownHandled:
		if c.shutdownEpoch == nil {
			c.shutdownEpoch = map[int32]int32{}
		}
		if b.ctl != nil {
			c.shutdownEpoch[r.Broker] = b.ctl.View().Epoch
		}
	case controller.BrokerRemoved:
		c.narrate("%s (controller) sees broker %d leave", b.name, r.Broker)
	case broker.RequestApplied:
		c.applied++
		c.watch.RequestApplied(b.id, inc, r.API, r.ControllerEpoch)
	case broker.RequestRejected:
		c.rejected++
	case broker.PartitionApplied:
		c.watch.PartitionApplied(b.id, inc, r.TP.Topic, r.TP.Partition, r.LeaderEpoch)
		if r.Leader == b.id {
			c.leaderOf[r.TP] = leaderAt{broker: b.id, epoch: r.LeaderEpoch}
			c.available(r.TP, now)
		}
	case broker.Fatal:
		// As Kafka, a broker that cannot start exits (a restart before its
		// old session expired finds its /brokers/ids/<id> still owned by
		// that session); the supervisor starts it again.
		if b.failedStarts == 0 {
			c.narrate("%s exits: %s; its supervisor restarts it every %v", b.name, r.Why, kafkaSupervisorRestart)
		}
		b.failedStarts++
		b.fatal = true
	case broker.EpochOutOfOrder:
		c.narrate("%s appends %s records of leader epoch %d from offset %d, below its epoch %d from %d: logs diverged where leader epochs cannot see it, as after a power loss (Kafka 2.6 warns and appends)",
			b.name, r.TP, r.Epoch, r.StartOffset, r.LatestEpoch, r.LatestStartOffset)
	case broker.ControlledShutdown:
		c.shutdownStep(b, r)
	case broker.Registered:
		if b.failedStarts > 0 {
			c.narrate("%s registers (broker epoch 0x%x) after %d failed %s", b.name, r.BrokerEpoch, b.failedStarts, plural(b.failedStarts, "start"))
			b.failedStarts = 0
		}
		if r.PreviousEpoch != kafkazk.NoBrokerEpoch {
			c.narrate("%s registers again with broker epoch 0x%x", b.name, r.BrokerEpoch)
		}
	}
}

// exited: a broker that finished its controlled shutdown stops; the
// scenario restarts it later (the fault's duration).
func (b *kbroker) exited() {
	c := b.c
	fatal := b.fatal
	b.fatal = false
	if !fatal {
		c.narrate("%s has shut down", b.name)
	}
	inc := c.w.Incarnation(b.pid)
	c.w.After(sim.Kernel, 50*sim.Millisecond, "stop-process", func() {
		if c.w.IsUp(b.pid) && c.w.Incarnation(b.pid) == inc {
			c.w.Crash(b.pid)
		}
	})
	if fatal {
		// systemd's Restart=on-failure, RestartSec=5s.
		c.w.After(sim.Kernel, kafkaSupervisorRestart, "supervisor-restart", func() {
			if !c.w.IsUp(b.pid) {
				c.w.Restart(b.pid)
			}
		})
	}
}

// markUnavailable starts tp's unavailability unless it is already.
func (c *kcluster) markUnavailable(tp proto.TopicPartition, u unavailable) {
	if _, ok := c.unavailSince[tp]; !ok {
		c.unavailSince[tp] = u
	}
}

// available ends tp's unavailability now, if it was.
func (c *kcluster) available(tp proto.TopicPartition, now sim.Time) {
	if u, ok := c.unavailSince[tp]; ok {
		c.unavail = append(c.unavail, now.Sub(u.since))
		delete(c.unavailSince, tp)
	}
}

// How a fault takes a broker away, for the unavailability metric.
type hitKind uint8

const (
	hitCrash     hitKind = iota + 1 // its partitions wait for a new leader (or its restart)
	hitPause                        // paused or isolated: they come back with it, if it still leads
	hitZooKeeper                    // cut from ZooKeeper or expired: it still serves its partitions
)

// brokerHit is called when a fault takes broker b away: the partitions it
// leads become unavailable (unless it still serves them), and if it is the
// controller the failover clock starts.
func (c *kcluster) brokerHit(b *kbroker, kind hitKind) {
	now := c.w.Now()
	if kind != hitZooKeeper {
		for tp, l := range c.leaderOf {
			if l.broker == b.id {
				c.markUnavailable(tp, unavailable{since: now, leader: b.id, resumable: kind == hitPause})
				delete(c.leaderOf, tp)
			}
		}
	}
	// The failover clock runs from the last hit of the active controller
	// before a new controller has sent its LeaderAndIsr (a hit it survives,
	// such as a short partition, is superseded by the next).
	if id, ok := c.activeController(); ok && id == b.id {
		c.controllerLostAt, c.lostEpoch = now, c.controllerEpoch()
	}
}

// activeController reads /controller.
func (c *kcluster) activeController() (int32, bool) {
	data, _, ok := c.srv.View().Get(kafkazk.ControllerPath)
	if !ok {
		return -1, false
	}
	cd, err := kafkazk.DecodeController(data)
	if err != nil {
		return -1, false
	}
	return cd.BrokerID, true
}

// controllerEpoch reads /controller_epoch (0 before the first election).
func (c *kcluster) controllerEpoch() int32 {
	data, _, ok := c.srv.View().Get(kafkazk.ControllerEpochPath)
	if !ok {
		return 0
	}
	e, err := kafkazk.DecodeControllerEpoch(data)
	if err != nil {
		return 0
	}
	return e
}

// ---- invariants.KafkaCluster ----

func (c *kcluster) Brokers() []int32 {
	ids := make([]int32, len(c.brokers))
	for i, b := range c.brokers {
		ids[i] = b.id
	}
	return ids
}

func (c *kcluster) Alive(id int32) bool {
	b := c.broker(id)
	if b == nil {
		return false
	}
	m, ok := b.machine()
	return ok && m.Running()
}

func (c *kcluster) Session(id int32) (int64, bool) {
	b := c.broker(id)
	if b == nil {
		return 0, false
	}
	if _, ok := b.machine(); !ok {
		return 0, false
	}
	_, s := b.shell.Session()
	return s, s != 0
}

func (c *kcluster) Metadata(id int32) (map[kafkazk.TopicPartition]invariants.PartitionMeta, bool) {
	b := c.broker(id)
	if b == nil {
		return nil, false
	}
	m, ok := b.machine()
	if !ok {
		return nil, false
	}
	out := make(map[kafkazk.TopicPartition]invariants.PartitionMeta, m.MetadataSize())
	m.Metadata(func(tp proto.TopicPartition, e broker.MetadataEntry) {
		out[kafkazk.TopicPartition{Topic: tp.Topic, Partition: tp.Partition}] = invariants.PartitionMeta{Leader: e.Leader, LeaderEpoch: e.LeaderEpoch, ISR: e.ISR}
	})
	return out, true
}

// ---- the end ----

func (c *kcluster) healAll() {
	active := len(c.faults.Active())
	c.faults.HealAll()
	for _, b := range c.brokers {
		c.resumed(b) // restarts below count as crashes still (their partitions wait for LeaderAndIsr)
	}
	for _, b := range c.brokers {
		if !c.w.IsUp(b.pid) && !(c.plan.bugs.leaveBrokerDown && b.id == 1) {
			c.w.Restart(b.pid)
		}
	}
	c.narrate("heal everything (%d %s still active); the cluster must settle within %v", active, plural(active, "fault"), c.plan.grace)
	if c.plan.afterHeal != nil {
		c.plan.afterHeal(c)
	}
}

func (c *kcluster) checkSettled() {
	c.watch.CheckSettled()
	c.checkReplicasInSync()
	if c.plan.settled != nil {
		c.plan.settled(c)
	}
	if id, ok := c.activeController(); ok {
		c.narrate("end: broker-%d is the controller", id)
	}
}

func (c *kcluster) metrics() map[string]float64 {
	st := c.w.Stats()
	m := map[string]float64{
		"zk_transactions":        float64(c.srv.Zxid()),
		"controller_elections":   float64(c.elections),
		"controller_failovers":   float64(len(c.failovers)),
		"leaders_elected":        float64(c.leadersElected),
		"partitions_offline_max": float64(c.offlineMax),
		"requests_applied":       float64(c.applied),
		"requests_rejected":      float64(c.rejected),
		"controlled_shutdowns":   float64(c.shutdowns),
		"controllers_fenced":     float64(c.fenced),
		"crashes":                float64(st.Crashes),
		"pauses":                 float64(st.Pauses),
		"partitions":             float64(st.Partitions),
		"network_messages_lost":  float64(st.MessagesLost),
	}
	if n := len(c.failovers); n > 0 {
		m["controller_failover_ns"] = float64(slices.Max(c.failovers))
	}
	if c.powerLosses > 0 {
		m["power_losses"] = float64(c.powerLosses)
	}
	end := c.w.Now()
	all := slices.Clone(c.unavail)
	for _, u := range c.unavailSince {
		all = append(all, end.Sub(u.since))
	}
	if len(all) > 0 {
		slices.Sort(all)
		m["partition_unavailable_ns.p50"] = float64(all[len(all)/2])
		m["partition_unavailable_ns.p99"] = float64(all[(len(all)*99)/100])
		m["partition_unavailable_ns.max"] = float64(all[len(all)-1])
	}
	if c.plan.metrics != nil {
		c.plan.metrics(c, m)
	}
	return m
}

// forEachPartition walks ZooKeeper's topics at the end: each partition's
// assignment and state (nil if the state znode is missing or bad).
func (c *kcluster) forEachPartition(fn func(tp proto.TopicPartition, a kafkazk.ReplicaAssignment, st *kafkazk.PartitionState)) {
	v := c.srv.View()
	topics, _, _ := v.Children(kafkazk.TopicsPath)
	slices.Sort(topics)
	for _, t := range topics {
		data, _, ok := v.Get(kafkazk.TopicPath(t))
		if !ok {
			continue
		}
		ta, err := kafkazk.DecodeTopicAssignment(data)
		if err != nil {
			continue
		}
		for _, p := range slices.Sorted(maps.Keys(ta.Partitions)) {
			var st *kafkazk.PartitionState
			if sd, _, ok := v.Get(kafkazk.PartitionStatePath(t, p)); ok {
				if s, err := kafkazk.DecodePartitionState(sd); err == nil {
					st = &s
				}
			}
			fn(proto.TopicPartition{Topic: t, Partition: p}, ta.Partitions[p], st)
		}
	}
}

// checkReplicasInSync: once settled, every live replica of a partition has
// caught up with its leader and is back in the ISR (followers fetch, and
// the leader expands the ISR as they catch up).
func (c *kcluster) checkReplicasInSync() {
	deleting, _, _ := c.srv.View().Children(kafkazk.DeleteTopicsPath)
	c.forEachPartition(func(tp proto.TopicPartition, a kafkazk.ReplicaAssignment, st *kafkazk.PartitionState) {
		if slices.Contains(deleting, tp.Topic) {
			return
		}
		if st == nil {
			c.liveness("partitions-have-state", "%s is assigned to %v and has no state znode", tp, a.Replicas)
			return
		}
		for _, r := range a.Replicas {
			if c.Alive(r) && !slices.Contains(st.ISR, r) && st.Leader != proto.NoLeader {
				c.liveness("replicas-in-sync", "%s: live replica %d of %v is not in the ISR %v (leader %d, epoch %d)", tp, r, a.Replicas, st.ISR, st.Leader, st.LeaderEpoch)
				return
			}
		}
	})
}

// resumed: broker b's pause or isolation has healed; the partitions it
// still leads are served again.
func (c *kcluster) resumed(b *kbroker) {
	now := c.w.Now()
	m, ok := b.machine()
	if !ok {
		return
	}
	for _, tp := range slices.SortedFunc(maps.Keys(c.unavailSince), proto.Compare) {
		u := c.unavailSince[tp]
		if !u.resumable || u.leader != b.id {
			continue
		}
		if r, ok := m.Replica(tp); ok && r.Leader == b.id {
			c.available(tp, now)
			c.leaderOf[tp] = leaderAt{broker: b.id, epoch: r.LeaderEpoch}
		}
	}
}

// historyConfig is the history's first line: the run's configuration, the
// weakest of its producers' (they all use the cluster's settings).
func (c *kcluster) historyConfig() history.Config {
	subs := map[string][]string{}
	if len(c.consumers) > 0 {
		for _, g := range c.plan.groups {
			subs[g.name] = g.topics
		}
	}
	return history.Config{Acks: history.AcksAll, MinInsyncReplicas: c.kcfg.MinInsyncReplicas,
		UncleanLeaderElection: c.kcfg.UncleanLeaderElectionEnable, Subscriptions: subs, PowerLoss: c.powerLosses > 0}
}

// writeHistory checks the clients' operations with the history format's
// own rules (a send completed once, by the process that invoked it, times
// never going back: a client that breaks them is a bug) and writes them to
// out, if set.
func (c *kcluster) writeHistory(out io.Writer) {
	writeHistory(&c.recorder, out, c.historyConfig(), c.history)
}
