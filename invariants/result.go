// Package invariants holds what a run's checks report, Violation and Result,
// a Checker that collects violations as a run goes, and the named invariants
// themselves: ZooKeeper's (WatchZooKeeper) and Kafka's (WatchKafka). It
// imports only sim, fakezk and nodes/kafkazk (for Kafka's znode payloads),
// never the brokers or the controller, so the checks of every layer can live
// here and scenarios can use them without an import cycle.
//
// Checks observe; they never change the world. Safety invariants are
// computed incrementally, from what changed (a ZooKeeper commit, a step),
// never by walking the whole state after every step.
package invariants

import (
	"fmt"

	"github.com/kzsim/kzsim/sim"
)

// Class says what kind of failure a Violation is. Each class is a failure of
// its own, with its own exit status in simrun.
type Class string

// Failure classes.
const (
	// Safety: something bad happened (two owners, a lost ephemeral delete, a
	// zxid going back). Checked as the run goes.
	Safety Class = "safety"
	// Liveness: something good did not happen in time (no leader after the
	// faults healed and a grace period). Checked at the end.
	Liveness Class = "liveness"
	// BudgetExhausted: the run used its whole event budget before its time
	// limit. A simulated system that keeps scheduling events without time
	// passing is livelocked; that is a failure, not a pass.
	BudgetExhausted Class = "budget-exhausted"
	// Panic: simulated code panicked. The runner recovers it and reports it
	// with the seed that replays it.
	Panic Class = "panic"
)

// Names of the invariants this package reports itself.
const (
	// EventBudget is the invariant a run that exhausts its event budget breaks.
	EventBudget = "event-budget"
	// NoPanic is the invariant a run whose simulated code panicked breaks.
	NoPanic = "no-panic"
)

// Violation is a check that failed: which one, of which class, when, and
// what it saw.
type Violation struct {
	Invariant string   `json:"invariant"`
	Class     Class    `json:"class"`
	At        sim.Time `json:"t_ns"`
	Step      uint64   `json:"step"`
	Message   string   `json:"message"`
	// Stack is the goroutine stack of a Panic, for the person debugging it.
	Stack string `json:"stack,omitempty"`
}

func (v Violation) String() string {
	return fmt.Sprintf("%s [%s] at %v (step %d): %s", v.Invariant, v.Class, v.At, v.Step, v.Message)
}

// PanicViolation is the NoPanic violation of a panic of simulated code at
// time at, step step: value is what recover returned, stack the goroutine
// stack, replay the command that reproduces it.
func PanicViolation(value any, stack []byte, replay string, at sim.Time, step uint64) Violation {
	return Violation{
		Invariant: NoPanic, Class: Panic, At: at, Step: step,
		Message: fmt.Sprintf("panic: %v (replay: %s)", value, replay),
		Stack:   string(stack),
	}
}

// Result is the outcome of one run of a scenario.
type Result struct {
	Scenario   string      `json:"scenario"`
	Seed       uint64      `json:"seed"`
	Status     string      `json:"status"` // how the run ended: sim.Status, or "panic"
	TraceHash  string      `json:"trace_hash"`
	Events     uint64      `json:"events"`
	SimTimeNs  int64       `json:"sim_time_ns"`
	Violations []Violation `json:"violations"`
	Metrics    Metrics     `json:"metrics"`
	// Replay is the command line that replays this run exactly.
	Replay string `json:"replay"`
	// Timeline is a short narration of what happened, for people.
	Timeline []string `json:"-"`
}

// OK reports whether every check held.
func (r *Result) OK() bool { return len(r.Violations) == 0 }

// Has reports whether some violation is of class c.
func (r *Result) Has(c Class) bool {
	for _, v := range r.Violations {
		if v.Class == c {
			return true
		}
	}
	return false
}

// Worst returns the class that best explains the failure ("" when OK): a
// panic, then an exhausted budget (the checks after it saw a run cut short),
// then safety, then liveness.
func (r *Result) Worst() Class {
	for _, c := range []Class{Panic, BudgetExhausted, Safety, Liveness} {
		if r.Has(c) {
			return c
		}
	}
	return ""
}
