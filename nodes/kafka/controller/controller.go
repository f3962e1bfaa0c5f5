package controller

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/config"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/sim"
)

// IDBit is set in every ReqID the controller allocates, so that the broker
// hosting it can route ZKResult, RPCResult and Synced inputs by id.
const IDBit kproc.ReqID = 1 << 62

// TimerPrefix starts the name of every timer the controller sets.
const TimerPrefix = "controller/"

// Timer names.
const (
	timerCPU       kproc.TimerName = TimerPrefix + "cpu"
	timerRebalance kproc.TimerName = TimerPrefix + "auto-rebalance"
)

// maxQueue bounds the event queue: Kafka's is unbounded, but a simulation
// that queues this many events has a bug, and says so.
const maxQueue = 1 << 20

// Config configures a Controller.
type Config struct {
	// BrokerID is the id of the broker hosting the controller.
	BrokerID int32
	// Kafka is the cluster's settings and era features.
	Kafka config.Config
	// Costs is the processing time of the event thread.
	Costs config.Costs
	// Buggify, if set, is asked at fault sites whether to misbehave (FoundationDB
	// BUGGIFY); sites: "controller/slow-event" (an event costs 1 ms more).
	Buggify func(site string) bool
}

// Controller is one broker's controller module.
type Controller struct {
	cfg  Config
	feat config.Features
	now  sim.Time
	out  []kproc.Effect

	nextID kproc.ReqID

	// The event thread.
	queue   []*event // FIFO; queue[qhead:] is pending
	qhead   int
	running *event  // the event being processed, nil between events
	zkWait  *zkCall // the ZooKeeper call the running event waits on
	cost    sim.Duration
	cpuBusy bool
	held    []held // effects and sender hand-offs waiting for the CPU timer

	brokerEpoch int64
	started     bool

	// Role (KafkaController.activeControllerId, ControllerContext.epoch).
	activeID       int32
	epoch          int32
	epochZkVersion int32

	ctx      *context
	batch    requestBatch
	senders  map[int32]*sender
	inflight map[kproc.ReqID]int32 // RPC id → broker
	handlers []kproc.ZKHandler     // registered while active, to unregister on resignation
}

// held is an effect or a request hand-off deferred behind the CPU timer.
type held struct {
	eff kproc.Effect
	req *queuedReq
}

// New returns the controller of broker cfg.BrokerID, inactive until
// Startup.
func New(cfg Config) *Controller {
	if cfg.BrokerID < 0 {
		panic(fmt.Sprintf("controller: broker id %d must not be negative", cfg.BrokerID))
	}
	c := &Controller{
		cfg:      cfg,
		feat:     cfg.Kafka.Features,
		activeID: -1,
		senders:  map[int32]*sender{},
		inflight: map[kproc.ReqID]int32{},
	}
	c.ctx = newContext()
	return c
}

// IsActive reports whether this broker is the active controller.
func (c *Controller) IsActive() bool { return c.activeID == c.cfg.BrokerID }

// View is what checks and the hosting broker may read of the controller.
type View struct {
	BrokerID           int32
	IsActive           bool
	ActiveControllerID int32 // -1 when unknown
	Epoch              int32 // the epoch it won, or last held (0: never)
	EpochZkVersion     int32
	Partitions         int // partitions in the context
	OfflinePartitions  int // partitions in OfflinePartition or NewPartition state
	LiveBrokers        int
	ShuttingDown       int
	QueueLen           int  // events waiting, not counting the one running
	Busy               bool // an event is running (waiting on ZooKeeper or the CPU)
}

// View returns the current summary; it copies nothing per partition.
func (c *Controller) View() View {
	return View{
		BrokerID:           c.cfg.BrokerID,
		IsActive:           c.IsActive(),
		ActiveControllerID: c.activeID,
		Epoch:              c.epoch,
		EpochZkVersion:     c.epochZkVersion,
		Partitions:         c.ctx.livePartitions,
		OfflinePartitions:  c.ctx.offlineCount,
		LiveBrokers:        len(c.ctx.liveIDs),
		ShuttingDown:       len(c.ctx.shuttingDown),
		QueueLen:           len(c.queue) - c.qhead,
		Busy:               c.running != nil || c.cpuBusy,
	}
}

