// Command zkconform is the differential conformance test of kzsim's fake
// ZooKeeper against a real ZooKeeper server. It generates --count operation
// sequences from --seed, runs each against the real server and against every
// --target, compares the normalised results and prints each divergence, then
// the line "conformance: N sequences, D divergences".
//
// scripts/zk-conformance starts a throw-away server and runs this command.
// Exit status: 0 no divergences, 1 divergences, 2 bad usage or no server.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kzsim/kzsim/internal/zkconform"
)

// options are the parsed command-line flags that target constructors see.
type options struct {
	addr           string
	count          int
	seed           int64
	bench          bool
	java           bool
	targets        []string
	workers        int
	sessionTimeout time.Duration
	verbose        bool
	only           int
}

// targets maps --target names to constructors of a fresh Target for one
// sequence. Every sequence runs on a fresh "real" target as the baseline
// and then on each chosen target. To add a target, add one line here.
var targets = map[string]func(o *options) zkconform.Target{
	// "real" against the baseline is a second, independent run on the
	// same server: a self-check that normalisation removes all
	// nondeterminism.
	"real": func(o *options) zkconform.Target {
		return zkconform.NewRealTarget(zkconform.RealConfig{Addr: o.addr, SessionTimeout: o.sessionTimeout})
	},
	"fake": func(o *options) zkconform.Target { return zkconform.NewFakeTarget(zkconform.FakeConfig{}) },
}

func targetNames() []string {
	names := make([]string, 0, len(targets))
	for n := range targets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usageError(stderr io.Writer, format string, args ...any) int {
	fmt.Fprintf(stderr, "zkconform: "+format+"\n", args...)
	return 2
}

func run(args []string, stdout, stderr io.Writer) int {
	o := &options{}
	fs := flag.NewFlagSet("zkconform", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.addr, "addr", "", "real ZooKeeper server, host:port (127.0.0.1 only)")
	fs.IntVar(&o.count, "count", 300, "number of sequences")
	fs.Int64Var(&o.seed, "seed", 1, "seed; sequence i depends only on (seed, i)")
	fs.BoolVar(&o.bench, "bench", false, "also run the throughput benchmark")
	fs.BoolVar(&o.java, "java", false, "also compare fakezk's JavaClient mode with ZooKeeper's Java client (needs javac and zookeeper.jar)")
	target := fs.String("target", "fake", "targets compared with the real server: comma-separated names, or all ("+strings.Join(targetNames(), ", ")+")")
	fs.IntVar(&o.workers, "workers", 8, "sequences run concurrently (each under its own root)")
	fs.DurationVar(&o.sessionTimeout, "session-timeout", zkconform.DefaultSessionTimeout, "session timeout asked of the real server")
	fs.BoolVar(&o.verbose, "v", false, "print every sequence's normalised trace")
	fs.IntVar(&o.only, "only", -1, "run only sequence `i` of the seed, printing its trace (to replay a divergence)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return 2
		}
		return usageError(stderr, "%v", err)
	}
	if fs.NArg() > 0 {
		return usageError(stderr, "unexpected argument %q", fs.Arg(0))
	}
	if *target == "all" {
		o.targets = targetNames()
	} else {
		for _, name := range strings.Split(*target, ",") {
			if _, ok := targets[name]; !ok {
				return usageError(stderr, "unknown --target %q (have: %s, all)", name, strings.Join(targetNames(), ", "))
			}
			if !slices.Contains(o.targets, name) {
				o.targets = append(o.targets, name)
			}
		}
		slices.Sort(o.targets)
	}
	if o.addr == "" {
		return usageError(stderr, "--addr is required (the real server, e.g. 127.0.0.1:2181)")
	}
	if host, _, ok := strings.Cut(o.addr, ":"); !ok || (host != "127.0.0.1" && host != "localhost") {
		return usageError(stderr, "--addr must be 127.0.0.1:PORT, got %q", o.addr)
	}
	if o.count < 0 {
		return usageError(stderr, "--count must be >= 0, got %d", o.count)
	}
	if o.workers < 1 {
		return usageError(stderr, "--workers must be >= 1, got %d", o.workers)
	}
	if _, err := zkconform.FourLetterWord(o.addr, "srvr", 3*time.Second); err != nil {
		return usageError(stderr, "no ZooKeeper server at %s: %v", o.addr, err)
	}

	runID := fmt.Sprintf("/zkconform/%d-%x", o.seed, time.Now().UnixNano())
	if o.bench {
		if err := runBench(o, runID+"/bench", stdout); err != nil {
			return usageError(stderr, "bench: %v", err)
		}
	}
	indices := make([]int, o.count)
	for i := range indices {
		indices[i] = i
	}
	if o.only >= 0 {
		indices, o.verbose = []int{o.only}, true
	}
	divs := conform(o, runID, indices, stdout)
	fmt.Fprintf(stdout, "conformance: %d sequences, %d divergences\n", len(indices), divs)
	if o.java {
		real, err := zkconform.RealJavaStories(o.addr, runID+"/java")
		if err != nil {
			return usageError(stderr, "java stories: %v", err)
		}
		diffs := zkconform.CompareJavaStories(real, zkconform.FakeJavaStories())
		for _, d := range diffs {
			fmt.Fprintln(stdout, d)
		}
		fmt.Fprintf(stdout, "java stories: %d stories, %d divergences\n", len(zkconform.JavaStoryNames), len(diffs))
		divs += len(diffs)
	}
	if divs > 0 {
		return 1
	}
	return 0
}

