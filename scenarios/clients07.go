package scenarios

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/nodes/kafka/broker07"
	"github.com/kzsim/kzsim/nodes/kafka/consumer"
	"github.com/kzsim/kzsim/nodes/kafka/consumer/assign"
	"github.com/kzsim/kzsim/nodes/kafka/history"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/producer"
	"github.com/kzsim/kzsim/nodes/kafka/producer/partition"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/nodes/node"
	"github.com/kzsim/kzsim/sim"
)

// The client scenarios under --layout 0.7 (producer-balance and
// consumer-rebalance): Kafka 0.7.2 brokers (the ZooKeeper side, broker07.
// Broker, and its data plane, broker07.Data), 0.7 producers (the ZooKeeper
// producer and the broker.list one) and a group of 0.7 high-level
// consumers. A 0.7 produce has no answer, so no send is acknowledged and no
// durability can be checked; what is checked: every partition ends owned
// by exactly one live consumer, no offset is read with two values, no
// consumer reads past a broker's flushed end, every message consumed or in
// a log was sent.

// runClientsIn runs a client scenario in the layout its Config names: the
// 2.6 plan with a controller, or its 0.7 form.
func runClientsIn(plan26 func() kafkaPlan, plan07 func() clients07Plan) func(Config) *invariants.Result {
	return func(cfg Config) *invariants.Result {
		if cfg.Layout == Layout07 {
			return runClients07(cfg, plan07())
		}
		return runKafka(cfg, plan26())
	}
}

// clients07Plan is one scenario's 0.7 form.
type clients07Plan struct {
	name            string
	zkProducers     int
	staticProducers int
	consumers       int
	consumerFaults  bool
	bugs            clients07Bugs
}

// clients07Bugs plant bugs the checks must catch.
type clients07Bugs struct {
	data               broker07.DataBugs
	consumersDownAtEnd bool // every consumer is stopped at the end of the safety phase
}

// The 0.7 world's settings. Broker ids 1, 2, 10 and 11, and broker 1 with
// 11 partitions of the topic, so that the consumers' string order of
// "<b>-<p>" names ("1-10" before "1-2", "10-0" before "2-0") shows.
const (
	c07Topic          = "events"
	c07Group          = "g"
	c07Safety         = 80 * sim.Second
	c07Grace          = 40 * sim.Second
	c07SessionTimeout = 6 * sim.Second // zk.sessiontimeout.ms, 0.7's default
	c07Rate           = 20             // messages a second, each producer
	c07Port           = 9092
)

var c07BrokerIDs = []int32{1, 2, 10, 11}

func c07Partitions(id int32) int {
	if id == 1 {
		return 11
	}
	return 3
}

type clients07 struct {
	recorder
	plan      clients07Plan
	srv       *fakezk.Server
	brokers   []*c07Broker
	producers []*c07Producer
	consumers []*consProc
	away      map[string]bool
	history   []history.Op
	sent      map[uint64]string // value → topic, of every send invoked
	crashes   int
	// Each consumer's rebalances: from its start of one to its fetching
	// again (a group-wide clock is the controller layout's rebalance_ns).
	rebalStart map[string]sim.Time
	rebalances []sim.Duration
}

type c07Broker struct {
	id    int32
	name  string
	proc  sim.ProcID
	shell *node.Shell[*broker07.Broker]
	data  *broker07.Data
}

type c07Producer struct {
	name  string
	mode  producer.Discovery
	shell *kproc.Shell[*producer.Producer]
}

