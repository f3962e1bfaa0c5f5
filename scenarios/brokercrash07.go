package scenarios

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/nodes/kafka/broker07"
	"github.com/kzsim/kzsim/nodes/node"
	"github.com/kzsim/kzsim/sim"
)

// broker-crash is registered here and runs in each layout it lists:
// runBrokerCrash dispatches on Config.Layout to the form written for it.
// The controller layout's form joins this registration: add
// LayoutController to Layouts and a case for it ("" is the default,
// LayoutController) in runBrokerCrash.
func init() {
	register(Scenario{
		Name:      "broker-crash",
		ZooKeeper: true,
		Layouts:   []string{LayoutController, Layout07},
		Clients:   []string{LayoutController},
		Summary: "5 brokers crash, lose power, pause and are cut off while 2 producers (acks=all) and a group of 2 consumers work; " +
			"the controller moves their leaderships and the cluster converges after healing; every acknowledged message is " +
			"consumed unless a broker lost power; " +
			"--layout 0.7: Kafka 0.7's registry (no controller); after healing every live broker's /brokers/ids and " +
			"/brokers/topics znodes are its current session's with the right partition counts, and a lost broker's are gone",
		Run: runBrokerCrash,
	})
}

// runBrokerCrash runs broker-crash in the layout cfg names; CheckLayout has
// refused the layouts it does not run.
func runBrokerCrash(cfg Config) *invariants.Result {
	switch cfg.Layout {
	case "", LayoutController:
		return runKafka(cfg, kafkaPlans["broker-crash"]())
	case Layout07:
		return runBrokerCrash07(cfg, crash07Plan{})
	}
	panic(fmt.Sprintf("broker-crash: layout %q is not written", cfg.Layout)) // CheckLayout refuses it first
}

// crash07Plan holds switches tests use to plant bugs the checks must catch.
type crash07Plan struct {
	brokerBugs              broker07.Bugs // every broker's planted bugs
	serverBugKeepEphemerals bool          // the server keeps a dead session's ephemerals
	forceLose               bool          // a broker is always lost for good
	noSupervisor            bool          // a broker that exits after a failed start-up stays down
}

// broker-crash settings under --layout 0.7. The session timeout is 0.7's
// zk.sessiontimeout.ms default and the tick ZooKeeper's shipped tickTime
// (2000 ms); the grace period covers a session timeout, its tick bucket, a
// reconnect and two supervisor restarts several times over.
const (
	crash07Brokers         = 5
	crash07Tick            = 2 * sim.Second
	crash07SessionTimeout  = broker07.DefaultSessionTimeout
	crash07SafetyPhase     = 60 * sim.Second
	crash07Grace           = 40 * sim.Second
	crash07SupervisorDelay = 5 * sim.Second // a process supervisor's restart delay (systemd RestartSec=5s): operations, not Kafka
	crash07Port            = 9092           // the port of 0.7's shipped config/server.properties
)

// crash07Partitions is every broker's topic.partition.count.map; other
// topics get num.partitions, 1.
var crash07Partitions = map[string]int{"orders": 4, "clicks": 2, "payments": 3}

// crash07Topics are the topics a broker may have logs of at the start, and
// crash07NewTopics those a producer may first send to during the run.
var (
	crash07Topics    = []string{"orders", "clicks", "audit"}
	crash07NewTopics = []string{"payments", "metrics", "clicks", "audit", "logs"}
)

type crash07 struct {
	recorder
	srv     *fakezk.Server
	brokers []*broker07Proc
	plan    crash07Plan
	faults  *sim.Injector
	lost    *broker07Proc // the broker lost for good, if any

	registrations   int
	reRegistrations int
	topicRegs       int
	startupFailures int
	exits           int
	regFailures     int
	producesLost    int
}

// broker07Proc is the scenario's handle on one broker process. logDirs are
// its log directories, which survive a crash.
//
// Simplification: the node Shell has no disk yet, so the scenario keeps the
// log directories, and a crash loses none (0.7's mkdirs is not fsynced).
type broker07Proc struct {
	c       *crash07
	name    string
	id      int32
	proc    sim.ProcID
	shell   *node.Shell[*broker07.Broker]
	logDirs []string
	lost    bool
}

func (b *broker07Proc) view() (broker07.View, bool) {
	if m, ok := b.shell.Machine(); ok {
		return m.View(), true
	}
	return broker07.View{}, false
}

