package rpc

import (
	"fmt"

	"github.com/kzsim/kzsim/sim"
)

// Handler serves one request. It runs as an event of the server's process
// and answers through r now, or keeps r and answers in a later event.
type Handler func(r *Request)

// ServerConfig configures a Server. Either hook may be nil.
type ServerConfig struct {
	// OnConnect runs when a client's connection is accepted, before its
	// first request is handled.
	OnConnect func(sc *ServerConn)
	// OnClose runs when a client's connection is gone (not after
	// ServerConn.Close).
	OnClose func(sc *ServerConn, err error)
}

// Server answers requests on the connections a process accepts.
type Server struct {
	w        *sim.World
	self     sim.ProcID
	inc      uint32
	cfg      ServerConfig
	handlers map[string]Handler
}

// NewServer returns a server for process self with no handlers. Register
// them with Handle, then call Listen (or pass Accept to sim.World.Listen).
func NewServer(w *sim.World, self sim.ProcID, cfg ServerConfig) *Server {
	return &Server{w: w, self: self, inc: w.Incarnation(self), cfg: cfg, handlers: map[string]Handler{}}
}

func (s *Server) checkIncarnation() {
	if inc := s.w.Incarnation(s.self); inc != s.inc {
		panic(fmt.Sprintf("rpc: server of %s's incarnation %d used in incarnation %d", s.w.Name(s.self), s.inc, inc))
	}
}

// Handle registers h for requests of the given kind. A kind has one handler;
// a request of a kind without one is answered with a RemoteError.
func (s *Server) Handle(kind string, h Handler) {
	if kind == "" || h == nil {
		panic("rpc: Handle needs a kind and a handler")
	}
	if _, dup := s.handlers[kind]; dup {
		panic("rpc: second handler for " + kind)
	}
	s.handlers[kind] = h
}

// Listen makes the server's process accept connections with Accept.
func (s *Server) Listen() {
	s.checkIncarnation()
	s.w.Listen(s.self, s.Accept)
}

// Accept takes a new connection: the kernel's accept callback, for a process
// that listens itself.
func (s *Server) Accept(c *sim.Conn) sim.ConnHandler {
	s.checkIncarnation()
	sc := &ServerConn{s: s, conn: c}
	if s.cfg.OnConnect != nil {
		s.cfg.OnConnect(sc)
	}
	return sim.ConnHandler{OnMessage: sc.onMessage, OnClose: sc.onClose}
}

// ServerConn is the server's end of one client connection.
type ServerConn struct {
	s      *Server
	conn   *sim.Conn
	closed bool
	value  any
	// Reading paused (Pause): the requests that arrived meanwhile, unread,
	// and whether Resume is handing them out.
	paused   bool
	held     []*frame
	draining bool
}

// SetValue keeps v with the connection: the server's state for it (a
// ZooKeeper session, a client's API versions).
func (sc *ServerConn) SetValue(v any) { sc.value = v }

// Value returns what SetValue kept (nil before).
func (sc *ServerConn) Value() any { return sc.value }

// ID returns the kernel connection's id.
func (sc *ServerConn) ID() sim.ConnID { return sc.conn.ID() }

// Conn returns the kernel connection (for a trace record of it).
func (sc *ServerConn) Conn() *sim.Conn { return sc.conn }

// Remote returns the client's process.
func (sc *ServerConn) Remote() sim.ProcID { return sc.conn.Remote() }

// Open reports whether the connection may still carry responses.
func (sc *ServerConn) Open() bool { return !sc.closed && sc.conn.Open() }

// Notify sends p to the client unasked, in order with the responses (as
// ZooKeeper's watch events travel ahead of later replies). p is copied now.
// On a connection that is gone it does nothing.
func (sc *ServerConn) Notify(p Payload) {
	sc.s.checkIncarnation()
	p = clone(p, "a notification")
	if !sc.Open() {
		return
	}
	sc.conn.Send(&frame{kind: frameNotify, payload: p})
}

// Close closes the connection; the client's pending requests fail with
// ErrConnection.
func (sc *ServerConn) Close() {
	sc.s.checkIncarnation()
	if sc.closed {
		return
	}
	sc.closed = true
	clear(sc.held)
	sc.held = nil
	sc.conn.Close()
}

