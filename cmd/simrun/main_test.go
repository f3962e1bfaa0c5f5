package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/nodes/kafka/history"
	"github.com/kzsim/kzsim/scenarios"
	"github.com/kzsim/kzsim/sim"
)

func simrun(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestDefaultRunNarrates(t *testing.T) {
	code, out, errOut := simrun()
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "scenario controller-failover, seed 1")
	// The README's example shows this run: its first line is this one.
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	first, _, _ := strings.Cut(out, "\n")
	assert.Contains(t, string(readme), "$ go run ./cmd/simrun\n"+first+"\n", "README's example of the default run is stale")
	assert.Contains(t, out, "timeline:")
	assert.Contains(t, out, "checks: all held")
}

func TestRunJSON(t *testing.T) {
	code, out, _ := simrun("run", "--scenario", "kernel-demo", "--seed", "7", "--json")
	require.Equal(t, 0, code)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	for _, k := range []string{"scenario", "seed", "status", "trace_hash", "events", "sim_time_ns", "violations", "metrics"} {
		assert.Contains(t, res, k)
	}
	assert.Equal(t, []any{}, res["violations"])
	_, again, _ := simrun("run", "--scenario", "kernel-demo", "--seed", "7", "--json")
	assert.Equal(t, out, again, "same seed, same output")
}

func TestList(t *testing.T) {
	code, out, _ := simrun("list")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "kernel-demo")
	code, out, _ = simrun("list", "--json")
	assert.Equal(t, 0, code)
	var entries []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &entries))
	assert.NotEmpty(t, entries)
}

func TestBadUsageIsOneLineAndExit2(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"run"},
		{"run", "--scenario", "kernel-demo"},
		{"run", "--scenario", "kernel-demo", "--seed", "-3"},
		{"run", "--scenario", "kernel-demo", "--seed", "abc"},
		{"run", "--scenario", "nope", "--seed", "1"},
		{"run", "--scenario", "kernel-demo", "--seed", "1", "--bogus"},
		{"run", "--scenario", "kernel-demo", "--seed", "1", "extra"},
		{"list", "--yaml"},
	} {
		code, out, errOut := simrun(args...)
		assert.Equal(t, 2, code, "%v", args)
		assert.Empty(t, out, "%v", args)
		assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line for %v: %q", args, errOut)
		assert.True(t, strings.HasPrefix(errOut, "simrun: "), errOut)
	}
}

func TestTraceFileIsWrittenAndNeverOverwrittenSilently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	code, _, errOut := simrun("run", "--scenario", "kernel-demo", "--seed", "2", "--trace", path)
	require.Equal(t, 0, code, errOut)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	assert.Greater(t, len(lines), 1000)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
	assert.Contains(t, rec, "kind")

	code, _, errOut = simrun("run", "--scenario", "kernel-demo", "--seed", "3", "--trace", path)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "exists; remove it or pass --force")
	after, _ := os.ReadFile(path)
	assert.Equal(t, data, after, "the user's file is untouched")

	code, _, _ = simrun("run", "--scenario", "kernel-demo", "--seed", "3", "--trace", path, "--force")
	assert.Equal(t, 0, code)
}

func TestHelpPrintsUsageAndExits0(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"run", "-h"}, {"run", "--help"}, {"list", "-h"}, {"run", "--scenario", "kernel-demo", "-h"}} {
		code, out, errOut := simrun(args...)
		assert.Equal(t, 0, code, "%v", args)
		assert.Empty(t, errOut, "%v", args)
		assert.True(t, strings.HasPrefix(out, "usage:\n"), "%v: %q", args, out)
		assert.Contains(t, out, "--trace FILE", "%v", args)
	}
}

// Every exit status is documented in the usage text and in the README.
func TestExitStatusesAreDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for _, code := range []int{exitOK, exitViolation, exitUsage, 3, exitOutput, exitBudget, exitPanic} {
		assert.Regexp(t, fmt.Sprintf(`(?m)^  %d  \S`, code), usage, "usage documents status %d", code)
		assert.True(t, regexp.MustCompile(fmt.Sprintf(`(?m)^\| %d \| \S`, code)).Match(readme), "README documents status %d in its table", code)
	}
}

