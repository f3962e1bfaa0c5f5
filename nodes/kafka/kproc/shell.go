package kproc

import (
	"fmt"
	"maps"
	"slices"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// Config configures a Shell.
type Config[M Machine] struct {
	// Name is the process's name (unique in the world).
	Name string
	// New makes the machine of a new incarnation.
	New func(incarnation uint32) M
	// ZooKeeper configures the Kafka ZooKeeper layer each incarnation
	// starts with.
	ZooKeeper kafkazk.Config
	// APIs are the request kinds the process serves (rpc.Payload.Kind).
	APIs []string
	// Resolve maps a registered host name to its process; a Send to a host
	// it does not know fails with an RPCResult error.
	Resolve func(host string) (sim.ProcID, bool)
	// MaxInFlight gives each channel's in-flight bound (0: the rpc default).
	// Kafka's controller sends one request at a time per broker
	// (RequestSendThread waits for each response), as a replica fetcher does.
	MaxInFlight func(Channel) int
	// OnReport receives the machine's reports, in order.
	OnReport func(inc uint32, r Effect)
	// OnInput, if set, sees every input before the machine does (read-only).
	OnInput func(inc uint32, in Input)
	// OnExit runs after the shell carried out an Exit (the scenario may then
	// stop the process).
	OnExit func()
}

// Shell runs a Machine as a process: one incarnation at a time.
type Shell[M Machine] struct {
	w   *sim.World
	id  sim.ProcID
	cfg Config[M]
	cur *incarnation[M]
}

type chanKey struct {
	host string
	ch   Channel
}

type incarnation[M Machine] struct {
	number  uint32
	m       M
	zk      *kafkazk.Client
	server  *rpc.Server
	clients map[chanKey]*rpc.Client
	timers  map[TimerName]sim.TimerID
	pending map[Token]*rpc.Request
	token   Token
	exited  bool
}

// NewShell adds the process to w. Start it with Start from an event of the
// process (w.At(id, …, s.Start)); the kernel restarts it after a crash.
func NewShell[M Machine](w *sim.World, cfg Config[M]) *Shell[M] {
	if cfg.New == nil || cfg.Resolve == nil {
		panic("kproc: Config.New and Config.Resolve are required")
	}
	s := &Shell[M]{w: w, cfg: cfg}
	s.id = w.AddProcess(cfg.Name, sim.ProcessHooks{OnCrash: s.crash, OnRestart: s.Start})
	return s
}

// ID returns the process's id.
func (s *Shell[M]) ID() sim.ProcID { return s.id }

// Machine returns the current incarnation's machine, for read-only
// observation; ok is false while the process is down or has exited.
func (s *Shell[M]) Machine() (m M, ok bool) {
	if s.cur == nil || s.cur.exited {
		return m, false
	}
	return s.cur.m, true
}

// Incarnation returns the current incarnation's number (0 while down).
func (s *Shell[M]) Incarnation() uint32 {
	if s.cur == nil {
		return 0
	}
	return s.cur.number
}

// Session returns the ZooKeeper layer's state and session id (StateDead
// and 0 while the process is down or has exited).
func (s *Shell[M]) Session() (fakezk.State, int64) {
	if s.cur == nil || s.cur.exited {
		return fakezk.StateDead, 0
	}
	return s.cur.zk.State(), s.cur.zk.SessionID()
}

// Start starts an incarnation: a new machine, a new ZooKeeper layer, the
// rpc server, and Started with what the disk kept as the first input.
func (s *Shell[M]) Start() {
	if s.cur != nil {
		panic(fmt.Sprintf("kproc: %s started twice in incarnation %d", s.cfg.Name, s.cur.number))
	}
	n := s.w.Incarnation(s.id)
	inc := &incarnation[M]{
		number:  n,
		m:       s.cfg.New(n),
		clients: map[chanKey]*rpc.Client{},
		timers:  map[TimerName]sim.TimerID{},
		pending: map[Token]*rpc.Request{},
	}
	s.cur = inc
	inc.zk = kafkazk.New(s.w, s.id, s.cfg.ZooKeeper)
	inc.zk.RegisterStateChangeHandler(kafkazk.StateChangeHandler{
		Name:                      "kproc",
		BeforeInitializingSession: func() { s.feed(inc, ZKSessionPhase{Phase: BeforeInitializingSession}) },
		AfterInitializingSession:  func() { s.feed(inc, ZKSessionPhase{Phase: AfterInitializingSession}) },
	})
	inc.server = rpc.NewServer(s.w, s.id, rpc.ServerConfig{})
	for _, kind := range s.cfg.APIs {
		inc.server.Handle(kind, func(r *rpc.Request) {
			if s.cur != inc || inc.exited {
				return // the kernel drops a dead incarnation's events; an exited one answers nothing
			}
			inc.token++
			inc.pending[inc.token] = r
			s.feed(inc, RPCIn{Token: inc.token, From: r.Conn().Remote(), Req: r.Payload()})
		})
	}
	inc.server.Listen()
	d := s.w.Disk(s.id)
	files := map[string][]byte{}
	for _, name := range d.Files() {
		if data, ok := d.Read(name); ok {
			files[name] = data
		}
	}
	s.feed(inc, Started{Incarnation: n, Files: files})
}

// Shutdown asks the running incarnation to stop (the machine gets a
// Shutdown input). It must run as an event of the process.
func (s *Shell[M]) Shutdown() {
	if s.cur != nil {
		s.feed(s.cur, Shutdown{})
	}
}

// crash drops the incarnation: the kernel has dropped its events and
// connections already, and its clients are dead with it.
func (s *Shell[M]) crash() { s.cur = nil }

// feed steps inc's machine with in and carries out the effects.
func (s *Shell[M]) feed(inc *incarnation[M], in Input) {
	if s.cur != inc {
		panic(fmt.Sprintf("kproc: %s: input %v for a dead incarnation", s.cfg.Name, in))
	}
	if inc.exited {
		return // after Exit nothing more is stepped (late callbacks of what Exit closed)
	}
	if s.cfg.OnInput != nil {
		s.cfg.OnInput(inc.number, in)
	}
	for _, e := range inc.m.Step(s.w.Now(), in) {
		if inc.exited {
			panic(fmt.Sprintf("kproc: %s: effect %T after Exit", s.cfg.Name, e))
		}
		s.apply(inc, e)
	}
}

func (s *Shell[M]) apply(inc *incarnation[M], e Effect) {
	switch e := e.(type) {
	case ZKBatch:
		id := e.ID
		inc.zk.Handle(e.Reqs, func(resps []fakezk.Response) { s.feed(inc, ZKResult{Req: id, Resps: resps}) })
	case ZKHandler:
		s.handler(inc, e)
	case ZKRegister:
		id := e.ID
		inc.zk.CreateCheckedEphemeral(e.Path, e.Data, func(czxid int64, err error) {
			s.feed(inc, ZKRegistered{Req: id, Czxid: czxid, Err: err})
		})
	case Send:
		s.send(inc, e)
	case Reply:
		r, ok := inc.pending[e.Token]
		if !ok {
			panic(fmt.Sprintf("kproc: %s: reply to unknown request token %d", s.cfg.Name, e.Token))
		}
		delete(inc.pending, e.Token)
		r.Respond(e.Resp)
	case CloseChannel:
		k := chanKey{e.Host, e.Channel}
		if c := inc.clients[k]; c != nil {
			delete(inc.clients, k)
			c.Close()
		}
	case DiskAppend:
		s.w.Disk(s.id).Append(e.File, e.Data)
	case DiskWrite:
		s.w.Disk(s.id).Write(e.File, e.Data)
	case DiskTruncate:
		s.w.Disk(s.id).Truncate(e.File, e.Size)
	case DiskRemove:
		s.w.Disk(s.id).Remove(e.File)
	case DiskSync:
		id := e.ID
		done := func() { s.feed(inc, Synced{Req: id}) }
		if e.File == "" {
			s.w.Disk(s.id).SyncAll(done)
		} else {
			s.w.Disk(s.id).Sync(e.File, done)
		}
	case SetTimer:
		if t, ok := inc.timers[e.Name]; ok {
			s.w.Cancel(t)
		}
		name := e.Name
		inc.timers[name] = s.w.After(s.id, e.After, string(name), func() {
			delete(inc.timers, name)
			s.feed(inc, TimerFired{Name: name})
		})
	case CancelTimer:
		if t, ok := inc.timers[e.Name]; ok {
			s.w.Cancel(t)
			delete(inc.timers, e.Name)
		}
	case Exit:
		s.exit(inc)
	default:
		if t, ok := e.(Traced); ok && s.w.Tracing() {
			label, attrs := t.TraceRecord()
			s.w.Emit(t.TraceKind(), s.id, label, attrs...)
		}
		if s.cfg.OnReport != nil {
			s.cfg.OnReport(inc.number, e)
		}
	}
}

func (s *Shell[M]) handler(inc *incarnation[M], e ZKHandler) {
	path := e.Path
	switch {
	case e.Child && e.Remove:
		inc.zk.UnregisterZNodeChildChangeHandler(path)
	case e.Child:
		inc.zk.RegisterZNodeChildChangeHandler(kafkazk.ZNodeChildChangeHandler{
			Path:              path,
			HandleChildChange: func() { s.feed(inc, ZKChange{Path: path, Kind: ChildChange}) },
		})
	case e.Remove:
		inc.zk.UnregisterZNodeChangeHandler(path)
	default:
		inc.zk.RegisterZNodeChangeHandler(kafkazk.ZNodeChangeHandler{
			Path:             path,
			HandleCreation:   func() { s.feed(inc, ZKChange{Path: path, Kind: Creation}) },
			HandleDeletion:   func() { s.feed(inc, ZKChange{Path: path, Kind: Deletion}) },
			HandleDataChange: func() { s.feed(inc, ZKChange{Path: path, Kind: DataChange}) },
		})
	}
}

func (s *Shell[M]) send(inc *incarnation[M], e Send) {
	id := e.ID
	done := func(resp rpc.Payload, err error) { s.feed(inc, RPCResult{Req: id, Resp: resp, Err: err}) }
	k := chanKey{e.Host, e.Channel}
	c := inc.clients[k]
	if c == nil || c.Err() != nil {
		to, ok := s.cfg.Resolve(e.Host)
		if !ok {
			err := fmt.Errorf("kproc: unknown host %q", e.Host)
			s.w.After(s.id, 0, "rpc-unknown-host", func() { done(nil, err) })
			return
		}
		cc := rpc.ClientConfig{}
		if s.cfg.MaxInFlight != nil {
			cc.MaxInFlight = s.cfg.MaxInFlight(e.Channel)
		}
		c = rpc.Dial(s.w, s.id, to, cc)
		inc.clients[k] = c
	}
	if e.Timeout == 0 {
		c.Call(e.Req, done)
	} else {
		c.CallTimeout(e.Req, e.Timeout, done)
	}
}

// exit carries out Exit: the session closes (its ephemerals go now), every
// connection and timer goes, and the machine is stepped no more.
func (s *Shell[M]) exit(inc *incarnation[M]) {
	inc.exited = true
	inc.zk.Close()
	for _, k := range slices.SortedFunc(maps.Keys(inc.clients), func(a, b chanKey) int {
		if a.host != b.host {
			if a.host < b.host {
				return -1
			}
			return 1
		}
		return int(a.ch) - int(b.ch)
	}) {
		inc.clients[k].Close()
	}
	clear(inc.clients)
	for _, name := range slices.Sorted(maps.Keys(inc.timers)) {
		s.w.Cancel(inc.timers[name])
	}
	clear(inc.timers)
	if s.cfg.OnExit != nil {
		s.cfg.OnExit()
	}
}
