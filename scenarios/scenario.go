// Package scenarios builds simulated systems, drives their workloads and
// faults from a seed, checks them, and returns an invariants.Result. It holds
// the named catalogue that cmd/simrun lists and runs.
package scenarios

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/sim"
)

// Config is what a run of a scenario is given.
type Config struct {
	// Seed fixes every choice of the run.
	Seed uint64
	// MaxEvents bounds the run's events (0: the scenario's own budget). A run
	// that uses them all fails with invariants.BudgetExhausted.
	MaxEvents int64
	// Sinks receive the full trace; without them the run only hashes it.
	// Metrics never depend on them.
	Sinks []sim.Sink
	// ZKDump, if set, receives the final ZooKeeper tree at the end of the run
	// as one JSON object (fakezk.WriteDump), {"<path>": {"data": "<utf-8
	// text>", "ephemeral_owner": <session id or 0>, "version": <n>}, ...}.
	// ZKLog, if set, receives ZooKeeper's transaction log as JSON lines
	// (fakezk's ServerConfig.TxnLog) as the run goes; replayed from an empty
	// tree it gives the dump. Only for scenarios with Scenario.ZooKeeper.
	// Write errors are the writer's to keep; the run goes on.
	ZKDump io.Writer
	ZKLog  io.Writer
	// History, if set, receives the clients' operations as JSON lines
	// (nodes/kafka/history: the run's configuration first, then every send
	// invoked and completed, every message polled, every offset
	// committed), written at the end of the run. Only for scenarios with
	// Scenario.Clients. Write errors are the writer's to keep.
	History io.Writer
	// Layout is the Kafka cluster layout to run (one of Layouts); "" means
	// the default, LayoutController.
	Layout string

	run *runState // set by the catalogue's runner, for panic recovery
}

// Kafka cluster layouts, the values of Config.Layout.
const (
	// LayoutController is Kafka 2.6 in ZooKeeper mode: a controller,
	// replicated partitions with leaders and ISRs (the default).
	LayoutController = "2.6"
	// Layout07 is Kafka 0.7's: no controller and no replication; each
	// broker registers /brokers/ids/<id> and, for each topic it hosts, an
	// ephemeral /brokers/topics/<topic>/<id> holding its partition count.
	Layout07 = "0.7"
)

// Layouts lists the valid values of Config.Layout ("" aside), the default
// first.
var Layouts = []string{LayoutController, Layout07}

// HasClients reports whether the scenario runs Kafka clients in layout
// ("" is the default, LayoutController).
func (s Scenario) HasClients(layout string) bool {
	if layout == "" {
		layout = LayoutController
	}
	return slices.Contains(s.Clients, layout)
}

// ValidLayout checks a --layout value: one of Layouts.
func ValidLayout(layout string) error {
	if !slices.Contains(Layouts, layout) {
		return fmt.Errorf("--layout %q is not a layout (layouts: %s)", layout, strings.Join(Layouts, ", "))
	}
	return nil
}

// Scenario is a named, runnable experiment.
type Scenario struct {
	Name    string
	Summary string
	// ZooKeeper says the scenario runs a fakezk server, so it can write
	// Config.ZKDump and Config.ZKLog.
	ZooKeeper bool
	// Clients lists the layouts (of Layouts) in which the scenario runs
	// Kafka clients (producers, consumers), so it can write Config.History.
	Clients []string
	// Layouts lists the Kafka cluster layouts the scenario runs (a scenario
	// that needs a controller lists only LayoutController). Empty: the
	// scenario has no Kafka cluster, so a layout means nothing to it and it
	// accepts only the default.
	Layouts []string
	// Run runs the scenario once. A panic of the simulated code is recovered
	// and returned as an invariants.Panic violation.
	Run func(cfg Config) *invariants.Result
}