// A flag whose value is missing must not swallow the next flag.
func TestFlagValueThatIsAFlagIsAnError(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"run", "--scenario", "--seed", "1"}, `run: --scenario needs a value, but got the flag "--seed"`},
		{[]string{"run", "--scenario", "kernel-demo", "--seed", "--json"}, `run: --seed needs a value, but got the flag "--json"`},
		{[]string{"run", "--scenario", "kernel-demo", "--seed", "1", "--trace", "-x"}, `run: --trace needs a value, but got the flag "-x"`},
	} {
		code, out, errOut := simrun(tc.args...)
		assert.Equal(t, 2, code, "%v", tc.args)
		assert.Empty(t, out)
		assert.Equal(t, "simrun: "+tc.msg+"\n", errOut, "%v", tc.args)
	}
	// A negative number is a value, refused for what it is.
	_, _, errOut := simrun("run", "--scenario", "kernel-demo", "--seed", "-3")
	assert.Contains(t, errOut, `--seed "-3" is not a decimal number`)
}

func TestTraceToADirectoryIsRefusedForWhatItIs(t *testing.T) {
	dir := t.TempDir()
	for _, extra := range [][]string{nil, {"--force"}} {
		args := append([]string{"run", "--scenario", "kernel-demo", "--seed", "1", "--trace", dir}, extra...)
		code, out, errOut := simrun(args...)
		assert.Equal(t, 2, code, "%v", args)
		assert.Empty(t, out)
		assert.Equal(t, fmt.Sprintf("simrun: run: --trace %s is a directory; name a file, e.g. %s/trace.jsonl\n", dir, dir), errOut)
		assert.NotContains(t, errOut, "--force")
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// --trace - puts the trace, and only the trace, on standard output; the
// summary (or the --json result) goes to standard error.
func TestTraceDashIsStdout(t *testing.T) {
	code, out, errOut := simrun("run", "--scenario", "kernel-demo", "--seed", "2", "--trace", "-")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Greater(t, len(lines), 1000)
	for _, l := range lines {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &rec), l)
		require.Contains(t, rec, "kind")
	}
	assert.Contains(t, errOut, "scenario kernel-demo, seed 2:")
	assert.Contains(t, errOut, "checks: all held")

	code, out2, errOut := simrun("run", "--scenario", "kernel-demo", "--seed", "2", "--trace", "-", "--json")
	require.Equal(t, 0, code)
	assert.Equal(t, out, out2, "the same trace")
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(errOut), &res))
	assert.Equal(t, "kernel-demo", res["scenario"])
}

// failingWriter fails every write after the first n bytes.
type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k := f.n
		f.n = 0
		return k, errors.New("no space left on device")
	}
	f.n -= len(p)
	return len(p), nil
}

// A trace that cannot be written is status 4, not 1 (a failed check).
func TestTraceWriteErrorIsExit4(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err == nil {
		code, out, errOut := simrun("run", "--scenario", "kernel-demo", "--seed", "1", "--trace", "/dev/full", "--force")
		assert.Equal(t, 4, code)
		assert.Contains(t, out, "checks: all held", "the result is still printed")
		assert.Equal(t, "simrun: writing trace /dev/full: write /dev/full: no space left on device\n", errOut)
	}
	var errOut bytes.Buffer
	code := run([]string{"run", "--scenario", "kernel-demo", "--seed", "1", "--trace", "-"}, &failingWriter{n: 10_000}, &errOut)
	assert.Equal(t, 4, code)
	assert.Contains(t, errOut.String(), "simrun: writing trace to standard output: no space left on device\n")

	code, _, errOut2 := simrunTo(&failingWriter{n: 10}, "run", "--scenario", "kernel-demo", "--seed", "1", "--json")
	assert.Equal(t, 4, code)
	assert.Contains(t, errOut2, "simrun: writing the result: no space left on device")
}

func simrunTo(stdout io.Writer, args ...string) (code int, _ io.Writer, stderr string) {
	var e bytes.Buffer
	code = run(args, stdout, &e)
	return code, stdout, e.String()
}

