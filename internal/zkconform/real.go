package zkconform

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// RealConfig configures a RealTarget.
type RealConfig struct {
	// Addr is the server's host:port (only ever 127.0.0.1 here).
	Addr string
	// SessionTimeout is the session timeout asked for; the server clamps
	// it to [2, 20] × tickTime. Forced expiry takes about this long.
	SessionTimeout time.Duration
	// Logger receives go-zk's log lines; nil discards them.
	Logger zk.Logger
}

// DefaultSessionTimeout is the session timeout RealTarget asks for by
// default: twice the smallest the conformance server (tickTime 200 ms)
// allows. go-zk pings every timeout/3 and drops the connection after 2/3 of
// the timeout without a packet. With the 400 ms minimum (267 ms of grace)
// a loaded two-core machine running several harnesses at once saw a dozen
// spurious ConnectionClosed results per 600 sequences; with 800 ms none in
// several thousand, while a forced expiry still costs only about a second.
const DefaultSessionTimeout = 800 * time.Millisecond

// RealTarget is the Target backed by a real ZooKeeper server, driven with
// github.com/go-zookeeper/zk v1.0.4: one *zk.Conn per logical session,
// watch events collected with zk.WithEventCallback.
//
// Expiry is forced for real: every Conn dials through a gate. Expire shuts
// the gate (closing the session's TCP connection and holding back
// reconnects), waits until the server's session tracker has dropped the
// session (the "dump" four-letter word), then opens the gate. go-zk then
// reconnects with the old session id, is told the session expired, and
// opens a new one, exactly as it would after a long network partition.
type RealTarget struct {
	cfg  RealConfig
	root string
	sess []*realSession

	mu        sync.Mutex
	disturbed string
}

// NewRealTarget returns a target for the server at cfg.Addr.
func NewRealTarget(cfg RealConfig) *RealTarget {
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = discardLogger{}
	}
	return &RealTarget{cfg: cfg}
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...interface{}) {}

// realSession is one logical session; conn changes after Close.
type realSession struct {
	mu     sync.Mutex
	conn   *zk.Conn // nil after Close until the next Do
	gate   *gate
	gen    int // bumped for every new conn; older conns' events are ignored
	events []Event
	// cutting is set while Expire runs or Disconnect holds the
	// connection cut: the disconnections they cause are expected.
	cutting bool
	// watches mirrors go-zk's table of watches (which it re-sends with
	// setWatches on reconnecting): added by the watching reads that
	// succeed, removed by events as go-zk dispatches them.
	watches map[watchKey]bool
}

type watchKind int

const (
	watchData watchKind = iota
	watchExist
	watchChild
)

type watchKey struct {
	path string
	kind watchKind
}

// noteEvent updates the watch mirror for an event, as go-zk's
// notifyWatches does. Callers hold s.mu.
func (s *realSession) noteEvent(e Event) {
	var kinds []watchKind
	switch e.Type {
	case EventNodeCreated:
		kinds = []watchKind{watchExist}
	case EventNodeDataChanged:
		kinds = []watchKind{watchExist, watchData}
	case EventNodeChildrenChanged:
		kinds = []watchKind{watchChild}
	case EventNodeDeleted:
		kinds = []watchKind{watchExist, watchData, watchChild}
	case EventNotWatching:
		clear(s.watches) // go-zk ends every watch at once
	}
	for _, k := range kinds {
		delete(s.watches, watchKey{e.Path, k})
	}
}

func (s *realSession) addWatch(path string, kind watchKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watches[watchKey{path, kind}] = true
}

// gate is a dialer whose connections can be cut and whose new connections
// can be held back.
type gate struct {
	mu     sync.Mutex
	frozen bool
	thawed chan struct{} // closed when the gate opens
	conns  []net.Conn
	// setWatches counts the setWatches requests go-zk has written.
	setWatches int
}

func newGate() *gate { return &gate{thawed: make(chan struct{})} }

