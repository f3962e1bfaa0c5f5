package broker07

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/node"
	"github.com/kzsim/kzsim/sim"
)

// TestBroker drives the 0.7 broker's machine alone, with no kernel and no
// ZooKeeper, through the scripts in testdata, in the style of
// etcd-io/raft's interaction tests. Each command is one input and prints
// the effects it returned. Run with -rewrite to update the expected
// output, then review the diff.
//
//	new [id=1] [host=h1] [port=9092] [logs=a,b] [partitions=a:4,b:2] [num-partitions=N] [no-reregister]
//	start                                Restarted
//	session state=has-session id=0x10    (states: has-session expired disconnected connecting connected)
//	reply id=N [err=E] [data=TEXT] [owner=0x10]   E: node-exists no-node connection-closed no-server session-expired other
//	produce topic=T                      a produce request's Command
//	watch id=N                           a watch event (the broker sets none)
//	advance 500ms                        moves the clock
//	timer NAME                           fires a set timer at its due time
//	view                                 what checks may read, and what the threads hold
func TestBroker(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := &harness{}
		datadriven.RunTest(t, path, h.handle)
	})
}

// harness stands in for the shell: it keeps the clock, the requests issued
// (a reply is for a request it knows) and the timers set.
type harness struct {
	b      *Broker
	now    sim.Time
	reqs   map[node.ReqID]fakezk.Request
	timers map[node.TimerName]sim.Time
}

func (h *harness) handle(t *testing.T, d *datadriven.TestData) string {
	if d.Cmd == "new" {
		cfg := Config{ID: 1, Host: "h1", Port: 9092}
		var id int
		if d.HasArg("id") {
			d.ScanArgs(t, "id", &id)
			cfg.ID = int32(id)
		}
		d.MaybeScanArgs(t, "host", &cfg.Host)
		d.MaybeScanArgs(t, "port", &cfg.Port)
		d.MaybeScanArgs(t, "num-partitions", &cfg.NumPartitions)
		var logs, parts string
		d.MaybeScanArgs(t, "logs", &logs)
		d.MaybeScanArgs(t, "partitions", &parts)
		if parts != "" {
			cfg.TopicPartitions = map[string]int{}
			for _, kv := range strings.Split(parts, ",") {
				k, v, _ := strings.Cut(kv, ":")
				n, err := strconv.Atoi(v)
				require.NoError(t, err, d.Pos)
				cfg.TopicPartitions[k] = n
			}
		}
		cfg.Bugs.NoReRegister = d.HasArg("no-reregister")
		var dirs []string
		if logs != "" {
			dirs = strings.Split(logs, ",")
		}
		*h = harness{b: New(cfg, dirs), reqs: map[node.ReqID]fakezk.Request{}, timers: map[node.TimerName]sim.Time{}}
		return ""
	}
	if h.b == nil {
		d.Fatalf(t, "%s before new", d.Cmd)
	}
	switch d.Cmd {
	case "view":
		return h.view()
	case "advance":
		dur, err := sim.ParseDuration(d.CmdArgs[0].Key)
		if err != nil {
			d.Fatalf(t, "advance: %v", err)
		}
		h.now = h.now.Add(dur)
		return fmt.Sprintf("now %v", sim.Duration(h.now))
	}
	in, err := h.input(t, d)
	if err != nil {
		return "error: " + err.Error()
	}
	return h.step(in)
}

var errNames = map[string]error{
	"node-exists": fakezk.ErrNodeExists, "no-node": fakezk.ErrNoNode, "connection-closed": fakezk.ErrConnectionClosed,
	"no-server": fakezk.ErrNoServer, "session-expired": fakezk.ErrSessionExpired, "other": fakezk.ErrNoAuth,
}

