package log

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kzsim/kzsim/sim"
)

// TestLogOnASimDiskKeepsWhatWasSyncedAcrossCrashes drives a log as a broker
// would, on the kernel's disk: appends become Disk.Append, a sync's
// completion moves the recovery point, a crash loses a random prefix of the
// unsynced appends (possibly tearing one), and Recover must give back every
// synced record and a prefix of the rest. Across seeds the crash must tear
// some records and keep others whole.
func TestLogOnASimDiskKeepsWhatWasSyncedAcrossCrashes(t *testing.T) {
	violations, seen := runOnSimDisk()
	for _, v := range violations {
		t.Error(v)
	}
	assert.Equal(t, map[string]bool{"torn": true, "all kept": true, "whole prefix": true, "unsynced kept": true}, seen)
}

// TestLogOnASimDiskCatchesATornRecordKept plants a recovery that keeps a
// torn record: the checks above must fail for some seed.
func TestLogOnASimDiskCatchesATornRecordKept(t *testing.T) {
	plantRecoverKeepsTornRecord = true
	violations, _ := runOnSimDisk()
	plantRecoverKeepsTornRecord = false
	assert.NotEmpty(t, violations, "a recovery that keeps a torn record went unnoticed on the sim disk")
}

// runOnSimDisk runs the crash for 100 seeds, returning what went wrong and
// the outcomes seen.
func runOnSimDisk() (violations []string, seen map[string]bool) {
	const name = "orders-0/00000000000000000000.log"
	seen = map[string]bool{}
	for seed := uint64(1); seed <= 100; seed++ {
		fail := func(format string, args ...any) {
			violations = append(violations, fmt.Sprintf("seed %d: ", seed)+fmt.Sprintf(format, args...))
		}
		w := sim.New(sim.Options{Seed: seed})
		p := w.AddProcess("broker", sim.ProcessHooks{})
		d := w.Disk(p)
		l := New()
		var appended []Record
		w.At(p, 0, "create", func() {
			d.Write(name, l.File())
			d.Sync(name, nil)
		})
		for i := range 6 {
			w.At(p, sim.Time(i+1)*sim.Time(sim.Millisecond)/2, "produce", func() {
				first, _, data := l.AppendAsLeader(1, []Entry{{Key: uint64(2 * i)}, {Key: uint64(2*i + 1)}})
				d.Append(name, data)
				got, _ := l.Read(first, 2)
				appended = append(appended, got...)
				if i%2 == 0 {
					upTo := l.LogEndOffset()
					d.Sync(name, func() { l.MarkFlushed(upTo) })
				}
			})
		}
		var flushed int64
		w.At(sim.Kernel, sim.Time(3500*sim.Microsecond), "crash", func() {
			flushed = l.RecoveryPoint()
			w.Crash(p)
		})
		w.Run()

		data, ok := d.Read(name)
		if !ok {
			fail("the synced file is gone")
			continue
		}
		r, info, err := Recover(data)
		if err != nil {
			fail("recover: %v", err)
			continue
		}
		if r.LogEndOffset() < flushed {
			fail("recovered to %d, below the synced %d", r.LogEndOffset(), flushed)
		}
		got, _ := r.Read(0, MaxReadRecords)
		if len(got) > len(appended) || !assert.ObjectsAreEqual(appended[:len(got)], got) {
			fail("recovered %v, not a prefix of the appended %v", got, appended)
			continue
		}
		switch {
		case info.DroppedBytes > 0:
			seen["torn"] = true
		case int(r.LogEndOffset()) == len(appended):
			seen["all kept"] = true
		default:
			seen["whole prefix"] = true
		}
		if r.LogEndOffset() > flushed {
			seen["unsynced kept"] = true
		}
		// The broker restarts, cuts the torn tail and the log goes on.
		w.Restart(p)
		d.Truncate(name, info.ValidSize)
		_, _, more := r.AppendAsLeader(2, []Entry{{Key: 99}})
		d.Append(name, more)
		if again, _ := d.Read(name); !assert.ObjectsAreEqual(r.File(), again) {
			fail("the disk does not hold the log's image")
		}
	}
	return violations, seen
}
