package kafkazk

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/sim"
)

// env is a world with one ZooKeeper server and one broker process whose
// Client is made at time 0.
type env struct {
	t   *testing.T
	w   *sim.World
	zk  *fakezk.Server
	p   sim.ProcID
	c   *Client
	mem *sim.MemorySink
}

const latency = 5 * sim.Millisecond

func newEnv(t *testing.T, cfg Config, srv fakezk.ServerConfig) *env {
	t.Helper()
	return newSeededEnv(t, 1, cfg, srv)
}

func newSeededEnv(t *testing.T, seed uint64, cfg Config, srv fakezk.ServerConfig) *env {
	t.Helper()
	e := &env{t: t, mem: &sim.MemorySink{}}
	e.w = sim.New(sim.Options{Seed: seed, Latency: sim.Fixed(latency), ConnBreakDetect: 100 * sim.Millisecond,
		MaxTime: 10 * sim.Minute, Sinks: []sim.Sink{e.mem}})
	if srv.TickTime == 0 {
		srv.TickTime = 500 * sim.Millisecond
	}
	e.zk = fakezk.NewServer(e.w, "zk", srv)
	e.p = e.w.AddProcess("broker", sim.ProcessHooks{})
	cfg.Servers = []sim.ProcID{e.zk.ID()}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 6 * sim.Second
	}
	e.w.At(e.p, 0, "start", func() { e.c = New(e.w, e.p, cfg) })
	e.run(100 * sim.Millisecond)
	require.Equal(t, fakezk.StateSyncConnected, e.c.State())
	return e
}

func (e *env) run(d sim.Duration) { e.w.RunFor(d) }

// do runs fn now as an event of the broker process.
func (e *env) do(fn func()) { e.w.At(e.p, e.w.Now(), "test", fn) }

// handle sends reqs through the Client and returns a pointer that holds the
// responses once they have come.
func (e *env) handle(reqs ...fakezk.Request) *[]fakezk.Response {
	var out []fakezk.Response
	got := &out
	e.do(func() {
		e.c.Handle(reqs, func(rs []fakezk.Response) {
			require.Nil(e.t, *got, "Handle answered twice")
			*got = rs
		})
	})
	return got
}

