package sim

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func content(d *Disk, name string) string {
	b, ok := d.Read(name)
	if !ok {
		return "<none>"
	}
	return string(b)
}

func TestDiskReadsSeeVolatileWritesAndSyncMakesThemDurable(t *testing.T) {
	w := New(Options{})
	p := w.AddProcess("p", ProcessHooks{})
	d := w.Disk(p)
	assert.Same(t, d, w.Disk(p), "one disk per process")
	var syncedAt Time
	w.At(p, 0, "write", func() {
		d.Append("log", []byte("ab"))
		d.Append("log", []byte("cd"))
		d.Write("hw", []byte("1"))
		assert.Equal(t, "abcd", content(d, "log"))
		_, ok := d.Durable("log")
		assert.False(t, ok, "nothing synced yet")
		d.Sync("log", func() { syncedAt = w.Now() })
		d.Append("log", []byte("ef")) // after the sync was asked for: not covered
	})
	w.Run()
	assert.Equal(t, Time(DefaultSyncCost), syncedAt)
	dur, ok := d.Durable("log")
	require.True(t, ok)
	assert.Equal(t, "abcd", string(dur))
	assert.Equal(t, 1, d.Unsynced("log"))
	assert.Equal(t, 1, d.Unsynced("hw"), "a sync of one file leaves the others volatile")
	assert.Equal(t, []string{"hw", "log"}, d.Files())
	assert.Equal(t, "cde", string(d.ReadAt("log", 2, 3)))
	assert.Nil(t, d.ReadAt("log", 6, 3))
}

func TestDiskSyncsRunOneAtATimeAndSlowDiskAddsToTheirCost(t *testing.T) {
	w := New(Options{})
	p := w.AddProcess("p", ProcessHooks{})
	d := w.Disk(p)
	d.SetSyncCost(Fixed(2 * Millisecond))
	var done []Time
	mark := func() { done = append(done, w.Now()) }
	w.At(p, 0, "syncs", func() {
		d.Append("a", []byte("x"))
		d.Sync("a", mark)
		d.SyncAll(mark)
	})
	w.At(Kernel, Time(10*Millisecond), "slow", func() { d.SetSlow(5 * Millisecond) })
	w.At(p, Time(10*Millisecond), "slow sync", func() { d.Sync("a", mark) })
	w.At(Kernel, Time(20*Millisecond), "heal", func() { d.ClearSlow() })
	w.At(p, Time(20*Millisecond), "fast sync", func() { d.Sync("a", mark) })
	w.Run()
	assert.Equal(t, []Time{Time(2 * Millisecond), Time(4 * Millisecond), Time(17 * Millisecond), Time(22 * Millisecond)}, done)
	assert.Equal(t, Duration(0), d.Slow())
}

func TestDiskCrashLosesTheUnsyncedTailAndKeepsTheSynced(t *testing.T) {
	w := New(Options{})
	p := w.AddProcess("p", ProcessHooks{})
	d := w.Disk(p)
	d.SetLossMode(LossTail)
	ran := false
	w.At(p, 0, "write", func() {
		d.Append("log", []byte("kept"))
		d.Sync("log", nil)
	})
	w.At(p, Time(5*Millisecond), "more", func() {
		d.Append("log", []byte("lost"))
		d.Write("new", []byte("lost too"))
		d.Sync("log", func() { ran = true }) // in flight at the crash
	})
	w.At(Kernel, Time(5*Millisecond+1), "crash", func() { w.Crash(p) })
	w.Run()
	assert.False(t, ran, "a sync in flight at the crash never completes")
	assert.Equal(t, "kept", content(d, "log"))
	assert.False(t, d.Exists("new"), "a file never synced is gone")
	assert.Equal(t, 0, d.Unsynced("log"), "what survived a crash is durable")
	w.Restart(p)
	w.At(p, w.Now(), "write again", func() { d.Append("log", []byte("!")) })
	w.Run()
	assert.Equal(t, "kept!", content(d, "log"), "the disk outlives the crash")
}

