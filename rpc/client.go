package rpc

import (
	"fmt"
	"slices"

	"github.com/kzsim/kzsim/sim"
)

// ClientConfig configures a Client. Zero fields take the defaults.
type ClientConfig struct {
	// Timeout is the timeout of a request made with Call (0: DefaultTimeout;
	// NoTimeout: none). It runs from the call, so time spent queued counts
	// (simplified: Kafka's NetworkClient counts request.timeout.ms from the send).
	Timeout sim.Duration
	// MaxInFlight bounds the requests sent and not yet answered or timed out
	// (0: DefaultMaxInFlight); beyond it requests wait in the client, in order.
	MaxInFlight int
	// MaxQueued bounds the requests waiting beyond MaxInFlight
	// (0: DefaultMaxQueued); past it Call fails with ErrTooManyRequests.
	MaxQueued int
	// OnNotify receives the server's notifications, in the order sent. A
	// client that gets one without OnNotify panics: the protocol is broken.
	OnNotify func(p Payload)
	// OnClose runs once when the connection is gone (not after Close), after
	// every pending request has failed. err wraps ErrConnection and the
	// kernel's reason.
	OnClose func(err error)
}

// call is one request from Call to its callback.
type call struct {
	c       *Client
	done    Callback
	timer   sim.TimerID
	waiting bool // queued, not sent yet
	// The request as it goes on the connection (one allocation with the
	// call): its correlation id and the client's own copy of the payload.
	frame frame
}

func (cl *call) id() uint64   { return cl.frame.id }
func (cl *call) kind() string { return cl.frame.payload.Kind() }

// Client is the requesting end of one connection to a Server. It is made by
// Dial and lives as long as the connection: once it breaks, every call
// fails, and the process dials a new Client.
type Client struct {
	w      *sim.World
	self   sim.ProcID
	server sim.ProcID
	inc    uint32
	conn   *sim.Conn
	cfg    ClientConfig

	nextID   uint64
	lastRecv sim.Time
	// inflight holds the requests sent and not yet answered, in id order
	// (requests are sent in id order); an answer usually takes the first.
	inflight []*call
	queue    []*call // waiting for an in-flight slot, in call order
	err      error   // why the client is unusable; nil while it is usable
}

