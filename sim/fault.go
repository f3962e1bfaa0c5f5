package sim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Trace record kinds written by an Injector.
const (
	KindFaultApply = "fault.apply" // a fault took effect; the detail names its id
	KindFaultHeal  = "fault.heal"  // a fault ended, and why
)

// FaultKind names what a Fault does. The kinds and the fields each uses:
//
//	crash            Proc     crash it; the heal restarts it
//	restart          Proc     restart it if it is down, ending the crash faults that hold it (instant: no duration)
//	pause            Proc     pause it (a GC pause); the heal resumes it
//	partition        A, B     cut every link between a process of A and one of B, both ways
//	one-way          A, B     cut the links from each process of A to each of B
//	isolate          Proc     cut it from every other process, both ways
//	latency          From, To, Latency   the link From->To draws from Latency; the heal restores what it had
//	slow-disk        Proc, Extra         every sync of its disk costs Extra more
//	disk-crash-loss  Proc     crash it, its disk losing every write since the last sync; the heal restarts it
type FaultKind string

// Fault kinds.
const (
	FaultCrash         FaultKind = "crash"
	FaultRestart       FaultKind = "restart"
	FaultPause         FaultKind = "pause"
	FaultPartition     FaultKind = "partition"
	FaultOneWay        FaultKind = "one-way"
	FaultIsolate       FaultKind = "isolate"
	FaultLatency       FaultKind = "latency"
	FaultSlowDisk      FaultKind = "slow-disk"
	FaultDiskCrashLoss FaultKind = "disk-crash-loss"
)

// faultFields says which fields each kind uses.
var faultFields = map[FaultKind][]string{
	FaultCrash:         {"proc"},
	FaultRestart:       {"proc"},
	FaultPause:         {"proc"},
	FaultPartition:     {"a", "b"},
	FaultOneWay:        {"a", "b"},
	FaultIsolate:       {"proc"},
	FaultLatency:       {"from", "to", "latency"},
	FaultSlowDisk:      {"proc", "extra_ns"},
	FaultDiskCrashLoss: {"proc"},
}

// FaultID names a fault; ids are unique within an Injector (and a Schedule).
type FaultID uint32

// Fault is one fault, as a value: what it does and to whom, by process name
// (names are stable across runs; ids need not be). Fields a kind does not
// use stay empty; FaultKind lists which each uses.
type Fault struct {
	ID      FaultID   `json:"id"`
	Kind    FaultKind `json:"kind"`
	Proc    string    `json:"proc,omitempty"`
	A       []string  `json:"a,omitempty"`
	B       []string  `json:"b,omitempty"`
	From    string    `json:"from,omitempty"`
	To      string    `json:"to,omitempty"`
	Latency *Latency  `json:"latency,omitempty"`
	Extra   Duration  `json:"extra_ns,omitempty"`
}

// String describes f in a line, e.g. "partition n0|n1,n2" or "crash n3".
func (f Fault) String() string {
	switch f.Kind {
	case FaultPartition:
		return fmt.Sprintf("%s %s|%s", f.Kind, strings.Join(f.A, ","), strings.Join(f.B, ","))
	case FaultOneWay:
		return fmt.Sprintf("%s %s->%s", f.Kind, strings.Join(f.A, ","), strings.Join(f.B, ","))
	case FaultLatency:
		l := "?"
		if f.Latency != nil {
			l = f.Latency.String()
		}
		return fmt.Sprintf("%s %s->%s %s", f.Kind, f.From, f.To, l)
	case FaultSlowDisk:
		return fmt.Sprintf("%s %s +%v", f.Kind, f.Proc, f.Extra)
	}
	return fmt.Sprintf("%s %s", f.Kind, f.Proc)
}

// Validate checks f on its own (not whether its processes exist): a known
// kind, the fields it needs and none it does not use.
func (f Fault) Validate() error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("fault %d (%s): %w", f.ID, f.Kind, err)
	}
	return nil
}

