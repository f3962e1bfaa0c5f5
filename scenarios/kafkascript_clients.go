package scenarios

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/nodes/kafka/consumer"
	"github.com/kzsim/kzsim/nodes/kafka/history"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/producer"
	"github.com/kzsim/kzsim/nodes/kafka/producer/partition"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/sim"
)

// The client commands of a Kafka script: producers and old ZooKeeper-based
// consumers as processes of the script's cluster, their faults, and views
// of what they and ZooKeeper say.
//
//	producer name=p1 discovery=zk|metadata|static topic=t [acks=all|1|0] [rate=20] [keys=100]
//	         [bootstrap=1,2] [retries=3] [for=30s]
//	                                a producer, started now (for: how long it makes messages)
//	consumer name=c1 group=g topics=t[,u] [assignor=range|roundrobin] [reset=smallest|largest]
//	         [commit=5s] [streams=1] [retries=4] [backoff=2s]
//	                                a consumer of group g, started now
//	stop-client name=c1             SIGTERM: a consumer commits, releases (its session closes) and exits; a producer
//	                                closes (what it had in flight ends as unknown)
//	crash-client name=c1 [for=10s]  kill -9 (its session lives until it expires); restarted after for, or by restart-client
//	restart-client name=c1          start a crashed or stopped client again (a producer takes a new index)
//	pause-client name=c1 for=10s    a GC pause | partition-client name=c1 from=zk|all for=10s
//	expire-client name=c1           ZooKeeper expires the client's session; the process lives on
//	clients                         every client: process state and ZooKeeper session
//	owners group=g                  the owner znodes of g (and who holds them); the subscribed partitions without one
//	offsets group=g                 the offsets g committed to ZooKeeper
//	consumer-view name=c1           what the consumer owns: position, committed offset, the broker it fetches from
//	producer-view name=p1           its live brokers, partitions and leaders, counts, produce errors since the last view
//	history                         the history's counts: sends invoked/acked/failed/unknown, polls, duplicates, commits
//	history-check                   the history's own rules and history.Check's violations, or ok

// kclients are a script's client processes, by name.
type kclients struct {
	producers map[string]*kscriptProducer
	consumers map[string]*kscriptConsumer
	names     []string               // every client, in the order made
	crashes   map[string]sim.FaultID // the crash fault keeping a client down, by name
	slots     int                    // producers made
}

// kscriptProducer is a script's producer.
type kscriptProducer struct {
	*prodProc
	slot   int   // its index is slot×kscriptIncarnations + incarnation
	acks   int16 // proto.AcksAll, AcksLeader or AcksNone
	topic  string
	errors map[string]int // produce errors and failed requests since the last producer-view
	told   string         // the view last narrated
}

// kscriptConsumer is a script's consumer.
type kscriptConsumer struct {
	*consProc          // its group too
	topics    []string // sorted
	commits   []string // commits of a rebalance or shutdown waiting to be narrated
	// rebalancing is true from RebalanceStarted to its end; stopping after
	// stop-client: the commits then are narrated.
	rebalancing, stopping bool
}

// Limits of the client commands.
const (
	kscriptIncarnations   = 1000 // a producer's incarnations: its index numbers them
	kscriptMaxClients     = 100
	kscriptMaxProducerIdx = producer.MaxIndex / kscriptIncarnations
)

func (s *kscript) clients() *kclients {
	if s.cl == nil {
		s.cl = &kclients{producers: map[string]*kscriptProducer{}, consumers: map[string]*kscriptConsumer{}, crashes: map[string]sim.FaultID{}}
		if s.c.consumerAway == nil {
			s.c.consumerAway = map[string]bool{}
		}
	}
	return s.cl
}

// clientProc returns the process of client name.
func (s *kscript) clientProc(name string) (sim.ProcID, error) {
	cl := s.clients()
	if p, ok := cl.producers[name]; ok {
		return p.shell.ID(), nil
	}
	if c, ok := cl.consumers[name]; ok {
		return c.shell.ID(), nil
	}
	return 0, fmt.Errorf("no client %q (clients: %s)", name, strings.Join(cl.names, ", "))
}

// newClientName checks that name can name a new client.
func (s *kscript) newClientName(name string) error {
	if _, ok := s.c.w.ProcByName(name); ok {
		return fmt.Errorf("name=%s: a process of that name exists", name)
	}
	if len(s.clients().names) >= kscriptMaxClients {
		return fmt.Errorf("at most %d clients", kscriptMaxClients)
	}
	return nil
}

// topicPartitions is how many partitions the admin created topic with.
func (s *kscript) topicPartitions(topic string) (int, error) {
	for _, t := range s.c.admin.topics {
		if t.name == topic {
			return t.partitions, nil
		}
	}
	return 0, fmt.Errorf("topic=%s: the admin created no such topic", topic)
}

func parseAcks(v string) (int16, error) {
	switch v {
	case "", "all", "-1":
		return proto.AcksAll, nil
	case "1":
		return proto.AcksLeader, nil
	case "0":
		return proto.AcksNone, nil
	}
	return 0, fmt.Errorf("acks=%s: want all, 1 or 0", v)
}

