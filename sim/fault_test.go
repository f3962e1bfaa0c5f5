package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func lat(l Latency) *Latency { return &l }

// everyKind is a schedule with one fault of each kind.
var everyKind = Schedule{
	{At: 1_000, Duration: 2_000, Fault: Fault{ID: 1, Kind: FaultCrash, Proc: "n0"}},
	{At: 1_500, Fault: Fault{ID: 2, Kind: FaultRestart, Proc: "n0"}},
	{At: 2_000, Duration: 5, Fault: Fault{ID: 3, Kind: FaultPause, Proc: "n1"}},
	{At: 3_000, Duration: 7, Fault: Fault{ID: 4, Kind: FaultPartition, A: []string{"n0", "n1"}, B: []string{"n2"}}},
	{At: 3_000, Fault: Fault{ID: 5, Kind: FaultOneWay, A: []string{"n2"}, B: []string{"n0"}}},
	{At: 4_000, Duration: 1, Fault: Fault{ID: 6, Kind: FaultIsolate, Proc: "n2"}},
	{At: 5_000, Duration: 9, Fault: Fault{ID: 7, Kind: FaultLatency, From: "n0", To: "n1", Latency: lat(Pareto(Millisecond, 20*Millisecond, 1.1, 2*Second))}},
	{At: 6_000, Duration: 3, Fault: Fault{ID: 8, Kind: FaultSlowDisk, Proc: "n1", Extra: 5 * Millisecond}},
	{At: 7_000, Duration: 4, Fault: Fault{ID: 9, Kind: FaultDiskCrashLoss, Proc: "n1"}},
}

func TestScheduleJSONFormat(t *testing.T) {
	b, err := json.Marshal(everyKind[:2])
	require.NoError(t, err)
	assert.Equal(t, `[{"at_ns":1000,"duration_ns":2000,"id":1,"kind":"crash","proc":"n0"},{"at_ns":1500,"duration_ns":0,"id":2,"kind":"restart","proc":"n0"}]`, string(b))
	b, err = json.Marshal(everyKind[6])
	require.NoError(t, err)
	assert.Equal(t, `{"at_ns":5000,"duration_ns":9,"id":7,"kind":"latency","from":"n0","to":"n1","latency":{"kind":"pareto","min_ns":1000000,"max_ns":2000000000,"scale_ns":20000000,"alpha":1.1}}`, string(b))
	b, err = json.MarshalIndent(everyKind, "", " ")
	require.NoError(t, err)
	back, err := ParseSchedule(b)
	require.NoError(t, err)
	assert.Equal(t, everyKind, back)
}