// Startup starts the controller module once the broker has registered
// with brokerEpoch (KafkaController.startup: the state-change handler is
// the broker's routing of ZKSessionPhase; the /controller handler is
// registered now; Startup is enqueued).
func (c *Controller) Startup(now sim.Time, brokerEpoch int64) []kproc.Effect {
	if c.started {
		panic("controller: Startup called twice")
	}
	c.started = true
	c.now, c.out = now, nil
	c.brokerEpoch = brokerEpoch
	c.out = append(c.out, kproc.ZKHandler{Path: kafkazk.ControllerPath})
	c.enqueue(&event{name: "Startup", run: c.processStartup})
	c.pump()
	return c.take()
}

// Reelect is called by the broker after it re-registered with a new
// session (brokerEpoch): Kafka 2.6's RegisterBrokerAndReelect without the
// registration, that is maybeResign then elect.
func (c *Controller) Reelect(now sim.Time, brokerEpoch int64) []kproc.Effect {
	if !c.started {
		panic("controller: Reelect before Startup")
	}
	c.now, c.out = now, nil
	c.brokerEpoch = brokerEpoch
	c.enqueue(&event{name: "RegisterBrokerAndReelect", run: func() { c.maybeResign(c.elect) }})
	c.pump()
	return c.take()
}

// Step applies one input routed to the controller and returns the effects.
func (c *Controller) Step(now sim.Time, in kproc.Input) []kproc.Effect {
	c.now, c.out = now, nil
	switch in := in.(type) {
	case kproc.ZKResult:
		c.zkResult(in)
	case kproc.ZKChange:
		c.zkChange(in)
	case kproc.ZKSessionPhase:
		if in.Phase == kproc.BeforeInitializingSession {
			c.expire()
		}
	case kproc.RPCResult:
		c.rpcResult(in)
	case kproc.Synced, kproc.ZKRegistered:
		// The controller syncs and registers nothing; a stray id is ignored.
	case kproc.TimerFired:
		c.timer(in.Name)
	case kproc.RPCIn:
		req, ok := in.Req.(*proto.ControlledShutdownRequest)
		if !ok {
			panic(fmt.Sprintf("controller: RPCIn of kind %s routed to the controller", in.Req.Kind()))
		}
		c.enqueue(&event{name: "ControlledShutdown", run: func() { c.processControlledShutdown(in.Token, req) },
			preempt: func() { c.replyShutdown(in.Token, req.BrokerID, proto.NotController, nil) }})
	default:
		panic(fmt.Sprintf("controller: input %T routed to the controller", in))
	}
	c.pump()
	return c.take()
}

func (c *Controller) take() []kproc.Effect {
	out := c.out
	c.out = nil
	return out
}

func (c *Controller) newID() kproc.ReqID {
	c.nextID++
	return IDBit | c.nextID
}

// emit appends an effect of the event thread: held behind the CPU timer
// when work is pending, otherwise it goes out with this step.
func (c *Controller) emit(e kproc.Effect) { c.held = append(c.held, held{eff: e}) }

// report is emit for reports.
func (c *Controller) report(e kproc.Effect) { c.emit(e) }

// event is one ControllerEvent: run starts it; preempt, if set, is what
// Kafka's ControllerEvent.preempt does when the queue is cleared.
type event struct {
	name    string
	run     func()
	preempt func()
}

func (c *Controller) enqueue(e *event) {
	if len(c.queue)-c.qhead >= maxQueue {
		panic(fmt.Sprintf("controller: event queue over %d events", maxQueue))
	}
	c.queue = append(c.queue, e)
}