// LossNone is a process killed on a machine that stays up: the page cache
// keeps every write. A disk-crash-loss fault is a power failure all the same.
func TestDiskLossNoneKeepsUnsyncedWritesButPowerLossDoesNot(t *testing.T) {
	w := New(Options{})
	p := w.AddProcess("p", ProcessHooks{})
	d := w.Disk(p)
	d.SetLossMode(LossNone)
	in := NewInjector(w)
	var afterKill string
	w.At(p, 0, "write", func() {
		d.Append("log", []byte("a"))
		d.Write("new", []byte("b"))
	})
	w.At(Kernel, Time(Millisecond), "kill", func() { w.Crash(p) })
	w.At(Kernel, Time(2*Millisecond), "restart", func() { w.Restart(p) })
	w.At(Kernel, Time(3*Millisecond), "write", func() {
		afterKill = content(d, "log") + content(d, "new")
		w.At(p, w.Now(), "append", func() { d.Append("log", []byte("c")) })
	})
	w.At(Kernel, Time(4*Millisecond), "power", func() {
		if err := in.Apply(Fault{ID: 1, Kind: FaultDiskCrashLoss, Proc: "p"}, Millisecond); err != nil {
			t.Error(err)
		}
	})
	w.Run()
	assert.Equal(t, "ab", afterKill, "a killed process's unsynced writes survive in the page cache")
	assert.Equal(t, "a", content(d, "log"), "a power failure loses what was not synced")
	assert.Equal(t, LossNone, d.loss, "the fault's heal restores the mode")
}

func TestDiskWriteIsAtomicAndTruncateAndRemoveAreWrites(t *testing.T) {
	w := New(Options{})
	p := w.AddProcess("p", ProcessHooks{})
	d := w.Disk(p)
	d.SetLossMode(LossTail)
	w.At(p, 0, "write", func() {
		d.Write("cp", []byte("old"))
		d.Append("log", []byte("0123456789"))
		d.Write("gone", []byte("x"))
		d.SyncAll(nil)
	})
	w.At(p, Time(10*Millisecond), "change", func() {
		d.Write("cp", []byte("new"))
		d.Truncate("log", 4)
		d.Remove("gone")
		assert.Equal(t, "0123", content(d, "log"))
		assert.False(t, d.Exists("gone"))
		w.Crash(p)
	})
	w.Run()
	assert.Equal(t, "old", content(d, "cp"))
	assert.Equal(t, "0123456789", content(d, "log"), "an unsynced truncate is undone")
	assert.True(t, d.Exists("gone"), "an unsynced remove is undone")
}

func TestDiskSyncCompletesWhilePausedAndTellsAtResume(t *testing.T) {
	w := New(Options{})
	p := w.AddProcess("p", ProcessHooks{})
	d := w.Disk(p)
	d.SetLossMode(LossTail)
	var told Time
	w.At(p, 0, "write", func() {
		d.Append("log", []byte("x"))
		d.Sync("log", func() { told = w.Now() })
		w.Pause(p)
	})
	w.At(Kernel, Time(5*Millisecond), "resume", func() { w.Resume(p) })
	w.Run()
	assert.Equal(t, Time(5*Millisecond), told, "the process hears of the sync when it runs again")

	w = New(Options{})
	p = w.AddProcess("p", ProcessHooks{})
	d = w.Disk(p)
	d.SetLossMode(LossTail)
	told = -1
	w.At(p, 0, "write", func() {
		d.Append("log", []byte("x"))
		d.Sync("log", func() { told = w.Now() })
		w.Pause(p)
	})
	w.At(Kernel, Time(5*Millisecond), "crash", func() { w.Crash(p) })
	w.Run()
	assert.Equal(t, Time(-1), told)
	assert.Equal(t, "x", content(d, "log"), "the disk finished the sync before the crash, so it is durable")
}

func TestDiskMisusePanics(t *testing.T) {
	w := New(Options{})
	p := w.AddProcess("p", ProcessHooks{})
	d := w.Disk(p)
	assert.PanicsWithValue(t, `sim: truncate of missing file "x"`, func() { d.Truncate("x", 0) })
	d.Append("x", []byte("ab"))
	assert.PanicsWithValue(t, `sim: truncate of "x" (2 bytes) to 3`, func() { d.Truncate("x", 3) })
	assert.Panics(t, func() { d.Append("", nil) })
	assert.Panics(t, func() { w.Disk(Kernel) })
	w.Crash(p)
	assert.PanicsWithValue(t, `sim: crashed process p writes to its disk (append "x")`, func() { d.Append("x", nil) })
	assert.Panics(t, func() { d.SyncAll(nil) })
	assert.Panics(t, func() { d.SetSyncCost(Uniform(2, 1)) })
}