// genSchedule draws a valid schedule: every kind, odd names, any durations.
func genSchedule(t *rapid.T) Schedule {
	names := []string{"n0", "n1", "zk", "broker-1", `q"uote`, "ünï", "a b"}
	pick := func(label string) string { return rapid.SampledFrom(names).Draw(t, label) }
	side := func(label string, taken map[string]bool) []string {
		var out []string
		for _, n := range rapid.SliceOfNDistinct(rapid.SampledFrom(names), 1, 3, func(s string) string { return s }).Draw(t, label) {
			if !taken[n] {
				taken[n] = true
				out = append(out, n)
			}
		}
		return out
	}
	kinds := []FaultKind{FaultCrash, FaultRestart, FaultPause, FaultPartition, FaultOneWay, FaultIsolate, FaultLatency, FaultSlowDisk, FaultDiskCrashLoss}
	var s Schedule
	n := rapid.IntRange(0, 12).Draw(t, "entries")
	for i := 0; i < n; i++ {
		e := Entry{
			At:       Time(rapid.Int64Range(0, 1<<62).Draw(t, "at")),
			Duration: Duration(rapid.Int64Range(0, 1<<62).Draw(t, "duration")),
			Fault:    Fault{ID: FaultID(i + 1), Kind: rapid.SampledFrom(kinds).Draw(t, "kind")},
		}
		switch e.Kind {
		case FaultPartition, FaultOneWay:
			taken := map[string]bool{}
			e.A = side("a", taken)
			e.B = side("b", taken)
			if len(e.B) == 0 {
				continue // every name went to side a
			}
		case FaultLatency:
			e.From, e.To = pick("from"), pick("to")
			if e.From == e.To {
				continue
			}
			min := Duration(rapid.Int64Range(0, int64(Second)).Draw(t, "min"))
			max := min + Duration(rapid.Int64Range(0, int64(Second)).Draw(t, "spread"))
			switch rapid.IntRange(0, 2).Draw(t, "dist") {
			case 0:
				e.Latency = lat(Fixed(min))
			case 1:
				e.Latency = lat(Uniform(min, max))
			default:
				alpha := rapid.Float64Range(0.001, 100).Draw(t, "alpha")
				e.Latency = lat(Pareto(min, Duration(rapid.Int64Range(1, int64(Second)).Draw(t, "scale")), alpha, max))
			}
		case FaultSlowDisk:
			e.Proc = pick("proc")
			e.Extra = Duration(rapid.Int64Range(1, int64(Hour)).Draw(t, "extra"))
		default:
			e.Proc = pick("proc")
		}
		if e.Kind == FaultRestart {
			e.Duration = 0
		}
		s = append(s, e)
	}
	return s
}

// TestPropertyScheduleJSONRoundTrip: every valid schedule encodes to JSON and
// back to the same value, and encodes again to the same bytes.
func TestPropertyScheduleJSONRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genSchedule(t)
		require.NoError(t, s.Validate())
		b, err := json.Marshal(s)
		require.NoError(t, err)
		back, err := ParseSchedule(b)
		require.NoError(t, err, "%s", b)
		assert.Equal(t, s, back)
		b2, err := json.Marshal(back)
		require.NoError(t, err)
		assert.Equal(t, string(b), string(b2))
	})
}