func (g *gate) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	g.mu.Lock()
	frozen, thawed := g.frozen, g.thawed
	g.mu.Unlock()
	if frozen {
		select {
		case <-thawed:
		case <-time.After(30 * time.Second):
			return nil, errors.New("zkconform: gate stayed shut")
		}
	}
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		// oneHost never makes go-zk back off, so do it here.
		time.Sleep(50 * time.Millisecond)
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.frozen { // shut while we dialled
		c.Close()
		return nil, errors.New("zkconform: gate shut")
	}
	g.conns = append(g.conns, c)
	return &sniffConn{Conn: c, g: g}, nil
}

func (g *gate) setWatchesSent() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.setWatches
}

// sniffConn watches the requests go-zk writes on a connection, to see
// when it has sent setWatches. Requests are length-prefixed packets,
// [len][xid][opcode]...; the first packet (the connect request) has no
// header and is skipped.
type sniffConn struct {
	net.Conn
	g *gate

	mu      sync.Mutex
	packets int      // packets whose header has been parsed
	head    [12]byte // the current packet's first bytes
	have    int      // bytes of head filled
	rest    int      // bytes of the current packet still to skip
}

// opSetWatches is ZooKeeper's setWatches opcode.
const opSetWatches = 101

func (c *sniffConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	found := 0
	for q := p[:n]; len(q) > 0; {
		if c.rest > 0 {
			k := min(c.rest, len(q))
			c.rest -= k
			q = q[k:]
			continue
		}
		k := copy(c.head[c.have:], q)
		c.have += k
		q = q[k:]
		if c.have < len(c.head) {
			break
		}
		size := int(int32(binary.BigEndian.Uint32(c.head[0:4])))
		if c.packets > 0 && int32(binary.BigEndian.Uint32(c.head[8:12])) == opSetWatches {
			found++
		}
		c.packets++
		c.have = 0
		c.rest = max(size-8, 0)
	}
	c.mu.Unlock()
	if found > 0 {
		c.g.mu.Lock()
		c.g.setWatches += found
		c.g.mu.Unlock()
	}
	return n, err
}

// freeze cuts the current connections and holds back new ones.
func (g *gate) freeze() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.frozen {
		g.frozen = true
		g.thawed = make(chan struct{})
	}
	for _, c := range g.conns {
		c.Close()
	}
	g.conns = nil
}

func (g *gate) thaw() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.frozen {
		g.frozen = false
		close(g.thawed)
	}
}

// oneHost is a zk.HostProvider for a single server that never reports
// retryStart, so go-zk reconnects at once instead of sleeping 1 s first.
type oneHost struct{ addr string }

func (h *oneHost) Init(servers []string) error {
	if len(servers) != 1 {
		return fmt.Errorf("zkconform: want one server, got %d", len(servers))
	}
	h.addr = servers[0]
	return nil
}
func (h *oneHost) Len() int                  { return 1 }
func (h *oneHost) Next() (string, bool)      { return h.addr, false }
func (h *oneHost) Connected()                {}
func (t *RealTarget) acl() []zk.ACL          { return zk.WorldACL(zk.PermAll) }
func (t *RealTarget) full(rel string) string { return FullPath(t.root, rel) }

// connect opens a new Conn for s and waits until it has a session.
func (t *RealTarget) connect(s *realSession) error {
	s.mu.Lock()
	s.gen++
	gen := s.gen
	s.mu.Unlock()
	cb := func(ev zk.Event) {
		e, ok := convEvent(ev)
		if !ok {
			return
		}
		s.mu.Lock()
		current, cutting := s.gen == gen, s.cutting
		if current {
			s.events = append(s.events, e)
			s.noteEvent(e)
		}
		s.mu.Unlock()
		if current && !cutting && e.Type == EventSession && e.State == StateDisconnected {
			t.mu.Lock()
			if t.disturbed == "" {
				t.disturbed = fmt.Sprintf("session %#x lost its connection unasked", conn0(s))
			}
			t.mu.Unlock()
		}
	}
	conn, _, err := zk.Connect([]string{t.cfg.Addr}, t.cfg.SessionTimeout,
		zk.WithDialer(s.gate.dial), zk.WithHostProvider(&oneHost{}),
		zk.WithEventCallback(cb), zk.WithLogger(t.cfg.Logger), zk.WithLogInfo(false))
	if err != nil {
		return err
	}
	if err := waitFor(10*time.Second, func() bool {
		return conn.State() == zk.StateHasSession && conn.SessionID() != 0
	}); err != nil {
		conn.Close()
		return fmt.Errorf("no session from %s: %v", t.cfg.Addr, err)
	}
	s.mu.Lock()
	s.conn = conn
	s.watches = map[watchKey]bool{}
	s.mu.Unlock()
	return nil
}

