package sim

import (
	"errors"
	"fmt"
)

// Message is what processes send each other. String must describe the message
// deterministically (no pointers, no map order): it goes into the trace.
type Message interface {
	String() string
}

// Errors an end of a connection learns through ConnHandler.OnClose.
var (
	ErrRefused      = errors.New("connection refused")
	ErrUnreachable  = errors.New("host unreachable (partitioned)")
	ErrPartitioned  = errors.New("connection broken by a network partition")
	ErrPeerCrashed  = errors.New("connection broken: peer crashed")
	ErrClosedByPeer = errors.New("connection closed by peer")
)

// Planted bugs, switched on only by tests that prove the property checks can
// fail: a network that reorders a connection, and one that ignores partitions.
var (
	plantReorder          bool
	plantDeliverAcrossCut bool
	// A crash that forgets the accept of a dial in flight to a paused
	// process (the bug kernel-demo seeds 89 and 156 found), and one that
	// drops deferred events without a record.
	plantCrashLosesDeferredAccept bool
	plantSilentDeferredDrop       bool
	// HealCut healing every cut, as Heal once did.
	plantHealCutEndsAll bool
)

// ConnID identifies a connection; both ends share it.
type ConnID uint64

// ConnHandler is how an end of a connection hears from the network. Both
// callbacks run as events of the end's process.
type ConnHandler struct {
	// OnMessage is called for each message, in the order the peer sent them.
	OnMessage func(c *Conn, msg Message)
	// OnClose is called once when the connection is gone: refused, broken or
	// closed by the peer. It is not called for an end closed by its own process.
	OnClose func(c *Conn, err error)
}

type connState uint8

const (
	connOpen   connState = iota // usable (a dialling end may not be accepted yet)
	connBroken                  // broken or refused; the end is told later
	connClosed                  // this end closed, or was told it is gone
)

// Conn is one end of a connection between two processes: a FIFO, reliable
// byte stream like TCP whose messages are lost only when it breaks.
type Conn struct {
	w           *World
	id          ConnID
	local       ProcID
	remote      ProcID
	peer        *Conn
	handler     ConnHandler
	state       connState
	lastArrival Time       // when the latest message sent from this end arrives
	out         *linkState // the link local -> remote, once a packet used it
	dialer      bool
}

// ID returns the connection's id.
func (c *Conn) ID() ConnID { return c.id }

// Local returns the process at this end.
func (c *Conn) Local() ProcID { return c.local }

// Remote returns the process at the other end.
func (c *Conn) Remote() ProcID { return c.remote }

// Open reports whether this end may still send (it has not closed and has not
// been told the connection is gone; a broken connection looks open until then).
func (c *Conn) Open() bool { return c.state != connClosed }

type link struct{ from, to ProcID }

// linkState is what the network keeps per directed link: its latency, its
// own random stream (so traffic on one link never moves another's arrivals),
// and how many active cuts cover it.
type linkState struct {
	rand    *Rand
	latency Latency
	custom  bool // latency set by SetLatency rather than Options.Latency
	cuts    int  // active cuts covering the link; it is cut while > 0
}

// CutID names a cut made by Partition or PartitionOneWay, so it can be
// healed alone.
type CutID uint64

// cut is one active cut: the directed links it covers (a link may appear
// more than once; each appearance holds one count) and how it was described.
type cut struct {
	id    CutID
	links []link
	desc  string
}

type network struct {
	w        *World
	nextConn ConnID
	nextCut  CutID
	links    map[link]*linkState
	cuts     []cut   // active cuts in id order
	conns    []*Conn // dialling ends of live connections, in creation order
	// compactAt is the length of conns at which Dial drops dead entries, so
	// the list stays proportional to the live connections.
	compactAt int
}

func (n *network) init(w *World) {
	n.w = w
	n.links = map[link]*linkState{}
	n.compactAt = 64
}

// compact drops connections that are gone at both ends.
func (n *network) compact() {
	live := n.conns[:0]
	for _, c := range n.conns {
		if c.state == connOpen || c.peer.state == connOpen {
			live = append(live, c)
		}
	}
	clear(n.conns[len(live):])
	n.conns = live
	n.compactAt = max(64, 2*len(live))
}

// link returns the state of the link from -> to, creating it on first use.
func (n *network) link(from, to ProcID) *linkState {
	k := link{from, to}
	ls, ok := n.links[k]
	if !ok {
		ls = &linkState{latency: n.w.opts.Latency}
		n.links[k] = ls
	}
	return ls
}

// delay draws a one-way delay for the link from -> to from the link's own
// stream, "sim.net/<from>-><to>" by process names, so a seed gives each link
// the same delays whatever the other links carry.
func (n *network) delay(from, to ProcID) Duration { return n.sample(n.link(from, to), from, to) }

