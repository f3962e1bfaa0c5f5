package fakezk

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/kzsim/kzsim/sim"
)

// This file checks the server and client of fakezk, running over the kernel, against a deliberately
// naive model of ZooKeeper at the session level: a map from path to node, the live
// sessions, and the watches of each client, both as the server holds them (two tables per
// connection, docs/ZOOKEEPER.md §12) and as go-zk holds them (data, exist and child watchers, dispatched by event
// type). Every rule is written out again from docs/ZOOKEEPER.md (§4–§5 stats and zxids, §6 create
// modes, §8–§9 check order, §13 sessions and expiry, §17 go-zk's session events, §12 triggers, §14
// setWatches on reconnect, expiry and one-shot watches).
//
// Two or three client processes run operations one at a time, and faults come between them: Close
// (the slot gets a new client), a forced expiry, a dropped connection or a partition shorter than the
// session timeout (with other clients' writes while it lasts), GC pauses of a client shorter or longer
// than its timeout, and plain time passing. After every action the test compares:
//   - each operation's result and error (and go-zk's quirks: zero Stats, nil channels);
//   - the zxid counter (one per session create and close, per write even when it fails, per multi);
//   - the whole tree, stats included (times aside), and that every ephemeral's owner is a live session;
//   - the live sessions, and that no session id is ever used twice;
//   - the server's watch tables, connection by connection, against the model's;
//   - per watcher: whether it fired and with which event (one-shot: at most once);
//   - per client: the session events, in order, and the watch events of the global callback as a
//     multiset (the order between different paths is not specified);
//   - per client: every watch event arrives before the reply of any later operation of that client
//     (ZooKeeper's ordering guarantee), and before the reply of the write that caused it.
//
// Timing that ZooKeeper leaves open is kept out of the comparison by construction: session timeouts
// are 2-4s, far from the 1s reconnect delay; short faults end well before the session could expire and
// long pauses last well past it; and after a fault the test waits until every client has its session
// back and has synced, so no write races a setWatches. The one race the model allows is that of a
// client paused past its expiry: when it wakes, it may or may not read the watch events its own
// session's close sent it before it notices the broken connection. It then sees either those events
// or EventNotWatching for the same watches, all of one kind or all of the other.
//
// Half the runs use the Java client mode (ZooKeeper 3.8's ClientCnxn) instead of go-zk: its watcher
// hears SyncConnected, one Disconnected per outage, and Expired as the last event of a handle (the
// slot then gets a new client, as an application must make a new ZooKeeper object); requests sent
// while it is disconnected wait for the reconnection, and those sent before it has cleaned up the
// broken connection fail unsent with ConnectionLoss; its watches end silently on expiry or Close.
//
// `go test -run 'TestSessionModel$' -v` prints how often each result, event and fault came up.

// ---- the model ----

// smNode is a model znode. numChildren is never stored: it is counted by scanning the map.
type smNode struct {
	data                []byte
	version, aversion   int32
	creates             int32 // internal create counter (sequence numbers, cversion)
	czxid, mzxid, pzxid int64
	owner               int64 // owning session of an ephemeral, else 0
}

// smKind is a watch kind as go-zk keeps it.
type smKind int

const (
	smData smKind = iota
	smExist
	smChild
)

func (k smKind) String() string { return [...]string{"data", "exist", "child"}[k] }

type smKey struct {
	path string
	kind smKind
}

// smWatcher is one watch callback handed to the client (one per GetW/ExistsW/ChildrenW call).
type smWatcher struct {
	id      int
	cl      *smClient
	key     smKey
	fired   bool   // the model says it has fired
	want    Event  // ... with this event
	alt     *Event // or, in the paused-expiry race, with this one
	altNone bool   // ... or, in that race (Java), not at all
	cause   int    // seq of the step that fired it
}

// smClient is one client instance: the real one, what it was seen to do, and its model.
type smClient struct {
	slot, gen int
	name      string
	proc      sim.ProcID
	c         *Client
	timeout   sim.Duration // requested
	// negotiated is the session timeout the server granted: the requested
	// one clamped to [MinSessionTimeout, MaxSessionTimeout] (2 and 20 ticks
	// by default, as ZooKeeperServer.processConnectRequest does). The
	// client's timers and the server's expiry both run on it, so every
	// timing bound of the model must too.
	negotiated sim.Duration
	closed     bool

	// Observed.
	log    []smEntry       // watch callbacks and replies, in arrival order
	states []State         // session events since the last check
	events []Event         // other events of the global callback since the last check
	got    map[int][]Event // events per watcher
	gotAt  map[int]int     // log index of each watcher's first event

	// Model.
	session     int64
	lastZxid    int64           // zxid of the last reply (what setWatches sends)
	connected   bool            // the server has a connection for it that carries watches
	dataT       map[string]bool // the server's data table (data and exist watches) for that connection
	childT      map[string]bool // the server's child table
	keys        map[smKey][]int // go-zk's watchers
	wantEvents  []Event         // expected global watch events since the last check
	altA, altB  []Event         // the paused-expiry race: these events, or those
	wantStates  [][]State       // acceptable session-event sequences since the last check
	altWatchers []int           // watchers in the race
}

type smEntry struct {
	watcher int        // >= 0: a watcher's event
	op      *smPending // else: the reply of this op
}

// smOp is one client operation.
type smOp struct {
	kind    string // create set delete get exists children multi sync
	path    string
	data    []byte
	flags   int32
	version int32
	watch   bool
	ops     []Op
}

func (o smOp) String() string {
	switch o.kind {
	case "create":
		return fmt.Sprintf("create %s flags=%d data=%q", o.path, o.flags, o.data)
	case "set":
		return fmt.Sprintf("set %s v=%d data=%q", o.path, o.version, o.data)
	case "delete":
		return fmt.Sprintf("delete %s v=%d", o.path, o.version)
	case "multi":
		var parts []string
		for _, op := range o.ops {
			switch r := op.(type) {
			case *CreateRequest:
				parts = append(parts, fmt.Sprintf("create %s flags=%d", r.Path, r.Flags))
			case *SetDataRequest:
				parts = append(parts, fmt.Sprintf("set %s v=%d", r.Path, r.Version))
			case *DeleteRequest:
				parts = append(parts, fmt.Sprintf("delete %s v=%d", r.Path, r.Version))
			case *CheckVersionRequest:
				parts = append(parts, fmt.Sprintf("check %s v=%d", r.Path, r.Version))
			}
		}
		return "multi [" + strings.Join(parts, "; ") + "]"
	}
	if o.watch {
		return o.kind + "W " + o.path
	}
	return o.kind + " " + o.path
}

type smResult struct {
	path     string
	data     []byte
	stat     *Stat
	ok       bool
	children []string
	multi    []MultiResponse
	err      error
}

// smPending is an operation sent to a client, with its result when it comes and the model's.
type smPending struct {
	op      smOp
	cl      *smClient
	seq     int // set when the model applies it
	watcher int // -1 if the op sets no watch
	done    bool
	got     smResult
	want    smResult
}

// smTB is what the harness needs from a test: *rapid.T, or a recorder for the planted-bug test.
type smTB interface {
	Helper()
	Fatalf(format string, args ...any)
}

type smHarness struct {
	t   smTB
	w   *sim.World
	srv *Server

	clients []*smClient // the current client of each slot
	all     []*smClient // every client ever made

	nodes    map[string]*smNode
	known    map[string]bool // every path the model ever had, for drawing
	zxid     int64
	live     map[int64]*smClient
	ever     map[int64]bool
	watchers []*smWatcher
	seq      int
	steps    []string // what happened, for failure messages

	java     bool   // the clients run in JavaClient mode
	plant    string // a planted model bug (the checker must catch it)
	blackBox bool   // skip the comparison of the server's watch tables with the model's

	stats map[string]int // what the run exercised, for -v
}

var smBase = []string{"/a", "/b", "/a/a", "/", "/zookeeper", "/a/b", "/b/a", "/a/a/a"}
var smSeqPrefixes = []string{"/s", "/a/s", "/b/s", "/a/a/s"}

