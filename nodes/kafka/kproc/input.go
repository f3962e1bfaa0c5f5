package kproc

import (
	"fmt"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// Input is one thing that happened to a Kafka process, handed to
// Machine.Step. The set is closed: the types of this package.
type Input interface {
	isInput()
	fmt.Stringer
}

// ReqID names a request of the machine's (ZooKeeper batch, RPC, sync): the
// machine picks it, unique among its outstanding ones, and gets it back.
type ReqID uint64

// TimerName names a timer; setting a set timer resets it. Names are
// constant strings: they label the kernel event in the trace.
type TimerName string

// TimerFired says the timer Name, set and neither cancelled nor reset
// since, has fired.
type TimerFired struct {
	Name TimerName
}

// Started is the first input of every incarnation. Files are what the
// process's disk kept across the crash (everything, at the first start,
// that the scenario put there), by name; the machine owns the bytes.
type Started struct {
	Incarnation uint32
	Files       map[string][]byte
}

// ZKResult answers the ZKBatch with ID Req: one response per request, in
// request order. ConnectionLoss never appears (the layer retries it until
// connected); fakezk.ErrSessionExpired does when the session expired
// before the request could be sent again.
type ZKResult struct {
	Req   ReqID
	Resps []fakezk.Response
}

// ChangeKind says what a ZooKeeper handler heard.
type ChangeKind uint8

// Change kinds: Kafka's ZNodeChangeHandler and ZNodeChildChangeHandler
// methods.
const (
	Creation ChangeKind = iota + 1
	Deletion
	DataChange
	ChildChange
)

func (k ChangeKind) String() string {
	switch k {
	case Creation:
		return "creation"
	case Deletion:
		return "deletion"
	case DataChange:
		return "data-change"
	case ChildChange:
		return "child-change"
	}
	return "change(?)"
}

// ZKChange says a registered handler for Path heard Kind (a watch armed by
// a read of the path fired). The watch is gone: the next read of the path
// arms it again.
type ZKChange struct {
	Path string
	Kind ChangeKind
}

// Phase is a phase of the ZooKeeper layer's session re-initialisation.
type Phase uint8

// Phases, as Kafka's StateChangeHandler hears them.
const (
	// BeforeInitializingSession: the session expired; a new one is about to
	// be started. Ephemerals and watches of the old one are gone.
	BeforeInitializingSession Phase = iota + 1
	// AfterInitializingSession: the new session's handle exists (it may
	// still be connecting).
	AfterInitializingSession
)

func (p Phase) String() string {
	if p == BeforeInitializingSession {
		return "before-initializing-session"
	}
	return "after-initializing-session"
}

// ZKSessionPhase reports a phase of a re-initialisation after expiry.
type ZKSessionPhase struct {
	Phase Phase
}

// ZKRegistered answers a ZKRegister: the ephemeral's czxid (the broker
// epoch for /brokers/ids/<id>, KIP-380), or the error that made it fail.
type ZKRegistered struct {
	Req   ReqID
	Czxid int64
	Err   error
}

// Token names an RPC request the process received, to answer with Reply.
type Token uint64

// RPCIn is a request from a peer. The machine answers it with a Reply
// carrying Token, now or later; a request never answered is answered by
// nobody (the peer times out), so a machine answers every one.
type RPCIn struct {
	Token Token
	From  sim.ProcID
	Req   rpc.Payload
}

// RPCResult answers the Send with ID Req: the response, or an error
// (rpc.ErrTimeout, rpc.ErrConnection, a remote error).
type RPCResult struct {
	Req  ReqID
	Resp rpc.Payload
	Err  error
}

// Synced says the DiskSync with ID Req completed.
type Synced struct {
	Req ReqID
}

// Shutdown is the operator asking the process to stop (SIGTERM): a broker
// shuts down in a controlled way and then emits Exit.
type Shutdown struct{}

func (Shutdown) isInput()       {}
func (Shutdown) String() string { return "shutdown" }

func (Started) isInput()        {}
func (ZKResult) isInput()       {}
func (ZKChange) isInput()       {}
func (ZKSessionPhase) isInput() {}
func (ZKRegistered) isInput()   {}
func (RPCIn) isInput()          {}
func (RPCResult) isInput()      {}
func (Synced) isInput()         {}
func (TimerFired) isInput()     {}

func (in Started) String() string {
	return fmt.Sprintf("started incarnation=%d files=%d", in.Incarnation, len(in.Files))
}
func (in ZKResult) String() string {
	return fmt.Sprintf("zk-result %d responses=%d", in.Req, len(in.Resps))
}
func (in ZKChange) String() string       { return fmt.Sprintf("zk-change %s %s", in.Kind, in.Path) }
func (in ZKSessionPhase) String() string { return "zk-session " + in.Phase.String() }
func (in ZKRegistered) String() string {
	if in.Err != nil {
		return fmt.Sprintf("zk-registered %d err=%v", in.Req, in.Err)
	}
	return fmt.Sprintf("zk-registered %d czxid=0x%x", in.Req, in.Czxid)
}
func (in RPCIn) String() string {
	return fmt.Sprintf("rpc-in %d %s %s", in.Token, in.Req.Kind(), in.Req)
}
func (in RPCResult) String() string {
	if in.Err != nil {
		return fmt.Sprintf("rpc-result %d err=%v", in.Req, in.Err)
	}
	return fmt.Sprintf("rpc-result %d %s %s", in.Req, in.Resp.Kind(), in.Resp)
}
func (in Synced) String() string     { return fmt.Sprintf("synced %d", in.Req) }
func (in TimerFired) String() string { return "timer-fired " + string(in.Name) }
