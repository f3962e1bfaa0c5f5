package invariants

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/sim"
)

// zkWorld is a world with one ZooKeeper server watched by the ZooKeeper
// invariants, and one client that creates an ephemeral /eph.
type zkWorld struct {
	w      *sim.World
	srv    *fakezk.Server
	c      *Checker
	client *fakezk.Client
}

func newZKWorld(t *testing.T, cfg fakezk.ServerConfig) *zkWorld {
	t.Helper()
	w := sim.New(sim.Options{Seed: 1, Latency: sim.Fixed(sim.Millisecond)})
	cfg.TickTime = 200 * sim.Millisecond
	z := &zkWorld{w: w, srv: fakezk.NewServer(w, "zk", cfg), c: NewChecker(w)}
	WatchZooKeeper(z.c, z.srv)
	id := w.AddProcess("client", sim.ProcessHooks{})
	z.client = fakezk.Connect(w, id, []sim.ProcID{z.srv.ID()}, fakezk.ClientConfig{SessionTimeout: sim.Second})
	w.RunFor(100 * sim.Millisecond)
	created := false
	z.client.Create("/eph", nil, fakezk.FlagEphemeral, fakezk.WorldACL(fakezk.PermAll), func(_ string, err error) {
		require.NoError(t, err)
		created = true
	})
	w.RunFor(100 * sim.Millisecond)
	require.True(t, created)
	return z
}

func TestZooKeeperInvariantsHoldOnAHealthyServer(t *testing.T) {
	z := newZKWorld(t, fakezk.ServerConfig{})
	require.True(t, z.srv.Expire(z.client.SessionID()))
	z.w.RunFor(5 * sim.Second) // the client learns, gets a new session
	z.w.Crash(z.srv.ID())
	z.w.RunFor(sim.Second)
	z.w.Restart(z.srv.ID())
	z.w.RunFor(5 * sim.Second)
	assert.Empty(t, z.c.Violations())
	assert.Greater(t, z.srv.Zxid(), int64(3))
}

// The planted bug: a server that keeps a dead session's ephemerals.
func TestEphemeralsInvariantCatchesKeptEphemerals(t *testing.T) {
	z := newZKWorld(t, fakezk.ServerConfig{BugKeepEphemerals: true})
	session := z.client.SessionID()
	require.True(t, z.srv.Expire(session))
	vs := z.c.Violations()
	require.Len(t, vs, 1)
	assert.Equal(t, EphemeralsBelongToLiveSessions, vs[0].Invariant)
	assert.Equal(t, Safety, vs[0].Class)
	assert.Contains(t, vs[0].Message, "/eph")
	assert.Equal(t, z.w.Steps(), vs[0].Step)

	z.w.RunFor(3 * sim.Second)
	assert.Len(t, z.c.Violations(), 1, "a lasting bad state is reported once")

	// A checker attached later finds it by its one walk of the tree.
	late := NewChecker(z.w)
	WatchZooKeeper(late, z.srv)
	require.Len(t, late.Violations(), 1)
	assert.Contains(t, late.Violations()[0].Message, "which the server no longer has")
}

// The planted bug: a transaction stream whose zxid goes back, as a server
// that lost its log on a restart would commit.
func TestZxidInvariantCatchesAGoingBack(t *testing.T) {
	w := sim.New(sim.Options{})
	c := NewChecker(w)
	z := newZKWatch(c, fakezk.NewServer(w, "zk", fakezk.ServerConfig{}))
	for _, zxid := range []int64{1, 2, 3, 2, 2, 4} {
		z.commit(fakezk.Commit{Kind: fakezk.CommitWrite, Zxid: zxid, Session: 7})
	}
	vs := c.Violations()
	require.Len(t, vs, 2, "2 after 3, then 2 after 2")
	assert.Equal(t, ZxidsOnlyGrow, vs[0].Invariant)
	assert.Contains(t, vs[0].Message, "zxid 0x2, after zxid 0x3")
	assert.Contains(t, vs[1].Message, "zxid 0x2, after zxid 0x2")
}

// plantedServer is a server whose zxids a test sets.
type plantedServer struct {
	*fakezk.Server
	zxid, durable int64
}

func (p *plantedServer) Zxid() int64        { return p.zxid }
func (p *plantedServer) DurableZxid() int64 { return p.durable }