func smParent(p string) string {
	i := strings.LastIndex(p, "/")
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func (h *smHarness) fatalf(format string, args ...any) {
	h.t.Helper()
	tail := h.steps
	if len(tail) > 12 {
		tail = tail[len(tail)-12:]
	}
	h.t.Fatalf("%s\nat %v, last steps:\n  %s", fmt.Sprintf(format, args...), h.w.Now(), strings.Join(tail, "\n  "))
}

func (h *smHarness) note(format string, args ...any) {
	h.steps = append(h.steps, fmt.Sprintf("%v ", h.w.Now())+fmt.Sprintf(format, args...))
}

type smConfig struct {
	seed     uint64
	mode     ClientMode
	latency  sim.Latency
	timeouts []sim.Duration // one per slot
	// maxSessionTimeout is the server's MaxSessionTimeout (0: ZooKeeper's default, 20 ticks = 4s).
	maxSessionTimeout sim.Duration
}

func newSMHarness(t smTB, cfg smConfig) *smHarness {
	w := sim.New(sim.Options{Seed: cfg.seed, Latency: cfg.latency, ConnBreakDetect: 100 * sim.Millisecond, Trace: sim.TraceOff})
	h := &smHarness{
		t:     t,
		w:     w,
		srv:   NewServer(w, "zk", ServerConfig{TickTime: 200 * sim.Millisecond, MaxSessionTimeout: cfg.maxSessionTimeout}),
		nodes: map[string]*smNode{},
		known: map[string]bool{},
		live:  map[int64]*smClient{},
		ever:  map[int64]bool{},
		stats: map[string]int{},
		java:  cfg.mode == JavaClient,
	}
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota"} {
		h.nodes[p] = &smNode{data: []byte{}}
	}
	h.nodes["/zookeeper/config"] = &smNode{data: []byte{}, aversion: -1}
	h.clients = make([]*smClient, len(cfg.timeouts))
	for slot, timeout := range cfg.timeouts {
		h.newClient(slot, timeout)
	}
	h.check()
	return h
}

// newClient starts a client for slot and waits for its session.
func (h *smHarness) newClient(slot int, timeout sim.Duration) *smClient {
	gen := 0
	if old := h.clients[slot]; old != nil {
		gen = old.gen + 1
	}
	cl := &smClient{
		slot: slot, gen: gen, name: fmt.Sprintf("c%d.%d", slot, gen), timeout: timeout,
		got: map[int][]Event{}, gotAt: map[int]int{},
		dataT: map[string]bool{}, childT: map[string]bool{}, keys: map[smKey][]int{},
	}
	cl.proc = h.w.AddProcess(cl.name, sim.ProcessHooks{})
	cl.wantStates = [][]State{h.newSessionStates()}
	mode := GoZK
	if h.java {
		mode = JavaClient
	}
	cl.c = Connect(h.w, cl.proc, []sim.ProcID{h.srv.ID()}, ClientConfig{
		SessionTimeout: timeout,
		Mode:           mode,
		EventCallback: func(ev Event) {
			if ev.Type == EventSession {
				cl.states = append(cl.states, ev.State)
			} else {
				cl.events = append(cl.events, ev)
			}
		},
	})
	h.clients[slot] = cl
	h.all = append(h.all, cl)
	h.note("%s connects (timeout %v)", cl.name, timeout)
	h.waitStates()
	cl.negotiated = cl.c.Timeout()
	if cl.negotiated <= 0 {
		h.fatalf("harness: %s has no negotiated session timeout after connecting", cl.name)
	}
	h.modelNewSession(cl)
	return cl
}

// ---- running the world ----

// await runs the world until p's reply has come, failing after 30s of virtual time.
func (h *smHarness) await(p *smPending) {
	h.t.Helper()
	deadline := h.w.Now().Add(30 * sim.Second)
	for !p.done && h.w.Now() < deadline {
		if !h.w.Step() {
			break
		}
	}
	if !p.done {
		h.fatalf("%s: %s never completed", p.cl.name, p.op)
	}
}

// waitStates runs the world until every current client has seen a complete sequence of session
// events the model allows and has its session, failing after 30s.
func (h *smHarness) waitStates() {
	h.t.Helper()
	deadline := h.w.Now().Add(30 * sim.Second)
	for {
		ready := true
		for _, cl := range h.clients {
			if cl == nil {
				continue
			}
			ok := false
			for _, want := range cl.wantStates {
				ok = ok || slices.Equal(want, cl.states)
			}
			ready = ready && ok && cl.c.State() == h.sessionState()
		}
		if ready {
			return
		}
		if h.w.Now() >= deadline || !h.w.Step() {
			break
		}
	}
	for _, cl := range h.clients {
		if cl != nil {
			h.note("%s state %v, session events %v, allowed %v", cl.name, cl.c.State(), cl.states, cl.wantStates)
		}
	}
	h.fatalf("clients did not get their sessions back")
}

// settle lets in-flight messages land (latencies are at most 10ms).
func (h *smHarness) settle() { h.w.RunFor(25 * sim.Millisecond) }

// recover, after a fault, waits for every client's session and syncs each client, so that the
// setWatches of a reconnect is done before anything else happens.
func (h *smHarness) recover() {
	h.waitStates()
	for _, cl := range h.clients {
		h.do(cl, smOp{kind: "sync", path: "/"})
	}
	h.settle()
}

// ---- operations ----

func (h *smHarness) newWatcher(cl *smClient, path string) (int, func(Event)) {
	id := len(h.watchers)
	h.watchers = append(h.watchers, &smWatcher{id: id, cl: cl, key: smKey{path: path}})
	record := func(ev Event) {
		if _, seen := cl.gotAt[id]; !seen {
			cl.gotAt[id] = len(cl.log)
		}
		cl.got[id] = append(cl.got[id], ev)
		cl.log = append(cl.log, smEntry{watcher: id})
	}
	if h.plant == "late-events" {
		// Planted client bug: watch callbacks run 5ms after the event arrived.
		return id, func(ev Event) { h.w.After(cl.proc, 5*sim.Millisecond, "late", func() { record(ev) }) }
	}
	return id, record
}

// start sends op through cl's client.
func (h *smHarness) start(cl *smClient, op smOp) *smPending {
	p := &smPending{op: op, cl: cl, watcher: -1}
	reply := func() {
		p.done = true
		cl.log = append(cl.log, smEntry{watcher: -1, op: p})
	}
	var watch func(Event)
	if op.watch {
		p.watcher, watch = h.newWatcher(cl, op.path)
	}
	c := cl.c
	switch op.kind {
	case "create":
		c.Create(op.path, op.data, op.flags, WorldACL(PermAll), func(path string, err error) {
			p.got.path, p.got.err = path, err
			reply()
		})
	case "set":
		c.Set(op.path, op.data, op.version, func(st *Stat, err error) {
			p.got.stat, p.got.err = st, err
			reply()
		})
	case "delete":
		c.Delete(op.path, op.version, func(err error) {
			p.got.err = err
			reply()
		})
	case "get":
		cb := func(data []byte, st *Stat, err error) {
			p.got.data, p.got.stat, p.got.err = data, st, err
			reply()
		}
		if op.watch {
			c.GetW(op.path, cb, watch)
		} else {
			c.Get(op.path, cb)
		}
	case "exists":
		cb := func(ok bool, st *Stat, err error) {
			p.got.ok, p.got.stat, p.got.err = ok, st, err
			reply()
		}
		if op.watch {
			c.ExistsW(op.path, cb, watch)
		} else {
			c.Exists(op.path, cb)
		}
	case "children":
		cb := func(kids []string, st *Stat, err error) {
			p.got.children, p.got.stat, p.got.err = kids, st, err
			reply()
		}
		if op.watch {
			c.ChildrenW(op.path, cb, watch)
		} else {
			c.Children(op.path, cb)
		}
	case "multi":
		c.Multi(op.ops, func(res []MultiResponse, err error) {
			p.got.multi, p.got.err = res, err
			reply()
		})
	case "sync":
		c.Sync(op.path, func(path string, err error) {
			p.got.path, p.got.err = path, err
			reply()
		})
	default:
		panic("unknown op " + op.kind)
	}
	return p
}

// do runs op on cl to completion and compares its result with the model's.
func (h *smHarness) do(cl *smClient, op smOp) *smPending {
	h.t.Helper()
	p := h.start(cl, op)
	h.apply(p)
	h.await(p)
	h.compare(p)
	return p
}

func smNormStat(st *Stat) *Stat {
	if st == nil {
		return nil
	}
	c := *st
	c.Ctime, c.Mtime = 0, 0
	return &c
}

func smStatString(st *Stat) string {
	if st == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%+v", *smNormStat(st))
}

func (h *smHarness) compare(p *smPending) {
	h.t.Helper()
	g, w := p.got, p.want
	what := fmt.Sprintf("%s: %s", p.cl.name, p.op)
	if g.err != w.err {
		h.fatalf("%s: error %v, model %v", what, g.err, w.err)
	}
	if g.path != w.path {
		h.fatalf("%s: path %q, model %q", what, g.path, w.path)
	}
	if !bytes.Equal(g.data, w.data) || (g.data == nil) != (w.data == nil) {
		h.fatalf("%s: data %q, model %q", what, g.data, w.data)
	}
	if smStatString(g.stat) != smStatString(w.stat) {
		h.fatalf("%s: stat %s, model %s", what, smStatString(g.stat), smStatString(w.stat))
	}
	if g.ok != w.ok {
		h.fatalf("%s: exists %v, model %v", what, g.ok, w.ok)
	}
	gk, wk := slices.Clone(g.children), slices.Clone(w.children)
	slices.Sort(gk)
	if !slices.Equal(gk, wk) || (g.children == nil) != (w.children == nil) {
		h.fatalf("%s: children %q, model %q", what, g.children, w.children)
	}
	if len(g.multi) != len(w.multi) {
		h.fatalf("%s: %d multi results, model %d", what, len(g.multi), len(w.multi))
	}
	for i := range g.multi {
		a, b := g.multi[i], w.multi[i]
		if a.String != b.String || a.Error != b.Error || smStatString(a.Stat) != smStatString(b.Stat) {
			h.fatalf("%s: multi result %d is {%q %s %v}, model {%q %s %v}", what, i,
				a.String, smStatString(a.Stat), a.Error, b.String, smStatString(b.Stat), b.Error)
		}
	}
}