func acksName(a int16) string {
	switch a {
	case proto.AcksAll:
		return history.AcksAll
	case proto.AcksLeader:
		return history.AcksOne
	}
	return history.AcksNone
}

// kargs reads a command's optional arguments, each once.
type kargs struct {
	cmd string
	a   map[string]string
	err error
}

func (k *kargs) fail(err error) {
	if k.err == nil {
		k.err = err
	}
}

func (k *kargs) str(key, def string, need bool) string {
	v, ok := k.a[key]
	if !ok || v == "" {
		if need {
			k.fail(fmt.Errorf("%s needs %s=", k.cmd, key))
		}
		return def
	}
	return v
}

func (k *kargs) count(key string, def, lo, hi int) int {
	v, ok := k.a[key]
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		k.fail(fmt.Errorf("%s=%s: want a number from %d to %d", key, v, lo, hi))
		return def
	}
	return n
}

func (k *kargs) dur(key string, def sim.Duration, need bool) sim.Duration {
	v, ok := k.a[key]
	if !ok {
		if need {
			k.fail(fmt.Errorf("%s needs %s=", k.cmd, key))
		}
		return def
	}
	d, err := sim.ParseDuration(v)
	if err != nil || d < 0 {
		k.fail(fmt.Errorf("%s=%s: want a duration ≥ 0", key, v))
		return def
	}
	return d
}

// only fails if a has an argument outside keys.
func (k *kargs) only(keys ...string) {
	for _, key := range slices.Sorted(maps.Keys(k.a)) {
		if !slices.Contains(keys, key) {
			k.fail(fmt.Errorf("%s: unknown argument %s (want %s)", k.cmd, key, strings.Join(keys, ", ")))
		}
	}
}

// addProducer makes a producer from its command's arguments and starts it.
func (s *kscript) addProducer(k *kargs) error {
	k.only("name", "discovery", "topic", "acks", "rate", "keys", "bootstrap", "retries", "for")
	name := k.str("name", "", true)
	disc := k.str("discovery", "", true)
	topic := k.str("topic", "", true)
	acksArg := k.str("acks", "all", false)
	rate := k.count("rate", 20, 0, int(producer.MaxRate))
	keys := k.count("keys", 100, 1, partition.ZipfKeysMax)
	retries := k.count("retries", producer.DefaultMaxRetries, 0, 1000)
	stop := k.dur("for", 0, false)
	if k.err != nil {
		return k.err
	}
	if err := s.newClientName(name); err != nil {
		return err
	}
	mode, err := producer.ParseDiscovery(disc)
	if err != nil {
		return err
	}
	acks, err := parseAcks(acksArg)
	if err != nil {
		return err
	}
	parts, err := s.topicPartitions(topic)
	if err != nil {
		return err
	}
	zipf, err := partition.NewZipf(keys, 1)
	if err != nil {
		return err
	}
	var hosts []string
	if v, ok := k.a["bootstrap"]; ok {
		ids, err := parseIDs(v)
		if err != nil {
			return fmt.Errorf("bootstrap=%s: %w", v, err)
		}
		for _, id := range ids {
			b, err := s.broker(id)
			if err != nil {
				return err
			}
			hosts = append(hosts, b.name)
		}
	} else {
		hosts = s.c.brokerNames()
	}
	cl := s.clients()
	if cl.slots+1 > kscriptMaxProducerIdx {
		return fmt.Errorf("at most %d producers", kscriptMaxProducerIdx)
	}
	cl.slots++
	w := s.c.w
	p := &kscriptProducer{prodProc: &prodProc{name: name, mode: mode}, slot: cl.slots, acks: acks, topic: topic,
		errors: map[string]int{}}
	cfgOf := func(inc uint32) producer.Config {
		return producer.Config{
			Index: p.slot*kscriptIncarnations + int(inc), Discovery: mode, Topics: []string{topic}, Bootstrap: hosts, Keys: zipf,
			Acks: acks, AcksNoneSet: acks == proto.AcksNone, MaxRetries: retries, NoRetries: retries == 0,
			Rate: float64(rate), Stop: stop, StaticPartitions: parts, Rand: w.Rand(fmt.Sprintf("%s/%d", name, inc)),
		}
	}
	if _, err := producer.New(cfgOf(1)); err != nil {
		return err
	}
	p.hear = func(r kproc.Effect) { s.heardProducer(p, r) }
	p.see = func(in kproc.Input) { p.sawInput(in) }
	s.c.newProducer(p.prodProc, cfgOf)
	cl.producers[name] = p
	cl.names = append(cl.names, name)
	w.At(p.shell.ID(), w.Now(), "start", p.shell.Start)
	s.c.narrate("%s starts: %s discovery, acks=%s, %d messages/s to %s", name, mode, acksName(acks), rate, topic)
	return nil
}

