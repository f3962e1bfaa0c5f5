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