func conn0(s *realSession) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return 0
	}
	return s.conn.SessionID()
}

// Disturbed implements Disturbable: it reports a connection that dropped
// without Expire or Close asking for it (a ping not answered within 2/3 of
// the session timeout, say, on an overloaded machine).
func (t *RealTarget) Disturbed() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.disturbed
}

func waitFor(limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up after %v", limit)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// Open implements Target.
func (t *RealTarget) Open(root string, sessions int) error {
	t.root = root
	t.sess = make([]*realSession, sessions)
	for i := range t.sess {
		t.sess[i] = &realSession{gate: newGate()}
		if err := t.connect(t.sess[i]); err != nil {
			return err
		}
	}
	conn := t.sess[0].conn
	parts := strings.Split(strings.TrimPrefix(root, "/"), "/")
	for i := range parts {
		p := "/" + strings.Join(parts[:i+1], "/")
		_, err := conn.Create(p, nil, 0, t.acl())
		if err != nil && (i == len(parts)-1 || err != zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %v", p, err)
		}
	}
	return nil
}

func (t *RealTarget) conn(i int) (*zk.Conn, error) {
	s := t.sess[i]
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		return c, nil
	}
	if err := t.connect(s); err != nil {
		return nil, err
	}
	return s.conn, nil
}

// Do implements Target.
func (t *RealTarget) Do(session int, st Step) Outcome {
	c, err := t.conn(session)
	if err != nil {
		return Outcome{Harness: "reopen session: " + err.Error()}
	}
	s := t.sess[session]
	path := t.full(st.Path)
	var o Outcome
	switch st.Op {
	case OpCreate:
		o.Path, err = c.Create(path, st.Data, st.Flags, zkACL(st.ACL))
	case OpCreateContainer:
		o.Path, err = c.CreateContainer(path, st.Data, st.Flags, zkACL(st.ACL))
	case OpGet:
		var zs *zk.Stat
		if st.Watch {
			o.Data, zs, _, err = c.GetW(path)
			if err == nil {
				s.addWatch(path, watchData)
			}
		} else {
			o.Data, zs, err = c.Get(path)
		}
		o.Stat = convStat(zs)
	case OpSet:
		var zs *zk.Stat
		zs, err = c.Set(path, st.Data, st.Version)
		o.Stat = convStat(zs)
	case OpDelete:
		err = c.Delete(path, st.Version)
	case OpExists:
		var zs *zk.Stat
		if st.Watch {
			o.Exists, zs, _, err = c.ExistsW(path)
			switch {
			case err == nil && o.Exists:
				s.addWatch(path, watchData)
			case err == nil:
				s.addWatch(path, watchExist)
			}
		} else {
			o.Exists, zs, err = c.Exists(path)
		}
		o.Stat = convStat(zs)
	case OpChildren:
		var zs *zk.Stat
		if st.Watch {
			o.Children, zs, _, err = c.ChildrenW(path)
			if err == nil {
				s.addWatch(path, watchChild)
			}
		} else {
			o.Children, zs, err = c.Children(path)
		}
		o.Stat = convStat(zs)
	case OpSync:
		o.Path, err = c.Sync(path)
	case OpAddAuth:
		err = c.AddAuth("digest", []byte(st.Auth))
	case OpGetACL:
		var acl []zk.ACL
		var zs *zk.Stat
		acl, zs, err = c.GetACL(path)
		for _, a := range acl {
			o.ACL = append(o.ACL, ACL{Perms: a.Perms, Scheme: a.Scheme, ID: a.ID})
		}
		o.Stat = convStat(zs)
	case OpSetACL:
		var zs *zk.Stat
		zs, err = c.SetACL(path, zkACL(st.ACL), st.Version)
		o.Stat = convStat(zs)
	case OpMulti:
		ops := make([]interface{}, len(st.Ops))
		for i, m := range st.Ops {
			p := t.full(m.Path)
			switch m.Op {
			case OpCreate:
				ops[i] = &zk.CreateRequest{Path: p, Data: m.Data, Acl: zkACL(m.ACL), Flags: m.Flags}
			case OpSet:
				ops[i] = &zk.SetDataRequest{Path: p, Data: m.Data, Version: m.Version}
			case OpDelete:
				ops[i] = &zk.DeleteRequest{Path: p, Version: m.Version}
			case OpCheck:
				ops[i] = &zk.CheckVersionRequest{Path: p, Version: m.Version}
			default:
				return Outcome{Harness: "multi: unsupported sub-op " + string(m.Op)}
			}
		}
		var res []zk.MultiResponse
		res, err = c.Multi(ops...)
		for _, r := range res {
			o.Multi = append(o.Multi, MultiResult{Err: ErrCode(r.Error), Path: r.String, Stat: convStat(r.Stat)})
		}
	default:
		return Outcome{Harness: "unsupported op " + string(st.Op)}
	}
	o.Err = ErrCode(err)
	return o
}

