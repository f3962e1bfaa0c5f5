package controller

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/config"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// TestController drives the controller machine alone through the scripts
// in testdata, in the style of etcd-io/raft's interaction tests: ZooKeeper
// answers come from a data tree the script shapes, and each command prints
// the effects it caused. Run with -rewrite to update the expected output,
// then review the diff.
//
//	new [broker=1] [era=2.6] [unclean] [costs]   a controller (costs: the default costs, else free)
//	add-broker 1 2 3                       register brokers in the tree
//	remove-broker 2                        delete a registration
//	create-topic t 1,2,3 2,3,1             a topic znode, one replica list per partition
//	set-state t 0 leader=1 isr=1,2 [epoch=0] [ctrl=1]   write a partition state znode
//	zk-put PATH DATA | zk-delete PATH | zk-get PATH
//	startup | reelect | expire            Startup, Reelect, BeforeInitializingSession
//	change PATH KIND                       a handler fired (creation deletion data-change child-change)
//	answer [fail=K:ERR]                    answer the oldest ZooKeeper batch (ERR: bad-version no-node node-exists session-expired)
//	settle [rpcs]                          answer batches and the CPU timer (and requests) until idle
//	fire NAME | rpc-fail [n=1]             fire a timer; fail the oldest pending requests
//	shutdown BROKER [epoch=E]             a ControlledShutdown request
//	view | partitions | counts             what the controller holds; ZooKeeper and request counts
func TestController(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := &harness{}
		datadriven.RunTest(t, path, h.handle)
	})
}

type harness struct {
	d      *driver
	tokens kproc.Token
}

var zkErrors = map[string]error{
	"bad-version": fakezk.ErrBadVersion, "no-node": fakezk.ErrNoNode,
	"node-exists": fakezk.ErrNodeExists, "session-expired": fakezk.ErrSessionExpired,
}

func ids(t *testing.T, s string) []int32 {
	t.Helper()
	var out []int32
	for _, f := range strings.Split(s, ",") {
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("bad id list %q", s)
		}
		out = append(out, int32(n))
	}
	return out
}

