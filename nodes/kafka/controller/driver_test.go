package controller

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// driver stands in for the broker and its shell: it answers the
// controller's ZooKeeper batches from a fakezk.Tree (a pure data tree, no
// server), keeps its timers, and answers its RPCs. Nothing runs unless a
// command asks for it, so a test sees each effect.
type driver struct {
	c       *Controller
	tree    *fakezk.Tree
	zxid    int64
	now     sim.Time
	session int64 // the controller's broker's ZooKeeper session

	zk     []kproc.ZKBatch // issued, not answered, in order
	sends  []kproc.Send    // issued, not answered
	timers map[kproc.TimerName]sim.Time
	failZK map[int]error // next batch's response overrides, by index

	zkBatches  int // batches answered
	zkRequests int // requests answered
	effects    effectCount

	// zkLatency, if set, is how long the driver's ZooKeeper takes to
	// answer a batch of n requests: the clock moves by it before each answer.
	zkLatency  func(n int) sim.Duration
	failoverAt sim.Time // when FailoverDone was last reported
}

// effectCount counts what a run produced.
type effectCount struct {
	sends   map[string]int // by API
	entries map[string]int // partition entries by API
	reports int
}

func newDriver(cfg Config) *driver {
	d := &driver{
		c:       New(cfg),
		tree:    fakezk.NewTree(),
		session: 0x100 + int64(cfg.BrokerID),
		timers:  map[kproc.TimerName]sim.Time{},
		failZK:  map[int]error{},
		effects: effectCount{sends: map[string]int{}, entries: map[string]int{}},
	}
	for _, p := range kafkazk.PersistentPaths() {
		d.mkdirs(p)
	}
	d.mkdirs(kafkazk.AdminPath)
	return d
}

func (d *driver) caller() fakezk.Caller { return fakezk.Caller{Session: d.session} }

func (d *driver) mkdirs(path string) {
	parts := strings.Split(path, "/")[1:]
	for k := range parts {
		p := "/" + strings.Join(parts[:k+1], "/")
		if _, ok := d.tree.Exists(p); !ok {
			d.zxid++
			if _, _, err := d.tree.Create(fakezk.Caller{}, d.zxid, d.now.Millis(), p, nil, openACL, 0); err != nil {
				panic(err)
			}
		}
	}
}

// put creates or sets path with data, making its parents.
func (d *driver) put(path string, data []byte, session int64) {
	d.zxid++
	if _, ok := d.tree.Exists(path); ok {
		if _, _, err := d.tree.Set(fakezk.Caller{}, d.zxid, d.now.Millis(), path, data, -1); err != nil {
			panic(err)
		}
		return
	}
	d.mkdirs(path[:strings.LastIndex(path, "/")])
	flags := int32(0)
	if session != 0 {
		flags = fakezk.FlagEphemeral
	}
	if _, _, err := d.tree.Create(fakezk.Caller{Session: session}, d.zxid, d.now.Millis(), path, data, openACL, flags); err != nil {
		panic(err)
	}
}

// addBroker registers broker id as its broker would, host "b<id>".
func (d *driver) addBroker(id int32) {
	reg := kafkazk.BrokerRegistration{Version: 4, JMXPort: -1, TimestampMs: d.now.Millis(),
		Endpoints: []kafkazk.Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: fmt.Sprintf("b%d", id), Port: 9092}}}
	d.put(kafkazk.BrokerIDPath(id), reg.Encode(), 0x10+int64(id))
}

// createTopic writes a topic znode with the given assignment.
func (d *driver) createTopic(name string, assign [][]int32) {
	ta := kafkazk.TopicAssignment{Version: 2, Partitions: map[int32]kafkazk.ReplicaAssignment{}}
	for p, rs := range assign {
		ta.Partitions[int32(p)] = kafkazk.ReplicaAssignment{Replicas: rs}
	}
	d.put(kafkazk.TopicPath(name), ta.Encode(), 0)
}