// heardProducer narrates a producer's start and each change of its view
// (its live brokers and the leaders it knows).
func (s *kscript) heardProducer(p *kscriptProducer, r kproc.Effect) {
	switch r := r.(type) {
	case producer.Started:
		if r.Target != "" {
			s.c.narrate("%s picks %s, once", p.name, r.Target)
		}
	case producer.ViewChanged:
		m, ok := p.shell.Machine()
		if !ok {
			return
		}
		if v := viewSummary(m.View()); v != p.told {
			p.told = v
			s.c.narrate("%s sees (%s) %s", p.name, r.Cause, v)
		}
	}
}

// viewSummary: a zk or metadata producer's live brokers and leaders.
func viewSummary(v producer.View) string {
	parts := make([]string, len(v.Partitions))
	for i, pv := range v.Partitions {
		l := "none"
		if pv.Leader != proto.NoLeader {
			l = strconv.Itoa(int(pv.Leader))
		}
		parts[i] = fmt.Sprintf("%s:%s", pv.TopicPartition, l)
	}
	return "brokers " + idList(v.BrokerIDs()) + ", leaders " + strings.Join(parts, " ")
}

// sawInput counts the errors of produce answers and failed requests.
func (p *kscriptProducer) sawInput(in kproc.Input) {
	r, ok := in.(kproc.RPCResult)
	if !ok {
		return
	}
	if r.Err != nil {
		p.errors["request failed: "+r.Err.Error()]++
		return
	}
	if pr, ok := r.Resp.(*proto.ProduceResponse); ok {
		for _, part := range pr.Partitions {
			if part.Error != proto.None {
				p.errors[part.Error.String()]++
			}
		}
	}
}

// addConsumer makes a consumer from its command's arguments and starts it.
func (s *kscript) addConsumer(k *kargs) error {
	k.only("name", "group", "topics", "assignor", "reset", "commit", "streams", "retries", "backoff")
	name := k.str("name", "", true)
	group := k.str("group", "", true)
	topicsArg := k.str("topics", "", true)
	strategy := consumer.Strategy(k.str("assignor", string(consumer.StrategyRange), false))
	reset := consumer.Reset(k.str("reset", string(consumer.ResetSmallest), false))
	commit := k.dur("commit", 5*sim.Second, false)
	streams := k.count("streams", 1, 1, consumer.MaxStreams)
	retries := k.count("retries", 4, 1, consumer.MaxRebalanceRetries)
	backoff := k.dur("backoff", 2*sim.Second, false)
	if k.err != nil {
		return k.err
	}
	if err := s.newClientName(name); err != nil {
		return err
	}
	subs := map[string]int{}
	for _, t := range strings.Split(topicsArg, ",") {
		subs[t] = streams
	}
	w := s.c.w
	cfgOf := func(inc uint32) consumer.Config {
		cfg := consumer.DefaultConfig(group, name, subs, w.Rand(fmt.Sprintf("%s/%d", name, inc)))
		cfg.ConsumerID = name // the same id across restarts
		cfg.Strategy, cfg.AutoOffsetReset, cfg.AutoCommitInterval = strategy, reset, commit
		cfg.RebalanceMaxRetries, cfg.RebalanceBackoff = retries, backoff
		return cfg
	}
	if err := cfgOf(1).Validate(); err != nil {
		return err
	}
	cl := s.clients()
	c := s.c
	p := &kscriptConsumer{consProc: &consProc{name: name, group: group}, topics: slices.Sorted(maps.Keys(subs))}
	// The old consumer's zookeeper.session.timeout.ms is 6 s; 0.9's
	// ZKCheckedEphemeral registration (as consumer-rebalance's).
	zk := kafkazk.Config{Servers: []sim.ProcID{c.srv.ID()}, SessionTimeout: 6 * sim.Second, Era: kafkazk.Era09}
	p.shell = consumerProcess(&c.recorder, p.consProc, func(inc uint32) *consumer.Consumer { return consumer.New(cfgOf(inc)) }, zk, consumerHooks{
		record: func(o history.Op) { c.history = append(c.history, o) },
		away:   func() bool { return c.leaving(p.consProc) },
		pastHW: "consumers-below-high-watermark",
		hear:   func(r kproc.Effect) { s.heardConsumer(p, r) },
	})
	c.consumers = append(c.consumers, p.consProc)
	cl.consumers[name] = p
	cl.names = append(cl.names, name)
	w.At(p.shell.ID(), w.Now(), "start", p.shell.Start)
	s.c.narrate("%s starts: group %s, topics %s, %s assignor", name, group, strings.Join(p.topics, ","), strategy)
	return nil
}