func runClients07(cfg Config, plan clients07Plan) *invariants.Result {
	w := sim.New(sim.Options{
		Seed:            cfg.Seed,
		Latency:         kafkaLatency,
		ConnBreakDetect: 500 * sim.Millisecond,
		MaxTime:         c07Safety + c07Grace,
		MaxEvents:       maxEvents(cfg, 0),
		Sinks:           cfg.Sinks,
	})
	c := &clients07{recorder: newRecorder(w, plan.name, cfg), plan: plan, away: map[string]bool{}, sent: map[uint64]string{}, rebalStart: map[string]sim.Time{}}
	c.srv = fakezk.NewServer(w, "zk", fakezk.ServerConfig{TickTime: 2 * sim.Second, TxnLog: cfg.ZKLog})
	for i, id := range c07BrokerIDs {
		c.addBroker(id, sim.Time(sim.Duration(i)*10*sim.Millisecond))
	}
	for i := range plan.zkProducers {
		c.addProducer(producer.DiscoveryZK, len(c.producers)+1, sim.Duration(i)*100*sim.Millisecond)
	}
	for i := range plan.staticProducers {
		c.addProducer(producer.DiscoveryStatic, len(c.producers)+1, sim.Duration(i)*100*sim.Millisecond)
	}
	for i := 1; i <= plan.consumers; i++ {
		c.addConsumer(i)
	}
	invariants.WatchZooKeeper(c.check, c.srv)
	c.scheduleBrokerFaults()
	if plan.consumerFaults {
		drawConsumerFaults(&c.recorder, w.Rand("consumer-faults"), c.consumers, c.away, sim.Time(c07Safety-15*sim.Second))
	}
	w.At(sim.Kernel, sim.Time(c07Safety), "heal-all", c.healAll)
	status := c.runToEnd(cfg, c.srv, c.checkSettled)
	writeHistory(&c.recorder, cfg.History, c.historyConfig(), c.history)
	return c.finish(status, c.metrics())
}

func (c *clients07) addBroker(id int32, at sim.Time) {
	w := c.w
	b := &c07Broker{id: id, name: fmt.Sprintf("broker-%d", id)}
	bcfg := broker07.Config{ID: id, Host: b.name, Port: c07Port, TopicPartitions: map[string]int{c07Topic: c07Partitions(id)}}
	b.shell = node.NewShell(w, node.Config[*broker07.Broker]{
		Name: b.name,
		New:  func() *broker07.Broker { return broker07.New(bcfg, broker07.LogDirs(w, b.proc)) },
		// As broker-crash@0.7: go-zk's client mode (a new session after
		// Expired, as zkclient's reconnect makes).
		ZooKeeper: []sim.ProcID{c.srv.ID()},
		Client:    fakezk.ClientConfig{SessionTimeout: c07SessionTimeout},
		OnReport: func(r node.Effect) {
			broker07.Trace(w, b.proc, b.id, r)
			if f, ok := r.(broker07.StartupFailed); ok {
				c.narrate("%s: start-up fails: %s", b.name, f.Reason)
				inc := w.Incarnation(b.proc)
				w.At(sim.Kernel, w.Now(), "broker-exit", func() {
					if w.IsUp(b.proc) && w.Incarnation(b.proc) == inc {
						w.Crash(b.proc)
						w.After(sim.Kernel, kafkaSupervisorRestart, "supervisor-restart", func() {
							if !w.IsUp(b.proc) {
								w.Restart(b.proc)
							}
						})
					}
				})
			}
		},
		OnStart: func() { b.data.Start() },
	})
	b.proc = b.shell.ID()
	b.data = broker07.NewData(w, b.proc, bcfg, w.Rand(b.name+"/partitions"), func(topic string) {
		b.shell.Command(broker07.Produce{Topic: topic})
	}, c.plan.bugs.data)
	c.brokers = append(c.brokers, b)
	w.At(b.proc, at, "start", b.shell.Start)
}

func (c *clients07) hosts() []string {
	var hs []string
	for _, b := range c.brokers {
		hs = append(hs, b.name)
	}
	return hs
}

