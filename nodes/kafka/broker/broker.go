package broker

import (
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/config"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/sim"
)

// Hosted is the controller module a broker hosts, as KafkaServer hosts its
// KafkaController: the broker routes the controller's inputs to it and
// carries out its effects with its own. The controller's requests carry
// ReqIDs with ControllerIDBit set and its timers are named with
// ControllerTimerPrefix; every ZKChange is the controller's (the broker
// registers no handlers of its own), every ZKSessionPhase goes to both.
type Hosted interface {
	Startup(now sim.Time, brokerEpoch int64) []kproc.Effect
	Reelect(now sim.Time, brokerEpoch int64) []kproc.Effect
	Step(now sim.Time, in kproc.Input) []kproc.Effect
}

// The controller's share of ids and timer names (nodes/kafka/controller's
// IDBit and TimerPrefix).
const (
	ControllerIDBit       kproc.ReqID = 1 << 62
	ControllerTimerPrefix             = "controller/"
)

// Config configures a broker.
type Config struct {
	ID   int32
	Host string // advertised host: the process name, which kproc resolves
	Port int32
	Rack string
	// Kafka is the broker's settings and era features.
	Kafka config.Config
	// Costs is the processing time model.
	Costs config.Costs
	// Controller makes the controller module of an incarnation (nil: the
	// broker never campaigns; tests of the broker alone).
	Controller func() Hosted
	// Rand draws the cluster id if this broker is the first (nil: a fixed
	// id, for tests).
	Rand *sim.Rand
	// Buggify, if set, is the kernel's BUGGIFY for this process.
	Buggify func(site string) bool
	// BugIgnoreControllerEpoch plants a bug: controller requests are applied
	// whatever their controller epoch, so a zombie controller's requests
	// take effect (tests show no-stale-request-applied catching it).
	BugIgnoreControllerEpoch bool
	// BugNoIsrExpand plants a bug: a leader never takes a caught-up
	// follower back into the ISR.
	BugNoIsrExpand bool
	// BugKeepDeletedLogs plants a bug: StopReplica with delete stops the
	// replica but leaves its log.
	BugKeepDeletedLogs bool
	// BugShutdownWithoutController plants a bug: a controlled shutdown
	// reports itself done without asking the controller to move leaders.
	BugShutdownWithoutController bool
	// BugAckAllAtLeader plants a bug: acks=all is answered once the leader
	// has appended, as acks=1 is.
	BugAckAllAtLeader bool
	// BugNoProducerDedupe plants a bug: the leader appends an idempotent
	// producer's batches without checking their sequences, so a retried
	// batch whose first answer was lost is written twice (tests show
	// no-duplicates-from-idempotent-producer catching it).
	BugNoProducerDedupe bool
}

// phase is where a broker is in its life, in Kafka's start-up order
// (KafkaServer.startup).
type phase uint8

const (
	phaseStarting    phase = iota + 1 // top-level paths and cluster id
	phaseLoadingLogs                  // LogManager.loadLogs: recovery
	phaseRegistering                  // /brokers/ids/<id>
	phaseRunning
	phaseShuttingDown // controlled shutdown in progress
	phaseExited
)

func (p phase) String() string {
	return [...]string{"?", "starting", "loading-logs", "registering", "running", "shutting-down", "exited"}[p]
}

// Broker is a Kafka 2.6 broker's logic: start-up, registration, the
// hosted controller, the metadata cache and the replica manager.
type Broker struct {
	cfg   Config
	ctl   Hosted
	phase phase
	inc   uint32

	clusterID   string
	brokerEpoch int64 // czxid of our registration; kafkazk.NoBrokerEpoch before
	// controllerEpoch is the highest controller epoch of a request this
	// incarnation applied (ReplicaManager.controllerEpoch).
	controllerEpoch int32

	meta     metadataCache
	handler  handler
	shutdown shutdownState
	replicas replicaManager

	nextID kproc.ReqID
	calls  map[kproc.ReqID]call

	out []kproc.Effect // effects of the step under way
	now sim.Time
}