// heardConsumer narrates a consumer's registrations and rebalances, and the
// commits of a rebalance or a shutdown (not the periodic ones).
func (s *kscript) heardConsumer(p *kscriptConsumer, r kproc.Effect) {
	c := s.c
	if _, ok := r.(consumer.Committed); !ok {
		s.flushCommits(p)
	}
	switch r := r.(type) {
	case consumer.Registered:
		if r.Again {
			c.narrate("%s registers again (a new session)", p.name)
		}
	case consumer.RebalanceStarted:
		p.rebalancing = true
		c.narrate("%s rebalances: %s", p.name, r.Reason)
	case consumer.RebalanceRetry:
		if len(r.Conflicts) > 0 {
			c.narrate("%s attempt %d: %s still owned by another; retry in %v", p.name, r.Attempt, tpNames(r.Conflicts), r.Backoff)
		} else {
			c.narrate("%s attempt %d failed: %s; retry in %v", p.name, r.Attempt, r.Why, r.Backoff)
		}
	case consumer.RebalanceEnded:
		p.rebalancing = false
		owned := tpNames(r.Owned)
		if owned == "" {
			owned = "nothing"
		}
		c.narrate("%s owns %s (attempt %d)", p.name, owned, r.Attempts)
	case consumer.RebalanceFailed:
		p.rebalancing = false
		c.narrate("%s gives up after %d attempts: it owns nothing until the next change", p.name, r.Attempts)
	case consumer.Committed:
		if p.rebalancing || p.stopping {
			if len(p.commits) == 0 {
				c.w.After(sim.Kernel, 0, "narrate-commits", func() { s.flushCommits(p) })
			}
			p.commits = append(p.commits, fmt.Sprintf("%s@%d", r.TP, r.Offset))
		}
	case consumer.CommitFailed:
		c.narrate("%s cannot commit %s: %s", p.name, r.TP, r.Why)
	}
}

// flushCommits narrates the commits waiting, in one line.
func (s *kscript) flushCommits(p *kscriptConsumer) {
	if len(p.commits) == 0 {
		return
	}
	when := "before it rebalances"
	if p.stopping && !p.rebalancing {
		when = "as it shuts down"
	}
	s.c.narrate("%s commits %s %s", p.name, strings.Join(p.commits, " "), when)
	p.commits = nil
}

func tpNames(tps []proto.TopicPartition) string {
	parts := make([]string, len(tps))
	for i, tp := range tps {
		parts[i] = tp.String()
	}
	return strings.Join(parts, " ")
}

// ---- client faults ----

func (s *kscript) stopClient(name string) error {
	id, err := s.clientProc(name)
	if err != nil {
		return err
	}
	w := s.c.w
	if !w.IsUp(id) || w.IsPaused(id) {
		return fmt.Errorf("%s is down or paused", name)
	}
	if !s.runningMachine(name) {
		return fmt.Errorf("%s has exited", name)
	}
	if c, ok := s.cl.consumers[name]; ok {
		if c.stopping {
			return fmt.Errorf("%s is stopping", name)
		}
		s.c.consumerAway[name] = true // no supervisor restart
		c.stopping = true
	}
	s.c.narrate("stop %s", name)
	w.At(id, w.Now(), "shutdown", s.shutdownOf(name))
	return nil
}

// runningMachine reports whether client name has a machine that has not
// exited.
func (s *kscript) runningMachine(name string) bool {
	if p, ok := s.cl.producers[name]; ok {
		_, running := p.shell.Machine()
		return running
	}
	_, running := s.cl.consumers[name].shell.Machine()
	return running
}

func (s *kscript) shutdownOf(name string) func() {
	if p, ok := s.cl.producers[name]; ok {
		return p.shell.Shutdown
	}
	return s.cl.consumers[name].shell.Shutdown
}

func (s *kscript) crashClient(name string, hold sim.Duration) error {
	id, err := s.clientProc(name)
	if err != nil {
		return err
	}
	if !s.c.w.IsUp(id) {
		return fmt.Errorf("%s is down", name)
	}
	s.c.narrate("crash %s%s", name, forText(hold))
	f := sim.Fault{ID: s.nextFault(), Kind: sim.FaultCrash, Proc: name}
	if err := s.c.faults.Apply(f, hold); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if hold == 0 {
		s.cl.crashes[name] = f.ID
	}
	return nil
}

// restartClient starts a crashed or stopped client again.
func (s *kscript) restartClient(name string) error {
	id, err := s.clientProc(name)
	if err != nil {
		return err
	}
	w := s.c.w
	exited := false
	if p, ok := s.cl.producers[name]; ok {
		_, running := p.shell.Machine()
		exited = w.IsUp(id) && !running
		if w.Incarnation(id)+1 >= kscriptIncarnations {
			return fmt.Errorf("%s: at most %d incarnations", name, kscriptIncarnations-1)
		}
	}
	if c, ok := s.cl.consumers[name]; ok {
		s.c.consumerAway[name] = false
		c.stopping = false
	}
	if w.IsUp(id) && !exited {
		return fmt.Errorf("%s is up", name)
	}
	if f, ok := s.cl.crashes[name]; ok {
		delete(s.cl.crashes, name)
		if s.c.faults.Heal(f) { // narrateHeal says "restart"
			return nil
		}
	}
	s.c.narrate("restart %s", name)
	if exited {
		w.Crash(id) // a closed producer's process still runs; the supervisor stops it first
	}
	w.Restart(id)
	return nil
}

func (s *kscript) pauseClient(name string, hold sim.Duration) error {
	id, err := s.clientProc(name)
	if err != nil {
		return err
	}
	if !s.c.w.IsUp(id) || s.c.w.IsPaused(id) {
		return fmt.Errorf("%s is down or paused", name)
	}
	s.c.narrate("GC pause of %s%s", name, forText(hold))
	return s.c.faults.Apply(sim.Fault{ID: s.nextFault(), Kind: sim.FaultPause, Proc: name}, hold)
}