// sample draws a delay on ls, the state of the link from -> to.
func (n *network) sample(ls *linkState, from, to ProcID) Duration {
	if ls.rand == nil {
		ls.rand = n.w.Rand("sim.net/" + n.w.procs[from].name + "->" + n.w.procs[to].name)
	}
	return ls.latency.Sample(ls.rand)
}

// delay is network.delay for the next packet from c's end to its peer. The
// end keeps its link's state, so a send costs no map lookup.
func (c *Conn) delay() Duration {
	n := &c.w.net
	if c.out == nil {
		c.out = n.link(c.local, c.remote)
	}
	return n.sample(c.out, c.local, c.remote)
}

// isCut reports whether an active cut covers the link from -> to.
func (n *network) isCut(from, to ProcID) bool {
	ls, ok := n.links[link{from, to}]
	return ok && ls.cuts > 0
}

// connected reports whether packets flow both ways between a and b, which a
// TCP connection needs.
func (n *network) connected(a, b ProcID) bool {
	return !n.isCut(a, b) && !n.isCut(b, a)
}

// Listen makes p accept connections: accept runs for each new connection as an
// event of p and returns the handler for p's end. A crash removes the listener.
func (w *World) Listen(p ProcID, accept func(c *Conn) ConnHandler) {
	w.mustChange("Listen")
	w.proc(p).accept = accept
}

// Dial opens a connection from process from to process to, handled at from's
// end by h. It returns at once; messages sent before the peer accepts are
// queued in order. If the peer is down or not listening, h.OnClose gets
// ErrRefused after a round trip; if a partition separates them, ErrUnreachable
// after ConnBreakDetect.
func (w *World) Dial(from, to ProcID, h ConnHandler) *Conn {
	w.mustChange("Dial")
	n := &w.net
	src := w.proc(from)
	w.proc(to)
	if !src.up {
		panic(fmt.Sprintf("sim: crashed process %s dials", src.name))
	}
	n.nextConn++
	a := &Conn{w: w, id: n.nextConn, local: from, remote: to, handler: h, dialer: true}
	b := &Conn{w: w, id: n.nextConn, local: to, remote: from}
	a.peer, b.peer = b, a
	src.conns = append(src.conns, a)
	w.stats.ConnsDialed++
	if w.tracing {
		w.record(KindConnDial, from, to, a.id, "")
	}
	if !n.connected(from, to) {
		a.state, b.state = connBroken, connBroken
		n.notifyDown(a, w.opts.ConnBreakDetect, ErrUnreachable)
		return a
	}
	// The SYN is the first packet of the stream: later sends arrive after it.
	a.lastArrival = w.now.Add(n.delay(from, to))
	ev := w.newEvent()
	ev.kind, ev.proc, ev.label, ev.conn = evAccept, to, "accept", b
	w.push(a.lastArrival, ev)
	if len(n.conns) >= n.compactAt {
		n.compact()
	}
	n.conns = append(n.conns, a)
	return a
}

// Send sends msg to the other end. On a broken connection the message is lost
// (the sender learns of the break through OnClose). Sending on an end its own
// process closed is a programming error.
func (c *Conn) Send(msg Message) {
	w := c.w
	w.mustChange("Send")
	if c.state == connClosed {
		panic(fmt.Sprintf("sim: send on closed connection %d: %s", c.id, msg))
	}
	if !w.procs[c.local].up {
		panic(fmt.Sprintf("sim: crashed process %s sends", w.procs[c.local].name))
	}
	if c.state == connBroken {
		w.stats.MessagesLost++
		if w.tracing {
			w.record(KindMsgLost, c.local, c.remote, c.id, "", Str("msg", msg.String()))
		}
		return
	}
	at := w.now.Add(c.delay())
	if at < c.lastArrival && !plantReorder {
		at = c.lastArrival // FIFO: never overtake an earlier message
	}
	c.lastArrival = at
	w.stats.MessagesSent++
	ev := w.newEvent()
	if w.tracing {
		// Formatted once: the deliver (or lost, or dropped) record reuses the text.
		ev.text = msg.String()
		w.record(KindMsgSend, c.local, c.remote, c.id, "", Str("msg", ev.text))
	}
	ev.kind, ev.proc, ev.label, ev.conn, ev.msg = evDeliver, c.remote, "deliver", c.peer, msg
	w.push(at, ev)
}

