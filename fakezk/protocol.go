package fakezk

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kzsim/kzsim/rpc"
)

// The messages a client and the server exchange, as payloads of the rpc
// layer over a sim connection: the handshake and every later request are rpc
// requests (ZooKeeper's xids are rpc's correlation ids), and watch events are
// rpc notifications (ZooKeeper's xid -1). They stand for ZooKeeper's jute
// packets; only their meaning is modelled, not their bytes (the one size
// rule, jute.maxbuffer, is checked with PacketTooLarge).

// opcode names a request type, with ZooKeeper's numbers.
type opcode int32

const (
	opCreate          opcode = 1
	opDelete          opcode = 2
	opExists          opcode = 3
	opGetData         opcode = 4
	opSetData         opcode = 5
	opGetACL          opcode = 6
	opSetACL          opcode = 7
	opSync            opcode = 9
	opPing            opcode = 11
	opGetChildren2    opcode = 12
	opMulti           opcode = 14
	opCreateContainer opcode = 19
	opCloseSession    opcode = -11
	opSetAuth         opcode = 100
	opSetWatches      opcode = 101
)

// ops lists every opcode, for the server's handlers.
var ops = []opcode{
	opCreate, opDelete, opExists, opGetData, opSetData, opGetACL, opSetACL, opSync, opPing,
	opGetChildren2, opMulti, opCreateContainer, opCloseSession, opSetAuth, opSetWatches,
}

func (o opcode) String() string {
	switch o {
	case opCreate:
		return "create"
	case opDelete:
		return "delete"
	case opExists:
		return "exists"
	case opGetData:
		return "getData"
	case opSetData:
		return "setData"
	case opGetACL:
		return "getACL"
	case opSetACL:
		return "setACL"
	case opSync:
		return "sync"
	case opPing:
		return "ping"
	case opGetChildren2:
		return "getChildren2"
	case opMulti:
		return "multi"
	case opCreateContainer:
		return "createContainer"
	case opCloseSession:
		return "closeSession"
	case opSetAuth:
		return "auth"
	case opSetWatches:
		return "setWatches"
	}
	return fmt.Sprintf("op(%d)", int32(o))
}

// isWrite reports whether the op is a transaction: it takes a zxid even when
// it fails (docs/ZOOKEEPER.md §5).
func (o opcode) isWrite() bool {
	switch o {
	case opCreate, opCreateContainer, opDelete, opSetData, opSetACL, opMulti, opCloseSession:
		return true
	}
	return false
}

// counted reports whether a request counts against the server's
// outstanding limit: those ZooKeeper sends with a positive xid (not ping,
// auth or setWatches, whose xids are negative, nor the handshake).
func (o opcode) counted() bool { return o != opPing && o != opSetAuth && o != opSetWatches }

// kindConnect is the rpc kind of the handshake; kindEvent that of a watch
// event. Every other request's kind is its opcode's name.
const (
	kindConnect = "connect"
	kindEvent   = "event"
)

// connectRequest opens or resumes a session: the first request on a
// connection.
type connectRequest struct {
	lastZxidSeen int64
	timeout      int32 // ms
	sessionID    int64
	passwd       [16]byte
}

func (m *connectRequest) Kind() string { return kindConnect }

func (m *connectRequest) String() string {
	return fmt.Sprintf("connect session=0x%x timeout=%dms lastZxid=0x%x", m.sessionID, m.timeout, m.lastZxidSeen)
}

// Clone copies the request (it holds no slices).
func (m *connectRequest) Clone() rpc.Payload { cp := *m; return &cp }

// connectResponse answers it; timeout 0 and session 0 mean the session is gone.
type connectResponse struct {
	timeout   int32
	sessionID int64
	passwd    [16]byte
}

func (m *connectResponse) Kind() string { return kindConnect }

func (m *connectResponse) String() string {
	return fmt.Sprintf("connected session=0x%x timeout=%dms", m.sessionID, m.timeout)
}

// Clone copies the response (it holds no slices).
func (m *connectResponse) Clone() rpc.Payload { cp := *m; return &cp }

// request is every request after the handshake.
type request struct {
	op      opcode
	flags   int32
	version int32
	watch   bool
	path    string
	data    []byte
	acl     []ACL
	ops     []Op         // multi
	session *sessionArgs // setWatches and auth only: kept out of line, for the size of the rest
}

