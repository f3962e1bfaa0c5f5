// Command simrun runs kzsim scenarios: deterministic simulations of a
// ZooKeeper-coordinated Kafka cluster under faults, replayable from a seed.
//
// Usage:
//
//	simrun                       run the default scenario and narrate it
//	simrun list [--json]         the scenarios it knows
//	simrun run --scenario NAME --seed N [--json] [--trace FILE [--force]]
//
// Exit status: 0 all checks held, 1 a check failed, 2 bad usage or input.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/scenarios"
	"github.com/kzsim/kzsim/sim"
)

// Exit statuses.
const (
	exitOK        = 0
	exitViolation = 1
	exitUsage     = 2
)

const usage = `usage:
  simrun                                  run the default scenario and narrate it
  simrun list [--json]                    list the scenarios
  simrun run --scenario NAME --seed N [--json] [--trace FILE [--force]]
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

func run(args []string, stdout, stderr io.Writer) int {
	code, err := dispatch(args, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "simrun: %v\n", err)
		var u usageError
		if errors.As(err, &u) {
			return exitUsage
		}
		return exitViolation
	}
	return code
}

func dispatch(args []string, stdout io.Writer) (int, error) {
	if len(args) == 0 {
		return runDefault(stdout)
	}
	switch args[0] {
	case "list":
		return cmdList(args[1:], stdout)
	case "run":
		return cmdRun(args[1:], stdout)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return exitOK, nil
	}
	return 0, badUsage("unknown command %q (commands: list, run)", args[0])
}

// newFlags returns a flag set that reports errors as values, not on stderr.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return badUsage("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return badUsage("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
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
			Name    string `json:"name"`
			Summary string `json:"summary"`
			Default bool   `json:"default"`
		}
		out := make([]entry, 0, len(all))
		for _, s := range all {
			out = append(out, entry{s.Name, s.Summary, s.Name == scenarios.Default})
		}
		return exitOK, json.NewEncoder(stdout).Encode(out)
	}
	for _, s := range all {
		fmt.Fprintf(stdout, "%-16s %s\n", s.Name, s.Summary)
	}
	return exitOK, nil
}

func cmdRun(args []string, stdout io.Writer) (int, error) {
	fs := newFlags("run")
	name := fs.String("scenario", "", "scenario name (simrun list)")
	seedText := fs.String("seed", "", "seed, a decimal number")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	tracePath := fs.String("trace", "", "write the trace as JSON lines to this file")
	force := fs.Bool("force", false, "overwrite an existing trace file")
	if err := parse(fs, args); err != nil {
		return 0, err
	}
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
	sc, err := scenarios.Lookup(*name)
	if err != nil {
		return 0, badUsage("run: %v", err)
	}
	cfg := scenarios.Config{Seed: seed}
	var finish func() error
	if *tracePath != "" {
		sink, closeFn, err := openTrace(*tracePath, *force)
		if err != nil {
			return 0, err
		}
		cfg.Sinks = append(cfg.Sinks, sink)
		finish = closeFn
	}
	res := sc.Run(cfg)
	if finish != nil {
		if err := finish(); err != nil {
			return 0, fmt.Errorf("writing trace: %w", err)
		}
	}
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(res); err != nil {
			return 0, err
		}
	} else {
		printSummary(stdout, res, true)
	}
	if !res.OK() {
		return exitViolation, nil
	}
	return exitOK, nil
}

// openTrace creates the trace file, refusing to overwrite one unless forced.
func openTrace(path string, force bool) (sim.Sink, func() error, error) {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, nil, badUsage("run: trace file %s exists; remove it or pass --force", path)
	}
	if err != nil {
		return nil, nil, badUsage("run: cannot create trace file: %v", err)
	}
	sink := sim.NewJSONSink(f)
	return sink, func() error {
		if err := sink.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}, nil
}

func runDefault(stdout io.Writer) (int, error) {
	sc, err := scenarios.Lookup(scenarios.Default)
	if err != nil {
		return 0, err
	}
	res := sc.Run(scenarios.Config{Seed: 1})
	printSummary(stdout, res, true)
	fmt.Fprintf(stdout, "\nreplay: simrun run --scenario %s --seed %d\nmore:   simrun list; simrun run --scenario NAME --seed N --json\n", res.Scenario, res.Seed)
	if !res.OK() {
		return exitViolation, nil
	}
	return exitOK, nil
}

func printSummary(w io.Writer, r *invariants.Result, timeline bool) {
	fmt.Fprintf(w, "scenario %s, seed %d: %s after %v of virtual time, %d events, trace %s\n",
		r.Scenario, r.Seed, r.Status, sim.Duration(r.SimTimeNs), r.Events, r.TraceHash)
	if timeline && len(r.Timeline) > 0 {
		fmt.Fprintln(w, "\ntimeline:")
		for _, l := range r.Timeline {
			fmt.Fprintln(w, "  "+l)
		}
		fmt.Fprintln(w)
	}
	keys := make([]string, 0, len(r.Metrics))
	for k := range r.Metrics {
		keys = append(keys, k)
	}
	sortStrings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%g", k, r.Metrics[k]))
	}
	fmt.Fprintf(w, "metrics: %s\n", strings.Join(parts, " "))
	if r.OK() {
		fmt.Fprintln(w, "checks: all held")
		return
	}
	fmt.Fprintf(w, "checks: %d violations\n", len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintf(w, "  %s\n", v)
	}
	fmt.Fprintf(w, "replay: simrun run --scenario %s --seed %d\n", r.Scenario, r.Seed)
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