// ---- the model's rules ----

func (h *smHarness) childNames(nodes map[string]*smNode, path string) []string {
	names := []string{}
	for p := range nodes {
		if p != "/" && smParent(p) == path {
			names = append(names, p[strings.LastIndex(p, "/")+1:])
		}
	}
	slices.Sort(names)
	return names
}

func smStat(nodes map[string]*smNode, path string) Stat {
	n := nodes[path]
	kids := int32(0)
	for p := range nodes {
		if p != "/" && smParent(p) == path {
			kids++
		}
	}
	return Stat{
		Czxid: n.czxid, Mzxid: n.mzxid, Version: n.version, Cversion: 2*n.creates - kids,
		Aversion: n.aversion, EphemeralOwner: n.owner, DataLength: int32(len(n.data)),
		NumChildren: kids, Pzxid: n.pzxid,
	}
}

func smClone(nodes map[string]*smNode) map[string]*smNode {
	c := make(map[string]*smNode, len(nodes))
	for p, n := range nodes {
		cp := *n
		c[p] = &cp
	}
	return c
}

func smVersionOK(version, current int32) bool { return version == -1 || version == current }

// The write rules of docs/ZOOKEEPER.md §6 and §8, on a map of nodes, at zxid, for session. Each returns the
// error and appends the watch triggers of §12 to ch.
func smCreate(nodes map[string]*smNode, zxid, session int64, path string, data []byte, flags int32, ch *[]Change) (string, error) {
	parent := smParent(path)
	pn := nodes[parent]
	if pn == nil {
		return "", ErrNoNode
	}
	if flags == FlagSequence || flags == FlagEphemeralSequential {
		path += fmt.Sprintf("%010d", pn.creates)
	}
	if nodes[path] != nil {
		return "", ErrNodeExists
	}
	if pn.owner != 0 {
		return "", ErrNoChildrenForEphemerals
	}
	n := &smNode{data: data, czxid: zxid, mzxid: zxid, pzxid: zxid}
	if flags == FlagEphemeral || flags == FlagEphemeralSequential {
		n.owner = session
	}
	nodes[path] = n
	pn.creates++
	pn.pzxid = zxid
	*ch = append(*ch, Change{Type: EventNodeCreated, Path: path}, Change{Type: EventNodeChildrenChanged, Path: parent})
	return path, nil
}

func smDelete(nodes map[string]*smNode, zxid int64, path string, version int32, ch *[]Change) error {
	switch path {
	case "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config":
		return ErrBadArguments
	}
	parent := smParent(path)
	if nodes[parent] == nil || nodes[path] == nil {
		return ErrNoNode
	}
	if !smVersionOK(version, nodes[path].version) {
		return ErrBadVersion
	}
	for p := range nodes {
		if p != "/" && smParent(p) == path {
			return ErrNotEmpty
		}
	}
	delete(nodes, path)
	nodes[parent].pzxid = zxid
	*ch = append(*ch, Change{Type: EventNodeDeleted, Path: path}, Change{Type: EventNodeChildrenChanged, Path: parent})
	return nil
}

func smSet(nodes map[string]*smNode, zxid int64, path string, data []byte, version int32, ch *[]Change) (*Stat, error) {
	n := nodes[path]
	if n == nil {
		return nil, ErrNoNode
	}
	if !smVersionOK(version, n.version) {
		return nil, ErrBadVersion
	}
	n.data, n.version, n.mzxid = data, n.version+1, zxid
	*ch = append(*ch, Change{Type: EventNodeDataChanged, Path: path})
	st := smStat(nodes, path)
	return &st, nil
}

// apply predicts p's result and applies its effects to the model.
func (h *smHarness) apply(p *smPending) {
	h.seq++
	p.seq = h.seq
	cl, op := p.cl, p.op
	h.note("%s #%d %s", cl.name, p.seq, op)
	var changes []Change
	w := &p.want
	switch op.kind {
	case "create":
		h.zxid++
		w.path, w.err = smCreate(h.nodes, h.zxid, cl.session, op.path, op.data, op.flags, &changes)
	case "set":
		h.zxid++
		w.stat, w.err = smSet(h.nodes, h.zxid, op.path, op.data, op.version, &changes)
		if w.err != nil {
			w.stat = &Stat{} // go-zk: a zero Stat with a server error
		}
	case "delete":
		h.zxid++
		w.err = smDelete(h.nodes, h.zxid, op.path, op.version, &changes)
	case "multi":
		h.zxid++
		w.multi, w.err, changes = h.multi(cl.session, op.ops)
	case "get":
		if n := h.nodes[op.path]; n == nil {
			w.err = ErrNoNode
			if !op.watch {
				w.stat = &Stat{}
			}
		} else {
			w.data = n.data
			st := smStat(h.nodes, op.path)
			w.stat = &st
			if op.watch {
				h.register(cl, p.watcher, smData)
			}
		}
	case "exists":
		if h.nodes[op.path] == nil {
			w.stat = &Stat{}
			if op.watch && h.plant != "no-exist-watch" {
				h.register(cl, p.watcher, smExist)
			}
		} else {
			w.ok = true
			st := smStat(h.nodes, op.path)
			w.stat = &st
			if op.watch {
				h.register(cl, p.watcher, smData)
			}
		}
	case "children":
		if h.nodes[op.path] == nil {
			w.err = ErrNoNode
			if !op.watch {
				w.stat = &Stat{}
			}
		} else {
			w.children = h.childNames(h.nodes, op.path)
			st := smStat(h.nodes, op.path)
			w.stat = &st
			if op.watch {
				h.register(cl, p.watcher, smChild)
			}
		}
	case "sync":
		w.path = op.path
	}
	for _, c := range changes {
		if c.Type == EventNodeCreated {
			h.known[c.Path] = true
		}
	}
	h.stats[fmt.Sprintf("%s -> %v", op.kind, w.err)]++
	h.fire(changes, p.seq, nil)
	cl.lastZxid = h.zxid // every reply carries the server's zxid
}

// multi applies ops atomically on a copy (docs/ZOOKEEPER.md §9): all share one zxid; on failure nothing is
// applied and the results are ok / the error / RuntimeInconsistency.
func (h *smHarness) multi(session int64, ops []Op) ([]MultiResponse, error, []Change) {
	work := smClone(h.nodes)
	res := make([]MultiResponse, len(ops))
	var changes []Change
	for i, op := range ops {
		var err error
		switch o := op.(type) {
		case *CreateRequest:
			res[i].String, err = smCreate(work, h.zxid, session, o.Path, o.Data, o.Flags, &changes)
		case *SetDataRequest:
			res[i].Stat, err = smSet(work, h.zxid, o.Path, o.Data, o.Version, &changes)
		case *DeleteRequest:
			err = smDelete(work, h.zxid, o.Path, o.Version, &changes)
		case *CheckVersionRequest:
			if n := work[o.Path]; n == nil {
				err = ErrNoNode
			} else if !smVersionOK(o.Version, n.version) {
				err = ErrBadVersion
			}
		}
		if err != nil {
			for j := range res {
				res[j] = MultiResponse{}
				if j == i {
					res[j].Error = err
				} else if j > i {
					res[j].Error = ErrRuntimeInconsistency
				}
			}
			return res, err, nil
		}
	}
	// The stats of setData results are those at the time of the op, which smSet took.
	h.nodes = work
	return res, nil, changes
}

// register records a watch set by a successful read: go-zk's watcher, and the server's table.
func (h *smHarness) register(cl *smClient, id int, kind smKind) {
	w := h.watchers[id]
	w.key.kind = kind
	cl.keys[w.key] = append(cl.keys[w.key], id)
	if kind == smChild {
		cl.childT[w.key.path] = true
	} else {
		cl.dataT[w.key.path] = true // exists on an absent node goes to the data table too
	}
}

// fire sends the watch events of committed changes (docs/ZOOKEEPER.md §12): one event per connection whose table
// holds the path, which then forgets it. race marks the client whose delivery is in doubt.
func (h *smHarness) fire(changes []Change, cause int, race *smClient) {
	for _, ch := range changes {
		for _, cl := range h.clients {
			if cl == nil || !cl.connected {
				continue
			}
			hit := false
			switch ch.Type {
			case EventNodeCreated, EventNodeDataChanged:
				hit = cl.dataT[ch.Path]
				if h.plant != "not-one-shot" {
					delete(cl.dataT, ch.Path)
				}
			case EventNodeChildrenChanged:
				hit = cl.childT[ch.Path]
				delete(cl.childT, ch.Path)
			case EventNodeDeleted:
				hit = cl.dataT[ch.Path] || cl.childT[ch.Path]
				delete(cl.dataT, ch.Path)
				delete(cl.childT, ch.Path)
			}
			if hit {
				h.deliver(cl, ch.Type, ch.Path, cause, cl == race)
			}
		}
	}
}

