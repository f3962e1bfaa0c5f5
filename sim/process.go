package sim

import (
	"fmt"
	"strings"
)

// ProcessHooks are a process's reactions to its lifecycle. Either may be nil.
type ProcessHooks struct {
	// OnCrash runs at the crash: the process must drop its volatile state
	// (what lives in memory) and keep its durable state (what it wrote to
	// disk). Its pending events and connections are gone already.
	OnCrash func()
	// OnRestart runs as the first event of the new incarnation: the process
	// rebuilds from durable state, listens and dials again.
	OnRestart func()
}

type process struct {
	id          ProcID
	name        string
	up          bool
	paused      bool
	incarnation uint32
	hooks       ProcessHooks
	accept      func(c *Conn) ConnHandler
	conns       []*Conn // this process's open connection ends
	deferred    []item  // events that fell due while paused, in order
}

// AddProcess registers a running process and returns its id. Names appear in
// the trace, name random streams ("sim.net/a->b") and fault schedules: they
// must be unique, non-empty, and free of "->".
func (w *World) AddProcess(name string, hooks ProcessHooks) ProcID {
	w.mustChange("AddProcess")
	if name == "" || strings.Contains(name, "->") {
		panic(fmt.Sprintf("sim: process name %q is empty or contains \"->\"", name))
	}
	if _, dup := w.ProcByName(name); dup || name == w.procs[Kernel].name {
		panic(fmt.Sprintf("sim: process name %q used twice", name))
	}
	id := ProcID(len(w.procs))
	w.procs = append(w.procs, &process{id: id, name: name, up: true, incarnation: 1, hooks: hooks})
	return id
}

// ProcByName returns the process with the given name (never the kernel).
func (w *World) ProcByName(name string) (ProcID, bool) {
	for _, p := range w.procs[1:] {
		if p.name == name {
			return p.id, true
		}
	}
	return 0, false
}

// Processes returns how many processes exist (the kernel not counted).
func (w *World) Processes() int { return len(w.procs) - 1 }

// Name returns the name of process p.
func (w *World) Name(p ProcID) string { w.checkProc(p); return w.procs[p].name }

// IsUp reports whether p is running (paused counts as running).
func (w *World) IsUp(p ProcID) bool { w.checkProc(p); return w.procs[p].up }

// IsPaused reports whether p is paused.
func (w *World) IsPaused(p ProcID) bool { w.checkProc(p); return w.procs[p].paused }

// Incarnation returns how many times p has started (1 before any restart).
func (w *World) Incarnation(p ProcID) uint32 { w.checkProc(p); return w.procs[p].incarnation }

func (w *World) checkProc(p ProcID) {
	if p < 0 || int(p) >= len(w.procs) {
		panic(fmt.Sprintf("sim: unknown process %d", p))
	}
}

func (w *World) proc(p ProcID) *process {
	w.checkProc(p)
	if p == Kernel {
		panic("sim: the kernel is not a process that can fail")
	}
	return w.procs[p]
}

// Crash stops p at once: its pending and deferred events are dropped (each
// recorded as event.dropped; a dial that reached p while it was paused is
// refused, as a dial to a down process is), its connections break (peers
// learn after ConnBreakDetect), its listener is gone, its disk loses what
// was not synced, and OnCrash drops its volatile state. Crashing a crashed
// process does nothing.
func (w *World) Crash(p ProcID) {
	w.mustChange("Crash")
	pr := w.proc(p)
	if !pr.up {
		return
	}
	w.stats.Crashes++
	if w.tracing {
		w.record(KindProcCrash, p, Kernel, 0, "", Int("incarnation", pr.incarnation))
	}
	pr.up = false
	pr.paused = false
	// Bumping the incarnation orphans every queued event of the old one.
	pr.incarnation++
	w.crashDisk(p) // what was not synced is lost now, recorded beside the crash
	deferred := pr.deferred
	pr.deferred = nil
	for _, it := range deferred {
		ev := it.ev
		switch {
		case ev.kind == evAccept && !plantCrashLosesDeferredAccept:
			// The SYN reached p while it was paused and p is gone now: the
			// dialer is refused, as if it had dialled a down process.
			w.net.refuse(ev.conn)
		case ev.kind == evAccept:
			// Planted bug: the dial in flight is forgotten.
		default:
			if !plantSilentDeferredDrop {
				w.recordDropped(ev)
			}
		}
		w.release(ev)
	}
	pr.accept = nil
	conns := pr.conns
	pr.conns = nil
	for _, c := range conns {
		w.net.breakConn(c, ErrPeerCrashed)
	}
	if pr.hooks.OnCrash != nil {
		pr.hooks.OnCrash()
	}
}