// Dial connects process self to the Server on process server and returns the
// client end at once; requests made before the server accepts are sent in
// order when it does.
func Dial(w *sim.World, self, server sim.ProcID, cfg ClientConfig) *Client {
	if (cfg.Timeout < 0 && cfg.Timeout != NoTimeout) || cfg.MaxInFlight < 0 || cfg.MaxQueued < 0 {
		panic(fmt.Sprintf("rpc: negative client limit (timeout %v, in flight %d, queued %d)", cfg.Timeout, cfg.MaxInFlight, cfg.MaxQueued))
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.MaxQueued == 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	c := &Client{w: w, self: self, server: server, inc: w.Incarnation(self), cfg: cfg}
	c.conn = w.Dial(self, server, sim.ConnHandler{OnMessage: c.onMessage, OnClose: c.onClose})
	c.lastRecv = w.Now()
	return c
}

// Conn returns the client's kernel connection.
func (c *Client) Conn() *sim.Conn { return c.conn }

// Server returns the process the client talks to.
func (c *Client) Server() sim.ProcID { return c.server }

// Pending returns how many requests wait for an answer: in flight plus queued.
func (c *Client) Pending() int { return len(c.inflight) + len(c.queue) }

// LastReceived returns when the client last got anything from the server (a
// response, a late one, or a notification), or when it dialled: what an idle
// or read timeout (ZooKeeper's ClientCnxn) is measured from.
func (c *Client) LastReceived() sim.Time { return c.lastRecv }

// Err returns why the client can no longer be used (wrapping ErrConnection
// or ErrClosed), or nil while it can.
func (c *Client) Err() error { return c.err }

func (c *Client) checkIncarnation() {
	if inc := c.w.Incarnation(c.self); inc != c.inc {
		panic(fmt.Sprintf("rpc: client of %s's incarnation %d used in incarnation %d", c.w.Name(c.self), c.inc, inc))
	}
}

// later runs fn as an event of the client's process, now.
func (c *Client) later(fn func()) { c.w.After(c.self, 0, "rpc-callback", fn) }

// trace records an event of request id, with the error text if there is
// one; nothing is built unless tracing.
func (c *Client) trace(kind, label string, id uint64, errText string) {
	if !c.w.Tracing() {
		return
	}
	if errText != "" {
		c.w.Emit(kind, c.self, label, sim.Int("id", id), sim.Str("err", errText))
		return
	}
	c.w.Emit(kind, c.self, label, sim.Int("id", id))
}

// Callback receives the outcome of a request (CallWith): the response, or
// an error. It is what Call's function does, as a method of a value the
// caller keeps anyway (its own record of the request), which saves a
// closure per request on a hot path.
type Callback interface {
	Done(resp Payload, err error)
}

// doneFunc makes a function a Callback (a func value fits an interface
// without an allocation).
type doneFunc func(resp Payload, err error)

func (f doneFunc) Done(resp Payload, err error) { f(resp, err) }

// Call sends req with the client's Timeout; done gets the response or an
// error, as an event of the client's process. req is copied now (Clone).
func (c *Client) Call(req Payload, done func(resp Payload, err error)) {
	c.CallTimeout(req, c.cfg.Timeout, done)
}

// CallTimeout is Call with its own timeout: positive, or NoTimeout.
func (c *Client) CallTimeout(req Payload, timeout sim.Duration, done func(resp Payload, err error)) {
	if done == nil {
		panic("rpc: Call without a callback")
	}
	c.CallWith(req, timeout, doneFunc(done))
}

// CallWith is CallTimeout with a Callback in place of a function.
func (c *Client) CallWith(req Payload, timeout sim.Duration, cb Callback) {
	c.checkIncarnation()
	if cb == nil {
		panic("rpc: Call without a callback")
	}
	done := cb
	if timeout <= 0 && timeout != NoTimeout {
		panic(fmt.Sprintf("rpc: request timeout %v is not positive", timeout))
	}
	req = clone(req, "a request")
	if c.err != nil || c.Pending() >= c.cfg.MaxInFlight+c.cfg.MaxQueued {
		err := c.err
		if err == nil {
			err = ErrTooManyRequests
		}
		c.trace(KindFail, req.Kind(), 0, err.Error())
		c.later(func() { done.Done(nil, err) })
		return
	}
	c.nextID++
	cl := &call{c: c, done: done, frame: frame{kind: frameRequest, id: c.nextID, payload: req}}
	if timeout != NoTimeout {
		cl.timer = c.w.After(c.self, timeout, "rpc-timeout", cl.expire)
	}
	if len(c.inflight) < c.cfg.MaxInFlight {
		c.send(cl)
		return
	}
	cl.waiting = true
	c.queue = append(c.queue, cl)
	c.trace(KindQueued, req.Kind(), cl.id(), "")
}

func (c *Client) send(cl *call) {
	cl.waiting = false
	c.inflight = append(c.inflight, cl)
	c.trace(KindRequest, cl.kind(), cl.id(), "")
	c.conn.Send(&cl.frame)
}

// takeInflight removes and returns the in-flight request with the given id,
// or nil. Answers mostly come in order, so the first is checked first.
func (c *Client) takeInflight(id uint64) *call {
	if len(c.inflight) > 0 && c.inflight[0].id() == id {
		cl := c.inflight[0]
		c.inflight[0] = nil
		c.inflight = c.inflight[1:]
		return cl
	}
	i, found := slices.BinarySearchFunc(c.inflight, id, func(cl *call, id uint64) int {
		switch {
		case cl.id() < id:
			return -1
		case cl.id() > id:
			return 1
		}
		return 0
	})
	if !found {
		return nil
	}
	cl := c.inflight[i]
	c.inflight = slices.Delete(c.inflight, i, i+1)
	return cl
}

// pump sends queued requests while in-flight slots are free.
func (c *Client) pump() {
	for len(c.queue) > 0 && len(c.inflight) < c.cfg.MaxInFlight {
		cl := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		c.send(cl)
	}
	if len(c.queue) == 0 {
		c.queue = nil
	}
}

// expire is the request's timeout: it fails the request, whose late reply is
// then dropped. The slot it held is free again (simplified: Kafka's
// NetworkClient closes the connection instead, failing all it carries).
func (cl *call) expire() {
	c := cl.c
	c.trace(KindTimeout, cl.kind(), cl.id(), "")
	if cl.waiting {
		i := slices.Index(c.queue, cl)
		c.queue = slices.Delete(c.queue, i, i+1)
	} else {
		c.takeInflight(cl.id())
		c.pump()
	}
	cl.done.Done(nil, ErrTimeout)
}

func (c *Client) onMessage(_ *sim.Conn, m sim.Message) {
	f, ok := m.(*frame)
	if !ok {
		panic(fmt.Sprintf("rpc: client got %T, not an rpc frame", m))
	}
	c.lastRecv = c.w.Now()
	switch f.kind {
	case frameNotify:
		if c.cfg.OnNotify == nil {
			panic("rpc: notification " + f.payload.Kind() + " to a client without OnNotify")
		}
		c.cfg.OnNotify(f.payload)
		return
	case frameResponse, frameError:
	default:
		panic(fmt.Sprintf("rpc: client got a %s frame", frameNames[f.kind]))
	}
	cl := c.takeInflight(f.id)
	if cl == nil {
		if f.id == 0 || f.id > c.nextID {
			panic(fmt.Sprintf("rpc: response to request %d, which was never sent", f.id))
		}
		c.trace(KindLate, kindOf(f), f.id, "")
		return
	}
	c.w.Cancel(cl.timer)
	var err error
	if f.kind == frameError {
		err = &RemoteError{Msg: string(f.payload.(errorText))}
		c.trace(KindAnswer, cl.kind(), f.id, err.Error())
		c.pump()
		cl.done.Done(nil, err)
		return
	}
	c.trace(KindAnswer, cl.kind(), f.id, "")
	// The freed slot goes to the next queued request before the callback can
	// make a new one, so requests go out in call order.
	c.pump()
	cl.done.Done(f.payload, nil)
}

func kindOf(f *frame) string { return f.payload.Kind() }

// takePending removes every pending request, in correlation-id order (every
// request in flight was sent before any queued one was made), and stops
// their timers.
func (c *Client) takePending() []*call {
	all := make([]*call, 0, c.Pending())
	all = append(all, c.inflight...)
	all = append(all, c.queue...)
	c.inflight, c.queue = nil, nil
	for _, cl := range all {
		c.w.Cancel(cl.timer)
	}
	return all
}

func (c *Client) failAll(calls []*call, err error) {
	for _, cl := range calls {
		c.trace(KindFail, cl.kind(), cl.id(), err.Error())
		cl.done.Done(nil, err)
	}
}

func (c *Client) onClose(_ *sim.Conn, reason error) {
	c.err = fmt.Errorf("%w: %w", ErrConnection, reason)
	c.failAll(c.takePending(), c.err)
	if c.cfg.OnClose != nil {
		c.cfg.OnClose(c.err)
	}
}

// Close closes the connection. Pending requests fail with ErrClosed, in an
// event after this call; so do later calls. Closing twice does nothing.
func (c *Client) Close() {
	c.checkIncarnation()
	if c.err != nil {
		return
	}
	c.err = ErrClosed
	c.conn.Close()
	pending := c.takePending()
	if len(pending) > 0 {
		c.later(func() { c.failAll(pending, ErrClosed) })
	}
}
