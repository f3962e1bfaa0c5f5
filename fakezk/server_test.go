package fakezk

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/sim"
)

// pipelineRun is the outcome of pipelinedWrites.
type pipelineRun struct {
	elapsed sim.Duration // from the first request to the last reply
	order   []int        // the writes in the order their replies came
	stats   ServerStats
}

// pipelineWindow is how many requests pipelinedWrites keeps in flight: under the client's default
// MaxOutstanding (4096).
const pipelineWindow = 4000

// pipelinedWrites sends n setData requests from one client to a server with cfg, pipelineWindow of
// them in flight at a time, and runs until every reply is in.
func pipelinedWrites(t testing.TB, cfg ServerConfig, n int) pipelineRun {
	t.Helper()
	w := sim.New(sim.Options{Seed: 1, Trace: sim.TraceOff, Latency: sim.Fixed(100 * sim.Microsecond), MaxEvents: 1 << 40, MaxTime: 1 << 62})
	srv := NewServer(w, "zk", cfg)
	p := w.AddProcess("client", sim.ProcessHooks{})
	c := Connect(w, p, []sim.ProcID{srv.ID()}, ClientConfig{SessionTimeout: 10 * sim.Second})
	w.RunFor(100 * sim.Millisecond)
	require.Equal(t, StateHasSession, c.State())
	created := false
	c.Create("/x", nil, 0, WorldACL(PermAll), func(_ string, err error) { require.NoError(t, err); created = true })
	w.RunFor(100 * sim.Millisecond)
	require.True(t, created)

	var run pipelineRun
	start := w.Now()
	data := []byte("v")
	issued := 0
	var issue func()
	issue = func() {
		i := issued
		issued++
		c.Set("/x", data, -1, func(_ *Stat, err error) {
			if err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
			run.order = append(run.order, i)
			if issued < n {
				issue()
			}
		})
	}
	for issued < min(n, pipelineWindow) {
		issue()
	}
	for len(run.order) < n {
		if !w.Step() {
			t.Fatalf("world stopped with %d of %d replies", len(run.order), n)
		}
	}
	run.elapsed = w.Now().Sub(start)
	run.stats = srv.Stats()
	return run
}

func TestGroupCommitSharesFsyncs(t *testing.T) {
	const n = 2000
	d := DefaultServerConfig()
	grouped := pipelinedWrites(t, ServerConfig{}, n)
	single := pipelinedWrites(t, ServerConfig{MaxBatchSize: 1}, n)
	t.Logf("%d pipelined writes: %v with group commit (%d fsyncs, batches up to %d), %v with one fsync each",
		n, grouped.elapsed, grouped.stats.Fsyncs, grouped.stats.MaxBatch, single.elapsed)

	// One fsync per write: the fsyncs alone take n × FsyncCost.
	require.GreaterOrEqual(t, single.elapsed, sim.Duration(n)*d.FsyncCost)
	require.Equal(t, 1, single.stats.MaxBatch)
	// Group commit: the request processor is the bottleneck (n × WriteCost), and fsyncs are shared.
	require.Less(t, grouped.elapsed, sim.Duration(n)*d.WriteCost+10*d.FsyncCost)
	require.Less(t, grouped.stats.Fsyncs, int64(n/4))
	require.Greater(t, grouped.stats.MaxBatch, 1)
	// Either way the replies come in request order.
	for _, r := range []pipelineRun{grouped, single} {
		for i, got := range r.order {
			require.Equal(t, i, got, "reply %d", i)
		}
	}
}

func TestGroupCommitBatchIsBounded(t *testing.T) {
	// Writes are processed faster than they are fsynced, so batches grow until the bound stops them.
	cfg := ServerConfig{WriteCost: sim.Microsecond, FsyncCost: 10 * sim.Millisecond, MaxBatchSize: 50}
	r := pipelinedWrites(t, cfg, 500)
	require.Equal(t, 50, r.stats.MaxBatch)
	unbounded := pipelinedWrites(t, ServerConfig{WriteCost: sim.Microsecond, FsyncCost: 10 * sim.Millisecond, MaxBatchSize: 100000}, 500)
	require.Greater(t, unbounded.stats.MaxBatch, 50, "without the bound the same load makes bigger batches")
}

func TestReadWaitsOnlyForTheFsyncsBeforeIt(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", 4*sim.Second)
	_, err := e.create(c, "/x", 0)
	require.NoError(t, err)
	d := DefaultServerConfig()

	// An idle server answers a read without an fsync: two 1ms legs and the read.
	e.run(10 * sim.Millisecond)
	start := e.w.Now()
	var readAt sim.Time
	c.Get("/x", func([]byte, *Stat, error) { readAt = e.w.Now() })
	e.run(10 * sim.Millisecond)
	require.Equal(t, 2*sim.Millisecond+d.ReadCost, readAt.Sub(start))

	// A read sent after a write on the same session is answered after it, and sees it.
	var log []string
	c.Set("/x", []byte("new"), -1, func(*Stat, error) { log = append(log, "set") })
	c.Get("/x", func(data []byte, _ *Stat, _ error) { log = append(log, "get "+string(data)) })
	e.run(10 * sim.Millisecond)
	require.Equal(t, []string{"set", "get new"}, log)
}

func TestOutstandingLimitThrottlesConnections(t *testing.T) {
	run := func(limit int) (pipelineRun, *Server) {
		w := sim.New(sim.Options{Seed: 1, Latency: sim.Fixed(100 * sim.Microsecond)})
		srv := NewServer(w, "zk", ServerConfig{GlobalOutstandingLimit: limit})
		var clients []*Client
		for i := range 3 {
			p := w.AddProcess(fmt.Sprintf("c%d", i), sim.ProcessHooks{})
			clients = append(clients, Connect(w, p, []sim.ProcID{srv.ID()}, ClientConfig{SessionTimeout: 10 * sim.Second}))
		}
		w.RunFor(100 * sim.Millisecond)
		var r pipelineRun
		const perClient = 200
		for _, c := range clients {
			for i := range perClient {
				c.Exists(fmt.Sprintf("/n%d", i), func(bool, *Stat, error) { r.order = append(r.order, i) })
				c.Create(fmt.Sprintf("/n%d-%d", c.SessionID()&0xff, i), nil, 0, WorldACL(PermAll), func(string, error) { r.order = append(r.order, i) })
			}
		}
		w.RunFor(5 * sim.Second)
		require.Len(t, r.order, 3*2*perClient, "every request is answered")
		r.stats = srv.Stats()
		return r, srv
	}
	const limit = 50
	r, srv := run(limit)
	require.Positive(t, r.stats.Throttles)
	require.LessOrEqual(t, r.stats.MaxInProcess, limit+3, "at most the limit plus one request per connection")
	require.Equal(t, 0, srv.inProcess)
	for _, sc := range srv.conns {
		require.False(t, sc.throttled)
		_, held := sc.rc.Paused()
		require.Zero(t, held)
	}
	// The same load without a binding limit holds far more at once.
	big, _ := run(100000)
	require.Zero(t, big.stats.Throttles)
	require.Greater(t, big.stats.MaxInProcess, limit+3)
}

func TestServerConfigRejectsNegativeLimits(t *testing.T) {
	w := sim.New(sim.Options{Seed: 1})
	require.PanicsWithValue(t, "fakezk: negative MaxBatchSize -1 or GlobalOutstandingLimit 0", func() {
		NewServer(w, "zk", ServerConfig{MaxBatchSize: -1})
	})
}