// Close implements Target.
func (t *RealTarget) Close(session int) error {
	s := t.sess[session]
	s.mu.Lock()
	c := s.conn
	s.conn = nil
	s.gen++ // the old conn's Disconnected etc. are not this session's news
	s.mu.Unlock()
	if c == nil {
		return nil // already closed: nothing to do, as for go-zk
	}
	c.Close()
	return nil
}

// Expire implements Target; see RealTarget for how.
func (t *RealTarget) Expire(session int) error {
	c, err := t.conn(session)
	if err != nil {
		return err
	}
	s := t.sess[session]
	old := c.SessionID()
	s.setCutting(true)
	defer s.setCutting(false)
	s.gate.freeze()
	gone := waitFor(2*t.cfg.SessionTimeout+10*time.Second, func() bool {
		alive, err := t.serverHasSession(old)
		if err != nil {
			// No four-letter words: wait out the longest expiry delay.
			time.Sleep(t.cfg.SessionTimeout*2 + 500*time.Millisecond)
			return true
		}
		if alive {
			time.Sleep(10 * time.Millisecond)
		}
		return !alive
	})
	s.gate.thaw()
	if gone != nil {
		return fmt.Errorf("server kept session %#x: %v", old, gone)
	}
	if err := waitFor(10*time.Second, func() bool {
		id := c.SessionID()
		return id != 0 && id != old && c.State() == zk.StateHasSession
	}); err != nil {
		return fmt.Errorf("no new session after expiring %#x (state %v, id %#x): %v", old, c.State(), c.SessionID(), err)
	}
	return nil
}

func (s *realSession) setCutting(on bool) {
	s.mu.Lock()
	s.cutting = on
	s.mu.Unlock()
}

// Disconnect implements Target: it shuts the session's gate, which closes
// its TCP connection and holds back go-zk's redial, and waits until go-zk
// has noticed.
func (t *RealTarget) Disconnect(session int) error {
	c, err := t.conn(session)
	if err != nil {
		return err
	}
	s := t.sess[session]
	s.setCutting(true)
	s.gate.freeze()
	if err := waitFor(10*time.Second, func() bool { return c.State() != zk.StateHasSession }); err != nil {
		return fmt.Errorf("go-zk did not notice the cut: %v", err)
	}
	return nil
}