func TestTraceFileInAMissingDirectoryIsExit4(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "trace.jsonl")
	code, out, errOut := simrun("run", "--scenario", "kernel-demo", "--seed", "1", "--trace", path)
	assert.Equal(t, 4, code)
	assert.Empty(t, out, "nothing ran")
	assert.Contains(t, errOut, "simrun: run: cannot create --trace file: open "+path)
}

// plant registers a scenario for one test, replacing lookup.
func plant(t *testing.T, run func(cfg scenarios.Config) *invariants.Result) {
	old := lookup
	lookup = func(name string) (scenarios.Scenario, error) {
		if name == "planted" || name == scenarios.Default {
			return scenarios.Scenario{Name: "planted", Run: run}, nil
		}
		return old(name)
	}
	t.Cleanup(func() { lookup = old })
}

func failing(classes ...invariants.Class) func(scenarios.Config) *invariants.Result {
	return func(cfg scenarios.Config) *invariants.Result {
		r := &invariants.Result{Scenario: "planted", Seed: cfg.Seed, Status: "deadline", Replay: "simrun run --scenario planted --seed 1", Violations: []invariants.Violation{}}
		for _, c := range classes {
			r.Violations = append(r.Violations, invariants.Violation{Invariant: "planted-" + string(c), Class: c, Message: "planted"})
		}
		return r
	}
}

func TestExitStatusFollowsTheWorstFailure(t *testing.T) {
	for _, tc := range []struct {
		classes []invariants.Class
		code    int
	}{
		{nil, 0},
		{[]invariants.Class{invariants.Liveness}, 1},
		{[]invariants.Class{invariants.Safety, invariants.Liveness}, 1},
		{[]invariants.Class{invariants.Liveness, invariants.BudgetExhausted}, 5},
		{[]invariants.Class{invariants.Safety, invariants.Panic}, 6},
		{[]invariants.Class{invariants.BudgetExhausted, invariants.Panic}, 6},
	} {
		plant(t, failing(tc.classes...))
		code, out, errOut := simrun("run", "--scenario", "planted", "--seed", "1")
		assert.Equal(t, tc.code, code, "%v", tc.classes)
		assert.Empty(t, errOut)
		if tc.code != 0 {
			assert.Contains(t, out, "replay: simrun run --scenario planted --seed 1")
		}
		code, _, _ = simrun()
		assert.Equal(t, tc.code, code, "default run, %v", tc.classes)
	}
	// An output error beats a failed check.
	plant(t, failing(invariants.Safety))
	code, _, _ := simrunTo(&failingWriter{}, "run", "--scenario", "planted", "--seed", "1")
	assert.Equal(t, 4, code)
}

// A real run that exhausts its budget exits 5 and says how to replay it.
func TestExhaustedBudgetIsExit5(t *testing.T) {
	code, out, _ := simrun("run", "--scenario", "zk-election", "--seed", "1", "--max-events", "400")
	assert.Equal(t, 5, code)
	assert.Contains(t, out, "event-budget [budget-exhausted]")
	assert.Contains(t, out, "replay: simrun run --scenario zk-election --seed 1 --max-events 400")
	for _, bad := range []string{"0", "-1", "x", ""} {
		code, _, errOut := simrun("run", "--scenario", "zk-election", "--seed", "1", "--max-events", bad)
		assert.Equal(t, 2, code, bad)
		assert.Contains(t, errOut, "--max-events", bad)
	}
}

// A panic in simulated code is reported, with its stack and replay, as
// status 6; simrun itself does not crash.
func TestPanicIsExit6(t *testing.T) {
	plant(t, func(cfg scenarios.Config) *invariants.Result {
		sc, err := scenarios.Lookup("kernel-demo")
		require.NoError(t, err)
		cfg.Sinks = append(cfg.Sinks, panicAt{step: 50})
		return sc.Run(cfg)
	})
	code, out, errOut := simrun("run", "--scenario", "planted", "--seed", "3")
	assert.Equal(t, 6, code)
	assert.Empty(t, errOut)
	assert.Contains(t, out, "kernel-demo, seed 3: panic after")
	assert.Contains(t, out, "no-panic [panic] at")
	assert.Contains(t, out, "(step 50): panic: planted at step 50 (replay: simrun run --scenario kernel-demo --seed 3)")
	assert.Contains(t, out, "goroutine ")
	assert.Contains(t, out, "replay: simrun run --scenario kernel-demo --seed 3")
}

