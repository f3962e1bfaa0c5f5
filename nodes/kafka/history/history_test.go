package history

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// sample is the example of the package comment, with the field order the
// issue gives.
const sample = `{"type":"config","acks":"all","min_insync_replicas":2,"unclean_leader_election":false,"subscriptions":{"g":["t"]}}
{"type":"invoke","f":"send","process":"p1","topic":"t","key":7,"value":1,"t_ns":10}
{"type":"ok","f":"send","process":"p1","topic":"t","key":7,"value":1,"partition":0,"offset":0,"t_ns":20}
{"type":"ok","f":"poll","process":"c1","group":"g","topic":"t","partition":0,"offset":0,"value":1,"t_ns":30}
{"type":"ok","f":"commit","process":"c1","group":"g","topic":"t","partition":0,"offset":1,"t_ns":40}
`

func write(t interface{ Fatal(...any) }, c Config, ops []Op) string {
	var b bytes.Buffer
	w := NewWriter(&b)
	if err := w.WriteConfig(c); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		if err := w.Write(op); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

var sampleConfig = Config{Acks: AcksAll, MinInsyncReplicas: 2, Subscriptions: map[string][]string{"g": {"t"}}}

var sampleOps = []Op{
	{Type: Invoke, F: Send, Process: "p1", Topic: "t", Keyed: true, Key: 7, Value: 1, TimeNs: 10},
	{Type: OK, F: Send, Process: "p1", Topic: "t", Keyed: true, Key: 7, Value: 1, Partition: 0, Offset: 0, TimeNs: 20},
	{Type: OK, F: Poll, Process: "c1", Group: "g", Topic: "t", Partition: 0, Offset: 0, Value: 1, TimeNs: 30},
	{Type: OK, F: Commit, Process: "c1", Group: "g", Topic: "t", Partition: 0, Offset: 1, TimeNs: 40},
}

func TestWriteSample(t *testing.T) {
	if got := write(t, sampleConfig, sampleOps); got != sample {
		t.Fatalf("got\n%swant\n%s", got, sample)
	}
}

func TestReadSample(t *testing.T) {
	h, err := Read(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if !h.Config.Durable() || !maps.EqualFunc(h.Config.Subscriptions, sampleConfig.Subscriptions, slices.Equal) {
		t.Fatalf("config %+v", h.Config)
	}
	for i := range sampleOps {
		want := sampleOps[i]
		want.Line = i + 2
		if h.Ops[i] != want {
			t.Errorf("op %d = %+v, want %+v", i, h.Ops[i], want)
		}
	}
	// No final newline is fine too.
	if _, err := Read(strings.NewReader(strings.TrimSuffix(sample, "\n"))); err != nil {
		t.Fatal(err)
	}
}

func TestRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		name := rapid.StringMatching(`[a-z0-9_."\\\x01 é-]{1,8}`)
		c := Config{
			Acks:                  rapid.SampledFrom([]string{AcksAll, AcksOne, AcksNone}).Draw(t, "acks"),
			MinInsyncReplicas:     rapid.IntRange(1, 5).Draw(t, "minISR"),
			UncleanLeaderElection: rapid.Bool().Draw(t, "unclean"),
			PowerLoss:             rapid.Bool().Draw(t, "power-loss"),
			Subscriptions:         rapid.MapOfN(name, rapid.SliceOfN(name, 0, 3), 0, 3).Draw(t, "subs"),
		}
		var ops []Op
		var now int64
		var pending []Op // invoked, not completed
		for i := range rapid.IntRange(0, 30).Draw(t, "n") {
			now += rapid.Int64Range(0, 5).Draw(t, "dt")
			op := Op{Process: name.Draw(t, "process"), Topic: name.Draw(t, "topic"), TimeNs: now,
				Partition: rapid.Int32Range(0, 1<<31-1).Draw(t, "partition"), Offset: rapid.Int64Range(0, 1<<62).Draw(t, "offset")}
			switch k := rapid.IntRange(0, 3).Draw(t, "kind"); {
			case k == 0 || len(pending) == 0 && k == 1:
				op.Type, op.F, op.Value = Invoke, Send, uint64(i)<<40|rapid.Uint64Range(0, 1<<40-1).Draw(t, "v")
				op.Keyed = rapid.Bool().Draw(t, "keyed")
				if op.Keyed {
					op.Key = rapid.Uint64().Draw(t, "key")
				}
				op.Partition, op.Offset = 0, 0
				pending = append(pending, op)
			case k == 1:
				j := rapid.IntRange(0, len(pending)-1).Draw(t, "which")
				inv := pending[j]
				pending = slices.Delete(pending, j, j+1)
				op.Type = rapid.SampledFrom([]Type{OK, Fail, Info}).Draw(t, "outcome")
				op.F, op.Process, op.Topic, op.Keyed, op.Key, op.Value = Send, inv.Process, inv.Topic, inv.Keyed, inv.Key, inv.Value
				if op.Type != OK {
					op.Partition, op.Offset = 0, 0
				}
			case k == 2:
				op.Type, op.F, op.Group, op.Value = OK, Poll, name.Draw(t, "group"), rapid.Uint64().Draw(t, "value")
			default:
				op.Type, op.F, op.Group = OK, Commit, name.Draw(t, "group")
			}
			ops = append(ops, op)
		}
		text := write(t, c, ops)
		h, err := Read(strings.NewReader(text))
		if err != nil {
			t.Fatalf("%v\n%s", err, text)
		}
		if !maps.EqualFunc(h.Config.Subscriptions, c.Subscriptions, slices.Equal) {
			t.Fatalf("subscriptions %v, want %v", h.Config.Subscriptions, c.Subscriptions)
		}
		for i := range ops {
			got := h.Ops[i]
			got.Line = 0
			if got != ops[i] {
				t.Fatalf("op %d = %+v, want %+v", i, got, ops[i])
			}
		}
		// Writing what was read gives the same bytes.
		if again := write(t, h.Config, h.Ops); again != text {
			t.Fatalf("rewrite differs:\n%s\n%s", again, text)
		}
	})
}