// Reconnect implements Target: it opens the gate and waits until go-zk has
// its session back and, if it holds watches, has written its setWatches
// request. Events' read round trip then goes out after setWatches, so the
// events the server answers setWatches with arrive before it returns.
func (t *RealTarget) Reconnect(session int) error {
	s := t.sess[session]
	s.mu.Lock()
	c := s.conn
	expectWatches := len(s.watches) > 0
	s.mu.Unlock()
	if c == nil {
		return errors.New("no connection to reconnect")
	}
	defer s.setCutting(false)
	old := c.SessionID()
	sent := s.gate.setWatchesSent()
	s.gate.thaw()
	if err := waitFor(10*time.Second, func() bool {
		return c.State() == zk.StateHasSession || c.SessionID() != old
	}); err != nil {
		return fmt.Errorf("no session after the cut (state %v): %v", c.State(), err)
	}
	if id := c.SessionID(); id != old {
		// The server expired the session during a cut meant to be far
		// shorter than its timeout: the machine stalled.
		t.mu.Lock()
		if t.disturbed == "" {
			t.disturbed = fmt.Sprintf("session %#x expired during a short disconnect", old)
		}
		t.mu.Unlock()
		return nil
	}
	if expectWatches {
		if err := waitFor(10*time.Second, func() bool { return s.gate.setWatchesSent() > sent }); err != nil {
			return fmt.Errorf("go-zk did not re-send its watches: %v", err)
		}
	}
	return nil
}

// serverHasSession asks the server's "dump" four-letter word whether the
// session tracker still holds the session.
func (t *RealTarget) serverHasSession(id int64) (bool, error) {
	out, err := FourLetterWord(t.cfg.Addr, "dump", 2*time.Second)
	if err != nil {
		return false, err
	}
	if !strings.Contains(out, "Session Sets") {
		return false, errors.New("dump gave no session sets")
	}
	return strings.Contains(out, fmt.Sprintf("0x%x\n", id)) || strings.Contains(out, fmt.Sprintf("0x%x\r", id)), nil
}

// FourLetterWord sends a ZooKeeper four-letter command to addr and returns
// the reply.
func FourLetterWord(addr, cmd string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return "", err
	}
	var b strings.Builder
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			break
		}
	}
	return b.String(), nil
}

// Events implements Target: a read round trip on the session first makes
// sure every event the server queued before it has been delivered.
func (t *RealTarget) Events(session int) []Event {
	s := t.sess[session]
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c != nil {
		c.Exists("/")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	evs := s.events
	s.events = nil
	return evs
}

// SessionID implements Target.
func (t *RealTarget) SessionID(session int) int64 {
	s := t.sess[session]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return 0
	}
	return s.conn.SessionID()
}

// Shutdown implements Target.
func (t *RealTarget) Shutdown() {
	for _, s := range t.sess {
		if s == nil {
			continue
		}
		s.gate.thaw()
		s.mu.Lock()
		c := s.conn
		s.conn = nil
		s.gen++
		s.mu.Unlock()
		if c != nil {
			c.Close()
		}
	}
}

// zkACL is ACLSpec(name) for go-zk.
func zkACL(name string) []zk.ACL {
	spec := ACLSpec(name)
	out := make([]zk.ACL, len(spec))
	for i, a := range spec {
		out[i] = zk.ACL{Perms: a.Perms, Scheme: a.Scheme, ID: a.ID}
	}
	return out
}

func convStat(s *zk.Stat) *Stat {
	if s == nil {
		return nil
	}
	return &Stat{Czxid: s.Czxid, Mzxid: s.Mzxid, Ctime: s.Ctime, Mtime: s.Mtime,
		Version: s.Version, Cversion: s.Cversion, Aversion: s.Aversion,
		EphemeralOwner: s.EphemeralOwner, DataLength: s.DataLength,
		NumChildren: s.NumChildren, Pzxid: s.Pzxid}
}

