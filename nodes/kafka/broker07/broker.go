package broker07

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/node"
	"github.com/kzsim/kzsim/sim"
)

// Kafka 0.7.2's defaults (KafkaConfig.scala, ZKConfig in ZkUtils.scala).
const (
	DefaultPort           = 6667                  // port
	DefaultNumPartitions  = 1                     // num.partitions
	DefaultSessionTimeout = 6 * sim.Second        // zk.sessiontimeout.ms
	DefaultConnectTimeout = DefaultSessionTimeout // zk.connectiontimeout.ms defaults to the session timeout
)

// EpochMillis is the wall-clock time, in Unix milliseconds, that virtual
// time 0 stands for, so that a creatorId carries a plausible
// System.currentTimeMillis (November 2012, Kafka 0.7.2's release).
const EpochMillis int64 = 1_352_252_334_123

// Config is a 0.7 broker's configuration (server.properties).
type Config struct {
	// ID is brokerid (no default in 0.7).
	ID int32
	// Host is hostname; 0.7 falls back to the local address as text.
	Host string
	// Port is port (0: DefaultPort).
	Port int
	// NumPartitions is num.partitions, a topic's partition count on this
	// broker unless TopicPartitions names it (0: DefaultNumPartitions).
	NumPartitions int
	// TopicPartitions is topic.partition.count.map.
	TopicPartitions map[string]int
	// ConnectTimeout is zk.connectiontimeout.ms: how long start-up waits
	// for the first session before it fails (0: DefaultConnectTimeout).
	ConnectTimeout sim.Duration
	// Bugs are planted bugs that checks must catch; none is 0.7's.
	Bugs Bugs
}

// Bugs plant faults in the broker for tests of the checks.
type Bugs struct {
	// NoReRegister: a new session re-registers nothing (as if the
	// SessionExpireListener were never subscribed).
	NoReRegister bool
}

// Validate reports the first thing wrong with c, in one line.
func (c Config) Validate() error {
	switch {
	case c.ID < 0:
		return fmt.Errorf("broker07: brokerid %d is negative", c.ID)
	case c.Host == "" || strings.ContainsAny(c.Host, ":/"):
		return fmt.Errorf("broker07: hostname %q is empty or has ':' or '/'", c.Host)
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("broker07: port %d is out of range", c.Port)
	case c.NumPartitions < 0:
		return fmt.Errorf("broker07: num.partitions %d is negative", c.NumPartitions)
	case c.ConnectTimeout < 0:
		return fmt.Errorf("broker07: zk.connectiontimeout.ms %v is negative", c.ConnectTimeout)
	}
	for _, t := range slices.Sorted(maps.Keys(c.TopicPartitions)) {
		if err := ValidTopic(t); err != nil {
			return fmt.Errorf("broker07: topic.partition.count.map: %w", err)
		}
		if c.TopicPartitions[t] < 1 {
			return fmt.Errorf("broker07: topic.partition.count.map: %s has %d partitions", t, c.TopicPartitions[t])
		}
	}
	return nil
}

