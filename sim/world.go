package sim

import (
	"fmt"
)

// Default limits for a World whose Options leave them zero. Every run has a
// bound on events and on virtual time, so no run can hang.
const (
	DefaultMaxEvents       = 50_000_000
	DefaultMaxTime         = 24 * Hour
	DefaultLatency         = Millisecond
	DefaultConnBreakDetect = 200 * Millisecond
)

// Options configure a World.
type Options struct {
	// Seed fixes every random choice of the run.
	Seed uint64
	// MaxEvents bounds the number of events a run may execute (0: DefaultMaxEvents).
	MaxEvents int64
	// MaxTime bounds virtual time (0: DefaultMaxTime).
	MaxTime Duration
	// Latency is the one-way delay distribution of links without their own
	// (zero value: fixed DefaultLatency).
	Latency Latency
	// ConnBreakDetect is how long after a connection breaks (partition or
	// crash) its ends learn of it, like a TCP keep-alive or RST (0: DefaultConnBreakDetect).
	ConnBreakDetect Duration
	// Trace is how much of the trace the run makes. The zero value is
	// TraceHash without Sinks and TraceFull with them; TraceOff or TraceHash
	// with Sinks, and TraceFull without, are contradictions New rejects.
	Trace TraceLevel
	// Sinks receive every trace record (at TraceFull).
	Sinks []Sink
	// Buggify switches the run's fault sites on (see World.Buggify); off,
	// every site stays silent and draws nothing.
	Buggify bool
}

// Status says why a run stopped.
type Status uint8

// Run statuses.
const (
	// StatusQuiescent: no event left to run.
	StatusQuiescent Status = iota + 1
	// StatusDeadline: the next event lies beyond the time limit.
	StatusDeadline
	// StatusEventBudget: the run used up its event budget.
	StatusEventBudget
	// StatusStopped: an event called World.Stop.
	StatusStopped
)

func (s Status) String() string {
	switch s {
	case StatusQuiescent:
		return "quiescent"
	case StatusDeadline:
		return "deadline"
	case StatusEventBudget:
		return "event-budget"
	case StatusStopped:
		return "stopped"
	}
	return fmt.Sprintf("status(%d)", s)
}

// ProcID identifies a process. Kernel (0) stands for the world itself:
// scenario drivers and fault injection run as kernel events.
type ProcID int32

// Kernel is the ProcID of events that belong to no process.
const Kernel ProcID = 0

// TimerID names a scheduled event so it can be cancelled. It carries the
// event's insertion seq, which no later event reuses, so an id kept after
// its event ran (and the event's memory was recycled) cancels nothing.
type TimerID struct {
	at  Time
	seq uint64
	ev  *event
}

// IsZero reports whether id names no event.
func (id TimerID) IsZero() bool { return id.seq == 0 }

// At returns when the event is due.
func (id TimerID) At() Time { return id.at }

type eventKind uint8

const (
	evFunc     eventKind = iota // run fn
	evDeliver                   // deliver msg on conn
	evAccept                    // a dial reaches the listener
	evFin                       // the peer closed conn
	evConnDown                  // conn's end learns that it broke
	evDrain                     // run the next deferred event of a resumed process
)

type event struct {
	// seq is the insertion seq of the event's live entry in the queue or in
	// its process's deferred list; 0 once cancelled or recycled.
	seq      uint64
	kind     eventKind
	deferred bool // waiting in its process's deferred list
	proc     ProcID
	inc      uint32 // incarnation of proc when scheduled
	slot     uint32 // where the event lives in the queue's slab
	label    string
	fn       func()
	conn     *Conn
	msg      Message
	text     string // msg.String(), made once at send when tracing
	err      error
}

// World is one simulation run: virtual clock, event queue, random streams,
// processes, network and trace. It is single-threaded: every simulated action
// runs as an event on the goroutine that calls Run.
type World struct {
	opts  Options
	now   Time
	seq   uint64
	step  uint64
	queue eventQueue

	maxEvents int64
	maxTime   Time
	stopped   bool

	seed    uint64
	streams map[string]*Rand

	procs []*process // index = ProcID; procs[0] is the kernel

	net network

	onStep    []func()
	observing bool // OnStep observers are running: the world must not change

	stats Stats

	level   TraceLevel
	tracing bool // level is TraceHash or TraceFull
	full    bool // level is TraceFull
	hash    traceHash
	sinks   []Sink
	sinkErr error
	rec     Record

	disks   []*Disk // index = ProcID; nil until the process first uses one
	buggify buggifyState
	attrBuf [MaxAttrs]Attr
}