// smDispatch is go-zk's dispatch of a watch event to its watcher kinds.
func smDispatch(t EventType) []smKind {
	switch t {
	case EventNodeCreated:
		return []smKind{smExist}
	case EventNodeDataChanged:
		return []smKind{smExist, smData}
	case EventNodeChildrenChanged:
		return []smKind{smChild}
	case EventNodeDeleted:
		return []smKind{smExist, smData, smChild}
	}
	return nil
}

func smNotWatching(path string, err error) Event {
	return Event{Type: EventNotWatching, State: StateDisconnected, Path: path, Err: err}
}

// deliver is the client receiving a watch event: the global callback, then every watcher of the
// kinds it goes to, once.
func (h *smHarness) deliver(cl *smClient, t EventType, path string, cause int, race bool) {
	ev := Event{Type: t, State: StateSyncConnected, Path: path}
	h.stats["event "+t.String()]++
	if race {
		cl.altA = append(cl.altA, ev)
	} else {
		cl.wantEvents = append(cl.wantEvents, ev)
	}
	for _, kind := range smDispatch(t) {
		key := smKey{path, kind}
		ids := cl.keys[key]
		if len(ids) == 0 {
			continue
		}
		delete(cl.keys, key)
		for _, id := range ids {
			w := h.watchers[id]
			w.fired, w.want, w.cause = true, ev, cause
			if race {
				// Or the client notices the broken connection first: go-zk then ends the watch
				// with EventNotWatching; the Java client drops it without an event.
				alt := smNotWatching(path, ErrSessionExpired)
				w.alt = &alt
				w.altNone = h.java
				cl.altWatchers = append(cl.altWatchers, id)
			}
		}
		if race && !h.java {
			cl.altB = append(cl.altB, smNotWatching(path, ErrSessionExpired))
		}
	}
}

// endWatches ends every watcher of cl with EventNotWatching (expiry, or Close), one global event per
// key, as go-zk's invalidateWatches.
//
// With a nil err (the Java client, expired or closed) the watchers are forgotten without an event.
func (h *smHarness) endWatches(cl *smClient, err error, cause int) {
	keys := make([]smKey, 0, len(cl.keys))
	for k := range cl.keys {
		keys = append(keys, k)
	}
	if err == nil {
		clear(cl.keys)
		return
	}
	for _, k := range keys {
		ev := smNotWatching(k.path, err)
		h.stats[fmt.Sprintf("not watching (%v)", err)]++
		cl.wantEvents = append(cl.wantEvents, ev)
		for _, id := range cl.keys[k] {
			w := h.watchers[id]
			w.fired, w.want, w.cause = true, ev, cause
		}
		delete(cl.keys, k)
	}
}

// disconnect: the server forgets cl's connection and the watches it carried. (Whether it learns before
// or after a write that would have fired one of them, the client's view is the same: an event lost
// in flight leaves go-zk's watcher in place, and setWatches then decides, as for a missed change.)
func (h *smHarness) disconnect(cl *smClient) {
	cl.connected = false
	clear(cl.dataT)
	clear(cl.childT)
}

// reconnect: the same session on a new connection; go-zk re-sends its watches with the last zxid it
// saw, and the server fires those whose node changed since (docs/ZOOKEEPER.md §14).
func (h *smHarness) reconnect(cl *smClient, cause int) {
	cl.connected = true
	if len(cl.keys) == 0 {
		return // go-zk sends no setWatches
	}
	rel := cl.lastZxid
	h.stats["setWatches"]++
	var lists [3][]string
	for k := range cl.keys {
		lists[k.kind] = append(lists[k.kind], k.path)
	}
	for i := range lists {
		slices.Sort(lists[i])
	}
	for _, p := range lists[smData] {
		n := h.nodes[p]
		switch {
		case n == nil:
			h.replay(cl, EventNodeDeleted, p, cause)
		case n.mzxid > rel && h.plant != "no-replay":
			h.replay(cl, EventNodeDataChanged, p, cause)
		default:
			cl.dataT[p] = true
		}
	}
	for _, p := range lists[smExist] {
		if h.nodes[p] != nil && h.plant != "no-replay" {
			h.replay(cl, EventNodeCreated, p, cause)
		} else {
			cl.dataT[p] = true
		}
	}
	for _, p := range lists[smChild] {
		n := h.nodes[p]
		switch {
		case n == nil:
			h.replay(cl, EventNodeDeleted, p, cause)
		case n.pzxid > rel && h.plant != "no-replay":
			h.replay(cl, EventNodeChildrenChanged, p, cause)
		default:
			cl.childT[p] = true
		}
	}
	cl.lastZxid = h.zxid // the setWatches reply
}

func (h *smHarness) replay(cl *smClient, t EventType, path string, cause int) {
	h.stats["setWatches fires "+t.String()]++
	h.deliver(cl, t, path, cause, false)
}

// closeSession is the closeSession transaction (explicit or by expiry, docs/ZOOKEEPER.md §13): one zxid, the
// session's ephemerals deleted, their watches fired. ownOpen says whether the session's own
// connection still takes events; race that its delivery is in doubt.
func (h *smHarness) closeSession(cl *smClient, cause int, ownOpen, race bool) {
	h.zxid++
	var changes []Change
	var mine []string
	for p, n := range h.nodes {
		if n.owner == cl.session {
			mine = append(mine, p)
		}
	}
	slices.Sort(mine)
	if h.plant != "keep-ephemerals" {
		for _, p := range mine {
			if err := smDelete(h.nodes, h.zxid, p, -1, &changes); err != nil {
				h.fatalf("model: ephemeral %s: %v", p, err)
			}
		}
	}
	delete(h.live, cl.session)
	if !ownOpen {
		h.disconnect(cl)
	}
	var r *smClient
	if race {
		r = cl
	}
	h.fire(changes, cause, r)
	h.disconnect(cl)
}

// modelNewSession: createSession is a transaction; the new id must be fresh.
func (h *smHarness) modelNewSession(cl *smClient) {
	h.zxid++
	id := cl.c.SessionID()
	if id == 0 || h.ever[id] {
		h.fatalf("%s: new session id 0x%x is zero or was used before", cl.name, id)
	}
	h.ever[id] = true
	h.live[id] = cl
	cl.session, cl.lastZxid, cl.connected = id, 0, true
}

// ---- fault actions ----

// failedLocally is the model of an op the client fails without sending it: no zxid, no effect,
// every result empty but the error.
func (h *smHarness) failedLocally(p *smPending, err error) {
	h.seq++
	p.seq = h.seq
	h.note("%s #%d %s (fails unsent: %v)", p.cl.name, p.seq, p.op, err)
	p.want = smResult{err: err}
	if p.watcher >= 0 {
		h.watchers[p.watcher].key.kind = smData // never registered, never fires
	}
}

func (h *smHarness) nextCause(format string, args ...any) int {
	h.seq++
	h.note("#%d "+format, append([]any{h.seq}, args...)...)
	return h.seq
}

var (
	smReconnectStates = []State{StateDisconnected, StateConnecting, StateConnected, StateHasSession}
	smExpiryStates    = []State{
		StateDisconnected, StateConnecting, StateConnected, StateExpired, StateDisconnected,
		StateConnecting, StateConnected, StateHasSession,
	}
	// The Java client's watcher: one Disconnected per outage, then SyncConnected, or Expired and
	// nothing more (the handle is finished; the application makes a new one).
	smJavaReconnectStates = []State{StateDisconnected, StateSyncConnected}
	smJavaExpiryStates    = []State{StateDisconnected, StateExpired}
)

// sessionState is what State() says while a client has its session.
func (h *smHarness) sessionState() State {
	if h.java {
		return StateSyncConnected
	}
	return StateHasSession
}

func (h *smHarness) newSessionStates() []State {
	if h.java {
		return []State{StateSyncConnected}
	}
	return []State{StateConnecting, StateConnected, StateHasSession}
}

func (h *smHarness) reconnectStates() []State {
	if h.java {
		return smJavaReconnectStates
	}
	return smReconnectStates
}

func (h *smHarness) expiryStates() []State {
	if h.java {
		return smJavaExpiryStates
	}
	return smExpiryStates
}

// reconnected reports whether cl has had its session back since the last check.
func (h *smHarness) reconnected(cl *smClient) bool {
	return slices.Contains(cl.states, h.sessionState())
}