func (f Fault) validate() error {
	uses, ok := faultFields[f.Kind]
	if !ok {
		return fmt.Errorf("unknown kind %q", string(f.Kind))
	}
	if f.ID == 0 {
		return errors.New("id 0: ids start at 1")
	}
	set := map[string]bool{
		"proc": f.Proc != "", "a": len(f.A) > 0, "b": len(f.B) > 0, "from": f.From != "",
		"to": f.To != "", "latency": f.Latency != nil, "extra_ns": f.Extra != 0,
	}
	for _, field := range []string{"proc", "a", "b", "from", "to", "latency", "extra_ns"} {
		used := slices.Contains(uses, field)
		switch {
		case used && !set[field]:
			return fmt.Errorf("field %q is missing", field)
		case !used && set[field]:
			return fmt.Errorf("field %q does not apply", field)
		}
	}
	switch f.Kind {
	case FaultPartition, FaultOneWay:
		seen := map[string]string{}
		for _, sd := range []struct {
			side  string
			names []string
		}{{"a", f.A}, {"b", f.B}} {
			side := sd.side
			for _, n := range sd.names {
				if n == "" {
					return fmt.Errorf("side %q names an empty process", side)
				}
				if other, dup := seen[n]; dup {
					if other == side {
						return fmt.Errorf("side %q names %q twice", side, n)
					}
					return fmt.Errorf("%q is on both sides", n)
				}
				seen[n] = side
			}
		}
	case FaultLatency:
		if f.From == f.To {
			return fmt.Errorf("link %s->%s goes nowhere", f.From, f.To)
		}
		if err := f.Latency.Validate(); err != nil {
			return err
		}
	case FaultSlowDisk:
		if f.Extra < 0 {
			return fmt.Errorf("negative extra_ns %d", f.Extra)
		}
	}
	return nil
}

func (f Fault) isDisk() bool { return f.Kind == FaultSlowDisk || f.Kind == FaultDiskCrashLoss }

// pauses reports whether f keeps its process paused while active.
func (f Fault) pauses() bool { return f.Kind == FaultPause }

// holdsDown reports whether f keeps its process down while active.
func (f Fault) holdsDown() bool { return f.Kind == FaultCrash || f.Kind == FaultDiskCrashLoss }

// Entry is a timed fault of a Schedule: applied at At, healed Duration later
// (0: it lasts until healed otherwise, by id or by HealAll; a restart takes
// none). In JSON the fault's fields sit beside at_ns and duration_ns.
type Entry struct {
	At       Time     `json:"at_ns"`
	Duration Duration `json:"duration_ns"`
	Fault
}

// String describes e in a line, e.g. "at 1.5s for 2s: crash n1 (fault 3)".
func (e Entry) String() string {
	hold := "until healed"
	if e.Duration > 0 {
		hold = "for " + e.Duration.String()
	}
	if e.Kind == FaultRestart {
		hold = "once"
	}
	return fmt.Sprintf("at %v %s: %s (fault %d)", e.At, hold, e.Fault, e.ID)
}

// Validate checks e on its own.
func (e Entry) Validate() error {
	if err := e.Fault.Validate(); err != nil {
		return err
	}
	switch {
	case e.At < 0:
		return fmt.Errorf("fault %d (%s): negative at_ns %d", e.ID, e.Kind, e.At)
	case e.Duration < 0:
		return fmt.Errorf("fault %d (%s): negative duration_ns %d", e.ID, e.Kind, e.Duration)
	case e.Kind == FaultRestart && e.Duration != 0:
		return fmt.Errorf("fault %d (restart): a restart is instant, duration_ns must be 0", e.ID)
	}
	return nil
}

// Schedule is a list of timed faults: data, so it can be generated, saved
// (as JSON, through encoding/json), replayed and shrunk. Entries due at the
// same time apply in list order.
type Schedule []Entry

// Validate checks every entry and that fault ids are unique.
func (s Schedule) Validate() error {
	ids := map[FaultID]int{}
	for i, e := range s {
		if err := e.Validate(); err != nil {
			return fmt.Errorf("schedule entry %d: %w", i, err)
		}
		if j, dup := ids[e.ID]; dup {
			return fmt.Errorf("schedule entry %d: fault id %d is used by entry %d too", i, e.ID, j)
		}
		ids[e.ID] = i
	}
	return nil
}

// ParseSchedule decodes a schedule from JSON (an array of entries) and
// validates it. Unknown fields, unknown kinds and trailing data are errors.
func ParseSchedule(data []byte) (Schedule, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Schedule
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("schedule: data after the array")
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	return s, nil
}

// ErrNoDiskModel is what applying a disk fault gives while no disk model is
// wired into the Injector.
var ErrNoDiskModel = errors.New("no disk model")

