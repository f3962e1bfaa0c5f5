package fakezk

import (
	"fmt"
	"slices"
	"strings"
)

// The messages a client and the server exchange over a sim connection. They
// stand for ZooKeeper's jute packets; only their meaning is modelled, not
// their bytes (the one size rule, jute.maxbuffer, is checked with
// PacketTooLarge).

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

var opNames = map[opcode]string{
	opCreate: "create", opDelete: "delete", opExists: "exists", opGetData: "getData",
	opSetData: "setData", opGetACL: "getACL", opSetACL: "setACL", opSync: "sync", opPing: "ping",
	opGetChildren2: "getChildren2", opMulti: "multi", opCreateContainer: "createContainer",
	opCloseSession: "closeSession", opSetAuth: "auth", opSetWatches: "setWatches",
}

func (o opcode) String() string {
	if s, ok := opNames[o]; ok {
		return s
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

// Special xids, as ZooKeeper uses them.
const (
	xidWatchEvent int32 = -1
	xidPing       int32 = -2
	xidAuth       int32 = -4
	xidSetWatches int32 = -8
)

// connectRequest opens or resumes a session.
type connectRequest struct {
	lastZxidSeen int64
	timeout      int32 // ms
	sessionID    int64
	passwd       [16]byte
}

func (m *connectRequest) String() string {
	return fmt.Sprintf("connect session=0x%x timeout=%dms lastZxid=0x%x", m.sessionID, m.timeout, m.lastZxidSeen)
}

// connectResponse answers it; timeout 0 and session 0 mean the session is gone.
type connectResponse struct {
	timeout   int32
	sessionID int64
	passwd    [16]byte
}

func (m *connectResponse) String() string {
	return fmt.Sprintf("connected session=0x%x timeout=%dms", m.sessionID, m.timeout)
}

// request is every request after the handshake.
type request struct {
	xid     int32
	op      opcode
	path    string
	data    []byte
	acl     []ACL
	flags   int32
	version int32
	watch   bool
	ops     []Op // multi
	// setWatches
	relZxid               int64
	dataW, existW, childW []string
	authScheme            string
	authData              []byte
}

func (m *request) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "req xid=%d %s", m.xid, m.op)
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
		fmt.Fprintf(&b, " rel=0x%x data=%v exist=%v child=%v", m.relZxid, m.dataW, m.existW, m.childW)
	case opSetAuth:
		b.WriteString(" " + m.authScheme)
	}
	if m.watch {
		b.WriteString(" watch")
	}
	return b.String()
}

// reply answers a request (xid matches) or is a watch event (xid -1).
type reply struct {
	xid      int32
	zxid     int64
	err      ErrCode // 0 for OK
	path     string  // create, sync
	data     []byte
	stat     Stat
	children []string
	acl      []ACL
	multi    []MultiResponse
	// watch events
	event EventType
}

func (m *reply) String() string {
	if m.xid == xidWatchEvent {
		return fmt.Sprintf("event %s %s", m.event, m.path)
	}
	s := fmt.Sprintf("reply xid=%d zxid=0x%x", m.xid, m.zxid)
	if m.err != 0 {
		s += " err=" + m.err.Error()
	}
	return s
}

// detach copies, in place, what a request shares with its caller (data,
// ACLs, multi ops), as a wire would: what the caller changes later does not
// reach the server.
func (m *request) detach() {
	m.data = slices.Clone(m.data)
	m.acl = slices.Clone(m.acl)
	m.authData = slices.Clone(m.authData)
	if m.ops != nil {
		ops := make([]Op, len(m.ops))
		for i, op := range m.ops {
			ops[i] = cloneOp(op)
		}
		m.ops = ops
	}
}

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