// Pause stops reading the connection: requests that arrive from now on wait,
// unread and in order, as bytes wait in a socket's receive buffer, until
// Resume. It is how a server throttles a client (ZooKeeper 3.8's
// ServerCnxn.disableRecv past zookeeper.globalOutstandingLimit; Kafka's
// Selector.mute while a connection's request is being served). Responses and
// notifications still go out. A connection that closes while paused drops
// what waits: a broken connection answers nothing more.
func (sc *ServerConn) Pause() {
	sc.s.checkIncarnation()
	sc.paused = true
}

// Resume reads the connection again: the requests that waited are handed to
// their handlers now, in order, until one of them pauses the connection
// again or none is left.
func (sc *ServerConn) Resume() {
	sc.s.checkIncarnation()
	if !sc.paused {
		return
	}
	sc.paused = false
	if sc.draining {
		return // Resume from a handler run by this loop: the loop goes on
	}
	sc.draining = true
	for len(sc.held) > 0 && !sc.paused && !sc.closed {
		f := sc.held[0]
		sc.held[0] = nil
		sc.held = sc.held[1:]
		sc.dispatch(f)
	}
	if len(sc.held) == 0 {
		sc.held = nil
	}
	sc.draining = false
}

// Paused reports whether reading is paused, and how many requests wait.
func (sc *ServerConn) Paused() (paused bool, waiting int) { return sc.paused, len(sc.held) }

func (sc *ServerConn) onMessage(_ *sim.Conn, m sim.Message) {
	f, ok := m.(*frame)
	if !ok || f.kind != frameRequest {
		panic(fmt.Sprintf("rpc: server got %v, not a request frame", m))
	}
	if sc.paused || len(sc.held) > 0 {
		sc.held = append(sc.held, f)
		return
	}
	sc.dispatch(f)
}

func (sc *ServerConn) dispatch(f *frame) {
	r := &Request{sc: sc, payload: f.payload, resp: frame{id: f.id}}
	h := sc.s.handlers[f.payload.Kind()]
	if h == nil {
		r.Fail(fmt.Errorf("no handler for %s", f.payload.Kind()))
		return
	}
	h(r)
}

func (sc *ServerConn) onClose(_ *sim.Conn, err error) {
	sc.closed = true
	clear(sc.held)
	sc.held = nil
	if sc.s.cfg.OnClose != nil {
		sc.s.cfg.OnClose(sc, err)
	}
}

// Request is one request at the server, answered exactly once with Respond
// or Fail.
type Request struct {
	sc       *ServerConn
	payload  Payload
	answered bool
	// The answer as it goes on the connection (one allocation with the
	// request); its id, the request's correlation id, is set on arrival.
	resp frame
}

// Payload returns the request's payload, the server's own copy.
func (r *Request) Payload() Payload { return r.payload }

// Kind returns the payload's kind.
func (r *Request) Kind() string { return r.payload.Kind() }

// ID returns the correlation id the client gave the request.
func (r *Request) ID() uint64 { return r.resp.id }

// Conn returns the connection the request came on.
func (r *Request) Conn() *ServerConn { return r.sc }

// Answered reports whether Respond or Fail was called.
func (r *Request) Answered() bool { return r.answered }

// Respond answers the request with p, copied now. If the connection is gone
// the answer is dropped (and traced): the client has failed the request
// already. Answering twice is a programming error.
func (r *Request) Respond(p Payload) {
	if p == nil {
		panic("rpc: nil payload for a response to " + r.Kind())
	}
	r.answer(frameResponse, p)
}

// Fail answers the request with an error; the client's callback gets a
// *RemoteError with err's text.
func (r *Request) Fail(err error) {
	if err == nil {
		panic("rpc: Fail with a nil error")
	}
	r.answer(frameError, errorText(err.Error()))
}

func (r *Request) answer(kind frameKind, p Payload) {
	s := r.sc.s
	s.checkIncarnation()
	if r.answered {
		panic(fmt.Sprintf("rpc: request %d (%s) answered twice", r.resp.id, r.Kind()))
	}
	r.answered = true
	if kind == frameResponse {
		p = clone(p, "a response") // Respond named the kind if p is nil
	}
	open := r.sc.Open()
	if s.w.Tracing() {
		attrs := [3]sim.Attr{sim.Int("id", r.resp.id)}
		n := 1
		if kind == frameError {
			attrs[n] = sim.Str("error", p.String())
			n++
		}
		if !open {
			attrs[n] = sim.Str("dropped", "connection-gone")
			n++
		}
		s.w.Emit(KindRespond, s.self, r.Kind(), attrs[:n]...)
	}
	if open {
		r.resp.kind, r.resp.payload = kind, p
		r.sc.conn.Send(&r.resp)
	}
}