// CheckLayout reports, in one line, why the scenario does not run layout
// ("" is the default, LayoutController); nil if it does.
func (s Scenario) CheckLayout(layout string) error {
	if layout == "" {
		layout = LayoutController
	}
	if err := ValidLayout(layout); err != nil {
		return err
	}
	switch {
	case len(s.Layouts) == 0 && layout == LayoutController:
		return nil
	case len(s.Layouts) == 0:
		return fmt.Errorf("scenario %s has no Kafka brokers, so no cluster layout; --layout %s is not accepted", s.Name, layout)
	case slices.Contains(s.Layouts, layout):
		return nil
	case len(s.Layouts) == 1 && s.Layouts[0] == LayoutController:
		return fmt.Errorf("scenario %s needs a controller; --layout %s is not accepted", s.Name, layout)
	}
	return fmt.Errorf("scenario %s runs with --layout %s only; --layout %s is not accepted", s.Name, strings.Join(s.Layouts, " or "), layout)
}

// Forms returns the layouts to run the scenario with, one run each, as a
// seed sweep does: its Layouts, or "" (the default) for a scenario without
// a Kafka cluster.
func (s Scenario) Forms() []string {
	if len(s.Layouts) == 0 {
		return []string{""}
	}
	return slices.Clone(s.Layouts)
}

// ReplayCommand returns the simrun command line that replays a run of the
// named scenario with cfg.
func ReplayCommand(name string, cfg Config) string {
	s := fmt.Sprintf("simrun run --scenario %s --seed %d", name, cfg.Seed)
	if cfg.Layout != "" {
		s += " --layout " + cfg.Layout
	}
	if cfg.MaxEvents != 0 {
		s += fmt.Sprintf(" --max-events %d", cfg.MaxEvents)
	}
	return s
}

var catalogue = map[string]Scenario{}

func register(s Scenario) {
	if _, dup := catalogue[s.Name]; dup {
		panic("scenarios: duplicate name " + s.Name)
	}
	for _, l := range s.Layouts {
		if err := ValidLayout(l); err != nil {
			panic("scenarios: " + s.Name + ": " + err.Error())
		}
	}
	s.Run = guarded(s, s.Run)
	catalogue[s.Name] = s
}

// runState is what the runner needs to report a panic: the recorder of the
// run, once the scenario has made it.
type runState struct {
	rec *recorder
}

// guarded wraps a scenario's run so that a panic in simulated code (an event,
// a hook, a check) ends the run with a Panic violation that names the seed
// and the replay command, instead of crashing the program.
func guarded(sc Scenario, run func(Config) *invariants.Result) func(Config) *invariants.Result {
	name := sc.Name
	return func(cfg Config) (res *invariants.Result) {
		if !sc.ZooKeeper && (cfg.ZKDump != nil || cfg.ZKLog != nil) {
			panic(fmt.Sprintf("scenarios: %s has no ZooKeeper for Config.ZKDump or ZKLog", name))
		}
		if err := sc.CheckLayout(cfg.Layout); err != nil {
			panic("scenarios: " + err.Error()) // callers check first (cmd/simrun does)
		}
		st := &runState{}
		cfg.run = st
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			stack := debug.Stack()
			if st.rec == nil { // before the world existed
				replay := ReplayCommand(name, cfg)
				res = &invariants.Result{Scenario: name, Seed: cfg.Seed, Status: "panic", Replay: replay,
					Violations: []invariants.Violation{invariants.PanicViolation(p, stack, replay, 0, 0)},
					Metrics:    map[string]float64{}}
				return
			}
			st.rec.check.Panicked(p, stack, st.rec.result.Replay)
			res = st.rec.end("panic", nil)
		}()
		return run(cfg)
	}
}

