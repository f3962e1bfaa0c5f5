package fakezk

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/sim"
)

type javaClient struct {
	*Client
	id     sim.ProcID
	events []Event
	at     []sim.Time // when each session event came
}

func (e *env) javaClient(name string, timeout sim.Duration) *javaClient {
	jc := &javaClient{id: e.w.AddProcess(name, sim.ProcessHooks{})}
	jc.Client = Connect(e.w, jc.id, []sim.ProcID{e.srv.ID()}, ClientConfig{
		SessionTimeout: timeout, Mode: JavaClient,
		EventCallback: func(ev Event) {
			if ev.Type == EventSession {
				jc.events = append(jc.events, ev)
				jc.at = append(jc.at, e.w.Now())
			}
		},
	})
	e.run(10 * sim.Millisecond)
	require.Equal(e.t, StateSyncConnected, jc.State())
	return jc
}

func (jc *javaClient) states() []State { return sessionStates(jc.events) }

func TestJavaNewSessionIsOneSyncConnected(t *testing.T) {
	e := newEnv(t)
	c := e.javaClient("c", 4*sim.Second)
	assert.Equal(t, []State{StateSyncConnected}, c.states())
	assert.Equal(t, 4*sim.Second, c.Timeout())
	read, connect := c.javaTimeouts()
	assert.Equal(t, 2666*sim.Millisecond, read, "2/3 of the negotiated timeout, in whole ms")
	assert.Equal(t, 4*sim.Second, connect, "the timeout over one server")
}

func TestJavaConnectTimeoutIsSessionTimeoutOverServers(t *testing.T) {
	e := newEnv(t)
	p := e.w.AddProcess("c", sim.ProcessHooks{})
	// The second "server" is a process that accepts nothing.
	other := e.w.AddProcess("nobody", sim.ProcessHooks{})
	c := Connect(e.w, p, []sim.ProcID{e.srv.ID(), other}, ClientConfig{SessionTimeout: 3 * sim.Second, Mode: JavaClient})
	_, connect := c.javaTimeouts()
	assert.Equal(t, 1500*sim.Millisecond, connect)
	e.run(20 * sim.Second)
	assert.Equal(t, StateSyncConnected, c.State(), "it finds the real server")
}

// TestJavaRequestsWaitForTheReconnection: a request in flight when the
// connection breaks fails with ConnectionLoss before Disconnected; one made
// while disconnected waits, and completes after SyncConnected on the same
// session; the reconnect comes 1.1-2.1s after the drop.
func TestJavaRequestsWaitForTheReconnection(t *testing.T) {
	for seed := range uint64(8) {
		e := newEnv(t)
		e.w = sim.New(sim.Options{Seed: seed, Latency: sim.Fixed(sim.Millisecond), ConnBreakDetect: 100 * sim.Millisecond})
		e.srv = NewServer(e.w, "zk", ServerConfig{TickTime: 200 * sim.Millisecond})
		c := e.javaClient("c", 4*sim.Second)
		session := c.SessionID()
		var log []string
		c.EventCallbackLog(&log)
		c.Get("/", func(_ []byte, _ *Stat, err error) { log = append(log, "in flight: "+errString(err)) })
		dropped := e.w.Now()
		c.DropConnection()
		c.Get("/", func(_ []byte, _ *Stat, err error) { log = append(log, "before cleanup: "+errString(err)) })
		e.run(150 * sim.Millisecond)
		assert.Equal(t, StateSyncConnected, c.State(), "getState() says connected until the next attempt starts")
		c.Create("/q", []byte("x"), 0, WorldACL(PermAll), func(_ string, err error) { log = append(log, "queued: "+errString(err)) })
		e.run(3 * sim.Second)
		assert.Equal(t, []string{
			"in flight: zk: connection loss",
			"before cleanup: zk: connection loss",
			"event StateDisconnected",
			"event StateSyncConnected",
			"queued: ok",
		}, log, "seed %d", seed)
		assert.Equal(t, session, c.SessionID())
		require.Len(t, c.at, 3)
		assert.Equal(t, dropped.Add(100*sim.Millisecond), c.at[1], "Disconnected after ClientCnxnSocketNIO's 100ms")
		back := c.at[2].Sub(dropped)
		assert.GreaterOrEqual(t, back, 1100*sim.Millisecond)
		assert.Less(t, back, 2110*sim.Millisecond)
	}
}

