package zkconform

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/sim"
)

// FakeConfig configures FakeTarget. Its defaults mirror the real server the
// conformance script starts (tickTime=200) and RealTarget's session timeout.
type FakeConfig struct {
	Seed           uint64
	TickTime       sim.Duration
	SessionTimeout sim.Duration
	// Settle is how long Events lets the simulated world run so that
	// everything already sent has arrived.
	Settle sim.Duration
	// OpLimit bounds the virtual time one operation may take.
	OpLimit sim.Duration
	// ReconnectDelay is the clients' pause before redialling. RealTarget's
	// go-zk redials at once (its host provider never asks for go-zk's
	// 1 s back-off), so this is small: a short disconnect must stay well
	// under the session timeout.
	ReconnectDelay sim.Duration
}

// DefaultFakeConfig returns the configuration matching the real server.
func DefaultFakeConfig() FakeConfig {
	return FakeConfig{
		Seed:           1,
		TickTime:       200 * sim.Millisecond,
		SessionTimeout: sim.Duration(DefaultSessionTimeout),
		Settle:         20 * sim.Millisecond,
		OpLimit:        60 * sim.Second,
		ReconnectDelay: 10 * sim.Millisecond,
	}
}

// FakeTarget runs sequences against fakezk over the simulated kernel: one
// world per target, a server process and one client process per logical
// session, driven synchronously by running the world until each operation's
// callback has fired.
type FakeTarget struct {
	cfg     FakeConfig
	root    string
	w       *sim.World
	srv     *fakezk.Server
	clients []*fakeClient
}

type fakeClient struct {
	proc   sim.ProcID
	zk     *fakezk.Client
	closed bool // by Close; the next step opens a new session
	events []Event
}

// NewFakeTarget returns a FakeTarget with cfg (zero fields: defaults).
func NewFakeTarget(cfg FakeConfig) *FakeTarget {
	d := DefaultFakeConfig()
	if cfg.TickTime == 0 {
		cfg.TickTime = d.TickTime
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = d.SessionTimeout
	}
	if cfg.Settle == 0 {
		cfg.Settle = d.Settle
	}
	if cfg.OpLimit == 0 {
		cfg.OpLimit = d.OpLimit
	}
	if cfg.ReconnectDelay == 0 {
		cfg.ReconnectDelay = d.ReconnectDelay
	}
	return &FakeTarget{cfg: cfg}
}

// Open implements Target.
func (f *FakeTarget) Open(root string, sessions int) error {
	f.root = root
	f.w = sim.New(sim.Options{Seed: f.cfg.Seed, Latency: sim.Fixed(100 * sim.Microsecond), Trace: sim.TraceOff})
	f.srv = fakezk.NewServer(f.w, "zk", fakezk.ServerConfig{TickTime: f.cfg.TickTime})
	f.clients = make([]*fakeClient, sessions)
	for i := range f.clients {
		fc := &fakeClient{proc: f.w.AddProcess(fmt.Sprintf("s%d", i), sim.ProcessHooks{})}
		f.clients[i] = fc
		if err := f.connect(fc); err != nil {
			return err
		}
	}
	// Create root and its ancestors, as persistent nodes with nil data.
	for i := 1; i <= len(root); i++ {
		if i < len(root) && root[i] != '/' {
			continue
		}
		var err error
		if ok := f.await(func(done func()) {
			f.clients[0].zk.Create(root[:i], nil, 0, fakezk.WorldACL(fakezk.PermAll), func(_ string, e error) { err = e; done() })
		}); !ok {
			return fmt.Errorf("creating %s timed out", root[:i])
		}
		if err != nil && !errors.Is(err, fakezk.ErrNodeExists) {
			return fmt.Errorf("creating %s: %w", root[:i], err)
		}
	}
	return nil
}

func (f *FakeTarget) connect(fc *fakeClient) error {
	fc.zk = fakezk.Connect(f.w, fc.proc, []sim.ProcID{f.srv.ID()}, fakezk.ClientConfig{
		SessionTimeout: f.cfg.SessionTimeout,
		ReconnectDelay: f.cfg.ReconnectDelay,
		EventCallback:  func(ev fakezk.Event) { fc.events = append(fc.events, fakeEvent(ev)) },
	})
	if !f.runUntil(func() bool { return fc.zk.State() == fakezk.StateHasSession }) {
		return fmt.Errorf("no session within %v", f.cfg.OpLimit)
	}
	return nil
}