// addProducer adds a 0.7 producer: keyed messages from 5 s to the end of
// the safety phase; zk: the ZooKeeper producer with the default
// partitioner, static: broker.list behind a layer-4 balancer.
func (c *clients07) addProducer(mode producer.Discovery, index int, offset sim.Duration) {
	w := c.w
	p := &c07Producer{name: fmt.Sprintf("producer-%d", index), mode: mode}
	keys, err := partition.NewZipf(balanceKeys, 1)
	if err != nil {
		panic(plan07Name(c) + ": " + err.Error()) // constant arguments
	}
	cfg := producer.Config{
		Index: index, Discovery: mode, Layout07: true, Topics: []string{c07Topic}, Bootstrap: c.hosts(), Keys: keys,
		Rate: c07Rate, Start: 5*sim.Second + offset, Stop: c07Safety, StaticPartitions: 1, Rand: w.Rand(p.name),
	}
	m0, err := producer.New(cfg)
	if err != nil {
		panic(plan07Name(c) + ": " + err.Error()) // the scenario's own configuration
	}
	inFlight := m0.Config().MaxInFlight
	p.shell = kproc.NewShell(w, kproc.Config[*producer.Producer]{
		Name: p.name,
		New: func(uint32) *producer.Producer {
			m, err := producer.New(cfg)
			if err != nil {
				panic(err) // checked above
			}
			return m
		},
		ZooKeeper:   kafkazk.Config{Servers: []sim.ProcID{c.srv.ID()}, SessionTimeout: c07SessionTimeout},
		Resolve:     w.ProcByName,
		MaxInFlight: func(kproc.Channel) int { return inFlight },
		OnReport: func(_ uint32, r kproc.Effect) {
			if o, ok := producer.HistoryOp(p.name, r, w.Now()); ok {
				if o.Type == history.Invoke {
					c.sent[o.Value] = o.Topic
				}
				c.history = append(c.history, o)
			}
		},
	})
	c.producers = append(c.producers, p)
	w.At(p.shell.ID(), 0, "start", p.shell.Start)
}

func plan07Name(c *clients07) string { return c.plan.name + "@0.7" }

// addConsumer adds consumer i of the group, a 0.7 high-level consumer with
// 0.7's defaults and a generated id (a new one at each start, as 0.7's
// consumerIdString has the start time in it).
func (c *clients07) addConsumer(i int) {
	w := c.w
	p := &consProc{name: fmt.Sprintf("consumer-%d", i), group: c07Group}
	name := p.name
	newMachine := func(inc uint32) *consumer.Consumer {
		return consumer.New(consumer.DefaultConfig07(c07Group, name, map[string]int{c07Topic: 1}, w.Rand(fmt.Sprintf("%s/%d", name, inc))))
	}
	// Simplified: 0.7 registers with createEphemeralPathExpectConflict;
	// with a fresh id at every start no older node is ever in the way,
	// where it and 0.9's ZKCheckedEphemeral (Era09) agree.
	zk := kafkazk.Config{Servers: []sim.ProcID{c.srv.ID()}, SessionTimeout: c07SessionTimeout, Era: kafkazk.Era09}
	p.shell = consumerProcess(&c.recorder, p, newMachine, zk, consumerHooks{
		record:      func(o history.Op) { c.history = append(c.history, o) },
		away:        func() bool { return c.away[name] },
		pastHW:      "consumers-below-log-end", // a 0.7 broker's high watermark is its flushed end
		onDelivered: func(d consumer.Delivered) { c.checkDelivered(name, d) },
		onStarted: func() {
			if _, ok := c.rebalStart[name]; !ok {
				c.rebalStart[name] = w.Now()
			}
		},
		onFetching: func() {
			if at, ok := c.rebalStart[name]; ok {
				c.rebalances = append(c.rebalances, w.Now().Sub(at))
				delete(c.rebalStart, name)
			}
		},
	})
	c.consumers = append(c.consumers, p)
	w.At(p.shell.ID(), sim.Time(3*sim.Second+sim.Duration(i)*sim.Second), "start", p.shell.Start)
}

// runToEnd runs the world to its end; if it got there (its event budget
// lasted), settled runs the end checks; then the ZooKeeper outputs are
// written.
func (r *recorder) runToEnd(cfg Config, srv *fakezk.Server, settled func()) sim.Status {
	status := r.w.Run()
	if r.ranToEnd(status) {
		settled()
	}
	writeZooKeeper(cfg, srv)
	return status
}

// writeZooKeeper ends a run's ZooKeeper outputs: the transaction log
// flushed, the final tree dumped (each if asked for).
func writeZooKeeper(cfg Config, srv *fakezk.Server) {
	if cfg.ZKLog != nil {
		srv.FlushTxnLog()
	}
	if cfg.ZKDump != nil {
		_ = fakezk.WriteDump(cfg.ZKDump, srv.View()) // the writer keeps its error (Config.ZKDump)
	}
}

// checkDelivered: what a consumer is handed was sent (its value was
// invoked by a producer, for that topic).
func (c *clients07) checkDelivered(name string, r consumer.Delivered) {
	if t, ok := c.sent[r.Value]; !ok || t != r.TP.Topic {
		c.safety("consumed-was-sent", "%s consumed value %x at %s@%d, which no producer sent to %s", name, r.Value, part07(r.TP), r.Offset, r.TP.Topic)
	}
}

