package fakezk

import (
	"bytes"
	"fmt"
	"io"
	"slices"

	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// ServerConfig configures a simulated standalone ZooKeeper server. Zero
// fields take ZooKeeper's defaults (DefaultServerConfig).
type ServerConfig struct {
	// TickTime is ZooKeeper's basic time unit: session expiry runs in buckets
	// of one tick (ZooKeeper default 2s).
	TickTime sim.Duration
	// MinSessionTimeout and MaxSessionTimeout bound the negotiated session
	// timeout (defaults 2 and 20 ticks).
	MinSessionTimeout sim.Duration
	MaxSessionTimeout sim.Duration
	// ReadCost and WriteCost are how long the server's request processor
	// spends on a read and on a write (checking it, applying it, appending
	// it to the log on the process's disk); requests are processed one at a
	// time, in arrival order. FsyncCost is one fsync of that log (NewServer
	// sets it as the disk's sync cost; a slow-disk fault adds to it), which
	// runs beside the processor: writes processed while an fsync runs share
	// the next one (group commit), and every reply waits for the fsync of
	// the writes before it. Zero takes the default; a server cannot be free
	// (1ns is the least).
	ReadCost  sim.Duration
	WriteCost sim.Duration
	FsyncCost sim.Duration
	// MaxBatchSize bounds how many requests one fsync covers
	// (zookeeper.maxBatchSize, default 1000). 1 gives every write its own
	// fsync: no group commit.
	MaxBatchSize int
	// GlobalOutstandingLimit bounds the requests the server holds between
	// reading them and replying (zookeeper.globalOutstandingLimit, default
	// 1000). Past it the server stops reading each connection that has a
	// request outstanding, until that connection's outstanding requests
	// are answered and the server is back under the limit, as ZooKeeper
	// 3.8's ServerCnxn.incrOutstandingAndCheckThrottle does; the messages
	// wait in the connection (a TCP receive buffer) and do not touch the
	// session. So the server holds at most GlobalOutstandingLimit plus one
	// request per connection.
	GlobalOutstandingLimit int
	// TxnLog, when set, receives the transaction log as JSON lines, one per
	// committed change in zxid order (see txnlog.go). A write error is kept
	// (TxnLogError) and ends the log; the run goes on.
	TxnLog io.Writer
	// ContainerCheckInterval is how often empty containers are deleted
	// (znode.container.checkIntervalMs, default 60s).
	ContainerCheckInterval sim.Duration
	// ServerID goes into the top byte of session ids (default 1).
	ServerID int64
	// BugAckBeforeFsync plants a bug: replies to writes leave before the
	// fsync that makes them durable, so a crash can lose an acknowledged
	// write. Tests use it to show that the durability check catches it.
	BugAckBeforeFsync bool
	// BugKeepEphemerals plants a bug: closing or expiring a session leaves
	// its ephemerals in place. Tests use it to show that the invariant
	// "ephemerals belong to live sessions" catches such a server.
	BugKeepEphemerals bool
}

// DefaultServerConfig returns ZooKeeper's defaults and costs in the range of
// a server on local disk.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{
		TickTime:               2 * sim.Second,
		ReadCost:               50 * sim.Microsecond,
		WriteCost:              100 * sim.Microsecond,
		FsyncCost:              500 * sim.Microsecond,
		ContainerCheckInterval: 60 * sim.Second,
		ServerID:               1,
		MaxBatchSize:           1000,
		GlobalOutstandingLimit: 1000,
	}
}

func (c *ServerConfig) fill() {
	d := DefaultServerConfig()
	if c.TickTime <= 0 {
		c.TickTime = d.TickTime
	}
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = 2 * c.TickTime
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = 20 * c.TickTime
	}
	if c.ContainerCheckInterval <= 0 {
		c.ContainerCheckInterval = d.ContainerCheckInterval
	}
	if c.ServerID == 0 {
		c.ServerID = d.ServerID
	}
	if c.MaxBatchSize < 0 || c.GlobalOutstandingLimit < 0 {
		panic(fmt.Sprintf("fakezk: negative MaxBatchSize %d or GlobalOutstandingLimit %d", c.MaxBatchSize, c.GlobalOutstandingLimit))
	}
	if c.MaxBatchSize == 0 {
		c.MaxBatchSize = d.MaxBatchSize
	}
	if c.GlobalOutstandingLimit == 0 {
		c.GlobalOutstandingLimit = d.GlobalOutstandingLimit
	}
	if c.ReadCost < 0 || c.WriteCost < 0 || c.FsyncCost < 0 {
		panic("fakezk: negative server cost")
	}
	if c.ReadCost == 0 {
		c.ReadCost = d.ReadCost
	}
	if c.WriteCost == 0 {
		c.WriteCost = d.WriteCost
	}
	if c.FsyncCost == 0 {
		c.FsyncCost = d.FsyncCost
	}
	if c.MinSessionTimeout > c.MaxSessionTimeout {
		panic(fmt.Sprintf("fakezk: MinSessionTimeout %v above MaxSessionTimeout %v", c.MinSessionTimeout, c.MaxSessionTimeout))
	}
}

// Trace kinds fakezk writes.
const (
	KindZnode      = "zk.znode"       // a committed change to the tree
	KindTxn        = "zk.txn"         // a write request's result (also failed ones, which take a zxid)
	KindSession    = "zk.session"     // a session created, revalidated, refused, expired or closed
	KindWatchFire  = "zk.watch.fire"  // the server sent a watch event to a connection
	KindWatchEvent = "zk.watch.event" // a client delivered a watch event to its watcher
	KindClient     = "zk.client"      // a client's connection state changed
	KindThrottle   = "zk.throttle"    // the server stopped or resumed reading a connection
)