// Stats counts what happened in a run, whatever the trace level: metrics
// read these, never the trace.
type Stats struct {
	Events            uint64 // kernel steps (as Steps)
	EventsDropped     uint64 // events of a crashed incarnation discarded
	MessagesSent      uint64 // messages accepted by an open connection
	MessagesDelivered uint64 // messages handed to the receiving end
	MessagesLost      uint64 // messages sent on, or arriving at, a broken connection
	MessagesDropped   uint64 // messages dropped because the receiving process was down
	ConnsDialed       uint64
	ConnsBroken       uint64 // connections broken by a partition or a crash
	Crashes           uint64
	Restarts          uint64
	Pauses            uint64
	Partitions        uint64 // Partition and PartitionOneWay calls
}

// New returns a World at time 0 with no processes.
func New(opts Options) *World {
	if opts.MaxEvents == 0 {
		opts.MaxEvents = DefaultMaxEvents
	}
	if opts.MaxTime == 0 {
		opts.MaxTime = DefaultMaxTime
	}
	if opts.Latency == (Latency{}) {
		opts.Latency = Fixed(DefaultLatency)
	}
	if err := opts.Latency.Validate(); err != nil {
		panic("sim: " + err.Error())
	}
	if opts.ConnBreakDetect == 0 {
		opts.ConnBreakDetect = DefaultConnBreakDetect
	}
	switch opts.Trace {
	case TraceDefault:
		opts.Trace = TraceHash
		if len(opts.Sinks) > 0 {
			opts.Trace = TraceFull
		}
	case TraceOff, TraceHash:
		if len(opts.Sinks) > 0 {
			panic(fmt.Sprintf("sim: Options.Trace is %v but %d sinks are given: use TraceFull (or leave Trace zero)", opts.Trace, len(opts.Sinks)))
		}
	case TraceFull:
		if len(opts.Sinks) == 0 {
			panic("sim: Options.Trace is TraceFull but no sink is given")
		}
	default:
		panic(fmt.Sprintf("sim: unknown Options.Trace %d", opts.Trace))
	}
	w := &World{
		opts:      opts,
		maxEvents: opts.MaxEvents,
		maxTime:   Time(opts.MaxTime),
		seed:      opts.Seed,
		streams:   map[string]*Rand{},
		level:     opts.Trace,
		tracing:   opts.Trace >= TraceHash,
		full:      opts.Trace == TraceFull,
		sinks:     opts.Sinks,
	}
	w.hash.h = hashSeed
	w.queue.init()
	w.procs = []*process{{id: Kernel, name: "kernel", up: true}}
	w.net.init(w)
	return w
}

// Now returns the current virtual time.
func (w *World) Now() Time { return w.now }

// Seed returns the run's seed.
func (w *World) Seed() uint64 { return w.seed }

// Steps returns how many events have run.
func (w *World) Steps() uint64 { return w.step }

// Pending returns how many events are queued.
func (w *World) Pending() int { return w.queue.live() }

// Rand returns the named random stream. Each name gets its own stream derived
// from the seed, so draws from one stream never shift another's.
func (w *World) Rand(name string) *Rand {
	r, ok := w.streams[name]
	if !ok {
		r = NewRand(streamSeed(w.seed, name))
		w.streams[name] = r
	}
	return r
}

// TraceHash returns the determinism fingerprint of everything traced so far
// (a constant when the trace is off).
func (w *World) TraceHash() string { return w.hash.String() }

// Tracing reports whether records are being made (hash or full); callers
// that build costly attributes check it first.
func (w *World) Tracing() bool { return w.tracing }

// TraceLevel returns the run's trace level (never TraceDefault).
func (w *World) TraceLevel() TraceLevel { return w.level }

// Stats returns the run's counters.
func (w *World) Stats() Stats {
	st := w.stats
	st.Events = w.step
	return st
}

// SinkError returns the first error a sink returned, if any.
func (w *World) SinkError() error { return w.sinkErr }

// Emit adds a record from a layer above the kernel; Step and At are filled
// in. The attributes are copied, so a call does not allocate; an attribute
// whose key is empty or a record field (step, kind, proc, conn, …) panics.
func (w *World) Emit(kind string, proc ProcID, label string, attrs ...Attr) {
	if !w.tracing {
		return
	}
	w.checkProc(proc)
	checkAttrs(attrs)
	w.record(kind, proc, Kernel, 0, label, attrs...)
}