// DiskFaults is how an Injector applies disk faults: a disk model provides
// it (NewInjector wires the World's own disks; tests may plug in another).
// ApplyDiskFault starts a slow-disk fault, or arms the loss of a
// disk-crash-loss fault just before the Injector crashes the process;
// HealDiskFault ends either. Overlapping slow-disk faults on one disk are
// the model's to combine.
type DiskFaults interface {
	ApplyDiskFault(f Fault, p ProcID) error
	HealDiskFault(f Fault, p ProcID) error
}

// worldDisks applies disk faults to the World's disks (World.Disk). A
// process's disk is as slow as the latest active slow-disk fault on it says,
// and back to normal when none is left; a disk-crash-loss crash loses every
// unsynced write (LossTail), whatever the disk's own loss mode, which comes
// back with the heal.
type worldDisks struct {
	w     *World
	slow  map[ProcID][]Fault // active slow-disk faults per process, in order applied
	modes map[FaultID]LossMode
}

func (d *worldDisks) ApplyDiskFault(f Fault, p ProcID) error {
	disk := d.w.Disk(p)
	switch f.Kind {
	case FaultSlowDisk:
		d.slow[p] = append(d.slow[p], f)
		disk.SetSlow(f.Extra)
	case FaultDiskCrashLoss:
		d.modes[f.ID] = disk.loss
		disk.SetLossMode(LossTail)
	default:
		return fmt.Errorf("%s is no disk fault", f.Kind)
	}
	return nil
}

func (d *worldDisks) HealDiskFault(f Fault, p ProcID) error {
	disk := d.w.Disk(p)
	switch f.Kind {
	case FaultSlowDisk:
		d.slow[p] = slices.DeleteFunc(d.slow[p], func(x Fault) bool { return x.ID == f.ID })
		if rest := d.slow[p]; len(rest) > 0 {
			disk.SetSlow(rest[len(rest)-1].Extra)
		} else {
			disk.ClearSlow()
		}
	case FaultDiskCrashLoss:
		disk.SetLossMode(d.modes[f.ID])
		delete(d.modes, f.ID)
	default:
		return fmt.Errorf("%s is no disk fault", f.Kind)
	}
	return nil
}

// target is a fault with its process names resolved.
type target struct {
	proc     ProcID
	a, b     []ProcID
	from, to ProcID
}

// activeFault is a fault in force.
type activeFault struct {
	e    Entry // At is when it was applied
	t    target
	seq  uint64  // order of application
	heal TimerID // its scheduled heal, if any
	cut  CutID
	base Latency // latency: the link's latency before the oldest active latency fault on it
}

// Injector applies faults to a World and ends them, one by one, by id: the
// one place where a run's faults are made. Faults overlap safely: a link
// stays cut while any fault cuts it, a process stays down while any crash
// fault holds it, paused while any pause fault does, and a link's latency
// returns to what it was when the last latency fault on it ends. Each apply
// and heal is traced (fault.apply, fault.heal) with the fault's id.
//
// A crash ends the active pause faults of its process (the paused
// incarnation is gone); a restart ends the crash faults holding its process.
// Isolate cuts a process from those that exist when it applies.
type Injector struct {
	w *World
	// Disk applies disk faults: the World's disks unless replaced; while
	// nil, disk faults fail with ErrNoDiskModel.
	Disk DiskFaults
	// OnApply, if set, runs as each fault applies, just before it takes
	// effect (narration reads the world as the fault finds it).
	OnApply func(e Entry)
	// OnHeal, if set, runs after each fault has ended; why is "scheduled",
	// "healed", "heal-all", or "ended by fault N".
	OnHeal func(f Fault, why string)

	active  []*activeFault // in id order
	known   map[FaultID]bool
	applied uint64
	err     error
}

// NewInjector returns an Injector for w with no faults.
func NewInjector(w *World) *Injector {
	return &Injector{
		w:     w,
		Disk:  &worldDisks{w: w, slow: map[ProcID][]Fault{}, modes: map[FaultID]LossMode{}},
		known: map[FaultID]bool{},
	}
}