func TestParseScheduleRejectsBadInput(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`[{"at_ns":0,"duration_ns":0,"id":1,"kind":"meteor","proc":"n0"}]`, `schedule: schedule entry 0: fault 1 (meteor): unknown kind "meteor"`},
		{`[{"at_ns":0,"duration_ns":0,"id":1,"kind":"crash","proc":"n0","colour":"red"}]`, `schedule: json: unknown field "colour"`},
		{`[{"at":0,"duration_ns":0,"id":1,"kind":"crash","proc":"n0"}]`, `schedule: json: unknown field "at"`},
		{`[{"at_ns":0,"duration_ns":0,"id":1,"kind":"crash"}]`, `schedule: schedule entry 0: fault 1 (crash): field "proc" is missing`},
		{`[{"at_ns":0,"duration_ns":0,"id":1,"kind":"crash","proc":"n0","a":["n1"]}]`, `fault 1 (crash): field "a" does not apply`},
		{`[{"at_ns":0,"duration_ns":0,"id":1,"kind":"partition","a":["n0"]}]`, `fault 1 (partition): field "b" is missing`},
		{`[{"at_ns":0,"duration_ns":0,"id":1,"kind":"partition","a":["n0","n1"],"b":["n1"]}]`, `fault 1 (partition): "n1" is on both sides`},
		{`[{"at_ns":0,"duration_ns":0,"id":1,"kind":"one-way","a":["n0","n0"],"b":["n1"]}]`, `fault 1 (one-way): side "a" names "n0" twice`},
		{`[{"at_ns":0,"duration_ns":-5,"id":1,"kind":"pause","proc":"n0"}]`, `fault 1 (pause): negative duration_ns -5`},
		{`[{"at_ns":-1,"duration_ns":0,"id":1,"kind":"pause","proc":"n0"}]`, `fault 1 (pause): negative at_ns -1`},
		{`[{"at_ns":0,"duration_ns":9,"id":1,"kind":"restart","proc":"n0"}]`, `fault 1 (restart): a restart is instant, duration_ns must be 0`},
		{`[{"at_ns":0,"duration_ns":0,"id":0,"kind":"pause","proc":"n0"}]`, `fault 0 (pause): id 0: ids start at 1`},
		{`[{"at_ns":0,"duration_ns":0,"id":4,"kind":"pause","proc":"n0"},{"at_ns":0,"duration_ns":0,"id":4,"kind":"crash","proc":"n0"}]`, `schedule entry 1: fault id 4 is used by entry 0 too`},
		{`[{"at_ns":0,"duration_ns":0,"id":1,"kind":"latency","from":"n0","to":"n1","latency":{"kind":"gamma","min_ns":0,"max_ns":0,"scale_ns":0,"alpha":0}}]`, `latency: unknown kind "gamma" (known: fixed, uniform, pareto)`},
		{`[{"at_ns":0,"duration_ns":0,"id":1,"kind":"latency","from":"n0","to":"n1","latency":{"kind":"fixed","min_ns":0,"max":0}}]`, `latency: json: unknown field "max"`},
		{`[{"at_ns":0,"duration_ns":0,"id":1,"kind":"latency","from":"n0","to":"n1","latency":{"kind":"uniform","min_ns":5,"max_ns":1,"scale_ns":0,"alpha":0}}]`, `latency: maximum 1ns below minimum 5ns`},
		{`[{"at_ns":0,"duration_ns":0,"id":1,"kind":"latency","from":"n0","to":"n0","latency":{"kind":"fixed","min_ns":5,"max_ns":5,"scale_ns":0,"alpha":0}}]`, `fault 1 (latency): link n0->n0 goes nowhere`},
		{`[{"at_ns":0,"duration_ns":0,"id":1,"kind":"slow-disk","proc":"n0","extra_ns":-3}]`, `fault 1 (slow-disk): negative extra_ns -3`},
		{`[{"at_ns":"soon","duration_ns":0,"id":1,"kind":"pause","proc":"n0"}]`, `schedule: json: cannot unmarshal string into Go struct field`},
		{`[] []`, `schedule: data after the array`},
		{`{"faults":[]}`, `schedule: json: cannot unmarshal object into Go value of type sim.Schedule`},
		{``, `schedule: EOF`},
	} {
		_, err := ParseSchedule([]byte(tc.in))
		if assert.Error(t, err, tc.in) {
			assert.Contains(t, err.Error(), tc.want, tc.in)
			assert.NotContains(t, err.Error(), "\n", "one line")
		}
	}
}

// faultWorld is three processes that listen, for injector tests.
func faultWorld(t *testing.T) (*World, *Injector, *MemorySink, []ProcID) {
	mem := &MemorySink{}
	w := New(Options{Sinks: []Sink{mem}})
	var ids []ProcID
	for _, n := range []string{"n0", "n1", "n2"} {
		id := w.AddProcess(n, ProcessHooks{})
		ids = append(ids, id)
		w.Listen(id, func(c *Conn) ConnHandler { return ConnHandler{} })
	}
	return w, NewInjector(w), mem, ids
}

// at runs the world to t and then checks.
func at(w *World, t Duration, check func()) {
	w.RunUntil(Time(t))
	check()
}

