// Command simrun runs kzsim scenarios: deterministic simulations of a
// ZooKeeper-coordinated Kafka cluster under faults, replayable from a seed.
//
// Usage:
//
//	simrun                       run the default scenario and narrate it
//	simrun list [--json]         the scenarios it knows
//	simrun run --scenario NAME --seed N [--layout 2.6|0.7] [--json] [--max-events N]
//	             [--trace FILE|-] [--zk-dump FILE|-] [--zk-log FILE|-] [--history FILE|-] [--force]
//	simrun help                  usage (also -h on any command)
//
// Exit status, the first that applies in this order: 2 bad usage or input
// (nothing ran), 4 an output could not be written, 6 simulated code
// panicked, 5 the run used its whole event budget (a livelock), 1 a safety
// or liveness check failed, 0 all checks held. 3 is kept for a replay that
// diverges from its recorded trace hash.
package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/scenarios"
	"github.com/kzsim/kzsim/sim"
)

// Exit statuses.
const (
	exitOK        = 0 // every check held
	exitViolation = 1 // a safety or liveness check failed
	exitUsage     = 2 // bad usage or input; nothing ran
	_             = 3 // reserved: a replay diverged from its recorded trace hash
	exitOutput    = 4 // an output (trace, summary) could not be created or written
	exitBudget    = 5 // the run used its whole event budget: a livelock
	exitPanic     = 6 // simulated code panicked (recovered; the run is reported)
)