// EmitConn is Emit for a record about connection c: the record's proc, peer
// and conn are c's local process, remote process and id.
func (w *World) EmitConn(kind string, c *Conn, label string, attrs ...Attr) {
	if !w.tracing {
		return
	}
	checkAttrs(attrs)
	w.record(kind, c.local, c.remote, c.id, label, attrs...)
}

// record hashes a record and, at TraceFull, hands it to the sinks. Callers
// check w.tracing first.
func (w *World) record(kind string, proc, peer ProcID, conn ConnID, label string, attrs ...Attr) {
	w.hash.record(w.step, w.now, kind, proc, peer, conn, label, attrs)
	if w.full {
		w.write(kind, proc, peer, conn, label, attrs)
	}
}

func (w *World) write(kind string, proc, peer ProcID, conn ConnID, label string, attrs []Attr) {
	if len(attrs) > MaxAttrs {
		panic(fmt.Sprintf("sim: a trace record takes at most %d attributes, got %d", MaxAttrs, len(attrs)))
	}
	buf := w.attrBuf[:len(attrs)]
	copy(buf, attrs)
	for i := range buf {
		if a := &buf[i]; a.Kind == AttrProc && a.Num >= 0 && int(a.Num) < len(w.procs) {
			a.Str = w.procs[a.Num].name
		}
	}
	r := &w.rec
	*r = Record{Step: w.step, At: w.now, Kind: kind, Proc: proc, Peer: peer, Conn: conn, Label: label, Attrs: buf}
	r.ProcName = w.procs[proc].name
	if peer != Kernel {
		r.PeerName = w.procs[peer].name
	}
	for _, s := range w.sinks {
		if err := s.Write(r); err != nil && w.sinkErr == nil {
			w.sinkErr = err
		}
	}
}

func (w *World) newEvent() *event { return w.queue.alloc() }

func (w *World) release(ev *event) { w.queue.recycle(ev) }

// push queues ev at time at for process proc.
func (w *World) push(at Time, ev *event) TimerID {
	w.mustChange("scheduling an event")
	if at < w.now {
		panic(fmt.Sprintf("sim: event %q scheduled at %v, in the past (now %v)", ev.label, at, w.now))
	}
	w.seq++
	ev.seq = w.seq
	ev.inc = w.procs[ev.proc].incarnation
	w.queue.push(at, w.seq, ev)
	return TimerID{at: at, seq: w.seq, ev: ev}
}

// At schedules fn to run as process p at time t. The label names the event in
// the trace and should be a constant string. If p crashes before t, the event
// is dropped; if p is paused at t, the event runs when p resumes.
func (w *World) At(p ProcID, t Time, label string, fn func()) TimerID {
	w.checkProc(p)
	ev := w.newEvent()
	ev.kind, ev.proc, ev.label, ev.fn = evFunc, p, label, fn
	return w.push(t, ev)
}

// After schedules fn to run as process p after d.
func (w *World) After(p ProcID, d Duration, label string, fn func()) TimerID {
	if d < 0 {
		panic(fmt.Sprintf("sim: event %q scheduled %v ahead, a negative delay", label, d))
	}
	return w.At(p, w.now.Add(d), label, fn)
}

// Cancel removes a scheduled event. It reports false if the event already
// ran, was cancelled, or was dropped.
func (w *World) Cancel(id TimerID) bool {
	w.mustChange("Cancel")
	ev := id.ev
	if ev == nil || ev.seq != id.seq {
		return false // ran, cancelled, dropped, or recycled for another event
	}
	if !ev.deferred {
		// Lazy: the entry stays in the queue and is discarded when it
		// reaches the top (or when the queue is compacted).
		ev.seq = 0
		ev.fn, ev.msg, ev.conn, ev.err = nil, nil, nil, nil
		w.queue.dead++
		w.queue.compact()
		return true
	}
	// A paused process keeps its due events aside until it resumes.
	p := w.procs[ev.proc]
	for i, it := range p.deferred {
		if it.ev == ev {
			p.deferred = append(p.deferred[:i], p.deferred[i+1:]...)
			w.release(ev)
			return true
		}
	}
	panic(fmt.Sprintf("sim: deferred event %q missing from its process's list", ev.label))
}