// apply takes effects from the controller: it keeps what waits for an
// answer and returns the lines describing them.
func (d *driver) apply(effs []kproc.Effect, lines *[]string) {
	for _, e := range effs {
		switch e := e.(type) {
		case kproc.ZKBatch:
			d.zk = append(d.zk, e)
		case kproc.Send:
			d.sends = append(d.sends, e)
			d.effects.sends[e.Req.Kind()]++
			d.effects.entries[e.Req.Kind()] += entries(e.Req)
		case kproc.SetTimer:
			d.timers[e.Name] = d.now.Add(e.After)
		case kproc.CancelTimer:
			delete(d.timers, e.Name)
		case kproc.CloseChannel:
			d.sends = slices.DeleteFunc(d.sends, func(s kproc.Send) bool { return s.Host == e.Host })
		}
		if _, ok := e.(kproc.Traced); ok {
			d.effects.reports++
		}
		if _, ok := e.(FailoverDone); ok {
			d.failoverAt = d.now
		}
		if lines != nil {
			*lines = append(*lines, describe(e))
		}
	}
}

func entries(p any) int {
	switch r := p.(type) {
	case *proto.LeaderAndIsrRequest:
		return len(r.Partitions)
	case *proto.UpdateMetadataRequest:
		return len(r.Partitions)
	case *proto.StopReplicaRequest:
		return len(r.Partitions)
	}
	return 0
}

// describe is one short deterministic line per effect.
func describe(e kproc.Effect) string {
	switch e := e.(type) {
	case kproc.ZKBatch:
		return "zk " + describeBatch(e.Reqs)
	case kproc.ZKHandler:
		s := "handler +"
		if e.Remove {
			s = "handler -"
		}
		if e.Child {
			s += " children"
		}
		return s + " " + e.Path
	case kproc.Send:
		return fmt.Sprintf("send %s %s %s", e.Host, e.Req.Kind(), e.Req)
	case kproc.Reply:
		return fmt.Sprintf("reply %s %s", e.Resp.Kind(), e.Resp)
	case kproc.SetTimer:
		return fmt.Sprintf("timer set %s %v", e.Name, e.After)
	case kproc.CancelTimer:
		return fmt.Sprintf("timer cancel %s", e.Name)
	case kproc.CloseChannel:
		return "close " + e.Host
	case kproc.Traced:
		label, _ := e.TraceRecord()
		return strings.TrimPrefix(e.TraceKind(), "kafka.controller.") + ": " + label
	}
	return fmt.Sprintf("%T", e)
}

func describeReq(r fakezk.Request) string {
	switch q := r.(type) {
	case *fakezk.GetDataRequest:
		return "get " + q.Path
	case *fakezk.ExistsRequest:
		return "exists " + q.Path
	case *fakezk.GetChildrenRequest:
		return "children " + q.Path
	case *fakezk.CreateRequest:
		return "create " + q.Path
	case *fakezk.SetDataRequest:
		return fmt.Sprintf("set %s v%d", q.Path, q.Version)
	case *fakezk.DeleteRequest:
		return "delete " + q.Path
	case *fakezk.MultiRequest:
		var ops []string
		for _, op := range q.Ops {
			switch o := op.(type) {
			case *fakezk.CheckVersionRequest:
				ops = append(ops, fmt.Sprintf("check %s v%d", o.Path, o.Version))
			case fakezk.Request:
				ops = append(ops, describeReq(o))
			}
		}
		return "multi[" + strings.Join(ops, "; ") + "]"
	}
	return fmt.Sprintf("%T", r)
}

// describeBatch names a batch's requests, the first three in full.
func describeBatch(reqs []fakezk.Request) string {
	var parts []string
	for k, r := range reqs {
		if k == 3 {
			parts = append(parts, fmt.Sprintf("… (%d requests)", len(reqs)))
			break
		}
		parts = append(parts, describeReq(r))
	}
	return strings.Join(parts, ", ")
}