func TestInjectorOverlappingCutsEndOneByOne(t *testing.T) {
	w, in, _, p := faultWorld(t)
	var healed []string
	in.OnHeal = func(f Fault, why string) { healed = append(healed, fmt.Sprintf("%d %s at %v", f.ID, why, w.Now())) }
	require.NoError(t, in.Schedule(Schedule{
		{At: 0, Duration: 3 * Second, Fault: Fault{ID: 1, Kind: FaultPartition, A: []string{"n0"}, B: []string{"n1"}}},
		{At: Time(Second), Duration: Second, Fault: Fault{ID: 2, Kind: FaultOneWay, A: []string{"n0"}, B: []string{"n1", "n2"}}},
		{At: Time(Second), Duration: 500 * Millisecond, Fault: Fault{ID: 3, Kind: FaultIsolate, Proc: "n2"}},
	}))
	at(w, 1200*Millisecond, func() {
		assert.False(t, w.Reachable(p[2], p[0]), "isolated")
		assert.False(t, w.Reachable(p[2], p[1]), "isolated")
		assert.Equal(t, []FaultID{1, 2, 3}, ids(in.Active()))
	})
	at(w, 2500*Millisecond, func() {
		assert.False(t, w.Reachable(p[0], p[1]), "fault 1 lasts its 3s although fault 2 healed")
		assert.False(t, w.Reachable(p[1], p[0]))
		assert.True(t, w.Reachable(p[0], p[2]), "fault 2 is over")
		assert.True(t, w.Reachable(p[2], p[1]), "fault 3 is over")
		assert.Equal(t, []FaultID{1}, ids(in.Active()))
	})
	w.Run()
	assert.True(t, w.Reachable(p[0], p[1]))
	assert.Empty(t, in.Active())
	assert.Equal(t, []string{"3 scheduled at 1.5s", "2 scheduled at 2s", "1 scheduled at 3s"}, healed)
}

