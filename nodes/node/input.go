package node

import (
	"fmt"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/sim"
)

// Input is one thing that happened to a process, handed to Machine.Step.
// The set is closed: the types below.
type Input interface {
	isInput()
	fmt.Stringer
}

// Restarted is the first input of every incarnation, the first start
// included (Incarnation 1). The machine it goes to is brand new: nothing
// of an earlier incarnation survives except what comes in it.
type Restarted struct {
	Incarnation uint32
}

// ZKReply is the answer to the ZKRequest with ID Req. An ErrConnectionClosed
// (ConnectionLoss in the Java client's mode) means the outcome is unknown,
// not that the request failed: a create may have been applied.
type ZKReply struct {
	Req  ReqID
	Resp fakezk.Response
}

// ZKWatch is an event of the one-shot watch that the read Req set (a
// ZKRequest with Watch). A watch is set by a read whose reply has no error
// (an exists of a missing node included) and gives exactly one event: the
// change, or EventNotWatching when the client stops watching (the session
// expired, the client closed).
type ZKWatch struct {
	Req   ReqID
	Event fakezk.Event
}

// ZKSession is a change of the client's session state, as the client's
// event callback reports it. Session is the session id at that moment (0
// without one). A Session that differs from the one the machine knew is a
// new session: ephemerals and watches of the old one are gone.
type ZKSession struct {
	State   fakezk.State
	Session int64
}

// TimerFired says the timer Name, set with SetTimer and neither cancelled
// nor reset since, has fired.
type TimerFired struct {
	Name TimerName
}

// Command is an instruction to the process from outside its ZooKeeper
// world, carried as data: a client's request or an operator's action that a
// scenario drives (a producer's first message to a topic, say), until the
// RPC layer carries such requests. Value is of a type the machine defines;
// a machine panics on a Value it does not know. A shell delivers it with
// Shell.Command.
type Command struct {
	Value fmt.Stringer
}

func (Restarted) isInput()  {}
func (ZKReply) isInput()    {}
func (ZKWatch) isInput()    {}
func (ZKSession) isInput()  {}
func (TimerFired) isInput() {}
func (Command) isInput()    {}

func (in Restarted) String() string { return fmt.Sprintf("restarted incarnation=%d", in.Incarnation) }

func (in ZKReply) String() string {
	r := in.Resp
	s := fmt.Sprintf("zk-reply %d", in.Req)
	if r.Err != nil {
		return s + " err=" + r.Err.Error()
	}
	if r.Path != "" {
		s += " path=" + r.Path
	}
	if r.Stat != nil {
		s += fmt.Sprintf(" owner=0x%x version=%d", r.Stat.EphemeralOwner, r.Stat.Version)
	}
	return s
}

func (in ZKWatch) String() string {
	s := fmt.Sprintf("zk-watch %d %s", in.Req, in.Event.Type)
	if in.Event.Path != "" {
		s += " " + in.Event.Path
	}
	return s
}

func (in ZKSession) String() string {
	return fmt.Sprintf("zk-session %s 0x%x", in.State, in.Session)
}

func (in TimerFired) String() string { return "timer-fired " + string(in.Name) }

func (in Command) String() string { return "command " + in.Value.String() }

// Machine is a process's logic. Step applies one input that happened at
// virtual time now and returns the effects, in the order they are to be
// carried out. Step must be deterministic and must not call the kernel,
// the ZooKeeper client or the network; it may panic on an input its
// invariants say cannot happen. The returned slice belongs to the caller.
type Machine interface {
	Step(now sim.Time, in Input) []Effect
}