// closeClient closes slot's client and starts a new one in its place.
func (h *smHarness) closeClient(slot int) {
	cl := h.clients[slot]
	cause := h.nextCause("%s Close", cl.name)
	cl.c.Close()
	cl.closed = true
	wantAfter := ErrConnectionClosed
	if h.java {
		// The Java client's closeSession waits for its reply on the open connection, so the
		// events it causes still arrive; then Closed, and the watches are forgotten silently.
		cl.wantStates = [][]State{{StateClosed}}
		h.closeSession(cl, cause, true, false)
		h.endWatches(cl, nil, cause)
		wantAfter = ErrSessionExpired // ClientCnxn.conLossPacket in state CLOSED
	} else {
		cl.wantStates = [][]State{{StateDisconnected}}
		// The client closed its end: events the close sends it are lost. go-zk ends its watches.
		h.closeSession(cl, cause, false, false)
		h.endWatches(cl, ErrClosing, cause)
	}
	h.settle()
	var after error
	done := false
	cl.c.Get("/", func(_ []byte, _ *Stat, err error) { after, done = err, true })
	h.settle()
	if !done || after != wantAfter {
		h.fatalf("%s: a call after Close gave %v (done %v), want %v", cl.name, after, done, wantAfter)
	}
	h.newClient(slot, cl.timeout)
	h.recover()
}

// expire expires slot's session on the server now. others run on other clients before the client
// gets back.
func (h *smHarness) expire(slot int, others []smOther) {
	cl := h.clients[slot]
	cause := h.nextCause("%s Expire", cl.name)
	if !h.srv.Expire(cl.session) {
		h.fatalf("Expire(0x%x): no such session", cl.session)
	}
	// Its connection is still open: the events go out on it before the server closes it.
	h.closeSession(cl, cause, true, false)
	cl.wantStates = [][]State{h.expiryStates()}
	h.settle()
	h.runOthers(cl, others)
	h.learnExpired(cl)
}

// learnExpired waits for cl to find its session gone on reconnect and to get a new one: go-zk
// opens it itself; a Java handle is finished and the application makes a new client.
func (h *smHarness) learnExpired(cl *smClient) {
	cause := h.nextCause("%s learns of its expiry", cl.name)
	if !h.java {
		h.endWatches(cl, ErrSessionExpired, cause)
		h.waitStates()
		h.modelNewSession(cl)
		h.recover()
		return
	}
	h.endWatches(cl, nil, cause)
	if h.plant == "java-expiry-renews" {
		cl.wantStates = [][]State{{StateDisconnected, StateExpired, StateSyncConnected}} // as if go-zk
	}
	deadline := h.w.Now().Add(30 * sim.Second)
	for cl.c.State() != StateExpired && h.w.Now() < deadline && h.w.Step() {
	}
	h.settle()
	var after error
	done := false
	cl.c.Get("/", func(_ []byte, _ *Stat, err error) { after, done = err, true })
	h.settle()
	if cl.c.State() != StateExpired || !done || after != ErrSessionExpired {
		h.fatalf("%s: state %v, a call after Expired gave %v (done %v), want ErrSessionExpired", cl.name, cl.c.State(), after, done)
	}
	h.stats["java handle expired"]++
	cl.closed = true
	h.checkClient(cl) // Expired was the last event; later checks expect nothing more
	h.newClient(cl.slot, cl.timeout)
	h.recover()
}

// smOther is an operation another client runs while one is cut off.
type smOther struct {
	slot int
	op   smOp
}

func (h *smHarness) runOthers(cut *smClient, others []smOther) {
	for _, o := range others {
		cl := h.clients[o.slot]
		if cl == cut {
			continue
		}
		h.do(cl, o.op)
	}
}

// drop breaks slot's connection (DropConnection, or a partition of duration d); others run
// meanwhile, and queued, if any, is sent by the cut-off client and waits for the reconnect. early
// (Java) is an op sent before the client has cleaned up the broken connection: ClientCnxn's
// cleanup fails it with ConnectionLoss, unsent.
func (h *smHarness) drop(slot int, partition bool, d sim.Duration, others []smOther, queued, early *smOp) {
	cl := h.clients[slot]
	start := h.w.Now()
	if partition {
		h.nextCause("%s partitioned for %v", cl.name, d)
		h.w.Partition([]sim.ProcID{cl.proc}, []sim.ProcID{h.srv.ID()})
		h.w.RunFor(110 * sim.Millisecond) // both ends learn after ConnBreakDetect
	} else {
		h.nextCause("%s DropConnection", cl.name)
		cl.c.DropConnection()
	}
	h.disconnect(cl)
	cl.wantStates = [][]State{h.reconnectStates()}
	var e *smPending // an op the model says fails unsent
	if early != nil && h.java {
		if slices.Contains(cl.states, StateDisconnected) {
			h.fatalf("harness: %s cleaned up before its early op", cl.name)
		}
		e = h.start(cl, *early)
		h.failedLocally(e, ErrConnectionLoss)
		h.stats["op failed by the Java cleanup"]++
	}
	h.runOthers(cl, others)
	var q *smPending
	if queued != nil {
		if h.java {
			// Sent once the client has cleaned up (Disconnected), as ClientCnxn queues it.
			deadline := h.w.Now().Add(sim.Second)
			for !slices.Contains(cl.states, StateDisconnected) && h.w.Now() < deadline && h.w.Step() {
			}
		}
		if h.reconnected(cl) {
			h.fatalf("harness: %s reconnected before its queued op", cl.name)
		}
		q = h.start(cl, *queued)
		h.stats["op queued while disconnected"]++
		if h.plant == "java-queued-fails" {
			h.failedLocally(q, ErrConnectionLoss) // as if queued requests failed, go-zk style
			e, q = q, nil                         // compared as the early op is
		}
	}
	if partition {
		h.w.RunUntil(max(h.w.Now(), start.Add(d)))
		h.w.HealAll()
	}
	if h.reconnected(cl) {
		h.fatalf("harness: %s reconnected before the model expected", cl.name)
	}
	cause := h.nextCause("%s reconnects", cl.name)
	h.reconnect(cl, cause)
	if q != nil {
		h.apply(q) // sent after setWatches
	}
	h.waitStates()
	if q != nil {
		h.await(q)
		h.compare(q)
	}
	if e != nil {
		h.await(e)
		h.compare(e)
	}
	h.recover()
}

// pauseShortMost is the longest pause, in milliseconds, that cl's session must survive. The client
// may drop its connection on waking, then reconnects after 1s: it must still be within its session
// timeout of its last packet (up to timeout/3 before the pause), with a margin. The timeout is the
// negotiated one, not the one cl asked for: the server clamps the request to MaxSessionTimeout (20
// ticks: 4s with the harness's 200ms tick, so a 6s request gets 4s), and both the client's read
// timeout (2/3 of it: ClientCnxn.onConnected) and the server's expiry run on the negotiated value.
func (h *smHarness) pauseShortMost(cl *smClient) int {
	timeout := cl.negotiated
	if h.plant == "requested-timeout" {
		timeout = cl.timeout
	}
	most := int(timeout*2/3/sim.Millisecond) - 1200
	if h.java {
		most -= 1200 // the Java client's reconnect takes up to 2.1s, not 1s
	}
	return most
}

// pause stops slot's process for d: short pauses keep the session (the client may or may not drop
// its connection on waking and reconnect), long ones outlast it.
func (h *smHarness) pause(slot int, d sim.Duration, long bool) {
	cl := h.clients[slot]
	cause := h.nextCause("%s paused for %v", cl.name, d)
	h.w.Pause(cl.proc)
	if long {
		// Its session expires during the pause; what the close sends the paused client may or may
		// not be read before it notices the broken connection.
		h.closeSession(cl, cause, true, true)
		cl.wantStates = [][]State{h.expiryStates()}
	} else {
		cl.wantStates = [][]State{nil, h.reconnectStates()}
	}
	h.w.RunFor(d)
	h.w.Resume(cl.proc)
	h.settle()
	if long {
		h.learnExpired(cl)
		return
	}
	if h.java {
		// A Java client that wakes just short of its read timeout pings and
		// may still time out one round trip later; its Disconnected comes
		// after ClientCnxn's 100ms cleanup. Wait for it, so that recover
		// sees whether the connection dropped.
		h.w.RunFor(javaCleanupSleep + 100*sim.Millisecond)
	}
	h.recover()
}

// ---- checks ----

func smSortedEvents(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.String()
	}
	sort.Strings(out)
	return out
}

// check compares everything observable with the model, then clears the per-action expectations.
func (h *smHarness) check() {
	h.t.Helper()
	h.settle()
	if got := h.srv.Zxid(); got != h.zxid {
		h.fatalf("server zxid 0x%x, model 0x%x", got, h.zxid)
	}
	h.checkTree()
	h.checkSessions()
	if !h.blackBox {
		h.checkServerWatches()
	}
	for _, cl := range h.all {
		h.checkClient(cl)
	}
}

