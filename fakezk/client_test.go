package fakezk

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/sim"
)

// env is a world with one ZooKeeper server (tick 200ms, like the real server
// the conformance test runs) and client processes.
type env struct {
	t   *testing.T
	w   *sim.World
	srv *Server
}

func newEnv(t *testing.T) *env {
	w := sim.New(sim.Options{Seed: 1, Latency: sim.Fixed(sim.Millisecond), ConnBreakDetect: 100 * sim.Millisecond})
	srv := NewServer(w, "zk", ServerConfig{TickTime: 200 * sim.Millisecond})
	return &env{t: t, w: w, srv: srv}
}

type testClient struct {
	*Client
	id     sim.ProcID
	events []Event
}

func (e *env) client(name string, timeout sim.Duration) *testClient {
	tc := &testClient{id: e.w.AddProcess(name, sim.ProcessHooks{})}
	tc.Client = Connect(e.w, tc.id, []sim.ProcID{e.srv.ID()}, ClientConfig{
		SessionTimeout: timeout,
		EventCallback:  func(ev Event) { tc.events = append(tc.events, ev) },
	})
	e.run(10 * sim.Millisecond)
	require.Equal(e.t, StateHasSession, tc.State())
	return tc
}

func (e *env) run(d sim.Duration) { e.w.RunFor(d) }

// await runs the world until done has been called, failing after 30s.
func (e *env) await(start func(done func())) {
	e.t.Helper()
	finished := false
	start(func() { finished = true })
	deadline := e.w.Now().Add(30 * sim.Second)
	for !finished && e.w.Now() < deadline {
		if !e.w.Step() {
			break
		}
	}
	require.True(e.t, finished, "operation did not complete")
}

func (e *env) create(c *testClient, path string, flags int32) (string, error) {
	var p string
	var err error
	e.await(func(done func()) {
		c.Create(path, []byte("d"), flags, WorldACL(PermAll), func(s string, er error) { p, err = s, er; done() })
	})
	return p, err
}

func (e *env) set(c *testClient, path string, data string) (*Stat, error) {
	var st *Stat
	var err error
	e.await(func(done func()) {
		c.Set(path, []byte(data), -1, func(s *Stat, er error) { st, err = s, er; done() })
	})
	return st, err
}

func sessionStates(evs []Event) []State {
	var out []State
	for _, ev := range evs {
		if ev.Type == EventSession {
			out = append(out, ev.State)
		}
	}
	return out
}

func TestSessionEstablishedWithNegotiatedTimeout(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", 100*sim.Millisecond)
	assert.Equal(t, []State{StateConnecting, StateConnected, StateHasSession}, sessionStates(c.events))
	assert.Equal(t, 400*sim.Millisecond, c.Timeout(), "clamped to 2 ticks")
	c2 := e.client("c2", 30*sim.Second)
	assert.Equal(t, 4*sim.Second, c2.Timeout(), "clamped to 20 ticks")
	assert.Equal(t, int64(2), e.srv.Zxid(), "each createSession is a transaction")
	assert.NotEqual(t, c.SessionID(), c2.SessionID())
}

func TestWatchEventArrivesBeforeTheReplyThatReflectsIt(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", sim.Second)
	_, err := e.create(c, "/x", 0)
	require.NoError(t, err)
	var order []string
	e.await(func(done func()) {
		c.GetW("/x", func(_ []byte, _ *Stat, err error) { require.NoError(t, err); done() },
			func(ev Event) { order = append(order, "watch "+ev.Type.String()) })
	})
	e.await(func(done func()) {
		c.Set("/x", []byte("new"), -1, func(*Stat, error) { order = append(order, "set reply"); done() })
	})
	assert.Equal(t, []string{"watch EventNodeDataChanged", "set reply"}, order)
	// One-shot: a second set fires nothing.
	_, err = e.set(c, "/x", "again")
	require.NoError(t, err)
	e.run(10 * sim.Millisecond)
	assert.Len(t, order, 2)
}

func TestExistsWatchOnAbsentNodeFiresOnCreate(t *testing.T) {
	e := newEnv(t)
	a, b := e.client("a", sim.Second), e.client("b", sim.Second)
	var got []Event
	e.await(func(done func()) {
		a.ExistsW("/n", func(ok bool, st *Stat, err error) {
			assert.False(t, ok)
			assert.Equal(t, &Stat{}, st)
			assert.NoError(t, err)
			done()
		}, func(ev Event) { got = append(got, ev) })
	})
	_, err := e.create(b, "/n", 0)
	require.NoError(t, err)
	e.run(10 * sim.Millisecond)
	require.Len(t, got, 1)
	assert.Equal(t, Event{Type: EventNodeCreated, State: StateSyncConnected, Path: "/n"}, got[0])
}