// pump runs events while the thread is free: not waiting on ZooKeeper and
// not busy with CPU work.
func (c *Controller) pump() {
	for {
		c.yield()
		if c.cpuBusy || c.zkWait != nil {
			return
		}
		if c.running != nil {
			c.running = nil // the chain ended without a new call: the event is done
			continue
		}
		if c.qhead == len(c.queue) {
			c.queue, c.qhead = c.queue[:0], 0
			return
		}
		e := c.queue[c.qhead]
		c.queue[c.qhead] = nil
		c.qhead++
		c.running = e
		c.cost += c.cfg.Costs.ControllerEvent
		if c.cfg.Buggify != nil && c.cfg.Buggify("controller/slow-event") {
			c.cost += sim.Millisecond
		}
		e.run()
	}
}

// yield is a point where the event thread's pending effects go out: now if
// it has done no costed work, else after a CPU timer of that cost.
func (c *Controller) yield() {
	if c.cpuBusy {
		return
	}
	if c.cost > 0 {
		c.cpuBusy = true
		c.out = append(c.out, kproc.SetTimer{Name: timerCPU, After: c.cost})
		c.cost = 0
		return
	}
	c.release()
}

func (c *Controller) release() {
	hs := c.held
	c.held = nil
	for _, h := range hs {
		if h.req != nil {
			if s := c.senders[h.req.broker]; s != nil {
				c.handOff(s, h.req)
			}
			continue
		}
		c.out = append(c.out, h.eff)
	}
}

func (c *Controller) timer(name kproc.TimerName) {
	switch {
	case name == timerCPU:
		if !c.cpuBusy {
			return // a stale timer (cleared by expiry)
		}
		c.cpuBusy = false
		c.release()
	case name == timerRebalance:
		c.enqueue(&event{name: "AutoPreferredReplicaLeaderElection", run: c.processAutoRebalance})
	case strings.HasPrefix(string(name), timerBackoffPrefix):
		c.senderBackoffDone(name)
	default:
		panic(fmt.Sprintf("controller: unknown timer %q", name))
	}
}

// zkCall is one ZooKeeper call of the event thread: a batch of requests
// whose answers the continuation k gets together, in order.
type zkCall struct {
	id    kproc.ReqID
	reqs  []fakezk.Request
	resps []fakezk.Response
	next  int          // one-at-a-time mode: the request in flight
	cost  sim.Duration // per response handled
	k     func([]fakezk.Response)
}

// zk issues reqs and continues with k when every answer is in. Pipelined
// (1.1+), they are one ZKBatch; before 1.1 one ZKBatch each, in order.
// costPerResp is the event thread's work per answer, charged as answers
// are handled. An empty call continues at once.
func (c *Controller) zk(reqs []fakezk.Request, costPerResp sim.Duration, k func([]fakezk.Response)) {
	if c.zkWait != nil {
		panic("controller: a ZooKeeper call while another is pending")
	}
	if c.running == nil {
		panic("controller: a ZooKeeper call outside an event")
	}
	if len(reqs) == 0 {
		k(nil)
		return
	}
	call := &zkCall{reqs: reqs, cost: costPerResp, k: k}
	c.zkWait = call
	if c.feat.PipelinedZooKeeper {
		call.id = c.newID()
		c.emit(kproc.ZKBatch{ID: call.id, Reqs: reqs})
		return
	}
	call.resps = make([]fakezk.Response, len(reqs))
	call.id = c.newID()
	c.emit(kproc.ZKBatch{ID: call.id, Reqs: reqs[:1:1]})
}

func (c *Controller) zkResult(in kproc.ZKResult) {
	call := c.zkWait
	if call == nil || in.Req != call.id {
		return // the answer of a call abandoned at expiry
	}
	if c.feat.PipelinedZooKeeper {
		if len(in.Resps) != len(call.reqs) {
			panic(fmt.Sprintf("controller: ZKResult %d has %d responses for %d requests", in.Req, len(in.Resps), len(call.reqs)))
		}
		c.zkWait = nil
		c.cost += sim.Duration(len(in.Resps)) * call.cost
		call.k(in.Resps)
		return
	}
	if len(in.Resps) != 1 {
		panic(fmt.Sprintf("controller: ZKResult %d has %d responses for 1 request", in.Req, len(in.Resps)))
	}
	call.resps[call.next] = in.Resps[0]
	call.next++
	c.cost += call.cost
	if call.next < len(call.reqs) {
		call.id = c.newID()
		c.emit(kproc.ZKBatch{ID: call.id, Reqs: call.reqs[call.next : call.next+1 : call.next+1]})
		return
	}
	c.zkWait = nil
	call.k(call.resps)
}