func ids(es []Entry) []FaultID {
	out := []FaultID{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestInjectorCrashesHoldAProcessDown(t *testing.T) {
	w, in, _, p := faultWorld(t)
	require.NoError(t, in.Schedule(Schedule{
		{At: 0, Duration: 2 * Second, Fault: Fault{ID: 1, Kind: FaultCrash, Proc: "n0"}},
		{At: Time(Second), Duration: 3 * Second, Fault: Fault{ID: 2, Kind: FaultCrash, Proc: "n0"}},
		{At: 0, Duration: 10 * Second, Fault: Fault{ID: 3, Kind: FaultCrash, Proc: "n1"}},
		{At: Time(5 * Second), Fault: Fault{ID: 4, Kind: FaultRestart, Proc: "n1"}},
	}))
	at(w, 3*Second, func() { assert.False(t, w.IsUp(p[0]), "fault 2 still holds n0 down") })
	at(w, 4*Second, func() { assert.True(t, w.IsUp(p[0])) })
	at(w, 5*Second, func() {
		assert.True(t, w.IsUp(p[1]), "the restart ends fault 3")
		assert.False(t, in.IsActive(3))
	})
	assert.Equal(t, uint32(2), w.Incarnation(p[0]), "one crash, one restart for overlapping crashes")
	assert.Equal(t, 0, w.Pending(), "fault 3's heal was cancelled with it")
}

func TestInjectorPausesAndCrashEndsPause(t *testing.T) {
	w, in, _, p := faultWorld(t)
	require.NoError(t, in.Schedule(Schedule{
		{At: 0, Duration: 2 * Second, Fault: Fault{ID: 1, Kind: FaultPause, Proc: "n0"}},
		{At: Time(Second), Duration: 2 * Second, Fault: Fault{ID: 2, Kind: FaultPause, Proc: "n0"}},
		{At: 0, Duration: 5 * Second, Fault: Fault{ID: 3, Kind: FaultPause, Proc: "n1"}},
		{At: Time(Second), Duration: Second, Fault: Fault{ID: 4, Kind: FaultCrash, Proc: "n1"}},
	}))
	at(w, 2500*Millisecond, func() {
		assert.True(t, w.IsPaused(p[0]), "fault 2 still pauses n0")
		assert.True(t, w.IsUp(p[1]), "restarted after its crash")
		assert.False(t, w.IsPaused(p[1]), "the crash ended the pause of the old incarnation")
		assert.False(t, in.IsActive(3))
	})
	at(w, 3*Second, func() { assert.False(t, w.IsPaused(p[0])) })
}

func TestInjectorLatencyFaultsRestoreInOrder(t *testing.T) {
	for _, firstEndsFirst := range []bool{true, false} {
		w, in, _, p := faultWorld(t)
		base := w.LinkLatency(p[0], p[1])
		slow, slower := Fixed(50*Millisecond), Fixed(900*Millisecond)
		d1 := 3 * Second
		if firstEndsFirst {
			d1 = 1500 * Millisecond
		}
		require.NoError(t, in.Schedule(Schedule{
			{At: 0, Duration: d1, Fault: Fault{ID: 1, Kind: FaultLatency, From: "n0", To: "n1", Latency: &slow}},
			{At: Time(Second), Duration: Second, Fault: Fault{ID: 2, Kind: FaultLatency, From: "n0", To: "n1", Latency: &slower}},
		}))
		at(w, 500*Millisecond, func() { assert.Equal(t, slow, w.LinkLatency(p[0], p[1])) })
		at(w, 1200*Millisecond, func() { assert.Equal(t, slower, w.LinkLatency(p[0], p[1])) })
		at(w, 1700*Millisecond, func() { assert.Equal(t, slower, w.LinkLatency(p[0], p[1]), "the latest fault is still in force") })
		if !firstEndsFirst {
			at(w, 2500*Millisecond, func() { assert.Equal(t, slow, w.LinkLatency(p[0], p[1]), "fault 1 is in force again") })
		}
		w.Run()
		assert.Equal(t, base, w.LinkLatency(p[0], p[1]), "back to what the link had before either")
		assert.Equal(t, base, w.LinkLatency(p[1], p[0]), "the other direction never changed")
	}
}

// fakeDisk records the disk faults it is given.
type fakeDisk struct {
	log []string
	err error
}

func (d *fakeDisk) ApplyDiskFault(f Fault, p ProcID) error {
	d.log = append(d.log, fmt.Sprintf("apply %s p%d", f, p))
	return d.err
}

func (d *fakeDisk) HealDiskFault(f Fault, p ProcID) error {
	d.log = append(d.log, fmt.Sprintf("heal %s p%d", f, p))
	return nil
}

func TestInjectorDiskFaultsGoThroughTheDiskModel(t *testing.T) {
	w, in, _, p := faultWorld(t)
	slow := Entry{At: 0, Duration: Second, Fault: Fault{ID: 1, Kind: FaultSlowDisk, Proc: "n1", Extra: 5 * Millisecond}}
	in.Disk = nil
	err := in.Schedule(Schedule{slow})
	require.EqualError(t, err, "schedule entry 0: fault 1 (slow-disk): no disk model")
	assert.Equal(t, 0, w.Pending(), "nothing is queued from a bad schedule")
	disk := &fakeDisk{}
	in.Disk = disk
	require.NoError(t, in.Schedule(Schedule{slow, {At: Time(Second), Duration: Second, Fault: Fault{ID: 2, Kind: FaultDiskCrashLoss, Proc: "n2"}}}))
	at(w, 1500*Millisecond, func() { assert.False(t, w.IsUp(p[2])) })
	w.Run()
	assert.True(t, w.IsUp(p[2]))
	assert.Equal(t, []string{
		"apply slow-disk n1 +5ms p2",
		"apply disk-crash-loss n2 p3", // at 1s, queued before the heal at 1s
		"heal slow-disk n1 +5ms p2",
		"heal disk-crash-loss n2 p3",
	}, disk.log)
	disk.err = errors.New("disk on fire")
	assert.EqualError(t, in.Apply(Fault{ID: 3, Kind: FaultSlowDisk, Proc: "n0", Extra: 1}, 0), "fault 3 (slow-disk): disk on fire")
}

func TestInjectorScheduleChecksTheWorld(t *testing.T) {
	w, in, _, _ := faultWorld(t)
	for _, tc := range []struct {
		s    Schedule
		want string
	}{
		{Schedule{{Fault: Fault{ID: 1, Kind: FaultCrash, Proc: "n9"}}}, `schedule entry 0: fault 1 (crash): unknown process "n9"`},
		{Schedule{{Fault: Fault{ID: 1, Kind: FaultPartition, A: []string{"n0"}, B: []string{"kernel"}}}}, `schedule entry 0: fault 1 (partition): unknown process "kernel"`},
		{Schedule{{Fault: Fault{ID: 1, Kind: "flood", Proc: "n0"}}}, `schedule: schedule entry 0: fault 1 (flood): unknown kind "flood"`},
	} {
		assert.EqualError(t, in.Schedule(tc.s), tc.want)
	}
	require.NoError(t, in.Schedule(Schedule{{At: Time(Second), Fault: Fault{ID: 1, Kind: FaultPause, Proc: "n0"}}}))
	assert.EqualError(t, in.Schedule(Schedule{{At: Time(Second), Fault: Fault{ID: 1, Kind: FaultPause, Proc: "n1"}}}), "schedule entry 0: fault 1 (pause): id 1 is used already")
	w.RunUntil(Time(2 * Second))
	assert.EqualError(t, in.Schedule(Schedule{{At: Time(Second), Fault: Fault{ID: 2, Kind: FaultPause, Proc: "n1"}}}), "schedule entry 0: fault 2 at 1s is in the past (now 2s)")
}

func TestInjectorTracesApplyAndHealByID(t *testing.T) {
	w, in, mem, p := faultWorld(t)
	var applied []string
	in.OnApply = func(e Entry) { applied = append(applied, fmt.Sprintf("%s up=%v", e, w.IsUp(p[1]))) }
	require.NoError(t, in.Schedule(Schedule{
		{At: Time(Second), Duration: 2 * Second, Fault: Fault{ID: 7, Kind: FaultCrash, Proc: "n1"}},
		{At: Time(Second), Fault: Fault{ID: 8, Kind: FaultPartition, A: []string{"n0"}, B: []string{"n2"}}},
	}))
	at(w, 2*Second, func() {
		in.HealAll()
		assert.True(t, w.IsUp(p[1]))
	})
	w.Run()
	var lines []string
	for _, r := range mem.All() {
		if strings.HasPrefix(r.Kind, "fault.") || r.Kind == KindProcRestart || r.Kind == KindNetHeal {
			lines = append(lines, fmt.Sprintf("%v %s %s %s", r.At, r.Kind, r.ProcName, r.Detail()))
		}
	}
	assert.Equal(t, []string{
		`1s fault.apply n1 id=7 fault="crash n1" hold=2s`,
		`1s fault.apply kernel id=8 fault="partition n0|n2" hold=0s`,
		`2s fault.heal n1 id=7 fault="crash n1" why=heal-all`,
		"2s proc.restart n1 incarnation=2",
		`2s fault.heal kernel id=8 fault="partition n0|n2" why=heal-all`,
		"2s net.heal kernel cut=1 links=[n0]|[n2]",
	}, lines)
	assert.Equal(t, []string{"at 1s for 2s: crash n1 (fault 7) up=true", "at 1s until healed: partition n0|n2 (fault 8) up=false"}, applied,
		"OnApply sees the world before the fault")
	assert.False(t, in.Heal(7), "healed already")
	require.NoError(t, in.Apply(Fault{ID: 9, Kind: FaultPause, Proc: "n0"}, 0))
	assert.True(t, w.IsPaused(p[0]))
	assert.True(t, in.Heal(9))
	assert.False(t, w.IsPaused(p[0]))
	assert.NoError(t, in.Err())
}

// genKernelSchedule draws a schedule of kernel faults on processes n0..n3,
// all due within 10s.
func genKernelSchedule(t *rapid.T) Schedule {
	names := []string{"n0", "n1", "n2", "n3"}
	kinds := []FaultKind{FaultCrash, FaultRestart, FaultPause, FaultPartition, FaultOneWay, FaultIsolate, FaultLatency}
	var s Schedule
	n := rapid.IntRange(1, 25).Draw(t, "entries")
	for i := 0; i < n; i++ {
		e := Entry{
			At:       Time(rapid.IntRange(0, 10_000).Draw(t, "at_ms")) * Time(Millisecond),
			Duration: Duration(rapid.IntRange(0, 5_000).Draw(t, "duration_ms")) * Millisecond,
			Fault:    Fault{ID: FaultID(i + 1), Kind: rapid.SampledFrom(kinds).Draw(t, "kind")},
		}
		perm := rapid.Permutation(names).Draw(t, "procs")
		switch e.Kind {
		case FaultPartition, FaultOneWay:
			cut := rapid.IntRange(1, 3).Draw(t, "split")
			e.A, e.B = perm[:cut], perm[cut:]
		case FaultLatency:
			e.From, e.To = perm[0], perm[1]
			e.Latency = lat(Fixed(Duration(rapid.IntRange(1, 100).Draw(t, "latency_ms")) * Millisecond))
		default:
			e.Proc = perm[0]
		}
		if e.Kind == FaultRestart {
			e.Duration = 0
		}
		s = append(s, e)
	}
	return s
}

// checkInjectorAgainstWorld runs s and, after every event, compares the world
// with what the active faults say it must be: a link is cut exactly while an
// active fault cuts it, a process is down exactly while a crash fault holds
// it, paused only under a pause fault, and a link has the latency of the
// latest active latency fault on it (or its own). At the end, with every
// fault healed, nothing is left cut, down, paused or slow.
func checkInjectorAgainstWorld(s Schedule) []string {
	w := New(Options{})
	var ps []ProcID
	for _, n := range []string{"n0", "n1", "n2", "n3"} {
		ps = append(ps, w.AddProcess(n, ProcessHooks{}))
	}
	base := w.LinkLatency(ps[0], ps[1])
	in := NewInjector(w)
	var order []FaultID // application order
	in.OnApply = func(e Entry) { order = append(order, e.ID) }
	if err := in.Schedule(s); err != nil {
		return []string{err.Error()}
	}
	var out []string
	fail := func(format string, args ...any) {
		if len(out) < 5 {
			out = append(out, fmt.Sprintf("%v: ", w.Now())+fmt.Sprintf(format, args...))
		}
	}
	name := w.Name
	has := func(list []string, n string) bool {
		return strings.Contains(","+strings.Join(list, ",")+",", ","+n+",")
	}
	check := func() {
		active := in.Active()
		for _, x := range ps {
			down, paused := false, false
			for _, e := range active {
				down = down || (e.Fault.holdsDown() && e.Proc == name(x))
				paused = paused || (e.Kind == FaultPause && e.Proc == name(x))
			}
			if w.IsUp(x) == down {
				fail("%s up=%v, but crash faults holding it: %v", name(x), w.IsUp(x), down)
			}
			if w.IsPaused(x) && !paused {
				fail("%s is paused with no pause fault on it", name(x))
			}
			for _, y := range ps {
				if x == y {
					continue
				}
				cut := false
				latest := base
				for _, id := range order {
					for _, e := range active {
						if e.ID == id && e.Kind == FaultLatency && e.From == name(x) && e.To == name(y) {
							latest = *e.Latency
						}
					}
				}
				for _, e := range active {
					switch e.Kind {
					case FaultPartition:
						cut = cut || (has(e.A, name(x)) && has(e.B, name(y))) || (has(e.B, name(x)) && has(e.A, name(y)))
					case FaultOneWay:
						cut = cut || (has(e.A, name(x)) && has(e.B, name(y)))
					case FaultIsolate:
						cut = cut || e.Proc == name(x) || e.Proc == name(y)
					}
				}
				if w.Reachable(x, y) == cut {
					fail("%s->%s reachable=%v, but active faults cut it: %v (active %v)", name(x), name(y), w.Reachable(x, y), cut, ids(active))
				}
				if got := w.LinkLatency(x, y); got != latest {
					fail("%s->%s latency %v, want %v", name(x), name(y), got, latest)
				}
			}
		}
	}
	w.OnStep(check)
	w.At(Kernel, Time(20*Second), "heal-all", in.HealAll)
	w.Run()
	check()
	for _, x := range ps {
		if !w.IsUp(x) || w.IsPaused(x) {
			fail("%s is down or paused after every fault healed", name(x))
		}
	}
	return out
}

func TestPropertyInjectorMatchesActiveFaults(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		for _, v := range checkInjectorAgainstWorld(genKernelSchedule(t)) {
			t.Error(v)
		}
	})
}

