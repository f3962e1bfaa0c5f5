package zkconform

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// toyTarget is a deterministic stand-in for a ZooKeeper: it answers every
// step with a made-up but reproducible outcome, and reports a watch event
// to every session after each set. Its raw zxids and session ids depend on
// base, so that two toys differ only in what normalisation removes.
type toyTarget struct {
	base     int64
	sessions int
	zxid     int64
	ids      []int64
	pending  [][]Event
	root     string
}

func (t *toyTarget) Open(root string, sessions int) error {
	t.root, t.sessions = root, sessions
	t.zxid = t.base
	t.ids = make([]int64, sessions)
	t.pending = make([][]Event, sessions)
	for i := range t.ids {
		t.ids[i] = t.base*1000 + int64(i)
	}
	return nil
}

func (t *toyTarget) Do(session int, s Step) Outcome {
	t.zxid++
	switch s.Op {
	case OpCreate, OpCreateContainer:
		return Outcome{Path: FullPath(t.root, s.Path)}
	case OpSet:
		for i := range t.pending {
			t.pending[i] = append(t.pending[i], Event{Type: EventNodeDataChanged, Path: FullPath(t.root, s.Path)})
		}
		return Outcome{Stat: &Stat{Czxid: t.base, Mzxid: t.zxid, Ctime: t.base, Mtime: t.zxid, EphemeralOwner: t.ids[session]}}
	case OpGet:
		return Outcome{Data: []byte(s.Path), Stat: &Stat{Czxid: t.base, Mzxid: t.base, Ctime: t.base, Mtime: t.base}}
	case OpChildren:
		return Outcome{Children: []string{"a", "b"}, Stat: &Stat{Czxid: t.base, Mzxid: t.base, Ctime: t.base, Mtime: t.base}}
	}
	return Outcome{Err: CodeNoNode}
}

func (t *toyTarget) Expire(session int) error {
	t.ids[session] += 100
	t.pending[session] = append(t.pending[session], Event{Type: EventSession, State: StateExpired})
	return nil
}

func (t *toyTarget) Close(session int) error {
	t.ids[session] += 100
	return nil
}

func (t *toyTarget) Events(session int) []Event {
	evs := t.pending[session]
	t.pending[session] = nil
	return evs
}

func (t *toyTarget) Disconnect(session int) error { return nil }
func (t *toyTarget) Reconnect(session int) error  { return nil }
func (t *toyTarget) SessionID(session int) int64  { return t.ids[session] }
func (t *toyTarget) Shutdown()                    {}

// planted wraps a Target and alters the outcome, or the events, of its
// n-th Do call.
type planted struct {
	Target
	n, calls    int
	alter       func(*Outcome)
	extraEvent  bool
	alteredStep Step
}

func (p *planted) Do(session int, s Step) Outcome {
	o := p.Target.Do(session, s)
	if p.calls == p.n {
		p.alteredStep = s
		if p.alter != nil {
			p.alter(&o)
		}
	}
	p.calls++
	return o
}

func (p *planted) Events(session int) []Event {
	evs := p.Target.Events(session)
	if p.extraEvent && p.calls == p.n+1 && session == 0 {
		p.extraEvent = false
		evs = append(evs, Event{Type: EventNodeCreated, Path: "/planted"})
	}
	return evs
}

// doIndex returns the step index of the n-th step that goes through Do.
func doIndex(seq Sequence, n int) int {
	for i, s := range seq.Steps {
		if s.Op == OpClose || s.Op == OpExpire {
			continue
		}
		if n == 0 {
			return i
		}
		n--
	}
	return -1
}

func TestToyTargetsAgree(t *testing.T) {
	for i := 0; i < 30; i++ {
		seq := Generate(3, i)
		a := Run(&toyTarget{base: 10}, "/r/a", seq)
		b := Run(&toyTarget{base: 5000}, "/r/b", seq)
		if d := Compare(i, "a", a, "b", b); d != nil {
			t.Fatalf("toys diverge:\n%s", d)
		}
	}
}

