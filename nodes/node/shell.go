package node

import (
	"fmt"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/sim"
)

// Config describes a process to NewShell.
type Config[M Machine] struct {
	// Name is the process's name in the world.
	Name string
	// New makes the machine of a new incarnation. It is called at every
	// start and restart; the machine it returns has seen no input yet.
	New func() M
	// ZooKeeper lists the servers the process's client connects to; empty:
	// the process has no ZooKeeper client (and must issue no ZKRequest).
	ZooKeeper []sim.ProcID
	// Client configures the ZooKeeper client. Its EventCallback must be
	// nil: the Shell owns it and turns session events into ZKSession.
	Client fakezk.ClientConfig
	// OnReport receives the machine's own effects (types embedding Report),
	// in order, as they are carried out. It runs inside the process's
	// event and may narrate or count; nil means the machine makes none.
	OnReport func(Effect)
	// OnInput, if set, sees every input just before the machine steps on
	// it, for metrics (counting the watch events that reached the machine,
	// say). It only reads: it must not change the world or the machine.
	OnInput func(Input)
	// OnStart, if set, runs at every start and restart once the machine
	// has taken Restarted, inside the process's event: what the process
	// runs beside its machine (a data plane's rpc server) starts here.
	OnStart func()
}

// maxTimers bounds the named timers a machine holds at once.
const maxTimers = 64

// Shell runs a Machine as a simulated process. It lives as long as the
// process; what it holds for one incarnation (the machine, the ZooKeeper
// client, the timers) is made at each start and restart and dropped at
// the crash.
type Shell[M Machine] struct {
	w   *sim.World
	id  sim.ProcID
	cfg Config[M]
	cur *incarnation[M] // nil while the process is down or not yet started
}

// incarnation is what the Shell holds for one incarnation of its process.
type incarnation[M Machine] struct {
	number   uint32
	m        M
	zk       *fakezk.Client
	timers   map[TimerName]sim.TimerID
	waiting  map[ReqID]bool // requests issued and not yet answered
	stepping bool           // inside Step or carrying out its effects
}

// NewShell adds the process to w and returns its shell. The process starts
// when its Start event runs (schedule it with w.At(shell.ID(), …)); the
// kernel restarts it through the hooks the shell installs.
func NewShell[M Machine](w *sim.World, cfg Config[M]) *Shell[M] {
	if cfg.New == nil {
		panic("node: Config.New is nil")
	}
	if cfg.Client.EventCallback != nil {
		panic("node: Config.Client.EventCallback must be nil: the shell turns session events into inputs")
	}
	s := &Shell[M]{w: w, cfg: cfg}
	s.id = w.AddProcess(cfg.Name, sim.ProcessHooks{OnCrash: s.crash, OnRestart: s.Start})
	return s
}

// ID returns the process's id.
func (s *Shell[M]) ID() sim.ProcID { return s.id }

// Start starts an incarnation: a new machine, a new ZooKeeper client, and
// Restarted as the machine's first input. It must run as an event of the
// process: its first start, or the kernel's OnRestart.
func (s *Shell[M]) Start() {
	if s.cur != nil {
		panic(fmt.Sprintf("node: %s started twice in incarnation %d", s.cfg.Name, s.cur.number))
	}
	inc := &incarnation[M]{
		number:  s.w.Incarnation(s.id),
		m:       s.cfg.New(),
		timers:  map[TimerName]sim.TimerID{},
		waiting: map[ReqID]bool{},
	}
	s.cur = inc
	if len(s.cfg.ZooKeeper) > 0 {
		cc := s.cfg.Client
		cc.EventCallback = func(ev fakezk.Event) {
			if ev.Type != fakezk.EventSession {
				return // watch events come to the watch of the read that set it
			}
			s.feed(inc, ZKSession{State: ev.State, Session: inc.zk.SessionID()})
		}
		inc.zk = fakezk.Connect(s.w, s.id, s.cfg.ZooKeeper, cc)
	}
	s.feed(inc, Restarted{Incarnation: inc.number})
	if s.cfg.OnStart != nil && s.cur == inc {
		s.cfg.OnStart()
	}
}

// crash drops the incarnation: the kernel has already dropped its events
// and connections, and the client is dead with it.
func (s *Shell[M]) crash() { s.cur = nil }

// Machine returns the current incarnation's machine, for read-only
// observation by checks; ok is false while the process is down.
func (s *Shell[M]) Machine() (m M, ok bool) {
	if s.cur == nil {
		return m, false
	}
	return s.cur.m, true
}

// Session returns the client's state and session id (StateDead and 0 while
// the process is down, StateUnknown and 0 if it has no ZooKeeper client).
func (s *Shell[M]) Session() (fakezk.State, int64) {
	switch {
	case s.cur == nil:
		return fakezk.StateDead, 0
	case s.cur.zk == nil:
		return fakezk.StateUnknown, 0
	}
	return s.cur.zk.State(), s.cur.zk.SessionID()
}