// TestInjectorPropertyCatchesHealThatEndsEveryCut: with HealCut ending every
// cut (the old Heal), an overlapping partition ends early and the property
// says so.
func TestInjectorPropertyCatchesHealThatEndsEveryCut(t *testing.T) {
	s := Schedule{
		{At: 0, Duration: 3 * Second, Fault: Fault{ID: 1, Kind: FaultPartition, A: []string{"n0"}, B: []string{"n1"}}},
		{At: Time(Second), Duration: Second, Fault: Fault{ID: 2, Kind: FaultOneWay, A: []string{"n2"}, B: []string{"n3"}}},
	}
	require.Empty(t, checkInjectorAgainstWorld(s))
	plantHealCutEndsAll = true
	out := checkInjectorAgainstWorld(s)
	plantHealCutEndsAll = false
	require.NotEmpty(t, out)
	assert.Contains(t, out[0], "2s: n0->n1 reachable=true, but active faults cut it: true (active [1])")
}

// TestInjectorDiskFaultsOnTheWorldsDisks: slow-disk faults make syncs slower
// (the latest one in force, none left: normal again); a disk-crash-loss
// crash loses the whole unsynced tail although the disk's own mode would
// keep some of it, and the mode comes back with the heal.
func TestInjectorDiskFaultsOnTheWorldsDisks(t *testing.T) {
	w, in, _, p := faultWorld(t)
	d := w.Disk(p[1])
	require.NoError(t, in.Schedule(Schedule{
		{At: 0, Duration: 3 * Second, Fault: Fault{ID: 1, Kind: FaultSlowDisk, Proc: "n1", Extra: 5 * Millisecond}},
		{At: Time(Second), Duration: Second, Fault: Fault{ID: 2, Kind: FaultSlowDisk, Proc: "n1", Extra: 50 * Millisecond}},
	}))
	at(w, 500*Millisecond, func() { assert.Equal(t, 5*Millisecond, d.Slow()) })
	at(w, 1500*Millisecond, func() { assert.Equal(t, 50*Millisecond, d.Slow()) })
	at(w, 2500*Millisecond, func() { assert.Equal(t, 5*Millisecond, d.Slow(), "fault 1 is in force again") })
	at(w, 3500*Millisecond, func() { assert.Zero(t, d.Slow()) })

	// A prefix-keeping disk would keep some of these on a plain crash for
	// most seeds; the disk-crash-loss fault keeps none.
	for seed := uint64(1); seed <= 20; seed++ {
		w, in, _, p := faultWorld(t)
		w.seed = seed
		d := w.Disk(p[2])
		require.Equal(t, LossPrefix, d.loss)
		for i := 0; i < 8; i++ {
			d.Append("log", []byte("abcd"))
		}
		require.NoError(t, in.Apply(Fault{ID: 1, Kind: FaultDiskCrashLoss, Proc: "n2"}, Second))
		assert.False(t, d.Exists("log"), "seed %d: every unsynced write is lost", seed)
		w.Run()
		assert.True(t, w.IsUp(p[2]))
		assert.Equal(t, LossPrefix, d.loss, "the disk's own mode is back")
	}
}