func (h *smHarness) checkTree() {
	h.t.Helper()
	type view struct {
		data string
		stat string
	}
	got := map[string]view{}
	h.srv.Tree().Walk(func(path string, data []byte, st Stat) bool {
		got[path] = view{string(data), smStatString(&st)}
		if st.EphemeralOwner != 0 && !h.srv.SessionAlive(st.EphemeralOwner) {
			h.fatalf("ephemeral %s belongs to session 0x%x, which is not live", path, st.EphemeralOwner)
		}
		return true
	})
	want := map[string]view{}
	for p, n := range h.nodes {
		st := smStat(h.nodes, p)
		want[p] = view{string(n.data), smStatString(&st)}
	}
	paths := make([]string, 0, len(want))
	for p := range want {
		paths = append(paths, p)
	}
	slices.Sort(paths) // report the first difference in path order, the same every run
	for _, p := range paths {
		v := want[p]
		if g, ok := got[p]; !ok {
			h.fatalf("tree: %s missing (model %+v)", p, v)
		} else if g != v {
			h.fatalf("tree: %s is %+v, model %+v", p, g, v)
		}
	}
	if len(got) != len(want) {
		var extra []string
		for p := range got {
			if _, ok := want[p]; !ok {
				extra = append(extra, p)
			}
		}
		slices.Sort(extra)
		h.fatalf("tree: %q not in the model", extra)
	}
}

func (h *smHarness) checkSessions() {
	h.t.Helper()
	var got, want []int64
	for _, s := range h.srv.Sessions() {
		got = append(got, s.ID)
		if !s.Connected {
			h.fatalf("session 0x%x has no connection after the action", s.ID)
		}
	}
	for id := range h.live {
		want = append(want, id)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		h.fatalf("server sessions %x, model %x", got, want)
	}
	for _, cl := range h.clients {
		if cl.c.SessionID() != cl.session || cl.c.State() != h.sessionState() {
			h.fatalf("%s: session 0x%x state %v, model session 0x%x", cl.name, cl.c.SessionID(), cl.c.State(), cl.session)
		}
	}
}

// checkServerWatches compares the server's watch tables with the model's, connection by connection.
func (h *smHarness) checkServerWatches() {
	h.t.Helper()
	dump := func(table map[string][]*serverConn) []string {
		var out []string
		for p, conns := range table {
			for _, sc := range conns {
				out = append(out, fmt.Sprintf("0x%x %s", sc.session.id, p))
			}
		}
		slices.Sort(out)
		return out
	}
	model := func(child bool) []string {
		var out []string
		for _, cl := range h.clients {
			t := cl.dataT
			if child {
				t = cl.childT
			}
			for p := range t {
				out = append(out, fmt.Sprintf("0x%x %s", cl.session, p))
			}
		}
		slices.Sort(out)
		return out
	}
	if got, want := dump(h.srv.dataWatches), model(false); !slices.Equal(got, want) {
		h.fatalf("server data watches %q, model %q", got, want)
	}
	if got, want := dump(h.srv.childWatches), model(true); !slices.Equal(got, want) {
		h.fatalf("server child watches %q, model %q", got, want)
	}
}

func (h *smHarness) checkClient(cl *smClient) {
	h.t.Helper()
	ok := false
	for _, want := range cl.wantStates {
		ok = ok || slices.Equal(want, cl.states)
	}
	if !ok {
		h.fatalf("%s: session events %v, model allows %v", cl.name, cl.states, cl.wantStates)
	}
	// The global callback's watch events, as a multiset; with the paused-expiry race, either way.
	got := smSortedEvents(cl.events)
	useAlt := false
	if a := smSortedEvents(append(slices.Clone(cl.wantEvents), cl.altA...)); !slices.Equal(got, a) {
		b := smSortedEvents(append(slices.Clone(cl.wantEvents), cl.altB...))
		if !slices.Equal(got, b) {
			h.fatalf("%s: watch events\n  %q\nmodel\n  %q", cl.name, got, a)
		}
		useAlt = true
	}
	if len(cl.altA) > 0 {
		h.stats[fmt.Sprintf("race (events read first: %v)", !useAlt)]++
	}
	for _, id := range cl.altWatchers {
		w := h.watchers[id]
		if useAlt {
			w.want, w.alt = *w.alt, nil
			if w.altNone {
				w.fired, w.want = false, Event{}
			}
		} else {
			w.alt = nil
		}
	}
	// Per watcher: fired or not, with the model's event, once.
	for id, w := range h.watchers {
		if w.cl != cl {
			continue
		}
		evs := cl.got[id]
		switch {
		case !w.fired && len(evs) > 0:
			h.fatalf("%s: watcher %d (%s %s) got %v, model: still armed", cl.name, id, w.key.kind, w.key.path, evs)
		case w.fired && len(evs) == 0:
			h.fatalf("%s: watcher %d (%s %s) got nothing, model: %v", cl.name, id, w.key.kind, w.key.path, w.want)
		case len(evs) > 1:
			h.fatalf("%s: watcher %d (%s %s) fired %d times: %v", cl.name, id, w.key.kind, w.key.path, len(evs), evs)
		case w.fired && evs[0] != w.want:
			h.fatalf("%s: watcher %d (%s %s) got %v, model %v", cl.name, id, w.key.kind, w.key.path, evs[0], w.want)
		}
		// Ordering: the event comes before the reply of any op of this client at or after its cause.
		if w.fired {
			at := cl.gotAt[id]
			for i, e := range cl.log {
				if e.op != nil && e.op.seq >= w.cause && i < at {
					h.fatalf("%s: watcher %d's %v (caused by #%d) came after the reply of #%d %s",
						cl.name, id, w.want, w.cause, e.op.seq, e.op.op)
				}
			}
		}
	}
	cl.states, cl.events, cl.wantEvents, cl.altA, cl.altB, cl.altWatchers = nil, nil, nil, nil, nil, nil
	cl.wantStates = [][]State{nil}
}

// ---- drawing ----

