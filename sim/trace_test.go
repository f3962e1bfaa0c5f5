package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTraceLevelZeroValueAndContradictions(t *testing.T) {
	assert.Equal(t, TraceHash, New(Options{}).TraceLevel(), "no sinks: hash only")
	assert.Equal(t, TraceFull, New(Options{Sinks: []Sink{&MemorySink{}}}).TraceLevel(), "sinks: full")
	assert.Equal(t, TraceOff, New(Options{Trace: TraceOff}).TraceLevel())
	assert.False(t, New(Options{Trace: TraceOff}).Tracing())
	assert.True(t, New(Options{Trace: TraceHash}).Tracing())
	assert.PanicsWithValue(t, "sim: Options.Trace is off but 1 sinks are given: use TraceFull (or leave Trace zero)",
		func() { New(Options{Trace: TraceOff, Sinks: []Sink{&MemorySink{}}}) })
	assert.Panics(t, func() { New(Options{Trace: TraceHash, Sinks: []Sink{&MemorySink{}}}) })
	assert.PanicsWithValue(t, "sim: Options.Trace is TraceFull but no sink is given", func() { New(Options{Trace: TraceFull}) })
	assert.Panics(t, func() { New(Options{Trace: 9}) })
}

// traceOf runs fn as a kernel event of a fresh world with a memory sink and
// returns the records fn made and the run's hash.
func traceOf(t *testing.T, fn func(w *World)) ([]Record, string) {
	t.Helper()
	mem := &MemorySink{}
	w := New(Options{Sinks: []Sink{mem}})
	w.AddProcess("p1", ProcessHooks{})
	w.At(Kernel, 0, "x", func() { fn(w) })
	w.Run()
	var out []Record
	for _, r := range mem.All() {
		if r.Kind != KindEvent {
			out = append(out, r)
		}
	}
	return out, w.TraceHash()
}

func TestEmitCarriesTypedAttributes(t *testing.T) {
	recs, _ := traceOf(t, func(w *World) {
		w.Emit("zk.txn", 1, "create", Str("path", "/a b"), Hex("zxid", 0x1f), Int("n", -3), Proc("leader", 1),
			Connection("via", 7), Dur("timeout", 3*Second), Bool("multi", true))
	})
	require.Len(t, recs, 1)
	r := recs[0]
	assert.Equal(t, "create", r.Label)
	assert.Equal(t, `path="/a b" zxid=0x1f n=-3 leader=p1 via=c7 timeout=3s multi=true`, r.Detail())
	a, ok := r.Attr("zxid")
	require.True(t, ok)
	assert.Equal(t, Attr{Key: "zxid", Kind: AttrHex, Num: 0x1f}, a)
	_, ok = r.Attr("nope")
	assert.False(t, ok)
	assert.Contains(t, r.String(), "zk.txn")
}

func TestEmitRejectsBadAttributes(t *testing.T) {
	w := New(Options{})
	for _, key := range []string{"", "step", "kind", "proc", "conn", "label", "t_ns"} {
		assert.Panics(t, func() { w.Emit("x", Kernel, "", Int(key, 1)) }, "key %q", key)
	}
	assert.PanicsWithValue(t, `sim: attribute "k" has no valid kind (0): build it with sim.Int, sim.Str, …`,
		func() { w.Emit("x", Kernel, "", Attr{Key: "k"}) })
	many := make([]Attr, MaxAttrs+1)
	for i := range many {
		many[i] = Int(fmt.Sprintf("k%d", i), i)
	}
	assert.Panics(t, func() { w.Emit("x", Kernel, "", many...) })
	assert.Panics(t, func() { w.Emit("x", 5, "") }, "unknown process")
	off := New(Options{Trace: TraceOff})
	assert.NotPanics(t, func() { off.Emit("x", Kernel, "", Attr{}) }, "with the trace off nothing is looked at")
}

func TestEmitDoesNotAllocate(t *testing.T) {
	for _, opts := range []Options{{Trace: TraceHash}, {Sinks: []Sink{discard{}}}} {
		w := New(opts)
		path := "/brokers/ids/1"
		n := testing.AllocsPerRun(100, func() {
			w.Emit("zk.znode", Kernel, "NodeCreated", Str("path", path), Hex("zxid", 42), Int("n", 1))
		})
		assert.Zero(t, n, "trace %v", w.TraceLevel())
	}
}

type discard struct{}

func (discard) Write(*Record) error { return nil }