// Close closes this end. The peer gets every message already sent, then
// OnClose(ErrClosedByPeer). Messages still coming the other way are lost.
func (c *Conn) Close() {
	w := c.w
	w.mustChange("Close")
	if c.state == connClosed {
		return
	}
	wasOpen := c.state == connOpen
	c.state = connClosed
	w.net.forget(c)
	if w.tracing {
		w.record(KindConnClose, c.local, c.remote, c.id, "")
	}
	if !wasOpen || c.peer.state != connOpen {
		return
	}
	at := w.now.Add(c.delay())
	if at < c.lastArrival {
		at = c.lastArrival
	}
	c.lastArrival = at
	ev := w.newEvent()
	ev.kind, ev.proc, ev.label, ev.conn = evFin, c.remote, "fin", c.peer
	w.push(at, ev)
}

// forget drops c from its process's list of open ends.
func (n *network) forget(c *Conn) {
	p := n.w.procs[c.local]
	for i, x := range p.conns {
		if x == c {
			p.conns = append(p.conns[:i], p.conns[i+1:]...)
			return
		}
	}
}

// breakConn breaks a live connection: messages in flight are lost and each
// end whose process is up learns after ConnBreakDetect (simplified: the same
// delay whether an RST or a keep-alive timeout would have told it).
func (n *network) breakConn(c *Conn, reason error) {
	w := n.w
	if c.state != connOpen && c.peer.state != connOpen {
		return // already broken or closed at both ends
	}
	w.stats.ConnsBroken++
	if w.tracing {
		w.record(KindConnBreak, c.local, c.remote, c.id, "", Str("err", reason.Error()))
	}
	for _, end := range [2]*Conn{c, c.peer} {
		if end.state != connOpen {
			continue
		}
		end.state = connBroken
		if w.procs[end.local].up {
			n.notifyDown(end, w.opts.ConnBreakDetect, reason)
		}
	}
}

func (n *network) notifyDown(c *Conn, after Duration, reason error) {
	w := n.w
	ev := w.newEvent()
	ev.kind, ev.proc, ev.label, ev.conn, ev.err = evConnDown, c.local, "conn-down", c, reason
	w.push(w.now.Add(after), ev)
}

// run handles the network's own events.
func (n *network) run(ev *event) {
	w := n.w
	c := ev.conn
	switch ev.kind {
	case evAccept:
		// The SYN arrived at c's process (c is the accepting end).
		// Simplified: one that reached a paused process waited for the resume
		// (no OS backlog accepts it), and one in flight across a crash and
		// restart lands here, with the new incarnation's listener.
		dst := w.procs[c.local]
		if c.state != connOpen {
			return // broken in flight: the dialer is told already
		}
		if dst.accept == nil {
			n.refuse(c)
			return
		}
		dst.conns = append(dst.conns, c)
		if w.tracing {
			w.record(KindConnUp, c.remote, c.local, c.id, "")
		}
		c.handler = dst.accept(c)
	case evDeliver:
		if c.state != connOpen {
			w.stats.MessagesLost++
			if w.tracing {
				w.record(KindMsgLost, c.remote, c.local, c.id, "", Str("msg", ev.text))
			}
			return
		}
		w.stats.MessagesDelivered++
		if w.tracing {
			w.record(KindMsgDeliver, c.local, c.remote, c.id, "", Str("msg", ev.text))
		}
		if c.handler.OnMessage != nil {
			c.handler.OnMessage(c, ev.msg)
		}
	case evFin:
		if c.state != connOpen {
			return
		}
		n.tellDown(c, ErrClosedByPeer)
	case evConnDown:
		if c.state == connClosed {
			return
		}
		n.tellDown(c, ev.err)
	default:
		panic(fmt.Sprintf("sim: unknown network event kind %d", ev.kind))
	}
}

// refuse turns a dial away at the accepting end c: the dialer learns after
// the RST's trip back.
func (n *network) refuse(c *Conn) {
	w := n.w
	if c.state != connOpen {
		return
	}
	if w.tracing {
		w.record(KindConnRefused, c.remote, c.local, c.id, "")
	}
	c.state = connClosed
	if c.peer.state == connOpen {
		c.peer.state = connBroken
		n.notifyDown(c.peer, n.delay(c.local, c.remote), ErrRefused)
	}
}

func (n *network) tellDown(c *Conn, err error) {
	w := n.w
	c.state = connClosed
	n.forget(c)
	if w.tracing {
		w.record(KindConnDown, c.local, c.remote, c.id, "", Str("err", err.Error()))
	}
	if c.handler.OnClose != nil {
		c.handler.OnClose(c, err)
	}
}