func (s *kscript) partitionClient(name, from string, hold sim.Duration) error {
	id, err := s.clientProc(name)
	if err != nil {
		return err
	}
	if !s.c.w.IsUp(id) {
		return fmt.Errorf("%s is down", name)
	}
	f := sim.Fault{ID: s.nextFault(), Kind: sim.FaultPartition, A: []string{name}}
	switch from {
	case "zk":
		f.B = []string{s.c.w.Name(s.c.srv.ID())}
		s.c.narrate("partition %s from ZooKeeper%s", name, forText(hold))
	case "all":
		f = sim.Fault{ID: f.ID, Kind: sim.FaultIsolate, Proc: name}
		s.c.narrate("isolate %s%s", name, forText(hold))
	default:
		return fmt.Errorf("from=%s: want zk or all", from)
	}
	return s.c.faults.Apply(f, hold)
}

func (s *kscript) expireClient(name string) error {
	var session int64
	if p, ok := s.clients().producers[name]; ok {
		_, session = p.shell.Session()
	} else if c, ok := s.cl.consumers[name]; ok {
		_, session = c.shell.Session()
	} else {
		_, err := s.clientProc(name)
		return err
	}
	if session == 0 || !s.c.srv.SessionAlive(session) || !s.c.w.IsUp(s.c.srv.ID()) {
		return fmt.Errorf("%s has no live session to expire", name)
	}
	s.c.srv.Expire(session)
	s.c.narrate("ZooKeeper expires the session 0x%x of %s; the process lives on", session, name)
	return nil
}

// ---- views ----

// clientsText: each client's process and ZooKeeper session.
func (s *kscript) clientsText() string {
	cl := s.clients()
	if len(cl.names) == 0 {
		return "no clients"
	}
	var lines []string
	for _, name := range cl.names {
		var id sim.ProcID
		var machine bool
		var session int64
		kind := "producer"
		if p, ok := cl.producers[name]; ok {
			id = p.shell.ID()
			_, machine = p.shell.Machine()
			_, session = p.shell.Session()
		} else {
			c := cl.consumers[name]
			kind = "consumer of " + c.group
			id = c.shell.ID()
			m, ok := c.shell.Machine()
			machine = ok
			if ok {
				kind += " (" + m.View().Phase + ")"
			}
			_, session = c.shell.Session()
		}
		state := s.procState(id, machine)
		if session != 0 && state != "down" {
			state += fmt.Sprintf(" session 0x%x", session)
			if !s.c.srv.SessionAlive(session) {
				state += " (expired)"
			}
		}
		lines = append(lines, fmt.Sprintf("%s: %s, %s", name, kind, state))
	}
	return strings.Join(lines, "\n")
}

func (s *kscript) procState(id sim.ProcID, machine bool) string {
	w := s.c.w
	switch {
	case !w.IsUp(id):
		return "down"
	case !machine:
		return "exited"
	case w.IsPaused(id):
		return "paused"
	}
	return "up"
}

// liveConsumers maps the consumer ids of group's running consumers (up,
// not paused, registered) to their names.
func (s *kscript) liveConsumers(group string) map[string]string {
	out := map[string]string{}
	for _, name := range s.clients().names {
		c, ok := s.cl.consumers[name]
		if !ok || c.group != group {
			continue
		}
		m, ok := c.shell.Machine()
		if !ok || !s.c.w.IsUp(c.shell.ID()) || s.c.w.IsPaused(c.shell.ID()) || !m.Running() {
			continue
		}
		out[m.ID()] = name
	}
	return out
}

// threadOwner names the live consumer whose thread id ("<consumer id>-<n>",
// as an owner znode holds it) thread is.
func threadOwner(live map[string]string, thread string) (string, bool) {
	i := strings.LastIndexByte(thread, '-')
	if i < 0 {
		return "", false
	}
	name, ok := live[thread[:i]]
	return name, ok
}