func (h *harness) input(t *testing.T, d *datadriven.TestData) (node.Input, error) {
	switch d.Cmd {
	case "start":
		return node.Restarted{Incarnation: 1}, nil
	case "session":
		var state, id string
		d.ScanArgs(t, "state", &state)
		d.MaybeScanArgs(t, "id", &id)
		st, ok := map[string]fakezk.State{
			"has-session": fakezk.StateHasSession, "expired": fakezk.StateExpired, "disconnected": fakezk.StateDisconnected,
			"connecting": fakezk.StateConnecting, "connected": fakezk.StateConnected,
		}[state]
		if !ok {
			return nil, fmt.Errorf("unknown state %q", state)
		}
		return node.ZKSession{State: st, Session: hex(t, d, id)}, nil
	case "reply":
		var id uint64
		d.ScanArgs(t, "id", &id)
		req := h.reqs[node.ReqID(id)]
		delete(h.reqs, node.ReqID(id))
		var errName, data, owner string
		d.MaybeScanArgs(t, "err", &errName)
		d.MaybeScanArgs(t, "data", &data)
		d.MaybeScanArgs(t, "owner", &owner)
		resp := fakezk.Response{}
		if errName != "" {
			err, ok := errNames[errName]
			if !ok {
				return nil, fmt.Errorf("unknown error %q", errName)
			}
			resp.Err = err
		} else {
			switch q := req.(type) {
			case *fakezk.CreateRequest:
				resp.Path = q.Path
			case *fakezk.GetDataRequest:
				resp.Data, resp.Stat = []byte(data), &fakezk.Stat{EphemeralOwner: hex(t, d, owner)}
			}
		}
		return node.ZKReply{Req: node.ReqID(id), Resp: resp}, nil
	case "produce":
		var topic string
		d.ScanArgs(t, "topic", &topic)
		return node.Command{Value: Produce{Topic: topic}}, nil
	case "watch":
		var id uint64
		d.ScanArgs(t, "id", &id)
		return node.ZKWatch{Req: node.ReqID(id), Event: fakezk.Event{Type: fakezk.EventNodeDeleted}}, nil
	case "timer":
		name := node.TimerName(d.CmdArgs[0].Key)
		due, ok := h.timers[name]
		if !ok {
			return nil, fmt.Errorf("timer %s is not set", name)
		}
		delete(h.timers, name)
		h.now = due
		return node.TimerFired{Name: name}, nil
	}
	d.Fatalf(t, "unknown command %q", d.Cmd)
	return nil, nil
}

// step feeds one input and prints the effects, one a line; a panic of the
// machine (an assertion) is printed as such.
func (h *harness) step(in node.Input) (out string) {
	defer func() {
		if r := recover(); r != nil {
			out = fmt.Sprintf("panic: %v", r)
		}
	}()
	var lines []string
	for _, e := range h.b.Step(h.now, in) {
		switch e := e.(type) {
		case node.ZKRequest:
			h.reqs[e.ID] = e.Req
		case node.SetTimer:
			h.timers[e.Name] = h.now.Add(e.After)
		case node.CancelTimer:
			delete(h.timers, e.Name)
		}
		lines = append(lines, fmt.Sprint(e))
	}
	return strings.Join(lines, "\n")
}

func (h *harness) view() string {
	v := h.b.View()
	var b strings.Builder
	fmt.Fprintf(&b, "broker %d %s session=0x%x registered=%v", v.ID, v.State, v.Session, v.Registered)
	if v.Data != "" {
		fmt.Fprintf(&b, " data=%s", v.Data)
	}
	for _, tv := range v.Topics {
		fmt.Fprintf(&b, "\ntopic %s partitions=%d registered=%v listed=%v", tv.Name, tv.Partitions, tv.Registered, tv.Listed)
	}
	names := []string{"startup", "event", "actor"}
	for th := range threads {
		l := h.b.lanes[th]
		if l.cur == nil && len(l.queue) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s:", names[th])
		if o := l.cur; o != nil {
			state := fmt.Sprintf("waits on %d", o.req)
			if o.waitConnected {
				state = "waits for a connection"
			}
			fmt.Fprintf(&b, " %s (%s)", o.path, state)
		}
		for _, t := range l.queue {
			switch t.kind {
			case taskBroker:
				b.WriteString(" then broker")
			case taskTopic:
				b.WriteString(" then " + t.topic)
			case taskReregisterTopics:
				b.WriteString(" then the listed topics")
			}
		}
	}
	if len(h.b.produces) > 0 {
		fmt.Fprintf(&b, "\nproduces waiting for start-up: %s", strings.Join(h.b.produces, " "))
	}
	var timers []string
	for name := range h.timers {
		timers = append(timers, string(name))
	}
	slices.Sort(timers)
	if len(timers) > 0 {
		fmt.Fprintf(&b, "\ntimers: %s", strings.Join(timers, " "))
	}
	return b.String()
}