// All returns every scenario, sorted by name.
func All() []Scenario {
	return slices.SortedFunc(maps.Values(catalogue), func(a, b Scenario) int { return cmp.Compare(a.Name, b.Name) })
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
const Default = "controller-failover"

// maxEvents returns the event budget of a run: cfg's if set, else the
// scenario's own.
func maxEvents(cfg Config, own int64) int64 {
	if cfg.MaxEvents != 0 {
		return cfg.MaxEvents
	}
	return own
}

// recorder collects what a run reports, violations and narration; the
// scenarios embed it.
type recorder struct {
	w      *sim.World
	check  *invariants.Checker
	result *invariants.Result
}

func newRecorder(w *sim.World, scenario string, cfg Config) recorder {
	r := recorder{w: w, check: invariants.NewChecker(w),
		result: &invariants.Result{Scenario: scenario, Seed: cfg.Seed, Replay: ReplayCommand(scenario, cfg)}}
	if cfg.run != nil {
		cp := r // shares the checker and result with r
		cfg.run.rec = &cp
	}
	return r
}

// safety records that a safety check failed now.
func (r *recorder) safety(invariant, format string, args ...any) {
	r.check.Safety(invariant, format, args...)
}

// liveness records that a liveness check failed now.
func (r *recorder) liveness(invariant, format string, args ...any) {
	r.check.Liveness(invariant, format, args...)
}

// narrate adds a line to the timeline people read, and a note (its text as
// the "text" field) to the trace.
func (r *recorder) narrate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.result.Timeline = append(r.result.Timeline, fmt.Sprintf("%9.3fs  %s", float64(r.w.Now())/float64(sim.Second), msg))
	r.w.Emit(sim.KindNote, sim.Kernel, "narration", sim.Str("text", msg))
}

// ranToEnd records how the run ended (an exhausted event budget is a
// violation) and reports whether it got to its end, so that the checks made
// at the end apply; after a run cut short they would report false alarms.
func (r *recorder) ranToEnd(status sim.Status) bool {
	r.check.Finish(status)
	return status != sim.StatusEventBudget
}

// finish fills in the result and returns it (recording the status, if
// ranToEnd has not).
func (r *recorder) finish(status sim.Status, metrics map[string]float64) *invariants.Result {
	r.check.Finish(status)
	return r.end(status.String(), metrics)
}

func (r *recorder) end(status string, metrics map[string]float64) *invariants.Result {
	res := r.result
	res.Status = status
	res.TraceHash = r.w.TraceHash()
	res.Events = r.w.Steps()
	res.SimTimeNs = int64(r.w.Now())
	if metrics == nil {
		metrics = map[string]float64{}
	}
	res.Metrics = metrics
	res.Violations = r.check.Violations() // never nil: JSON shows [] rather than null
	return res
}

// healNote reads the why of an Injector's heal for a narrateHeal: quiet for
// heal-all (the end of the safety phase narrates itself), and otherwise
// early, " (why)" when something other than its own time ended the fault.
func healNote(why string) (early string, quiet bool) {
	switch why {
	case "heal-all":
		return "", true
	case "scheduled":
		return "", false
	}
	return " (" + why + ")", false
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

// span is a stretch of time [from, to] during which a process is crashed or
// paused, as a fault schedule being drawn expects it to be.
type span struct {
	proc     string
	from, to sim.Time
}

// spans tracks a schedule's own effects while it is drawn, so that faults
// that would do nothing can be left out.
type spans []span

// add records that proc is held from at for hold.
func (ss *spans) add(proc string, at sim.Time, hold sim.Duration) {
	*ss = append(*ss, span{proc, at, at.Add(hold)})
}

// covers reports whether a span of proc covers t; a fault due at the end of
// a span runs before its heal, which was queued later.
func (ss spans) covers(proc string, t sim.Time) bool {
	for _, sp := range ss {
		if sp.proc == proc && sp.from <= t && t <= sp.to {
			return true
		}
	}
	return false
}

// endAt ends at t every span of proc that covers t (a crash ends a pause).
func (ss spans) endAt(proc string, t sim.Time) {
	for i, sp := range ss {
		if sp.proc == proc && sp.from <= t && t <= sp.to {
			ss[i].to = t
		}
	}
}