var stateNames = map[zk.State]string{
	zk.StateDisconnected:  StateDisconnected,
	zk.StateConnecting:    StateConnecting,
	zk.StateConnected:     StateConnected,
	zk.StateHasSession:    StateHasSession,
	zk.StateSyncConnected: StateSyncConnected,
	zk.StateExpired:       StateExpired,
}

var eventTypes = map[zk.EventType]EventType{
	zk.EventNodeCreated:         EventNodeCreated,
	zk.EventNodeDeleted:         EventNodeDeleted,
	zk.EventNodeDataChanged:     EventNodeDataChanged,
	zk.EventNodeChildrenChanged: EventNodeChildrenChanged,
	zk.EventSession:             EventSession,
	zk.EventNotWatching:         EventNotWatching,
}

func convEvent(ev zk.Event) (Event, bool) {
	typ, ok := eventTypes[ev.Type]
	if !ok {
		return Event{}, false
	}
	e := Event{Type: typ, Path: ev.Path, Err: ErrCode(ev.Err)}
	if typ == EventSession {
		e.Path = ""
		if name, ok := stateNames[ev.State]; ok {
			e.State = name
		} else {
			e.State = fmt.Sprintf("State(%d)", int(ev.State))
		}
	}
	return e, true
}

// serverCodes names the ZooKeeper error codes go-zk reports only as
// "unknown error: N".
var serverCodes = map[int]Code{
	-1: CodeSystemError, -2: CodeRuntimeInconsistency, -3: CodeDataInconsistency,
	-5: CodeMarshallingError, -6: CodeUnimplemented, -7: CodeOperationTimeout,
	-8: CodeBadArguments, -12: "UnknownSession", -13: "NewConfigNoQuorum",
	-14: "ReconfigInProgress", -113: "InvalidCallback", -119: "NotReadOnly",
	-120: "EphemeralOnLocalSession", -121: "NoWatcher", -122: "RequestTimeout",
	-124: "SessionClosedRequireSaslAuth", -125: "QuotaExceeded", -127: "ThrottledOp",
}

var goZKErrors = []struct {
	err  error
	code Code
}{
	{zk.ErrNoNode, CodeNoNode}, {zk.ErrNodeExists, CodeNodeExists},
	{zk.ErrBadVersion, CodeBadVersion}, {zk.ErrNotEmpty, CodeNotEmpty},
	{zk.ErrNoChildrenForEphemerals, CodeNoChildrenForEphemerals},
	{zk.ErrNoAuth, CodeNoAuth}, {zk.ErrInvalidACL, CodeInvalidACL},
	{zk.ErrBadArguments, CodeBadArguments}, {zk.ErrAPIError, CodeAPIError},
	{zk.ErrSessionExpired, CodeSessionExpired}, {zk.ErrSessionMoved, CodeSessionMoved},
	{zk.ErrAuthFailed, CodeAuthFailed}, {zk.ErrClosing, CodeClosing},
	{zk.ErrNothing, "Nothing"}, {zk.ErrReconfigDisabled, "ReconfigDisabled"},
	{zk.ErrInvalidFlags, CodeInvalidFlags}, {zk.ErrInvalidPath, CodeInvalidPath},
	{zk.ErrConnectionClosed, CodeConnectionClosed}, {zk.ErrNoServer, CodeNoServer},
	{zk.ErrUnknown, "Unknown"},
}

// ErrCode maps a go-zk error value to its Code: named go-zk errors by
// identity (errors.Is), "unknown error: N" by the ZooKeeper code number,
// "invalid flag value" to CodeInvalidFlagValue. Anything else becomes
// "Other: <message>".
func ErrCode(err error) Code {
	if err == nil {
		return CodeOK
	}
	for _, e := range goZKErrors {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	msg := err.Error()
	var n int
	if _, e := fmt.Sscanf(msg, "unknown error: %d", &n); e == nil {
		if c, ok := serverCodes[n]; ok {
			return c
		}
		return Code(fmt.Sprintf("Code(%d)", n))
	}
	if strings.HasPrefix(msg, "invalid flag value") {
		return CodeInvalidFlagValue
	}
	return Code("Other: " + msg)
}