// session is the server's record of a client session. Sessions are durable:
// they are in the log on the server's disk, and a restarted server restores
// them from it, as ZooKeeper does.
type session struct {
	id        int64
	passwd    [16]byte
	timeout   sim.Duration
	expiresAt sim.Time
	conn      *serverConn
}

// serverConn is the server's state for one client connection (the value of
// its rpc.ServerConn): its session, the watches registered through it (they
// die with the connection) and its auth.
type serverConn struct {
	rc         *rpc.ServerConn
	session    *session
	closed     bool
	identities []Identity
	dataPaths  []string // paths this connection watches in dataWatches
	childPaths []string // ... and in childWatches
	// Throttling (ServerCnxn): requests with xid > 0 read and not answered
	// yet, and whether the server has stopped reading the connection (what
	// arrives meanwhile waits, unread, in rc).
	outstanding int
	throttled   bool
}

type queued struct {
	sc  *serverConn
	req *rpc.Request
}

// outKind says what an outItem does when it is released.
type outKind uint8

const (
	outRespond outKind = iota + 1 // answer req with msg
	outNotify                     // send the watch event msg to sc
	outClose                      // close sc
	outFinish                     // the request ends here (a batch boundary)
)

// outItem is one effect of a processed request that waits for the fsync of
// the transactions before it: FinalRequestProcessor's sends, in order.
type outItem struct {
	kind outKind
	sc   *serverConn // nil for a server-initiated transaction's finish
	req  *rpc.Request
	msg  rpc.Payload // a watch event, or an answer other than a reply
	rep  reply       // the answer, for outRespond with msg nil (held here, not allocated)
	// For outFinish: the request was a transaction (needs an fsync), and it
	// counts against sc.outstanding (xid > 0).
	txn, counted bool
}

// Server is a standalone ZooKeeper server running as a process of the world:
// one linearizable pipeline, sessions that expire in virtual time, watches.
type Server struct {
	w    *sim.World
	id   sim.ProcID
	cfg  ServerConfig
	rand *sim.Rand

	// State rebuilt from the disk's log after a crash: the tree, the last
	// zxid, the sessions.
	disk        *sim.Disk
	tree        *Tree
	zxid        int64
	sessions    map[int64]*session
	nextSession int64

	// Volatile state.
	rpc                *rpc.Server // this incarnation's
	conns              []*serverConn
	dataWatches        map[string][]*serverConn // data and exists watches
	childWatches       map[string][]*serverConn
	queue              []queued
	processFn          func()
	busy               bool
	ticking            bool
	nextContainerCheck sim.Time
	// The sync stage (SyncRequestProcessor): effects of processed requests
	// in order, whether an fsync is running, and how many of out it covers.
	out       []outItem // out[outHead:] waits; the rest is reused space
	outHead   int
	flushing  bool
	flushEnd  int // out[outHead:outHead+flushEnd] is covered by the running fsync
	inProcess int // requests read and not finished (requestsInProcess)

	txnLog   *txnLogWriter
	rec      []logOp // changes of the transaction being committed, for the logs
	diskBuf  []byte  // the record being appended to the disk
	jsonMark int     // how much of the JSON log the running fsync covers
	// The last zxid the running fsync covers, and the last one durable.
	syncZxid, durableZxid int64
	started               bool // start has run once: later starts are restarts
	// What load found on the disk: the bytes of whole records, of the file.
	diskWhole, diskLen int
	stats              ServerStats

	observers []func(Commit) // OnCommit
}

// ServerStats counts what the server's pipeline did, and what it did with
// sessions, whatever the trace level: metrics read these, not the trace.
type ServerStats struct {
	SessionsCreated     int // new sessions
	SessionsRevalidated int // reconnects to a live session
	SessionsRefused     int // connects from a client that saw a newer zxid
	ExpiredOnReconnect  int // reconnects to a session that is gone
	SessionsExpired     int // expiries (timeouts and Expire)
	SessionsClosed      int // closes asked by clients
	Recoveries          int // restarts that reloaded the sessions from disk

	Fsyncs       int64 // fsyncs of the log
	FsyncedTxns  int64 // transactions those fsyncs covered
	MaxBatch     int   // most requests one fsync covered
	Throttles    int64 // times a connection stopped being read
	MaxInProcess int   // most requests held at once
}

// NewServer adds a ZooKeeper server process named name to w and starts it.
func NewServer(w *sim.World, name string, cfg ServerConfig) *Server {
	cfg.fill()
	s := &Server{
		w:        w,
		cfg:      cfg,
		rand:     w.Rand("zk.server." + name),
		tree:     NewTree(),
		sessions: map[int64]*session{},
	}
	s.tree.rec = &s.rec
	if cfg.TxnLog != nil {
		s.txnLog = &txnLogWriter{w: cfg.TxnLog}
	}
	// Session ids: serverId in the top byte, then the start time in ms shifted
	// as ZooKeeper does, then a counter (SessionTrackerImpl.initializeNextSessionId; docs/ZOOKEEPER.md §13).
	s.nextSession = cfg.ServerID<<56 | int64(uint64(w.Now().Millis())<<24>>8) + 1
	s.id = w.AddProcess(name, sim.ProcessHooks{OnCrash: s.crash, OnRestart: s.start})
	s.disk = w.Disk(s.id)
	s.disk.SetSyncCost(sim.Fixed(cfg.FsyncCost))
	s.start()
	return s
}

// ID returns the server's process id.
func (s *Server) ID() sim.ProcID { return s.id }