func TestSessionExpiryDeletesEphemeralsAndClientLearnsOnReconnect(t *testing.T) {
	e := newEnv(t)
	owner, watcher := e.client("owner", sim.Second), e.client("watcher", sim.Second)
	_, err := e.create(owner, "/eph", FlagEphemeral)
	require.NoError(t, err)
	var deleted []Event
	var deletedAt sim.Time
	e.await(func(done func()) {
		watcher.ExistsW("/eph", func(bool, *Stat, error) { done() }, func(ev Event) { deleted, deletedAt = append(deleted, ev), e.w.Now() })
	})
	var ownerWatch []Event
	e.await(func(done func()) {
		owner.GetW("/eph", func([]byte, *Stat, error) { done() }, func(ev Event) { ownerWatch = append(ownerWatch, ev) })
	})
	oldSession := owner.SessionID()
	owner.events = nil

	// A GC pause longer than the session timeout: the server expires it.
	pausedAt := e.w.Now()
	e.w.Pause(owner.id)
	for e.srv.SessionAlive(oldSession) && e.w.Now() < pausedAt.Add(1300*sim.Millisecond) {
		require.True(t, e.w.Step())
	}
	assert.False(t, e.srv.SessionAlive(oldSession))
	// The last packet came up to timeout/3 before the pause (a ping); expiry
	// comes timeout to timeout+tick after it.
	expiredAfter := e.w.Now().Sub(pausedAt)
	assert.GreaterOrEqual(t, expiredAfter, sim.Second-sim.Second/3)
	assert.LessOrEqual(t, expiredAfter, sim.Second+200*sim.Millisecond)
	e.run(pausedAt.Add(1300 * sim.Millisecond).Sub(e.w.Now()))
	require.Len(t, deleted, 1, "the other client saw the ephemeral go")
	assert.Equal(t, EventNodeDeleted, deleted[0].Type)
	// Expiry comes timeout to timeout+tick after the last packet, which was
	// at most timeout/3 (a ping) before the pause; the event takes 1ms more.
	gone := deletedAt.Sub(pausedAt)
	assert.GreaterOrEqual(t, gone, sim.Second-sim.Second/3, "expired too early after the pause")
	assert.LessOrEqual(t, gone, sim.Second+200*sim.Millisecond+sim.Millisecond, "expired too late after the pause")
	assert.Equal(t, []State(nil), sessionStates(owner.events), "a paused client notices nothing")

	e.w.Resume(owner.id)
	e.run(3 * sim.Second)
	assert.Equal(t, []State{
		StateDisconnected, StateConnecting, // the server closed the expired session's connection
		StateConnected, StateExpired, StateDisconnected, // learnt on reconnect
		StateConnecting, StateConnected, StateHasSession, // a brand-new session
	}, sessionStates(owner.events))
	require.Len(t, ownerWatch, 1)
	assert.Equal(t, Event{Type: EventNotWatching, State: StateDisconnected, Path: "/eph", Err: ErrSessionExpired}, ownerWatch[0])
	assert.NotEqual(t, oldSession, owner.SessionID())
	assert.NotZero(t, owner.SessionID())
	_, err = e.create(owner, "/after", 0)
	assert.NoError(t, err, "calls succeed on the new session")
}

func TestExpiryTimingFollowsTickBuckets(t *testing.T) {
	for _, timeout := range []sim.Duration{400 * sim.Millisecond, sim.Second, 1500 * sim.Millisecond} {
		e := newEnv(t)
		c := e.client("c", timeout)
		id := c.SessionID()
		// The last packet the server sees is the one just before the pause.
		var lastPacket sim.Time
		e.w.Pause(c.id)
		lastPacket = e.w.Now()
		for e.srv.SessionAlive(id) {
			require.True(t, e.w.Step())
		}
		gone := e.w.Now().Sub(lastPacket)
		assert.GreaterOrEqual(t, gone, timeout-timeout/3, "timeout %v", timeout) // the last ping was up to timeout/3 earlier
		assert.LessOrEqual(t, gone, timeout+200*sim.Millisecond, "timeout %v", timeout)
	}
}