// Schedule validates s against the world (process names, ids not used
// before, times not past, a disk model for disk faults) and queues each entry
// as a kernel event at its time. Nothing is queued if s is bad.
func (in *Injector) Schedule(s Schedule) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("schedule: %w", err)
	}
	targets := make([]target, len(s))
	for i, e := range s {
		t, err := in.check(e)
		if err != nil {
			return fmt.Errorf("schedule entry %d: %w", i, err)
		}
		if e.At < in.w.Now() {
			return fmt.Errorf("schedule entry %d: fault %d at %v is in the past (now %v)", i, e.ID, e.At, in.w.Now())
		}
		targets[i] = t
	}
	for i, e := range s {
		in.known[e.ID] = true
		t := targets[i]
		in.w.At(Kernel, e.At, "fault", func() {
			if err := in.apply(e, t); err != nil && in.err == nil {
				in.err = err
			}
		})
	}
	return nil
}

// Apply applies f now; if d > 0 it heals after d. It fails, changing
// nothing, if f is bad, names an unknown process, reuses an id, or needs a
// disk model there is none of.
func (in *Injector) Apply(f Fault, d Duration) error {
	e := Entry{At: in.w.Now(), Duration: d, Fault: f}
	if err := e.Validate(); err != nil {
		return err
	}
	t, err := in.check(e)
	if err != nil {
		return err
	}
	in.known[f.ID] = true
	return in.apply(e, t)
}

// Heal ends an active fault now. It reports whether the fault was active.
func (in *Injector) Heal(id FaultID) bool { return in.heal(id, "healed") }

// HealAll ends every active fault, in id order.
func (in *Injector) HealAll() {
	for len(in.active) > 0 {
		in.heal(in.active[0].e.ID, "heal-all")
	}
}

// Active returns the faults in force, in id order; each entry's At is when
// it applied.
func (in *Injector) Active() []Entry {
	out := make([]Entry, len(in.active))
	for i, a := range in.active {
		out[i] = a.e
	}
	return out
}

// IsActive reports whether fault id is in force.
func (in *Injector) IsActive(id FaultID) bool { return in.find(id) >= 0 }

// Err returns the first error a scheduled fault met as it applied (only a
// disk model can fail then; everything else is checked by Schedule).
func (in *Injector) Err() error { return in.err }

// check resolves e's process names and refuses what cannot apply.
func (in *Injector) check(e Entry) (target, error) {
	w := in.w
	var t target
	fail := func(format string, args ...any) (target, error) {
		return target{}, fmt.Errorf("fault %d (%s): %s", e.ID, e.Kind, fmt.Sprintf(format, args...))
	}
	if in.known[e.ID] {
		return fail("id %d is used already", e.ID)
	}
	if e.isDisk() && in.Disk == nil {
		return fail("%v", ErrNoDiskModel)
	}
	var err error
	resolve := func(name string) ProcID {
		id, ok := w.ProcByName(name)
		if !ok && err == nil {
			err = fmt.Errorf("fault %d (%s): unknown process %q", e.ID, e.Kind, name)
		}
		return id
	}
	if e.Proc != "" {
		t.proc = resolve(e.Proc)
	}
	for _, n := range e.A {
		t.a = append(t.a, resolve(n))
	}
	for _, n := range e.B {
		t.b = append(t.b, resolve(n))
	}
	if e.From != "" {
		t.from, t.to = resolve(e.From), resolve(e.To)
	}
	return t, err
}

func (in *Injector) find(id FaultID) int {
	for i, a := range in.active {
		if a.e.ID == id {
			return i
		}
	}
	return -1
}

