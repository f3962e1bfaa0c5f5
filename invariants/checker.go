package invariants

import (
	"fmt"
	"maps"
	"slices"

	"github.com/kzsim/kzsim/sim"
)

// MaxViolationsPerInvariant bounds how many violations of one invariant a
// Checker keeps; a broken safety invariant checked every step would
// otherwise fill memory. The rest are counted and summarised.
const MaxViolationsPerInvariant = 20

// Checker collects the violations of one run, stamped with the world's
// current time and step.
type Checker struct {
	w          *sim.World
	violations []Violation
	kept       map[string]int // violations kept, per invariant
	dropped    map[string]int // ... and not kept
	once       map[string]bool
	finished   bool
}

// NewChecker returns a Checker for the run of w.
func NewChecker(w *sim.World) *Checker {
	return &Checker{w: w, kept: map[string]int{}, dropped: map[string]int{}, once: map[string]bool{}}
}

// World returns the world the checker stamps violations from.
func (c *Checker) World() *sim.World { return c.w }

// Safety records that safety invariant inv failed now.
func (c *Checker) Safety(inv, format string, args ...any) { c.report(Safety, inv, format, args...) }

// Liveness records that liveness invariant inv failed now.
func (c *Checker) Liveness(inv, format string, args ...any) { c.report(Liveness, inv, format, args...) }

// Once reports whether key is seen for the first time, so that a check can
// report a lasting bad state once rather than at every step.
func (c *Checker) Once(key string) bool {
	if c.once[key] {
		return false
	}
	c.once[key] = true
	return true
}

// report keeps the violation in the Checker; violations are not written to
// the trace.
func (c *Checker) report(class Class, inv, format string, args ...any) {
	c.add(Violation{Invariant: inv, Class: class, At: c.w.Now(), Step: c.w.Steps(), Message: fmt.Sprintf(format, args...)})
}

func (c *Checker) add(v Violation) {
	if c.kept[v.Invariant] >= MaxViolationsPerInvariant {
		c.dropped[v.Invariant]++
		return
	}
	c.kept[v.Invariant]++
	c.violations = append(c.violations, v)
}

// Finish records how the run ended: an exhausted event budget is a
// BudgetExhausted violation (a livelock: events kept coming and the time
// limit was never reached). Only its first call counts.
func (c *Checker) Finish(status sim.Status) {
	if c.finished {
		return
	}
	c.finished = true
	if status == sim.StatusEventBudget {
		c.report(BudgetExhausted, EventBudget, "the run used its whole budget of %d events before its time limit: a livelock", c.w.Steps())
	}
}

// Panicked records a panic of simulated code, recovered by the runner:
// value is what recover returned, stack the goroutine stack, replay the
// command that reproduces it.
func (c *Checker) Panicked(value any, stack []byte, replay string) {
	c.add(PanicViolation(value, stack, replay, c.w.Now(), c.w.Steps()))
}

// Violations returns what was recorded, in order, never nil; an invariant
// that failed more than MaxViolationsPerInvariant times ends with a line
// saying how many more there were.
func (c *Checker) Violations() []Violation {
	out := append([]Violation{}, c.violations...)
	for _, inv := range slices.Sorted(maps.Keys(c.dropped)) {
		var class Class
		for _, v := range c.violations {
			if v.Invariant == inv {
				class = v.Class
			}
		}
		out = append(out, Violation{Invariant: inv, Class: class, At: c.w.Now(), Step: c.w.Steps(),
			Message: fmt.Sprintf("%d more violations of %s not listed", c.dropped[inv], inv)})
	}
	return out
}