func TestShortDisconnectKeepsSessionAndReplaysMissedWatchEvents(t *testing.T) {
	e := newEnv(t)
	a, b := e.client("a", 4*sim.Second), e.client("b", 4*sim.Second)
	_, err := e.create(b, "/d", 0)
	require.NoError(t, err)
	_, err = e.create(b, "/p", 0)
	require.NoError(t, err)
	var got []string
	record := func(ev Event) { got = append(got, ev.Type.String()+" "+ev.Path) }
	e.await(func(done func()) { a.GetW("/d", func([]byte, *Stat, error) { done() }, record) })
	e.await(func(done func()) { a.ChildrenW("/p", func([]string, *Stat, error) { done() }, record) })
	e.await(func(done func()) { a.ExistsW("/e", func(bool, *Stat, error) { done() }, record) })
	session := a.SessionID()
	a.events = nil

	e.w.Partition([]sim.ProcID{a.id}, []sim.ProcID{e.srv.ID()})
	var inflight error
	a.Get("/d", func(_ []byte, _ *Stat, err error) { inflight = err })
	_, err = e.set(b, "/d", "changed")
	require.NoError(t, err)
	_, err = e.create(b, "/p/kid", 0)
	require.NoError(t, err)
	_, err = e.create(b, "/e", 0)
	require.NoError(t, err)
	e.run(300 * sim.Millisecond)
	assert.Equal(t, ErrConnectionClosed, inflight, "a request in flight when the connection broke")
	e.w.HealAll()
	e.run(2 * sim.Second)
	assert.Equal(t, session, a.SessionID(), "same session")
	assert.Equal(t, []State{StateDisconnected, StateConnecting, StateConnected, StateHasSession}, sessionStates(a.events))
	assert.ElementsMatch(t, []string{
		"EventNodeDataChanged /d", "EventNodeCreated /e", "EventNodeChildrenChanged /p",
	}, got)
}

func TestCloseDeletesEphemeralsAtOnceAndFailsLaterCalls(t *testing.T) {
	e := newEnv(t)
	a, b := e.client("a", 4*sim.Second), e.client("b", 4*sim.Second)
	_, err := e.create(a, "/eph", FlagEphemeral)
	require.NoError(t, err)
	var pending error
	a.Get("/eph", func(_ []byte, _ *Stat, err error) { pending = err })
	a.Close()
	e.run(50 * sim.Millisecond)
	assert.Equal(t, ErrClosing, pending)
	var ok bool
	e.await(func(done func()) { b.Exists("/eph", func(x bool, _ *Stat, _ error) { ok = x; done() }) })
	assert.False(t, ok, "ephemeral gone well before any timeout")
	var after error
	e.await(func(done func()) { a.Get("/x", func(_ []byte, _ *Stat, err error) { after = err; done() }) })
	assert.Equal(t, ErrConnectionClosed, after)
	assert.Equal(t, StateDisconnected, sessionStates(a.events)[len(sessionStates(a.events))-1])
}

func TestMultiThroughTheClient(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", sim.Second)
	var res []MultiResponse
	var err error
	e.await(func(done func()) {
		c.Multi([]Op{
			&CreateRequest{Path: "/m", Data: []byte("x"), Acl: WorldACL(PermAll)},
			&SetDataRequest{Path: "/m", Data: []byte("y"), Version: 0},
			&CheckVersionRequest{Path: "/m", Version: 7},
		}, func(r []MultiResponse, er error) { res, err = r, er; done() })
	})
	assert.Equal(t, ErrBadVersion, err)
	require.Len(t, res, 3)
	assert.Nil(t, res[0].Error)
	assert.Equal(t, ErrBadVersion, res[2].Error)
	var exists bool
	e.await(func(done func()) { c.Exists("/m", func(x bool, _ *Stat, _ error) { exists = x; done() }) })
	assert.False(t, exists, "atomic: nothing applied")
}

func TestFailedWritesTakeAZxidAndReadsDoNot(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", sim.Second)
	z0 := e.srv.Zxid()
	_, err := e.create(c, "/missing/child", 0)
	assert.Equal(t, ErrNoNode, err)
	assert.Equal(t, z0+1, e.srv.Zxid())
	e.await(func(done func()) { c.Get("/", func([]byte, *Stat, error) { done() }) })
	e.await(func(done func()) {
		c.Sync("/nope", func(p string, err error) { assert.Equal(t, "/nope", p); assert.NoError(t, err); done() })
	})
	assert.Equal(t, z0+1, e.srv.Zxid())
}