// The planted bugs: a durable zxid that goes back, and a restart that
// recovers less than was durable.
func TestZxidInvariantCatchesLostDurableTransactions(t *testing.T) {
	w := sim.New(sim.Options{})
	c := NewChecker(w)
	srv := &plantedServer{Server: fakezk.NewServer(w, "zk", fakezk.ServerConfig{}), zxid: 9, durable: 9}
	z := newZKWatch(c, srv)
	srv.durable = 8
	z.step()
	require.Len(t, c.Violations(), 1)
	assert.Equal(t, "the durable zxid went back from 0x9 to 0x8", c.Violations()[0].Message)

	srv.zxid, srv.durable = 12, 12
	z.step()
	w.Crash(srv.ID())
	srv.zxid, srv.durable = 10, 10 // what the disk gave back
	z.step()
	w.Restart(srv.ID())
	w.RunFor(sim.Millisecond)
	z.step()
	z.step()
	vs := c.Violations()
	require.Len(t, vs, 3)
	assert.Equal(t, "the durable zxid went back from 0xc to 0xa", vs[1].Message)
	assert.Equal(t, "the server restarted at zxid 0xa, before its durable zxid 0xc: it lost transactions it had on disk", vs[2].Message)
}

// A crash during an fsync takes back a transaction nobody was told about;
// its zxid is given out again after the restart, which is no violation.
func TestZxidInvariantAllowsReusingAnUnsyncedZxid(t *testing.T) {
	z := newZKWorld(t, fakezk.ServerConfig{FsyncCost: 50 * sim.Millisecond})
	z.w.Disk(z.srv.ID()).SetLossMode(sim.LossTail)
	z.client.Set("/eph", []byte("lost"), -1, func(*fakezk.Stat, error) {})
	for z.srv.Zxid() == z.srv.DurableZxid() {
		require.True(t, z.w.Step())
	}
	lost := z.srv.Zxid()
	z.w.Crash(z.srv.ID())
	require.Less(t, z.srv.Zxid(), lost, "the crash took the transaction back")
	z.w.RunFor(100 * sim.Millisecond)
	z.w.Restart(z.srv.ID())
	z.w.RunFor(10 * sim.Second)
	assert.GreaterOrEqual(t, z.srv.Zxid(), lost, "the zxid was given out again")
	assert.Empty(t, z.c.Violations())
}

// A run that keeps scheduling events at the same instant never reaches its
// time limit: a livelock, reported as its own class.
func TestFinishReportsAnExhaustedBudget(t *testing.T) {
	w := sim.New(sim.Options{MaxEvents: 100, MaxTime: sim.Second})
	var spin func()
	spin = func() { w.After(sim.Kernel, 0, "spin", spin) }
	w.At(sim.Kernel, 0, "spin", spin)
	c := NewChecker(w)
	c.Finish(w.Run())
	vs := c.Violations()
	require.Len(t, vs, 1)
	assert.Equal(t, BudgetExhausted, vs[0].Class)
	assert.Equal(t, EventBudget, vs[0].Invariant)
	assert.Contains(t, vs[0].Message, "budget of 100 events")

	healthy := sim.New(sim.Options{MaxTime: sim.Second})
	healthy.At(sim.Kernel, 0, "once", func() {})
	c = NewChecker(healthy)
	c.Finish(healthy.Run())
	assert.Empty(t, c.Violations())
}

func TestPanickedNamesTheReplay(t *testing.T) {
	w := sim.New(sim.Options{})
	c := NewChecker(w)
	c.Panicked("boom", []byte("goroutine 1 [running]:"), "simrun run --scenario x --seed 3")
	vs := c.Violations()
	require.Len(t, vs, 1)
	assert.Equal(t, Panic, vs[0].Class)
	assert.Equal(t, "panic: boom (replay: simrun run --scenario x --seed 3)", vs[0].Message)
	assert.Contains(t, vs[0].Stack, "goroutine 1")
}

func TestCheckerBoundsWhatItKeeps(t *testing.T) {
	c := NewChecker(sim.New(sim.Options{}))
	for i := 0; i < MaxViolationsPerInvariant+5; i++ {
		c.Safety("always-broken", "step %d", i)
	}
	c.Liveness("once-broken", "late")
	vs := c.Violations()
	require.Len(t, vs, MaxViolationsPerInvariant+2)
	last := vs[len(vs)-1]
	assert.Equal(t, "always-broken", last.Invariant)
	assert.Equal(t, Safety, last.Class)
	assert.Equal(t, "5 more violations of always-broken not listed", last.Message)
	assert.Equal(t, "once-broken", vs[MaxViolationsPerInvariant].Invariant, "the summary comes after what was kept")
}

func TestResultWorst(t *testing.T) {
	r := &Result{}
	assert.True(t, r.OK())
	assert.Equal(t, Class(""), r.Worst())
	r.Violations = []Violation{{Class: Liveness}, {Class: Safety}}
	assert.Equal(t, Safety, r.Worst())
	r.Violations = append(r.Violations, Violation{Class: BudgetExhausted})
	assert.Equal(t, BudgetExhausted, r.Worst())
	r.Violations = append(r.Violations, Violation{Class: Panic})
	assert.Equal(t, Panic, r.Worst())
}

func TestFinishCountsOnce(t *testing.T) {
	c := NewChecker(sim.New(sim.Options{}))
	c.Finish(sim.StatusEventBudget)
	c.Finish(sim.StatusEventBudget)
	assert.Len(t, c.Violations(), 1)
}