// Command hands v to the current incarnation's machine as a Command input
// and carries out its effects. It must run as an event of the process
// (w.At(shell.ID(), …)), so that a paused process sees it when it resumes
// and a crashed one never: the kernel drops the event.
func (s *Shell[M]) Command(v fmt.Stringer) {
	if s.cur == nil {
		panic(fmt.Sprintf("node: %s: command %v while the process is down (deliver it as an event of the process)", s.cfg.Name, v))
	}
	if v == nil {
		panic(fmt.Sprintf("node: %s: a command without a value", s.cfg.Name))
	}
	s.feed(s.cur, Command{Value: v})
}

// feed steps the machine of inc with one input and carries out its effects.
func (s *Shell[M]) feed(inc *incarnation[M], in Input) {
	if s.cur != inc {
		// The kernel never runs an event of a dead incarnation, and the
		// client is bound to its incarnation: this is a shell bug.
		panic(fmt.Sprintf("node: %s: %v reached incarnation %d, which is gone", s.cfg.Name, in, inc.number))
	}
	if inc.stepping {
		panic(fmt.Sprintf("node: %s: %v arrived while the machine was stepping (a re-entrant callback)", s.cfg.Name, in))
	}
	inc.stepping = true
	if s.cfg.OnInput != nil {
		s.cfg.OnInput(in)
	}
	for _, e := range inc.m.Step(s.w.Now(), in) {
		s.apply(inc, e)
	}
	inc.stepping = false
}

func (s *Shell[M]) apply(inc *incarnation[M], e Effect) {
	switch e := e.(type) {
	case ZKRequest:
		s.issue(inc, e)
	case SetTimer:
		if old, ok := inc.timers[e.Name]; ok {
			s.w.Cancel(old)
		} else if len(inc.timers) >= maxTimers {
			panic(fmt.Sprintf("node: %s holds %d timers, the limit, and sets %s", s.cfg.Name, len(inc.timers), e.Name))
		}
		var id sim.TimerID
		id = s.w.After(s.id, e.After, string(e.Name), func() {
			if inc.timers[e.Name] != id {
				panic(fmt.Sprintf("node: %s: timer %s fired though reset or cancelled", s.cfg.Name, e.Name))
			}
			delete(inc.timers, e.Name)
			s.feed(inc, TimerFired{Name: e.Name})
		})
		inc.timers[e.Name] = id
	case CancelTimer:
		if old, ok := inc.timers[e.Name]; ok {
			s.w.Cancel(old)
			delete(inc.timers, e.Name)
		}
	default:
		if s.cfg.OnReport == nil {
			panic(fmt.Sprintf("node: %s reports %T but Config.OnReport is nil", s.cfg.Name, e))
		}
		s.cfg.OnReport(e)
	}
}

// issue sends one request, alone in a batch, so that its reply comes back
// as soon as it arrives; a watch is a closure that feeds ZKWatch.
func (s *Shell[M]) issue(inc *incarnation[M], e ZKRequest) {
	if inc.zk == nil {
		panic(fmt.Sprintf("node: %s has no ZooKeeper client for %v", s.cfg.Name, e))
	}
	if inc.waiting[e.ID] {
		panic(fmt.Sprintf("node: %s reuses request id %d while it waits for its reply", s.cfg.Name, e.ID))
	}
	// A read's watch is a closure of the shell's; the machine's request is
	// copied, not changed.
	req := e.Req
	watch := func(ev fakezk.Event) { s.feed(inc, ZKWatch{Req: e.ID, Event: ev}) }
	hasCallback := false
	switch q := req.(type) {
	case *fakezk.GetDataRequest:
		hasCallback = q.Watch != nil
		if e.Watch {
			c := *q
			c.Watch, req = watch, &c
		}
	case *fakezk.ExistsRequest:
		hasCallback = q.Watch != nil
		if e.Watch {
			c := *q
			c.Watch, req = watch, &c
		}
	case *fakezk.GetChildrenRequest:
		hasCallback = q.Watch != nil
		if e.Watch {
			c := *q
			c.Watch, req = watch, &c
		}
	case nil:
		panic(fmt.Sprintf("node: %s issues request %d without a request", s.cfg.Name, e.ID))
	default:
		if e.Watch {
			panic(fmt.Sprintf("node: %s asks for a watch on a write: %v", s.cfg.Name, e))
		}
	}
	if hasCallback {
		panic(fmt.Sprintf("node: %s: request %d carries a watch callback: set ZKRequest.Watch instead", s.cfg.Name, e.ID))
	}
	inc.waiting[e.ID] = true
	inc.zk.Pipeline([]fakezk.Request{req}, func(rs []fakezk.Response) {
		delete(inc.waiting, e.ID)
		s.feed(inc, ZKReply{Req: e.ID, Resp: rs[0]})
	})
}