// call is what an outstanding request of the broker's was for.
type call struct {
	kind callKind
	tp   proto.TopicPartition
	arg  int64
}

type callKind uint8

const (
	callTopLevelPaths callKind = iota + 1
	callClusterID
	callCreateClusterID
	callRegister
	callReregister
	callIsrWrite
	callIsrReadBack
	callIsrNotify
	callFetch
	callEpochQuery
	callControlledShutdown
	callSync
)

// New returns a broker machine for a new incarnation.
func New(cfg Config) *Broker {
	if cfg.Host == "" || cfg.ID < 0 {
		panic(fmt.Sprintf("broker: bad config: id %d host %q", cfg.ID, cfg.Host))
	}
	b := &Broker{cfg: cfg, brokerEpoch: kafkazk.NoBrokerEpoch, calls: map[kproc.ReqID]call{}}
	b.meta.init()
	b.replicas.init(b)
	return b
}

// Step applies one input and returns the effects.
func (b *Broker) Step(now sim.Time, in kproc.Input) []kproc.Effect {
	b.now = now
	b.out = nil
	switch in := in.(type) {
	case kproc.Started:
		b.start(in)
	case kproc.ZKResult:
		if in.Req&ControllerIDBit != 0 {
			b.toController(in)
		} else {
			b.zkResult(in)
		}
	case kproc.ZKRegistered:
		if in.Req&ControllerIDBit != 0 {
			b.toController(in)
		} else {
			b.registered(in)
		}
	case kproc.ZKChange:
		b.toController(in)
	case kproc.ZKSessionPhase:
		b.sessionPhase(in)
	case kproc.RPCIn:
		b.rpcIn(in)
	case kproc.RPCResult:
		if in.Req&ControllerIDBit != 0 {
			b.toController(in)
		} else {
			b.rpcResult(in)
		}
	case kproc.Synced:
		if in.Req&ControllerIDBit != 0 {
			b.toController(in)
		} else {
			delete(b.calls, in.Req)
		}
	case kproc.Shutdown:
		b.shutdownRequested()
	case kproc.TimerFired:
		if len(in.Name) >= len(ControllerTimerPrefix) && string(in.Name[:len(ControllerTimerPrefix)]) == ControllerTimerPrefix {
			b.toController(in)
		} else {
			b.timer(in.Name)
		}
	default:
		panic(fmt.Sprintf("broker %d: unknown input %T", b.cfg.ID, in))
	}
	out := b.out
	b.out = nil
	return out
}

func (b *Broker) emit(e ...kproc.Effect) { b.out = append(b.out, e...) }

func (b *Broker) toController(in kproc.Input) {
	if b.ctl == nil {
		return // no controller module yet (or none configured): nothing of its can be outstanding
	}
	b.emit(b.ctl.Step(b.now, in)...)
}

func (b *Broker) newCall(c call) kproc.ReqID {
	b.nextID++
	if b.nextID&ControllerIDBit != 0 {
		panic("broker: request ids ran into the controller's")
	}
	b.calls[b.nextID] = c
	return b.nextID
}

// start is KafkaServer.startup up to the log manager: the ZooKeeper
// client's top-level paths (KafkaZkClient.createTopLevelPaths), then the
// cluster id.
func (b *Broker) start(in kproc.Started) {
	if b.phase != 0 {
		panic(fmt.Sprintf("broker %d: started twice", b.cfg.ID))
	}
	b.inc = in.Incarnation
	b.phase = phaseStarting
	b.replicas.recover(in.Files)
	b.emit(kproc.ZKBatch{ID: b.newCall(call{kind: callTopLevelPaths}), Reqs: createRecursive(kafkazk.PersistentPaths()...)})
}