// part07 names a packed 0.7 partition as 0.7 does, "<topic>/<b>-<p>".
func part07(tp proto.TopicPartition) string {
	return tp.Topic + "/" + assign.Unpack07(tp.Partition).Name()
}

// scheduleBrokerFaults crashes a broker now and then in the safety phase,
// for a hold from under a second to past the session timeout, then starts
// it again.
func (c *clients07) scheduleBrokerFaults() {
	w := c.w
	r := w.Rand("broker-faults")
	everyFew(r, sim.Time(12*sim.Second), sim.Time(c07Safety-10*sim.Second), func(at sim.Time) {
		b := c.brokers[r.Intn(len(c.brokers))]
		hold := r.DurationBetween(500*sim.Millisecond, 12*sim.Second)
		w.At(sim.Kernel, at, "crash-broker", func() {
			if !w.IsUp(b.proc) {
				return
			}
			c.crashes++
			c.narrate("crash %s for %v", b.name, hold)
			w.Crash(b.proc)
			w.After(sim.Kernel, hold, "restart-broker", func() {
				if !w.IsUp(b.proc) {
					c.narrate("%s starts again", b.name)
					w.Restart(b.proc)
				}
			})
		})
	})
}

// healAll ends the safety phase: every broker and consumer runs again.
func (c *clients07) healAll() {
	w := c.w
	c.narrate("safety phase over: every process runs again")
	for _, b := range c.brokers {
		if !w.IsUp(b.proc) {
			w.Restart(b.proc)
		}
	}
	for _, p := range c.consumers {
		c.away[p.name] = c.plan.bugs.consumersDownAtEnd
		switch {
		case c.plan.bugs.consumersDownAtEnd && w.IsUp(p.shell.ID()):
			w.Crash(p.shell.ID())
		case !c.plan.bugs.consumersDownAtEnd && !w.IsUp(p.shell.ID()):
			w.Restart(p.shell.ID())
		}
	}
}

// checkSettled runs the end-of-run checks.
func (c *clients07) checkSettled() {
	c.checkOwned()
	c.checkLogs()
	h := &history.History{Config: c.historyConfig(), Ops: c.history}
	for i := range h.Ops {
		h.Ops[i].Line = i + 2
	}
	for _, viol := range history.Check(h) {
		c.liveness(viol.Check, "%s", viol.Msg)
	}
}

// checkOwned: every partition of the topic (the "<b>-<p>" of every broker's
// registration) is owned by exactly one live consumer of the group: its
// owner znode names a running consumer's thread. ZooKeeper holds one node
// per name, so "exactly one" is that node naming a live thread.
func (c *clients07) checkOwned() {
	if len(c.consumers) == 0 {
		return
	}
	v := c.srv.View()
	live := map[string]bool{}
	for _, p := range c.consumers {
		if m, ok := p.shell.Machine(); ok && c.w.IsUp(p.shell.ID()) && m.Running() {
			live[m.ID()+"-0"] = true
		}
	}
	for _, b := range c.brokers {
		if _, _, ok := v.Get(broker07.TopicPath(c07Topic, b.id)); !ok {
			c.liveness("partitions-owned", "broker %d has not registered %s", b.id, c07Topic)
			continue
		}
		for part := range int32(c07Partitions(b.id)) {
			bp := assign.BrokerPartition{Broker: b.id, Part: part}
			data, _, ok := v.Get(consumer.OwnerPath07(c07Group, c07Topic, bp))
			switch {
			case !ok:
				c.liveness("partitions-owned", "%s/%s has no owner in group %s", c07Topic, bp.Name(), c07Group)
			case !live[string(data)]:
				c.liveness("partitions-owned", "%s/%s is owned by %q, not a live consumer of group %s", c07Topic, bp.Name(), data, c07Group)
			}
		}
	}
}