// records returns the labels of the trace records of kind, in order.
func (e *env) records(kind string) []sim.Record {
	var out []sim.Record
	for _, r := range e.mem.All() {
		if r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

func attrInt(t *testing.T, r sim.Record, key string) int64 {
	a, ok := r.Attr(key)
	require.True(t, ok, "record %v has no %s", r, key)
	return a.Num
}

func acl() []fakezk.ACL { return fakezk.WorldACL(fakezk.PermAll) }

// A batch answers once, in request order, and never has more than
// MaxInFlight requests at the server at once.
func TestHandlePipelinesInRequestOrderWithinTheInFlightBound(t *testing.T) {
	for _, maxInFlight := range []int{1, 3, 10} {
		t.Run(fmt.Sprint(maxInFlight), func(t *testing.T) {
			e := newEnv(t, Config{MaxInFlight: maxInFlight}, fakezk.ServerConfig{})
			var reqs []fakezk.Request
			for i := range 12 {
				reqs = append(reqs, &fakezk.CreateRequest{Path: fmt.Sprintf("/n%02d", i), Acl: acl()})
			}
			reqs = append(reqs, &fakezk.GetChildrenRequest{Path: "/"})
			start := e.w.Now()
			got := e.handle(reqs...)
			e.run(sim.Second)
			require.Len(t, *got, 13)
			for i := range 12 {
				assert.NoError(t, (*got)[i].Err)
				assert.Equal(t, fmt.Sprintf("/n%02d", i), (*got)[i].Path)
			}
			assert.Len(t, (*got)[12].Children, 13, "the children read went last: every create is in")
			// Each request costs one round trip (2 × latency) plus the
			// server's work; with MaxInFlight slots, 13 requests need at
			// least ceil(13/MaxInFlight) round trips.
			var done sim.Time
			for _, r := range e.mem.All() {
				if r.Kind == fakezk.KindTxn {
					done = r.At
				}
			}
			// The 12th create is applied one way plus (rounds-1) round trips
			// after the send.
			rounds := (12 + maxInFlight - 1) / maxInFlight
			assert.GreaterOrEqual(t, done.Sub(start), latency+sim.Duration(rounds-1)*2*latency,
				"fewer round trips than the in-flight bound allows")
		})
	}
}

// A batch in flight when the connection drops reaches the server (the
// client closed its end after sending), but the replies are lost: every
// request is sent again once reconnected, on the same session, and each
// meets the effect of its first attempt. The create answers NodeExists
// (its own success) and the setData is applied twice: retried requests are
// not idempotent, which callers must handle.
func TestRetryAcrossADroppedConnection(t *testing.T) {
	e := newEnv(t, Config{}, fakezk.ServerConfig{})
	session := e.c.SessionID()
	got := e.handle(
		&fakezk.CreateRequest{Path: "/a", Data: []byte("1"), Acl: acl()},
		&fakezk.GetDataRequest{Path: "/"},
		&fakezk.SetDataRequest{Path: "/a", Data: []byte("2"), Version: -1},
	)
	e.do(func() { e.c.zk.DropConnection() })
	e.run(5 * sim.Second)
	require.Len(t, *got, 3)
	assert.ErrorIs(t, (*got)[0].Err, fakezk.ErrNodeExists, "the retried create met its own success")
	assert.NoError(t, (*got)[1].Err)
	require.NoError(t, (*got)[2].Err)
	assert.EqualValues(t, 2, (*got)[2].Stat.Version, "the setData was applied by both attempts")
	assert.Equal(t, session, e.c.SessionID(), "the same session")
	retries := e.records(KindRetry)
	require.Len(t, retries, 1, "one retry round, sent once reconnected")
	assert.EqualValues(t, 3, attrInt(t, retries[0], "requests"))
}

// A create caught by a partition is sent again once the partition heals.
// Cut before it reaches the server, the retry creates the node; cut after
// the server applied it, the retry meets its own create as NodeExists: the
// caller must read the node to know whose it is (see CreateCheckedEphemeral).
func TestRetryAcrossAPartition(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cutAt sim.Duration // after the send
		err   error
	}{
		{"lost before the server", 0, nil},
		{"applied, reply lost", latency + sim.Millisecond + 500*sim.Microsecond, fakezk.ErrNodeExists},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{}, fakezk.ServerConfig{})
			session := e.c.SessionID()
			var cut sim.CutID
			e.w.At(sim.Kernel, e.w.Now().Add(tc.cutAt), "cut", func() {
				cut = e.w.Partition([]sim.ProcID{e.p}, []sim.ProcID{e.zk.ID()})
			})
			got := e.handle(&fakezk.CreateRequest{Path: "/x", Data: []byte("mine"), Acl: acl(), Flags: fakezk.FlagEphemeral})
			e.run(2 * sim.Second)
			assert.Nil(t, *got, "no answer while partitioned: the request waits for a connection")
			_, applied := e.zk.Tree().Exists("/x")
			assert.Equal(t, tc.err != nil, applied)
			e.w.At(sim.Kernel, e.w.Now(), "heal", func() { e.w.HealCut(cut) })
			e.run(5 * sim.Second)
			require.Len(t, *got, 1)
			if tc.err != nil {
				assert.ErrorIs(t, (*got)[0].Err, tc.err)
			} else {
				assert.NoError(t, (*got)[0].Err)
			}
			assert.Equal(t, []string{"/x"}, e.zk.Tree().Ephemerals(session), "the node is there, the session's")
			assert.NotEmpty(t, e.records(KindRetry))
		})
	}
}