func TestPlantedDivergenceIsReported(t *testing.T) {
	seq := Sequence{Sessions: 2, Steps: []Step{
		{Op: OpCreate, Path: "a", Data: []byte("x")},
		{Session: 1, Op: OpGet, Path: "a", Watch: true},
		{Op: OpSet, Path: "a", Version: -1},
		{Op: OpExpire},
		{Session: 1, Op: OpChildren},
		{Op: OpDelete, Path: "a"},
	}}
	cases := []struct {
		name  string
		call  int // Do call altered
		step  int // step index it is
		alter func(*Outcome)
	}{
		{"error", 4, 5, func(o *Outcome) { o.Err = CodeBadVersion }},
		{"path", 0, 0, func(o *Outcome) { o.Path += "x" }},
		{"data", 1, 1, func(o *Outcome) { o.Data = append(o.Data, '!') }},
		{"nil data", 1, 1, func(o *Outcome) { o.Data = nil }},
		{"stat version", 2, 2, func(o *Outcome) { o.Stat.Version++ }},
		{"stat zxid order", 2, 2, func(o *Outcome) { o.Stat.Mzxid, o.Stat.Mtime = o.Stat.Czxid, o.Stat.Ctime }},
		{"clock", 2, -1, func(o *Outcome) { o.Stat.Mtime = o.Stat.Ctime - 1 }},
		{"owner", 2, 2, func(o *Outcome) { o.Stat.EphemeralOwner = 0 }},
		{"children", 3, 4, func(o *Outcome) { o.Children = append(o.Children, "zz") }},
	}
	for _, c := range cases {
		ref := Run(&toyTarget{base: 10}, "/r/a", seq)
		p := &planted{Target: &toyTarget{base: 77}, n: c.call, alter: c.alter}
		got := Run(p, "/r/b", seq)
		d := Compare(1, "ref", ref, "planted", got)
		if d == nil {
			t.Errorf("%s: not reported", c.name)
			continue
		}
		if c.step < 0 {
			if d.Step != -1 || !strings.Contains(d.What, "inconsistent with itself") {
				t.Errorf("%s: want a self-inconsistency, got:\n%s", c.name, d)
			}
			continue
		}
		if d.Step != c.step || d.What != "outcomes differ" {
			t.Errorf("%s: reported at step %d (%s), want %d:\n%s", c.name, d.Step, d.What, c.step, d)
		}
		if !strings.Contains(d.Detail, "planted:") || !strings.Contains(d.Detail, FormatStep(p.alteredStep)) {
			t.Errorf("%s: report lacks the step or the sides:\n%s", c.name, d)
		}
	}
	ref := Run(&toyTarget{base: 10}, "/r/a", seq)
	got := Run(&planted{Target: &toyTarget{base: 77}, n: 1, extraEvent: true}, "/r/b", seq)
	if d := Compare(1, "ref", ref, "planted", got); d == nil || d.Step != 1 || d.What != "events differ" {
		t.Errorf("planted event: %v", d)
	}
	// Alterations normalisation rightly ignores: stats with errors, times
	// consistent with the zxids, the order of children.
	for _, alter := range []func(*Outcome){
		func(o *Outcome) { o.Children = []string{o.Children[1], o.Children[0]} },
	} {
		got := Run(&planted{Target: &toyTarget{base: 77}, n: 3, alter: alter}, "/r/b", seq)
		if d := Compare(1, "ref", ref, "planted", got); d != nil {
			t.Errorf("harmless alteration reported:\n%s", d)
		}
	}
}

func TestHarnessAndSetupErrorsAreDivergences(t *testing.T) {
	ok := &Trace{Records: []Record{{Step: Step{Op: OpExpire}}}}
	bad := &Trace{Records: []Record{{Step: Step{Op: OpExpire}, Outcome: Outcome{Harness: "expire: gave up"}}}}
	if d := Compare(0, "a", ok, "b", bad); d == nil || d.What != "harness error" {
		t.Errorf("harness error: %v", d)
	}
	if d := Compare(0, "a", bad, "b", bad); d == nil {
		t.Error("harness errors on both sides must still be reported")
	}
	if d := Compare(0, "a", ok, "b", &Trace{Setup: "no server"}); d == nil || d.Step != -1 {
		t.Errorf("setup error: %v", d)
	}
}

// realAddr returns the real server for tests that need one, or skips.
func realAddr(t *testing.T) string {
	addr := os.Getenv("KZSIM_ZK_ADDR")
	if addr == "" {
		t.Skip("set KZSIM_ZK_ADDR=127.0.0.1:PORT (a ZooKeeper 3.8 started by scripts/zk-conformance or by hand) to run")
	}
	return addr
}

func testRoot(t *testing.T, label string) string {
	return fmt.Sprintf("/zkconform-test/%s-%d/%s", t.Name(), time.Now().UnixNano(), label)
}

func TestRealSelfCheck(t *testing.T) {
	addr := realAddr(t)
	for i := 0; i < 12; i++ {
		seq := Generate(11, i)
		a := Run(NewRealTarget(RealConfig{Addr: addr}), testRoot(t, "a"+strconv.Itoa(i)), seq)
		b := Run(NewRealTarget(RealConfig{Addr: addr}), testRoot(t, "b"+strconv.Itoa(i)), seq)
		if d := Compare(i, "a", a, "b", b); d != nil {
			t.Errorf("real against real:\n%s", d)
		}
	}
}