// checkLogs: every record in a broker's log was sent (its value invoked
// for that topic). (That no consumer reads past a log's flushed end is
// checked on every fetch answer: consumer.PastHighWatermark.)
func (c *clients07) checkLogs() {
	for _, b := range c.brokers {
		for part := range int32(c07Partitions(b.id)) {
			tp := proto.TopicPartition{Topic: c07Topic, Partition: part}
			packed := proto.TopicPartition{Topic: c07Topic, Partition: assign.BrokerPartition{Broker: b.id, Part: part}.Pack07()}
			end, _, ok := b.data.LogEnd(tp)
			if !ok {
				continue
			}
			for from := int64(0); from < end; {
				recs := b.data.Read(tp, from, 500)
				if len(recs) == 0 {
					break
				}
				for _, r := range recs {
					if t, ok := c.sent[r.Value]; !ok || t != c07Topic {
						c.liveness("logged-was-sent", "%s@%d holds value %x, which no producer sent", part07(packed), r.Offset, r.Value)
						return
					}
				}
				from = recs[len(recs)-1].Offset + 1
			}
		}
	}
}

// historyConfig: no 0.7 send is acknowledged, so acks "0", the nearest the
// history's config line can state.
func (c *clients07) historyConfig() history.Config {
	subs := map[string][]string{}
	if len(c.consumers) > 0 {
		subs[c07Group] = []string{c07Topic}
	}
	return history.Config{Acks: history.AcksNone, MinInsyncReplicas: 1, Subscriptions: subs}
}

// writeHistory checks a run's client operations ops with the history
// format's own rules (a send completed once, by the process that invoked
// it, times never going back: a client that breaks them is a bug, a
// history-valid violation) and writes them after the config line to out,
// if set.
func writeHistory(rec *recorder, out io.Writer, config history.Config, ops []history.Op) {
	var buf bytes.Buffer
	h := history.NewWriter(&buf)
	if err := h.WriteConfig(config); err != nil {
		panic("kafka scenario: history config: " + err.Error()) // built by the scenario
	}
	for _, o := range ops {
		if err := h.Write(o); err != nil {
			rec.safety("history-valid", "%v", err)
			return
		}
	}
	if out != nil {
		_, _ = out.Write(buf.Bytes()) // the writer keeps its error (Config.History)
	}
}

// metrics: sends per discovery way and each way's load skew (most messages
// one broker was sent over the mean), messages in each broker's logs,
// messages consumed, duplicates, rebalance times.
func (c *clients07) metrics() map[string]float64 {
	m := map[string]float64{"broker_crashes": float64(c.crashes), "zk_transactions": float64(c.srv.Zxid())}
	for _, mode := range []producer.Discovery{producer.DiscoveryZK, producer.DiscoveryStatic} {
		byHost := map[string]float64{}
		for _, h := range c.hosts() {
			byHost[h] = 0
		}
		sent, any := 0.0, false
		for _, p := range c.producers {
			if p.mode != mode {
				continue
			}
			any = true
			if pm, ok := p.shell.Machine(); ok {
				for _, hc := range pm.View().Hosts {
					byHost[hc.Host] += float64(hc.Sent)
					sent += float64(hc.Sent)
				}
			}
		}
		if !any {
			continue
		}
		name := strings.ToLower(mode.String())
		m["sent_by_discovery."+name] = sent
		if sent > 0 {
			m["load_skew."+name] = slices.Max(slices.Collect(maps.Values(byHost))) / (sent / float64(len(byHost)))
		}
	}
	for _, b := range c.brokers {
		n := 0.0
		for part := range int32(c07Partitions(b.id)) {
			if end, _, ok := b.data.LogEnd(proto.TopicPartition{Topic: c07Topic, Partition: part}); ok {
				n += float64(end)
			}
		}
		m["messages_per_broker."+b.name] = n
	}
	type pos struct {
		tp  proto.TopicPartition
		off int64
	}
	seen := map[pos]bool{}
	polls := 0
	for _, o := range c.history {
		if o.F == history.Poll {
			polls++
			seen[pos{proto.TopicPartition{Topic: o.Topic, Partition: o.Partition}, o.Offset}] = true
		}
	}
	if len(c.consumers) > 0 {
		m["messages_consumed"] = float64(len(seen))
		m["duplicates_delivered"] = float64(polls - len(seen))
		m["rebalances"] = float64(len(c.rebalances))
		if all := slices.Sorted(slices.Values(c.rebalances)); len(all) > 0 {
			m["consumer_rebalance_ns.p50"] = float64(all[len(all)/2])
			m["consumer_rebalance_ns.max"] = float64(all[len(all)-1])
		}
	}
	return m
}
