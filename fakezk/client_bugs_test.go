package fakezk

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/sim"
)

// reentry records every callback that runs while a client call is on the
// stack: there must be none, in either mode.
type reentry struct {
	inCall   string
	offences []string
}

func (r *reentry) call(name string, f func()) {
	r.inCall = name
	f()
	r.inCall = ""
}

func (r *reentry) seen(what string) {
	if r.inCall != "" {
		r.offences = append(r.offences, what+" ran inside "+r.inCall)
	}
}

func TestCallbacksNeverRunInsideACall(t *testing.T) {
	for _, mode := range []ClientMode{GoZK, JavaClient} {
		t.Run(mode.String(), func(t *testing.T) {
			e := newEnv(t)
			r := &reentry{}
			p := e.w.AddProcess("c", sim.ProcessHooks{})
			var c *Client
			var events []Event
			cfg := ClientConfig{SessionTimeout: 4 * sim.Second, Mode: mode, EventCallback: func(ev Event) {
				r.seen("event " + ev.String())
				events = append(events, ev)
			}}
			r.call("Connect", func() { c = Connect(e.w, p, []sim.ProcID{e.srv.ID()}, cfg) })
			require.NotEmpty(t, e.w.Pending())
			e.run(10 * sim.Millisecond)
			require.NotEmpty(t, events, "the connect's state events came, later")

			// Requests in flight and a watch, then DropConnection: the failures and
			// Disconnected come from kernel events.
			e.await(func(done func()) {
				c.GetW("/", func([]byte, *Stat, error) { done() }, func(ev Event) { r.seen("watch " + ev.String()) })
			})
			cb := func(_ []byte, _ *Stat, err error) { r.seen("get callback") }
			r.call("Get", func() { c.Get("/", cb) })
			r.call("DropConnection", func() { c.DropConnection() })
			r.call("Get (bad path)", func() { c.Get("bad", cb) })
			e.run(3 * sim.Second)

			// Close from inside a reply callback (a kernel event), with requests
			// outstanding: its callbacks still wait for their own events.
			e.await(func(done func()) {
				c.Get("/", func([]byte, *Stat, error) {
					r.call("Close", func() {
						c.Get("/", cb)
						c.Close()
					})
					done()
				})
			})
			e.run(100 * sim.Millisecond)
			r.call("Get after Close", func() { c.Get("/", cb) })
			r.call("Pipeline", func() { c.Pipeline(nil, func([]Response) { r.seen("pipeline callback") }) })
			e.run(100 * sim.Millisecond)
			assert.Empty(t, r.offences)
		})
	}
}

// TestReentryCheckCanFail plants a callback that runs inside the call and
// checks that the recorder sees it.
func TestReentryCheckCanFail(t *testing.T) {
	r := &reentry{}
	r.call("Close", func() { r.seen("event") })
	assert.Equal(t, []string{"event ran inside Close"}, r.offences)
}

func TestClientDiesWithItsIncarnation(t *testing.T) {
	for _, mode := range []ClientMode{GoZK, JavaClient} {
		t.Run(mode.String(), func(t *testing.T) {
			e := newEnv(t)
			p := e.w.AddProcess("c", sim.ProcessHooks{})
			var old *Client
			old = Connect(e.w, p, []sim.ProcID{e.srv.ID()}, ClientConfig{SessionTimeout: sim.Second, Mode: mode})
			e.run(10 * sim.Millisecond)
			session := old.SessionID()
			require.NotZero(t, session)
			completed := false
			old.Create("/eph", nil, FlagEphemeral, WorldACL(PermAll), func(string, error) {})
			old.Get("/", func([]byte, *Stat, error) { completed = true })

			e.w.Crash(p)
			assert.Equal(t, StateDead, old.State())
			assert.Zero(t, old.SessionID())
			e.w.Restart(p)
			e.run(2 * sim.Second)
			assert.False(t, completed, "a dead client's callbacks never run")
			assert.Equal(t, StateDead, old.State(), "still dead after the restart")
			assert.False(t, e.srv.SessionAlive(session), "the server expired the dead client's session")
			_, _, err := e.srv.Tree().Get(Caller{}, "/eph")
			assert.Equal(t, ErrNoNode, err, "with its ephemeral")

			assert.PanicsWithValue(t,
				"fakezk: client of c (incarnation 1) used after its process crashed (now incarnation 2): make a new client",
				func() { old.Get("/", func([]byte, *Stat, error) {}) })
			assert.Panics(t, func() { old.Close() })
			assert.Panics(t, func() { old.DropConnection() })

			fresh := Connect(e.w, p, []sim.ProcID{e.srv.ID()}, ClientConfig{SessionTimeout: sim.Second, Mode: mode})
			e.run(10 * sim.Millisecond)
			assert.NotZero(t, fresh.SessionID())
			assert.NotEqual(t, session, fresh.SessionID())
		})
	}
}