// Expiry re-initialises: every state handler's Before (in name order),
// a new session, every handler's After; requests of the new session work.
func TestReinitializeOnExpiry(t *testing.T) {
	e := newEnv(t, Config{}, fakezk.ServerConfig{})
	var log []string
	for _, name := range []string{"controller", "broker-epoch"} {
		e.do(func() {
			e.c.RegisterStateChangeHandler(StateChangeHandler{
				Name:                      name,
				BeforeInitializingSession: func() { log = append(log, "before "+name+" "+fmt.Sprintf("%x", e.c.SessionID())) },
				AfterInitializingSession:  func() { log = append(log, fmt.Sprintf("after %s %v %x", name, e.c.State(), e.c.SessionID())) },
			})
		})
	}
	e.run(10 * sim.Millisecond)
	old := e.c.SessionID()
	e.w.At(sim.Kernel, e.w.Now(), "expire", func() { require.True(t, e.zk.Expire(old)) })
	e.run(5 * sim.Second)
	// The Java client keeps its session id on the finished handle, so the
	// before handlers still see the old one; the after handlers see the new
	// handle, still connecting (new ZooKeeper(...) does not wait).
	want := []string{
		fmt.Sprintf("before broker-epoch %x", old), fmt.Sprintf("before controller %x", old),
		"after broker-epoch StateConnecting 0", "after controller StateConnecting 0",
	}
	assert.Equal(t, want, log)
	require.Equal(t, fakezk.StateSyncConnected, e.c.State())
	assert.NotEqual(t, old, e.c.SessionID(), "a new session")
	assert.Equal(t, 1, e.c.Reinitializations())
	var labels []string
	for _, r := range e.records(KindReinit) {
		labels = append(labels, r.Label)
	}
	assert.Equal(t, []string{"expired", "before", "new-handle", "after"}, labels)
	got := e.handle(&fakezk.CreateRequest{Path: "/after", Acl: acl(), Flags: fakezk.FlagEphemeral})
	e.run(sim.Second)
	require.Len(t, *got, 1)
	require.NoError(t, (*got)[0].Err)
	assert.Equal(t, []string{"/after"}, e.zk.Tree().Ephemerals(e.c.SessionID()))
}

// A request waiting for a connection when the session expires fails with
// SessionExpired (waitUntilConnected throws), it is not sent on the new
// session.
func TestWaitingRequestFailsOnExpiry(t *testing.T) {
	e := newEnv(t, Config{}, fakezk.ServerConfig{})
	old := e.c.SessionID()
	cut := e.w.Partition([]sim.ProcID{e.p}, []sim.ProcID{e.zk.ID()})
	got := e.handle(&fakezk.CreateRequest{Path: "/late", Acl: acl()})
	e.run(10 * sim.Second) // past the 6 s session timeout: the server expires it
	assert.False(t, e.zk.SessionAlive(old))
	e.w.At(sim.Kernel, e.w.Now(), "heal", func() { e.w.HealCut(cut) })
	e.run(10 * sim.Second)
	require.Len(t, *got, 1)
	assert.ErrorIs(t, (*got)[0].Err, fakezk.ErrSessionExpired)
	_, ok := e.zk.Tree().Exists("/late")
	assert.False(t, ok, "not sent on the new session")
	assert.NotEqual(t, old, e.c.SessionID())
}