// createRecursive returns the creates of paths and their missing parents,
// parents first, each once (KafkaZkClient.createRecursive). Simplified:
// Kafka tries a path first and its parents only on NoNode; here every
// ancestor's create is pipelined ahead of it, and NodeExists is success.
func createRecursive(paths ...string) []fakezk.Request {
	seen := map[string]bool{}
	var reqs []fakezk.Request
	for _, p := range paths {
		for i := 1; i <= len(p); i++ {
			if i < len(p) && p[i] != '/' {
				continue
			}
			if prefix := p[:i]; !seen[prefix] {
				seen[prefix] = true
				reqs = append(reqs, &fakezk.CreateRequest{Path: prefix, Data: kafkazk.EmptyData, Acl: fakezk.WorldACL(fakezk.PermAll)})
			}
		}
	}
	return reqs
}

func (b *Broker) zkResult(in kproc.ZKResult) {
	c, ok := b.calls[in.Req]
	if !ok {
		panic(fmt.Sprintf("broker %d: zk result for unknown request %d", b.cfg.ID, in.Req))
	}
	delete(b.calls, in.Req)
	switch c.kind {
	case callTopLevelPaths:
		for _, r := range in.Resps {
			if r.Err != nil && r.Err != fakezk.ErrNodeExists {
				b.fatal("creating top-level paths: " + r.Err.Error())
				return
			}
		}
		b.emit(kproc.ZKBatch{ID: b.newCall(call{kind: callClusterID}), Reqs: []fakezk.Request{&fakezk.GetDataRequest{Path: kafkazk.ClusterIDPath}}})
	case callClusterID:
		b.clusterIDResult(c, in.Resps[0])
	case callCreateClusterID:
		// The create's own answer is next to last; NodeExists means another
		// broker won, and the read that follows it gives the id either way.
		n := len(in.Resps)
		for _, r := range in.Resps[:n-1] {
			if r.Err != nil && r.Err != fakezk.ErrNodeExists {
				b.fatal("creating /cluster/id: " + r.Err.Error())
				return
			}
		}
		b.clusterIDResult(c, in.Resps[n-1])
	case callIsrWrite:
		b.replicas.isrWritten(in.Req, c, in.Resps[0])
	case callIsrReadBack:
		b.replicas.isrReadBack(in.Req, c, in.Resps[0])
	case callIsrNotify:
		// A failed notification is lost, as in Kafka (the controller learns
		// the ISR at its next read of the state).
	default:
		panic(fmt.Sprintf("broker %d: zk result for a %d call", b.cfg.ID, c.kind))
	}
}

// clusterIDResult is KafkaServer.getOrGenerateClusterId: read /cluster/id,
// or create it with a new random id (a race lost to another broker's
// create is read again).
func (b *Broker) clusterIDResult(c call, r fakezk.Response) {
	switch {
	case r.Err == nil:
		id, err := kafkazk.DecodeClusterID(r.Data)
		if err != nil {
			b.fatal("reading /cluster/id: " + err.Error())
			return
		}
		b.clusterID = id.ID
		b.loadLogs()
	case c.kind == callClusterID && r.Err == fakezk.ErrNoNode:
		data := kafkazk.ClusterID{ID: b.newClusterID()}.Encode()
		reqs := createRecursive("/cluster")
		reqs = append(reqs,
			&fakezk.CreateRequest{Path: kafkazk.ClusterIDPath, Data: data, Acl: fakezk.WorldACL(fakezk.PermAll)},
			&fakezk.GetDataRequest{Path: kafkazk.ClusterIDPath})
		b.emit(kproc.ZKBatch{ID: b.newCall(call{kind: callCreateClusterID}), Reqs: reqs})
	default:
		b.fatal("reading /cluster/id: " + r.Err.Error())
	}
}

