package sim

import (
	"container/heap"
	"testing"
)

// pendingTimers is the steady-state queue depth of the scheduler benchmarks.
const pendingTimers = 1024

// benchDelays is a fixed table of timer delays (1µs to ~1ms) so both
// benchmarks insert at the same spread of positions.
var benchDelays = func() []Duration {
	r := NewRand(1)
	d := make([]Duration, 4096)
	for i := range d {
		d[i] = Duration(1+r.Intn(1000)) * Microsecond
	}
	return d
}()

// BenchmarkSchedulerNoop measures the kernel's cost per event: with 1,024
// timers pending, each iteration schedules one no-op timer and runs one.
func BenchmarkSchedulerNoop(b *testing.B) {
	w := New(Options{NoTrace: true, MaxEvents: 1 << 62, MaxTime: 1 << 62})
	noop := func() {}
	for i := 0; i < pendingTimers; i++ {
		w.After(Kernel, benchDelays[i%len(benchDelays)], "noop", noop)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		w.After(Kernel, benchDelays[i&(len(benchDelays)-1)], "noop", noop)
		if !w.Step() {
			b.Fatal("queue ran dry")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

type heapEntry struct {
	at  Time
	seq uint64
	fn  func()
}

type entryHeap []heapEntry

func (h entryHeap) Len() int { return len(h) }
func (h entryHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h entryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(x any)   { *h = append(*h, x.(heapEntry)) }
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// BenchmarkHeapBaseline is the same pattern as BenchmarkSchedulerNoop on a
// plain container/heap of (time, seq, func) entries: the bar the kernel
// should not fall below.
func BenchmarkHeapBaseline(b *testing.B) {
	h := &entryHeap{}
	var now Time
	var seq uint64
	noop := func() {}
	for i := 0; i < pendingTimers; i++ {
		seq++
		heap.Push(h, heapEntry{at: now.Add(benchDelays[i%len(benchDelays)]), seq: seq, fn: noop})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		seq++
		heap.Push(h, heapEntry{at: now.Add(benchDelays[i&(len(benchDelays)-1)]), seq: seq, fn: noop})
		e := heap.Pop(h).(heapEntry)
		now = e.at
		e.fn()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