func runBrokerCrash07(cfg Config, plan crash07Plan) *invariants.Result {
	w := sim.New(sim.Options{
		Seed:            cfg.Seed,
		Latency:         sim.Uniform(200*sim.Microsecond, 2*sim.Millisecond),
		ConnBreakDetect: 500 * sim.Millisecond,
		MaxTime:         crash07SafetyPhase + crash07Grace,
		MaxEvents:       maxEvents(cfg, 0),
		Sinks:           cfg.Sinks,
	})
	c := &crash07{recorder: newRecorder(w, "broker-crash", cfg), plan: plan}
	c.srv = fakezk.NewServer(w, "zk", fakezk.ServerConfig{TickTime: crash07Tick, BugKeepEphemerals: plan.serverBugKeepEphemerals, TxnLog: cfg.ZKLog})
	layout := w.Rand("layout")
	for i := 0; i < crash07Brokers; i++ {
		b := &broker07Proc{c: c, name: fmt.Sprintf("b%d", i), id: int32(i)}
		for _, t := range crash07Topics {
			if t == "orders" || layout.Chance(0.5) {
				b.logDirs = append(b.logDirs, t)
			}
		}
		slices.Sort(b.logDirs)
		bcfg := broker07.Config{ID: b.id, Host: fmt.Sprintf("10.0.0.%d", i+1), Port: crash07Port, TopicPartitions: crash07Partitions, Bugs: plan.brokerBugs}
		b.shell = node.NewShell(w, node.Config[*broker07.Broker]{
			Name:      b.name,
			New:       func() *broker07.Broker { return broker07.New(bcfg, b.logDirs) },
			ZooKeeper: []sim.ProcID{c.srv.ID()},
			// Simplification: go-zk's client mode, which makes a new session
			// after Expired by itself as zkclient's reconnect does; 0.7's
			// zkclient ran on ZooKeeper 3.3's Java client.
			Client:   fakezk.ClientConfig{SessionTimeout: crash07SessionTimeout},
			OnReport: b.report,
		})
		b.proc = b.shell.ID()
		c.brokers = append(c.brokers, b)
		w.At(b.proc, sim.Time(sim.Duration(i)*10*sim.Millisecond), "start", b.shell.Start)
	}
	w.At(sim.Kernel, 0, "layout", func() {
		for _, b := range c.brokers {
			c.narrate("%s hosts %s", b.name, strings.Join(b.logDirs, ", "))
		}
	})
	invariants.WatchZooKeeper(c.check, c.srv)
	c.scheduleFaults()
	c.scheduleProduces()
	w.At(sim.Kernel, sim.Time(crash07SafetyPhase), "heal-all", c.healAll)
	status := c.runToEnd(cfg, c.srv, c.checkSettled)
	st := w.Stats()
	return c.finish(status, map[string]float64{
		"zk_transactions":        float64(c.srv.Zxid()),
		"broker_registrations":   float64(c.registrations),
		"broker_reregistrations": float64(c.reRegistrations),
		"topic_registrations":    float64(c.topicRegs),
		"registration_failures":  float64(c.regFailures),
		"startup_failures":       float64(c.startupFailures),
		"supervisor_restarts":    float64(c.exits),
		"produces_lost":          float64(c.producesLost),
		"crashes":                float64(st.Crashes),
		"pauses":                 float64(st.Pauses),
		"partitions":             float64(st.Partitions),
	})
}

// report traces, narrates and counts a broker's reports, and carries out
// an exit after a failed start-up.
func (b *broker07Proc) report(r node.Effect) {
	c := b.c
	broker07.Trace(c.w, b.proc, b.id, r)
	switch r := r.(type) {
	case broker07.Registered:
		if r.Why == broker07.WhyNewSession {
			c.reRegistrations++
			c.narrate("%s re-registers /brokers/ids/%d under its new session 0x%x", b.name, b.id, r.Session)
		} else {
			c.registrations++
			c.narrate("%s registers /brokers/ids/%d (session 0x%x)%s", b.name, b.id, r.Session, foundNote(r.Found))
		}
	case broker07.TopicRegistered:
		c.topicRegs++
		if r.Why == broker07.WhyNewTopic || r.Found {
			c.narrate("%s registers topic %s with %d partitions (%s)%s", b.name, r.Topic, r.Partitions, r.Why, foundNote(r.Found))
		}
	case broker07.RegistrationFailed:
		c.regFailures++
		if r.Why != broker07.WhyStartup { // StartupFailed follows and says why
			c.narrate("%s: registration of %s fails (%s): %s", b.name, r.Path, r.Why, r.Reason)
		}
	case broker07.StartupFailed:
		c.startupFailures++
		c.narrate("%s: start-up fails and the broker shuts down: %s", b.name, r.Reason)
		inc := c.w.Incarnation(b.proc)
		c.w.At(sim.Kernel, c.w.Now(), "broker-exit", func() { b.exit(inc) })
	case broker07.LogCreated:
		b.logDirs = append(b.logDirs, r.Topic)
		slices.Sort(b.logDirs)
	default:
		panic(fmt.Sprintf("broker-crash: unknown report %T", r))
	}
}

