package fakezk

import (
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// State is a client's connection state, with go-zk's values; StateClosed is
// the Java client's KeeperState.Closed and StateDead is fakezk's own.
type State int32

// Client states.
const (
	StateUnknown       State = -1
	StateDisconnected  State = 0
	StateConnecting    State = 1
	StateSyncConnected State = 3
	StateClosed        State = 7 // Java KeeperState.Closed: the handle was closed
	StateExpired       State = -112
	StateConnected     State = 100
	StateHasSession    State = 101
	// StateDead: the client's process crashed; the client is gone with the
	// incarnation that made it (no ZooKeeper client has this state).
	StateDead State = -200
)

// String returns the state's go-zk name (StateClosed and StateDead are fakezk's).
func (s State) String() string {
	switch s {
	case StateUnknown:
		return "StateUnknown"
	case StateDisconnected:
		return "StateDisconnected"
	case StateConnecting:
		return "StateConnecting"
	case StateSyncConnected:
		return "StateSyncConnected"
	case StateClosed:
		return "StateClosed"
	case StateExpired:
		return "StateExpired"
	case StateConnected:
		return "StateConnected"
	case StateHasSession:
		return "StateHasSession"
	case StateDead:
		return "StateDead"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// Event is a session event (Type EventSession) or a watch event, as go-zk
// reports them.
type Event struct {
	Type  EventType
	State State
	Path  string
	Err   error
}

func (e Event) String() string {
	s := fmt.Sprintf("%s %s", e.Type, e.State)
	if e.Path != "" {
		s += " " + e.Path
	}
	if e.Err != nil {
		s += " (" + e.Err.Error() + ")"
	}
	return s
}

// Client-side errors, with go-zk's messages. In JavaClient mode a broken
// connection gives ErrConnectionLoss instead, as the Java client does.
var (
	// ErrConnectionClosed: the connection broke with the request outstanding
	// (it may or may not have been applied), or the client was closed.
	ErrConnectionClosed = errors.New("zk: connection closed")
	// ErrClosing: the request was pending when Close was called.
	ErrClosing = errors.New("zk: zookeeper is closing")
	// ErrNoServer: the request was queued while disconnected and flushed when
	// the client started a new round of connection attempts.
	ErrNoServer = errors.New("zk: could not connect to a server")
	// ErrTooManyRequests: the client's bounded request queue is full.
	ErrTooManyRequests = errors.New("fakezk: too many outstanding requests")
)

// ClientMode says which real client library a Client behaves as.
type ClientMode uint8

// Client modes.
const (
	// GoZK behaves as go-zookeeper/zk v1.0.4: requests made while
	// disconnected fail with ErrNoServer when a new round of connection
	// attempts starts, and an expired session is replaced by a new one.
	GoZK ClientMode = iota
	// JavaClient behaves as ZooKeeper 3.8's Java client (ClientCnxn), which
	// Kafka's brokers use: requests made while disconnected wait for the
	// next connection, redials come after ClientCnxn's randomised back-off,
	// session events are SyncConnected, Disconnected, Expired and Closed,
	// and Expired is final (the application must make a new Client).
	JavaClient
)

// String returns the mode's name.
func (m ClientMode) String() string {
	switch m {
	case GoZK:
		return "GoZK"
	case JavaClient:
		return "JavaClient"
	}
	return fmt.Sprintf("ClientMode(%d)", uint8(m))
}

// ClientConfig configures a Client.
type ClientConfig struct {
	// SessionTimeout is the timeout the client asks for; the server clamps it.
	SessionTimeout sim.Duration
	// Mode is the client library to behave as (default GoZK).
	Mode ClientMode
	// ReconnectDelay is go-zk's pause before redialling once every server
	// has been tried (go-zk sleeps 1s; default 1s). JavaClient mode ignores
	// it and follows ClientCnxn's own delays.
	ReconnectDelay sim.Duration
	// EventCallback sees every session and watch event (go-zk
	// WithEventCallback; the Java client's default watcher).
	EventCallback func(Event)
	// MaxOutstanding bounds the requests the client holds: waiting for an
	// in-flight slot, queued and in flight (default 4096). Beyond it a call
	// fails with ErrTooManyRequests.
	MaxOutstanding int
	// MaxInFlight, if positive, bounds the requests handed to the ZooKeeper
	// client library at once; later ones wait, in order, until one
	// completes, as Kafka's ZooKeeperClient does with its
	// zookeeper.max.in.flight.requests semaphore (Kafka's default is 10).
	MaxInFlight int
}

type watchKind uint8

const (
	watchData watchKind = iota
	watchExist
	watchChild
)

type watchKey struct {
	path string
	kind watchKind
}

// call is one request of the client, from the call that made it to its
// callback; it may wait for a MaxInFlight slot, then for a session, and is
// then sent as an rpc request on the current connection.
type call struct {
	c       *Client
	req     request         // the request, unless connect is set
	connect *connectRequest // the handshake
	done    func(*reply, error)
	// internal: a request the client makes itself (handshake, ping, auth,
	// setWatches, closeSession): it does not count against MaxOutstanding.
	internal bool
	bounded  bool        // holds a MaxInFlight slot
	detached bool        // req shares nothing with the caller
	rc       *rpc.Client // the connection it was sent on
}

// hostProvider picks servers as go-zk's DNSHostProvider and the Java
// client's StaticHostProvider do: the list is shuffled once, then tried
// round-robin; next reports when a whole round has gone by since the last
// successful connection (both clients then sleep before dialling).
type hostProvider struct {
	servers    []sim.ProcID
	curr, last int
}

func newHostProvider(servers []sim.ProcID, r *sim.Rand) hostProvider {
	s := slices.Clone(servers)
	if len(s) > 1 {
		r.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	}
	return hostProvider{servers: s, curr: -1, last: -1}
}

// next returns the next server and whether the round is complete (never on
// the very first call).
func (h *hostProvider) next() (sim.ProcID, bool) {
	h.curr = (h.curr + 1) % len(h.servers)
	spin := h.curr == h.last
	if h.last == -1 {
		h.last = 0
	}
	return h.servers[h.curr], spin
}

func (h *hostProvider) connected() { h.last = h.curr }

// Client is a ZooKeeper client library for a simulated process, with
// go-zk's method names but asynchronous: every call takes a callback that
// runs later, as an event of the owning process, never inside the call.
// Requests are pipelined: they go out at once and their replies come back
// in order. A Client belongs to the incarnation of its process that made it:
// after a crash it is dead (StateDead) and using it panics.
type Client struct {
	w    *sim.World
	self sim.ProcID
	inc  uint32 // the incarnation of self that owns the client
	cfg  ClientConfig

	hosts  hostProvider
	server sim.ProcID // the server of the current or last connection

	state       State
	rc          *rpc.Client // the current connection; nil between connections
	established bool        // rc has a session (handshake done)
	sessionID   int64
	passwd      [16]byte
	timeout     sim.Duration // negotiated
	lastZxid    int64
	closed      bool // Close was called
	final       bool // JavaClient: expired or closed for good

	// sent holds the calls sent on rc (or on the connection just lost, until
	// they are failed), in order: ZooKeeper answers a connection's requests
	// in order, and the client checks that it does.
	sent        []*call
	queued      []*call // waiting for a session
	held        []*call // waiting for a MaxInFlight slot
	inFlight    int     // calls holding a MaxInFlight slot
	outstanding int     // calls of the application not completed yet
	watchers    map[watchKey][]func(Event)
	auth        [][]byte // digest credentials, re-sent on reconnect

	lastSend             sim.Time
	recvTimer, pingTimer sim.TimerID

	// Callbacks produced inside a call wait here for a kernel event.
	inCall     int
	pending    []func()
	flushArmed bool

	// JavaClient mode.
	javaState    State // the last session state delivered (the event thread's sessionState)
	firstConnect bool  // no connection has been made yet (ClientCnxn.isFirstConnect)
	attempt      sim.TimerID
	rand         *sim.Rand
}

// Connect starts a client for process self talking to one of servers (only
// one today; the client picks them as go-zk and the Java client do). It
// returns at once and connects in the background, like go-zk's Connect.
func Connect(w *sim.World, self sim.ProcID, servers []sim.ProcID, cfg ClientConfig) *Client {
	if cfg.SessionTimeout <= 0 {
		panic("fakezk: Connect needs a SessionTimeout")
	}
	if len(servers) == 0 {
		panic("fakezk: Connect needs at least one server")
	}
	if cfg.Mode != GoZK && cfg.Mode != JavaClient {
		panic(fmt.Sprintf("fakezk: Connect: unknown %v", cfg.Mode))
	}
	if cfg.ReconnectDelay <= 0 {
		cfg.ReconnectDelay = sim.Second
	}
	if cfg.MaxOutstanding <= 0 {
		cfg.MaxOutstanding = 4096
	}
	stream := "fakezk.client/" + w.Name(self)
	c := &Client{
		w: w, self: self, inc: w.Incarnation(self), cfg: cfg,
		hosts:     newHostProvider(servers, w.Rand(stream+"/hosts")),
		watchers:  map[watchKey][]func(Event){},
		javaState: StateDisconnected, firstConnect: true,
	}
	c.enter()
	defer c.exit()
	c.server, _ = c.hosts.next()
	if cfg.Mode == JavaClient {
		c.rand = w.Rand(stream + "/backoff")
		c.setQuietState(StateConnecting)
	} else {
		c.setState(StateConnecting)
	}
	c.dial()
	return c
}

// dead reports whether the client's process has crashed since it made the
// client (Crash bumps the incarnation at once).
func (c *Client) dead() bool { return c.w.Incarnation(c.self) != c.inc }

// enter starts a public call: it panics on a dead client, and defers every
// callback the call produces to a kernel event until exit.
func (c *Client) enter() {
	if c.dead() {
		panic(fmt.Sprintf("fakezk: client of %s (incarnation %d) used after its process crashed (now incarnation %d): make a new client",
			c.w.Name(c.self), c.inc, c.w.Incarnation(c.self)))
	}
	c.inCall++
}

func (c *Client) exit() { c.inCall-- }

// run delivers a callback: at once from the client's own kernel events,
// but as a kernel event of the client's process (now) when produced inside
// a call, so that no callback runs re-entrantly. Callbacks keep their order.
func (c *Client) run(fn func()) {
	if c.inCall == 0 && len(c.pending) == 0 {
		fn()
		return
	}
	c.pending = append(c.pending, fn)
	if !c.flushArmed {
		c.flushArmed = true
		c.w.After(c.self, 0, "zk-callback", c.flush)
	}
}

func (c *Client) flush() {
	for len(c.pending) > 0 {
		fn := c.pending[0]
		c.pending[0] = nil
		c.pending = c.pending[1:]
		if c.inCall > 0 {
			panic("fakezk: callback flush inside a call")
		}
		fn()
	}
	c.flushArmed = false
}

// State returns the connection state (StateDead once the process crashed).
func (c *Client) State() State {
	if c.dead() {
		return StateDead
	}
	return c.state
}

// SessionID returns the current session id (0 without a session, or once
// the process crashed).
func (c *Client) SessionID() int64 {
	if c.dead() {
		return 0
	}
	return c.sessionID
}

// Timeout returns the negotiated session timeout (0 before the first session).
func (c *Client) Timeout() sim.Duration { return c.timeout }

// Mode returns the client library the client behaves as.
func (c *Client) Mode() ClientMode { return c.cfg.Mode }

func (c *Client) setQuietState(s State) {
	c.state = s
	if c.w.Tracing() {
		c.w.Emit(KindClient, c.self, s.String(), sim.Hex("session", c.sessionID))
	}
}

// setState changes the state and reports it to the event callback (go-zk).
func (c *Client) setState(s State) {
	c.setQuietState(s)
	c.event(Event{Type: EventSession, State: s})
}

func (c *Client) event(ev Event) {
	if cb := c.cfg.EventCallback; cb != nil {
		c.run(func() { cb(ev) })
	}
}

func (c *Client) recvTimeout() sim.Duration {
	t := c.timeout
	if t == 0 {
		t = c.cfg.SessionTimeout
	}
	return t * 2 / 3
}

// rpcInFlight bounds the requests on one connection far above what the
// client holds (MaxOutstanding and its own few), so that rpc never queues
// or refuses one: the client's bounds are its own.
const rpcInFlight = 1 << 30

func (c *Client) dial() {
	var rc *rpc.Client
	rc = rpc.Dial(c.w, c.self, c.server, rpc.ClientConfig{
		Timeout:     rpc.NoTimeout, // ZooKeeper's requests wait; the read timeout bounds the connection
		MaxInFlight: rpcInFlight,
		OnNotify: func(p rpc.Payload) {
			if rc == c.rc && !c.dead() {
				ev := p.(*watchEvent)
				c.deliver(ev.event, ev.path)
				c.received()
			}
		},
		OnClose: func(error) {
			if rc == c.rc && !c.dead() {
				c.lost()
			}
		},
	})
	c.rc = rc
	c.established = false
	c.lastSend = c.w.Now()
	c.sendNow(&call{internal: true, connect: &connectRequest{
		lastZxidSeen: c.lastZxid,
		timeout:      int32(c.cfg.SessionTimeout / sim.Millisecond),
		sessionID:    c.sessionID,
		passwd:       c.passwd,
	}})
	if c.cfg.Mode == JavaClient {
		c.javaTick()
		return
	}
	// go-zk waits 10 receive timeouts for the handshake.
	c.armRecv(10 * c.recvTimeout())
}

func (c *Client) armRecv(after sim.Duration) {
	c.w.Cancel(c.recvTimer)
	c.recvTimer = c.w.After(c.self, after, "zk-recv-timeout", c.recvDeadline)
}

// recvDeadline drops a connection that has been silent for the receive
// timeout (2/3 of the session timeout, as go-zk).
func (c *Client) recvDeadline() {
	if c.rc == nil {
		return
	}
	limit := c.recvTimeout()
	if c.state != StateHasSession {
		limit *= 10
	}
	if idle := c.w.Now().Sub(c.rc.LastReceived()); idle < limit {
		c.armRecv(limit - idle)
		return
	}
	c.hangUp()
	c.lost()
}

// hangUp closes the current connection from this end. Its calls stay in
// sent for the caller to fail; what rpc reports about them later is stale.
func (c *Client) hangUp() {
	c.rc.Close()
	c.rc = nil
}

// internalCall sends a request the client makes itself; its answer is not
// looked at (a failed auth: the server closes the connection next).
func (c *Client) internalCall(req request) {
	c.sendNow(&call{internal: true, req: req})
}

func (c *Client) ping() {
	if c.state != StateHasSession || c.rc == nil {
		return
	}
	c.internalCall(request{op: opPing})
	c.pingTimer = c.w.After(c.self, c.timeout/3, "zk-ping", c.ping)
}

// lost handles the end of a connection: Disconnected, the in-flight requests
// fail with ErrConnectionClosed (they may or may not have been applied), and
// a new round of connection attempts starts.
func (c *Client) lost() {
	c.rc = nil
	c.established = false
	c.w.Cancel(c.recvTimer)
	c.w.Cancel(c.pingTimer)
	if c.cfg.Mode == JavaClient {
		c.javaLost()
		return
	}
	if c.closed {
		return
	}
	c.setState(StateDisconnected)
	c.fail(&c.sent, ErrConnectionClosed)
	c.reconnect()
}

// reconnect starts a connection attempt with the next server: go-zk, once
// it has tried every server (with one server: always), first fails the
// requests queued while disconnected with ErrNoServer, then sleeps.
func (c *Client) reconnect() {
	server, spin := c.hosts.next()
	c.setState(StateConnecting)
	redial := func() {
		if !c.closed && c.rc == nil {
			c.server = server
			c.dial()
		}
	}
	if !spin {
		redial()
		return
	}
	c.fail(&c.queued, ErrNoServer)
	c.w.After(c.self, c.cfg.ReconnectDelay, "zk-reconnect", redial)
}

// fail completes every call of the list with err, in order.
func (c *Client) fail(calls *[]*call, err error) {
	list := *calls
	*calls = nil
	for _, cl := range list {
		c.complete(cl, nil, err)
	}
}

// complete ends a call: its MaxInFlight slot goes to the next waiting call,
// and its callback runs.
func (c *Client) complete(cl *call, rep *reply, err error) {
	if cl.done == nil {
		return // an internal call nobody waits for
	}
	if !cl.internal {
		c.outstanding--
	}
	if cl.bounded {
		cl.bounded = false
		c.inFlight--
		if len(c.held) > 0 {
			next := c.held[0]
			c.held[0] = nil
			c.held = c.held[1:]
			next.bounded = true
			c.inFlight++
			c.dispatch(next)
		}
	}
	if c.inCall == 0 && len(c.pending) == 0 {
		cl.done(rep, err) // the common case, without a closure
		return
	}
	c.run(func() { cl.done(rep, err) })
}

// answered is rpc's callback for a call sent on rc.
func (c *Client) answered(cl *call, rc *rpc.Client, p rpc.Payload, err error) {
	if rc != c.rc || c.dead() {
		// A connection the client has given up: it failed the call then.
		return
	}
	if err != nil {
		// rpc fails every pending request of a broken connection, in order,
		// before its OnClose: the first failure is the news of the break,
		// and lost fails them all as the client library does (go-zk:
		// Disconnected, then ErrConnectionClosed; Java: ConnectionLoss after
		// ClientCnxn's cleanup). No other rpc error can reach a connection
		// in use: rpc.ErrClosed comes only for one the client has closed and
		// forgotten, whose calls it failed itself (ErrClosing on Close), and
		// rpc.ErrTooManyRequests never, as MaxOutstanding is checked first
		// and rpcInFlight is far above it.
		if !errors.Is(err, rpc.ErrConnection) {
			panic(fmt.Sprintf("fakezk: %v on the client's own connection", err))
		}
		c.lost()
		return
	}
	if len(c.sent) == 0 || c.sent[0] != cl {
		panic(fmt.Sprintf("fakezk: answer to %s out of order: ZooKeeper answers a connection's requests in order", p.Kind()))
	}
	c.sent[0] = nil
	c.sent = c.sent[1:]
	switch m := p.(type) {
	case *connectResponse:
		if c.cfg.Mode == JavaClient {
			c.javaHandshake(m)
		} else {
			c.handshake(m)
		}
	case *reply:
		if m.zxid > c.lastZxid {
			c.lastZxid = m.zxid
		}
		c.complete(cl, m, nil)
	default:
		panic(fmt.Sprintf("fakezk: client got %T", p))
	}
	c.received()
}

// received runs after every packet from the server.
func (c *Client) received() {
	if c.cfg.Mode == JavaClient {
		c.javaTick()
	}
}

// adopt takes the session the server granted in its connect reply, in both
// client modes.
func (c *Client) adopt(m *connectResponse) {
	c.sessionID, c.passwd = m.sessionID, m.passwd
	c.timeout = sim.Duration(m.timeout) * sim.Millisecond
	c.hosts.connected()
	c.established = true
}

func (c *Client) handshake(m *connectResponse) {
	if m.timeout <= 0 {
		// The session is gone: Connected, Expired, every watch told it is no
		// longer watching, Disconnected; then a brand-new session (docs/ZOOKEEPER.md §17).
		c.setState(StateConnected)
		c.setState(StateExpired)
		c.invalidateWatches(ErrSessionExpired)
		c.fail(&c.sent, ErrSessionExpired)
		c.fail(&c.queued, ErrSessionExpired)
		c.sessionID, c.passwd, c.lastZxid = 0, [16]byte{}, 0
		if c.rc != nil {
			c.hangUp()
		}
		c.w.Cancel(c.recvTimer)
		c.setState(StateDisconnected)
		if !c.closed {
			c.reconnect()
		}
		return
	}
	c.adopt(m)
	c.setState(StateConnected)
	c.setState(StateHasSession)
	c.resume()
	c.armRecv(c.recvTimeout())
	c.w.Cancel(c.pingTimer)
	c.pingTimer = c.w.After(c.self, c.timeout/3, "zk-ping", c.ping)
}

// resume, on a new connection with a session: the credentials, the watches
// (setWatches with the last zxid seen), then the requests that waited.
func (c *Client) resume() {
	for _, a := range c.auth {
		c.internalCall(request{op: opSetAuth, session: &sessionArgs{authScheme: "digest", authData: a}})
	}
	if len(c.watchers) > 0 {
		args := &sessionArgs{relZxid: c.lastZxid}
		req := request{op: opSetWatches, session: args}
		for _, k := range c.watchKeys() {
			switch k.kind {
			case watchData:
				args.dataW = append(args.dataW, k.path)
			case watchExist:
				args.existW = append(args.existW, k.path)
			case watchChild:
				args.childW = append(args.childW, k.path)
			}
		}
		c.internalCall(req)
	}
	queued := c.queued
	c.queued = nil
	for _, cl := range queued {
		c.sendNow(cl)
	}
}

// watchKeys returns the registered watches in a fixed order.
func (c *Client) watchKeys() []watchKey {
	keys := make([]watchKey, 0, len(c.watchers))
	for k := range c.watchers {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b watchKey) int {
		if a.path != b.path {
			if a.path < b.path {
				return -1
			}
			return 1
		}
		return int(a.kind) - int(b.kind)
	})
	return keys
}

// invalidateWatches ends every watch with EventNotWatching carrying err
// (ErrSessionExpired on expiry, ErrClosing on Close), as go-zk does.
func (c *Client) invalidateWatches(err error) {
	for _, k := range c.watchKeys() {
		fns := c.watchers[k]
		delete(c.watchers, k)
		ev := Event{Type: EventNotWatching, State: StateDisconnected, Path: k.path, Err: err}
		c.event(ev)
		for _, fn := range fns {
			c.run(func() { fn(ev) })
		}
	}
}

// deliver dispatches a watch event as go-zk does: NodeCreated to exist
// watchers; NodeDataChanged to exist and data; NodeChildrenChanged to child;
// NodeDeleted to all three. The Java client's ZKWatchManager.materialize
// dispatches the same way.
func (c *Client) deliver(t EventType, path string) {
	ev := Event{Type: t, State: StateSyncConnected, Path: path}
	if c.w.Tracing() {
		c.w.Emit(KindWatchEvent, c.self, t.String(), sim.Str("path", path))
	}
	c.event(ev)
	var kinds []watchKind
	switch t {
	case EventNodeCreated:
		kinds = []watchKind{watchExist}
	case EventNodeDataChanged:
		kinds = []watchKind{watchExist, watchData}
	case EventNodeChildrenChanged:
		kinds = []watchKind{watchChild}
	case EventNodeDeleted:
		kinds = []watchKind{watchExist, watchData, watchChild}
	}
	for _, k := range kinds {
		key := watchKey{path, k}
		fns := c.watchers[key]
		delete(c.watchers, key)
		for _, fn := range fns {
			c.run(func() { fn(ev) })
		}
	}
}

func (c *Client) addWatcher(path string, kind watchKind, fn func(Event)) {
	if fn == nil {
		fn = func(Event) {}
	}
	k := watchKey{path, kind}
	c.watchers[k] = append(c.watchers[k], fn)
}

// sendNow sends a call on the current connection, as an rpc request without
// a timeout (rpc copies it).
func (c *Client) sendNow(cl *call) {
	cl.c, cl.rc = c, c.rc
	c.sent = append(c.sent, cl)
	c.lastSend = c.w.Now()
	var p rpc.Payload = &cl.req
	if cl.connect != nil {
		p = cl.connect
	} else {
		cl.detach() // the wire copy: request.Clone returns the request as it is
	}
	c.rc.CallWith(p, rpc.NoTimeout, cl)
	if c.cfg.Mode == JavaClient {
		c.javaTick() // ClientCnxn's selector wakes up for a new packet
	}
}

// submit hands a request to the client: it waits for a MaxInFlight slot
// if the bound is reached, else goes out now or waits for a session.
func (c *Client) submit(req request, done func(*reply, error)) {
	if err := c.refuse(); err != nil {
		c.run(func() { done(nil, err) })
		return
	}
	if c.outstanding >= c.cfg.MaxOutstanding {
		c.run(func() { done(nil, ErrTooManyRequests) })
		return
	}
	c.outstanding++
	cl := &call{req: req, done: done}
	if c.cfg.MaxInFlight > 0 {
		if c.inFlight >= c.cfg.MaxInFlight {
			cl.detach()
			c.held = append(c.held, cl)
			return
		}
		cl.bounded = true
		c.inFlight++
	}
	c.dispatch(cl)
}

// refuse returns the error a new request gets at once, if any.
func (c *Client) refuse() error {
	switch {
	case c.cfg.Mode == JavaClient && c.final:
		// ClientCnxn.queuePacket: the state is CLOSED, conLossPacket answers SESSIONEXPIRED.
		return ErrSessionExpired
	case c.cfg.Mode == JavaClient && c.closed:
		// closing: conLossPacket with a live state answers CONNECTIONLOSS.
		return ErrConnectionLoss
	case c.closed:
		return ErrConnectionClosed
	}
	return nil
}

// dispatch sends a call now, or queues it until there is a session.
func (c *Client) dispatch(cl *call) {
	if err := c.refuse(); err != nil {
		c.complete(cl, nil, err)
		return
	}
	if c.rc != nil && c.established {
		c.sendNow(cl)
		return
	}
	cl.detach()
	c.queued = append(c.queued, cl)
}

// detach copies what a call shares with its caller (data, ACLs, multi ops),
// so that nothing the caller changes later reaches the server: when the call
// has to wait, and at the latest when it is sent (the copy a wire makes).
func (cl *call) detach() {
	if cl.detached {
		return
	}
	cl.detached = true
	r := &cl.req
	r.data, r.acl = slices.Clone(r.data), slices.Clone(r.acl)
	if r.ops != nil {
		ops := make([]Op, len(r.ops))
		for i, op := range r.ops {
			ops[i] = cloneOp(op)
		}
		r.ops = ops
	}
}

// Done is the call's rpc callback (rpc.Callback).
func (cl *call) Done(p rpc.Payload, err error) { cl.c.answered(cl, cl.rc, p, err) }

// Close ends the session (its ephemerals go at once) and the client. go-zk:
// outstanding requests fail with ErrClosing, later calls with
// ErrConnectionClosed, and every watch ends with EventNotWatching
// (ErrClosing). JavaClient: the closeSession goes out behind the requests
// already sent, which complete; then Closed, and later calls fail with
// ErrSessionExpired.
func (c *Client) Close() {
	c.enter()
	defer c.exit()
	if c.closed {
		return
	}
	c.closed = true
	if c.cfg.Mode == JavaClient {
		c.javaClose()
		return
	}
	if c.rc != nil && c.state == StateHasSession {
		// Sent behind everything in flight; its answer, or its failure when
		// the connection closes under it, is not waited for.
		c.lastSend = c.w.Now()
		c.rc.CallTimeout(&request{op: opCloseSession}, rpc.NoTimeout, func(rpc.Payload, error) {})
	}
	if c.rc != nil {
		c.hangUp()
	}
	c.w.Cancel(c.recvTimer)
	c.w.Cancel(c.pingTimer)
	c.fail(&c.sent, ErrClosing)
	c.fail(&c.queued, ErrClosing)
	c.fail(&c.held, ErrClosing)
	c.setState(StateDisconnected)
	// go-zk, once its loop ends, ends every watch with EventNotWatching
	// (ErrClosing), so no watcher waits forever on a closed client.
	c.invalidateWatches(ErrClosing)
}

// DropConnection closes the client's connection as if the network had broken
// it, for tests and fault injection: the client sees Disconnected and
// reconnects with the same session. Simplified: the break is noticed at once;
// the Java client notices a socket closed locally when its send thread next
// wakes (up to readTimeout/2 later).
func (c *Client) DropConnection() {
	c.enter()
	defer c.exit()
	if c.rc == nil || c.closed {
		return
	}
	c.hangUp()
	c.lost()
}

func errOf(rep *reply) error {
	if rep.err == 0 {
		return nil
	}
	return rep.err
}

// validFlags is go-zk's check of create flags: outside 0..6 it answers with
// a plain "invalid flag value" error, not ErrInvalidFlags (docs/ZOOKEEPER.md §6).
func validFlags(flags int32) error {
	if flags < FlagPersistent || flags > FlagPersistentSequentialWithTTL {
		return fmt.Errorf("invalid flag value: [%d]", flags)
	}
	return nil
}

// checkPath is go-zk's client-side path check, which differs from the
// server's (ValidatePath): a sequential path may end in '/', but a "." or
// ".." component is refused even there, and of the reserved code points it
// refuses only U+F000–F8FF among the private ones (go-zk util.go; docs/ZOOKEEPER.md §2).
func checkPath(path string, isSequential bool) error {
	n := len(path)
	if n == 0 || path[0] != '/' {
		return ErrInvalidPath
	}
	if n == 1 {
		return nil
	}
	if !isSequential && path[n-1] == '/' {
		return ErrInvalidPath
	}
	for i := 1; i < n; {
		r, width := utf8.DecodeRuneInString(path[i:])
		switch {
		case r == '/' && path[i-1] == '/':
			return ErrInvalidPath
		case r == '.' && dotComponent(path, i):
			return ErrInvalidPath
		case r <= 0x1f, r >= 0x7f && r <= 0x9f, r >= 0xf000 && r <= 0xf8ff, r >= 0xfff0 && r < 0xffff:
			return ErrInvalidPath
		}
		i += width
	}
	return nil
}

// dotComponent reports whether the '.' at i ends a component that is "." or
// "..", the way go-zk looks at it: the dot (or the dot pair) follows a '/'
// and is followed by the end or a '/'.
func dotComponent(path string, i int) bool {
	start := i
	if path[i-1] == '.' {
		start = i - 1
	}
	if path[start-1] != '/' {
		return false
	}
	return i+1 == len(path) || path[i+1] == '/'
}

// Create creates a znode and reports its actual path. TTL flags are refused
// (ErrInvalidFlags), as go-zk's Create does; flag FlagContainer goes out
// with the plain create opcode (use CreateContainer for a container).
func (c *Client) Create(path string, data []byte, flags int32, acl []ACL, cb func(string, error)) {
	c.enter()
	defer c.exit()
	c.create(opCreate, path, data, flags, acl, cb)
}

// CreateContainer creates a container znode (flags must be FlagContainer).
func (c *Client) CreateContainer(path string, data []byte, flags int32, acl []ACL, cb func(string, error)) {
	c.enter()
	defer c.exit()
	c.create(opCreateContainer, path, data, flags, acl, cb)
}

// create checks as go-zk does, in its order: the flag value, the path, then
// whether the flags suit the call (no TTL for Create, only the container
// flag for CreateContainer).
func (c *Client) create(op opcode, path string, data []byte, flags int32, acl []ACL, cb func(string, error)) {
	err := validFlags(flags)
	if err == nil {
		err = checkPath(path, flags&FlagSequence != 0 && flags != FlagContainer)
	}
	if err == nil {
		isTTL := flags == FlagTTL || flags == FlagPersistentSequentialWithTTL
		if (op == opCreate && isTTL) || (op == opCreateContainer && flags != FlagContainer) {
			err = ErrInvalidFlags
		}
	}
	if err != nil {
		c.run(func() { cb("", err) })
		return
	}
	c.submit(request{op: op, path: path, data: data, flags: flags, acl: acl}, func(rep *reply, err error) {
		if err != nil {
			cb("", err)
			return
		}
		cb(rep.path, errOf(rep))
	})
}

// Get reads a znode's data and Stat.
func (c *Client) Get(path string, cb func([]byte, *Stat, error)) {
	c.enter()
	defer c.exit()
	c.get(path, nil, false, cb)
}

// GetW is Get that also sets a data watch when the node exists; watch runs
// once, with the event.
func (c *Client) GetW(path string, cb func([]byte, *Stat, error), watch func(Event)) {
	c.enter()
	defer c.exit()
	c.get(path, watch, true, cb)
}

func (c *Client) get(path string, watch func(Event), w bool, cb func([]byte, *Stat, error)) {
	read(c, opGetData, watchData, path, watch, w, func(r *reply) []byte { return r.data }, cb)
}

// read sends a getData or getChildren2 and answers as go-zk does; on success
// with w it registers watch as a watcher of kind.
func read[T any](c *Client, op opcode, kind watchKind, path string, watch func(Event), w bool, result func(*reply) T, cb func(T, *Stat, error)) {
	var none T
	if err := checkPath(path, false); err != nil {
		c.run(func() { cb(none, nil, err) })
		return
	}
	c.submit(request{op: op, path: path, watch: w}, func(rep *reply, err error) {
		if err != nil {
			cb(none, nil, err)
			return
		}
		if err := errOf(rep); err != nil {
			cb(none, zeroStatUnlessW(w), err)
			return
		}
		if w {
			c.addWatcher(path, kind, watch)
		}
		// The reply is the client's own copy (rpc copies it off the wire):
		// its Stat goes to the caller as it is.
		cb(result(rep), &rep.stat, nil)
	})
}

// zeroStatUnlessW: go-zk returns a non-nil zero Stat on server errors from
// Get, Children and Set, and nil from the W variants (docs/ZOOKEEPER.md §17).
func zeroStatUnlessW(w bool) *Stat {
	if w {
		return nil
	}
	return &Stat{}
}

// Set writes a znode's data if its version matches (-1: any).
func (c *Client) Set(path string, data []byte, version int32, cb func(*Stat, error)) {
	c.enter()
	defer c.exit()
	c.writeStat(request{op: opSetData, path: path, data: data, version: version}, cb)
}

// writeStat sends a write that answers with the node's new Stat (setData,
// setACL): a zero Stat on a server error, as go-zk gives.
func (c *Client) writeStat(req request, cb func(*Stat, error)) {
	if err := checkPath(req.path, false); err != nil {
		c.run(func() { cb(nil, err) })
		return
	}
	c.submit(req, func(rep *reply, err error) {
		if err != nil {
			cb(nil, err)
			return
		}
		if err := errOf(rep); err != nil {
			cb(&Stat{}, err)
			return
		}
		cb(&rep.stat, nil) // the client's own copy, as in read
	})
}

// Delete deletes a znode if its version matches (-1: any).
func (c *Client) Delete(path string, version int32, cb func(error)) {
	c.enter()
	defer c.exit()
	if err := checkPath(path, false); err != nil {
		c.run(func() { cb(err) })
		return
	}
	c.submit(request{op: opDelete, path: path, version: version}, func(rep *reply, err error) {
		if err != nil {
			cb(err)
			return
		}
		cb(errOf(rep))
	})
}

// Exists reports whether a znode exists, with its Stat (a zero Stat if not).
func (c *Client) Exists(path string, cb func(bool, *Stat, error)) {
	c.enter()
	defer c.exit()
	c.exists(path, nil, false, cb)
}

// ExistsW is Exists that also sets a watch: a data watch if the node exists,
// an exist watch (fired by its creation) if not.
func (c *Client) ExistsW(path string, cb func(bool, *Stat, error), watch func(Event)) {
	c.enter()
	defer c.exit()
	c.exists(path, watch, true, cb)
}

func (c *Client) exists(path string, watch func(Event), w bool, cb func(bool, *Stat, error)) {
	if err := checkPath(path, false); err != nil {
		c.run(func() { cb(false, nil, err) })
		return
	}
	c.submit(request{op: opExists, path: path, watch: w}, func(rep *reply, err error) {
		if err != nil {
			cb(false, nil, err)
			return
		}
		err = errOf(rep)
		switch {
		case err == nil:
			if w {
				c.addWatcher(path, watchData, watch)
			}
			cb(true, &rep.stat, nil)
		case err == ErrNoNode:
			if w {
				c.addWatcher(path, watchExist, watch)
			}
			cb(false, &Stat{}, nil)
		default:
			cb(false, nil, err)
		}
	})
}

// Children lists a znode's children (sorted; the real server's order is a
// hash set's) with the znode's Stat.
func (c *Client) Children(path string, cb func([]string, *Stat, error)) {
	c.enter()
	defer c.exit()
	c.children(path, nil, false, cb)
}

// ChildrenW is Children that also sets a child watch.
func (c *Client) ChildrenW(path string, cb func([]string, *Stat, error), watch func(Event)) {
	c.enter()
	defer c.exit()
	c.children(path, watch, true, cb)
}

func (c *Client) children(path string, watch func(Event), w bool, cb func([]string, *Stat, error)) {
	read(c, opGetChildren2, watchChild, path, watch, w, func(r *reply) []string { return r.children() }, cb)
}

// GetACL reads a znode's ACL.
func (c *Client) GetACL(path string, cb func([]ACL, *Stat, error)) {
	c.enter()
	defer c.exit()
	if err := checkPath(path, false); err != nil {
		c.run(func() { cb(nil, nil, err) })
		return
	}
	c.submit(request{op: opGetACL, path: path}, func(rep *reply, err error) {
		if err != nil {
			cb(nil, nil, err)
			return
		}
		if err := errOf(rep); err != nil {
			cb(nil, &Stat{}, err)
			return
		}
		cb(rep.acl(), &rep.stat, nil)
	})
}

// SetACL replaces a znode's ACL if its aversion matches (-1: any).
func (c *Client) SetACL(path string, acl []ACL, version int32, cb func(*Stat, error)) {
	c.enter()
	defer c.exit()
	c.writeStat(request{op: opSetACL, path: path, acl: acl, version: version}, cb)
}

// Sync waits until the server has applied everything before it; it returns
// the path and does not check that it exists.
func (c *Client) Sync(path string, cb func(string, error)) {
	c.enter()
	defer c.exit()
	if err := checkPath(path, false); err != nil {
		c.run(func() { cb("", err) })
		return
	}
	c.submit(request{op: opSync, path: path}, func(rep *reply, err error) {
		if err != nil {
			cb("", err)
			return
		}
		cb(rep.path, errOf(rep))
	})
}

// Multi runs ops as one atomic transaction. As go-zk, it reports each op's
// result and the first op error. A successful multi that created a container
// answers ErrAPIError with only the results before that op, though it was
// applied: the server reports the op as createContainer, which go-zk cannot
// decode (seen on 3.8).
func (c *Client) Multi(ops []Op, cb func([]MultiResponse, error)) {
	c.enter()
	defer c.exit()
	c.submit(request{op: opMulti, ops: ops}, func(rep *reply, err error) {
		if err != nil {
			cb(nil, err)
			return
		}
		if k := firstContainerCreate(ops); k >= 0 && multiSucceeded(rep.multi()) {
			cb(rep.multi()[:k], ErrAPIError)
			return
		}
		var first error
		for _, r := range rep.multi() {
			if r.Error != nil {
				first = r.Error
				break
			}
		}
		cb(rep.multi(), first)
	})
}

func multiSucceeded(res []MultiResponse) bool {
	for _, r := range res {
		if r.Error != nil {
			return false
		}
	}
	return true
}

func firstContainerCreate(ops []Op) int {
	for i, op := range ops {
		if c, ok := op.(*CreateRequest); ok && c != nil && c.Flags == FlagContainer {
			return i
		}
	}
	return -1
}

// AddAuth authenticates the connection (scheme "digest", auth "user:password");
// the credentials are re-sent after every reconnect. The callback reports
// whether the request was sent; a refused scheme closes the connection.
func (c *Client) AddAuth(scheme string, auth []byte, cb func(error)) {
	c.enter()
	defer c.exit()
	if scheme != "digest" {
		c.run(func() { cb(ErrAuthFailed) })
		return
	}
	own := slices.Clone(auth)
	c.auth = append(c.auth, own)
	if c.established && c.rc != nil {
		c.internalCall(request{op: opSetAuth, session: &sessionArgs{authScheme: scheme, authData: own}})
	}
	c.run(func() { cb(nil) })
}