func (h *harness) handle(t *testing.T, td *datadriven.TestData) string {
	if td.Cmd == "new" {
		broker, era := 1, "2.6"
		td.MaybeScanArgs(t, "broker", &broker)
		td.MaybeScanArgs(t, "era", &era)
		e, err := config.ParseEra(era)
		if err != nil {
			td.Fatalf(t, "%v", err)
		}
		cfg := Config{BrokerID: int32(broker), Kafka: config.ForEra(e)}
		if td.HasArg("unclean") {
			cfg.Kafka.UncleanLeaderElectionEnable = true
		}
		if td.HasArg("costs") {
			cfg.Costs = config.DefaultCosts()
		}
		h.d = newDriver(cfg)
		return ""
	}
	if h.d == nil {
		td.Fatalf(t, "%s before new", td.Cmd)
	}
	d := h.d
	var lines []string
	arg := func(k int) string {
		if k >= len(td.CmdArgs) {
			td.Fatalf(t, "%s: missing argument %d", td.Cmd, k+1)
		}
		return td.CmdArgs[k].Key
	}
	switch td.Cmd {
	case "add-broker", "remove-broker":
		for _, a := range td.CmdArgs {
			id := ids(t, a.Key)[0]
			if td.Cmd == "add-broker" {
				d.addBroker(id)
			} else {
				d.zxid++
				if _, err := d.tree.Delete(fakezk.Caller{}, d.zxid, kafkazk.BrokerIDPath(id), -1); err != nil {
					td.Fatalf(t, "%v", err)
				}
			}
		}
	case "create-topic":
		var assign [][]int32
		for _, a := range td.CmdArgs[1:] {
			assign = append(assign, ids(t, a.Key))
		}
		d.createTopic(arg(0), assign)
	case "set-state":
		p, _ := strconv.Atoi(arg(1))
		var leader, epoch, ctrl int
		var isr string
		td.ScanArgs(t, "leader", &leader)
		td.ScanArgs(t, "isr", &isr)
		td.MaybeScanArgs(t, "epoch", &epoch)
		ctrl = 1
		td.MaybeScanArgs(t, "ctrl", &ctrl)
		st := kafkazk.PartitionState{Leader: int32(leader), LeaderEpoch: int32(epoch), ISR: ids(t, isr), ControllerEpoch: int32(ctrl)}
		d.put(kafkazk.PartitionStatePath(arg(0), int32(p)), st.Encode(), 0)
	case "zk-put":
		d.put(arg(0), []byte(arg(1)), 0)
	case "zk-delete":
		d.zxid++
		if _, err := d.tree.Delete(fakezk.Caller{}, d.zxid, arg(0), -1); err != nil {
			return "error: " + err.Error()
		}
	case "zk-get":
		data, st, err := d.tree.Get(fakezk.Caller{}, arg(0))
		if err != nil {
			return "error: " + err.Error()
		}
		return fmt.Sprintf("%s version=%d", data, st.Version)
	case "startup":
		d.apply(d.c.Startup(d.now, 0x10+int64(d.c.cfg.BrokerID)), &lines)
	case "reelect":
		d.apply(d.c.Reelect(d.now, 0x20+int64(d.c.cfg.BrokerID)), &lines)
	case "expire":
		d.step(kproc.ZKSessionPhase{Phase: kproc.BeforeInitializingSession}, &lines)
	case "change":
		kinds := map[string]kproc.ChangeKind{"creation": kproc.Creation, "deletion": kproc.Deletion, "data-change": kproc.DataChange, "child-change": kproc.ChildChange}
		k, ok := kinds[arg(1)]
		if !ok {
			td.Fatalf(t, "unknown change kind %q", arg(1))
		}
		d.step(kproc.ZKChange{Path: arg(0), Kind: k}, &lines)
	case "answer":
		if len(d.zk) == 0 {
			return "error: no ZooKeeper batch pending"
		}
		var fail string
		td.MaybeScanArgs(t, "fail", &fail)
		if fail != "" {
			k, name, _ := strings.Cut(fail, ":")
			n, _ := strconv.Atoi(k)
			err, ok := zkErrors[name]
			if !ok {
				td.Fatalf(t, "unknown error %q", name)
			}
			d.failZK[n] = err
		}
		d.step(d.answerZK(), &lines)
	case "settle":
		if err := d.settle(td.HasArg("rpcs"), 10000, &lines); err != nil {
			lines = append(lines, "error: "+err.Error())
		}
	case "fire":
		name := kproc.TimerName(arg(0))
		if _, ok := d.timers[name]; !ok {
			return fmt.Sprintf("error: timer %s not set", name)
		}
		d.fire(name, &lines)
	case "rpc-fail":
		n := 1
		td.MaybeScanArgs(t, "n", &n)
		for range n {
			if len(d.sends) == 0 {
				break
			}
			s := d.sends[0]
			d.sends = d.sends[1:]
			d.step(kproc.RPCResult{Req: s.ID, Err: rpc.ErrConnection}, &lines)
		}
	case "shutdown":
		b := ids(t, arg(0))[0]
		epoch := int64(0x10 + b)
		td.MaybeScanArgs(t, "epoch", &epoch)
		h.tokens++
		d.step(kproc.RPCIn{Token: h.tokens, Req: &proto.ControlledShutdownRequest{BrokerID: b, BrokerEpoch: epoch}}, &lines)
	case "view":
		v := d.c.View()
		return fmt.Sprintf("active=%t controller=%d epoch=%d epoch_zk_version=%d partitions=%d offline=%d live=%d shutting_down=%d queue=%d busy=%t now=%v",
			v.IsActive, v.ActiveControllerID, v.Epoch, v.EpochZkVersion, v.Partitions, v.OfflinePartitions, v.LiveBrokers, v.ShuttingDown, v.QueueLen, v.Busy, sim.Duration(d.now))
	case "partitions":
		x := d.c.ctx
		for i := range x.parts {
			p := &x.parts[i]
			if p.deleted {
				continue
			}
			tp := x.tp(int32(i))
			lines = append(lines, fmt.Sprintf("%s %s replicas=%s leader=%d epoch=%d isr=%s zk_version=%d", tp, p.state, ints(p.replicas), p.leader, p.epoch, ints(p.isr), p.zkVersion))
		}
	case "counts":
		apis := []string{proto.KindLeaderAndIsr, proto.KindUpdateMetadata, proto.KindStopReplica}
		s := fmt.Sprintf("zk batches=%d requests=%d", d.zkBatches, d.zkRequests)
		for _, a := range apis {
			s += fmt.Sprintf("; %s sends=%d entries=%d", a, d.effects.sends[a], d.effects.entries[a])
		}
		d.zkBatches, d.zkRequests = 0, 0
		clear(d.effects.sends)
		clear(d.effects.entries)
		return s
	default:
		td.Fatalf(t, "unknown command %q", td.Cmd)
	}
	return strings.Join(lines, "\n")
}
