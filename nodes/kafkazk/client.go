package kafkazk

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/sim"
)

// Trace kinds this package writes.
const (
	// KindRetry: requests of a batch failed with ConnectionLoss and are sent
	// again (now, or once connected).
	KindRetry = "kafka.zk.retry"
	// KindReinit: a phase of a session re-initialisation after Expired.
	KindReinit = "kafka.zk.reinit"
	// KindEphemeral: a step or the outcome of a checked ephemeral creation.
	KindEphemeral = "kafka.zk.ephemeral"
)

// Kafka 2.6's defaults for the settings this layer reads (KafkaConfig).
const (
	// DefaultSessionTimeout is zookeeper.session.timeout.ms: 18 s from 2.5
	// (KIP-537), 6 s before.
	DefaultSessionTimeout = 18 * sim.Second
	// DefaultMaxInFlight is zookeeper.max.in.flight.requests (new in 1.1).
	DefaultMaxInFlight = 10
)

// maxOutstandingRequests bounds the requests a Client holds: those handed
// to the fakezk handle (in flight or waiting for one of MaxInFlight slots)
// and, separately, those waiting for a connection to be sent again; beyond
// it a request fails with fakezk.ErrTooManyRequests. Kafka has no such
// bound: ZooKeeperClient.handleRequests blocks its caller on the in-flight
// semaphore and the Java client's queues are unbounded, and the controller
// hands over a request per partition at once (every partition state at
// failover). The bound is 5 times the 200,000 partitions the simulator is
// designed for, far above the fakezk handle's default of 4096, which a
// controller of 10,000 partitions exceeded: the creates beyond it failed.
const maxOutstandingRequests = 1 << 20

// Config configures a Client.
type Config struct {
	// Servers are the ZooKeeper servers (zookeeper.connect).
	Servers []sim.ProcID
	// SessionTimeout is zookeeper.session.timeout.ms (default
	// DefaultSessionTimeout). The 0.8 form of CreateCheckedEphemeral also
	// sleeps this long between attempts.
	SessionTimeout sim.Duration
	// MaxInFlight is zookeeper.max.in.flight.requests (default
	// DefaultMaxInFlight): requests handed to the ZooKeeper client at once.
	MaxInFlight int
	// Era selects the form of CreateCheckedEphemeral (default Era22).
	Era Era
	// SameOwner is the 0.8 form's checker: given the data of the node found
	// in place, it reports whether the node is "ours" from an earlier
	// session (0.8.2 registerBrokerInZk compares broker id, host and port;
	// the controller elector compares brokerid). Nil means byte-equality
	// only. Other eras ignore it.
	SameOwner func(stored []byte) bool
}

// StateChangeHandler is Kafka's StateChangeHandler: told before and after
// the session is re-initialised. A nil func does nothing (Kafka's default
// methods are empty).
type StateChangeHandler struct {
	// Name keys the handler; registering a name again replaces it.
	Name string
	// BeforeInitializingSession runs before the new session is started.
	BeforeInitializingSession func()
	// AfterInitializingSession runs once the new handle exists (it may
	// still be connecting: requests made now wait for the connection).
	AfterInitializingSession func()
}

// ZNodeChangeHandler is Kafka's ZNodeChangeHandler for one path: an exists
// or get of the path arms the watch whose events reach it.
type ZNodeChangeHandler struct {
	// Path keys the handler; registering a path again replaces it.
	Path string
	// HandleCreation, HandleDeletion and HandleDataChange are called on the
	// watch's event; nil ones do nothing.
	HandleCreation   func()
	HandleDeletion   func()
	HandleDataChange func()
}

// ZNodeChildChangeHandler is Kafka's ZNodeChildChangeHandler for one path:
// a children read of the path arms the child watch whose events reach it.
type ZNodeChildChangeHandler struct {
	// Path keys the handler; registering a path again replaces it.
	Path string
	// HandleChildChange is called on the child watch's event; nil does nothing.
	HandleChildChange func()
}

// Client is Kafka's ZooKeeper access for one incarnation of a process: a
// fakezk.Client in JavaClient mode, replaced by a new one at each session
// expiry, with Kafka's retries, in-flight bound, handler maps and checked
// ephemeral creation. Its callbacks run as events of the process.
type Client struct {
	w    *sim.World
	self sim.ProcID
	cfg  Config
	zk   *fakezk.Client // the current handle

	stateHandlers map[string]StateChangeHandler
	znodeHandlers map[string]ZNodeChangeHandler
	childHandlers map[string]ZNodeChildChangeHandler

	waiting    []*batch // batches whose ConnectionLoss requests wait for a connection
	waitingReq int      // requests in waiting
	closed     bool
	reinits    int // re-initialisations started

	// lastRegistered is the session of the last successful checked
	// ephemeral creation, -1 before one (KafkaZkClient's
	// currentZooKeeperSessionId, 2.2+).
	lastRegistered int64
}