func TestClientSideValidation(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", sim.Second)
	_, err := e.create(c, "bad", 0)
	assert.Equal(t, ErrInvalidPath, err)
	_, err = e.create(c, "/a", 9)
	assert.EqualError(t, err, "invalid flag value: [9]", "go-zk's own message for flags outside 0..6")
	_, err = e.create(c, "/a", FlagTTL)
	assert.Equal(t, ErrInvalidFlags, err)
	for _, bad := range []string{"/a/..", "/a/.", "/a//b", "/a/./b", "/a/\u0001"} {
		_, err = e.create(c, bad, FlagSequence)
		assert.Equal(t, ErrInvalidPath, err, "%q: go-zk refuses dot components even for sequential creates", bad)
	}
	for _, good := range []string{"/a.", "/.a", "/a/...", "/a/"} {
		_, err = e.create(c, good, FlagSequence)
		assert.NotEqual(t, ErrInvalidPath, err, "%q passes the client check", good)
	}
	p, err := e.create(c, "/", FlagSequence)
	assert.NoError(t, err, "'/' plus a digit is a valid sequential path")
	assert.Regexp(t, `^/\d{10}$`, p)
}

func TestOversizedPacketClosesTheConnection(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", 4*sim.Second)
	_, err := e.create(c, "/a", 0)
	require.NoError(t, err)
	var got error
	e.await(func(done func()) {
		c.Set("/a", make([]byte, MaxPacketBytes), -1, func(_ *Stat, err error) { got = err; done() })
	})
	assert.Equal(t, ErrConnectionClosed, got)
	data := ""
	e.run(2 * sim.Second)
	e.await(func(done func()) { c.Get("/a", func(b []byte, _ *Stat, _ error) { data = string(b); done() }) })
	assert.Equal(t, "d", data, "nothing applied")
}

func TestServerCrashKeepsTreeAndSessions(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", 4*sim.Second)
	_, err := e.create(c, "/eph", FlagEphemeral)
	require.NoError(t, err)
	session := c.SessionID()
	e.w.Crash(e.srv.ID())
	e.run(500 * sim.Millisecond)
	e.w.Restart(e.srv.ID())
	e.run(3 * sim.Second)
	assert.Equal(t, session, c.SessionID(), "the session survives a quick server restart")
	assert.Equal(t, StateHasSession, c.State())
	_, ok := e.srv.Tree().Exists("/eph")
	assert.True(t, ok)
}

func TestServerTraceHasZnodeSessionAndWatchRecords(t *testing.T) {
	mem := &sim.MemorySink{}
	w := sim.New(sim.Options{Seed: 1, Sinks: []sim.Sink{mem}})
	srv := NewServer(w, "zk", ServerConfig{TickTime: 200 * sim.Millisecond})
	e := &env{t: t, w: w, srv: srv}
	c := e.client("c", sim.Second)
	e.await(func(done func()) { c.ExistsW("/x", func(bool, *Stat, error) { done() }, nil) })
	_, err := e.create(c, "/x", 0)
	require.NoError(t, err)
	kinds := map[string]int{}
	for _, r := range mem.All() {
		kinds[r.Kind]++
	}
	for _, k := range []string{KindZnode, KindTxn, KindSession, KindWatchFire, KindWatchEvent, KindClient} {
		assert.Positive(t, kinds[k], "trace has %s: %v", k, fmt.Sprint(kinds))
	}
}

func TestExpireNeedsARunningServer(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", 4*sim.Second)
	e.w.Crash(e.srv.ID())
	assert.False(t, e.srv.Expire(c.SessionID()), "a crashed server expires nothing")
	e.w.Restart(e.srv.ID())
	e.run(10 * sim.Millisecond)
	assert.True(t, e.srv.Expire(c.SessionID()))
}

func TestMultiCreatingAContainerAnswersAPIErrorButApplies(t *testing.T) {
	// Seen on ZooKeeper 3.8.0 with go-zk 1.0.4.
	e := newEnv(t)
	c := e.client("c", sim.Second)
	var res []MultiResponse
	var err error
	e.await(func(done func()) {
		c.Multi([]Op{&CreateRequest{Path: "/box", Acl: WorldACL(PermAll), Flags: FlagContainer}},
			func(r []MultiResponse, er error) { res, err = r, er; done() })
	})
	assert.Equal(t, ErrAPIError, err)
	assert.Empty(t, res)
	_, ok := e.srv.Tree().Exists("/box")
	assert.True(t, ok, "applied all the same")
}