func TestDiskKeepsItsOwnCopyOfWrittenData(t *testing.T) {
	w := New(Options{})
	p := w.AddProcess("p", ProcessHooks{})
	d := w.Disk(p)
	b := []byte("abc")
	d.Append("f", b)
	b[0] = 'X'
	got, _ := d.Read("f")
	assert.Equal(t, "abc", string(got))
	got[1] = 'Y'
	assert.Equal(t, "abc", content(d, "f"))
}

func TestDiskTracesSyncsLossesAndSlowness(t *testing.T) {
	mem := &MemorySink{}
	w := New(Options{Sinks: []Sink{mem}})
	p := w.AddProcess("p", ProcessHooks{})
	d := w.Disk(p)
	d.SetLossMode(LossTail)
	w.At(p, 0, "write", func() {
		d.SetSlow(Millisecond)
		d.Append("log", []byte("x"))
		d.Sync("log", nil)
		d.Append("log", []byte("y"))
	})
	w.At(Kernel, Time(10*Millisecond), "crash", func() { w.Crash(p); d.Exists("log") })
	w.Run()
	var got []string
	for _, r := range mem.Records() {
		if r.Kind == KindDiskSync || r.Kind == KindDiskLoss || r.Kind == KindDiskSlow {
			got = append(got, r.Kind+" "+r.Label+" "+r.Detail())
		}
	}
	assert.Equal(t, []string{
		"disk.slow  extra=1ms",
		"disk.sync log writes=1 cost=2ms",
		"disk.loss log unsynced=1 kept=0 torn=0 size=1",
	}, got)
}

// diskProg is a generated sequence of disk writes, syncs and crashes of one
// process, checked against a model of what a crash may keep.
type diskProg struct {
	seed uint64
	loss LossMode
	cost Latency
	ops  []diskProgOp
}

type diskProgOpKind uint8

const (
	dpAppend diskProgOpKind = iota
	dpWrite
	dpTruncate
	dpRemove
	dpSync
	dpSyncAll
	dpCrash
	dpPause
)

var diskProgKinds = []diskProgOpKind{
	dpAppend, dpAppend, dpAppend, dpAppend, dpWrite, dpTruncate, dpRemove,
	dpSync, dpSync, dpSyncAll, dpCrash, dpPause,
}

type diskProgOp struct {
	gap  Duration
	kind diskProgOpKind
	file int
	n    int
}

func genDiskProg(t *rapid.T) diskProg {
	p := diskProg{
		seed: rapid.Uint64().Draw(t, "seed"),
		loss: rapid.SampledFrom([]LossMode{LossPrefix, LossTail}).Draw(t, "loss"),
		cost: rapid.SampledFrom([]Latency{Fixed(Millisecond), Uniform(100*Microsecond, 10*Millisecond)}).Draw(t, "cost"),
	}
	for i, n := 0, rapid.IntRange(1, 80).Draw(t, "ops"); i < n; i++ {
		p.ops = append(p.ops, diskProgOp{
			gap:  Duration(rapid.IntRange(0, 5000).Draw(t, "gap_us")) * Microsecond,
			kind: rapid.SampledFrom(diskProgKinds).Draw(t, "kind"),
			file: rapid.IntRange(0, 2).Draw(t, "file"),
			n:    rapid.IntRange(0, 7).Draw(t, "n"),
		})
	}
	return p
}

// diskModel is what the checker knows of one file in the current
// incarnation: its content at the last recovery, the writes since, and how
// many of those a completed sync covers.
type diskModel struct {
	base  fileState
	ops   []diskOp
	acked int
}

func (m *diskModel) state(k int) fileState {
	st := m.base.clone()
	for _, op := range m.ops[:k] {
		st.apply(op)
	}
	return st
}

