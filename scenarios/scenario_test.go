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
	run := guarded(Scenario{Name: "panicky"}, func(cfg Config) *invariants.Result {
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
	r := guarded(Scenario{Name: "early"}, func(Config) *invariants.Result { panic("in setup") })(Config{Seed: 4})
	require.Len(t, r.Violations, 1)
	assert.Equal(t, invariants.Panic, r.Violations[0].Class)
	assert.Contains(t, r.Violations[0].Message, "simrun run --scenario early --seed 4")
	assert.NotNil(t, r.Metrics)
}

// Every scenario of the catalogue recovers panics: register wraps it.
func TestCatalogueRunsAreGuarded(t *testing.T) {
	for _, sc := range All() {
		for _, layout := range sc.Forms() {
			r := sc.Run(Config{Seed: 1, Layout: layout, Sinks: []sim.Sink{panicSink{}}})
			assert.Equal(t, "panic", r.Status, sc.Name)
			assert.Equal(t, invariants.Panic, r.Worst(), sc.Name)
		}
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
		for _, layout := range sc.Forms() {
			r := sc.Run(Config{Seed: 1, MaxEvents: 500, Layout: layout})
			assert.Equal(t, "event-budget", r.Status, sc.Name)
			require.Len(t, r.Violations, 1, "%s: no end-of-run checks on a run cut short", sc.Name)
			assert.Equal(t, invariants.BudgetExhausted, r.Violations[0].Class, sc.Name)
			assert.Equal(t, invariants.BudgetExhausted, r.Worst(), sc.Name)
			assert.Equal(t, uint64(500), r.Events, sc.Name)
			want := "simrun run --scenario " + sc.Name + " --seed 1 --max-events 500"
			if layout != "" {
				want = "simrun run --scenario " + sc.Name + " --seed 1 --layout " + layout + " --max-events 500"
			}
			assert.Equal(t, want, r.Replay)
		}
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

// A scenario says which layouts it runs, in one line for each it refuses;
// its run refuses them too, before anything starts.
func TestLayoutsAreCheckedBeforeTheRun(t *testing.T) {
	none := Scenario{Name: "plain"}
	ctl := Scenario{Name: "ctl", Layouts: []string{LayoutController}}
	old := Scenario{Name: "old", Layouts: []string{Layout07}}
	both := Scenario{Name: "both", Layouts: []string{LayoutController, Layout07}}
	for _, tc := range []struct {
		sc     Scenario
		layout string
		err    string
	}{
		{none, "", ""},
		{none, LayoutController, ""},
		{none, Layout07, "scenario plain has no Kafka brokers, so no cluster layout; --layout 0.7 is not accepted"},
		{ctl, "", ""},
		{ctl, Layout07, "scenario ctl needs a controller; --layout 0.7 is not accepted"},
		{old, Layout07, ""},
		{old, "", "scenario old runs with --layout 0.7 only; --layout 2.6 is not accepted"},
		{both, Layout07, ""},
		{both, "", ""},
		{both, "0.8", `--layout "0.8" is not a layout (layouts: 2.6, 0.7)`},
	} {
		err := tc.sc.CheckLayout(tc.layout)
		if tc.err == "" {
			assert.NoError(t, err, "%s %q", tc.sc.Name, tc.layout)
			continue
		}
		assert.EqualError(t, err, tc.err, "%s %q", tc.sc.Name, tc.layout)
	}
	assert.Equal(t, []string{""}, none.Forms())
	assert.Equal(t, []string{LayoutController, Layout07}, both.Forms())

	zk, err := Lookup("zk-election")
	require.NoError(t, err)
	assert.PanicsWithValue(t, "scenarios: scenario zk-election has no Kafka brokers, so no cluster layout; --layout 0.7 is not accepted",
		func() { zk.Run(Config{Seed: 1, Layout: Layout07}) })
	assert.Equal(t, "simrun run --scenario broker-crash --seed 3 --layout 0.7", ReplayCommand("broker-crash", Config{Seed: 3, Layout: Layout07}))
}