// newClusterID is Kafka's CoreUtils.generateUuidAsBase64: 16 random bytes
// in URL-safe base64 without padding (22 characters).
func (b *Broker) newClusterID() string {
	var raw [16]byte
	if b.cfg.Rand != nil {
		for i := 0; i < 16; i += 8 {
			v := b.cfg.Rand.Uint64()
			for j := 0; j < 8; j++ {
				raw[i+j] = byte(v >> (8 * j))
			}
		}
	}
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// loadLogs is LogManager.startup's log loading: its cost is the time the
// recovery of what the disk kept takes, after which the broker registers.
func (b *Broker) loadLogs() {
	b.phase = phaseLoadingLogs
	cost := b.replicas.recoveryCost()
	b.emit(kproc.SetTimer{Name: timerLogsLoaded, After: cost})
}

// register writes /brokers/ids/<id> (KafkaZkClient.registerBroker, the
// checked ephemeral creation); its czxid is the broker epoch.
func (b *Broker) register(kind callKind) {
	reg := kafkazk.BrokerRegistration{
		Version:     int32(b.cfg.Kafka.Features.BrokerZNodeVersion),
		Endpoints:   []kafkazk.Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: b.cfg.Host, Port: b.cfg.Port}},
		JMXPort:     -1,
		TimestampMs: int64(b.now / sim.Time(sim.Millisecond)),
		Rack:        b.cfg.Rack,
	}
	b.emit(kproc.ZKRegister{ID: b.newCall(call{kind: kind}), Path: kafkazk.BrokerIDPath(b.cfg.ID), Data: reg.Encode()})
}

func (b *Broker) registered(in kproc.ZKRegistered) {
	c, ok := b.calls[in.Req]
	if !ok {
		panic(fmt.Sprintf("broker %d: registration answer for unknown request %d", b.cfg.ID, in.Req))
	}
	delete(b.calls, in.Req)
	if in.Err != nil {
		if in.Err == fakezk.ErrSessionExpired && c.kind == callReregister {
			return // a newer session re-registers again (AfterInitializingSession)
		}
		b.fatal("registering " + kafkazk.BrokerIDPath(b.cfg.ID) + ": " + in.Err.Error())
		return
	}
	old := b.brokerEpoch
	b.brokerEpoch = in.Czxid
	b.emit(Registered{Broker: b.cfg.ID, BrokerEpoch: in.Czxid, PreviousEpoch: old})
	switch c.kind {
	case callRegister:
		b.phase = phaseRunning
		b.replicas.startup()
		if b.cfg.Controller != nil {
			b.ctl = b.cfg.Controller()
			b.emit(b.ctl.Startup(b.now, b.brokerEpoch)...)
		}
	case callReregister:
		if b.ctl != nil {
			b.emit(b.ctl.Reelect(b.now, b.brokerEpoch)...)
		}
	}
}

// sessionPhase: after an expiry the broker keeps serving (its partitions
// and fetchers do not depend on the session) and registers again once the
// new session exists, with a new broker epoch; the controller hears both
// phases (it resigns before, and campaigns again after re-registration).
func (b *Broker) sessionPhase(in kproc.ZKSessionPhase) {
	if b.ctl != nil {
		b.emit(b.ctl.Step(b.now, in)...)
	}
	if in.Phase == kproc.AfterInitializingSession && b.phase >= phaseRunning && b.phase < phaseExited {
		b.emit(SessionReinitialized{Broker: b.cfg.ID})
		b.register(callReregister)
	}
}

// fatal is a broker's unrecoverable start-up error: Kafka logs it and the
// process exits.
func (b *Broker) fatal(why string) {
	b.emit(Fatal{Broker: b.cfg.ID, Why: why})
	b.phase = phaseExited
	b.emit(kproc.Exit{})
}

func (b *Broker) timer(name kproc.TimerName) {
	switch {
	case name == timerLogsLoaded:
		b.phase = phaseRegistering
		b.register(callRegister)
	default:
		b.replicas.timer(name)
	}
}

const timerLogsLoaded kproc.TimerName = "broker/logs-loaded"

// BrokerEpoch returns the broker's current epoch (kafkazk.NoBrokerEpoch
// before registration).
func (b *Broker) BrokerEpoch() int64 { return b.brokerEpoch }

func itoa(i int32) string { return strconv.Itoa(int(i)) }
