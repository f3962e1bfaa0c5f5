package scenarios

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/sim"
)

// A panic in an event of the simulated system ends the run with a Panic
// violation at the step it happened, naming the replay command; the program
// goes on.
func TestPanicInSimulatedCodeIsRecovered(t *testing.T) {
	run := guarded("panicky", false, func(cfg Config) *invariants.Result {
		w := sim.New(sim.Options{Seed: cfg.Seed})
		rec := newRecorder(w, "panicky", cfg)
		w.At(sim.Kernel, sim.Time(3*sim.Millisecond), "calm", func() {})
		w.At(sim.Kernel, sim.Time(5*sim.Millisecond), "boom", func() { panic("planted") })
		return rec.finish(w.Run(), nil)
	})
	r := run(Config{Seed: 9})
	assert.Equal(t, "panic", r.Status)
	require.Len(t, r.Violations, 1)
	v := r.Violations[0]
	assert.Equal(t, invariants.Panic, v.Class)
	assert.Equal(t, invariants.NoPanic, v.Invariant)
	assert.Equal(t, "panic: planted (replay: simrun run --scenario panicky --seed 9)", v.Message)
	assert.Equal(t, sim.Time(5*sim.Millisecond), v.At)
	assert.Equal(t, uint64(2), v.Step)
	assert.Contains(t, v.Stack, "scenario_test.go")
	assert.Equal(t, uint64(2), r.Events)
	assert.NotEmpty(t, r.TraceHash)
	assert.Equal(t, "simrun run --scenario panicky --seed 9", r.Replay)
	assert.Equal(t, invariants.Panic, r.Worst())
}

func TestPanicBeforeTheWorldIsRecovered(t *testing.T) {
	r := guarded("early", false, func(Config) *invariants.Result { panic("in setup") })(Config{Seed: 4})
	require.Len(t, r.Violations, 1)
	assert.Equal(t, invariants.Panic, r.Violations[0].Class)
	assert.Contains(t, r.Violations[0].Message, "simrun run --scenario early --seed 4")
	assert.NotNil(t, r.Metrics)
}

// Every scenario of the catalogue recovers panics: register wraps it.
func TestCatalogueRunsAreGuarded(t *testing.T) {
	for _, sc := range All() {
		r := sc.Run(Config{Seed: 1, Sinks: []sim.Sink{panicSink{}}})
		assert.Equal(t, "panic", r.Status, sc.Name)
		assert.Equal(t, invariants.Panic, r.Worst(), sc.Name)
	}
}

type panicSink struct{}

func (panicSink) Write(r *sim.Record) error {
	if r.Step >= 100 {
		panic("sink planted")
	}
	return nil
}

// A run that uses its whole event budget fails with its own class, and its
// replay command carries the budget.
func TestExhaustedBudgetIsAFailure(t *testing.T) {
	for _, sc := range All() {
		r := sc.Run(Config{Seed: 1, MaxEvents: 500})
		assert.Equal(t, "event-budget", r.Status, sc.Name)
		require.Len(t, r.Violations, 1, "%s: no end-of-run checks on a run cut short", sc.Name)
		assert.Equal(t, invariants.BudgetExhausted, r.Violations[0].Class, sc.Name)
		assert.Equal(t, invariants.BudgetExhausted, r.Worst(), sc.Name)
		assert.Equal(t, uint64(500), r.Events, sc.Name)
		assert.Equal(t, "simrun run --scenario "+sc.Name+" --seed 1 --max-events 500", r.Replay)
	}
}

// --zk-dump and --zk-log: the final tree, and a log that replays to it;
// neither changes the run.
func TestZKElectionDumpsItsTreeAndLog(t *testing.T) {
	sc, err := Lookup("zk-election")
	require.NoError(t, err)
	require.True(t, sc.ZooKeeper)
	for seed := uint64(1); seed <= 5; seed++ {
		var dump, log bytes.Buffer
		r := sc.Run(Config{Seed: seed, ZKDump: &dump, ZKLog: &log})
		require.True(t, r.OK(), "%v", r.Violations)
		assert.Equal(t, sc.Run(Config{Seed: seed}).TraceHash, r.TraceHash, "seed %d: the outputs change nothing", seed)
		nodes, err := fakezk.ReadDump(bytes.NewReader(dump.Bytes()))
		require.NoError(t, err)
		for _, p := range []string{"/", "/zookeeper", "/leader", "/members/m0", "/members/m3", "/load/m2"} {
			assert.Contains(t, nodes, p, "seed %d", seed)
		}
		assert.NotZero(t, nodes["/leader"].EphemeralOwner)
		replayed, err := fakezk.ReplayTxnLog(bytes.NewReader(log.Bytes()))
		require.NoError(t, err, "seed %d", seed)
		var again bytes.Buffer
		require.NoError(t, fakezk.WriteDump(&again, fakezk.ViewOf(replayed)))
		assert.Equal(t, dump.String(), again.String(), "seed %d: the log replays to the dump", seed)
	}

	kd, err := Lookup("kernel-demo")
	require.NoError(t, err)
	assert.False(t, kd.ZooKeeper)
	assert.PanicsWithValue(t, "scenarios: kernel-demo has no ZooKeeper for Config.ZKDump or ZKLog", func() { kd.Run(Config{Seed: 1, ZKLog: &bytes.Buffer{}}) })
}