// runUntil steps the world until cond holds or OpLimit of virtual time passed.
func (f *FakeTarget) runUntil(cond func() bool) bool {
	deadline := f.w.Now().Add(f.cfg.OpLimit)
	for !cond() {
		if f.w.Now() > deadline || !f.w.Step() {
			return cond()
		}
	}
	return true
}

func (f *FakeTarget) await(start func(done func())) bool {
	finished := false
	start(func() { finished = true })
	return f.runUntil(func() bool { return finished })
}

// Do implements Target.
func (f *FakeTarget) Do(session int, s Step) Outcome {
	fc, err := f.open(session)
	if err != nil {
		return Outcome{Harness: "reopen: " + err.Error()}
	}
	var out Outcome
	path := FullPath(f.root, s.Path)
	zk := fc.zk
	ok := f.await(func(done func()) {
		switch s.Op {
		case OpCreate, OpCreateContainer:
			cb := func(p string, err error) { out.Path, out.Err = p, fakeCode(err); done() }
			if s.Op == OpCreate {
				zk.Create(path, s.Data, s.Flags, fakeACL(s.ACL), cb)
			} else {
				zk.CreateContainer(path, s.Data, s.Flags, fakeACL(s.ACL), cb)
			}
		case OpGet:
			cb := func(d []byte, st *fakezk.Stat, err error) {
				out.Data, out.Stat, out.Err = d, fakeStat(st), fakeCode(err)
				done()
			}
			if s.Watch {
				zk.GetW(path, cb, nil)
			} else {
				zk.Get(path, cb)
			}
		case OpSet:
			zk.Set(path, s.Data, s.Version, func(st *fakezk.Stat, err error) {
				out.Stat, out.Err = fakeStat(st), fakeCode(err)
				done()
			})
		case OpDelete:
			zk.Delete(path, s.Version, func(err error) { out.Err = fakeCode(err); done() })
		case OpExists:
			cb := func(ok bool, st *fakezk.Stat, err error) {
				out.Exists, out.Err = ok, fakeCode(err)
				if ok {
					out.Stat = fakeStat(st)
				}
				done()
			}
			if s.Watch {
				zk.ExistsW(path, cb, nil)
			} else {
				zk.Exists(path, cb)
			}
		case OpChildren:
			cb := func(kids []string, st *fakezk.Stat, err error) {
				out.Children, out.Stat, out.Err = kids, fakeStat(st), fakeCode(err)
				done()
			}
			if s.Watch {
				zk.ChildrenW(path, cb, nil)
			} else {
				zk.Children(path, cb)
			}
		case OpSync:
			zk.Sync(path, func(p string, err error) { out.Path, out.Err = p, fakeCode(err); done() })
		case OpAddAuth:
			zk.AddAuth("digest", []byte(s.Auth), func(err error) { out.Err = fakeCode(err); done() })
		case OpGetACL:
			zk.GetACL(path, func(acl []fakezk.ACL, st *fakezk.Stat, err error) {
				for _, a := range acl {
					out.ACL = append(out.ACL, ACL{Perms: a.Perms, Scheme: a.Scheme, ID: a.ID})
				}
				out.Stat, out.Err = fakeStat(st), fakeCode(err)
				done()
			})
		case OpSetACL:
			zk.SetACL(path, fakeACL(s.ACL), s.Version, func(st *fakezk.Stat, err error) {
				out.Stat, out.Err = fakeStat(st), fakeCode(err)
				done()
			})
		case OpMulti:
			ops := make([]fakezk.Op, len(s.Ops))
			for i, m := range s.Ops {
				switch m.Op {
				case OpCreate:
					ops[i] = &fakezk.CreateRequest{Path: FullPath(f.root, m.Path), Data: m.Data, Acl: fakeACL(m.ACL), Flags: m.Flags}
				case OpSet:
					ops[i] = &fakezk.SetDataRequest{Path: FullPath(f.root, m.Path), Data: m.Data, Version: m.Version}
				case OpDelete:
					ops[i] = &fakezk.DeleteRequest{Path: FullPath(f.root, m.Path), Version: m.Version}
				case OpCheck:
					ops[i] = &fakezk.CheckVersionRequest{Path: FullPath(f.root, m.Path), Version: m.Version}
				}
			}
			zk.Multi(ops, func(res []fakezk.MultiResponse, err error) {
				out.Err = fakeCode(err)
				for _, r := range res {
					out.Multi = append(out.Multi, MultiResult{Err: fakeCode(r.Error), Path: r.String, Stat: fakeStat(r.Stat)})
				}
				done()
			})
		default:
			out.Harness = "fake target cannot do " + string(s.Op)
			done()
		}
	})
	if !ok {
		return Outcome{Harness: fmt.Sprintf("%s did not complete within %v", s.Op, f.cfg.OpLimit)}
	}
	if out.Err != CodeOK && s.Op != OpMulti {
		// Only the error matters on failure (go-zk's zero stats are not compared).
		out = Outcome{Err: out.Err}
	}
	return out
}