// New starts a Client for process self; it connects in the background, as
// new ZooKeeper(...) does. It must be called from an event of self.
func New(w *sim.World, self sim.ProcID, cfg Config) *Client {
	if len(cfg.Servers) == 0 {
		panic("kafkazk: Config.Servers is empty")
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.SessionTimeout < 0 || cfg.MaxInFlight < 0 {
		panic(fmt.Sprintf("kafkazk: negative SessionTimeout %v or MaxInFlight %d", cfg.SessionTimeout, cfg.MaxInFlight))
	}
	c := &Client{
		w: w, self: self, cfg: cfg,
		stateHandlers:  map[string]StateChangeHandler{},
		znodeHandlers:  map[string]ZNodeChangeHandler{},
		childHandlers:  map[string]ZNodeChildChangeHandler{},
		lastRegistered: -1,
	}
	c.zk = c.connect()
	return c
}

// connect makes a new Java-mode handle whose events reach c while it is
// the current one.
func (c *Client) connect() *fakezk.Client {
	var h *fakezk.Client
	h = fakezk.Connect(c.w, c.self, c.cfg.Servers, fakezk.ClientConfig{
		SessionTimeout: c.cfg.SessionTimeout,
		Mode:           fakezk.JavaClient,
		MaxInFlight:    c.cfg.MaxInFlight,
		MaxOutstanding: maxOutstandingRequests,
		EventCallback:  func(ev fakezk.Event) { c.event(h, ev) },
	})
	return h
}

// SessionID returns the current handle's session id (0 while it has none).
func (c *Client) SessionID() int64 { return c.zk.SessionID() }

// State returns the current handle's connection state.
func (c *Client) State() fakezk.State { return c.zk.State() }

// Reinitializations returns how many session re-initialisations have started.
func (c *Client) Reinitializations() int { return c.reinits }

// Close ends the session and the client, as ZooKeeperClient.close does: the
// handler maps are cleared, and requests waiting for a connection fail with
// fakezk.ErrSessionExpired (waitUntilConnected throws once the handle is
// closed).
func (c *Client) Close() {
	if c.closed {
		return
	}
	c.closed = true
	clear(c.stateHandlers)
	clear(c.znodeHandlers)
	clear(c.childHandlers)
	c.zk.Close()
	c.failWaiting(fakezk.ErrSessionExpired)
}

// RegisterStateChangeHandler adds h, or replaces the handler of its name.
func (c *Client) RegisterStateChangeHandler(h StateChangeHandler) {
	c.stateHandlers[h.Name] = h
}

// UnregisterStateChangeHandler removes the handler named name, if any.
func (c *Client) UnregisterStateChangeHandler(name string) { delete(c.stateHandlers, name) }

// RegisterZNodeChangeHandler adds h, or replaces the handler of its path.
// Like Kafka's, this is local only: no watch is set until the next exists or
// get of the path.
func (c *Client) RegisterZNodeChangeHandler(h ZNodeChangeHandler) { c.znodeHandlers[h.Path] = h }

// UnregisterZNodeChangeHandler removes the handler of path; a watch already
// armed still fires, and reaches nobody.
func (c *Client) UnregisterZNodeChangeHandler(path string) { delete(c.znodeHandlers, path) }

// RegisterZNodeChildChangeHandler adds h, or replaces the handler of its
// path; no watch is set until the next children read of the path.
func (c *Client) RegisterZNodeChildChangeHandler(h ZNodeChildChangeHandler) {
	c.childHandlers[h.Path] = h
}

// UnregisterZNodeChildChangeHandler removes the child handler of path.
func (c *Client) UnregisterZNodeChildChangeHandler(path string) { delete(c.childHandlers, path) }

// RegisterZNodeChangeHandlerAndCheckExistence registers h and sends an
// exists of its path, which arms the watch, as KafkaZkClient's method of
// that name does; cb gets whether the node exists (err is the exists's
// error other than NoNode).
func (c *Client) RegisterZNodeChangeHandlerAndCheckExistence(h ZNodeChangeHandler, cb func(exists bool, err error)) {
	c.RegisterZNodeChangeHandler(h)
	c.Handle([]fakezk.Request{&fakezk.ExistsRequest{Path: h.Path}}, func(rs []fakezk.Response) {
		r := rs[0]
		if r.Err != nil && !errors.Is(r.Err, fakezk.ErrNoNode) {
			cb(false, r.Err)
			return
		}
		cb(r.Exists, nil)
	})
}

// batch is one Handle call: its requests, the responses so far, and the
// indices still to be answered.
type batch struct {
	reqs    []fakezk.Request
	resps   []fakezk.Response
	pending []int
	round   int
	cb      func([]fakezk.Response)
}

// Handle sends reqs pipelined (ZooKeeperClient.handleRequests: at most
// MaxInFlight outstanding, later ones wait for a slot) and calls cb once
// with every response, in request order. A response with ConnectionLoss is
// not returned: its request is sent again once the client is connected,
// without limit (KafkaZkClient.retryRequestsUntilConnected); the first
// attempt may have been applied. Once the session has expired, a request
// still waiting for a connection is answered with fakezk.ErrSessionExpired
// (waitUntilConnected throws ZooKeeperClientExpiredException).
//
// Reads must not carry a Watch callback: a GetData or Exists arms a watch
// exactly when a ZNodeChangeHandler of its path is registered, a
// GetChildren when a ZNodeChildChangeHandler is (ZooKeeperClient.shouldWatch).
//
// Simplified: Kafka's retry loop appends the retried requests' responses
// after the others (its callers match them by path); Handle keeps request
// order. Kafka's registerWatch=false children reads are not modelled.
func (c *Client) Handle(reqs []fakezk.Request, cb func([]fakezk.Response)) {
	for i, r := range reqs {
		switch q := r.(type) {
		case *fakezk.GetDataRequest:
			if q.Watch != nil {
				panic(fmt.Sprintf("kafkazk: request %d (get %s) carries a watch: register a handler instead", i, q.Path))
			}
		case *fakezk.ExistsRequest:
			if q.Watch != nil {
				panic(fmt.Sprintf("kafkazk: request %d (exists %s) carries a watch: register a handler instead", i, q.Path))
			}
		case *fakezk.GetChildrenRequest:
			if q.Watch != nil {
				panic(fmt.Sprintf("kafkazk: request %d (children %s) carries a watch: register a handler instead", i, q.Path))
			}
		case nil:
			panic(fmt.Sprintf("kafkazk: request %d is nil", i))
		}
	}
	b := &batch{reqs: reqs, resps: make([]fakezk.Response, len(reqs)), cb: cb}
	b.pending = make([]int, len(reqs))
	for i := range b.pending {
		b.pending[i] = i
	}
	c.send(b)
}

// noWatch is the watch callback of an armed read: the events themselves
// reach the handlers through the handle's EventCallback, which, like the
// Java client's default watcher, hears each fired watch once however many
// reads armed it.
func noWatch(fakezk.Event) {}

// send sends the pending requests of b on the current handle, each read
// watched if a handler of its path is registered now.
func (c *Client) send(b *batch) {
	b.round++
	wire := make([]fakezk.Request, len(b.pending))
	for i, idx := range b.pending {
		wire[i] = c.withWatch(b.reqs[idx])
	}
	h := c.zk
	h.Pipeline(wire, func(rs []fakezk.Response) {
		var retry []int
		for i, r := range rs {
			idx := b.pending[i]
			if errors.Is(r.Err, fakezk.ErrConnectionLoss) {
				retry = append(retry, idx)
				continue
			}
			b.resps[idx] = r
		}
		if len(retry) == 0 {
			b.pending = nil
			b.cb(b.resps)
			return
		}
		b.pending = retry
		// Kafka's calling thread wakes once the Java client's event thread
		// has run the callbacks, after ClientCnxn's cleanup is over.
		c.w.After(c.self, 0, "kafka-zk-retry", func() { c.retry(b, h) })
	})
}

// retry sends b's ConnectionLoss requests again: now if the client says it
// is connected (the Java client's getState() still says so between the
// cleanup and the next connection attempt, and requests made then wait in
// its queue), else once it is (waitUntilConnected).
func (c *Client) retry(b *batch, h *fakezk.Client) {
	connected := c.zk.State() == fakezk.StateSyncConnected && !c.closed
	if c.w.Tracing() {
		c.w.Emit(KindRetry, c.self, "connection-loss", sim.Int("requests", len(b.pending)), sim.Int("round", b.round),
			sim.Bool("now", connected), sim.Hex("session", h.SessionID()))
	}
	switch {
	case connected:
		c.send(b)
	case c.closed || c.zk.State() == fakezk.StateExpired:
		// The handle is finished and its replacement not made yet:
		// waitUntilConnected would throw.
		c.answerExpired(b, fakezk.ErrSessionExpired)
	case c.waitingReq+len(b.pending) > maxOutstandingRequests:
		c.answerExpired(b, fakezk.ErrTooManyRequests)
	default:
		c.waiting = append(c.waiting, b)
		c.waitingReq += len(b.pending)
	}
}

// answerExpired answers b's pending requests with err and calls its callback.
func (c *Client) answerExpired(b *batch, err error) {
	for _, idx := range b.pending {
		b.resps[idx] = fakezk.Response{Err: err}
	}
	b.pending = nil
	b.cb(b.resps)
}

// failWaiting answers every batch waiting for a connection with err.
func (c *Client) failWaiting(err error) {
	waiting := c.waiting
	c.waiting, c.waitingReq = nil, 0
	for _, b := range waiting {
		c.answerExpired(b, err)
	}
}

// withWatch returns r as it goes on the wire: a read gets a watch when a
// handler of its path is registered (a copy; the caller's request is not
// changed).
func (c *Client) withWatch(r fakezk.Request) fakezk.Request {
	switch q := r.(type) {
	case *fakezk.GetDataRequest:
		if _, ok := c.znodeHandlers[q.Path]; ok {
			cp := *q
			cp.Watch = noWatch
			return &cp
		}
	case *fakezk.ExistsRequest:
		if _, ok := c.znodeHandlers[q.Path]; ok {
			cp := *q
			cp.Watch = noWatch
			return &cp
		}
	case *fakezk.GetChildrenRequest:
		if _, ok := c.childHandlers[q.Path]; ok {
			cp := *q
			cp.Watch = noWatch
			return &cp
		}
	}
	return r
}

// event handles an event of handle h (ZooKeeperClientWatcher.process):
// watch events go to the handler of their path, SyncConnected releases the
// requests waiting for a connection, Expired schedules the
// re-initialisation. Disconnected is ignored, as Kafka ignores it.
func (c *Client) event(h *fakezk.Client, ev fakezk.Event) {
	if h != c.zk || c.closed {
		return // a replaced handle's last words (its Closed, say)
	}
	if ev.Type != fakezk.EventSession {
		c.dispatch(ev)
		return
	}
	switch ev.State {
	case fakezk.StateSyncConnected:
		waiting := c.waiting
		c.waiting, c.waitingReq = nil, 0
		for _, b := range waiting {
			c.send(b)
		}
	case fakezk.StateExpired:
		c.reinits++
		if c.w.Tracing() {
			c.w.Emit(KindReinit, c.self, "expired", sim.Int("reinit", c.reinits), sim.Int("waiting", c.waitingReq))
		}
		// waitUntilConnected wakes on Expired and throws: what waited fails.
		c.failWaiting(fakezk.ErrSessionExpired)
		// ZooKeeperClient.scheduleSessionExpiryHandler: reinitialize runs
		// on the expiry scheduler's thread, after this event.
		c.w.After(c.self, 0, "kafka-zk-reinit", c.reinitialize)
	}
}

// dispatch hands a watch event to the handler of its path, if one is
// registered now.
func (c *Client) dispatch(ev fakezk.Event) {
	var fn func()
	switch ev.Type {
	case fakezk.EventNodeChildrenChanged:
		fn = c.childHandlers[ev.Path].HandleChildChange
	case fakezk.EventNodeCreated:
		fn = c.znodeHandlers[ev.Path].HandleCreation
	case fakezk.EventNodeDeleted:
		fn = c.znodeHandlers[ev.Path].HandleDeletion
	case fakezk.EventNodeDataChanged:
		fn = c.znodeHandlers[ev.Path].HandleDataChange
	}
	if fn != nil {
		fn()
	}
}

// reinitialize is ZooKeeperClient.reinitialize after an Expired: every
// state-change handler's BeforeInitializingSession (in name order: Kafka
// iterates a ConcurrentHashMap), a new handle, and every handler's
// AfterInitializingSession. The old handle is closed; its session is gone.
//
// Simplified: Kafka retries new ZooKeeper(...) every second when it throws
// (an unresolvable host); fakezk.Connect cannot fail. AuthFailed (2.8+) is
// not modelled, so the handle is never alive here and the "keep the live
// session" branch of reinitialize never applies.
func (c *Client) reinitialize() {
	if c.closed {
		return
	}
	old := c.zk.SessionID()
	names := slices.Sorted(maps.Keys(c.stateHandlers))
	if c.w.Tracing() {
		c.w.Emit(KindReinit, c.self, "before", sim.Int("handlers", len(names)), sim.Hex("old_session", old))
	}
	for _, n := range names {
		if h, ok := c.stateHandlers[n]; ok && h.BeforeInitializingSession != nil {
			h.BeforeInitializingSession()
		}
	}
	if c.closed {
		return // a handler closed the client
	}
	c.zk.Close()
	c.zk = c.connect()
	if c.w.Tracing() {
		c.w.Emit(KindReinit, c.self, "new-handle", sim.Hex("old_session", old))
	}
	// The handlers that are registered now (a Before may have changed them).
	names = slices.Sorted(maps.Keys(c.stateHandlers))
	for _, n := range names {
		if h, ok := c.stateHandlers[n]; ok && h.AfterInitializingSession != nil {
			h.AfterInitializingSession()
		}
	}
	if c.w.Tracing() {
		c.w.Emit(KindReinit, c.self, "after", sim.Int("handlers", len(names)))
	}
}