type panicAt struct{ step uint64 }

func (p panicAt) Write(r *sim.Record) error {
	if r.Step == p.step {
		panic(fmt.Sprintf("planted at step %d", p.step))
	}
	return nil
}

func TestZKDump(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tree.json")
	code, out, errOut := simrun("run", "--scenario", "zk-election", "--seed", "1", "--zk-dump", path)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "checks: all held")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var dump map[string]map[string]any
	require.NoError(t, json.Unmarshal(data, &dump))
	assert.Contains(t, dump, "/leader")

	code, _, errOut = simrun("run", "--scenario", "zk-election", "--seed", "2", "--zk-dump", path)
	assert.Equal(t, 2, code)
	assert.Equal(t, "simrun: run: --zk-dump file "+path+" exists; remove it or pass --force\n", errOut)
	after, _ := os.ReadFile(path)
	assert.Equal(t, data, after, "the user's file is untouched")
	code, _, _ = simrun("run", "--scenario", "zk-election", "--seed", "2", "--zk-dump", path, "--force")
	assert.Equal(t, 0, code)

	code, stdout, errOut := simrun("run", "--scenario", "zk-election", "--seed", "1", "--zk-dump", "-")
	require.Equal(t, 0, code)
	assert.JSONEq(t, string(data), stdout, "the same tree on standard output")
	assert.Contains(t, errOut, "checks: all held", "the summary moves to stderr")

	if _, err := os.Stat("/dev/full"); err == nil {
		code, _, errOut = simrun("run", "--scenario", "zk-election", "--seed", "1", "--zk-dump", "/dev/full", "--force")
		assert.Equal(t, 4, code)
		assert.Equal(t, "simrun: writing --zk-dump /dev/full: write /dev/full: no space left on device\n", errOut)
	}
}

func TestOutputsAreCheckedTogether(t *testing.T) {
	dir := t.TempDir()
	x := filepath.Join(dir, "x")
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--scenario", "kernel-demo", "--zk-dump", x}, "simrun: run: --zk-dump: scenario kernel-demo has no ZooKeeper (these have: broker-crash, consumer-rebalance, controlled-shutdown, controller-failover, idempotent-producer, preferred-election, producer-balance, reassignment, session-expiry, topic-lifecycle, zk-election, zombie-controller)\n"},
		{[]string{"--scenario", "zk-election", "--trace", "-", "--zk-dump", "-"}, "simrun: run: --trace and --zk-dump both write to standard output; only one may\n"},
		{[]string{"--scenario", "zk-election", "--trace", x, "--zk-dump", x}, "simrun: run: --trace and --zk-dump both name " + x + "\n"},
		{[]string{"--scenario", "zk-election", "--zk-dump", dir}, "simrun: run: --zk-dump " + dir + " is a directory; name a file, e.g. " + dir + "/zk-dump.json\n"},
		{[]string{"--scenario", "zk-election", "--trace", ""}, "simrun: run: --trace needs a file name (or - for standard output)\n"},
	} {
		code, out, errOut := simrun(append([]string{"run", "--seed", "1"}, tc.args...)...)
		assert.Equal(t, 2, code, "%v", tc.args)
		assert.Empty(t, out)
		assert.Equal(t, tc.msg, errOut, "%v", tc.args)
	}
	_, err := os.Stat(x)
	assert.True(t, os.IsNotExist(err), "nothing created")
}

// An output that cannot be created leaves none of the others behind.
func TestAFailedOutputRemovesTheOthers(t *testing.T) {
	dir := t.TempDir()
	trace := filepath.Join(dir, "trace.jsonl")
	code, _, errOut := simrun("run", "--scenario", "zk-election", "--seed", "1", "--trace", trace, "--zk-dump", filepath.Join(dir, "no", "tree.json"))
	assert.Equal(t, 4, code)
	assert.Contains(t, errOut, "cannot create --zk-dump file")
	_, err := os.Stat(trace)
	assert.True(t, os.IsNotExist(err), "the trace file we created is gone again")
}

