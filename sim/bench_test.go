package sim

import (
	"container/heap"
	"io"
	"testing"
)

// Steady-state queue depths of the scheduler benchmarks.
const (
	pendingTimers   = 1024
	pendingTimers1M = 1 << 20
)

// benchDelays is a fixed table of timer delays (1µs to ~1ms) so every
// benchmark inserts at the same spread of positions.
var benchDelays = func() []Duration {
	r := NewRand(1)
	d := make([]Duration, 4096)
	for i := range d {
		d[i] = Duration(1+r.Intn(1000)) * Microsecond
	}
	return d
}()

func noop() {}

// benchScheduler measures the kernel's cost per event: with pending timers
// queued, each iteration schedules one no-op timer and runs one.
func benchScheduler(b *testing.B, pending int, opts Options) {
	opts.MaxEvents, opts.MaxTime = 1<<62, 1<<62
	w := New(opts)
	for i := 0; i < pending; i++ {
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

// BenchmarkSchedulerNoop: 1,024 pending, trace off.
func BenchmarkSchedulerNoop(b *testing.B) {
	benchScheduler(b, pendingTimers, Options{Trace: TraceOff})
}

// BenchmarkSchedulerNoop1M: 1,048,576 pending, trace off.
func BenchmarkSchedulerNoop1M(b *testing.B) {
	benchScheduler(b, pendingTimers1M, Options{Trace: TraceOff})
}

// BenchmarkSchedulerTraceHash is BenchmarkSchedulerNoop with the trace
// hashed: one record (the event's) per event.
func BenchmarkSchedulerTraceHash(b *testing.B) {
	benchScheduler(b, pendingTimers, Options{Trace: TraceHash})
}

// BenchmarkSchedulerTraceJSON writes each event's record as a JSON line (to
// io.Discard).
func BenchmarkSchedulerTraceJSON(b *testing.B) {
	benchScheduler(b, pendingTimers, Options{Sinks: []Sink{NewJSONSink(io.Discard)}})
}

// resettingMemory is a MemorySink that starts afresh every 2^20 records, so
// a long benchmark measures the sink's steady cost (chunk allocation
// included) without holding b.N records.
type resettingMemory struct{ m *MemorySink }

func (r *resettingMemory) Write(rec *Record) error {
	if r.m.Len() == 1<<20 {
		r.m = &MemorySink{}
	}
	return r.m.Write(rec)
}

// BenchmarkSchedulerTraceMemory keeps each event's record in a MemorySink.
func BenchmarkSchedulerTraceMemory(b *testing.B) {
	benchScheduler(b, pendingTimers, Options{Sinks: []Sink{&resettingMemory{&MemorySink{}}}})
}

// BenchmarkMessageSendDeliver measures one message sent and delivered on an
// open connection with a drawn latency (trace off): the network's hot path,
// including the per-link latency stream.
func BenchmarkMessageSendDeliver(b *testing.B) { benchSendDeliver(b, TraceOff) }

// BenchmarkMessageSendDeliverTraceHash is BenchmarkMessageSendDeliver with
// the trace hashed: its msg.send and msg.deliver records, the text formatted
// once.
func BenchmarkMessageSendDeliverTraceHash(b *testing.B) { benchSendDeliver(b, TraceHash) }

// benchSendDeliver sends one message and delivers it per iteration, at the
// given trace level, and fails if messages were left undelivered.
func benchSendDeliver(b *testing.B, level TraceLevel) {
	w := New(Options{Trace: level, MaxEvents: 1 << 62, MaxTime: 1 << 62, Latency: Uniform(Millisecond, 5*Millisecond)})
	a := w.AddProcess("a", ProcessHooks{})
	p := w.AddProcess("b", ProcessHooks{})
	w.Listen(p, func(c *Conn) ConnHandler { return ConnHandler{OnMessage: func(*Conn, Message) {}} })
	var c *Conn
	w.At(Kernel, 0, "dial", func() { c = w.Dial(a, p, ConnHandler{}) })
	w.RunFor(Second) // not Run: it would move the clock to MaxTime, past which no delivery runs
	var msg Message = note("m")
	b.ReportAllocs()
	for b.Loop() {
		c.Send(msg)
		w.Step()
	}
	if w.Pending() > 1 {
		b.Fatalf("%d messages never delivered", w.Pending())
	}
}

// typedItem and typedHeap are the honest baseline: a binary min-heap of
// value items, typed, so nothing is boxed in an interface.
type typedItem struct {
	at  Time
	seq uint64
	fn  func()
}

func typedLess(a, b *typedItem) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

type typedHeap []typedItem

func (h *typedHeap) push(it typedItem) {
	s := append(*h, it)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !typedLess(&s[i], &s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
	*h = s
}

func (h *typedHeap) pop() typedItem {
	s := *h
	n := len(s) - 1
	top := s[0]
	s[0] = s[n]
	s[n] = typedItem{}
	s = s[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && typedLess(&s[r], &s[l]) {
			m = r
		}
		if !typedLess(&s[m], &s[i]) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

func benchTypedHeap(b *testing.B, pending int) {
	h := &typedHeap{}
	var now Time
	var seq uint64
	for i := 0; i < pending; i++ {
		seq++
		h.push(typedItem{at: now.Add(benchDelays[i%len(benchDelays)]), seq: seq, fn: noop})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		seq++
		h.push(typedItem{at: now.Add(benchDelays[i&(len(benchDelays)-1)]), seq: seq, fn: noop})
		e := h.pop()
		now = e.at
		e.fn()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkTypedHeapBaseline is BenchmarkSchedulerNoop's pattern on a typed
// binary heap: the bar the kernel must meet at 1,024 pending.
func BenchmarkTypedHeapBaseline(b *testing.B) { benchTypedHeap(b, pendingTimers) }

// BenchmarkTypedHeapBaseline1M is the same at 1,048,576 pending.
func BenchmarkTypedHeapBaseline1M(b *testing.B) { benchTypedHeap(b, pendingTimers1M) }

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

func benchContainerHeap(b *testing.B, pending int) {
	h := &entryHeap{}
	var now Time
	var seq uint64
	for i := 0; i < pending; i++ {
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

// BenchmarkHeapBaseline is the same pattern on container/heap, which boxes
// every entry in an interface: the old baseline, kept for comparison.
func BenchmarkHeapBaseline(b *testing.B) { benchContainerHeap(b, pendingTimers) }

// BenchmarkHeapBaseline1M is container/heap at 1,048,576 pending.
func BenchmarkHeapBaseline1M(b *testing.B) { benchContainerHeap(b, pendingTimers1M) }