// The server keeps a connection's digest identities as a set in hash order,
// so an auth ACL made after AddAuth u1, u1, u2 lists u2 then u1 (as 3.8
// does), and a client without ADMIN reads the hashes as "x".
func TestAddAuthIdentitiesAreASetInServerOrder(t *testing.T) {
	e := newEnv(t)
	a := e.client("a", 4*sim.Second)
	b := e.client("b", 4*sim.Second)
	for _, cred := range []string{"u1:p1", "u1:p1", "u2:p2"} {
		e.await(func(done func()) {
			a.AddAuth("digest", []byte(cred), func(err error) { require.NoError(t, err); done() })
		})
	}
	var err error
	e.await(func(done func()) {
		a.Create("/au", nil, 0, AuthACL(PermRead|PermAdmin), func(_ string, er error) { err = er; done() })
	})
	require.NoError(t, err)
	getACL := func(c *testClient) ([]ACL, error) {
		var acl []ACL
		e.await(func(done func()) {
			c.GetACL("/au", func(l []ACL, _ *Stat, er error) { acl, err = l, er; done() })
		})
		return acl, err
	}
	acl, err := getACL(a)
	require.NoError(t, err)
	require.Equal(t, []ACL{
		{PermRead | PermAdmin, "digest", DigestID("u2:p2")},
		{PermRead | PermAdmin, "digest", DigestID("u1:p1")},
	}, acl)
	_, err = getACL(b)
	require.Equal(t, ErrNoAuth, err, "b has neither READ nor ADMIN")
}

func TestWatchersWithoutReadHearNothing(t *testing.T) {
	// Seen on the 3.8.0 server the conformance test runs: an exists watch of
	// a session that may not READ the created node gets no NodeCreated, and
	// the watch is used up.
	e := newEnv(t)
	owner, other := e.client("owner", sim.Second), e.client("other", sim.Second)
	var got []Event
	e.await(func(done func()) {
		other.ExistsW("/s", func(bool, *Stat, error) { done() }, func(ev Event) { got = append(got, ev) })
	})
	e.await(func(done func()) { owner.AddAuth("digest", []byte("u:p"), func(error) { done() }) })
	var err error
	e.await(func(done func()) {
		owner.Create("/s", nil, 0, DigestACL(PermAll, "u", "p"), func(_ string, er error) { err = er; done() })
	})
	require.NoError(t, err)
	e.await(func(done func()) { owner.Delete("/s", -1, func(er error) { err = er; done() }) })
	require.NoError(t, err)
	e.run(10 * sim.Millisecond)
	assert.Empty(t, got)
	assert.Empty(t, e.srv.dataWatches["/s"], "the watch was used up")
}

func TestCreateChecksInGoZKOrder(t *testing.T) {
	// go-zk: flag value, then path, then whether the flag suits the call.
	e := newEnv(t)
	c := e.client("c", sim.Second)
	_, err := e.create(c, "/a/\u007f", FlagTTL)
	assert.Equal(t, ErrInvalidPath, err, "the path is checked before the TTL flag is refused")
	_, err = e.create(c, "bad", 9)
	assert.EqualError(t, err, "invalid flag value: [9]", "the flag value is checked first")
	e.await(func(done func()) {
		c.CreateContainer("bad", nil, 0, WorldACL(PermAll), func(_ string, er error) { err = er; done() })
	})
	assert.Equal(t, ErrInvalidPath, err, "CreateContainer too checks the path before the flag")
}

func TestServerCostsDefaultWhenZero(t *testing.T) {
	e := newEnv(t) // ServerConfig{TickTime: 200ms}: costs left zero
	c := e.client("c", sim.Second)
	start := e.w.Now()
	_, err := e.create(c, "/x", 0)
	require.NoError(t, err)
	d := DefaultServerConfig()
	// Two 1ms network legs plus the write and its fsync; await may end on a later event.
	assert.GreaterOrEqual(t, e.w.Now().Sub(start), 2*sim.Millisecond+d.WriteCost+d.FsyncCost)
}