// A watch is armed only by a read of a path with a registered handler, fires
// once, and is armed again only by the next read; the handler map survives
// re-initialisation, the watch does not.
func TestWatchArmedOnlyByRead(t *testing.T) {
	e := newEnv(t, Config{}, fakezk.ServerConfig{})
	var fired []string
	set := func(data string) {
		e.handle(&fakezk.SetDataRequest{Path: "/w", Data: []byte(data), Version: -1})
		e.run(100 * sim.Millisecond)
	}
	e.handle(&fakezk.CreateRequest{Path: "/w", Acl: acl()})
	// A read before the handler is registered arms nothing either.
	e.handle(&fakezk.GetDataRequest{Path: "/w"}, &fakezk.ExistsRequest{Path: "/w"})
	e.run(100 * sim.Millisecond)
	e.do(func() {
		e.c.RegisterZNodeChangeHandler(ZNodeChangeHandler{Path: "/w",
			HandleDataChange: func() { fired = append(fired, "data") },
			HandleDeletion:   func() { fired = append(fired, "deleted") },
		})
	})
	e.run(100 * sim.Millisecond)
	set("1")
	assert.Empty(t, fired, "neither an unwatched read nor registering a handler sets a watch")
	// Two reads arm one watch: the handler hears the change once.
	e.handle(&fakezk.GetDataRequest{Path: "/w"}, &fakezk.ExistsRequest{Path: "/w"})
	e.run(100 * sim.Millisecond)
	set("2")
	assert.Equal(t, []string{"data"}, fired)
	set("3")
	assert.Equal(t, []string{"data"}, fired, "a fired watch is not re-armed without a read")
	e.handle(&fakezk.GetDataRequest{Path: "/w"})
	e.run(100 * sim.Millisecond)
	// A new session drops the watch but keeps the handler.
	e.w.At(sim.Kernel, e.w.Now(), "expire", func() { e.zk.Expire(e.c.SessionID()) })
	e.run(3 * sim.Second)
	require.Equal(t, 1, e.c.Reinitializations())
	set("4")
	assert.Equal(t, []string{"data"}, fired, "the old session's watch is gone")
	e.handle(&fakezk.ExistsRequest{Path: "/w"})
	e.run(100 * sim.Millisecond)
	e.handle(&fakezk.DeleteRequest{Path: "/w", Version: -1})
	e.run(100 * sim.Millisecond)
	assert.Equal(t, []string{"data", "deleted"}, fired, "the kept handler, re-armed by a read")
	// Children: same rule.
	var children int
	e.do(func() {
		e.c.RegisterZNodeChildChangeHandler(ZNodeChildChangeHandler{Path: "/", HandleChildChange: func() { children++ }})
	})
	e.handle(&fakezk.CreateRequest{Path: "/c1", Acl: acl()})
	e.run(100 * sim.Millisecond)
	assert.Zero(t, children)
	e.handle(&fakezk.GetChildrenRequest{Path: "/"})
	e.run(100 * sim.Millisecond)
	e.handle(&fakezk.CreateRequest{Path: "/c2", Acl: acl()})
	e.run(100 * sim.Millisecond)
	assert.Equal(t, 1, children)
}

// RegisterZNodeChangeHandlerAndCheckExistence arms an exists watch on a
// missing node, which its creation fires.
func TestRegisterAndCheckExistence(t *testing.T) {
	e := newEnv(t, Config{}, fakezk.ServerConfig{})
	var created int
	var exists *bool
	e.do(func() {
		e.c.RegisterZNodeChangeHandlerAndCheckExistence(
			ZNodeChangeHandler{Path: "/controller", HandleCreation: func() { created++ }},
			func(ok bool, err error) { require.NoError(t, err); exists = &ok })
	})
	e.run(100 * sim.Millisecond)
	require.NotNil(t, exists)
	assert.False(t, *exists)
	e.handle(&fakezk.CreateRequest{Path: "/controller", Acl: acl(), Flags: fakezk.FlagEphemeral})
	e.run(100 * sim.Millisecond)
	assert.Equal(t, 1, created)
}

// A read carrying its own watch callback is a programmer error.
func TestHandleRefusesWatchCallbacks(t *testing.T) {
	e := newEnv(t, Config{}, fakezk.ServerConfig{})
	for _, r := range []fakezk.Request{
		&fakezk.GetDataRequest{Path: "/", Watch: noWatch},
		&fakezk.ExistsRequest{Path: "/", Watch: noWatch},
		&fakezk.GetChildrenRequest{Path: "/", Watch: noWatch},
		nil,
	} {
		assert.Panics(t, func() { e.c.Handle([]fakezk.Request{r}, func([]fakezk.Response) {}) })
	}
}

// ephemeralResult is what CreateCheckedEphemeral answered.
type ephemeralResult struct {
	czxid int64
	err   error
	done  bool
}

func (e *env) checked(path, data string) *ephemeralResult {
	res := &ephemeralResult{}
	e.do(func() {
		e.c.CreateCheckedEphemeral(path, []byte(data), func(czxid int64, err error) {
			require.False(e.t, res.done, "answered twice")
			*res = ephemeralResult{czxid: czxid, err: err, done: true}
		})
	})
	return res
}

func (e *env) ephemeralLabels() []string {
	var out []string
	for _, r := range e.records(KindEphemeral) {
		out = append(out, r.Label)
	}
	return out
}

