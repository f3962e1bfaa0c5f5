package fakezk

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/sim"
)

func TestPipelineSendsEverythingBeforeAnyReply(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", sim.Second)
	acl := WorldACL(PermAll)
	start := e.w.Now()
	var got []Response
	var doneAt sim.Time
	e.await(func(done func()) {
		c.Pipeline([]Request{
			&CreateRequest{Path: "/a", Data: []byte("1"), Acl: acl},
			&CreateRequest{Path: "/a/b", Acl: acl, Flags: FlagEphemeral},
			&SetDataRequest{Path: "/a", Data: []byte("2"), Version: 0},
			&GetDataRequest{Path: "/a"},
			&ExistsRequest{Path: "/nope"},
			&GetChildrenRequest{Path: "/a"},
			&DeleteRequest{Path: "/a", Version: -1},
		}, func(r []Response) { got, doneAt = r, e.w.Now(); done() })
	})
	require.Len(t, got, 7)
	assert.Equal(t, "/a", got[0].Path)
	assert.Equal(t, "/a/b", got[1].Path)
	assert.Equal(t, int32(1), got[2].Stat.Version)
	assert.Equal(t, "2", string(got[3].Data), "FIFO: the read sees the earlier write")
	assert.False(t, got[4].Exists)
	assert.Equal(t, []string{"b"}, got[5].Children)
	assert.Equal(t, ErrNotEmpty, got[6].Err)
	// One round trip plus the server's work, not seven round trips.
	assert.Less(t, doneAt.Sub(start), 6*sim.Millisecond)
}

func TestEmptyPipeline(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", sim.Second)
	called := false
	e.await(func(done func()) { c.Pipeline(nil, func(r []Response) { called = len(r) == 0; done() }) })
	assert.True(t, called)
}

func TestPipelineCarriesMultisWithChecks(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", sim.Second)
	acl := WorldACL(PermAll)
	var got []Response
	e.await(func(done func()) {
		c.Pipeline([]Request{
			&CreateRequest{Path: "/epoch", Data: []byte("1"), Acl: acl},
			// Kafka's controller: write behind a check of its epoch znode.
			&MultiRequest{Ops: []Op{
				&CheckVersionRequest{Path: "/epoch", Version: 0},
				&CreateRequest{Path: "/p", Data: []byte("leader=1"), Acl: acl},
			}},
			&MultiRequest{Ops: []Op{
				&CheckVersionRequest{Path: "/epoch", Version: 5}, // a stale epoch
				&SetDataRequest{Path: "/p", Data: []byte("leader=2"), Version: -1},
			}},
			&GetDataRequest{Path: "/p"},
			(*MultiRequest)(nil),
		}, func(r []Response) { got = r; done() })
	})
	require.Len(t, got, 5)
	require.NoError(t, got[1].Err)
	require.Len(t, got[1].Multi, 2)
	assert.Equal(t, "/p", got[1].Multi[1].String)
	assert.Equal(t, ErrBadVersion, got[2].Err, "the check failed the whole multi")
	assert.Equal(t, []MultiResponse{{Error: ErrBadVersion}, {Error: ErrRuntimeInconsistency}}, got[2].Multi)
	assert.Equal(t, "leader=1", string(got[3].Data), "nothing of the failed multi applied")
	assert.Equal(t, ErrBadArguments, got[4].Err)
}

// TestMaxInFlightQueuesInsteadOfFailing: with MaxInFlight 3, a pipeline of
// ten never has more than three requests out, and every request completes,
// in order. Without the bound all ten go out at once (so the measurement
// can see a breach).
func TestMaxInFlightQueuesInsteadOfFailing(t *testing.T) {
	for _, bound := range []int{0, 3} {
		e := newEnv(t)
		p := e.w.AddProcess("c", sim.ProcessHooks{})
		c := Connect(e.w, p, []sim.ProcID{e.srv.ID()}, ClientConfig{SessionTimeout: sim.Second, MaxInFlight: bound})
		e.run(10 * sim.Millisecond)
		var reqs []Request
		for i := range 10 {
			reqs = append(reqs, &CreateRequest{Path: fmt.Sprintf("/n%d", i), Acl: WorldACL(PermAll)})
		}
		var got []Response
		most := 0
		c.Pipeline(reqs, func(r []Response) { got = r })
		for got == nil && e.w.Step() {
			sent := 0
			for _, cl := range c.sent {
				if !cl.internal {
					sent++ // not the client's own pings
				}
			}
			most = max(most, sent)
		}
		require.Len(t, got, 10, "bound %d", bound)
		for i, r := range got {
			require.NoError(t, r.Err)
			assert.Equal(t, fmt.Sprintf("/n%d", i), r.Path)
		}
		if bound == 0 {
			assert.Equal(t, 10, most)
		} else {
			assert.Equal(t, bound, most)
		}
		assert.Zero(t, c.inFlight)
		assert.Empty(t, c.held)
	}
}

func TestMaxInFlightSlotsComeBackWhenRequestsFail(t *testing.T) {
	e := newEnv(t)
	p := e.w.AddProcess("c", sim.ProcessHooks{})
	c := Connect(e.w, p, []sim.ProcID{e.srv.ID()}, ClientConfig{SessionTimeout: 4 * sim.Second, MaxInFlight: 2})
	e.run(10 * sim.Millisecond)
	var errs []error
	for range 5 {
		c.Get("/", func(_ []byte, _ *Stat, err error) { errs = append(errs, err) })
	}
	c.DropConnection()
	e.run(3 * sim.Second)
	require.Len(t, errs, 5)
	// Two in flight fail with the connection; their slots hand the next two to
	// go-zk while it is disconnected, which fails them with ErrNoServer as its
	// new round of attempts starts; the last waits through the 1s sleep.
	assert.Equal(t, []error{ErrConnectionClosed, ErrConnectionClosed, ErrNoServer, ErrNoServer, nil}, errs)
	assert.Zero(t, c.inFlight)
}
