// Package scenarios builds simulated systems, drives their workloads and
// faults from a seed, checks them, and returns a Result. It holds the named
// catalogue that cmd/simrun lists and runs.
package scenarios

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kzsim/kzsim/sim"
)

// Config is what a run of a scenario is given.
type Config struct {
	// Seed fixes every choice of the run.
	Seed uint64
	// Sinks receive the trace (the trace hash is computed either way).
	Sinks []sim.Sink
}

// Violation is a check that failed: which one, when, and what it saw.
type Violation struct {
	Invariant string   `json:"invariant"`
	At        sim.Time `json:"t_ns"`
	Step      uint64   `json:"step"`
	Message   string   `json:"message"`
}

func (v Violation) String() string {
	return fmt.Sprintf("%s at %v (step %d): %s", v.Invariant, v.At, v.Step, v.Message)
}

// Result is the outcome of one run.
type Result struct {
	Scenario   string             `json:"scenario"`
	Seed       uint64             `json:"seed"`
	Status     string             `json:"status"`
	TraceHash  string             `json:"trace_hash"`
	Events     uint64             `json:"events"`
	SimTimeNs  int64              `json:"sim_time_ns"`
	Violations []Violation        `json:"violations"`
	Metrics    map[string]float64 `json:"metrics"`
	// Timeline is a short narration of what happened, for people.
	Timeline []string `json:"-"`
}

// OK reports whether every check held.
func (r *Result) OK() bool { return len(r.Violations) == 0 }

// Scenario is a named, runnable experiment.
type Scenario struct {
	Name    string
	Summary string
	Run     func(cfg Config) *Result
}

var catalogue = map[string]Scenario{}

func register(s Scenario) {
	if _, dup := catalogue[s.Name]; dup {
		panic("scenarios: duplicate name " + s.Name)
	}
	catalogue[s.Name] = s
}

// All returns every scenario, sorted by name.
func All() []Scenario {
	out := make([]Scenario, 0, len(catalogue))
	for _, s := range catalogue {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup finds a scenario by name.
func Lookup(name string) (Scenario, error) {
	s, ok := catalogue[name]
	if !ok {
		names := make([]string, 0, len(catalogue))
		for _, s := range All() {
			names = append(names, s.Name)
		}
		return Scenario{}, fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(names, ", "))
	}
	return s, nil
}

// Default is the scenario simrun runs with no arguments.
const Default = "kernel-demo"

// kindCounter is a sink that counts trace records by kind, for metrics.
type kindCounter map[string]float64

func (k kindCounter) Write(r *sim.Record) error {
	k[r.Kind]++
	return nil
}

// recorder collects what a run reports, violations and narration; the
// scenarios embed it.
type recorder struct {
	w      *sim.World
	result *Result
}

func newRecorder(w *sim.World, scenario string, seed uint64) recorder {
	return recorder{w: w, result: &Result{Scenario: scenario, Seed: seed}}
}

// violate records that a check failed now.
func (r *recorder) violate(invariant, format string, args ...any) {
	r.result.Violations = append(r.result.Violations, Violation{
		Invariant: invariant, At: r.w.Now(), Step: r.w.Steps(), Message: fmt.Sprintf(format, args...),
	})
}

// narrate adds a line to the timeline people read, and a note to the trace.
func (r *recorder) narrate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.result.Timeline = append(r.result.Timeline, fmt.Sprintf("%9.3fs  %s", float64(r.w.Now())/float64(sim.Second), msg))
	r.w.Emit(sim.KindNote, sim.Kernel, "narration", msg)
}

// finish fills in how the run ended and returns the result.
func (r *recorder) finish(status sim.Status, metrics map[string]float64) *Result {
	res := r.result
	res.Status = status.String()
	res.TraceHash = r.w.TraceHash()
	res.Events = r.w.Steps()
	res.SimTimeNs = int64(r.w.Now())
	res.Metrics = metrics
	if res.Violations == nil {
		res.Violations = []Violation{} // JSON shows [] rather than null
	}
	return res
}

// swarm picks which fault kinds a run uses, each with probability p (at
// least one): swarm testing, so that seeds explore different mixes.
func swarm(r *sim.Rand, kinds []string, p float64) []string {
	var enabled []string
	for _, k := range kinds {
		if r.Chance(p) {
			enabled = append(enabled, k)
		}
	}
	if len(enabled) == 0 {
		enabled = kinds[:1]
	}
	return enabled
}