// The checked ephemeral by era, on the situations of the 2.2+ form's
// three branches. A server planted with BugKeepEphemerals leaves an expired
// session's ephemeral in place, which is how the old node outlives the
// session (ZOOKEEPER-2985) in the KAFKA-7165 cases.
func TestCheckedEphemeral(t *testing.T) {
	type situation int
	const (
		fresh         situation = iota // nothing there
		ownAfterLoss                   // our own create landed before a ConnectionLoss
		lastSession                    // the node of our last registration, its session expired
		foreign                        // another live session's node
		lastSessionOK                  // the expired session's node, removed by a correct server
	)
	for _, tc := range []struct {
		name   string
		era    Era
		sit    situation
		labels []string
		err    error
		epoch  bool // a broker epoch (czxid) is reported
	}{
		{"2.2 fresh", Era22, fresh, []string{"created"}, nil, true},
		{"2.2 own node after a lost reply", Era22, ownAfterLoss, []string{"own"}, nil, true},
		{"2.2 last session's node is deleted and re-created", Era22, lastSession, []string{"recreate", "created"}, nil, true},
		{"2.2 foreign node refused", Era22, foreign, []string{"exists", "failed"}, fakezk.ErrNodeExists, false},
		{"2.2 after a clean expiry", Era22, lastSessionOK, []string{"created"}, nil, true},
		{"0.9 fresh", Era09, fresh, []string{"created"}, nil, false},
		{"0.9 own node after a lost reply", Era09, ownAfterLoss, []string{"own"}, nil, false},
		// KAFKA-7165: the last session's node makes re-registration fail.
		{"0.9 last session's node: NodeExists (KAFKA-7165)", Era09, lastSession, []string{"exists", "failed"}, fakezk.ErrNodeExists, false},
		{"0.9 foreign node refused", Era09, foreign, []string{"exists", "failed"}, fakezk.ErrNodeExists, false},
		{"0.8 own node after a lost reply (same bytes)", Era08, ownAfterLoss, []string{"own"}, nil, false},
		{"0.8 foreign node refused", Era08, foreign, []string{"exists", "failed"}, fakezk.ErrNodeExists, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{Era: tc.era}, fakezk.ServerConfig{BugKeepEphemerals: tc.sit == lastSession})
			const path, data = "/brokers/ids/1", `{"host":"b1"}`
			e.handle(&fakezk.CreateRequest{Path: "/brokers", Acl: acl()}, &fakezk.CreateRequest{Path: "/brokers/ids", Acl: acl()})
			e.run(100 * sim.Millisecond)
			var res *ephemeralResult
			switch tc.sit {
			case ownAfterLoss:
				// Our create lands; its reply is lost to a partition; the
				// retry after the heal meets it.
				res = e.checked(path, data)
				e.w.At(sim.Kernel, e.w.Now().Add(latency+sim.Millisecond+500*sim.Microsecond), "cut", func() {
					cut := e.w.Partition([]sim.ProcID{e.p}, []sim.ProcID{e.zk.ID()})
					e.w.After(sim.Kernel, sim.Second, "heal", func() { e.w.HealCut(cut) })
				})
			case lastSession, lastSessionOK:
				first := e.checked(path, data)
				e.run(100 * sim.Millisecond)
				require.NoError(t, first.err)
				e.w.At(sim.Kernel, e.w.Now(), "expire", func() { e.zk.Expire(e.c.SessionID()) })
				e.run(3 * sim.Second)
				require.Equal(t, fakezk.StateSyncConnected, e.c.State())
			case foreign:
				other := e.w.AddProcess("other", sim.ProcessHooks{})
				e.w.At(other, e.w.Now(), "other", func() {
					oc := fakezk.Connect(e.w, other, []sim.ProcID{e.zk.ID()}, fakezk.ClientConfig{SessionTimeout: 6 * sim.Second, Mode: fakezk.JavaClient})
					oc.Create(path, []byte(`{"host":"b9"}`), fakezk.FlagEphemeral, acl(), func(_ string, err error) { require.NoError(t, err) })
				})
				e.run(100 * sim.Millisecond)
			}
			before := len(e.ephemeralLabels())
			if res == nil {
				res = e.checked(path, data)
			}
			e.run(10 * sim.Second)
			require.True(t, res.done)
			if tc.sit == ownAfterLoss {
				require.NotEmpty(t, e.records(KindRetry), "the create was retried")
			}
			assert.Equal(t, tc.labels, e.ephemeralLabels()[before:])
			if tc.err != nil {
				assert.ErrorIs(t, res.err, tc.err)
				return
			}
			require.NoError(t, res.err)
			stat, ok := e.zk.Tree().Exists(path)
			require.True(t, ok)
			assert.Equal(t, e.c.SessionID(), stat.EphemeralOwner, "the current session owns the node")
			if tc.epoch {
				assert.Equal(t, stat.Czxid, res.czxid, "the broker epoch is the node's czxid")
				assert.Equal(t, e.c.SessionID(), e.c.LastRegisteredSession())
			} else {
				assert.Equal(t, NoBrokerEpoch, res.czxid)
			}
		})
	}
}

