package sim

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"pgregory.net/rapid"
)

// TestPropertyQueueOrderAndCancel drives the kernel's queue with random
// schedules and cancellations (enough to trigger compaction) and checks it
// against a sorted list: events run in (time, insertion) order, cancelled
// ones never run, Pending counts the live ones, and a cancel of an event
// that ran, was cancelled, or whose memory was recycled reports false.
func TestPropertyQueueOrderAndCancel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		w := New(Options{Trace: TraceOff, MaxEvents: 1 << 40})
		type entry struct {
			at  Time
			seq int
			id  TimerID
		}
		var model []entry // live, not yet run
		var gone []TimerID
		var ran []int
		seq := 0
		schedule := func(d Duration) {
			seq++
			s := seq
			id := w.After(Kernel, d, "e", func() { ran = append(ran, s) })
			model = append(model, entry{w.Now().Add(d), s, id})
		}
		ops := rapid.IntRange(1, 3000).Draw(t, "ops")
		for i := 0; i < ops; i++ {
			switch k := rapid.IntRange(0, 9).Draw(t, "op"); {
			case k < 5:
				schedule(Duration(rapid.IntRange(0, 50).Draw(t, "d")) * Microsecond)
			case k < 8 && len(model) > 0:
				j := rapid.IntRange(0, len(model)-1).Draw(t, "victim")
				if !w.Cancel(model[j].id) {
					t.Fatalf("cancel of live event %d failed", model[j].seq)
				}
				gone = append(gone, model[j].id)
				model = append(model[:j], model[j+1:]...)
			case k == 8 && len(gone) > 0:
				if w.Cancel(gone[rapid.IntRange(0, len(gone)-1).Draw(t, "stale")]) {
					t.Fatalf("a stale TimerID cancelled something")
				}
			default:
				sort.Slice(model, func(a, b int) bool {
					if model[a].at != model[b].at {
						return model[a].at < model[b].at
					}
					return model[a].seq < model[b].seq
				})
				n := rapid.IntRange(0, 5).Draw(t, "steps")
				for ; n > 0 && len(model) > 0; n-- {
					ran = ran[:0]
					if !w.Step() {
						t.Fatalf("Step found nothing with %d pending", len(model))
					}
					if len(ran) != 1 || ran[0] != model[0].seq {
						t.Fatalf("ran %v, want event %d", ran, model[0].seq)
					}
					gone = append(gone, model[0].id)
					model = model[1:]
				}
			}
			if w.Pending() != len(model) {
				t.Fatalf("Pending() = %d, model has %d", w.Pending(), len(model))
			}
		}
	})
}

func TestCancelledEntriesAreCompacted(t *testing.T) {
	w := New(Options{Trace: TraceOff})
	r := NewRand(7)
	ids := make([]TimerID, 10_000)
	var last Time
	inOrder := true
	for i := range ids {
		ids[i] = w.After(Kernel, Duration(1+r.Intn(5_000)), "e", func() {
			inOrder = inOrder && w.Now() >= last
			last = w.Now()
		})
	}
	for i, id := range ids {
		if i%10 != 0 {
			assert.True(t, w.Cancel(id))
		}
	}
	assert.Equal(t, 1_000, w.Pending())
	assert.Less(t, w.queue.len(), 2*1_000+minCompact, "dead entries do not pile up")
	n := 0
	for w.Step() {
		n++
	}
	assert.Equal(t, 1_000, n)
	assert.True(t, inOrder, "the rebuilt heap still runs events in time order")
}

func TestStaleTimerIDDoesNotCancelARecycledEvent(t *testing.T) {
	w := New(Options{Trace: TraceOff})
	old := w.After(Kernel, 1, "a", func() {})
	w.Step() // a runs; its event goes back to the pool
	ran := false
	fresh := w.After(Kernel, 1, "b", func() { ran = true })
	assert.Same(t, old.ev, fresh.ev, "the pool hands the same event out again")
	assert.False(t, w.Cancel(old))
	w.Run()
	assert.True(t, ran)
}

func TestLargeQueueRunsInOrder(t *testing.T) {
	// Above prefetchAbove, removeTop and touchTop take their prefetching path.
	w := New(Options{Trace: TraceOff})
	r := NewRand(11)
	n := 3 * prefetchAbove
	var last Time
	ran := 0
	for i := 0; i < n; i++ {
		w.After(Kernel, Duration(r.Intn(1_000_000)), "e", func() {
			if w.Now() < last {
				t.Fatalf("time went back from %v to %v", last, w.Now())
			}
			last = w.Now()
			ran++
			if ran%3 == 0 { // keep it large while it drains
				w.After(Kernel, Duration(r.Intn(1_000)), "again", func() { ran++ })
			}
		})
	}
	w.Run()
	assert.Equal(t, n+n/3, ran)
}

func TestSeqLimitPanicsClearly(t *testing.T) {
	w := New(Options{Trace: TraceOff})
	w.seq = maxSeq
	assert.PanicsWithValue(t, "sim: more than 1099511627775 events scheduled in one run", func() { w.After(Kernel, 1, "x", func() {}) })
}