func hex(t *testing.T, d *datadriven.TestData, s string) int64 {
	if s == "" {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil {
		d.Fatalf(t, "bad hex %q: %v", s, err)
	}
	return n
}

func TestBrokerInfoRoundTripsAndRefusesMalformedData(t *testing.T) {
	b := BrokerInfo{CreatorID: "10.0.0.5-1352252334123", Host: "10.0.0.5", Port: 9092}
	assert.Equal(t, "10.0.0.5-1352252334123:10.0.0.5:9092", b.String())
	got, err := ParseBrokerInfo(b.String())
	require.NoError(t, err)
	assert.Equal(t, b, got)
	for _, bad := range []string{"", "a:b", "a:b:c:d", "a:b:x", "a:b:0", "a:b:65536", ":b:1", "a::1"} {
		_, err := ParseBrokerInfo(bad)
		assert.Error(t, err, "%q", bad)
	}
	n, err := ParsePartitionCount("4")
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	for _, bad := range []string{"", "0", "-1", "x", "4 "} {
		_, err := ParsePartitionCount(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestPaths(t *testing.T) {
	assert.Equal(t, "/brokers/ids/3", IDPath(3))
	assert.Equal(t, "/brokers/topics/orders/3", TopicPath("orders", 3))
}

func TestValidTopicFollows072(t *testing.T) {
	for _, ok := range []string{"orders", "a.b_c-d", "x", strings.Repeat("a", 255), "café"} {
		assert.NoError(t, ValidTopic(ok), ok)
	}
	for _, bad := range []string{"", ".", "..", "a/b", "a\x00", "a\x1f", "a\u0085", strings.Repeat("a", 256)} {
		assert.Error(t, ValidTopic(bad), "%q", bad)
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{ID: 0, Host: "h", TopicPartitions: map[string]int{"a": 2}}
	require.NoError(t, good.Validate())
	assert.Equal(t, 2, good.Partitions("a"))
	assert.Equal(t, DefaultNumPartitions, good.Partitions("b"))
	for name, c := range map[string]Config{
		"negative id":        {ID: -1, Host: "h"},
		"empty host":         {ID: 1},
		"host with a colon":  {ID: 1, Host: "h:1"},
		"port out of range":  {ID: 1, Host: "h", Port: 70000},
		"negative partition": {ID: 1, Host: "h", NumPartitions: -1},
		"zero in the map":    {ID: 1, Host: "h", TopicPartitions: map[string]int{"a": 0}},
		"bad topic":          {ID: 1, Host: "h", TopicPartitions: map[string]int{"a/b": 1}},
		"negative timeout":   {ID: 1, Host: "h", ConnectTimeout: -1},
	} {
		err := c.Validate()
		if assert.Error(t, err, name) {
			assert.NotContains(t, err.Error(), "\n", name)
		}
	}
	assert.Panics(t, func() { New(Config{ID: -1, Host: "h"}, nil) })
	assert.Panics(t, func() { New(Config{ID: 1, Host: "h"}, []string{".."}) })
}

// Every report is a typed trace record with the broker's id; anything else
// is refused.
func TestTrace(t *testing.T) {
	sink := &sim.MemorySink{}
	w := sim.New(sim.Options{Seed: 1, Sinks: []sim.Sink{sink}})
	w.At(sim.Kernel, 0, "emit", func() {
		Trace(w, sim.Kernel, 3, TopicRegistered{Topic: "orders", Partitions: 4, Session: 0x10, Why: WhyNewTopic})
	})
	w.Run()
	var got *sim.Record
	for _, r := range sink.All() {
		if r.Kind == KindTopicRegistered {
			got = &r
		}
	}
	require.NotNil(t, got)
	for key, want := range map[string]int64{"broker": 3, "partitions": 4, "session": 0x10} {
		a, ok := got.Attr(key)
		require.True(t, ok, key)
		assert.Equal(t, want, a.Num, key)
	}
	a, _ := got.Attr("why")
	assert.Equal(t, "new-topic", a.Str)
	assert.Panics(t, func() { Trace(w, sim.Kernel, 3, node.SetTimer{Name: "x"}) })
}