// expire is the Expire event, put with clear-and-put ahead of everything
// (ZooKeeperClient.reinitialize → beforeInitializingSession): the queue is
// cleared (preempting what it held), the running event is abandoned (its
// blocked ZooKeeper call fails with the session), and the controller
// resigns.
func (c *Controller) expire() {
	for i := c.qhead; i < len(c.queue); i++ {
		if p := c.queue[i].preempt; p != nil {
			p()
		}
		c.queue[i] = nil
	}
	c.queue, c.qhead = c.queue[:0], 0
	if c.running != nil {
		if c.zkWait != nil {
			c.reportNow(EventFailed{Event: c.running.name, Err: "session expired"})
		}
		if p := c.running.preempt; p != nil && c.zkWait != nil {
			p()
		}
		c.zkWait = nil
		c.running = nil
	}
	c.enqueue(&event{name: "Expire", run: c.processExpire})
}

// reportNow emits a report at once, not held behind the CPU timer.
func (c *Controller) reportNow(e kproc.Effect) { c.out = append(c.out, e) }

func (c *Controller) processExpire() {
	wasActive := c.IsActive()
	c.activeID = -1
	if wasActive {
		c.onControllerResignation()
	}
}

// fenced wraps a controller write: from 2.1 (KAFKA-6082) a multi of a check
// of /controller_epoch's version and the op (KafkaZkClient.
// retryRequestsUntilConnected with expectedControllerEpochZkVersion);
// before, the op alone.
func (c *Controller) fenced(op fakezk.Op) fakezk.Request {
	if !c.feat.FencedControllerWrites {
		return op.(fakezk.Request)
	}
	return &fakezk.MultiRequest{Ops: []fakezk.Op{
		&fakezk.CheckVersionRequest{Path: kafkazk.ControllerEpochPath, Version: c.epochZkVersion},
		op,
	}}
}

// opResult is the outcome of a possibly fenced op.
type opResult struct {
	Err  error
	Stat *fakezk.Stat
}

// unfence unwraps a fenced op's response; moved is true when the epoch
// check failed (ControllerMovedException).
func (c *Controller) unfence(r fakezk.Response) (res opResult, moved bool) {
	if !c.feat.FencedControllerWrites {
		return opResult{Err: r.Err, Stat: r.Stat}, false
	}
	if len(r.Multi) != 2 {
		return opResult{Err: r.Err}, false // the multi never ran (session expired)
	}
	if r.Multi[0].Error != nil {
		return opResult{Err: r.Multi[0].Error}, true
	}
	return opResult{Err: r.Multi[1].Error, Stat: r.Multi[1].Stat}, false
}

// anyMoved reports whether any fenced response failed its epoch check.
func (c *Controller) anyMoved(rs []fakezk.Response) bool {
	for _, r := range rs {
		if _, moved := c.unfence(r); moved {
			return true
		}
	}
	return false
}

// controllerMoved is what the event loop does with a ControllerMovedException
// escaping a handler: the rest of the event is dropped and maybeResign runs.
func (c *Controller) controllerMoved() {
	c.report(Fenced{Epoch: c.epoch, EpochZkVersion: c.epochZkVersion})
	c.maybeResign(nil)
}

// fail ends the running event with an error Kafka would log (an unexpected
// ZooKeeper error): the event's remaining work is dropped.
func (c *Controller) fail(err error) {
	name := "?"
	if c.running != nil {
		name = c.running.name
	}
	c.report(EventFailed{Event: name, Err: err.Error()})
}

// isErr reports whether err is the ZooKeeper error code want.
func isErr(err error, want fakezk.ErrCode) bool { return errors.Is(err, want) }