// consistent reports whether got is a state a crash may leave: everything
// acknowledged as synced, then a write-order prefix of the rest, the last
// kept append possibly torn.
func (m *diskModel) consistent(got fileState) bool {
	for k := m.acked; k <= len(m.ops); k++ {
		st := m.state(k)
		if st.exists == got.exists && bytes.Equal(st.data, got.data) {
			return true
		}
		if k < len(m.ops) && m.ops[k].kind == diskAppend && got.exists && len(got.data) > len(st.data) &&
			len(got.data) < len(st.data)+len(m.ops[k].data) &&
			bytes.Equal(got.data, append(st.data, m.ops[k].data[:len(got.data)-len(st.data)]...)) {
			return true
		}
	}
	return false
}

func runDiskProg(p diskProg) (violations []string, hash string) {
	w := New(Options{Seed: p.seed})
	pid := w.AddProcess("p", ProcessHooks{})
	d := w.Disk(pid)
	d.SetLossMode(p.loss)
	d.SetSyncCost(p.cost)
	fail := func(format string, args ...any) {
		violations = append(violations, fmt.Sprintf("%v: ", w.Now())+fmt.Sprintf(format, args...))
	}
	names := []string{"f0", "f1", "f2"}
	models := make([]*diskModel, len(names))
	for i := range models {
		models[i] = &diskModel{}
	}
	epoch := 0
	read := func(name string) fileState {
		b, ok := d.Read(name)
		return fileState{exists: ok, data: b}
	}
	checkReads := func(why string) {
		for i, name := range names {
			want, got := models[i].state(len(models[i].ops)), read(name)
			if want.exists != got.exists || !bytes.Equal(want.data, got.data) {
				fail("after %s, %s reads %v %q, want %v %q", why, name, got.exists, got.data, want.exists, want.data)
			}
		}
	}
	recover := func() {
		for i, name := range names {
			m := models[i]
			got := read(name)
			if !m.consistent(got) {
				fail("after a crash %s holds %v %q: not the %d synced writes plus a prefix of %d more",
					name, got.exists, got.data, m.acked, len(m.ops)-m.acked)
			}
			models[i] = &diskModel{base: got}
		}
		epoch++
	}
	syncDone := func(e int, marks []int) func() {
		return func() {
			if e != epoch {
				fail("a sync of a crashed incarnation reported done")
				return
			}
			for i, mk := range marks {
				if mk >= 0 {
					models[i].acked = max(models[i].acked, mk)
				}
			}
		}
	}
	var at Time
	for i, op := range p.ops {
		at = at.Add(op.gap)
		name := names[op.file]
		w.At(Kernel, at, "op", func() {
			if op.kind == dpCrash {
				w.Crash(pid)
				recover()
				w.Restart(pid)
				return
			}
			if op.kind == dpPause {
				w.Pause(pid)
				w.After(Kernel, Duration(op.n)*Millisecond, "resume", func() { w.Resume(pid) })
				return
			}
			w.At(pid, w.Now(), "disk-op", func() {
				f := models[op.file]
				data := []byte(fmt.Sprintf("%d.%s", i, "abcdefg"[:op.n]))
				cur := f.state(len(f.ops))
				var wop diskOp
				switch op.kind {
				case dpAppend:
					d.Append(name, data)
					wop = diskOp{kind: diskAppend, data: data}
				case dpWrite:
					d.Write(name, data)
					wop = diskOp{kind: diskWrite, data: data}
				case dpTruncate:
					if !cur.exists {
						return
					}
					size := len(cur.data) * op.n / 7
					d.Truncate(name, size)
					wop = diskOp{kind: diskTruncate, size: size}
				case dpRemove:
					if !cur.exists {
						return
					}
					d.Remove(name)
					wop = diskOp{kind: diskRemove}
				case dpSync:
					marks := []int{-1, -1, -1}
					marks[op.file] = len(f.ops)
					d.Sync(name, syncDone(epoch, marks))
					return
				case dpSyncAll:
					marks := make([]int, len(models))
					for j, m := range models {
						marks[j] = len(m.ops)
					}
					d.SyncAll(syncDone(epoch, marks))
					return
				}
				f.ops = append(f.ops, wop)
				checkReads("a write")
			})
		})
	}
	w.At(Kernel, at.Add(Second), "final crash", func() {
		w.Resume(pid)
		w.Crash(pid)
		recover()
	})
	if st := w.Run(); st != StatusQuiescent {
		fail("run ended %v", st)
	}
	return violations, w.TraceHash()
}