// EventCallbackLog adds the session events to log, in order with the replies.
func (jc *javaClient) EventCallbackLog(log *[]string) {
	prev := jc.cfg.EventCallback
	jc.cfg.EventCallback = func(ev Event) {
		prev(ev)
		if ev.Type == EventSession {
			*log = append(*log, "event "+ev.State.String())
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// TestJavaOneDisconnectedPerOutage: refused attempts fail the queued
// requests with ConnectionLoss, but the watcher hears Disconnected once.
func TestJavaOneDisconnectedPerOutage(t *testing.T) {
	e := newEnv(t)
	c := e.javaClient("c", 4*sim.Second)
	var errs []error
	e.w.Crash(e.srv.ID())
	e.run(300 * sim.Millisecond)
	c.Get("/", func(_ []byte, _ *Stat, err error) { errs = append(errs, err) })
	e.run(3 * sim.Second) // at least one refused attempt
	assert.Equal(t, []error{ErrConnectionLoss}, errs, "queued, then failed by the refused attempt")
	e.w.Restart(e.srv.ID())
	e.run(3 * sim.Second)
	assert.Equal(t, []State{StateSyncConnected, StateDisconnected, StateSyncConnected}, c.states())
}

// TestJavaExpiredIsFinal: a client that finds its session expired hears
// Expired and nothing more; its requests fail with SessionExpired, at once
// and for good, and it never opens a new session.
func TestJavaExpiredIsFinal(t *testing.T) {
	e := newEnv(t)
	c := e.javaClient("c", 4*sim.Second)
	other := e.javaClient("other", 4*sim.Second)
	_, err := e.create(&testClient{Client: c.Client}, "/eph", FlagEphemeral)
	require.NoError(t, err)
	session := c.SessionID()
	e.w.Pause(c.id)
	e.run(5 * sim.Second)
	assert.False(t, e.srv.SessionAlive(session))
	var waiting error
	e.w.Resume(c.id)
	e.run(300 * sim.Millisecond) // it learns of the broken connection; cleanup is done
	c.Get("/", func(_ []byte, _ *Stat, err error) { waiting = err })
	e.run(10 * sim.Second)
	assert.Equal(t, []State{StateSyncConnected, StateDisconnected, StateExpired}, c.states())
	assert.Equal(t, StateExpired, c.State())
	assert.Equal(t, ErrSessionExpired, waiting, "queued while disconnected, failed by the expiry")
	var after error
	e.await(func(done func()) { c.Get("/", func(_ []byte, _ *Stat, err error) { after = err; done() }) })
	assert.Equal(t, ErrSessionExpired, after)
	e.run(20 * sim.Second)
	assert.Len(t, c.states(), 3, "nothing after Expired")
	assert.Len(t, e.srv.Sessions(), 1, "only the other client's session: no new one")
	assert.Equal(t, []State{StateSyncConnected}, other.states())
}

// TestJavaReadTimeoutAndPings: an idle client pings every readTimeout/2;
// when the server goes silent the client drops the connection at the read
// timeout (Disconnected 100ms later).
func TestJavaReadTimeoutAndPings(t *testing.T) {
	e := newEnv(t)
	c := e.javaClient("c", 4*sim.Second)
	var sends []sim.Time
	last := c.lastSend
	for e.w.Now() < sim.Time(10*sim.Second) {
		e.w.Step()
		if c.lastSend != last {
			last = c.lastSend
			sends = append(sends, last)
		}
	}
	require.GreaterOrEqual(t, len(sends), 5)
	for i := 1; i < len(sends); i++ {
		assert.Equal(t, 1333*sim.Millisecond, sends[i].Sub(sends[i-1]), "ping %d", i)
	}
	lastHeard := c.rc.LastReceived()
	e.w.Pause(e.srv.ID())
	e.run(5 * sim.Second)
	require.Equal(t, []State{StateSyncConnected, StateDisconnected}, c.states())
	assert.Equal(t, lastHeard.Add(2666*sim.Millisecond+100*sim.Millisecond), c.at[1])
}

func TestJavaPingTimingFollowsClientCnxn(t *testing.T) {
	// With a longer read timeout the ping comes a second early once a
	// wake-up finds more than a second idle (ClientCnxn's race margin).
	e := newEnv(t)
	c := e.javaClient("c", 4*sim.Second)
	c.timeout = 9 * sim.Second // read timeout 6s: readTimeout/2 - 1s = 2s
	c.lastSend = e.w.Now()
	start := e.w.Now()
	e.run(1500 * sim.Millisecond)
	assert.Equal(t, start, c.lastSend, "no ping at 1.5s idle")
	c.javaTick() // a wake-up after more than a second idle
	e.run(600 * sim.Millisecond)
	assert.Equal(t, start.Add(2*sim.Second), c.lastSend)
}

// TestJavaCloseLetsSentRequestsComplete: Close queues closeSession behind
// what was sent; those requests complete, then Closed, then calls fail with
// SessionExpired; the ephemerals go at once.
func TestJavaCloseLetsSentRequestsComplete(t *testing.T) {
	e := newEnv(t)
	c := e.javaClient("c", 4*sim.Second)
	b := e.client("b", 4*sim.Second)
	_, err := e.create(&testClient{Client: c.Client}, "/eph", FlagEphemeral)
	require.NoError(t, err)
	var log []string
	c.EventCallbackLog(&log)
	c.Get("/eph", func(_ []byte, _ *Stat, err error) { log = append(log, "get: "+errString(err)) })
	c.Close()
	c.Get("/", func(_ []byte, _ *Stat, err error) { log = append(log, "while closing: "+errString(err)) })
	e.run(50 * sim.Millisecond)
	c.Get("/", func(_ []byte, _ *Stat, err error) { log = append(log, "after: "+errString(err)) })
	e.run(50 * sim.Millisecond)
	assert.Equal(t, []string{
		"while closing: zk: connection loss",
		"get: ok",
		"event StateClosed",
		"after: zk: session has been expired by the server",
	}, log)
	assert.Equal(t, StateClosed, c.State())
	var ok bool
	e.await(func(done func()) { b.Exists("/eph", func(x bool, _ *Stat, _ error) { ok = x; done() }) })
	assert.False(t, ok)
}