func TestDataIsCopiedAtTheBoundary(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", sim.Second)
	tree := func(path string) string {
		d, _, err := e.srv.Tree().Get(Caller{}, path)
		require.NoError(t, err)
		return string(d)
	}
	buf := []byte("one")
	acl := WorldACL(PermAll)
	e.await(func(done func()) {
		c.Create("/a", buf, 0, acl, func(_ string, err error) { require.NoError(t, err); done() })
		buf[0], acl[0].Perms = 'X', PermRead // changed while the request is on its way
	})
	assert.Equal(t, "one", tree("/a"))
	got, _, err := e.srv.Tree().GetACL(Caller{}, "/a")
	require.NoError(t, err)
	assert.Equal(t, WorldACL(PermAll), got)

	buf = []byte("two")
	e.await(func(done func()) {
		c.Set("/a", buf, -1, func(_ *Stat, err error) { require.NoError(t, err); done() })
		buf[0] = 'X'
	})
	assert.Equal(t, "two", tree("/a"))

	ops := []Op{&SetDataRequest{Path: "/a", Data: []byte("three"), Version: -1}}
	e.await(func(done func()) {
		c.Multi(ops, func(_ []MultiResponse, err error) { require.NoError(t, err); done() })
		ops[0].(*SetDataRequest).Data[0] = 'X'
	})
	assert.Equal(t, "three", tree("/a"))

	var read []byte
	e.await(func(done func()) { c.Get("/a", func(d []byte, _ *Stat, _ error) { read = d; done() }) })
	read[0] = 'X'
	assert.Equal(t, "three", tree("/a"), "what Get returned is a copy")
	var readACL []ACL
	e.await(func(done func()) { c.GetACL("/a", func(a []ACL, _ *Stat, _ error) { readACL = a; done() }) })
	readACL[0].Perms = 0
	got, _, _ = e.srv.Tree().GetACL(Caller{}, "/a")
	assert.Equal(t, WorldACL(PermAll), got, "what GetACL returned is a copy")
}

func TestHostProviderShufflesThenGoesRoundRobin(t *testing.T) {
	servers := []sim.ProcID{1, 2, 3, 4, 5}
	h := newHostProvider(servers, sim.NewRand(7))
	assert.ElementsMatch(t, servers, h.servers)
	assert.Equal(t, []sim.ProcID{1, 2, 3, 4, 5}, servers, "the caller's list is not shuffled in place")
	var order []sim.ProcID
	var spins []bool
	for range 6 {
		s, spin := h.next()
		order, spins = append(order, s), append(spins, spin)
	}
	assert.Equal(t, h.servers, order[:5])
	assert.Equal(t, order[0], order[5], "round-robin")
	// No spin before a full round since the last connection; never on the first call.
	assert.Equal(t, []bool{false, false, false, false, false, true}, spins)
	h.connected() // connected to order[0] again
	_, spin := h.next()
	assert.False(t, spin)
	// Shuffled by the stream: another seed gives another order (for these seeds).
	other := newHostProvider(servers, sim.NewRand(8))
	assert.NotEqual(t, h.servers, other.servers)
	one := newHostProvider([]sim.ProcID{9}, sim.NewRand(1))
	s, spin := one.next()
	assert.Equal(t, sim.ProcID(9), s)
	assert.False(t, spin)
	s, spin = one.next()
	assert.Equal(t, sim.ProcID(9), s)
	assert.True(t, spin, "with one server every later attempt completes a round")
}

func TestConnectRefusesBadArguments(t *testing.T) {
	e := newEnv(t)
	p := e.w.AddProcess("c", sim.ProcessHooks{})
	assert.PanicsWithValue(t, "fakezk: Connect needs at least one server", func() {
		Connect(e.w, p, nil, ClientConfig{SessionTimeout: sim.Second})
	})
	assert.Panics(t, func() {
		Connect(e.w, p, []sim.ProcID{e.srv.ID()}, ClientConfig{SessionTimeout: sim.Second, Mode: 9})
	})
}