// Tree returns the server's data tree. Callers must not change it; use
// Tree().Clone() to keep a snapshot.
func (s *Server) Tree() *Tree { return s.tree }

// Zxid returns the id of the last transaction applied to the tree. Its
// fsync may still be running: a crash can take it back, and the zxid with it.
func (s *Server) Zxid() int64 { return s.zxid }

// DurableZxid returns the id of the last transaction known to be on the
// disk: its fsync completed, or a restart found it there. It never goes
// back, even across a crash.
func (s *Server) DurableZxid() int64 { return s.durableZxid }

// Stats returns what the server's pipeline has done so far.
func (s *Server) Stats() ServerStats { return s.stats }

// SessionEvents returns the number of session events of every kind (the
// zk.session records), recoveries included.
func (st ServerStats) SessionEvents() int {
	return st.SessionsCreated + st.SessionsRevalidated + st.SessionsRefused + st.ExpiredOnReconnect + st.SessionsExpired + st.SessionsClosed + st.Recoveries
}

// FlushTxnLog writes the JSON log's lines of transactions still waiting for
// their fsync. Lines are held until their transaction is durable, so a
// crash never shows in the log a transaction it took back; at the end of a
// run, call FlushTxnLog before taking the dump, so that the log replays to
// it. A later crash may take back what it wrote.
func (s *Server) FlushTxnLog() {
	if s.txnLog != nil {
		s.txnLog.flush(len(s.txnLog.pending))
		s.jsonMark = 0
	}
}

// TxnLogError returns the first error writing the transaction log, if any.
func (s *Server) TxnLogError() error {
	if s.txnLog == nil {
		return nil
	}
	return s.txnLog.err
}

// SessionInfo describes a live session.
type SessionInfo struct {
	ID        int64
	Timeout   sim.Duration
	ExpiresAt sim.Time
	Connected bool
}

// Sessions returns the live sessions, by id.
func (s *Server) Sessions() []SessionInfo {
	out := make([]SessionInfo, 0, len(s.sessions))
	for _, id := range s.sessionIDs() {
		ss := s.sessions[id]
		out = append(out, SessionInfo{ID: id, Timeout: ss.timeout, ExpiresAt: ss.expiresAt, Connected: ss.conn != nil})
	}
	return out
}

// SessionAlive reports whether the server still has the session.
func (s *Server) SessionAlive(id int64) bool { _, ok := s.sessions[id]; return ok }