// Restart starts a crashed process again: OnRestart runs as its first event,
// now. Restarting a running process is a programming error.
func (w *World) Restart(p ProcID) {
	w.mustChange("Restart")
	pr := w.proc(p)
	if pr.up {
		panic(fmt.Sprintf("sim: restart of running process %s", pr.name))
	}
	pr.up = true
	w.stats.Restarts++
	if w.tracing {
		w.record(KindProcRestart, p, Kernel, 0, "", Int("incarnation", pr.incarnation))
	}
	if pr.hooks.OnRestart != nil {
		w.At(p, w.now, "restart", pr.hooks.OnRestart)
	}
}

// Pause stops p from running anything, like a stop-the-world GC pause: its
// events that fall due wait, messages to it queue up, and the world goes on.
// Pausing a paused or crashed process does nothing.
func (w *World) Pause(p ProcID) {
	w.mustChange("Pause")
	pr := w.proc(p)
	if !pr.up || pr.paused {
		return
	}
	pr.paused = true
	w.stats.Pauses++
	if w.tracing {
		w.record(KindProcPause, p, Kernel, 0, "")
	}
}

// Resume ends a pause: the events that fell due meanwhile run now, in the
// order they fell due, before any later event of p.
func (w *World) Resume(p ProcID) {
	w.mustChange("Resume")
	pr := w.proc(p)
	if !pr.paused {
		return
	}
	pr.paused = false
	if w.tracing {
		w.record(KindProcResume, p, Kernel, 0, "", Int("deferred", len(pr.deferred)))
	}
	if len(pr.deferred) > 0 {
		w.scheduleDrain(pr)
	}
}

// recordDropped counts, and traces, an event that will never run because its process
// crashed: a message names its connection and itself, so every message sent
// has an outcome in the trace.
func (w *World) recordDropped(ev *event) {
	var peer ProcID
	var conn ConnID
	if ev.conn != nil {
		peer, conn = ev.conn.remote, ev.conn.id
	}
	w.stats.EventsDropped++
	if ev.kind == evDeliver {
		w.stats.MessagesDropped++
	}
	if !w.tracing {
		return
	}
	if ev.kind == evDeliver {
		w.record(KindEventDropped, ev.proc, peer, conn, ev.label, Str("msg", ev.text))
		return
	}
	w.record(KindEventDropped, ev.proc, peer, conn, ev.label)
}

func (w *World) scheduleDrain(pr *process) {
	ev := w.newEvent()
	ev.kind, ev.proc, ev.label = evDrain, pr.id, "resume"
	w.push(w.now, ev)
}

// drain runs the oldest deferred event of p and schedules itself again while
// more remain, so each deferred event is a step of its own.
func (w *World) drain(p ProcID) {
	pr := w.procs[p]
	if pr.paused || len(pr.deferred) == 0 {
		return // paused again: Resume schedules the drain anew
	}
	it := pr.deferred[0]
	copy(pr.deferred, pr.deferred[1:])
	pr.deferred[len(pr.deferred)-1] = item{}
	pr.deferred = pr.deferred[:len(pr.deferred)-1]
	if len(pr.deferred) > 0 {
		w.scheduleDrain(pr)
	}
	w.run(it.ev)
}

// observe runs the OnStep observers with the world locked against change.
func (w *World) observe() {
	w.observing = true
	defer func() { w.observing = false }()
	for _, fn := range w.onStep {
		fn()
	}
}

// mustChange panics when an OnStep observer tries to change the world.
func (w *World) mustChange(op string) {
	if w.observing {
		panic("sim: " + op + " from an OnStep observer: observers must not change the world")
	}
}