// --zk-log and --zk-dump together: the log replays to the dump.
func TestZKLogReplaysToTheDump(t *testing.T) {
	dir := t.TempDir()
	logPath, dumpPath := filepath.Join(dir, "zk.jsonl"), filepath.Join(dir, "zk.json")
	for _, scenario := range []string{"zk-election", "controller-failover", "topic-lifecycle"} {
		code, _, errOut := simrun("run", "--scenario", scenario, "--seed", "4", "--zk-log", logPath, "--zk-dump", dumpPath, "--force")
		require.Equal(t, 0, code, errOut)
		log, err := os.ReadFile(logPath)
		require.NoError(t, err)
		dump, err := os.ReadFile(dumpPath)
		require.NoError(t, err)
		recs, err := fakezk.ReadTxnLog(bytes.NewReader(log))
		require.NoError(t, err)
		assert.Greater(t, len(recs), 20, scenario)
		assert.Equal(t, fakezk.TxnCreateSession, recs[0].Type, scenario)
		replayed, err := fakezk.ReplayTxnLog(bytes.NewReader(log))
		require.NoError(t, err)
		var again bytes.Buffer
		require.NoError(t, fakezk.WriteDump(&again, fakezk.ViewOf(replayed)))
		assert.Equal(t, string(dump), again.String(), scenario)
		if scenario != "zk-election" {
			// Kafka's layout, as Kafka wrote it.
			assert.Contains(t, string(dump), `"/controller_epoch"`, scenario)
			assert.Contains(t, string(dump), `"/brokers/topics/orders/partitions/0/state"`, scenario)
			assert.Contains(t, string(dump), `"/brokers/ids/1"`, scenario)
		}
	}
	require.NoError(t, os.Remove(logPath))
	code, _, errOut := simrun("run", "--scenario", "zk-election", "--seed", "4", "--zk-log", logPath)
	require.Equal(t, 0, code, errOut)

	code, _, errOut = simrun("run", "--scenario", "kernel-demo", "--seed", "1", "--zk-log", filepath.Join(dir, "x"))
	assert.Equal(t, 2, code)
	assert.Equal(t, "simrun: run: --zk-log: scenario kernel-demo has no ZooKeeper (these have: broker-crash, consumer-rebalance, controlled-shutdown, controller-failover, idempotent-producer, preferred-election, producer-balance, reassignment, session-expiry, topic-lifecycle, zk-election, zombie-controller)\n", errOut)
	code, _, errOut = simrun("run", "--scenario", "zk-election", "--seed", "1", "--zk-log", logPath)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--zk-log file "+logPath+" exists; remove it or pass --force")
	if _, err := os.Stat("/dev/full"); err == nil {
		code, _, errOut = simrun("run", "--scenario", "zk-election", "--seed", "1", "--zk-log", "/dev/full", "--force")
		assert.Equal(t, 4, code)
		assert.Equal(t, "simrun: writing --zk-log /dev/full: write /dev/full: no space left on device\n", errOut)
	}
}