// groupTopics is every topic group's consumers subscribe to, sorted.
func (s *kscript) groupTopics(group string) []string {
	var out []string
	for _, name := range s.clients().names {
		if c, ok := s.cl.consumers[name]; ok && c.group == group {
			out = append(out, c.topics...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// topicPartitionIDs reads topic's partitions from ZooKeeper.
func (s *kscript) topicPartitionIDs(topic string) []int32 {
	data, _, ok := s.c.srv.View().Get(kafkazk.TopicPath(topic))
	if !ok {
		return nil
	}
	ta, err := kafkazk.DecodeTopicAssignment(data)
	if err != nil {
		return nil
	}
	return slices.Sorted(maps.Keys(ta.Partitions))
}

// ownersText lists /consumers/<group>/owners: each partition's owner
// thread, its session, and the consumer it names (or that it names no
// live one); then the subscribed partitions without an owner.
func (s *kscript) ownersText(group string) (string, error) {
	if len(s.groupTopics(group)) == 0 {
		return "", fmt.Errorf("group=%s: no consumer of the script is in it", group)
	}
	v := s.c.srv.View()
	live := s.liveConsumers(group)
	var lines, unowned []string
	for _, t := range s.groupTopics(group) {
		for _, p := range s.topicPartitionIDs(t) {
			tp := proto.TopicPartition{Topic: t, Partition: p}
			data, st, ok := v.Get(consumer.OwnerPath(group, tp))
			if !ok {
				unowned = append(unowned, tp.String())
				continue
			}
			who := "no live consumer"
			if name, ok := threadOwner(live, string(data)); ok {
				who = name
			}
			lines = append(lines, fmt.Sprintf("%s %s [ephemeral 0x%x] %s", tp, data, st.EphemeralOwner, who))
		}
	}
	if len(unowned) > 0 {
		lines = append(lines, "unowned: "+strings.Join(unowned, " "))
	}
	return strings.Join(lines, "\n"), nil
}

// offsetsText lists the offsets group committed, with each partition's
// high watermark at its leader.
func (s *kscript) offsetsText(group string) (string, error) {
	topics := s.groupTopics(group)
	if len(topics) == 0 {
		return "", fmt.Errorf("group=%s: no consumer of the script is in it", group)
	}
	v := s.c.srv.View()
	var lines []string
	for _, t := range topics {
		for _, p := range s.topicPartitionIDs(t) {
			tp := proto.TopicPartition{Topic: t, Partition: p}
			off := "none"
			if data, _, ok := v.Get(consumer.OffsetPath(group, tp)); ok {
				off = string(data)
			}
			lines = append(lines, fmt.Sprintf("%s committed=%s hw=%s", tp, off, s.highWatermark(tp)))
		}
	}
	return strings.Join(lines, "\n"), nil
}

// highWatermark is tp's high watermark at the leader ZooKeeper names.
func (s *kscript) highWatermark(tp proto.TopicPartition) string {
	data, _, ok := s.c.srv.View().Get(kafkazk.PartitionStatePath(tp.Topic, tp.Partition))
	if !ok {
		return "?"
	}
	st, err := kafkazk.DecodePartitionState(data)
	if err != nil {
		return "?"
	}
	b := s.c.broker(st.Leader)
	if b == nil {
		return "? (no leader)"
	}
	m, ok := b.machine()
	if !ok {
		return "? (leader down)"
	}
	r, ok := m.Replica(tp)
	if !ok {
		return "?"
	}
	return strconv.FormatInt(r.HighWatermark, 10)
}

func (s *kscript) consumerViewText(name string) (string, error) {
	c, ok := s.clients().consumers[name]
	if !ok {
		return "", fmt.Errorf("no consumer %q", name)
	}
	m, ok := c.shell.Machine()
	if !ok || !s.c.w.IsUp(c.shell.ID()) {
		return name + ": " + s.procState(c.shell.ID(), ok), nil
	}
	v := m.View()
	head := fmt.Sprintf("%s: %s %s", name, v.ConsumerID, v.Phase)
	if v.Rebalancing {
		head += fmt.Sprintf(", rebalancing (attempt %d)", v.Attempt)
	}
	if v.Failed {
		head += ", the last rebalance failed"
	}
	lines := []string{head}
	for _, o := range v.Owned {
		at := "looking for the leader"
		if o.Leader >= 0 {
			at = fmt.Sprintf("fetching from broker-%d", o.Leader)
		}
		lines = append(lines, fmt.Sprintf("  %s thread=%s position=%d committed=%d %s", o.TP, o.Thread, o.Position, o.Committed, at))
	}
	if len(v.Owned) == 0 {
		lines = append(lines, "  owns nothing")
	}
	return strings.Join(lines, "\n"), nil
}

// kscriptKeysShown is how many of the most frequent keys producer-view
// places.
const kscriptKeysShown = 3

// keysText: where the last acknowledged message of each of the most
// frequent keys went.
func (p *kscriptProducer) keysText() string {
	last := map[uint64]producer.Acked{}
	for _, a := range p.acked {
		if a.Keyed && a.Key < kscriptKeysShown {
			last[a.Key] = a
		}
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(last)) {
		a := last[k]
		parts = append(parts, fmt.Sprintf("%s→%s-%d@%s", partition.KeyString(k), a.Topic, a.Partition, a.Host))
	}
	if len(parts) == 0 {
		return ""
	}
	return "last acked keys " + strings.Join(parts, " ")
}

func (s *kscript) producerViewText(name string) (string, error) {
	p, ok := s.clients().producers[name]
	if !ok {
		return "", fmt.Errorf("no producer %q", name)
	}
	m, ok := p.shell.Machine()
	if !ok || !s.c.w.IsUp(p.shell.ID()) {
		return name + ": " + s.procState(p.shell.ID(), ok), nil
	}
	v := m.View()
	head := name + ": " + v.Discovery.String()
	if v.Target != "" {
		head += " target=" + v.Target
	}
	if v.Discovery != producer.DiscoveryStatic {
		head += " brokers=" + idList(v.BrokerIDs())
	}
	if v.Discovery == producer.DiscoveryMetadata {
		head += fmt.Sprintf(" refreshes=%d", v.Refreshes)
	}
	lines := []string{head, fmt.Sprintf("  invoked=%d acked=%d failed=%d unknown=%d queued=%d in-flight=%d",
		v.Invoked, v.Acked, v.Failed, v.Unknown, v.Queued, v.InFlight)}
	if v.Discovery != producer.DiscoveryStatic {
		lines = append(lines, "  "+viewSummary(v))
	}
	if keys := p.keysText(); keys != "" {
		lines = append(lines, "  "+keys)
	}
	var hosts []string
	for _, h := range v.Hosts {
		hosts = append(hosts, fmt.Sprintf("%s %d/%d", h.Host, h.Acked, h.Sent))
	}
	if len(hosts) > 0 {
		lines = append(lines, "  acked/sent "+strings.Join(hosts, ", "))
	}
	if len(p.errors) > 0 {
		var errs []string
		for _, e := range slices.Sorted(maps.Keys(p.errors)) {
			errs = append(errs, fmt.Sprintf("%s ×%d", e, p.errors[e]))
		}
		lines = append(lines, "  errors since the last view: "+strings.Join(errs, ", "))
		clear(p.errors)
	}
	return strings.Join(lines, "\n"), nil
}

// historyConfig is the script's history configuration: its weakest
// producer's acks (all when it has none), the cluster's settings, and the
// topics each group subscribes to.
func (s *kscript) historyConfig() history.Config {
	cl := s.clients()
	acks := proto.AcksAll
	rank := func(a int16) int { return slices.Index([]int16{proto.AcksNone, proto.AcksLeader, proto.AcksAll}, a) }
	subs := map[string][]string{}
	for _, name := range cl.names {
		if p, ok := cl.producers[name]; ok && rank(p.acks) < rank(acks) {
			acks = p.acks
		}
		if c, ok := cl.consumers[name]; ok && subs[c.group] == nil {
			subs[c.group] = s.groupTopics(c.group)
		}
	}
	return history.Config{Acks: acksName(acks), MinInsyncReplicas: s.c.kcfg.MinInsyncReplicas,
		UncleanLeaderElection: s.c.kcfg.UncleanLeaderElectionEnable, Subscriptions: subs, PowerLoss: s.c.powerLosses > 0}
}

// scriptHistory is the history so far, its lines numbered as a file's.
func (s *kscript) scriptHistory() *history.History {
	h := &history.History{Config: s.historyConfig(), Ops: slices.Clone(s.c.history)}
	for i := range h.Ops {
		h.Ops[i].Line = i + 2
	}
	return h
}

type kpos struct {
	tp  proto.TopicPartition
	off int64
}

// historyText counts the history's operations.
func (s *kscript) historyText() string {
	counts := map[string]int{}
	polled := map[kpos]int{}
	for _, o := range s.c.history {
		switch o.F {
		case history.Send:
			counts[string(o.Type)]++
		case history.Poll:
			polled[kpos{proto.TopicPartition{Topic: o.Topic, Partition: o.Partition}, o.Offset}]++
			counts["poll"]++
		case history.Commit:
			counts["commit"]++
		}
	}
	dups := 0
	for _, n := range polled {
		dups += n - 1
	}
	return fmt.Sprintf("sends: invoked=%d ok=%d fail=%d info=%d\npolls: %d (%d offsets, %d duplicates)\ncommits: %d",
		counts[string(history.Invoke)], counts[string(history.OK)], counts[string(history.Fail)], counts[string(history.Info)],
		counts["poll"], len(polled), dups, counts["commit"])
}

// historyProblems writes the history through history.Writer (its own
// rules) and runs history.Check; without a durable configuration it adds a
// note of the acknowledged sends no group polled, which Check does not
// judge then.
func (s *kscript) historyProblems() (problems []string, notes []string) {
	h := s.scriptHistory()
	var buf bytes.Buffer
	wr := history.NewWriter(&buf)
	if err := wr.WriteConfig(h.Config); err != nil {
		return []string{"history-valid: " + err.Error()}, nil
	}
	for _, o := range h.Ops {
		if err := wr.Write(o); err != nil {
			problems = append(problems, fmt.Sprintf("line %d: history-valid: %v", o.Line, err))
			break
		}
	}
	for _, v := range history.Check(h) {
		problems = append(problems, v.String())
	}
	if !h.Config.Durable() {
		notes = s.unpolledNotes(h)
	}
	return problems, notes
}

// unpolledNotes: for a configuration that does not promise durability, how
// many acknowledged sends each group never polled at their offset.
func (s *kscript) unpolledNotes(h *history.History) []string {
	type gv struct {
		group string
		pos   kpos
		value uint64
	}
	polled := map[gv]bool{}
	for _, o := range h.Ops {
		if o.F == history.Poll {
			polled[gv{o.Group, kpos{proto.TopicPartition{Topic: o.Topic, Partition: o.Partition}, o.Offset}, o.Value}] = true
		}
	}
	c := h.Config
	notes := []string{fmt.Sprintf("not durable (acks=%s, min ISR %d, unclean elections %v, power loss %v): acknowledged sends are not checked",
		c.Acks, c.MinInsyncReplicas, c.UncleanLeaderElection, c.PowerLoss)}
	for _, g := range slices.Sorted(maps.Keys(c.Subscriptions)) {
		lost, first := 0, ""
		for _, o := range h.Ops {
			if o.F != history.Send || o.Type != history.OK || !slices.Contains(c.Subscriptions[g], o.Topic) {
				continue
			}
			pos := kpos{proto.TopicPartition{Topic: o.Topic, Partition: o.Partition}, o.Offset}
			if !polled[gv{g, pos, o.Value}] {
				if lost == 0 {
					first = fmt.Sprintf("line %d: value %d acknowledged at %s@%d", o.Line, o.Value, pos.tp, pos.off)
				}
				lost++
			}
		}
		if lost > 0 {
			notes = append(notes, fmt.Sprintf("group %s never polled %d acknowledged sends at their offsets; first: %s", g, lost, first))
		}
	}
	return notes
}

func (s *kscript) historyCheckText() string {
	problems, notes := s.historyProblems()
	out := problems
	if len(out) == 0 {
		out = []string{"ok"}
	}
	return strings.Join(append(out, notes...), "\n")
}

// ownershipProblems: every partition a group subscribes to is owned by
// exactly one live consumer of the group: its owner znode names the thread
// of a running consumer, that consumer owns it in its registry, and no
// other live consumer of the group does.
func (s *kscript) ownershipProblems() []string {
	var out []string
	v := s.c.srv.View()
	groups := map[string]bool{}
	for _, c := range s.clients().consumers {
		groups[c.group] = true
	}
	for _, g := range slices.Sorted(maps.Keys(groups)) {
		live := s.liveConsumers(g)
		believed := map[proto.TopicPartition][]string{}
		for _, name := range slices.Sorted(slices.Values(slices.Collect(maps.Values(live)))) {
			m, _ := s.cl.consumers[name].shell.Machine()
			for _, o := range m.View().Owned {
				if !slices.Contains(believed[o.TP], name) {
					believed[o.TP] = append(believed[o.TP], name)
				}
			}
		}
		for _, t := range s.groupTopics(g) {
			parts := s.topicPartitionIDs(t)
			if len(parts) == 0 {
				out = append(out, fmt.Sprintf("group %s: topic %s has no partitions in ZooKeeper", g, t))
			}
			for _, p := range parts {
				tp := proto.TopicPartition{Topic: t, Partition: p}
				data, _, ok := v.Get(consumer.OwnerPath(g, tp))
				name, isLive := threadOwner(live, string(data))
				switch {
				case !ok:
					out = append(out, fmt.Sprintf("group %s: %s has no owner", g, tp))
				case !isLive:
					out = append(out, fmt.Sprintf("group %s: %s is owned by %q, not a live consumer", g, tp, data))
				case !slices.Equal(believed[tp], []string{name}):
					out = append(out, fmt.Sprintf("group %s: %s is owned by %s in ZooKeeper, by %v in the consumers' registries", g, tp, name, believed[tp]))
				}
			}
		}
	}
	return out
}

// clientCommand runs a client command; ok is false for a command that is
// not one.
func (s *kscript) clientCommand(cmd string, a map[string]string) (out string, ok bool, err error) {
	k := &kargs{cmd: cmd, a: a}
	name := func() string { return k.str("name", "", true) }
	switch cmd {
	case "producer":
		return "", true, s.addProducer(k)
	case "consumer":
		return "", true, s.addConsumer(k)
	case "stop-client", "restart-client", "expire-client", "consumer-view", "producer-view":
		k.only("name")
		n := name()
		if k.err != nil {
			return "", true, k.err
		}
		switch cmd {
		case "stop-client":
			return "", true, s.stopClient(n)
		case "restart-client":
			return "", true, s.restartClient(n)
		case "expire-client":
			return "", true, s.expireClient(n)
		case "consumer-view":
			out, err := s.consumerViewText(n)
			return out, true, err
		default:
			out, err := s.producerViewText(n)
			return out, true, err
		}
	case "crash-client", "pause-client", "partition-client":
		k.only("name", "for", "from")
		n := name()
		hold := k.dur("for", 0, cmd != "crash-client")
		from := ""
		if cmd == "partition-client" {
			from = k.str("from", "", true)
		}
		if k.err != nil {
			return "", true, k.err
		}
		switch cmd {
		case "crash-client":
			return "", true, s.crashClient(n, hold)
		case "pause-client":
			return "", true, s.pauseClient(n, hold)
		default:
			return "", true, s.partitionClient(n, from, hold)
		}
	case "owners", "offsets":
		k.only("group")
		g := k.str("group", "", true)
		if k.err != nil {
			return "", true, k.err
		}
		if cmd == "owners" {
			out, err = s.ownersText(g)
		} else {
			out, err = s.offsetsText(g)
		}
		return out, true, err
	case "clients":
		return s.clientsText(), true, nil
	case "history":
		return s.historyText(), true, nil
	case "history-check":
		return s.historyCheckText(), true, nil
	}
	return "", false, nil
}