const usage = `usage:
  simrun                       run the default scenario (seed 1) and narrate it
  simrun list [--json]         list the scenarios: name, the --layout values
                               it runs (-: a scenario without Kafka brokers,
                               run with the default only) and a summary
  simrun run --scenario NAME --seed N [flags]
                               run one scenario once
  simrun help                  this text (also -h or --help after any command)

run flags:
  --scenario NAME    the scenario (simrun list shows them)
  --seed N           the seed, a decimal number from 0 to 2^64-1
  --layout L         the Kafka cluster layout: 2.6 (the default: a controller,
                     replicated partitions) or 0.7 (Kafka 0.7's registry: no
                     controller, no replication); a scenario that does not run
                     L refuses it (simrun list shows what each runs)
  --json             print the result as one JSON object instead of a summary
  --max-events N     the run's event budget (default: the scenario's own); a run
                     that uses it all fails with status 5
  --trace FILE       write the trace as JSON lines to FILE; an existing FILE is
                     refused unless --force. --trace - writes it to standard
                     output, and the summary (or --json result) goes to
                     standard error instead
  --zk-dump FILE     write the final ZooKeeper tree to FILE as one JSON object,
                     {"<path>": {"data": "<utf-8 text>", "ephemeral_owner": <session
                     or 0>, "version": <n>}, ...} (data_b64 for data that is not
                     UTF-8); scenarios with a ZooKeeper only. - is standard output
  --zk-log FILE      write ZooKeeper's transaction log to FILE as JSON lines, one per
                     committed change in zxid order: {"zxid", "t_ns", "session",
                     "type", ...}, type createSession, closeSession, create, setData
                     or delete; replayed from an empty tree it gives the --zk-dump
  --history FILE     write the clients' operations to FILE as JSON lines, Jepsen-style:
                     first {"type": "config", ...}, then every send ("invoke", then
                     "ok", "fail" or "info"), every message polled and every offset
                     committed; scenarios with Kafka clients only. - is standard output
  --force            overwrite existing output files

A flag's value may not start with '-' (except "-" and negative numbers):
write ./-name for a file called -name.

exit status (the first that applies, in this order):
  2  bad usage or input, with a one-line error; nothing ran
  4  an output could not be created (nothing ran) or written (the run's
     result is still printed)
  6  simulated code panicked: the run stopped there; the summary shows the
     panic, its stack and the replay command
  5  the run used its whole event budget before its time limit (a livelock)
  1  a safety or liveness check failed
  0  every check held
  3  reserved for a replay that diverges from its recorded trace hash
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is bad input from the user: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func badUsage(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// outputError is an output that could not be created or written: exit
// status 4.
type outputError struct{ err error }

func (e outputError) Error() string { return e.err.Error() }
func (e outputError) Unwrap() error { return e.err }

// errHelp asks for the usage text on stdout and exit status 0.
var errHelp = errors.New("help requested")

// lookup finds a scenario; tests replace it to run planted ones.
var lookup = scenarios.Lookup

func run(args []string, stdout, stderr io.Writer) int {
	code, err := dispatch(args, stdout, stderr)
	if errors.Is(err, errHelp) {
		if _, werr := fmt.Fprint(stdout, usage); werr != nil {
			return exitOutput
		}
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "simrun: %v\n", err)
		if o := (outputError{}); errors.As(err, &o) {
			return exitOutput
		}
		return exitUsage // every other error dispatch returns is a usageError
	}
	return code
}

func dispatch(args []string, stdout, stderr io.Writer) (int, error) {
	if len(args) == 0 {
		return runDefault(stdout)
	}
	switch args[0] {
	case "list":
		return cmdList(args[1:], stdout)
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		return exitOK, errHelp
	}
	return 0, badUsage("unknown command %q (commands: list, run, help)", args[0])
}

// newFlags returns a flag set that reports errors as values, not on stderr.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses args; -h asks for help, a flag's value that looks like another
// flag (run --scenario --seed 1) is an error naming the flag, and so is an
// argument that is not a flag.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return badUsage("%s: %v", fs.Name(), err)
	}
	var bad error
	fs.Visit(func(f *flag.Flag) {
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); bad != nil || (ok && b.IsBoolFlag()) {
			return
		}
		if v := f.Value.String(); looksLikeFlag(v) {
			bad = badUsage("%s: --%s needs a value, but got the flag %q", fs.Name(), f.Name, v)
		}
	})
	if bad != nil {
		return bad
	}
	if fs.NArg() > 0 {
		return badUsage("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// looksLikeFlag reports whether a flag's value is probably the next flag,
// its own value missing: "-x", "--x", but not "-" (standard output) or "-3".
func looksLikeFlag(v string) bool {
	return len(v) > 1 && v[0] == '-' && (v[1] < '0' || v[1] > '9')
}

func cmdList(args []string, stdout io.Writer) (int, error) {
	fs := newFlags("list")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return 0, err
	}
	all := scenarios.All()
	if *asJSON {
		type entry struct {
			Name    string   `json:"name"`
			Summary string   `json:"summary"`
			Default bool     `json:"default"`
			Layouts []string `json:"layouts"`
		}
		out := make([]entry, 0, len(all))
		for _, s := range all {
			out = append(out, entry{s.Name, s.Summary, s.Name == scenarios.Default, append([]string{}, s.Layouts...)})
		}
		if err := json.NewEncoder(stdout).Encode(out); err != nil {
			return 0, outputError{fmt.Errorf("writing the list: %w", err)}
		}
		return exitOK, nil
	}
	width := 0
	for _, s := range all {
		width = max(width, len(s.Name))
	}
	for _, s := range all {
		layouts := strings.Join(s.Layouts, ",")
		if layouts == "" {
			layouts = "-"
		}
		if _, err := fmt.Fprintf(stdout, "%-*s %-8s %s\n", width, s.Name, layouts, s.Summary); err != nil {
			return 0, outputError{fmt.Errorf("writing the list: %w", err)}
		}
	}
	return exitOK, nil
}

func cmdRun(args []string, stdout, stderr io.Writer) (int, error) {
	fs := newFlags("run")
	name := fs.String("scenario", "", "scenario name (simrun list)")
	seedText := fs.String("seed", "", "seed, a decimal number")
	layout := fs.String("layout", "", "the Kafka cluster layout: "+strings.Join(scenarios.Layouts, " or "))
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	maxEventsText := fs.String("max-events", "", "event budget")
	tracePath := fs.String("trace", "", "write the trace as JSON lines to this file (- for stdout)")
	zkDumpPath := fs.String("zk-dump", "", "write the final ZooKeeper tree as JSON to this file (- for stdout)")
	zkLogPath := fs.String("zk-log", "", "write ZooKeeper's transaction log as JSON lines to this file (- for stdout)")
	historyPath := fs.String("history", "", "write the clients' operations as JSON lines to this file (- for stdout)")
	force := fs.Bool("force", false, "overwrite existing output files")
	if err := parse(fs, args); err != nil {
		return 0, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *name == "" {
		return 0, badUsage("run: --scenario is required (simrun list shows them)")
	}
	if *seedText == "" {
		return 0, badUsage("run: --seed is required")
	}
	seed, err := strconv.ParseUint(*seedText, 10, 64)
	if err != nil {
		return 0, badUsage("run: --seed %q is not a decimal number from 0 to 2^64-1", *seedText)
	}
	cfg := scenarios.Config{Seed: seed}
	if set["max-events"] {
		n, err := strconv.ParseInt(*maxEventsText, 10, 64)
		if err != nil || n <= 0 {
			return 0, badUsage("run: --max-events %q is not a positive decimal number", *maxEventsText)
		}
		cfg.MaxEvents = n
	}
	if set["layout"] {
		if err := scenarios.ValidLayout(*layout); err != nil {
			return 0, badUsage("run: %v", err)
		}
		cfg.Layout = *layout
	}
	sc, err := lookup(*name)
	if err != nil {
		return 0, badUsage("run: %v", err)
	}
	if err := sc.CheckLayout(cfg.Layout); err != nil {
		return 0, badUsage("run: %v", err)
	}

	for _, f := range []string{"zk-dump", "zk-log"} {
		if set[f] && !sc.ZooKeeper {
			return 0, badUsage("run: --%s: scenario %s has no ZooKeeper (these have: %s)", f, sc.Name, strings.Join(zkScenarios(), ", "))
		}
	}
	if set["history"] && !sc.HasClients(*layout) {
		where := ""
		if len(sc.Clients) > 0 {
			where = " in layout " + cmp.Or(*layout, scenarios.LayoutController)
		}
		return 0, badUsage("run: --history: scenario %s has no Kafka clients%s (these have: %s)", sc.Name, where, strings.Join(clientScenarios(), ", "))
	}
	outs := &outputs{stdout: stdout, force: *force}
	var trace, zkDump, zkLog, hist *output
	for _, o := range []struct {
		flag string
		path string
		out  **output
	}{{"trace", *tracePath, &trace}, {"zk-dump", *zkDumpPath, &zkDump}, {"zk-log", *zkLogPath, &zkLog}, {"history", *historyPath, &hist}} {
		if set[o.flag] {
			if *o.out, err = outs.add(o.flag, o.path); err != nil {
				return 0, err
			}
		}
	}
	if err := outs.open(); err != nil {
		return 0, err
	}
	var sink *sim.JSONSink
	if trace != nil {
		sink = sim.NewJSONSink(trace.w)
		cfg.Sinks = append(cfg.Sinks, sink)
	}
	if zkDump != nil {
		cfg.ZKDump = zkDump.w
	}
	if zkLog != nil {
		cfg.ZKLog = zkLog.w
	}
	if hist != nil {
		cfg.History = hist.w
	}

	res := sc.Run(cfg)

	var writeErr error
	if sink != nil {
		if err := sink.Flush(); err != nil {
			writeErr = outputError{fmt.Errorf("writing trace %s: %w", trace.name(), err)}
		}
	}
	if err := outs.close(); err != nil && writeErr == nil {
		writeErr = err // the first write error of an output, or its close
	}
	summary := stdout
	if outs.usesStdout() {
		summary = stderr // stdout carries the trace
	}
	if *asJSON {
		if err := json.NewEncoder(summary).Encode(res); err != nil && writeErr == nil {
			writeErr = outputError{fmt.Errorf("writing the result: %w", err)}
		}
	} else if err := printSummary(summary, res); err != nil && writeErr == nil {
		writeErr = outputError{fmt.Errorf("writing the summary: %w", err)}
	}
	if writeErr != nil {
		return 0, writeErr
	}
	return exitFor(res), nil
}

// exitFor maps a run's result to its exit status.
func exitFor(r *invariants.Result) int {
	switch r.Worst() {
	case "":
		return exitOK
	case invariants.Panic:
		return exitPanic
	case invariants.BudgetExhausted:
		return exitBudget
	}
	return exitViolation
}

// output is one file (or standard output) a run writes.
type output struct {
	flag    string // the flag that named it, without dashes
	path    string // "-" for standard output
	w       *errWriter
	f       *os.File
	created bool // made by us (removed again if the run cannot start)
}

func (o *output) name() string {
	if o.path == "-" {
		return "to standard output"
	}
	return o.path
}

// outputs are the files a run writes, checked together before any is
// created: nothing a user gave is overwritten silently.
type outputs struct {
	stdout io.Writer
	force  bool
	list   []*output
}

func (all *outputs) usesStdout() bool {
	for _, o := range all.list {
		if o.path == "-" {
			return true
		}
	}
	return false
}

// exampleName is a file name to suggest for each output flag.
var exampleName = map[string]string{"trace": "trace.jsonl", "zk-dump": "zk-dump.json", "zk-log": "zk-log.jsonl", "history": "history.jsonl"}

// add checks an output's path: given, not a directory, not existing unless
// forced, not the same as another output's.
func (all *outputs) add(flagName, path string) (*output, error) {
	if path == "" {
		return nil, badUsage("run: --%s needs a file name (or - for standard output)", flagName)
	}
	for _, o := range all.list {
		if o.path == path {
			if path == "-" {
				return nil, badUsage("run: --%s and --%s both write to standard output; only one may", o.flag, flagName)
			}
			return nil, badUsage("run: --%s and --%s both name %s", o.flag, flagName, path)
		}
	}
	o := &output{flag: flagName, path: path}
	if path != "-" {
		st, err := os.Stat(path)
		switch {
		case err == nil && st.IsDir():
			return nil, badUsage("run: --%s %s is a directory; name a file, e.g. %s", flagName, path, filepath.Join(path, exampleName[flagName]))
		case err == nil && !all.force:
			return nil, badUsage("run: --%s file %s exists; remove it or pass --force", flagName, path)
		}
	}
	all.list = append(all.list, o)
	return o, nil
}

// open creates every output; if one fails, those already created are removed.
func (all *outputs) open() error {
	for _, o := range all.list {
		if o.path == "-" {
			o.w = &errWriter{w: all.stdout}
			continue
		}
		flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
		if all.force {
			flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		}
		_, statErr := os.Stat(o.path)
		f, err := os.OpenFile(o.path, flags, 0o644)
		if err != nil {
			all.abandon()
			if errors.Is(err, os.ErrExist) {
				return badUsage("run: --%s file %s exists; remove it or pass --force", o.flag, o.path)
			}
			return outputError{fmt.Errorf("run: cannot create --%s file: %w", o.flag, err)}
		}
		o.f, o.w, o.created = f, &errWriter{w: f}, statErr != nil
	}
	return nil
}

// abandon closes the outputs opened so far and removes those it created.
func (all *outputs) abandon() {
	for _, o := range all.list {
		if o.f == nil {
			continue
		}
		o.f.Close()
		if o.created {
			os.Remove(o.path)
		}
		o.f = nil
	}
}

// close closes every file, returning the first error that writing or
// closing an output met.
func (all *outputs) close() error {
	var first error
	for _, o := range all.list {
		if o.w != nil && o.w.err != nil && first == nil {
			first = outputError{fmt.Errorf("writing --%s %s: %w", o.flag, o.name(), o.w.err)}
		}
		if o.f == nil {
			continue
		}
		if err := o.f.Close(); err != nil && first == nil {
			first = outputError{fmt.Errorf("writing --%s %s: %w", o.flag, o.name(), err)}
		}
		o.f = nil
	}
	return first
}

// zkScenarios names the scenarios that have a ZooKeeper.
func zkScenarios() []string {
	var names []string
	for _, s := range scenarios.All() {
		if s.ZooKeeper {
			names = append(names, s.Name)
		}
	}
	return names
}

// clientScenarios names the scenarios that run Kafka clients.
func clientScenarios() []string {
	var names []string
	for _, s := range scenarios.All() {
		for _, l := range s.Clients {
			names = append(names, s.Name+"@"+l)
		}
	}
	return names
}

func runDefault(stdout io.Writer) (int, error) {
	sc, err := lookup(scenarios.Default)
	if err != nil {
		return 0, err
	}
	res := sc.Run(scenarios.Config{Seed: 1})
	if err := printSummary(stdout, res); err != nil {
		return 0, outputError{fmt.Errorf("writing the summary: %w", err)}
	}
	if _, err := fmt.Fprintf(stdout, "\nreplay: %s\nmore:   simrun list; simrun run --scenario NAME --seed N --json; simrun help\n", res.Replay); err != nil {
		return 0, outputError{fmt.Errorf("writing the summary: %w", err)}
	}
	return exitFor(res), nil
}

// printSummary writes the result for people; it returns the first write error.
func printSummary(w io.Writer, r *invariants.Result) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "scenario %s, seed %d: %s after %v of virtual time, %d events, trace %s\n",
		r.Scenario, r.Seed, r.Status, sim.Duration(r.SimTimeNs), r.Events, r.TraceHash)
	if len(r.Timeline) > 0 {
		fmt.Fprintln(ew, "\ntimeline:")
		for _, l := range r.Timeline {
			fmt.Fprintln(ew, "  "+l)
		}
		fmt.Fprintln(ew)
	}
	parts := make([]string, 0, len(r.Metrics))
	for _, k := range slices.Sorted(maps.Keys(r.Metrics)) {
		parts = append(parts, fmt.Sprintf("%s=%g", k, r.Metrics[k]))
	}
	fmt.Fprintf(ew, "metrics: %s\n", strings.Join(parts, " "))
	if r.OK() {
		fmt.Fprintln(ew, "checks: all held")
		return ew.err
	}
	fmt.Fprintf(ew, "checks: %d violations (%s)\n", len(r.Violations), r.Worst())
	for _, v := range r.Violations {
		fmt.Fprintf(ew, "  %s\n", v)
		if v.Stack != "" {
			for _, l := range strings.Split(strings.TrimRight(v.Stack, "\n"), "\n") {
				fmt.Fprintf(ew, "      %s\n", l)
			}
		}
	}
	fmt.Fprintf(ew, "replay: %s\n", r.Replay)
	return ew.err
}

// errWriter keeps the first write error and fails every later write with it.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