// The 2.2+ form gives a new broker epoch after an expiry, and keeps the epoch
// when the same session finds its own node.
func TestCheckedEphemeralBrokerEpoch(t *testing.T) {
	e := newEnv(t, Config{}, fakezk.ServerConfig{})
	first := e.checked("/b", "x")
	e.run(100 * sim.Millisecond)
	require.NoError(t, first.err)
	again := e.checked("/b", "x")
	e.run(100 * sim.Millisecond)
	require.NoError(t, again.err)
	assert.Equal(t, first.czxid, again.czxid, "same session: the node is ours, same epoch")
	e.w.At(sim.Kernel, e.w.Now(), "expire", func() { e.zk.Expire(e.c.SessionID()) })
	e.run(3 * sim.Second)
	third := e.checked("/b", "x")
	e.run(100 * sim.Millisecond)
	require.NoError(t, third.err)
	assert.Greater(t, third.czxid, first.czxid, "a new session registers a new epoch")
}

// KAFKA-1387 in the 0.8 form: our current session's node with other data
// (a second registration after its first create's reply was lost) passes
// the checker, so the form waits a session timeout and retries, forever:
// the node never goes, its session is alive.
func TestCheckedEphemeral08WaitsForeverForItsOwnNode(t *testing.T) {
	e := newEnv(t, Config{Era: Era08, SameOwner: func(stored []byte) bool { return len(stored) > 0 && stored[0] == '1' }}, fakezk.ServerConfig{})
	e.handle(&fakezk.CreateRequest{Path: "/b", Data: []byte("1@t1"), Acl: acl(), Flags: fakezk.FlagEphemeral})
	e.run(100 * sim.Millisecond)
	res := e.checked("/b", "1@t2")
	e.run(2 * sim.Minute)
	assert.False(t, res.done, "never completes")
	var waits int
	for _, l := range e.ephemeralLabels() {
		if l == "wait" {
			waits++
		}
	}
	assert.GreaterOrEqual(t, waits, int(2*sim.Minute/(6*sim.Second))-1, "one attempt per session timeout")
}

// The top-level paths of a 2.6 broker, created with their parents; a second
// run finds them all and succeeds.
func TestCreateTopLevelPaths(t *testing.T) {
	e := newEnv(t, Config{}, fakezk.ServerConfig{})
	for range 2 {
		var err error
		done := false
		e.do(func() { e.c.CreateTopLevelPaths(func(e error) { err, done = e, true }) })
		e.run(sim.Second)
		require.True(t, done)
		require.NoError(t, err)
	}
	for _, p := range append(PersistentPaths(), "/brokers", "/config", "/admin") {
		_, ok := e.zk.Tree().Exists(p)
		assert.True(t, ok, p)
	}
	assert.Equal(t, "/brokers/topics/t/partitions/3/state", PartitionStatePath("t", 3))
	assert.Equal(t, "/brokers/ids/7", BrokerIDPath(7))
}

// A create under an ephemeral fails, and the error names the path.
func TestMakeSurePersistentPathExistsReportsErrors(t *testing.T) {
	e := newEnv(t, Config{}, fakezk.ServerConfig{})
	e.handle(&fakezk.CreateRequest{Path: "/eph", Acl: acl(), Flags: fakezk.FlagEphemeral})
	e.run(100 * sim.Millisecond)
	var err error
	e.do(func() { e.c.MakeSurePersistentPathExists("/eph/a/b", func(e error) { err = e }) })
	e.run(sim.Second)
	assert.ErrorIs(t, err, fakezk.ErrNoChildrenForEphemerals)
	assert.ErrorContains(t, err, "/eph/a")
}