func TestRealPlantedDivergence(t *testing.T) {
	addr := realAddr(t)
	seq := Sequence{Sessions: 1, Steps: []Step{
		{Op: OpCreate, Path: "a", Data: []byte("x")},
		{Op: OpSet, Path: "a", Data: []byte("y"), Version: -1},
		{Op: OpGet, Path: "a"},
	}}
	ref := Run(NewRealTarget(RealConfig{Addr: addr}), testRoot(t, "ref"), seq)
	p := &planted{Target: NewRealTarget(RealConfig{Addr: addr}), n: 1, alter: func(o *Outcome) { o.Stat.Version = 5 }}
	got := Run(p, testRoot(t, "planted"), seq)
	d := Compare(0, "real", ref, "planted", got)
	if d == nil || d.Step != 1 || !strings.Contains(d.Detail, "v=5") {
		t.Fatalf("planted version not reported: %v", d)
	}
}

// TestRealExpiry checks the forced expiry end to end: the server deletes the
// ephemeral and fires the other session's watch, the expired client sees
// Expired and NotWatching, and then holds a new session.
func TestRealExpiry(t *testing.T) {
	addr := realAddr(t)
	tg := NewRealTarget(RealConfig{Addr: addr})
	root := testRoot(t, "x")
	if err := tg.Open(root, 2); err != nil {
		t.Fatal(err)
	}
	defer tg.Shutdown()
	mustOK := func(s int, st Step) Outcome {
		t.Helper()
		o := tg.Do(s, st)
		if o.Err != CodeOK || o.Harness != "" {
			t.Fatalf("%s: %+v", FormatStep(st), o)
		}
		return o
	}
	mustOK(0, Step{Op: OpCreate, Path: "e", Flags: 1})
	mustOK(0, Step{Op: OpGet, Path: "e", Watch: true})
	mustOK(1, Step{Op: OpExists, Path: "e", Watch: true})
	tg.Events(0)
	tg.Events(1)
	old := tg.SessionID(0)
	start := time.Now()
	if err := tg.Expire(0); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if id := tg.SessionID(0); id == 0 || id == old {
		t.Errorf("session id after expiry: %#x (was %#x)", id, old)
	}
	var got0, got1 []string
	for _, e := range tg.Events(0) {
		got0 = append(got0, fmt.Sprint(e.Type, " ", e.State, e.Path, " ", e.Err))
	}
	for _, e := range tg.Events(1) {
		got1 = append(got1, fmt.Sprint(e.Type, " ", e.Path))
	}
	if !strings.Contains(strings.Join(got0, "|"), "Session Expired") ||
		!strings.Contains(strings.Join(got0, "|"), "NotWatching "+root+"/e SessionExpired") {
		t.Errorf("expired session's events: %v", got0)
	}
	if strings.Join(got1, "|") != "NodeDeleted "+root+"/e" {
		t.Errorf("other session's events: %v", got1)
	}
	if o := mustOK(1, Step{Op: OpExists, Path: "e"}); o.Exists {
		t.Error("ephemeral survived its session's expiry")
	}
	mustOK(0, Step{Op: OpCreate, Path: "e", Flags: 1}) // the new session works
	t.Logf("forced expiry took %v", took)
}

// TestRealDisturbedOnUnaskedDrop cuts a session's TCP connection behind
// go-zk's back, as an overloaded machine would, and expects the target to
// say that the run cannot be trusted; expiry and close must not.
func TestRealDisturbedOnUnaskedDrop(t *testing.T) {
	addr := realAddr(t)
	tg := NewRealTarget(RealConfig{Addr: addr})
	if err := tg.Open(testRoot(t, "x"), 2); err != nil {
		t.Fatal(err)
	}
	defer tg.Shutdown()
	if err := tg.Expire(0); err != nil {
		t.Fatal(err)
	}
	if err := tg.Close(1); err != nil {
		t.Fatal(err)
	}
	tg.Do(1, Step{Op: OpSync})
	if d := tg.Disturbed(); d != "" {
		t.Fatalf("expiry and close disturbed the run: %s", d)
	}
	g := tg.sess[0].gate
	g.mu.Lock()
	for _, c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
	if err := waitFor(5*time.Second, func() bool { return tg.Disturbed() != "" }); err != nil {
		t.Fatal("an unasked connection drop went unnoticed")
	}
}