func (s *Server) sessionIDs() []int64 {
	ids := make([]int64, 0, len(s.sessions))
	for id := range s.sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (s *Server) start() {
	if s.started {
		if s.diskWhole < s.diskLen {
			s.disk.Truncate(diskLogFile, s.diskWhole) // the torn record
		}
		s.stats.Recoveries++
		s.w.Emit(KindSession, s.id, "recover", sim.Hex("zxid", s.zxid), sim.Int("sessions", len(s.sessions)), sim.Int("torn", s.diskLen-s.diskWhole))
	}
	s.started = true
	s.dataWatches = map[string][]*serverConn{}
	s.childWatches = map[string][]*serverConn{}
	// A restarted server gives every restored session a fresh timeout.
	for _, id := range s.sessionIDs() {
		ss := s.sessions[id]
		ss.conn = nil
		s.touch(ss)
	}
	s.nextContainerCheck = s.w.Now().Add(s.cfg.ContainerCheckInterval)
	s.rpc = rpc.NewServer(s.w, s.id, rpc.ServerConfig{
		OnConnect: s.accept,
		OnClose:   func(rc *rpc.ServerConn, _ error) { s.dropConn(rc.Value().(*serverConn)) },
	})
	handle := func(r *rpc.Request) { s.receive(r.Conn().Value().(*serverConn), r) }
	s.rpc.Handle(kindConnect, handle)
	for _, op := range ops {
		s.rpc.Handle(op.String(), handle)
	}
	s.rpc.Listen()
	s.ensureTicking()
}

func (s *Server) crash() {
	for _, ss := range s.sessions {
		ss.conn = nil // order-free: every session gets the same assignment
	}
	s.rpc, s.conns, s.queue, s.busy, s.ticking = nil, nil, nil, false, false
	s.dataWatches, s.childWatches = nil, nil
	// Replies waiting for an fsync are lost with the process; what their
	// transactions left on the disk is what the restart recovers.
	clear(s.out)
	s.out, s.outHead, s.flushing, s.flushEnd, s.inProcess = s.out[:0], 0, false, 0, 0
	if s.txnLog != nil {
		s.txnLog.pending, s.txnLog.marks = s.txnLog.pending[:0], s.txnLog.marks[:0]
	}
	s.load()
}

// load rebuilds the tree, zxid and sessions from what the crash left of the
// log on the disk, as ZooKeeper's ZKDatabase.loadDataBase does at startup
// (done at the crash here, so that a View of a crashed server shows what it
// will restart with); the restart cuts a torn last record off the file. The
// JSON log gets the transactions that reached the disk without their fsync
// completing.
func (s *Server) load() {
	data, _ := s.disk.Read(diskLogFile)
	recs, whole, err := readDiskLog(data)
	if err != nil {
		panic(err) // the disk loses and tears, it never corrupts: a bug here
	}
	s.diskWhole, s.diskLen = whole, len(data)
	t := NewTree()
	sessions := map[int64]*session{}
	var zxid int64
	for i := range recs {
		r := &recs[i]
		zxid = r.zxid
		switch r.typ {
		case recCreateSession:
			sessions[r.session] = &session{id: r.session, passwd: r.passwd, timeout: r.timeout}
		case recCloseSession:
			delete(sessions, r.session)
		}
		for _, op := range r.ops {
			if err := t.replayOp(r.zxid, r.tNs/int64(sim.Millisecond), op); err != nil {
				panic(fmt.Sprintf("fakezk: disk log zxid 0x%x: %v", r.zxid, err))
			}
		}
		if s.txnLog != nil && r.zxid > s.txnLog.written {
			s.txnLog.record(r)
		}
	}
	if s.txnLog != nil {
		s.txnLog.flush(len(s.txnLog.pending))
	}
	t.rec = &s.rec
	s.tree, s.zxid, s.durableZxid, s.sessions = t, zxid, zxid, sessions
	// Simplified: session ids go on from the last one given out, where a
	// restarted ZooKeeper starts again from the clock
	// (initializeNextSessionId); either way no id is given out twice.
}

// commit ends the transaction at s.zxid: its record, with the changes the
// tree recorded, is appended to the log on the disk (made durable by the
// next fsync) and to the JSON log.
func (s *Server) commit(typ byte, session int64, multi bool, ss *session) {
	r := diskRecord{zxid: s.zxid, tNs: int64(s.w.Now()), typ: typ, session: session, multi: multi, ops: s.rec}
	if ss != nil {
		r.timeout, r.passwd = ss.timeout, ss.passwd
	}
	s.diskBuf = appendRecord(s.diskBuf[:0], &r)
	s.disk.Append(diskLogFile, s.diskBuf)
	if s.txnLog != nil {
		s.txnLog.record(&r)
	}
	clear(s.rec)
	s.rec = s.rec[:0]
}

func (s *Server) accept(rc *rpc.ServerConn) {
	sc := &serverConn{rc: rc}
	rc.SetValue(sc)
	s.conns = append(s.conns, sc)
}

// receive touches the session (every packet counts, pings included) and
// queues the request for the pipeline. A throttled connection is not read
// (rpc.ServerConn.Pause): its requests wait, unread, until it is resumed.
func (s *Server) receive(sc *serverConn, r *rpc.Request) {
	if sc.session != nil && sc.session.conn == sc {
		s.touch(sc.session)
	}
	s.inProcess++
	s.stats.MaxInProcess = max(s.stats.MaxInProcess, s.inProcess)
	if m, ok := r.Payload().(*request); ok && m.op.counted() {
		sc.outstanding++
		if s.shouldThrottle(sc.outstanding) {
			sc.throttled = true
			sc.rc.Pause()
			s.stats.Throttles++
			if s.w.Tracing() {
				s.w.EmitConn(KindThrottle, sc.rc.Conn(), "stop", sim.Int("outstanding", sc.outstanding), sim.Int("in_process", s.inProcess))
			}
		}
	}
	s.queue = append(s.queue, queued{sc, r})
	if !s.busy {
		s.startNext()
	}
}

// shouldThrottle is ZooKeeperServer.shouldThrottle: over the global limit,
// every connection with a request outstanding stops being read.
func (s *Server) shouldThrottle(outstanding int) bool {
	return s.inProcess > s.cfg.GlobalOutstandingLimit && outstanding > 0
}

// resume reads a throttled connection again: what waited is read now, in
// order, until the connection is throttled again.
func (s *Server) resume(sc *serverConn) {
	sc.throttled = false
	if s.w.Tracing() {
		_, held := sc.rc.Paused()
		s.w.EmitConn(KindThrottle, sc.rc.Conn(), "resume", sim.Int("held", held))
	}
	sc.rc.Resume()
}

func (s *Server) cost(m rpc.Payload) sim.Duration {
	switch m := m.(type) {
	case *connectRequest:
		if m.sessionID == 0 {
			return s.cfg.WriteCost // createSession is a txn
		}
		return s.cfg.ReadCost
	case *request:
		switch {
		case m.op == opPing:
			return 0
		case m.op.isWrite():
			return s.cfg.WriteCost
		default:
			return s.cfg.ReadCost
		}
	}
	return 0
}

func (s *Server) startNext() {
	if len(s.queue) == 0 {
		s.busy = false
		return
	}
	s.busy = true
	if s.processFn == nil {
		s.processFn = s.processNext // one func value for every request
	}
	s.w.After(s.id, s.cost(s.queue[0].req.Payload()), "zk-process", s.processFn)
}

func (s *Server) processNext() {
	q := s.queue[0]
	s.queue[0] = queued{}
	s.queue = s.queue[1:]
	s.process(q.sc, q.req)
	s.startNext()
}

// respond queues the answer to r behind the transactions before it (sent
// when their fsync is done).
func (s *Server) respond(sc *serverConn, r *rpc.Request, m rpc.Payload) {
	s.out = append(s.out, outItem{kind: outRespond, sc: sc, req: r, msg: m})
}

// respondReply is respond with a reply, which is copied into the queue (rpc
// copies it again when it goes out).
func (s *Server) respondReply(sc *serverConn, r *rpc.Request, rep *reply) {
	s.out = append(s.out, outItem{kind: outRespond, sc: sc, req: r, rep: *rep})
}

// emitClose queues closing sc, in order with the sends.
func (s *Server) emitClose(sc *serverConn) {
	s.out = append(s.out, outItem{kind: outClose, sc: sc})
}

// finish ends the effects of one request (sc nil: a transaction the server
// began itself) and hands them to the sync stage, as PrepRequestProcessor
// hands a request to SyncRequestProcessor (ZooKeeper 3.8
// SyncRequestProcessor.run): a transaction is appended to the log and
// fsynced, the fsync covering every request queued behind it, at most
// MaxBatchSize of them; a request that is not a transaction passes straight
// on when nothing waits for an fsync, and otherwise waits in order, so a
// read is never answered before the writes read before it.
func (s *Server) finish(sc *serverConn, txn, counted bool) {
	s.out = append(s.out, outItem{kind: outFinish, sc: sc, txn: txn, counted: counted})
	if s.cfg.BugAckBeforeFsync {
		s.release(len(s.out) - s.outHead)
		if txn {
			s.disk.Sync(diskLogFile, nil)
		}
		if s.txnLog != nil {
			s.txnLog.flush(len(s.txnLog.pending))
		}
		return
	}
	if s.flushing {
		return
	}
	if !txn {
		s.release(len(s.out) - s.outHead)
		return
	}
	s.startFlush()
}

// startFlush starts an fsync covering out's requests up to MaxBatchSize.
func (s *Server) startFlush() {
	live := s.out[s.outHead:]
	n, end, txns := 0, len(live), int64(0)
	for i := range live {
		if live[i].kind == outFinish {
			n++
			if live[i].txn {
				txns++
			}
			if n == s.cfg.MaxBatchSize {
				end = i + 1
				break
			}
		}
	}
	s.flushing, s.flushEnd = true, end
	s.stats.Fsyncs++
	s.stats.FsyncedTxns += txns
	s.stats.MaxBatch = max(s.stats.MaxBatch, n)
	if s.txnLog != nil {
		s.jsonMark = len(s.txnLog.pending)
	}
	s.syncZxid = s.zxid
	// The fsync covers every record appended so far, so also those of
	// requests past the batch; their replies wait for the next round.
	s.disk.Sync(diskLogFile, s.flushed)
}

// flushed releases what the fsync covered; then the requests that were
// waiting for the sync stage: those before the next transaction pass
// straight on, and from it on they form the next batch.
func (s *Server) flushed() {
	s.flushing = false
	s.durableZxid = s.syncZxid
	if s.txnLog != nil {
		s.txnLog.flush(s.jsonMark)
	}
	s.release(s.flushEnd)
	live := s.out[s.outHead:]
	i := 0
	for i < len(live) {
		j := i
		for live[j].kind != outFinish {
			j++
		}
		if live[j].txn {
			break
		}
		i = j + 1
	}
	s.release(i)
	if s.outHead < len(s.out) {
		s.startFlush()
	}
}

// release carries out the first n waiting items, in order, and drops them.
func (s *Server) release(n int) {
	for i := s.outHead; i < s.outHead+n; i++ {
		it := &s.out[i]
		switch it.kind {
		case outRespond:
			switch {
			case it.sc.closed:
			case it.msg != nil:
				it.req.Respond(it.msg)
			default:
				it.req.Respond(&it.rep)
			}
		case outNotify:
			if !it.sc.closed {
				it.sc.rc.Notify(it.msg)
			}
		case outClose:
			s.closeConn(it.sc)
		case outFinish:
			if it.sc == nil {
				break // a transaction the server began itself was never read
			}
			s.inProcess--
			if it.counted {
				it.sc.outstanding--
				if it.sc.throttled && !s.shouldThrottle(it.sc.outstanding) {
					s.resume(it.sc)
				}
			}
		}
	}
	clear(s.out[s.outHead : s.outHead+n])
	s.outHead += n
	switch {
	case s.outHead == len(s.out):
		s.out, s.outHead = s.out[:0], 0
	case s.outHead > 1024 && s.outHead > len(s.out)/2:
		// Move the waiting items down, at most once per half of them
		// released: O(1) amortized.
		k := copy(s.out, s.out[s.outHead:])
		clear(s.out[k:])
		s.out, s.outHead = s.out[:k], 0
	}
}

// closeConn closes the server's end of a connection.
func (s *Server) closeConn(sc *serverConn) {
	if sc.closed {
		return
	}
	sc.rc.Close()
	s.dropConn(sc)
}

// dropConn forgets a connection that is gone: its watches go with it.
func (s *Server) dropConn(sc *serverConn) {
	if sc.closed {
		return
	}
	sc.closed = true
	if i := slices.Index(s.conns, sc); i >= 0 {
		s.conns = slices.Delete(s.conns, i, i+1)
	}
	for _, p := range sc.dataPaths {
		s.dataWatches[p] = removeConn(s.dataWatches[p], sc)
		if len(s.dataWatches[p]) == 0 {
			delete(s.dataWatches, p)
		}
	}
	for _, p := range sc.childPaths {
		s.childWatches[p] = removeConn(s.childWatches[p], sc)
		if len(s.childWatches[p]) == 0 {
			delete(s.childWatches, p)
		}
	}
	sc.dataPaths, sc.childPaths = nil, nil
	if sc.session != nil && sc.session.conn == sc {
		sc.session.conn = nil
	}
}

func removeConn(list []*serverConn, sc *serverConn) []*serverConn {
	if i := slices.Index(list, sc); i >= 0 {
		return slices.Delete(list, i, i+1)
	}
	return list
}

// process runs one request through the request processor and hands its
// effects to the sync stage.
func (s *Server) process(sc *serverConn, r *rpc.Request) {
	txn, counted := false, false
	switch m := r.Payload().(type) {
	case *connectRequest:
		txn = s.connect(sc, r, m)
	case *request:
		counted = m.op.counted()
		if sc.session == nil {
			s.closeConn(sc) // a request before the handshake: protocol error
			break
		}
		txn = s.handle(sc, r, m)
	default:
		panic(fmt.Sprintf("fakezk: server got %T", m))
	}
	s.finish(sc, txn, counted)
}

func (s *Server) negotiate(requested sim.Duration) sim.Duration {
	return min(max(requested, s.cfg.MinSessionTimeout), s.cfg.MaxSessionTimeout)
}

// connect runs a connect request and reports whether it was a transaction
// (createSession). Simplified: a reconnect's reply waits in order behind
// pending fsyncs, where ZooKeeper sends it at once.
func (s *Server) connect(sc *serverConn, r *rpc.Request, m *connectRequest) bool {
	if sc.session != nil || sc.closed {
		s.closeConn(sc)
		return false
	}
	if m.lastZxidSeen > s.zxid {
		// The client has seen a newer state than ours (ZooKeeperServer.processConnectRequest; docs/ZOOKEEPER.md §14, §15).
		s.stats.SessionsRefused++
		s.w.Emit(KindSession, s.id, "refused", sim.Hex("session", m.sessionID), sim.Hex("last_zxid_seen", m.lastZxidSeen), sim.Hex("zxid", s.zxid))
		s.emitClose(sc)
		return false
	}
	var ss *session
	if m.sessionID == 0 {
		s.zxid++ // createSession is a transaction
		ss = &session{id: s.nextSession, timeout: s.negotiate(sim.Duration(m.timeout) * sim.Millisecond)}
		s.nextSession++
		for i := range ss.passwd {
			ss.passwd[i] = byte(s.rand.Uint64())
		}
		s.sessions[ss.id] = ss
		s.stats.SessionsCreated++
		s.w.Emit(KindSession, s.id, "create", sim.Hex("session", ss.id), sim.Dur("timeout", ss.timeout), sim.Hex("zxid", s.zxid))
		s.commit(recCreateSession, ss.id, false, ss)
		s.committed(Commit{Kind: CommitCreateSession, Zxid: s.zxid, Session: ss.id})
	} else {
		ss = s.sessions[m.sessionID]
		if ss == nil || !bytes.Equal(ss.passwd[:], m.passwd[:]) {
			// Expired (or a wrong password): timeout 0 tells the client, then
			// the server closes the connection (docs/ZOOKEEPER.md §14).
			s.stats.ExpiredOnReconnect++
			s.w.Emit(KindSession, s.id, "expired-on-reconnect", sim.Hex("session", m.sessionID))
			s.respond(sc, r, &connectResponse{})
			s.emitClose(sc)
			return false
		}
		if old := ss.conn; old != nil && old != sc {
			// A newer connection for the session closes the older one (SessionMoved, docs/ZOOKEEPER.md §13).
			s.closeConn(old)
		}
		s.stats.SessionsRevalidated++
		s.w.Emit(KindSession, s.id, "revalidate", sim.Hex("session", ss.id))
	}
	ss.conn = sc
	sc.session = ss
	s.touch(ss)
	s.ensureTicking()
	s.respond(sc, r, &connectResponse{timeout: int32(ss.timeout / sim.Millisecond), sessionID: ss.id, passwd: ss.passwd})
	return m.sessionID == 0
}

// touch moves the session's expiry to the end of the tick bucket after now +
// timeout, as ZooKeeper's ExpiryQueue does: expiry comes timeout to
// timeout+tick after the last packet (docs/ZOOKEEPER.md §13).
func (s *Server) touch(ss *session) {
	tick := sim.Time(s.cfg.TickTime)
	deadline := s.w.Now().Add(ss.timeout)
	ss.expiresAt = (deadline/tick + 1) * tick
}

// ensureTicking runs the expiry clock while there are sessions.
func (s *Server) ensureTicking() {
	if s.ticking || len(s.sessions) == 0 {
		return
	}
	s.ticking = true
	tick := sim.Time(s.cfg.TickTime)
	next := (s.w.Now()/tick + 1) * tick
	s.w.At(s.id, next, "zk-tick", s.tick)
}

// tick expires sessions and reaps containers. Simplified: their
// transactions apply when the tick runs, not queued behind the requests
// waiting in the processor (their replies and closes still go out in order).
func (s *Server) tick() {
	s.ticking = false
	now := s.w.Now()
	for _, id := range s.sessionIDs() {
		if ss := s.sessions[id]; ss != nil && ss.expiresAt <= now {
			s.closeSession(ss, "expire")
			s.finish(nil, true, false)
		}
	}
	if now >= s.nextContainerCheck {
		s.nextContainerCheck = now.Add(s.cfg.ContainerCheckInterval)
		for _, p := range s.tree.EmptyContainers() {
			s.zxid++
			changes, err := s.tree.DeleteContainer(s.zxid, p)
			s.emitTxn("deleteContainer", p, s.zxid, 0, err)
			s.commit(recOps, 0, false, nil)
			s.committed(Commit{Kind: CommitWrite, Zxid: s.zxid, Changes: changes})
			s.fire(changes)
			s.finish(nil, true, false)
		}
	}
	s.ensureTicking()
}

// Expire expires a session now, as if it had timed out: the fault a scenario
// injects for "session expiry". It reports whether it did: the session must
// exist and the server must be running.
func (s *Server) Expire(sessionID int64) bool {
	ss := s.sessions[sessionID]
	if ss == nil || !s.w.IsUp(s.id) {
		return false
	}
	s.closeSession(ss, "expire")
	s.finish(nil, true, false)
	return true
}

// closeSession commits a closeSession transaction: the session's ephemerals
// go at one zxid and their watches fire; after an expiry the server then
// closes the session's connection. The caller finishes the request.
func (s *Server) closeSession(ss *session, why string) {
	s.zxid++
	var changes []Change
	if !s.cfg.BugKeepEphemerals {
		changes = s.tree.CloseSession(s.zxid, ss.id)
	}
	s.commit(recCloseSession, ss.id, false, nil) // with the ephemerals it deletes
	delete(s.sessions, ss.id)
	if why == "expire" {
		s.stats.SessionsExpired++
	} else {
		s.stats.SessionsClosed++
	}
	if s.w.Tracing() {
		s.w.Emit(KindSession, s.id, why, sim.Hex("session", ss.id), sim.Hex("zxid", s.zxid), sim.Int("ephemerals", countDeletes(changes)))
	}
	s.traceChanges(changes)
	s.committed(Commit{Kind: CommitCloseSession, Zxid: s.zxid, Session: ss.id, Changes: changes})
	s.fire(changes)
	if ss.conn != nil && why == "expire" {
		s.emitClose(ss.conn)
	}
}

// emitTxn traces a write's result: its op as the label, path, zxid, the
// session that asked (0 for the server's own), and the error if it failed.
func (s *Server) emitTxn(op, path string, zxid, session int64, err error) {
	if !s.w.Tracing() {
		return
	}
	if err != nil {
		s.w.Emit(KindTxn, s.id, op, sim.Str("path", path), sim.Hex("zxid", zxid), sim.Hex("session", session), sim.Str("err", err.Error()))
		return
	}
	s.w.Emit(KindTxn, s.id, op, sim.Str("path", path), sim.Hex("zxid", zxid), sim.Hex("session", session))
}

func countDeletes(changes []Change) int {
	n := 0
	for _, c := range changes {
		if c.Type == EventNodeDeleted {
			n++
		}
	}
	return n
}

func (s *Server) traceChanges(changes []Change) {
	if !s.w.Tracing() {
		return
	}
	for _, c := range changes {
		if c.Type != EventNodeChildrenChanged {
			s.w.Emit(KindZnode, s.id, c.Type.String(), sim.Str("path", c.Path), sim.Hex("zxid", s.zxid))
		}
	}
}

// fire sends the watch events of committed changes, in change order, and
// removes the watches (they are one-shot). A deleted node's data and child
// watchers get one event per connection.
func (s *Server) fire(changes []Change) {
	for _, ch := range changes {
		var targets []*serverConn
		switch ch.Type {
		case EventNodeCreated, EventNodeDataChanged:
			targets = s.takeWatches(s.dataWatches, ch.Path, nil, false)
		case EventNodeChildrenChanged:
			targets = s.takeWatches(s.childWatches, ch.Path, nil, true)
		case EventNodeDeleted:
			targets = s.takeWatches(s.dataWatches, ch.Path, nil, false)
			targets = s.takeWatches(s.childWatches, ch.Path, targets, true)
		}
		for _, sc := range targets {
			// The watch is used up either way, but a watcher without READ on
			// the node hears nothing (seen on the 3.8.0 server the
			// conformance test runs, as Debian ships it).
			if allowed(ch.ACL, PermRead, sc.identities) {
				s.sendEvent(sc, ch.Type, ch.Path)
			} else if s.w.Tracing() {
				s.w.EmitConn(KindWatchFire, sc.rc.Conn(), ch.Type.String(), sim.Str("path", ch.Path), sim.Str("suppressed", "no READ"))
			}
		}
	}
}

func (s *Server) sendEvent(sc *serverConn, t EventType, path string) {
	if s.w.Tracing() {
		s.w.EmitConn(KindWatchFire, sc.rc.Conn(), t.String(), sim.Str("path", path))
	}
	s.out = append(s.out, outItem{kind: outNotify, sc: sc, msg: &watchEvent{event: t, path: path}})
}

// takeWatches removes path's watchers from table and appends those not in
// out yet.
func (s *Server) takeWatches(table map[string][]*serverConn, path string, out []*serverConn, child bool) []*serverConn {
	list := table[path]
	if len(list) == 0 {
		return out
	}
	delete(table, path)
	for _, sc := range list {
		if child {
			sc.childPaths = removePath(sc.childPaths, path)
		} else {
			sc.dataPaths = removePath(sc.dataPaths, path)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out
}

func removePath(paths []string, p string) []string {
	if i := slices.Index(paths, p); i >= 0 {
		return slices.Delete(paths, i, i+1)
	}
	return paths
}

func (s *Server) addWatch(sc *serverConn, path string, child bool) {
	if sc.closed {
		return
	}
	table := s.dataWatches
	if child {
		table = s.childWatches
	}
	if slices.Contains(table[path], sc) {
		return // one registration per (connection, path, table)
	}
	table[path] = append(table[path], sc)
	if child {
		sc.childPaths = append(sc.childPaths, path)
	} else {
		sc.dataPaths = append(sc.dataPaths, path)
	}
}

func (s *Server) caller(sc *serverConn) Caller {
	return Caller{Session: sc.session.id, Identities: sc.identities}
}

// handle runs one request of an established session and reports whether it
// was a transaction.
func (s *Server) handle(sc *serverConn, r *rpc.Request, m *request) bool {
	rep := &reply{op: m.op} // does not escape: respondReply copies it
	if m.op.isWrite() {
		if m.op != opMulti && m.op != opCloseSession && PacketTooLarge(m.path, m.data) {
			// jute.maxbuffer: no answer, the connection is closed, nothing applied (NIOServerCnxn; docs/ZOOKEEPER.md §11).
			s.w.Emit(KindTxn, s.id, m.op.String(), sim.Str("path", m.path), sim.Str("err", "packet too large, connection closed"))
			s.closeConn(sc)
			return false
		}
		if _, alive := s.sessions[sc.session.id]; !alive {
			rep.err = ErrSessionExpired
			rep.zxid = s.zxid
			s.respondReply(sc, r, rep)
			return false
		}
		if m.op == opCloseSession {
			s.closeSession(sc.session, "close") // takes its own zxid
			rep.zxid = s.zxid
			s.respondReply(sc, r, rep)
			s.emitClose(sc)
			return true
		}
		s.zxid++
		rep.zxid = s.zxid
		s.write(sc, r, m, rep)
		return true
	}
	rep.zxid = s.zxid
	c := s.caller(sc)
	var err error
	switch m.op {
	case opPing:
	case opGetData:
		// The tree's own slice: the tree replaces a node's data, never
		// changes it, and rpc copies the reply when it goes out.
		rep.data, rep.stat, err = s.tree.Get(c, m.path)
		if err == nil && m.watch {
			s.addWatch(sc, m.path, false)
		}
	case opExists:
		var ok bool
		rep.stat, ok = s.tree.Exists(m.path)
		if !validPath(m.path, false) {
			err = ErrBadArguments
		} else {
			if !ok {
				err = ErrNoNode
			}
			if m.watch {
				s.addWatch(sc, m.path, false) // also on an absent node (DataTree.statNode; docs/ZOOKEEPER.md §8)
			}
		}
	case opGetChildren2:
		l := &replyLists{}
		l.children, rep.stat, err = s.tree.Children(c, m.path)
		rep.more = l
		if err == nil && m.watch {
			s.addWatch(sc, m.path, true)
		}
	case opGetACL:
		l := &replyLists{}
		l.acl, rep.stat, err = s.tree.GetACL(c, m.path) // copied by rpc, as data is
		rep.more = l
	case opSync:
		rep.path = m.path // no existence check, no zxid (docs/ZOOKEEPER.md §8)
	case opSetAuth:
		if m.session.authScheme != "digest" {
			rep.err = ErrAuthFailed
			s.respondReply(sc, r, rep)
			s.emitClose(sc)
			return false
		}
		sc.identities = addIdentity(sc.identities, DigestIdentity(m.session.authData))
	case opSetWatches:
		s.setWatches(sc, m)
	default:
		err = ErrUnimplemented
	}
	rep.err = codeOf(err)
	s.respondReply(sc, r, rep)
	return false
}

func codeOf(err error) ErrCode { return ErrCode(CodeOf(err)) }

// write applies a transaction at rep.zxid.
func (s *Server) write(sc *serverConn, r *rpc.Request, m *request, rep *reply) {
	c := s.caller(sc)
	timeMs := s.w.Now().Millis()
	var changes []Change
	var err error
	switch m.op {
	case opCreate, opCreateContainer:
		flags := m.flags
		if m.op == opCreate && flags == FlagContainer {
			// A plain create's txn carries only the ephemeral bit: flag 4 commits a persistent node.
			flags = FlagPersistent
		}
		if m.op == opCreateContainer && flags != FlagContainer {
			err = ErrBadArguments
			break
		}
		rep.path, changes, err = s.tree.Create(c, rep.zxid, timeMs, m.path, m.data, m.acl, flags)
		if err == ErrInvalidFlags {
			err = ErrBadArguments // the server's answer to flags it cannot parse
		}
	case opDelete:
		changes, err = s.tree.Delete(c, rep.zxid, m.path, m.version)
	case opSetData:
		rep.stat, changes, err = s.tree.Set(c, rep.zxid, timeMs, m.path, m.data, m.version)
	case opSetACL:
		rep.stat, err = s.tree.SetACL(c, rep.zxid, m.path, m.acl, m.version)
	case opMulti:
		l := &replyLists{}
		l.multi, changes, err = s.tree.Multi(c, rep.zxid, timeMs, m.ops)
		rep.more = l
		err = nil // the reply header of a multi is always OK (FinalRequestProcessor; docs/ZOOKEEPER.md §9)
	}
	rep.err = codeOf(err)
	s.emitTxn(m.op.String(), m.path, rep.zxid, sc.session.id, err)
	s.traceChanges(changes)
	s.commit(recOps, sc.session.id, m.op == opMulti, nil)
	s.committed(Commit{Kind: CommitWrite, Zxid: rep.zxid, Session: sc.session.id, Changes: changes})
	s.fire(changes)
	s.respondReply(sc, r, rep)
}

// setWatches re-arms a reconnected client's watches, firing at once those
// whose node changed after relZxid (DataTree.setWatches; docs/ZOOKEEPER.md §14).
func (s *Server) setWatches(sc *serverConn, m *request) {
	for _, p := range m.session.dataW {
		st, ok := s.tree.Exists(p)
		switch {
		case !ok:
			s.sendEvent(sc, EventNodeDeleted, p)
		case st.Mzxid > m.session.relZxid:
			s.sendEvent(sc, EventNodeDataChanged, p)
		default:
			s.addWatch(sc, p, false)
		}
	}
	for _, p := range m.session.existW {
		if _, ok := s.tree.Exists(p); ok {
			s.sendEvent(sc, EventNodeCreated, p)
		} else {
			s.addWatch(sc, p, false)
		}
	}
	for _, p := range m.session.childW {
		st, ok := s.tree.Exists(p)
		switch {
		case !ok:
			s.sendEvent(sc, EventNodeDeleted, p)
		case st.Pzxid > m.session.relZxid:
			s.sendEvent(sc, EventNodeChildrenChanged, p)
		default:
			s.addWatch(sc, p, true)
		}
	}
}