func foundNote(found bool) string {
	if found {
		return ", finding its own create of before a connection loss"
	}
	return ""
}

// exit ends the process of incarnation inc after its failed start-up (0.7's
// KafkaServerStartable shuts the server down and the JVM exits), and has
// the supervisor start it again later.
//
// Simplification: the exiting broker does not close its ZooKeeper session
// (0.7's shutdown closes the ZkClient); it owns no ephemeral unless a
// new-session handler won a race with start-up, and the session expires.
func (b *broker07Proc) exit(inc uint32) {
	c := b.c
	if !c.w.IsUp(b.proc) || c.w.Incarnation(b.proc) != inc {
		return // a crash fault was first
	}
	c.w.Crash(b.proc)
	if c.plan.noSupervisor {
		return
	}
	c.w.After(sim.Kernel, crash07SupervisorDelay, "supervisor-restart", func() {
		if b.lost || c.w.IsUp(b.proc) || c.crashHeld(b.name) {
			return // lost for good, started again, or a crash fault holds it down and will restart it
		}
		c.exits++
		c.narrate("the supervisor starts %s again", b.name)
		c.w.Restart(b.proc)
	})
}

// crashHeld reports whether an active crash fault holds proc down.
func (c *crash07) crashHeld(proc string) bool {
	for _, e := range c.faults.Active() {
		if e.Kind == sim.FaultCrash && e.Proc == proc {
			return true
		}
	}
	return false
}

// scheduleFaults draws the faults of the safety phase from the seed: the
// kernel's to an Injector as a Schedule; session expiry (a ZooKeeper fault)
// and the loss of a broker for good as scenario events.
func (c *crash07) scheduleFaults() {
	w := c.w
	names := make([]string, len(c.brokers))
	for i, b := range c.brokers {
		names[i] = b.name
	}
	r := w.Rand("faults")
	lose := -1
	var loseAt sim.Time
	if c.plan.forceLose || r.Chance(0.3) {
		lose = r.Intn(len(names))
		loseAt = sim.Time(r.DurationBetween(5, 40) * sim.Second)
	}
	schedule, expiries, enabled := crash07Schedule(r, names, w.Name(c.srv.ID()), lose)
	w.At(sim.Kernel, 0, "swarm", func() { c.narrate("fault kinds this run: %v", enabled) })
	if lose >= 0 {
		b := c.brokers[lose]
		w.At(sim.Kernel, loseAt, "lose-broker", func() {
			b.lost, c.lost = true, b
			c.narrate("%s is lost for good (its machine is gone); its session must expire and take its registrations", b.name)
			w.Crash(b.proc)
		})
	}
	for _, x := range expiries {
		b := c.brokers[x.member]
		w.At(sim.Kernel, x.at, "expire-session", func() {
			if v, ok := b.view(); ok && v.Session != 0 && c.srv.Expire(v.Session) {
				c.narrate("ZooKeeper expires the session of %s", b.name)
			}
		})
	}
	c.faults = sim.NewInjector(w)
	c.faults.OnApply = c.narrateFault
	c.faults.OnHeal = c.narrateHeal
	if err := c.faults.Schedule(schedule); err != nil {
		panic("broker-crash: " + err.Error()) // the schedule is built from the world's own names
	}
}