// sessionArgs are the arguments of setWatches and auth.
type sessionArgs struct {
	relZxid               int64 // setWatches
	dataW, existW, childW []string
	authScheme            string // auth
	authData              []byte
}

func (m *request) Kind() string { return m.op.String() }

func (m *request) String() string {
	var b strings.Builder
	b.WriteString(m.op.String())
	if m.path != "" {
		b.WriteString(" " + m.path)
	}
	switch m.op {
	case opSetData, opDelete:
		fmt.Fprintf(&b, " v=%d", m.version)
	case opCreate, opCreateContainer:
		fmt.Fprintf(&b, " flags=%d", m.flags)
	case opMulti:
		fmt.Fprintf(&b, " ops=%d", len(m.ops))
	case opSetWatches:
		a := m.session
		fmt.Fprintf(&b, " rel=0x%x data=%v exist=%v child=%v", a.relZxid, a.dataW, a.existW, a.childW)
	case opSetAuth:
		b.WriteString(" " + m.session.authScheme)
	}
	if m.watch {
		b.WriteString(" watch")
	}
	return b.String()
}

// Clone returns the request itself: a request is immutable once sent. The
// client copies what it shared with its caller (data, ACLs, multi ops) before
// sending it (call.detach), and builds its own setWatches and auth
// arguments, and neither the client nor the server changes a request
// afterwards; so it shares no mutable memory with anyone, and the wire copy
// rpc asks for costs nothing (rpc.Payload allows this for an immutable
// payload).
func (m *request) Clone() rpc.Payload { return m }

// reply answers a request.
type reply struct {
	op   opcode // the request's
	zxid int64
	err  ErrCode // 0 for OK
	path string  // create, sync
	data []byte
	stat Stat
	more *replyLists // getChildren2, getACL and multi only: kept out of line, for the size of the rest
}

// replyLists are the lists a reply may carry.
type replyLists struct {
	children []string
	acl      []ACL
	multi    []MultiResponse
}

func (m *reply) children() []string {
	if m.more == nil {
		return nil
	}
	return m.more.children
}

func (m *reply) acl() []ACL {
	if m.more == nil {
		return nil
	}
	return m.more.acl
}

func (m *reply) multi() []MultiResponse {
	if m.more == nil {
		return nil
	}
	return m.more.multi
}

func (m *reply) Kind() string { return m.op.String() }

func (m *reply) String() string {
	s := fmt.Sprintf("reply zxid=0x%x", m.zxid)
	if m.err != 0 {
		s += " err=" + m.err.Error()
	}
	return s
}

// Clone copies the reply, so that what the client gets shares nothing with
// the server's tree.
func (m *reply) Clone() rpc.Payload {
	cp := *m
	cp.data = slices.Clone(m.data)
	if l := m.more; l != nil {
		cl := &replyLists{children: slices.Clone(l.children), acl: slices.Clone(l.acl), multi: slices.Clone(l.multi)}
		for i := range cl.multi {
			if st := cl.multi[i].Stat; st != nil {
				stc := *st
				cl.multi[i].Stat = &stc
			}
		}
		cp.more = cl
	}
	return &cp
}

// watchEvent is a watch firing, pushed to the client (ZooKeeper's
// WatcherEvent, xid -1).
type watchEvent struct {
	event EventType
	path  string
}

func (m *watchEvent) Kind() string { return kindEvent }

func (m *watchEvent) String() string { return fmt.Sprintf("event %s %s", m.event, m.path) }

// Clone copies the event (it holds no slices).
func (m *watchEvent) Clone() rpc.Payload { cp := *m; return &cp }

// cloneOp copies one multi op (a nil op stays nil, for the server to refuse).
func cloneOp(op Op) Op {
	switch o := op.(type) {
	case *CreateRequest:
		if o == nil {
			return o
		}
		return &CreateRequest{Path: o.Path, Data: slices.Clone(o.Data), Acl: slices.Clone(o.Acl), Flags: o.Flags}
	case *SetDataRequest:
		if o == nil {
			return o
		}
		return &SetDataRequest{Path: o.Path, Data: slices.Clone(o.Data), Version: o.Version}
	case *DeleteRequest:
		if o == nil {
			return o
		}
		cp := *o
		return &cp
	case *CheckVersionRequest:
		if o == nil {
			return o
		}
		cp := *o
		return &cp
	}
	return op
}