// answer runs one request against the tree.
func (d *driver) answer(r fakezk.Request) fakezk.Response {
	c := d.caller()
	ms := d.now.Millis()
	switch q := r.(type) {
	case *fakezk.GetDataRequest:
		data, st, err := d.tree.Get(c, q.Path)
		if err != nil {
			return fakezk.Response{Err: err}
		}
		return fakezk.Response{Data: data, Stat: &st}
	case *fakezk.ExistsRequest:
		st, ok := d.tree.Exists(q.Path)
		if !ok {
			return fakezk.Response{Err: fakezk.ErrNoNode}
		}
		return fakezk.Response{Exists: true, Stat: &st}
	case *fakezk.GetChildrenRequest:
		kids, st, err := d.tree.Children(c, q.Path)
		if err != nil {
			return fakezk.Response{Err: err}
		}
		return fakezk.Response{Children: kids, Stat: &st}
	case *fakezk.CreateRequest:
		d.zxid++
		p, _, err := d.tree.Create(c, d.zxid, ms, q.Path, q.Data, q.Acl, q.Flags)
		return fakezk.Response{Path: p, Err: err}
	case *fakezk.SetDataRequest:
		d.zxid++
		st, _, err := d.tree.Set(c, d.zxid, ms, q.Path, q.Data, q.Version)
		if err != nil {
			return fakezk.Response{Err: err}
		}
		return fakezk.Response{Stat: &st}
	case *fakezk.DeleteRequest:
		d.zxid++
		_, err := d.tree.Delete(c, d.zxid, q.Path, q.Version)
		return fakezk.Response{Err: err}
	case *fakezk.MultiRequest:
		d.zxid++
		res, _, err := d.tree.Multi(c, d.zxid, ms, q.Ops)
		return fakezk.Response{Multi: res, Err: err}
	}
	panic(fmt.Sprintf("driver: request %T", r))
}

// answerZK answers the oldest pending batch; failZK overrides responses.
func (d *driver) answerZK() kproc.ZKResult {
	b := d.zk[0]
	if d.zkLatency != nil {
		d.now = d.now.Add(d.zkLatency(len(b.Reqs)))
	}
	d.zk = d.zk[1:]
	resps := make([]fakezk.Response, len(b.Reqs))
	for k, r := range b.Reqs {
		if err, ok := d.failZK[k]; ok {
			resps[k] = fakezk.Response{Err: err}
			if m, ok := r.(*fakezk.MultiRequest); ok {
				// A multi failing at its first op, as the check op fails.
				resps[k].Multi = make([]fakezk.MultiResponse, len(m.Ops))
				resps[k].Multi[0].Error = err
				for j := 1; j < len(m.Ops); j++ {
					resps[k].Multi[j].Error = fakezk.ErrRuntimeInconsistency
				}
			}
			continue
		}
		resps[k] = d.answer(r)
	}
	clear(d.failZK)
	d.zkBatches++
	d.zkRequests += len(b.Reqs)
	return kproc.ZKResult{Req: b.ID, Resps: resps}
}

// response is a successful answer to a control request.
func response(req any) rpc.Payload {
	switch req.(type) {
	case *proto.LeaderAndIsrRequest:
		return &proto.LeaderAndIsrResponse{}
	case *proto.UpdateMetadataRequest:
		return &proto.UpdateMetadataResponse{}
	case *proto.StopReplicaRequest:
		return &proto.StopReplicaResponse{}
	}
	panic(fmt.Sprintf("driver: request %T", req))
}

func (d *driver) step(in kproc.Input, lines *[]string) {
	d.apply(d.c.Step(d.now, in), lines)
}

// nextTimer returns the earliest timer, by due time then name.
func (d *driver) nextTimer() (kproc.TimerName, bool) {
	names := slices.Sorted(maps.Keys(d.timers))
	var best kproc.TimerName
	found := false
	for _, n := range names {
		if !found || d.timers[n] < d.timers[best] {
			best, found = n, true
		}
	}
	return best, found
}

// fire advances the clock to timer name and fires it.
func (d *driver) fire(name kproc.TimerName, lines *[]string) {
	if due := d.timers[name]; due > d.now {
		d.now = due
	}
	delete(d.timers, name)
	d.step(kproc.TimerFired{Name: name}, lines)
}

// settle answers ZooKeeper batches, fires the CPU timer and (with rpcs)
// answers requests until the controller waits on nothing but other
// timers; at most limit rounds.
func (d *driver) settle(rpcs bool, limit int, lines *[]string) error {
	for n := 0; n < limit; n++ {
		switch {
		case len(d.zk) > 0:
			d.step(d.answerZK(), lines)
		case hasTimer(d.timers, timerCPU):
			d.fire(timerCPU, lines)
		case rpcs && len(d.sends) > 0:
			s := d.sends[0]
			d.sends = d.sends[1:]
			d.step(kproc.RPCResult{Req: s.ID, Resp: response(s.Req)}, lines)
		default:
			return nil
		}
	}
	return fmt.Errorf("not settled after %d rounds", limit)
}

func hasTimer(m map[kproc.TimerName]sim.Time, n kproc.TimerName) bool { _, ok := m[n]; return ok }