// crash07Schedule draws the faults of the safety phase, after swarm
// testing's pick of fault kinds. The broker to lose (lose ≥ 0) gets none:
// a crash fault's heal would start it again. Faults that would do nothing
// (a crash of a crashed process, a pause of a paused or crashed one) are
// left out.
func crash07Schedule(r *sim.Rand, brokers []string, server string, lose int) (sim.Schedule, []expiry, []string) {
	enabled := swarm(r, []string{"crash-broker", "pause-broker", "partition-broker", "expire-session", "pause-server", "crash-server"}, 0.6)
	var s sim.Schedule
	var expiries []expiry
	var crashes, pauses spans
	for at := sim.Time(0).Add(r.DurationBetween(2, 5) * sim.Second); at < sim.Time(crash07SafetyPhase-5*sim.Second); at = at.Add(r.DurationBetween(1500, 6000) * sim.Millisecond) {
		kind := enabled[r.Intn(len(enabled))]
		m := r.Intn(len(brokers))
		// Crashes from under a second (a fast restart, which meets its old
		// registration) to past the session timeout.
		hold := r.DurationBetween(300, 10000) * sim.Millisecond
		if m == lose && !strings.HasSuffix(kind, "-server") {
			continue
		}
		e := sim.Entry{At: at, Duration: hold, Fault: sim.Fault{ID: sim.FaultID(len(s) + 1)}}
		proc := brokers[m]
		switch kind {
		case "expire-session":
			expiries = append(expiries, expiry{at, m})
			continue
		case "partition-broker":
			e.Kind, e.A, e.B = sim.FaultPartition, []string{proc}, []string{server}
			s = append(s, e)
			continue
		case "pause-server", "crash-server":
			proc = server
			hold = hold / 2 // ZooKeeper restarts from its disk within seconds
			e.Duration = hold
		}
		if crashes.covers(proc, at) {
			continue
		}
		e.Proc = proc
		switch kind {
		case "pause-broker", "pause-server":
			if pauses.covers(proc, at) {
				continue
			}
			e.Kind = sim.FaultPause
			pauses.add(proc, at, hold)
		case "crash-broker", "crash-server":
			e.Kind = sim.FaultCrash
			crashes.add(proc, at, hold)
			pauses.endAt(proc, at)
		}
		s = append(s, e)
	}
	return s, expiries, enabled
}

// scheduleProduces draws the producers' first messages to topics: at each
// time a producer sends topic's first message to a broker it finds
// registered under /brokers/ids (0.7's ZooKeeper-based producer, bootstrapping
// an unknown topic, picks any live broker's partition 0), which creates the
// log and registers the topic.
//
// Simplification: the producer reads the registry from the server at that
// moment rather than from its cached, watched copy, and a message to a
// broker that is down is lost (0.7's sync producer throws, with no retry).
func (c *crash07) scheduleProduces() {
	w := c.w
	r := w.Rand("workload")
	n := 2 + r.Intn(5)
	for i := 0; i < n; i++ {
		at := sim.Time(r.DurationBetween(2*sim.Second, crash07SafetyPhase-2*sim.Second))
		topic := crash07NewTopics[r.Intn(len(crash07NewTopics))]
		w.At(sim.Kernel, at, "produce", func() { c.produce(topic) })
	}
}

func (c *crash07) produce(topic string) {
	ids, _, ok := c.srv.View().Children(broker07.BrokerIDsPath)
	if !ok || len(ids) == 0 {
		c.producesLost++
		c.narrate("a producer's first message to %s is lost: no broker is registered", topic)
		return
	}
	slices.Sort(ids) // ZooKeeper returns children unordered; fakezk sorts them already
	pick := ids[c.w.Rand("workload").Intn(len(ids))]
	id, err := strconv.Atoi(pick)
	if err != nil || id < 0 || id >= len(c.brokers) {
		panic(fmt.Sprintf("broker-crash: /brokers/ids has the child %q", pick))
	}
	b := c.brokers[id]
	if !c.w.IsUp(b.proc) {
		c.producesLost++
		c.narrate("a producer's first message to %s goes to %s, which is down: lost", topic, b.name)
		return
	}
	has := ""
	if slices.Contains(b.logDirs, topic) {
		has = ", which has a log of it already"
	}
	c.narrate("a producer sends the first message of %s to %s%s", topic, b.name, has)
	c.w.At(b.proc, c.w.Now(), "produce", func() { b.shell.Command(broker07.Produce{Topic: topic}) })
}

func (c *crash07) broker(name string) *broker07Proc {
	for _, b := range c.brokers {
		if b.name == name {
			return b
		}
	}
	return nil
}

// narrateFault tells the timeline about a fault as it applies.
func (c *crash07) narrateFault(en sim.Entry) {
	zk := c.w.Name(c.srv.ID())
	switch {
	case en.Kind == sim.FaultPartition:
		c.narrate("partition %s from ZooKeeper for %v", en.A[0], en.Duration)
	case en.Proc == zk && en.Kind == sim.FaultPause:
		c.narrate("ZooKeeper pauses for %v", en.Duration)
	case en.Proc == zk && en.Kind == sim.FaultCrash:
		c.narrate("ZooKeeper crashes for %v", en.Duration)
	case en.Kind == sim.FaultPause:
		c.narrate("GC pause of %s for %v", en.Proc, en.Duration)
	case en.Kind == sim.FaultCrash:
		c.narrate("crash %s for %v", en.Proc, en.Duration)
	}
}

