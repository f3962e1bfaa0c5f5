package kproc

import (
	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// Effect is one thing a machine wants done, returned by Machine.Step, in
// order. Types embedding Report are the machine's own reports, handed to
// Config.OnReport; the shell carries out the rest.
type Effect interface {
	isEffect()
}

// ZKBatch sends Reqs through the ZooKeeper layer, pipelined (kafkazk.Client.
// Handle); the answer comes as one ZKResult with ID. Reads must not carry
// watch callbacks: a read arms a watch when a ZKHandler of its path is
// registered.
type ZKBatch struct {
	ID   ReqID
	Reqs []fakezk.Request
}

// ZKHandler registers (or with Remove unregisters) a handler for Path:
// Child for a ZNodeChildChangeHandler (children reads arm it), otherwise a
// ZNodeChangeHandler (get and exists arm it). Its events come as ZKChange.
type ZKHandler struct {
	Path   string
	Child  bool
	Remove bool
}

// ZKRegister creates the ephemeral Path with Data the way Kafka registers
// a broker (kafkazk.Client.CreateCheckedEphemeral); the answer is a
// ZKRegistered with ID.
type ZKRegister struct {
	ID   ReqID
	Path string
	Data []byte
}

// Channel names a connection to a peer: Kafka keeps separate connections
// for the controller's requests, each replica fetcher, and clients.
type Channel uint8

// Channels.
const (
	ChannelController Channel = iota + 1 // ControllerChannelManager's RequestSendThread
	ChannelFetcher                       // a ReplicaFetcherThread
	ChannelClient                        // a producer, consumer or admin client
)

func (c Channel) String() string {
	switch c {
	case ChannelController:
		return "controller"
	case ChannelFetcher:
		return "fetcher"
	case ChannelClient:
		return "client"
	}
	return "channel(?)"
}

// Send sends Req to the broker at Host (as registered in ZooKeeper) on the
// channel's connection, dialling it if there is none; the outcome is an
// RPCResult with ID. Timeout 0 means the rpc default (request.timeout.ms,
// 30 s). A connection that broke is dialled again by the next Send.
type Send struct {
	ID      ReqID
	Host    string
	Channel Channel
	Req     rpc.Payload
	Timeout sim.Duration
}

// Reply answers the RPCIn with Token.
type Reply struct {
	Token Token
	Resp  rpc.Payload
}

// CloseChannel closes the connection to Host on Channel, failing what is
// pending on it (the controller removing a dead broker).
type CloseChannel struct {
	Host    string
	Channel Channel
}

// DiskAppend appends Data to File (sim.Disk.Append).
type DiskAppend struct {
	File string
	Data []byte
}

// DiskWrite replaces File's contents with Data (sim.Disk.Write): a
// checkpoint written whole.
type DiskWrite struct {
	File string
	Data []byte
}

// DiskTruncate cuts File to Size bytes.
type DiskTruncate struct {
	File string
	Size int
}

// DiskRemove deletes File.
type DiskRemove struct {
	File string
}

// DiskSync syncs File ("" for every file); its completion is Synced with ID.
type DiskSync struct {
	ID   ReqID
	File string
}

// SetTimer sets the timer Name to fire After from now, replacing it.
type SetTimer struct {
	Name  TimerName
	After sim.Duration
}

// CancelTimer cancels the timer Name, if set.
type CancelTimer struct {
	Name TimerName
}

// Exit ends the process cleanly: the shell closes its ZooKeeper session
// (so its ephemerals go at once, as a broker's clean shutdown does), its
// connections and its timers, and steps the machine no more in this
// incarnation.
type Exit struct{}

// Report marks a machine's own effect type (a role change, an applied
// request): embed it, and the shell hands values of that type to
// Config.OnReport.
type Report struct{}

// Traced is a report that goes into the trace: the shell writes it as a
// record of the process (sim.World.Emit) before handing it to OnReport, so
// narration and checks read typed fields, never text.
type Traced interface {
	Effect
	// TraceKind is the record's kind ("kafka.controller.elected").
	TraceKind() string
	// TraceRecord returns the record's label and attributes.
	TraceRecord() (label string, attrs []sim.Attr)
}

func (ZKBatch) isEffect()      {}
func (ZKHandler) isEffect()    {}
func (ZKRegister) isEffect()   {}
func (Send) isEffect()         {}
func (Reply) isEffect()        {}
func (CloseChannel) isEffect() {}
func (DiskAppend) isEffect()   {}
func (DiskWrite) isEffect()    {}
func (DiskTruncate) isEffect() {}
func (DiskRemove) isEffect()   {}
func (DiskSync) isEffect()     {}
func (SetTimer) isEffect()     {}
func (CancelTimer) isEffect()  {}
func (Exit) isEffect()         {}
func (Report) isEffect()       {}

// Machine is a Kafka process's logic: Step applies one input that happened
// at virtual time now and returns the effects, in order. It must be
// deterministic and must not call the kernel, ZooKeeper or the network.
// The returned slice belongs to the caller.
type Machine interface {
	Step(now sim.Time, in Input) []Effect
}