// TestHashCoversKindKeyAndValue: the encoding separates kinds, keys and
// values, so records that print alike but differ hash differently.
func TestHashCoversKindKeyAndValue(t *testing.T) {
	hash := func(attrs ...Attr) string {
		_, h := traceOf(t, func(w *World) { w.Emit("k", Kernel, "l", attrs...) })
		return h
	}
	base := hash(Int("n", 1))
	assert.Equal(t, base, hash(Int("n", 1)), "same record, same hash")
	distinct := map[string]string{"base": base}
	for name, attrs := range map[string][]Attr{
		"kind tag":       {Hex("n", 1)},
		"key":            {Int("m", 1)},
		"value":          {Int("n", 2)},
		"high bit":       {Int("n", uint64(1|1<<63))},
		"no attrs":       {},
		"two attrs":      {Int("n", 1), Int("n", 1)},
		"str split a":    {Str("ab", "c")},
		"str split b":    {Str("a", "bc")},
		"str 8 bytes":    {Str("s", "abcdefgh")},
		"str 8+zero":     {Str("s", "abcdefgh\x00")},
		"str empty":      {Str("s", "")},
		"str zero":       {Str("s", "\x00")},
		"str two zeros":  {Str("s", "\x00\x00")},
		"dur not int":    {Dur("n", 1)},
		"proc not conn":  {Proc("n", 1)},
		"conn not proc":  {Connection("n", 1)},
		"bool not int":   {Bool("n", true)},
		"label in attrs": {Str("l", "")},
	} {
		h := hash(attrs...)
		for other, oh := range distinct {
			assert.NotEqual(t, oh, h, "%s hashes like %s", name, other)
		}
		distinct[name] = h
	}
	_, a := traceOf(t, func(w *World) { w.Emit("ab", Kernel, "c") })
	_, b := traceOf(t, func(w *World) { w.Emit("a", Kernel, "bc") })
	assert.NotEqual(t, a, b, "kind and label boundary")
}

func TestHashIgnoresNamesButNotIds(t *testing.T) {
	run := func(name string, proc ProcID) string {
		w := New(Options{})
		w.AddProcess(name, ProcessHooks{})
		w.AddProcess("other", ProcessHooks{})
		w.Emit("k", proc, "")
		return w.TraceHash()
	}
	assert.Equal(t, run("a", 1), run("b", 1))
	assert.NotEqual(t, run("a", 1), run("a", 2))
}

func TestJSONSinkRoundTripsThroughEncodingJSON(t *testing.T) {
	nasty := []string{
		"", "plain", `quote " backslash \ slash /`, "line\nfeed\r\ttab", "\x00\x01\x1f\x7f",
		"<html>&amp;", "é ü 日本 🎉", "bad \xff\xfe utf8", "\u2028\u2029", "trunc \xe6\x97",
	}
	r := Record{Step: 12, At: 3456, Kind: "zk.txn", Proc: 2, ProcName: "zk", Peer: 3, PeerName: "m\"0", Conn: 9, Label: "setData"}
	for i, s := range nasty {
		r.Attrs = append(r.Attrs, Str(fmt.Sprintf("s%d", i), s))
	}
	r.Attrs = append(r.Attrs, Int("neg", -1<<63), Hex("zxid", 1<<62), Hex("minus", -2), Dur("timeout", 3*Second),
		Bool("multi", true), Bool("no", false), Connection("via", 4), Attr{Key: "leader", Kind: AttrProc, Num: 3, Str: "m0"})
	line := AppendJSON(nil, &r)
	require.True(t, bytes.HasSuffix(line, []byte("}\n")))
	require.Equal(t, 1, bytes.Count(line, []byte("\n")), "one line")

	var got map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&got), "%s", line)
	want := map[string]any{
		"step": json.Number("12"), "t_ns": json.Number("3456"), "kind": "zk.txn", "proc": json.Number("2"),
		"proc_name": "zk", "peer": json.Number("3"), "peer_name": "m\"0", "conn": json.Number("9"), "label": "setData",
		"neg": json.Number("-9223372036854775808"), "zxid": "0x4000000000000000", "minus": "-0x2",
		"timeout_ns": json.Number("3000000000"), "multi": true, "no": false, "via": json.Number("4"),
		"leader": json.Number("3"), "leader_name": "m0",
	}
	for i, s := range nasty {
		// encoding/json's own rendering of the string decides what it should read back as.
		var exp string
		enc, err := json.Marshal(s)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(enc, &exp))
		want[fmt.Sprintf("s%d", i)] = exp
	}
	assert.Equal(t, want, got)
}

func TestJSONStringMatchesEncodingJSON(t *testing.T) {
	// Byte for byte, except that encoding/json also escapes <, > and &.
	for _, s := range []string{"a\"b\\c", "\x00\x1f\n", "bad \xff", "\u2028x\u2029", "日本", "\xe6\x97"} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		require.NoError(t, enc.Encode(s))
		assert.Equal(t, strings.TrimSuffix(buf.String(), "\n"), string(appendJSONString(nil, s)), "%q", s)
	}
}

func TestMemorySinkKeepsEveryRecordAcrossChunks(t *testing.T) {
	m := &MemorySink{}
	n := memRecordChunk*2 + 17
	for i := 0; i < n; i++ {
		attrs := make([]Attr, i%4)
		for j := range attrs {
			attrs[j] = Int(fmt.Sprintf("k%d", j), i*10+j)
		}
		require.NoError(t, m.Write(&Record{Step: uint64(i), Kind: "k", Proc: ProcID(i % 3), ProcName: fmt.Sprint("p", i%3), Attrs: attrs}))
	}
	require.Equal(t, n, m.Len())
	for i, r := range m.All() {
		require.Equal(t, uint64(i), r.Step)
		require.Len(t, r.Attrs, i%4)
		for j, a := range r.Attrs {
			require.Equal(t, Int(fmt.Sprintf("k%d", j), i*10+j), a)
		}
		require.Equal(t, fmt.Sprint("p", i%3), r.ProcName)
	}
	assert.Len(t, m.Records(), n)
	assert.Panics(t, func() { m.At(n) })
}