// narrateHeal tells the timeline that a fault ended.
func (c *crash07) narrateHeal(f sim.Fault, why string) {
	early, quiet := healNote(why)
	if quiet {
		return
	}
	zk := c.w.Name(c.srv.ID())
	switch {
	case f.Kind == sim.FaultPartition:
		c.narrate("heal %s | ZooKeeper%s", f.A[0], early)
	case f.Proc == zk && f.Kind == sim.FaultPause:
		c.narrate("ZooKeeper resumes%s", early)
	case f.Proc == zk && f.Kind == sim.FaultCrash:
		c.narrate("ZooKeeper restarts (tree and sessions from disk)%s", early)
	case f.Kind == sim.FaultPause:
		c.narrate("%s resumes%s", f.Proc, early)
	case f.Kind == sim.FaultCrash:
		c.narrate("restart %s%s", f.Proc, early)
	}
}

func (c *crash07) healAll() {
	active := len(c.faults.Active())
	c.faults.HealAll()
	c.narrate("heal everything (%d %s still active); require every live broker registered within %v", active, plural(active, "fault"), crash07Grace)
}

// Names of broker-crash's checks under --layout 0.7.
const (
	// BrokersRegistered07: after settling, every broker not lost is up,
	// has a session, and /brokers/ids/<id> and /brokers/topics/<t>/<id>
	// for each topic it has a log of exist, are owned by that session, and
	// hold its host:port and its partition count.
	BrokersRegistered07 = "brokers-registered"
	// LostBrokerUnregistered07: after settling, no znode of a broker lost
	// for good remains (its session expired).
	LostBrokerUnregistered07 = "lost-broker-unregistered"
)

// checkSettled checks the registry after the grace period.
func (c *crash07) checkSettled() {
	tree := c.srv.View()
	topics, _, _ := tree.Children(broker07.BrokerTopicsPath)
	for _, b := range c.brokers {
		if b.lost {
			if _, ok := tree.Exists(broker07.IDPath(b.id)); ok {
				c.liveness(LostBrokerUnregistered07, "%s was lost, but %s remains", b.name, broker07.IDPath(b.id))
			}
			for _, t := range topics {
				if _, ok := tree.Exists(broker07.TopicPath(t, b.id)); ok {
					c.liveness(LostBrokerUnregistered07, "%s was lost, but %s remains", b.name, broker07.TopicPath(t, b.id))
				}
			}
			continue
		}
		v, up := b.view()
		state, session := b.shell.Session()
		switch {
		case !up:
			c.liveness(BrokersRegistered07, "%s is down after healing", b.name)
			continue
		case state != fakezk.StateHasSession || session != v.Session:
			c.liveness(BrokersRegistered07, "%s has no session after healing (client %v 0x%x, broker 0x%x)", b.name, state, session, v.Session)
			continue
		case v.State != broker07.Running:
			c.liveness(BrokersRegistered07, "%s is %s after healing", b.name, v.State)
			continue
		}
		data, st, ok := tree.Get(broker07.IDPath(b.id))
		if !ok || st.EphemeralOwner != v.Session {
			c.liveness(BrokersRegistered07, "%s: %s is not owned by its session 0x%x (exists=%v owner=0x%x)", b.name, broker07.IDPath(b.id), v.Session, ok, st.EphemeralOwner)
		} else if info, err := broker07.ParseBrokerInfo(string(data)); err != nil || info.Port != crash07Port || info.Host != fmt.Sprintf("10.0.0.%d", b.id+1) {
			c.liveness(BrokersRegistered07, "%s: %s holds %q", b.name, broker07.IDPath(b.id), data)
		}
		for _, t := range b.logDirs {
			p := broker07.TopicPath(t, b.id)
			data, st, ok := tree.Get(p)
			want := strconv.Itoa(partitionsOf(t))
			switch {
			case !ok || st.EphemeralOwner != v.Session:
				c.liveness(BrokersRegistered07, "%s: %s is not owned by its session 0x%x (exists=%v owner=0x%x)", b.name, p, v.Session, ok, st.EphemeralOwner)
			case string(data) != want:
				c.liveness(BrokersRegistered07, "%s: %s holds %q, not its %s partitions", b.name, p, data, want)
			}
		}
	}
}

// partitionsOf is a topic's partition count on every broker.
func partitionsOf(topic string) int {
	return broker07.Config{TopicPartitions: crash07Partitions}.Partitions(topic)
}