// open returns the logical session's client, first opening a new session
// for it if Close ended the last one.
func (f *FakeTarget) open(session int) (*fakeClient, error) {
	fc := f.clients[session]
	if fc.closed {
		fc.closed = false
		if err := f.connect(fc); err != nil {
			return nil, err
		}
	}
	return fc, nil
}

// Expire implements Target: the server expires the session at once; the
// client learns on reconnecting and opens a new session.
func (f *FakeTarget) Expire(session int) error {
	fc, err := f.open(session)
	if err != nil {
		return err
	}
	old := fc.zk.SessionID()
	// As RealTarget does with its gate: cut the client off first, so the
	// server expires a session whose connection is already gone.
	f.w.Partition([]sim.ProcID{fc.proc}, []sim.ProcID{f.srv.ID()})
	expired := old != 0 && f.srv.Expire(old)
	f.w.HealAll()
	if !expired {
		return fmt.Errorf("session s%d has no live server session", session)
	}
	if !f.runUntil(func() bool {
		return fc.zk.State() == fakezk.StateHasSession && fc.zk.SessionID() != old && fc.zk.SessionID() != 0
	}) {
		return fmt.Errorf("no new session within %v of the expiry", f.cfg.OpLimit)
	}
	return nil
}

// Disconnect implements Target: the client's connection drops (the server
// sees it close, as a real server sees the FIN of the socket RealTarget
// closes), then a partition between client and server holds back its
// redials.
func (f *FakeTarget) Disconnect(session int) error {
	fc, err := f.open(session)
	if err != nil {
		return err
	}
	id := fc.zk.SessionID()
	fc.zk.DropConnection()
	if !f.runUntil(func() bool { return !f.connected(id) }) {
		return fmt.Errorf("the server still sees session 0x%x connected", id)
	}
	f.w.Partition([]sim.ProcID{fc.proc}, []sim.ProcID{f.srv.ID()})
	return nil
}

// connected reports whether the server has a connection for the session.
func (f *FakeTarget) connected(id int64) bool {
	for _, s := range f.srv.Sessions() {
		if s.ID == id {
			return s.Connected
		}
	}
	return false
}

// Reconnect implements Target: heal the partition and run until the client
// has its session back; its setWatches went out in the handshake, so the
// next Events sees what the server answered.
func (f *FakeTarget) Reconnect(session int) error {
	fc := f.clients[session]
	id := fc.zk.SessionID()
	f.w.HealAll()
	if !f.runUntil(func() bool { return fc.zk.State() == fakezk.StateHasSession || fc.zk.SessionID() != id }) {
		return fmt.Errorf("no session within %v of healing", f.cfg.OpLimit)
	}
	if fc.zk.SessionID() != id {
		return fmt.Errorf("session 0x%x expired during a short disconnect", id)
	}
	return nil
}