// --layout: a value that is not a layout is a one-line error naming it and
// the valid ones; a scenario refuses a layout it does not run before
// anything starts; an accepted one runs and its replay command carries it.
func TestLayout(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--scenario", "broker-crash", "--layout", "0.8"}, `simrun: run: --layout "0.8" is not a layout (layouts: 2.6, 0.7)` + "\n"},
		{[]string{"--scenario", "broker-crash", "--layout", ""}, `simrun: run: --layout "" is not a layout (layouts: 2.6, 0.7)` + "\n"},
		{[]string{"--scenario", "zk-election", "--layout", "0.7"}, "simrun: run: scenario zk-election has no Kafka brokers, so no cluster layout; --layout 0.7 is not accepted\n"},
		{[]string{"--scenario", "kernel-demo", "--layout", "0.7"}, "simrun: run: scenario kernel-demo has no Kafka brokers, so no cluster layout; --layout 0.7 is not accepted\n"},
		{[]string{"--scenario", "controller-failover", "--layout", "0.7"}, "simrun: run: scenario controller-failover needs a controller; --layout 0.7 is not accepted\n"},
	} {
		code, out, errOut := simrun(append([]string{"run", "--seed", "1"}, tc.args...)...)
		assert.Equal(t, 2, code, "%v", tc.args)
		assert.Empty(t, out, "%v", tc.args)
		assert.Equal(t, tc.err, errOut, "%v", tc.args)
	}

	code, out, errOut := simrun("run", "--scenario", "broker-crash", "--seed", "1", "--layout", "0.7", "--json")
	require.Equal(t, 0, code, errOut)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Equal(t, "simrun run --scenario broker-crash --seed 1 --layout 0.7", res["replay"])

	// A scenario without Kafka brokers runs with the default layout named.
	code, _, errOut = simrun("run", "--scenario", "kernel-demo", "--seed", "1", "--layout", "2.6")
	assert.Equal(t, 0, code, errOut)

	// simrun list says what each scenario runs.
	_, out, _ = simrun("list")
	assert.Regexp(t, `(?m)^broker-crash +2\.6,0\.7 +\S`, out)
	assert.Regexp(t, `(?m)^producer-balance +2\.6,0\.7 +\S`, out)
	assert.Regexp(t, `(?m)^consumer-rebalance +2\.6,0\.7 +\S`, out)
	assert.Regexp(t, `(?m)^controller-failover +2\.6 +\S`, out)
	assert.Regexp(t, `(?m)^zk-election +- +\S`, out)
	_, out, _ = simrun("list", "--json")
	var entries []struct {
		Name    string   `json:"name"`
		Layouts []string `json:"layouts"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &entries))
	for _, e := range entries {
		switch e.Name {
		case "broker-crash", "producer-balance", "consumer-rebalance":
			assert.Equal(t, []string{"2.6", "0.7"}, e.Layouts, e.Name)
		}
		if e.Name == "zk-election" {
			assert.Equal(t, []string{}, e.Layouts)
		}
	}
}

// --history writes the clients' operations in the Jepsen-style format:
// the strict reader reads it back and its checker passes a durable run;
// a scenario without clients refuses the flag.
func TestHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	code, _, errOut := simrun("run", "--scenario", "consumer-rebalance", "--seed", "1", "--history", path)
	require.Equal(t, 0, code, errOut)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	h, err := history.Read(bytes.NewReader(data))
	require.NoError(t, err)
	assert.True(t, h.Config.Durable())
	assert.Equal(t, []string{"events"}, h.Config.Subscriptions["g"])
	kinds := map[history.F]int{}
	for _, o := range h.Ops {
		kinds[o.F]++
	}
	assert.Positive(t, kinds[history.Send])
	assert.Positive(t, kinds[history.Poll])
	assert.Positive(t, kinds[history.Commit])
	assert.Empty(t, history.Check(h))

	// Under --layout 0.7 no send is acknowledged (a 0.7 produce has no
	// response): the sends complete as info, and the config line says acks 0.
	code, _, errOut = simrun("run", "--scenario", "consumer-rebalance", "--seed", "1", "--layout", "0.7", "--history", path+"07")
	require.Equal(t, 0, code, errOut)
	data, err = os.ReadFile(path + "07")
	require.NoError(t, err)
	h, err = history.Read(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Equal(t, history.AcksNone, h.Config.Acks)
	types := map[history.Type]int{}
	for _, o := range h.Ops {
		if o.F == history.Send {
			types[o.Type]++
		}
	}
	assert.Zero(t, types[history.OK])
	assert.Positive(t, types[history.Info])
	assert.Empty(t, history.Check(h))

	code, _, errOut = simrun("run", "--scenario", "kernel-demo", "--seed", "1", "--history", path+"2")
	assert.Equal(t, 2, code)
	assert.Equal(t, "simrun: run: --history: scenario kernel-demo has no Kafka clients (these have: broker-crash@2.6, consumer-rebalance@2.6, consumer-rebalance@0.7, controller-failover@2.6, idempotent-producer@2.6, producer-balance@2.6, producer-balance@0.7)\n", errOut)
}