// withDefaults fills in 0.7's defaults.
func (c Config) withDefaults() Config {
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	if c.NumPartitions == 0 {
		c.NumPartitions = DefaultNumPartitions
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	return c
}

// Partitions is the broker's partition count of topic (LogManager's
// topicPartitionsMap.getOrElse(topic, numPartitions)).
func (c Config) Partitions(topic string) int {
	if n, ok := c.TopicPartitions[topic]; ok {
		return n
	}
	if c.NumPartitions == 0 {
		return DefaultNumPartitions
	}
	return c.NumPartitions
}

// Produce is the Command of a produce request for Topic reaching the
// broker: if the broker has no log of the topic yet, getOrCreateLog makes
// one (LogCreated) and hands the topic to the zkActor to register.
type Produce struct {
	Topic string
}

func (p Produce) String() string { return "produce " + p.Topic }

// State is where a broker is in its life.
type State uint8

// States.
const (
	// Connecting: waiting for the ZooKeeper client's first session.
	Connecting State = iota
	// Starting: registering the broker and its topics (LogManager.startup).
	Starting
	// Running: start-up is done.
	Running
	// Failed: start-up failed; the broker shuts down and its process exits.
	// It takes no further input.
	Failed
)

func (s State) String() string {
	return [...]string{"connecting", "starting", "running", "failed"}[s]
}

// Why a registration is made.
type Why uint8

// Whys.
const (
	WhyStartup    Why = iota // LogManager.startup
	WhyNewSession            // SessionExpireListener.handleNewSession
	WhyNewTopic              // the zkActor, after a produce made the topic's first log
)

func (w Why) String() string { return [...]string{"startup", "new-session", "new-topic"}[w] }

// Registered reports that /brokers/ids/<id> is the broker's under Session.
// Found: the create met NodeExists and the node held exactly our data (our
// own create had been applied before a connection loss).
type Registered struct {
	node.Report
	Session int64
	Data    string
	Why     Why
	Found   bool
}

// TopicRegistered reports that /brokers/topics/<Topic>/<id> is the broker's
// under Session, holding Partitions.
type TopicRegistered struct {
	node.Report
	Topic      string
	Partitions int
	Session    int64
	Why        Why
	Found      bool
}

// RegistrationFailed reports a registration given up on, as 0.7 did when
// it threw: a conflict (the node exists with other data, or vanished
// between the create and the read) or another error. Under WhyNewSession
// the rest of that handleNewSession is skipped; under WhyNewTopic the topic
// stays off the list; under WhyStartup StartupFailed follows.
type RegistrationFailed struct {
	node.Report
	Path    string
	Why     Why
	Session int64
	Reason  string
}

// StartupFailed reports that start-up threw: KafkaServerStartable logs
// "Fatal error during KafkaServerStable startup. Prepare to shutdown" and
// shuts the server down, and the process exits. Whoever runs the process
// must stop it (the machine takes no further input).
type StartupFailed struct {
	node.Report
	Reason string
}

// LogCreated reports that a produce request made the broker's first log of
// Topic: a log directory on disk, which a restart finds again.
type LogCreated struct {
	node.Report
	Topic string
}

func (r Registered) String() string {
	return fmt.Sprintf("registered %s session=0x%x why=%s found=%v", r.Data, r.Session, r.Why, r.Found)
}

func (r TopicRegistered) String() string {
	return fmt.Sprintf("topic-registered %s partitions=%d session=0x%x why=%s found=%v", r.Topic, r.Partitions, r.Session, r.Why, r.Found)
}

func (r RegistrationFailed) String() string {
	return fmt.Sprintf("registration-failed %s session=0x%x why=%s: %s", r.Path, r.Session, r.Why, r.Reason)
}

func (r StartupFailed) String() string { return "startup-failed: " + r.Reason }
func (r LogCreated) String() string    { return "log-created " + r.Topic }

// timerConnect is the start-up's wait for the first session.
const timerConnect node.TimerName = "zk-connect-timeout"

// thread is one of the broker's threads that write to ZooKeeper.
type thread uint8

const (
	threadStartup thread = iota
	threadEvent
	threadActor
	threads
)

func (t thread) why() Why { return [...]Why{WhyStartup, WhyNewSession, WhyNewTopic}[t] }

// taskKind is what a task registers.
type taskKind uint8

const (
	taskBroker           taskKind = iota // /brokers/ids/<id>
	taskTopic                            // /brokers/topics/<topic>/<id>
	taskReregisterTopics                 // handleNewSession's loop over the topics registered so far
)

// task is one registration a thread will make; handler names the
// handleNewSession it belongs to (event thread only).
type task struct {
	kind    taskKind
	topic   string
	handler uint32
}

type phase uint8

const (
	phaseCreate  phase = iota // create the ephemeral
	phaseParents              // create the persistent parents, innermost last
	phaseRead                 // NodeExists: read the node to compare its data
)

// op is the registration a thread is making: createEphemeralPathExpectConflict.
type op struct {
	task           task
	path           string
	data           []byte
	phase          phase
	parents        []string // persistent parents still to create; the last is sent
	createdParents bool     // createEphemeralPath's second create: NoNode now throws
	req            node.ReqID
	inFlight       bool
	waitConnected  bool // a retryable error: resend once connected
}

// lane is a thread: its queue of tasks and the one registration it makes.
type lane struct {
	queue []task
	cur   *op
}

// maxQueuedTasks bounds a thread's queue: a task per topic, plus one
// handleNewSession (two tasks) per expiry not yet handled.
const maxQueuedTasks = 4096

// Broker is a Kafka 0.7 broker's ZooKeeper side as a node.Machine.
//
// Durable state: the log directories it is given (the topics it hosts);
// New takes them, and LogCreated says when a new one appears. Volatile:
// everything else, lost at a crash (the shell makes a new Broker).
type Broker struct {
	cfg    Config
	hosted map[string]bool // topics with a log directory

	started   bool
	state     State
	session   int64 // the client's current session; 0 before the first
	connected bool  // the client has a session now (zkclient's SyncConnected)
	handlers  uint32
	lanes     [threads]lane
	reqs      map[node.ReqID]thread
	next      node.ReqID
	topics    []string         // KafkaZooKeeper.topics: registered so far, newest first
	regs      map[string]int64 // path → the session it was last registered under
	data      string           // the broker registration's data, once made
	produces  []string         // new topics whose produce waits for start-up
	out       []node.Effect
	armed     bool // timerConnect is set
}

// New returns the machine of a new incarnation of the broker cfg
// describes, hosting the topics with a log directory on its disk.
// It panics on a bad Config (see Validate) or topic name.
func New(cfg Config, logDirs []string) *Broker {
	if err := cfg.Validate(); err != nil {
		panic(err.Error())
	}
	b := &Broker{cfg: cfg.withDefaults(), hosted: map[string]bool{}, reqs: map[node.ReqID]thread{}, regs: map[string]int64{}}
	for _, t := range logDirs {
		if err := ValidTopic(t); err != nil {
			panic("broker07: log directory: " + err.Error())
		}
		b.hosted[t] = true
	}
	return b
}

// TopicView is what a View says of one hosted topic.
type TopicView struct {
	Name       string
	Partitions int
	Registered bool // /brokers/topics/<Name>/<id> was made (or found ours) under the current session
	Listed     bool // on the list handleNewSession re-registers
}

// View is what checks and narration may read of a broker.
type View struct {
	ID         int32
	State      State
	Session    int64 // the client's current session, 0 before the first
	Registered bool  // /brokers/ids/<id> was made (or found ours) under Session
	Data       string
	Topics     []TopicView // every hosted topic, by name
}

// View returns what the broker believes.
func (b *Broker) View() View {
	v := View{ID: b.cfg.ID, State: b.state, Session: b.session, Data: b.data}
	v.Registered = b.session != 0 && b.regs[IDPath(b.cfg.ID)] == b.session
	for _, t := range slices.Sorted(maps.Keys(b.hosted)) {
		v.Topics = append(v.Topics, TopicView{
			Name: t, Partitions: b.cfg.Partitions(t), Listed: slices.Contains(b.topics, t),
			Registered: b.session != 0 && b.regs[TopicPath(t, b.cfg.ID)] == b.session,
		})
	}
	return v
}

// Step applies one input; see node.Machine.
func (b *Broker) Step(now sim.Time, in node.Input) []node.Effect {
	b.out = nil
	if _, ok := in.(node.Restarted); !ok && !b.started {
		panic(fmt.Sprintf("broker %d: %v before Restarted", b.cfg.ID, in))
	}
	if b.state == Failed {
		return nil // shutting down: the process is about to exit
	}
	switch in := in.(type) {
	case node.Restarted:
		if b.started {
			panic(fmt.Sprintf("broker %d: Restarted twice to one machine", b.cfg.ID))
		}
		b.started = true
		// new ZkClient(...) waits zk.connectiontimeout.ms for the first
		// connection, then throws ZkTimeoutException.
		b.armed = true
		b.out = append(b.out, node.SetTimer{Name: timerConnect, After: b.cfg.ConnectTimeout})
	case node.ZKSession:
		b.onSession(now, in)
	case node.ZKReply:
		b.onReply(now, in)
	case node.ZKWatch:
		panic(fmt.Sprintf("broker %d: %v, but a 0.7 broker sets no watch", b.cfg.ID, in))
	case node.TimerFired:
		if in.Name != timerConnect || !b.armed {
			panic(fmt.Sprintf("broker %d: timer %s fired, which is not set", b.cfg.ID, in.Name))
		}
		b.armed = false
		b.fail(fmt.Sprintf("Unable to connect to zookeeper server within timeout: %d", b.cfg.ConnectTimeout/sim.Millisecond))
	case node.Command:
		p, ok := in.Value.(Produce)
		if !ok {
			panic(fmt.Sprintf("broker %d: unknown command %T", b.cfg.ID, in.Value))
		}
		b.produce(now, p.Topic)
	default:
		panic(fmt.Sprintf("broker %d: unknown input %T", b.cfg.ID, in))
	}
	out := b.out
	b.out = nil
	return out
}

func (b *Broker) onSession(now sim.Time, in node.ZKSession) {
	if in.State != fakezk.StateHasSession {
		switch in.State {
		case fakezk.StateDisconnected, fakezk.StateConnecting, fakezk.StateExpired:
			b.connected = false
		}
		return // handleStateChanged does nothing: zkclient reconnects by itself
	}
	if in.Session == 0 {
		panic(fmt.Sprintf("broker %d: StateHasSession without a session id", b.cfg.ID))
	}
	b.connected = true
	switch {
	case b.session == 0:
		// The ZkClient constructor returned: LogManager.startup registers
		// the broker, then each topic on disk.
		b.session = in.Session
		b.state = Starting
		if b.armed {
			b.armed = false
			b.out = append(b.out, node.CancelTimer{Name: timerConnect})
		}
		b.enqueue(threadStartup, task{kind: taskBroker})
		for _, t := range slices.Sorted(maps.Keys(b.hosted)) {
			b.enqueue(threadStartup, task{kind: taskTopic, topic: t})
		}
	case in.Session != b.session:
		// zkclient made a new session after Expired and calls
		// handleNewSession on its event thread.
		b.session = in.Session
		if !b.cfg.Bugs.NoReRegister {
			b.handlers++
			b.enqueue(threadEvent, task{kind: taskBroker, handler: b.handlers})
			b.enqueue(threadEvent, task{kind: taskReregisterTopics, handler: b.handlers})
		}
	}
	// retryUntilConnected: what failed for want of a connection goes again.
	for th := range threads {
		if o := b.lanes[th].cur; o != nil && o.waitConnected {
			o.waitConnected = false
			b.send(th, o)
		}
	}
	for th := range threads {
		b.advance(now, th)
	}
}

// enqueue adds a task to a thread's queue.
func (b *Broker) enqueue(th thread, t task) {
	l := &b.lanes[th]
	if len(l.queue) >= maxQueuedTasks {
		panic(fmt.Sprintf("broker %d: thread %d has %d tasks queued, the limit", b.cfg.ID, th, len(l.queue)))
	}
	l.queue = append(l.queue, t)
}

// advance starts the thread's next registration if it is idle.
func (b *Broker) advance(now sim.Time, th thread) {
	l := &b.lanes[th]
	for l.cur == nil && b.state != Failed {
		if len(l.queue) == 0 {
			if th == threadStartup && b.state == Starting {
				b.startupDone(now)
			}
			return
		}
		t := l.queue[0]
		l.queue = l.queue[1:]
		o := &op{task: t}
		switch t.kind {
		case taskReregisterTopics:
			// for (topic <- topics) registerTopicInZkInternal(topic), under
			// the lock: the list as it is now.
			re := make([]task, 0, len(b.topics)+len(l.queue))
			for _, name := range b.topics {
				re = append(re, task{kind: taskTopic, topic: name, handler: t.handler})
			}
			l.queue = append(re, l.queue...)
			continue
		case taskBroker:
			host := b.cfg.Host
			creator := host + "-" + strconv.FormatInt(EpochMillis+int64(now)/int64(sim.Millisecond), 10)
			o.path = IDPath(b.cfg.ID)
			o.data = []byte(BrokerInfo{CreatorID: creator, Host: host, Port: b.cfg.Port}.String())
		case taskTopic:
			o.path = TopicPath(t.topic, b.cfg.ID)
			o.data = []byte(strconv.Itoa(b.cfg.Partitions(t.topic)))
		}
		l.cur = o
		b.send(th, o)
	}
}

// startupDone: LogManager.startup has registered everything; the latch
// opens, and the produce requests that waited on it go on.
func (b *Broker) startupDone(now sim.Time) {
	b.state = Running
	waiting := b.produces
	b.produces = nil
	for _, t := range waiting {
		b.produce(now, t)
	}
}

// send issues the op's request for its phase.
func (b *Broker) send(th thread, o *op) {
	acl := fakezk.WorldACL(fakezk.PermAll)
	var req fakezk.Request
	switch o.phase {
	case phaseCreate:
		req = &fakezk.CreateRequest{Path: o.path, Data: o.data, Flags: fakezk.FlagEphemeral, Acl: acl}
	case phaseParents:
		req = &fakezk.CreateRequest{Path: o.parents[len(o.parents)-1], Acl: acl}
	case phaseRead:
		req = &fakezk.GetDataRequest{Path: o.path}
	}
	b.next++
	o.req, o.inFlight = b.next, true
	b.reqs[o.req] = th
	b.out = append(b.out, node.ZKRequest{ID: o.req, Req: req})
}

// retryable reports whether zkclient's retryUntilConnected retries after
// err: ConnectionLoss (go-zk: the connection closed, or no server) and
// SessionExpired.
func retryable(err error) bool {
	return errors.Is(err, fakezk.ErrConnectionClosed) || errors.Is(err, fakezk.ErrConnectionLoss) ||
		errors.Is(err, fakezk.ErrNoServer) || errors.Is(err, fakezk.ErrSessionExpired)
}

func (b *Broker) onReply(now sim.Time, in node.ZKReply) {
	th, ok := b.reqs[in.Req]
	if !ok {
		panic(fmt.Sprintf("broker %d: %v answers no request it waits on", b.cfg.ID, in))
	}
	delete(b.reqs, in.Req)
	o := b.lanes[th].cur
	if o == nil || o.req != in.Req || !o.inFlight {
		panic(fmt.Sprintf("broker %d: %v is not the request thread %d waits on", b.cfg.ID, in, th))
	}
	o.inFlight = false
	err := in.Resp.Err
	if retryable(err) {
		if b.connected {
			b.send(th, o)
		} else {
			o.waitConnected = true
		}
		return
	}
	switch o.phase {
	case phaseCreate:
		switch {
		case err == nil:
			b.succeed(now, th, false)
		case errors.Is(err, fakezk.ErrNoNode) && !o.createdParents:
			o.phase, o.parents = phaseParents, []string{parent(o.path)}
			b.send(th, o)
		case errors.Is(err, fakezk.ErrNodeExists):
			o.phase = phaseRead
			b.send(th, o)
		default:
			b.failOp(now, th, err.Error(), false)
		}
	case phaseParents:
		top := o.parents[len(o.parents)-1]
		switch {
		case err == nil || errors.Is(err, fakezk.ErrNodeExists):
			o.parents = o.parents[:len(o.parents)-1]
			if len(o.parents) == 0 {
				o.phase, o.createdParents = phaseCreate, true
			}
			b.send(th, o)
		case errors.Is(err, fakezk.ErrNoNode) && parent(top) != "/":
			o.parents = append(o.parents, parent(top))
			b.send(th, o)
		default:
			b.failOp(now, th, fmt.Sprintf("creating %s: %v", top, err), false)
		}
	case phaseRead:
		switch {
		case err == nil && string(in.Resp.Data) == string(o.data):
			// "exists with value ... during connection loss; this is ok"
			b.succeed(now, th, true)
		case err == nil:
			b.failOp(now, th, fmt.Sprintf("NodeExists: it holds %q (session 0x%x), not our %q", in.Resp.Data, in.Resp.Stat.EphemeralOwner, o.data), true)
		case errors.Is(err, fakezk.ErrNoNode):
			b.failOp(now, th, "NodeExists, and the node vanished before it could be read", true)
		default:
			b.failOp(now, th, err.Error(), false)
		}
	}
}

// parent returns the parent of a path that is not the root.
func parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// succeed ends the thread's registration: the node is ours under the
// current session (a reply that succeeded came on its connection).
func (b *Broker) succeed(now sim.Time, th thread, found bool) {
	o := b.lanes[th].cur
	b.lanes[th].cur = nil
	b.regs[o.path] = b.session
	switch o.task.kind {
	case taskBroker:
		b.data = string(o.data)
		b.out = append(b.out, Registered{Session: b.session, Data: b.data, Why: th.why(), Found: found})
	case taskTopic:
		if th != threadEvent && !slices.Contains(b.topics, o.task.topic) {
			b.topics = append([]string{o.task.topic}, b.topics...) // topics ::= topic
		}
		b.out = append(b.out, TopicRegistered{Topic: o.task.topic, Partitions: b.cfg.Partitions(o.task.topic), Session: b.session, Why: th.why(), Found: found})
	}
	b.advance(now, th)
}

// failOp ends the thread's registration as 0.7 did when it threw.
// A conflict is ZkNodeExistsException, which registerBrokerInZk rethrows
// as "A broker is already registered".
func (b *Broker) failOp(now sim.Time, th thread, reason string, conflict bool) {
	o := b.lanes[th].cur
	b.lanes[th].cur = nil
	b.out = append(b.out, RegistrationFailed{Path: o.path, Why: th.why(), Session: b.session, Reason: reason})
	switch th {
	case threadStartup:
		if o.task.kind == taskBroker && conflict {
			reason = "A broker is already registered on the path " + o.path + " (" + reason + ")"
		}
		b.fail(reason)
		return
	case threadEvent:
		// The exception leaves handleNewSession: the rest of it is skipped.
		l := &b.lanes[th]
		l.queue = slices.DeleteFunc(l.queue, func(t task) bool { return t.handler == o.task.handler })
	}
	b.advance(now, th)
}

// fail ends start-up: the broker shuts down.
func (b *Broker) fail(reason string) {
	b.state = Failed
	b.lanes = [threads]lane{}
	b.produces = nil
	b.out = append(b.out, StartupFailed{Reason: reason})
}

// produce handles a produce request's getOrCreateLog for a topic.
func (b *Broker) produce(now sim.Time, topic string) {
	if err := ValidTopic(topic); err != nil {
		panic(fmt.Sprintf("broker %d: produce: %v", b.cfg.ID, err))
	}
	if b.hosted[topic] {
		return
	}
	if b.state != Running {
		// getLogPool awaits the start-up latch.
		if !slices.Contains(b.produces, topic) {
			if len(b.produces) >= maxQueuedTasks {
				panic(fmt.Sprintf("broker %d: %d produce requests wait for start-up, the limit", b.cfg.ID, len(b.produces)))
			}
			b.produces = append(b.produces, topic)
		}
		return
	}
	b.hosted[topic] = true
	b.out = append(b.out, LogCreated{Topic: topic})
	b.enqueue(threadActor, task{kind: taskTopic, topic: topic})
	b.advance(now, threadActor)
}