// SetLatency sets the one-way delay distribution from one process to another
// (a slow link, say). It applies to messages sent from now on.
func (w *World) SetLatency(from, to ProcID, l Latency) {
	w.mustChange("SetLatency")
	w.checkProc(from)
	w.checkProc(to)
	if err := l.Validate(); err != nil {
		panic("sim: " + err.Error())
	}
	ls := w.net.link(from, to)
	ls.latency, ls.custom = l, true
	if w.tracing {
		w.record(KindNetLatency, from, to, 0, "", Str("latency", l.String()))
	}
}

// LinkLatency returns the one-way delay distribution from one process to
// another: the one SetLatency gave it, or Options.Latency.
func (w *World) LinkLatency(from, to ProcID) Latency {
	w.checkProc(from)
	w.checkProc(to)
	if ls, ok := w.net.links[link{from, to}]; ok && ls.custom {
		return ls.latency
	}
	return w.opts.Latency
}

// Partition cuts every link between a process of side a and one of side b,
// both ways, and returns the cut's id. Connections across the cut break; new
// ones are refused while any cut covers their link (HealCut, HealAll).
func (w *World) Partition(a, b []ProcID) CutID {
	w.mustChange("Partition")
	var links []link
	for _, x := range a {
		for _, y := range b {
			links = append(links, w.cutLink(x, y), w.cutLink(y, x))
		}
	}
	return w.net.addCut(links, fmt.Sprintf("%v|%v", w.names(a), w.names(b)))
}

// PartitionOneWay cuts the links from each process of from to each of to, one
// way only, and returns the cut's id. A TCP connection needs both directions,
// so connections between the two sides break too.
func (w *World) PartitionOneWay(from, to []ProcID) CutID {
	w.mustChange("PartitionOneWay")
	var links []link
	for _, x := range from {
		for _, y := range to {
			links = append(links, w.cutLink(x, y))
		}
	}
	return w.net.addCut(links, fmt.Sprintf("%v->%v", w.names(from), w.names(to)))
}

// HealCut removes one cut. A link stays cut while another active cut covers
// it. Broken connections stay broken; new ones work where nothing is cut. It
// reports whether the cut was active (false: healed already, or never made).
func (w *World) HealCut(id CutID) bool {
	w.mustChange("HealCut")
	n := &w.net
	if plantHealCutEndsAll {
		active := len(n.cuts) > 0
		w.HealAll()
		return active
	}
	for i, c := range n.cuts {
		if c.id == id {
			n.cuts = append(n.cuts[:i], n.cuts[i+1:]...)
			n.heal(c)
			return true
		}
	}
	return false
}

// HealAll removes every cut, oldest first.
func (w *World) HealAll() {
	w.mustChange("HealAll")
	n := &w.net
	cuts := n.cuts
	n.cuts = nil
	for _, c := range cuts {
		n.heal(c)
	}
}

// Reachable reports whether packets flow from a to b.
func (w *World) Reachable(a, b ProcID) bool { return !w.net.isCut(a, b) }

func (n *network) addCut(links []link, desc string) CutID {
	w := n.w
	n.nextCut++
	c := cut{id: n.nextCut, links: links, desc: desc}
	for _, l := range links {
		n.link(l.from, l.to).cuts++
	}
	n.cuts = append(n.cuts, c)
	w.stats.Partitions++
	if w.tracing {
		w.record(KindNetPartition, Kernel, Kernel, 0, "", Int("cut", c.id), Str("links", desc))
	}
	n.breakCut()
	return c.id
}

func (n *network) heal(c cut) {
	w := n.w
	for _, l := range c.links {
		ls := n.links[l]
		if ls.cuts <= 0 {
			panic(fmt.Sprintf("sim: cut %d heals link %v, which no cut covers", c.id, l))
		}
		ls.cuts--
	}
	if w.tracing {
		w.record(KindNetHeal, Kernel, Kernel, 0, "", Int("cut", c.id), Str("links", c.desc))
	}
}

func (w *World) cutLink(a, b ProcID) link {
	w.checkProc(a)
	w.checkProc(b)
	if a == b {
		panic("sim: a process cannot be partitioned from itself")
	}
	return link{a, b}
}

func (w *World) names(ps []ProcID) []string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = w.Name(p)
	}
	return s
}

// breakCut breaks every live connection across a cut link, in creation order.
func (n *network) breakCut() {
	if plantDeliverAcrossCut {
		return
	}
	live := n.conns[:0]
	for _, c := range n.conns {
		if c.state != connOpen && c.peer.state != connOpen {
			continue // dead: drop from the list
		}
		if !n.connected(c.local, c.remote) {
			n.breakConn(c, ErrPartitioned)
			continue
		}
		live = append(live, c)
	}
	clear(n.conns[len(live):])
	n.conns = live
}