// TestPropertyDiskCrashKeepsSyncedDataAndAPrefixOfTheRest: after any
// sequence of writes, syncs, pauses and crashes, each file holds everything a
// completed sync covered plus a write-order prefix of the writes after it,
// and reads always see the writes made since.
func TestPropertyDiskCrashKeepsSyncedDataAndAPrefixOfTheRest(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genDiskProg(t)
		v, h1 := runDiskProg(p)
		for _, s := range v {
			t.Error(s)
		}
		if _, h2 := runDiskProg(p); h1 != h2 {
			t.Fatalf("same program, trace hashes %s and %s", h1, h2)
		}
	})
}

// TestPropertyDiskCheckCatchesLostSyncedData plants a disk that forgets what
// a completed sync made durable: the check above must see the loss.
func TestPropertyDiskCheckCatchesLostSyncedData(t *testing.T) {
	p := diskProg{seed: 1, loss: LossTail, cost: Fixed(Millisecond), ops: []diskProgOp{
		{kind: dpAppend, file: 0, n: 3},
		{kind: dpSync, file: 0},
		{gap: 5 * Millisecond, kind: dpCrash},
	}}
	v, _ := runDiskProg(p)
	require.Empty(t, v, "the honest disk passes")
	plantDiskForgetsSync = true
	v, _ = runDiskProg(p)
	plantDiskForgetsSync = false
	require.NotEmpty(t, v, "a disk that loses synced data went unnoticed")
	assert.Contains(t, v[0], "not the 1 synced writes")
}

// TestDiskLossPrefixDrawsEveryOutcome shows LossPrefix reaches each outcome
// across seeds: everything lost, everything kept, and a torn append.
func TestDiskLossPrefixDrawsEveryOutcome(t *testing.T) {
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 200; seed++ {
		w := New(Options{Seed: seed})
		p := w.AddProcess("p", ProcessHooks{})
		d := w.Disk(p)
		d.Append("log", []byte("abcd"))
		d.Append("log", []byte("efgh"))
		w.Crash(p)
		switch got := content(d, "log"); {
		case got == "<none>":
			seen["lost"] = true
		case got == "abcdefgh":
			seen["kept"] = true
		case len(got)%4 != 0:
			seen["torn"] = true
		default:
			seen["prefix"] = true
		}
	}
	assert.Equal(t, map[string]bool{"lost": true, "kept": true, "torn": true, "prefix": true}, seen)
}

func TestDiskCrashHookRecordsTheLossAtTheCrash(t *testing.T) {
	mem := &MemorySink{}
	w := New(Options{Sinks: []Sink{mem}})
	p := w.AddProcess("p", ProcessHooks{})
	d := w.Disk(p)
	d.SetLossMode(LossTail)
	d.Append("log", []byte("x"))
	w.Crash(p)
	w.crashDisk(p) // what World.Crash is to call
	n := len(mem.Records())
	require.Equal(t, KindDiskLoss, mem.Records()[n-1].Kind, "the loss is recorded right after the crash")
	assert.False(t, d.Exists("log"))
	assert.Len(t, mem.Records(), n, "a later read finds nothing more to lose")
}

// BenchmarkDiskAppendSync measures a 100-byte append and the sync that makes
// it durable, trace off: the cost a write-ahead log pays per entry.
func BenchmarkDiskAppendSync(b *testing.B) {
	w := New(Options{Trace: TraceOff, MaxEvents: 1 << 62, MaxTime: 1 << 62})
	p := w.AddProcess("p", ProcessHooks{})
	d := w.Disk(p)
	entry := bytes.Repeat([]byte("x"), 100)
	synced := 0
	done := func() { synced++ }
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.Append("log", entry)
		d.Sync("log", done)
		for synced <= i {
			w.Step()
		}
		if i%1024 == 1023 {
			d.Truncate("log", 0) // keep the file small
		}
	}
}