func (h *smHarness) pool() []string {
	set := map[string]bool{}
	for _, p := range smBase {
		set[p] = true
	}
	for p := range h.known {
		set[p] = true
	}
	out := make([]string, 0, len(set))
	for p := range set {
		if p != "/" && p != "/zookeeper" {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Insert(out, len(out)/2, "/", "/zookeeper") // rapid favours the first and last elements
}

// existing returns the model's nodes outside /zookeeper, sorted.
func (h *smHarness) existing() []string {
	var out []string
	for p := range h.nodes {
		if p != "/" && !strings.HasPrefix(p, "/zookeeper") {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Insert(out, len(out)/2, "/") // rapid favours the first and last elements
}

// drawPath draws from a small alphabet, the model's nodes, or every path there ever was.
func (h *smHarness) drawPath(t *rapid.T, label string) string {
	switch rapid.IntRange(0, 2).Draw(t, label+"From") {
	case 0:
		return rapid.SampledFrom(smBase).Draw(t, label)
	case 1:
		return rapid.SampledFrom(h.existing()).Draw(t, label)
	}
	return rapid.SampledFrom(h.pool()).Draw(t, label)
}

func (h *smHarness) drawVersion(t *rapid.T, path string) int32 {
	if n := h.nodes[path]; n != nil && rapid.Bool().Draw(t, "currentVersion") {
		return n.version
	}
	return rapid.Int32Range(-1, 2).Draw(t, "version")
}

func smDrawData(t *rapid.T) []byte {
	return []byte(rapid.SampledFrom([]string{"", "x", "yz"}).Draw(t, "data"))
}

func (h *smHarness) drawCreate(t *rapid.T) (string, int32) {
	flags := rapid.Int32Range(FlagPersistent, FlagEphemeralSequential).Draw(t, "flags")
	if flags&FlagSequence != 0 {
		return rapid.SampledFrom(smSeqPrefixes).Draw(t, "prefix"), flags
	}
	if rapid.Bool().Draw(t, "underExisting") {
		// A child of an existing node, so that creates succeed often enough to build a tree.
		parent := rapid.SampledFrom(h.existing()).Draw(t, "parent")
		return strings.TrimSuffix(parent, "/") + "/" + rapid.SampledFrom([]string{"a", "b"}).Draw(t, "name"), flags
	}
	return h.drawPath(t, "path"), flags
}

// drawOp draws a client operation; writes only if writes.
func (h *smHarness) drawOp(t *rapid.T, writes bool) smOp {
	kinds := []string{"create", "set", "delete", "multi", "get", "exists", "children"}
	if !writes {
		kinds = kinds[4:]
	}
	op := smOp{kind: rapid.SampledFrom(kinds).Draw(t, "op")}
	switch op.kind {
	case "create":
		op.path, op.flags = h.drawCreate(t)
		op.data = smDrawData(t)
	case "set":
		op.path = h.drawPath(t, "path")
		op.data, op.version = smDrawData(t), h.drawVersion(t, op.path)
	case "delete":
		op.path = h.drawPath(t, "path")
		op.version = h.drawVersion(t, op.path)
	case "multi":
		n := rapid.IntRange(1, 4).Draw(t, "ops")
		for range n {
			switch rapid.IntRange(0, 3).Draw(t, "multiOp") {
			case 0:
				path, flags := h.drawCreate(t)
				op.ops = append(op.ops, &CreateRequest{Path: path, Data: smDrawData(t), Acl: WorldACL(PermAll), Flags: flags})
			case 1:
				path := h.drawPath(t, "path")
				op.ops = append(op.ops, &SetDataRequest{Path: path, Data: smDrawData(t), Version: h.drawVersion(t, path)})
			case 2:
				path := h.drawPath(t, "path")
				op.ops = append(op.ops, &DeleteRequest{Path: path, Version: h.drawVersion(t, path)})
			case 3:
				path := h.drawPath(t, "path")
				op.ops = append(op.ops, &CheckVersionRequest{Path: path, Version: h.drawVersion(t, path)})
			}
		}
	default:
		op.path = h.drawPath(t, "path")
		op.watch = rapid.Bool().Draw(t, "watch")
	}
	return op
}

func (h *smHarness) drawOthers(t *rapid.T, cut int) []smOther {
	n := rapid.IntRange(0, 3).Draw(t, "others")
	var out []smOther
	for range n {
		slot := rapid.IntRange(0, len(h.clients)-1).Draw(t, "otherSlot")
		if slot == cut {
			continue
		}
		op := h.drawOp(t, true)
		if keys := h.clients[cut].keys; len(keys) > 0 && rapid.Bool().Draw(t, "hitWatch") {
			// A write on a path the cut-off client watches, so that setWatches has work to do.
			var paths []string
			for k := range keys {
				paths = append(paths, k.path)
			}
			slices.Sort(paths)
			path := rapid.SampledFrom(paths).Draw(t, "watchedPath")
			switch rapid.IntRange(0, 3).Draw(t, "hitKind") {
			case 0:
				op = smOp{kind: "set", path: path, data: smDrawData(t), version: -1}
			case 1:
				op = smOp{kind: "delete", path: path, version: -1}
			case 2:
				op = smOp{kind: "create", path: path, data: smDrawData(t), flags: FlagPersistent}
			case 3:
				op = smOp{kind: "create", path: strings.TrimSuffix(path, "/") + "/c", data: smDrawData(t),
					flags: rapid.Int32Range(FlagPersistent, FlagEphemeralSequential).Draw(t, "flags")}
			}
		}
		out = append(out, smOther{slot: slot, op: op})
	}
	return out
}

// drawEarly draws, for a Java client, an op sent before it has cleaned up a broken connection.
func (h *smHarness) drawEarly(t *rapid.T) *smOp {
	if !h.java || !rapid.Bool().Draw(t, "early") {
		return nil
	}
	o := h.drawOp(t, true)
	return &o
}

// ---- the property ----

func smProperty(t *rapid.T) {
	n := rapid.IntRange(2, 3).Draw(t, "clients")
	cfg := smConfig{seed: rapid.Uint64().Draw(t, "seed")}
	if rapid.Bool().Draw(t, "jitter") {
		cfg.latency = sim.Uniform(sim.Millisecond, 10*sim.Millisecond)
	} else {
		cfg.latency = sim.Fixed(sim.Millisecond)
	}
	timeouts := []int{2, 3, 4}
	if rapid.Bool().Draw(t, "java") {
		// The Java client redials 1.1-2.1s after a drop: longer sessions keep short faults short.
		cfg.mode, timeouts = JavaClient, []int{4, 5, 6}
		// With the default MaxSessionTimeout (4s) the server grants 4s to every one of them:
		// draw whether it honours 5s and 6s or clamps them.
		if rapid.Bool().Draw(t, "longSessions") {
			cfg.maxSessionTimeout = 6 * sim.Second
		}
	}
	for range n {
		s := rapid.SampledFrom(timeouts).Draw(t, "timeoutSeconds")
		cfg.timeouts = append(cfg.timeouts, sim.Duration(s)*sim.Second)
	}
	h := newSMHarness(t, cfg)
	if smHook != nil {
		smHook(h)
	}
	slot := func(t *rapid.T) int { return rapid.IntRange(0, n-1).Draw(t, "slot") }
	op := func(t *rapid.T) {
		for range rapid.IntRange(1, 4).Draw(t, "burst") {
			cl := h.clients[slot(t)]
			h.do(cl, h.drawOp(t, true))
		}
	}
	watch := func(t *rapid.T) {
		cl := h.clients[slot(t)]
		kind := rapid.SampledFrom([]string{"get", "exists", "children"}).Draw(t, "kind")
		h.do(cl, smOp{kind: kind, path: h.drawPath(t, "path"), watch: true})
	}
	t.Repeat(map[string]func(*rapid.T){
		// rapid samples the sorted names with a bias towards the first: operations come first, and
		// twice, so that they run far more often than each fault.
		"a-op":    op,
		"b-op":    op,
		"c-op":    op,
		"d-op":    op,
		"e-op":    op,
		"f-op":    op,
		"g-watch": watch,
		"h-watch": watch,
		"i-watch": watch,
		"z-close": func(t *rapid.T) { h.closeClient(slot(t)) },
		"z-expire": func(t *rapid.T) {
			s := slot(t)
			h.expire(s, h.drawOthers(t, s))
		},
		"z-drop": func(t *rapid.T) {
			s := slot(t)
			others := h.drawOthers(t, s)
			var queued *smOp
			if rapid.Bool().Draw(t, "queued") {
				o := h.drawOp(t, true)
				queued = &o
			}
			h.drop(s, false, 0, others, queued, h.drawEarly(t))
		},
		"z-partition": func(t *rapid.T) {
			s := slot(t)
			d := sim.Duration(rapid.IntRange(110, 800).Draw(t, "ms")) * sim.Millisecond
			others := h.drawOthers(t, s)
			var queued *smOp
			if rapid.Bool().Draw(t, "queued") {
				o := h.drawOp(t, true)
				queued = &o
			}
			h.drop(s, true, d, others, queued, h.drawEarly(t))
		},
		"z-pauseShort": func(t *rapid.T) {
			s := slot(t)
			d := rapid.IntRange(10, max(10, h.pauseShortMost(h.clients[s]))).Draw(t, "ms")
			h.pause(s, sim.Duration(d)*sim.Millisecond, false)
		},
		"z-pauseLong": func(t *rapid.T) {
			s := slot(t)
			least := int(h.clients[s].negotiated/sim.Millisecond) + 300 // timeout + tick + margin
			d := rapid.IntRange(least, least+1000).Draw(t, "ms")
			h.pause(s, sim.Duration(d)*sim.Millisecond, true)
		},
		"z-time": func(t *rapid.T) {
			d := sim.Duration(rapid.IntRange(0, 3000).Draw(t, "ms")) * sim.Millisecond
			h.nextCause("time passes: %v", d)
			h.w.RunFor(d)
		},
		"": func(t *rapid.T) { h.check() },
	})
}

var smHook func(*smHarness)

func TestSessionModel(t *testing.T) {
	total := map[string]int{}
	var last *smHarness
	smHook = func(h *smHarness) {
		if last != nil {
			for k, v := range last.stats {
				total[k] += v
			}
		}
		last = h
	}
	defer func() { smHook = nil }()
	rapid.Check(t, smProperty)
	if testing.Verbose() {
		keys := make([]string, 0, len(total))
		for k := range total {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			t.Logf("%7d %s", total[k], k)
		}
	}
}

// ---- a fixed scenario, regression tests, and planted bugs ----

// smRecorder is a test that records its first failure instead of failing.
type smRecorder struct{ failure string }

func (r *smRecorder) Helper() {}
func (r *smRecorder) Fatalf(format string, args ...any) {
	r.failure = fmt.Sprintf(format, args...)
	panic(r)
}

// smScenario runs a fixed sequence through the harness, checking after each step as the property
// does: watches of every kind fired by the other client's writes and by the client's own, one-shot, a
// short disconnect with missed changes replayed by setWatches, an expiry that deletes an ephemeral
// another client watches, and a Close.
func smScenario(t smTB, plant string, blackBox bool) {
	h := newSMHarness(t, smConfig{seed: 1, latency: sim.Fixed(sim.Millisecond), timeouts: []sim.Duration{2 * sim.Second, 2 * sim.Second}})
	h.plant, h.blackBox = plant, blackBox
	a, b := h.clients[0], h.clients[1]
	step := func(f func()) { f(); h.check() }
	step(func() { h.do(b, smOp{kind: "create", path: "/a", data: []byte("x")}) })
	step(func() { h.do(a, smOp{kind: "exists", path: "/b", watch: true}) })
	step(func() { h.do(a, smOp{kind: "get", path: "/a", watch: true}) })
	step(func() { h.do(a, smOp{kind: "children", path: "/a", watch: true}) })
	step(func() { h.do(b, smOp{kind: "create", path: "/b", data: []byte("y")}) })           // NodeCreated /b
	step(func() { h.do(b, smOp{kind: "set", path: "/a", data: []byte("z"), version: -1}) }) // NodeDataChanged /a
	step(func() { h.do(b, smOp{kind: "set", path: "/a", data: []byte("w"), version: -1}) }) // nothing: one-shot
	step(func() { h.do(a, smOp{kind: "get", path: "/b", watch: true}) })                    // own write below
	step(func() { h.do(a, smOp{kind: "set", path: "/b", data: []byte("v"), version: 0}) })  // event before reply
	step(func() { h.do(a, smOp{kind: "get", path: "/a", watch: true}) })                    //
	step(func() {
		h.drop(0, false, 0, []smOther{
			{1, smOp{kind: "set", path: "/a", data: []byte("u"), version: -1}},             // replayed: NodeDataChanged
			{1, smOp{kind: "create", path: "/a/x", data: []byte{}, flags: FlagPersistent}}, // replayed: NodeChildrenChanged
		}, nil, nil)
	})
	step(func() { h.do(b, smOp{kind: "create", path: "/e", data: []byte{}, flags: FlagEphemeral}) })
	step(func() { h.do(a, smOp{kind: "exists", path: "/e", watch: true}) })
	step(func() { h.do(b, smOp{kind: "exists", path: "/e", watch: true}) })
	step(func() { h.expire(1, nil) }) // both see /e deleted; b's other watches end
	step(func() { h.do(a, smOp{kind: "get", path: "/a", watch: true}) })
	step(func() { h.closeClient(0) }) // a's watch ends with ErrClosing
}

func TestSessionModelScenario(t *testing.T) {
	smScenario(t, "", false)
}

// TestSessionModelCloseEndsWatches is the regression test for a bug the property found: Close left
// the client's watchers waiting forever, where go-zk ends each with EventNotWatching (ErrClosing).
func TestSessionModelCloseEndsWatches(t *testing.T) {
	h := newSMHarness(t, smConfig{seed: 1, latency: sim.Fixed(sim.Millisecond), timeouts: []sim.Duration{2 * sim.Second, 2 * sim.Second}})
	h.do(h.clients[0], smOp{kind: "get", path: "/", watch: true})
	h.do(h.clients[0], smOp{kind: "exists", path: "/nope", watch: true})
	h.closeClient(0)
	h.check()
	for _, w := range h.watchers {
		if got := w.cl.got[w.id]; len(got) != 1 || got[0] != smNotWatching(w.key.path, ErrClosing) {
			t.Fatalf("watcher on %s got %v", w.key.path, got)
		}
	}
}

// TestSessionModelCatchesPlantedBugs shows the checks can fail: each planted bug, in the model or in
// how the client's events reach the test, makes the fixed scenario fail; and it still fails, with
// the expected complaint, when only what clients can see is compared (not the server's watch tables).
func TestSessionModelCatchesPlantedBugs(t *testing.T) {
	run := func(plant string, blackBox bool) string {
		rec := &smRecorder{}
		func() {
			defer func() {
				if r := recover(); r != nil && r != rec {
					panic(r)
				}
			}()
			smScenario(rec, plant, blackBox)
		}()
		return rec.failure
	}
	for plant, want := range map[string]string{
		"no-exist-watch":  "watch events",         // exists on an absent node sets no watch
		"not-one-shot":    "watch events",         // the server keeps a fired watch
		"no-replay":       "watch events",         // reconnect re-arms without firing
		"keep-ephemerals": "tree: /",              // expiry keeps the ephemerals
		"late-events":     "came after the reply", // events reach watchers late
	} {
		t.Run(plant, func(t *testing.T) {
			if failure := run(plant, false); failure == "" {
				t.Fatalf("planted bug %q went unnoticed", plant)
			} else {
				t.Logf("caught: %s", strings.SplitN(failure, "\n", 2)[0])
			}
			failure := run(plant, true)
			if !strings.Contains(failure, want) {
				t.Fatalf("planted bug %q not caught as expected (%q) by the client-side checks:\n%s", plant, want, failure)
			}
			t.Logf("caught from the clients: %s", strings.SplitN(failure, "\n", 2)[0])
		})
	}
}

// smScenarioJava runs the Java client through the harness: watches, a drop with a request sent
// before the cleanup (ConnectionLoss) and one queued while disconnected (sent after the
// reconnection), missed changes replayed by setWatches, an expiry (final: a new handle takes the
// slot) and a Close that lets the request sent before it complete.
func smScenarioJava(t smTB, plant string, blackBox bool) {
	h := newSMHarness(t, smConfig{seed: 1, mode: JavaClient, latency: sim.Fixed(sim.Millisecond),
		timeouts: []sim.Duration{4 * sim.Second, 4 * sim.Second}})
	h.plant, h.blackBox = plant, blackBox
	a, b := h.clients[0], h.clients[1]
	step := func(f func()) { f(); h.check() }
	step(func() { h.do(b, smOp{kind: "create", path: "/a", data: []byte("x")}) })
	step(func() { h.do(a, smOp{kind: "get", path: "/a", watch: true}) })
	step(func() { h.do(a, smOp{kind: "exists", path: "/b", watch: true}) })
	step(func() {
		h.drop(0, false, 0, []smOther{
			{1, smOp{kind: "set", path: "/a", data: []byte("u"), version: -1}}, // replayed: NodeDataChanged
		}, &smOp{kind: "create", path: "/q", data: []byte("queued")}, // waits, then succeeds
			&smOp{kind: "create", path: "/early", data: []byte{}}) // ConnectionLoss, unsent
	})
	step(func() { h.do(b, smOp{kind: "create", path: "/e", data: []byte{}, flags: FlagEphemeral}) })
	step(func() { h.do(a, smOp{kind: "exists", path: "/e", watch: true}) })
	step(func() { h.do(b, smOp{kind: "get", path: "/q", watch: true}) })
	step(func() { h.expire(1, nil) }) // a sees /e deleted; b's handle is finished, a new one takes slot 1
	step(func() { h.do(h.clients[1], smOp{kind: "create", path: "/b", data: []byte{}}) })
	step(func() { h.closeClient(0) })
}

func TestSessionModelJavaScenario(t *testing.T) {
	smScenarioJava(t, "", false)
}

// TestSessionModelJavaCatchesPlantedBugs: the Java checks can fail. A model that fails requests
// queued while disconnected (go-zk's ErrNoServer way) or that expects a Java handle to open a new
// session after Expired disagrees with the client; and a model bug the go-zk scenario catches is
// caught in Java mode too.
func TestSessionModelJavaCatchesPlantedBugs(t *testing.T) {
	run := func(plant string, blackBox bool) string {
		rec := &smRecorder{}
		func() {
			defer func() {
				if r := recover(); r != nil && r != rec {
					panic(r)
				}
			}()
			smScenarioJava(rec, plant, blackBox)
		}()
		return rec.failure
	}
	for plant, want := range map[string]string{
		"java-queued-fails":  "error <nil>, model zk: connection loss", // the queued create succeeded
		"java-expiry-renews": "session events",                         // Expired was final
		"no-replay":          "watch events",
		"keep-ephemerals":    "tree: /",
	} {
		t.Run(plant, func(t *testing.T) {
			failure := run(plant, true)
			if !strings.Contains(failure, want) {
				t.Fatalf("planted bug %q not caught as expected (%q):\n%s", plant, want, failure)
			}
			t.Logf("caught: %s", strings.SplitN(failure, "\n", 2)[0])
		})
	}
}

// smPauseShortJava: a Java client asks for 6s and gets 4s (MaxSessionTimeout, 20 ticks); after 1.2s
// without traffic (its next ping is due at readTimeout/2 = 1.333s) it is paused for the longest
// short pause. The regression test for a model bug the property found (rapid seed
// 16329283361210733195): the bound came from the requested timeout, so a 1.6s pause woke the client
// past its 2.666s read timeout, and its reconnection came after the server had expired the session.
func smPauseShortJava(t smTB, plant string) {
	h := newSMHarness(t, smConfig{seed: 1, mode: JavaClient, latency: sim.Fixed(sim.Millisecond),
		timeouts: []sim.Duration{6 * sim.Second}})
	h.plant, h.blackBox = plant, true
	cl := h.clients[0]
	if cl.negotiated != 4*sim.Second {
		t.Fatalf("negotiated %v, want 4s (MaxSessionTimeout with a 200ms tick)", cl.negotiated)
	}
	h.w.RunFor(1200 * sim.Millisecond)
	h.pause(0, sim.Duration(h.pauseShortMost(cl))*sim.Millisecond, false)
	h.check()
	h.do(cl, smOp{kind: "exists", path: "/"})
	h.check()
}

func TestSessionModelJavaPauseShortNegotiated(t *testing.T) {
	smPauseShortJava(t, "")
	rec := &smRecorder{}
	func() {
		defer func() {
			if r := recover(); r != nil && r != rec {
				panic(r)
			}
		}()
		smPauseShortJava(rec, "requested-timeout")
	}()
	if !strings.Contains(rec.failure, "did not get their sessions back") {
		t.Fatalf("a bound from the requested timeout went unnoticed: %q", rec.failure)
	}
	t.Logf("caught: %s", strings.SplitN(rec.failure, "\n", 2)[0])
}