// conform runs the sequences on o.workers workers and prints divergences in
// sequence order. It returns how many (sequence, target) pairs diverged.
func conform(o *options, runID string, indices []int, out io.Writer) int {
	type result struct {
		divs      []*zkconform.Divergence
		trace     string
		disturbed string
		attempts  int
	}
	results := make([]chan result, len(indices))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < o.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				i := indices[k]
				seq := zkconform.Generate(o.seed, i)
				var r result
				for attempt := 1; ; attempt++ {
					r = result{}
					ref := zkconform.Run(targets["real"](o), fmt.Sprintf("%s/ref/%d.%d", runID, i, attempt), seq)
					traces := []*zkconform.Trace{ref}
					for _, name := range o.targets {
						tr := zkconform.Run(targets[name](o), fmt.Sprintf("%s/%s/%d.%d", runID, name, i, attempt), seq)
						traces = append(traces, tr)
						label := name
						if name == "real" {
							label = "real#2"
						}
						if d := zkconform.Compare(i, "real", ref, label, tr); d != nil {
							r.divs = append(r.divs, d)
						}
					}
					r.disturbed = disturbance(traces)
					if r.disturbed == "" || attempt == maxAttempts {
						r.attempts = attempt
						if o.verbose {
							r.trace = formatTrace(i, zkconform.Normalize(ref))
						}
						break
					}
				}
				results[k] <- r
			}
		}()
	}
	go func() {
		for k := range indices {
			next <- k
		}
		close(next)
	}()
	divs, rerun := 0, 0
	for k := range results {
		i, r := indices[k], <-results[k]
		fmt.Fprint(out, r.trace)
		if r.attempts > 1 {
			rerun++
		}
		if r.disturbed != "" {
			fmt.Fprintf(out, "DIVERGENCE (seed %d) sequence %d: still disturbed after %d attempts: %s\n", o.seed, i, r.attempts, r.disturbed)
			divs++
			continue
		}
		for _, d := range r.divs {
			fmt.Fprintf(out, "DIVERGENCE (seed %d; replay: --seed %d --only %d) %s\n", o.seed, o.seed, i, d)
			divs++
		}
	}
	wg.Wait()
	if rerun > 0 {
		fmt.Fprintf(out, "zkconform: re-ran %d sequences whose real runs lost their connection unasked (machine overloaded?)\n", rerun)
	}
	return divs
}

// maxAttempts bounds how often a sequence is re-run when a run was
// disturbed from outside (zkconform.Disturbable).
const maxAttempts = 3

func disturbance(traces []*zkconform.Trace) string {
	for _, tr := range traces {
		if tr.Disturbed != "" {
			return tr.Disturbed
		}
	}
	return ""
}

func formatTrace(i int, n zkconform.Normalized) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sequence %d:\n", i)
	for j, r := range n.Records {
		fmt.Fprintf(&b, "  %2d %s -> %s\n", j, r.Step, r.Outcome)
		for _, e := range r.Events {
			fmt.Fprintf(&b, "       %s\n", e)
		}
	}
	return b.String()
}

func runBench(o *options, root string, out io.Writer) error {
	cfg := zkconform.DefaultBenchConfig()
	real, err := zkconform.RealBench(o.addr, root, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "bench real: %s\n", real)
	fake, err := zkconform.FakeBench(cfg)
	if err != nil {
		return fmt.Errorf("fake: %v", err)
	}
	fmt.Fprintf(out, "bench fake: %s\n", fake)
	fmt.Fprintf(out, "bench fake/real: pipelined %.2fx, gets %.2fx, sets %.2fx\n",
		fake.PipelinedOpsPerSec/real.PipelinedOpsPerSec,
		fake.SerialGetsPerSec/real.SerialGetsPerSec, fake.SerialSetsPerSec/real.SerialSetsPerSec)
	return nil
}