func TestReadBadInput(t *testing.T) {
	cfg := `{"type":"config","acks":"all","min_insync_replicas":2,"unclean_leader_election":false,"subscriptions":{"g":["t"]}}`
	inv := `{"type":"invoke","f":"send","process":"p1","topic":"t","key":7,"value":1,"t_ns":10}`
	tests := []struct {
		name, text, want string
	}{
		{"empty", ``, "history: empty"},
		{"no config", inv, `line 1: the first line must be the config`},
		{"config later only", cfg + "\n" + `{"type":"config","acks":"0","min_insync_replicas":2,"unclean_leader_election":false,"subscriptions":{}}`, `line 2: weaker than the first config line (acks 0 is weaker than all)`},
		{"not an object", cfg + "\n[1]", `line 2: not a JSON object`},
		{"trailing", cfg + " {}", `line 1: bad JSON: more after the object`},
		{"broken JSON", cfg + "\n" + `{"type":"invoke",`, `line 2: bad JSON`},
		{"empty line", cfg + "\n\n" + inv, `line 2: empty line`},
		{"duplicate field", strings.Replace(cfg, `"acks":"all"`, `"acks":"all","acks":"1"`, 1), `line 1: field "acks": appears twice`},
		{"unknown field", strings.Replace(cfg, `"acks"`, `"ack":1,"acks"`, 1), `line 1: field "ack": not allowed on a config line`},
		{"missing field", strings.Replace(cfg, `,"unclean_leader_election":false`, ``, 1), `line 1: field "unclean_leader_election": missing from a config line`},
		{"bad acks", strings.Replace(cfg, `"all"`, `"-1"`, 1), `line 1: field "acks": "-1" is not "all", "1" or "0"`},
		{"acks a number", strings.Replace(cfg, `"all"`, `1`, 1), `line 1: field "acks": want a string, got 1`},
		{"min isr 0", strings.Replace(cfg, `:2`, `:0`, 1), `line 1: field "min_insync_replicas": want an integer in [1, 2147483647], got 0`},
		{"unclean a string", strings.Replace(cfg, `false`, `"no"`, 1), `line 1: field "unclean_leader_election": want true or false, got "no"`},
		{"subscriptions array", strings.Replace(cfg, `{"g":["t"]}`, `["t"]`, 1), `line 1: field "subscriptions": want an object`},
		{"subscription not array", strings.Replace(cfg, `["t"]`, `"t"`, 1), `line 1: field "subscriptions": group "g": want an array of topic strings, got "t"`},
		{"no type", cfg + "\n" + strings.Replace(inv, `"type":"invoke",`, ``, 1), `line 2: field "type": missing`},
		{"bad type", cfg + "\n" + strings.Replace(inv, `"invoke"`, `"start"`, 1), `line 2: field "type": "start" is not config, invoke, ok, fail or info`},
		{"bad f", cfg + "\n" + strings.Replace(inv, `"send"`, `"write"`, 1), `line 2: field "f": "write" is not send, poll or commit`},
		{"poll invoked", cfg + "\n" + `{"type":"invoke","f":"poll","process":"c","group":"g","topic":"t","partition":0,"offset":0,"value":1,"t_ns":1}`, `line 2: field "type": a poll is always ok, not invoke`},
		{"partition on invoke", cfg + "\n" + strings.Replace(inv, `"value":1`, `"value":1,"partition":0`, 1), `line 2: field "partition": not allowed on a invoke send line`},
		{"no offset on ok", cfg + "\n" + inv + "\n" + `{"type":"ok","f":"send","process":"p1","topic":"t","key":7,"value":1,"partition":0,"t_ns":20}`, `line 3: field "offset": missing from a ok send line`},
		{"value on commit", cfg + "\n" + `{"type":"ok","f":"commit","process":"c","group":"g","topic":"t","partition":0,"offset":0,"value":1,"t_ns":1}`, `line 2: field "value": not allowed on a ok commit line`},
		{"key a string", cfg + "\n" + strings.Replace(inv, `"key":7`, `"key":"7"`, 1), `line 2: field "key": want an integer in [0, 18446744073709551615], got "7"`},
		{"value negative", cfg + "\n" + strings.Replace(inv, `"value":1`, `"value":-1`, 1), `line 2: field "value": want an integer`},
		{"value fraction", cfg + "\n" + strings.Replace(inv, `"value":1`, `"value":1.5`, 1), `line 2: field "value": want an integer`},
		{"partition too big", cfg + "\n" + `{"type":"ok","f":"poll","process":"c","group":"g","topic":"t","partition":2147483648,"offset":0,"value":1,"t_ns":1}`, `line 2: field "partition": want an integer in [0, 2147483647], got 2147483648`},
		{"negative t_ns", cfg + "\n" + strings.Replace(inv, `"t_ns":10`, `"t_ns":-1`, 1), `line 2: field "t_ns": want an integer in [0,`},
		{"empty process", cfg + "\n" + strings.Replace(inv, `"p1"`, `""`, 1), `line 2: field "process": empty`},
		{"empty group", cfg + "\n" + `{"type":"ok","f":"poll","process":"c","group":"","topic":"t","partition":0,"offset":0,"value":1,"t_ns":1}`, `line 2: field "group": empty`},
		{"time goes back", cfg + "\n" + inv + "\n" + strings.Replace(strings.Replace(inv, `"t_ns":10`, `"t_ns":9`, 1), `"value":1`, `"value":2`, 1), `line 3: field "t_ns": 9 is before the previous line's 10`},
		{"value sent twice", cfg + "\n" + inv + "\n" + inv, `line 3: field "value": 1 was already sent on line 2`},
		{"completion without invoke", cfg + "\n" + `{"type":"fail","f":"send","process":"p1","topic":"t","key":7,"value":1,"t_ns":20}`, `line 2: field "value": 1 completes a send never invoked`},
		{"completed twice", cfg + "\n" + inv + "\n" + strings.Replace(inv, `"invoke"`, `"info"`, 1) + "\n" + strings.Replace(inv, `"invoke"`, `"fail"`, 1), `line 4: field "value": the send of 1 already completed on line 3`},
		{"completed by another process", cfg + "\n" + inv + "\n" + strings.Replace(strings.Replace(inv, `"invoke"`, `"info"`, 1), `"p1"`, `"p2"`, 1), `line 3: field "process": "p2" completes the send "p1" invoked on line 2`},
		{"completed with another key", cfg + "\n" + inv + "\n" + strings.Replace(strings.Replace(inv, `"invoke"`, `"info"`, 1), `"key":7`, `"key":null`, 1), `line 3: field "key": differs from the invoke on line 2`},
		{"too long", cfg + "\n" + `{"type":"` + strings.Repeat("x", LineBytesMax) + `"}`, `line 2: longer than 1048576 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tt.text))
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.text)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %q, want one line containing %q", err, tt.want)
			}
		})
	}
}

func TestWriterRefuses(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	if err := w.Write(sampleOps[0]); err == nil || !strings.Contains(err.Error(), "first line must be the config") {
		t.Fatalf("op before config: %v", err)
	}
	if err := w.WriteConfig(Config{Acks: "all"}); err == nil || !strings.Contains(err.Error(), "min_insync_replicas") {
		t.Fatalf("bad config: %v", err)
	}
	if err := w.WriteConfig(sampleConfig); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Op{Type: OK, F: Poll, Process: "c", Topic: "t", TimeNs: 1}); err == nil || !strings.Contains(err.Error(), `"group"`) {
		t.Fatalf("poll without group: %v", err)
	}
	if err := w.Write(sampleOps[1]); err == nil || !strings.Contains(err.Error(), "never invoked") {
		t.Fatalf("completion first: %v", err)
	}
	// Refused lines leave no trace: the sample still writes after them.
	for _, op := range sampleOps {
		if err := w.Write(op); err != nil {
			t.Fatal(err)
		}
	}
	if b.String() != sample {
		t.Fatalf("got\n%s", b.String())
	}
	if err := w.WriteConfig(Config{Acks: AcksOne, MinInsyncReplicas: 2}); err == nil || !strings.Contains(err.Error(), "weaker") {
		t.Fatalf("weaker later config: %v", err)
	}
	strong := Config{Acks: AcksAll, MinInsyncReplicas: 3, Process: "p2"}
	if err := w.WriteConfig(strong); err != nil {
		t.Fatal(err)
	}
	h, err := Read(&b)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Configs) != 1 || h.Configs[0].Process != "p2" || h.Configs[0].MinInsyncReplicas != 3 {
		t.Fatalf("later configs %+v", h.Configs)
	}
}

func TestWriterEscapes(t *testing.T) {
	c := Config{Acks: AcksOne, MinInsyncReplicas: 1, Subscriptions: map[string][]string{"b": {}, "a\"\\\n": {"x", "y"}}}
	got := write(t, c, []Op{{Type: Invoke, F: Send, Process: "p\t", Topic: "é", Value: 3}})
	want := `{"type":"config","acks":"1","min_insync_replicas":1,"unclean_leader_election":false,"subscriptions":{"a\"\\\u000a":["x","y"],"b":[]}}` + "\n" +
		`{"type":"invoke","f":"send","process":"p\u0009","topic":"é","key":null,"value":3,"t_ns":0}` + "\n"
	if got != want {
		t.Fatalf("got\n%swant\n%s", got, want)
	}
	if _, err := Read(strings.NewReader(got)); err != nil {
		t.Fatal(err)
	}
}

// history builds a history of a durable config with groups g1 (t) and
// g2 (t, u) from op lines; Line is filled as Read would.
func history(c Config, ops ...Op) *History {
	h := &History{Config: c}
	for i, op := range ops {
		op.Line = i + 2
		h.Ops = append(h.Ops, op)
	}
	return h
}

var twoGroups = Config{Acks: AcksAll, MinInsyncReplicas: 2, Subscriptions: map[string][]string{"g1": {"t"}, "g2": {"t", "u"}}}

func sendOK(v uint64, topic string, p int32, off int64) []Op {
	return []Op{
		{Type: Invoke, F: Send, Process: "p", Topic: topic, Value: v},
		{Type: OK, F: Send, Process: "p", Topic: topic, Value: v, Partition: p, Offset: off},
	}
}

func poll(g string, v uint64, topic string, p int32, off int64) Op {
	return Op{Type: OK, F: Poll, Process: "c-" + g, Group: g, Topic: topic, Partition: p, Offset: off, Value: v}
}

func render(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintln(&b, v)
	}
	return b.String()
}

func TestCheck(t *testing.T) {
	ops := func(parts ...any) []Op {
		var out []Op
		for _, p := range parts {
			switch p := p.(type) {
			case Op:
				out = append(out, p)
			case []Op:
				out = append(out, p...)
			}
		}
		return out
	}
	good := ops(sendOK(1, "t", 0, 0), sendOK(2, "u", 1, 5),
		poll("g1", 1, "t", 0, 0), poll("g2", 1, "t", 0, 0), poll("g2", 2, "u", 1, 5),
		poll("g1", 1, "t", 0, 0), // a duplicate delivery is fine: at least once
		Op{Type: OK, F: Commit, Process: "c", Group: "g1", Topic: "t", Partition: 0, Offset: 1})
	tests := []struct {
		name string
		cfg  Config
		ops  []Op
		want string
	}{
		{"all consumed", twoGroups, good, ""},
		{"g1 does not read u", twoGroups, good, ""},
		{
			// Planted bug: g2 never receives value 2 (lost acknowledged write).
			"lost for one group", twoGroups,
			slices.DeleteFunc(slices.Clone(good), func(op Op) bool { return op.F == Poll && op.Value == 2 }),
			"line 5: acked-sends-consumed: value 2 acknowledged at u/1@5 was never polled by group g2\n",
		},
		{
			// Planted bug: g1 reads value 1 at another offset (offsets moved).
			"polled elsewhere", twoGroups,
			ops(sendOK(1, "t", 0, 0), poll("g1", 1, "t", 0, 3), poll("g2", 1, "t", 0, 0)),
			"line 3: acked-sends-consumed: value 1 acknowledged at t/0@0 was polled by group g1 only at t/0@3 (line 4)\n",
		},
		{
			"not durable: acks=1 promises nothing", Config{Acks: AcksOne, MinInsyncReplicas: 2, Subscriptions: twoGroups.Subscriptions},
			ops(sendOK(1, "t", 0, 0)), "",
		},
		{
			"not durable: min ISR 1", Config{Acks: AcksAll, MinInsyncReplicas: 1, Subscriptions: twoGroups.Subscriptions},
			ops(sendOK(1, "t", 0, 0)), "",
		},
		{
			"not durable: a machine lost power", Config{Acks: AcksAll, MinInsyncReplicas: 2, PowerLoss: true, Subscriptions: twoGroups.Subscriptions},
			ops(sendOK(1, "t", 0, 0)), "",
		},
		{
			"fail and info promise nothing", twoGroups,
			ops(Op{Type: Invoke, F: Send, Process: "p", Topic: "t", Value: 1}, Op{Type: Info, F: Send, Process: "p", Topic: "t", Value: 1}), "",
		},
		{
			// Planted bug: two groups read offset 0 with different values
			// (a truncated and rewritten log).
			"two values at one offset", twoGroups,
			ops(poll("g1", 1, "t", 0, 0), poll("g2", 9, "t", 0, 0), poll("g2", 9, "t", 0, 0), poll("g1", 1, "t", 0, 1)),
			"line 3: one-value-per-offset: t/0@0 polled as value 9 by group g2, but as 1 by group g1 on line 2\n",
		},
		{
			"two values, one group", twoGroups,
			ops(poll("g1", 1, "t", 0, 0), poll("g1", 2, "t", 0, 0)),
			"line 3: one-value-per-offset: t/0@0 polled as value 2 by group g1, but as 1 by group g1 on line 2\n",
		},
		{
			"unclean elections may rewrite offsets", Config{Acks: AcksAll, MinInsyncReplicas: 2, UncleanLeaderElection: true},
			ops(poll("g1", 1, "t", 0, 0), poll("g2", 9, "t", 0, 0)), "",
		},
		{
			"power losses may rewrite offsets", Config{Acks: AcksAll, MinInsyncReplicas: 2, PowerLoss: true},
			ops(poll("g1", 1, "t", 0, 0), poll("g2", 9, "t", 0, 0)), "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(Check(history(tt.cfg, tt.ops...))); got != tt.want {
				t.Fatalf("got\n%swant\n%s", got, tt.want)
			}
		})
	}
}

func TestCheckLimit(t *testing.T) {
	var ops []Op
	for v := range uint64(ViolationsMax + 50) {
		ops = append(ops, sendOK(v, "t", 0, int64(v))...)
	}
	vs := Check(history(twoGroups, ops...))
	if len(vs) != ViolationsMax || !strings.Contains(vs[len(vs)-1].Msg, "and 201 more") {
		t.Fatalf("%d violations, last %v", len(vs), vs[len(vs)-1])
	}
}

// TestCheckAfterRead runs the checker on the sample as read.
func TestCheckAfterRead(t *testing.T) {
	h, err := Read(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if vs := Check(h); len(vs) != 0 {
		t.Fatal(vs)
	}
	lost := strings.Replace(sample, `"offset":0,"value":1`, `"offset":1,"value":1`, 1)
	h, err = Read(strings.NewReader(lost))
	if err != nil {
		t.Fatal(err)
	}
	if got := render(Check(h)); got != "line 3: acked-sends-consumed: value 1 acknowledged at t/0@0 was polled by group g only at t/0@1 (line 4)\n" {
		t.Fatal(got)
	}
}