// memoryPerRecord writes n records shaped like a ZooKeeper-heavy trace into a
// MemorySink and returns the heap bytes it holds per record.
func memoryPerRecord(n int) float64 {
	paths := make([]string, 1024)
	for i := range paths {
		paths[i] = fmt.Sprintf("/brokers/topics/t%d/partitions/%d/state", i/8, i%8)
	}
	msg := "setData /brokers/topics/t1/partitions/0/state v=3"
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := &MemorySink{}
	r := Record{Kind: KindEvent, ProcName: "zk", Label: "deliver"}
	for i := 0; i < n; i++ {
		r.Step = uint64(i)
		r.At = Time(i) * 1000
		switch i % 4 {
		case 0: // the event
			r.Kind, r.Attrs = KindEvent, nil
		case 1: // the message (its text is shared by send and deliver)
			r.Kind, r.Attrs = KindMsgDeliver, []Attr{Str("msg", msg)}
		case 2:
			r.Kind, r.Attrs = "zk.txn", []Attr{Str("path", paths[i%len(paths)]), Hex("zxid", i), Hex("session", 1<<56+1)}
		case 3:
			r.Kind, r.Attrs = "zk.znode", []Attr{Str("path", paths[i%len(paths)]), Hex("zxid", i)}
		}
		_ = m.Write(&r)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(m)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// TestMemorySinkFiveMillionRecordsFitInAGiB checks the bytes per record
// that 5 M records in memory need to stay under 1 GiB (214), on a sample.
func TestMemorySinkFiveMillionRecordsFitInAGiB(t *testing.T) {
	if testing.Short() {
		t.Skip("measures memory")
	}
	per := memoryPerRecord(200_000)
	t.Logf("%.1f bytes per record: 5M records take %.0f MiB", per, per*5e6/(1<<20))
	assert.Less(t, per*5e6, float64(1<<30))
}

// BenchmarkMemorySinkBytesPerRecord reports the memory a record costs in a
// MemorySink (a ZooKeeper-heavy mix, strings shared with the run).
func BenchmarkMemorySinkBytesPerRecord(b *testing.B) {
	per := 0.0
	for b.Loop() {
		per = memoryPerRecord(1_000_000)
	}
	b.ReportMetric(per, "B/record")
}

// countingMsg counts how often it is formatted.
type countingMsg struct{ n *int }

func (m countingMsg) String() string { *m.n++; return "counted" }

func TestMessageTextIsFormattedOnceAtSendAndNeverWithoutTrace(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want int
	}{{Options{Trace: TraceOff}, 0}, {Options{}, 2}, {Options{Sinks: []Sink{&MemorySink{}}}, 2}} {
		w := New(tc.opts)
		a := w.AddProcess("a", ProcessHooks{})
		b := w.AddProcess("b", ProcessHooks{})
		w.Listen(b, func(*Conn) ConnHandler { return ConnHandler{} })
		n := 0
		w.At(Kernel, 0, "dial", func() {
			c := w.Dial(a, b, ConnHandler{})
			c.Send(countingMsg{&n})
			c.Send(countingMsg{&n})
		})
		w.Run()
		assert.Equal(t, 2, int(w.Stats().MessagesDelivered))
		assert.Equal(t, tc.want, n, "trace %v: once per message, at send", w.TraceLevel())
	}
}

// TestStatsDoNotDependOnTheTraceLevel: counters are counted, not derived
// from records, so a run counts the same at every level.
func TestStatsDoNotDependOnTheTraceLevel(t *testing.T) {
	run := func(opts Options) Stats {
		opts.Seed, opts.Latency = 3, Uniform(Millisecond, 5*Millisecond)
		p := newPair(t, opts)
		p.w.At(Kernel, 0, "dial", func() {
			c := p.w.Dial(p.a, p.b, p.handler())
			for i := 0; i < 20; i++ {
				c.Send(note("x"))
			}
		})
		p.w.At(Kernel, Time(2*Millisecond), "cut", func() { p.w.Partition([]ProcID{p.a}, []ProcID{p.b}) })
		p.w.At(Kernel, Time(3*Millisecond), "crash", func() { p.w.Crash(p.a) })
		p.w.Run()
		return p.w.Stats()
	}
	off := run(Options{Trace: TraceOff})
	assert.Equal(t, off, run(Options{}))
	assert.Equal(t, off, run(Options{Sinks: []Sink{&MemorySink{}}}))
	assert.Equal(t, uint64(20), off.MessagesSent)
	assert.Positive(t, off.MessagesLost)
	assert.Equal(t, off.MessagesSent, off.MessagesDelivered+off.MessagesLost)
	assert.Equal(t, uint64(1), off.Crashes)
	assert.Equal(t, uint64(1), off.Partitions)
	assert.Equal(t, uint64(1), off.ConnsBroken)
}