// Close implements Target.
func (f *FakeTarget) Close(session int) error {
	fc := f.clients[session]
	if fc.closed {
		return nil // already closed: nothing to do, as for go-zk
	}
	fc.closed = true
	id := fc.zk.SessionID()
	fc.zk.Close()
	if !f.runUntil(func() bool { return !f.srv.SessionAlive(id) }) {
		return fmt.Errorf("the server still has session 0x%x", id)
	}
	// What the closed client reports afterwards (Disconnected, NotWatching
	// with ErrClosing) is not the logical session's news: RealTarget drops it too.
	f.w.RunFor(f.cfg.Settle)
	fc.events = nil
	return nil
}

// Events implements Target.
func (f *FakeTarget) Events(session int) []Event {
	f.w.RunFor(f.cfg.Settle)
	fc := f.clients[session]
	evs := fc.events
	fc.events = nil
	return evs
}

// SessionID implements Target.
func (f *FakeTarget) SessionID(session int) int64 {
	if session >= len(f.clients) || f.clients[session].zk == nil || f.clients[session].closed {
		return 0
	}
	return f.clients[session].zk.SessionID()
}

// Shutdown implements Target.
func (f *FakeTarget) Shutdown() {
	for _, fc := range f.clients {
		if fc != nil && fc.zk != nil {
			fc.zk.Close()
		}
	}
}

// fakeACL is ACLSpec(name) for fakezk.
func fakeACL(name string) []fakezk.ACL {
	spec := ACLSpec(name)
	out := make([]fakezk.ACL, len(spec))
	for i, a := range spec {
		out[i] = fakezk.ACL{Perms: a.Perms, Scheme: a.Scheme, ID: a.ID}
	}
	return out
}

func fakeStat(st *fakezk.Stat) *Stat {
	if st == nil {
		return nil
	}
	s := Stat(*st)
	return &s
}

func fakeCode(err error) Code {
	if err == nil {
		return CodeOK
	}
	var code fakezk.ErrCode
	if errors.As(err, &code) {
		switch code {
		case fakezk.ErrNoNode:
			return CodeNoNode
		case fakezk.ErrNodeExists:
			return CodeNodeExists
		case fakezk.ErrBadVersion:
			return CodeBadVersion
		case fakezk.ErrNotEmpty:
			return CodeNotEmpty
		case fakezk.ErrNoChildrenForEphemerals:
			return CodeNoChildrenForEphemerals
		case fakezk.ErrNoAuth:
			return CodeNoAuth
		case fakezk.ErrInvalidACL:
			return CodeInvalidACL
		case fakezk.ErrBadArguments:
			return CodeBadArguments
		case fakezk.ErrAPIError:
			return CodeAPIError
		case fakezk.ErrSessionExpired:
			return CodeSessionExpired
		case fakezk.ErrSessionMoved:
			return CodeSessionMoved
		case fakezk.ErrAuthFailed:
			return CodeAuthFailed
		}
		if c, ok := serverCodes[int(code)]; ok {
			return c
		}
		return Code(fmt.Sprintf("Code(%d)", int32(code)))
	}
	switch {
	case errors.Is(err, fakezk.ErrInvalidPath):
		return CodeInvalidPath
	case errors.Is(err, fakezk.ErrInvalidFlags):
		return CodeInvalidFlags
	case errors.Is(err, fakezk.ErrConnectionClosed):
		return CodeConnectionClosed
	case errors.Is(err, fakezk.ErrClosing):
		return CodeClosing
	case errors.Is(err, fakezk.ErrNoServer):
		return CodeNoServer
	case strings.HasPrefix(err.Error(), "invalid flag value"):
		return CodeInvalidFlagValue
	}
	return Code("Other: " + err.Error())
}

func fakeEvent(ev fakezk.Event) Event {
	out := Event{Path: ev.Path}
	switch ev.Type {
	case fakezk.EventNodeCreated:
		out.Type = EventNodeCreated
	case fakezk.EventNodeDeleted:
		out.Type = EventNodeDeleted
	case fakezk.EventNodeDataChanged:
		out.Type = EventNodeDataChanged
	case fakezk.EventNodeChildrenChanged:
		out.Type = EventNodeChildrenChanged
	case fakezk.EventNotWatching:
		out.Type = EventNotWatching
		out.Err = fakeCode(ev.Err)
	case fakezk.EventSession:
		out.Type = EventSession
		out.State = strings.TrimPrefix(ev.State.String(), "State")
	}
	return out
}