// The same seed gives the same trace through a drop, an expiry and a
// checked re-registration; another seed moves the Java client's back-off
// and so the trace.
func TestDeterministic(t *testing.T) {
	script := func(seed uint64) string {
		e := newSeededEnv(t, seed, Config{}, fakezk.ServerConfig{BugKeepEphemerals: true})
		e.checked("/b", "x")
		e.run(100 * sim.Millisecond)
		e.do(func() { e.c.zk.DropConnection() })
		e.handle(&fakezk.CreateRequest{Path: "/p", Acl: acl()})
		e.run(3 * sim.Second)
		e.w.At(sim.Kernel, e.w.Now(), "expire", func() { e.zk.Expire(e.c.SessionID()) })
		e.run(3 * sim.Second)
		res := e.checked("/b", "x")
		e.run(sim.Second)
		require.NoError(t, res.err)
		return e.w.TraceHash()
	}
	a, b, c := script(1), script(1), script(2)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, c)
}

// The broker's use: register, and re-register from AfterInitializingSession
// (KafkaController's RegisterBrokerAndReelect). With the old session's node
// left in place (ZOOKEEPER-2985, planted), 2.2+ re-registers with a new
// epoch; 0.9–2.1 fails with NodeExists, nothing retries, and the node stays
// the dead session's: once ZooKeeper removes it, the live broker is missing
// from /brokers/ids (KAFKA-7165).
func TestReRegistrationAfterExpiry(t *testing.T) {
	for _, tc := range []struct {
		era        Era
		registered bool
	}{{Era22, true}, {Era09, false}} {
		t.Run(tc.era.String(), func(t *testing.T) {
			e := newEnv(t, Config{Era: tc.era}, fakezk.ServerConfig{BugKeepEphemerals: true})
			path := BrokerIDPath(1)
			var errs []error
			register := func() {
				e.c.CreateCheckedEphemeral(path, []byte("b1"), func(_ int64, err error) { errs = append(errs, err) })
			}
			e.do(func() {
				e.c.RegisterStateChangeHandler(StateChangeHandler{Name: "controller", AfterInitializingSession: register})
				e.c.CreateTopLevelPaths(func(err error) { require.NoError(t, err); register() })
			})
			e.run(sim.Second)
			require.Equal(t, []error{nil}, errs)
			e.w.At(sim.Kernel, e.w.Now(), "expire", func() { e.zk.Expire(e.c.SessionID()) })
			e.run(3 * sim.Second)
			require.Len(t, errs, 2)
			stat, ok := e.zk.Tree().Exists(path)
			require.True(t, ok)
			if tc.registered {
				assert.NoError(t, errs[1])
				assert.Equal(t, e.c.SessionID(), stat.EphemeralOwner)
			} else {
				assert.ErrorIs(t, errs[1], fakezk.ErrNodeExists)
				assert.NotEqual(t, e.c.SessionID(), stat.EphemeralOwner, "the node is the dead session's")
			}
		})
	}
}

// TestHandleManyRequests: a batch far above the fakezk handle's default
// bound of 4096 outstanding requests (a controller creating or reading
// every partition state at once) is answered in full, as Kafka's blocking
// in-flight semaphore lets it be; with the default bound the requests past
// it failed with ErrTooManyRequests.
func TestHandleManyRequests(t *testing.T) {
	e := newEnv(t, Config{}, fakezk.ServerConfig{})
	const n = 10_000
	reqs := make([]fakezk.Request, n)
	for i := range reqs {
		reqs[i] = &fakezk.CreateRequest{Path: fmt.Sprintf("/p%05d", i), Acl: fakezk.WorldACL(fakezk.PermAll)}
	}
	got := e.handle(reqs...)
	e.run(sim.Minute) // 10 in flight at a 10 ms round trip: 10 s
	require.Len(t, *got, n)
	for i, r := range *got {
		require.NoError(t, r.Err, "request %d", i)
	}
}