func (in *Injector) apply(e Entry, t target) error {
	w := in.w
	if w.tracing {
		// hold 0: until healed.
		w.record(KindFaultApply, t.proc, Kernel, 0, string(e.Kind), Int("id", e.ID), Str("fault", e.Fault.String()), Dur("hold", e.Duration))
	}
	if in.OnApply != nil {
		in.OnApply(e)
	}
	in.applied++
	a := &activeFault{e: e, t: t, seq: in.applied}
	a.e.At = w.Now()
	switch e.Kind {
	case FaultRestart:
		for _, b := range in.activeOn(t.proc, Fault.holdsDown) {
			in.heal(b.e.ID, endedBy(e.ID))
		}
		if !w.IsUp(t.proc) {
			w.Restart(t.proc)
		}
		return nil // instant: never active
	case FaultCrash, FaultDiskCrashLoss:
		for _, b := range in.activeOn(t.proc, Fault.pauses) {
			in.heal(b.e.ID, endedBy(e.ID))
		}
		if e.Kind == FaultDiskCrashLoss {
			if err := in.Disk.ApplyDiskFault(e.Fault, t.proc); err != nil {
				return fmt.Errorf("fault %d (%s): %w", e.ID, e.Kind, err)
			}
		}
		w.Crash(t.proc)
	case FaultPause:
		w.Pause(t.proc)
	case FaultPartition:
		a.cut = w.Partition(t.a, t.b)
	case FaultOneWay:
		a.cut = w.PartitionOneWay(t.a, t.b)
	case FaultIsolate:
		var others []ProcID
		for p := ProcID(1); int(p) <= w.Processes(); p++ {
			if p != t.proc {
				others = append(others, p)
			}
		}
		a.cut = w.Partition([]ProcID{t.proc}, others)
	case FaultLatency:
		a.base = w.LinkLatency(t.from, t.to)
		if prev := in.latencyOn(t.from, t.to); len(prev) > 0 {
			a.base = prev[0].base
		}
		w.SetLatency(t.from, t.to, *e.Latency)
	case FaultSlowDisk:
		if err := in.Disk.ApplyDiskFault(e.Fault, t.proc); err != nil {
			return fmt.Errorf("fault %d (%s): %w", e.ID, e.Kind, err)
		}
	default:
		panic(fmt.Sprintf("sim: fault kind %q passed validation", e.Kind))
	}
	if e.Duration > 0 {
		id := e.ID
		a.heal = w.After(Kernel, e.Duration, "fault-heal", func() { in.heal(id, "scheduled") })
	}
	i, _ := slices.BinarySearchFunc(in.active, e.ID, func(x *activeFault, id FaultID) int { return cmp.Compare(x.e.ID, id) })
	in.active = slices.Insert(in.active, i, a)
	return nil
}

// endedBy is the why of a heal that fault id caused.
func endedBy(id FaultID) string { return fmt.Sprintf("ended by fault %d", id) }

// activeOn returns the active faults on process p that match.
func (in *Injector) activeOn(p ProcID, match func(Fault) bool) []*activeFault {
	var out []*activeFault
	for _, a := range in.active {
		if a.e.Proc != "" && a.t.proc == p && match(a.e.Fault) {
			out = append(out, a)
		}
	}
	return out
}

// latencyOn returns the active latency faults on a link, oldest first.
func (in *Injector) latencyOn(from, to ProcID) []*activeFault {
	var out []*activeFault
	for _, a := range in.active {
		if a.e.Kind == FaultLatency && a.t.from == from && a.t.to == to {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(x, y *activeFault) int { return cmp.Compare(x.seq, y.seq) })
	return out
}

func (in *Injector) heal(id FaultID, why string) bool {
	w := in.w
	i := in.find(id)
	if i < 0 {
		return false
	}
	a := in.active[i]
	in.active = slices.Delete(in.active, i, i+1)
	if why != "scheduled" {
		w.Cancel(a.heal)
	}
	if w.tracing {
		w.record(KindFaultHeal, a.t.proc, Kernel, 0, string(a.e.Kind), Int("id", id), Str("fault", a.e.Fault.String()), Str("why", why))
	}
	t := a.t
	switch a.e.Kind {
	case FaultCrash, FaultDiskCrashLoss:
		if a.e.Kind == FaultDiskCrashLoss {
			if err := in.Disk.HealDiskFault(a.e.Fault, t.proc); err != nil && in.err == nil {
				in.err = fmt.Errorf("fault %d (%s): %w", id, a.e.Kind, err)
			}
		}
		if len(in.activeOn(t.proc, Fault.holdsDown)) == 0 && !w.IsUp(t.proc) {
			w.Restart(t.proc)
		}
	case FaultPause:
		if len(in.activeOn(t.proc, Fault.pauses)) == 0 {
			w.Resume(t.proc)
		}
	case FaultPartition, FaultOneWay, FaultIsolate:
		w.HealCut(a.cut)
	case FaultLatency:
		rest := in.latencyOn(t.from, t.to)
		switch {
		case len(rest) == 0:
			w.SetLatency(t.from, t.to, a.base)
		case rest[len(rest)-1].seq < a.seq:
			// a was the latest: the one before it is in force again.
			w.SetLatency(t.from, t.to, *rest[len(rest)-1].e.Latency)
		}
	case FaultSlowDisk:
		if err := in.Disk.HealDiskFault(a.e.Fault, t.proc); err != nil && in.err == nil {
			in.err = fmt.Errorf("fault %d (%s): %w", id, a.e.Kind, err)
		}
	}
	if in.OnHeal != nil {
		in.OnHeal(a.e.Fault, why)
	}
	return true
}