// next returns the earliest live entry without removing it, discarding the
// cancelled ones in front of it.
func (w *World) next() (qitem, *event) {
	q := &w.queue
	for q.len() > 0 {
		it := q.top()
		ev := q.event(it.ref & slotMask)
		if ev.seq == it.ref>>slotBits {
			return it, ev
		}
		q.removeTop()
		q.dead--
		q.recycle(ev)
	}
	return qitem{}, nil
}

// pop removes the top entry it (from next) and dispatches its event ev.
func (w *World) pop(it qitem, ev *event) {
	q := &w.queue
	q.removeTop()
	q.touchTop()
	w.dispatch(item{at: it.at, seq: it.ref >> slotBits, ev: ev})
}

// Stop makes Run return StatusStopped after the current event.
func (w *World) Stop() { w.stopped = true }

// Run runs events until none is left, the time limit, the event budget, or
// Stop.
func (w *World) Run() Status { return w.RunUntil(w.maxTime) }

// RunFor runs events for d of virtual time (see RunUntil).
func (w *World) RunFor(d Duration) Status { return w.RunUntil(w.now.Add(d)) }

// RunUntil runs every event due at or before t (capped at the run's time
// limit) and then moves the clock to t. It returns StatusDeadline when it got
// to t, StatusQuiescent when the queue emptied first (the clock still moves to
// t), or the budget or stop status that ended it early.
func (w *World) RunUntil(t Time) Status {
	if t < w.now {
		panic(fmt.Sprintf("sim: RunUntil(%v) is before now (%v)", t, w.now))
	}
	if t > w.maxTime {
		t = w.maxTime
	}
	w.stopped = false
	for {
		if w.stopped {
			return StatusStopped
		}
		if int64(w.step) >= w.maxEvents {
			return StatusEventBudget
		}
		it, ev := w.next()
		if ev == nil {
			w.now = t
			return StatusQuiescent
		}
		if it.at > t {
			w.now = t
			return StatusDeadline
		}
		w.pop(it, ev)
	}
}

// Step runs the next event, if it is within the time limit and budgets. It
// reports whether an event ran.
func (w *World) Step() bool {
	if int64(w.step) >= w.maxEvents {
		return false
	}
	it, ev := w.next()
	if ev == nil || it.at > w.maxTime {
		return false
	}
	w.pop(it, ev)
	return true
}

func (w *World) dispatch(it item) {
	if it.at < w.now {
		panic(fmt.Sprintf("sim: time went back from %v to %v", w.now, it.at))
	}
	w.now = it.at
	w.step++
	ev := it.ev
	if ev.proc != Kernel {
		p := w.procs[ev.proc]
		// A SYN is for whichever incarnation is there when it arrives, and
		// so are the data and FIN behind it: the state of the connection's
		// end decides their fate (a crash breaks the ends it owned).
		stale := ev.inc != p.incarnation && ev.kind != evAccept && ev.kind != evDeliver && ev.kind != evFin
		if stale || !p.up {
			if ev.kind == evAccept {
				w.net.refuse(ev.conn)
				w.release(ev)
				return
			}
			w.recordDropped(ev)
			w.release(ev)
			return
		}
		if ev.kind != evDrain && (p.paused || len(p.deferred) > 0) {
			if w.tracing {
				w.record(KindEventDefer, ev.proc, Kernel, 0, ev.label)
			}
			ev.deferred = true
			p.deferred = append(p.deferred, it)
			return
		}
	}
	w.run(ev)
	if len(w.onStep) > 0 {
		w.observe()
	}
}

// OnStep registers fn to run after every event that ran (not after dropped
// or deferred ones): where safety checks look at the world. fn must not
// schedule events or change the world: scheduling, sending, dialling,
// closing, crashing, restarting, pausing, resuming, cutting, healing or
// setting latency from fn panics. (Drawing from a random stream is a change
// too, which is not checked: observers must not do it.)
func (w *World) OnStep(fn func()) { w.onStep = append(w.onStep, fn) }

// run executes ev and recycles it.
func (w *World) run(ev *event) {
	switch ev.kind {
	case evFunc:
		if w.tracing {
			w.record(KindEvent, ev.proc, Kernel, 0, ev.label)
		}
		fn := ev.fn
		w.release(ev)
		fn()
		return
	case evDrain:
		w.drain(ev.proc)
	default:
		w.net.run(ev)
	}
	w.release(ev)
}
