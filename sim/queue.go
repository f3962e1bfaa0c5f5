package sim

import (
	"fmt"
	"math/bits"
)

// The event queue is a 4-ary min-heap of 16-byte entries (time, and the
// event's insertion seq and slot packed in one word), ordered by (time,
// seq). Four children are 64 bytes: the array keeps three unused slots in
// front so that every group of siblings fills exactly one cache line, and a
// pop reads one line per level, half as many levels as a binary heap has.
// That is what dominates once the queue outgrows the caches (1M pending).
//
// Events live in a slab of fixed-size chunks (they never move, so a TimerID
// can point at one) and are recycled through a free list; an entry names its
// event by slot.
//
// Cancellation is lazy: Cancel marks the event (its seq no longer matches the
// entry's) and the entry is discarded when it reaches the top, so no heap
// index has to be kept up to date in the events on every move. When the
// dead entries outnumber the live ones, the heap is rebuilt without them,
// which keeps memory proportional to the live events and Cancel O(1)
// amortised.

// item is an event with its key, as a process's deferred list keeps it.
type item struct {
	at  Time
	seq uint64
	ev  *event
}

// qitem is a queue entry: ref is seq<<slotBits | slot.
type qitem struct {
	at  Time
	ref uint64
}

// Limits of the packing: a run schedules at most 2^40 events (about 10^12)
// and has at most 2^24 (16,777,216) events alive at once.
const (
	slotBits  = 24
	slotMask  = 1<<slotBits - 1
	maxSeq    = 1<<(64-slotBits) - 1
	chunkBits = 12 // events per slab chunk: 4096
)

// lessBit is 1 if a orders before b by (at, seq), else 0, without a
// branch: the borrow of a 128-bit subtraction (times are never negative, so
// they compare as unsigned; the seq in ref's high bits decides ties).
// Comparisons in a heap are coin flips that a branch predictor cannot learn.
func lessBit(a, b *qitem) int {
	_, borrow := bits.Sub64(a.ref, b.ref, 0)
	_, borrow = bits.Sub64(uint64(a.at), uint64(b.at), borrow)
	return int(borrow)
}

func itemLess(a, b *qitem) bool { return lessBit(a, b) != 0 }

// queueArity is the heap's fan-out; root is the index of the root, so that
// the children of node i, at 4i-8 … 4i-5, start at a multiple of 4.
const (
	queueArity = 4
	root       = 3
)

func parent(i int) int     { return i/queueArity + 2 }
func firstChild(i int) int { return queueArity*i - 8 }

// prefetchAbove is the queue length from which removeTop and touchTop
// prefetch: below it the heap and its events stay in cache (1 MiB of L2
// holds 64k entries) and the extra loads would only cost.
const prefetchAbove = 1 << 15

// minCompact is the number of dead entries below which the heap is never
// rebuilt: rebuilding a small heap costs more than carrying a few corpses.
const minCompact = 256

type eventQueue struct {
	h       []qitem // h[:root] unused
	dead    int     // entries whose event was cancelled
	slab    []*[1 << chunkBits]event
	free    []uint32 // free slots
	touched eventKind
}

func (q *eventQueue) init() { q.h = make([]qitem, root, 64) }

// len returns the number of entries, dead ones included.
func (q *eventQueue) len() int { return len(q.h) - root }

// live returns the number of events in the queue that will run.
func (q *eventQueue) live() int { return q.len() - q.dead }

// event returns the event in slot.
func (q *eventQueue) event(slot uint64) *event {
	return &q.slab[slot>>chunkBits][slot&(1<<chunkBits-1)]
}

// alloc returns a free event.
func (q *eventQueue) alloc() *event {
	if n := len(q.free); n > 0 {
		slot := q.free[n-1]
		q.free = q.free[:n-1]
		return q.event(uint64(slot))
	}
	n := len(q.slab) << chunkBits
	if n > slotMask {
		panic(fmt.Sprintf("sim: more than %d events alive at once", slotMask+1))
	}
	c := new([1 << chunkBits]event)
	for i := len(c) - 1; i >= 1; i-- {
		c[i].slot = uint32(n + i)
		q.free = append(q.free, uint32(n+i))
	}
	c[0].slot = uint32(n)
	q.slab = append(q.slab, c)
	return &c[0]
}

// recycle clears ev and makes its slot free.
func (q *eventQueue) recycle(ev *event) {
	slot := ev.slot
	*ev = event{slot: slot}
	q.free = append(q.free, slot)
}

// stale reports whether it is a cancelled entry.
func (q *eventQueue) stale(it qitem) bool {
	return q.event(it.ref&slotMask).seq != it.ref>>slotBits
}

func (q *eventQueue) push(at Time, seq uint64, ev *event) {
	if seq > maxSeq {
		panic(fmt.Sprintf("sim: more than %d events scheduled in one run", uint64(maxSeq)))
	}
	it := qitem{at: at, ref: seq<<slotBits | uint64(ev.slot)}
	h := append(q.h, it)
	q.h = h
	siftUp(h, len(h)-1, it)
}

// siftUp places it, whose slot is the hole at i, among i's ancestors.
func siftUp(h []qitem, i int, it qitem) {
	for i > root {
		p := parent(i)
		if !itemLess(&it, &h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = it
}

// top returns the earliest entry; the queue must not be empty.
func (q *eventQueue) top() qitem { return q.h[root] }

// removeTop removes the root, which must exist. Bottom-up: the hole left at
// the root sinks to a leaf along the least children (no comparison with the
// item being placed), then the last item rises from there; it came from the
// bottom, so it seldom rises far.
func (q *eventQueue) removeTop() {
	h := q.h
	n := len(h) - 1
	last := h[n]
	h = h[:n]
	q.h = h
	if n == root {
		return
	}
	i := root
	var acc Time
	far := n > prefetchAbove
	for {
		c := firstChild(i)
		if g := firstChild(c); far && g+4*queueArity <= n {
			// Prefetch by hand the four lines of grandchildren, one of
			// which the next level reads: out of cache, the misses overlap.
			acc ^= h[g].at ^ h[g+4].at ^ h[g+8].at ^ h[g+12].at
		}
		if c+queueArity > n {
			if c < n { // the one node with fewer than four children
				m := c
				for j := c + 1; j < n; j++ {
					if itemLess(&h[j], &h[m]) {
						m = j
					}
				}
				h[i] = h[m]
				i = m
			}
			break
		}
		s := h[c : c+queueArity : c+queueArity]
		a := lessBit(&s[1], &s[0])
		b := 2 + lessBit(&s[3], &s[2])
		// m is b if s[b] orders first, else a: a mask, not a multiply,
		// keeps the select off the critical path's latency.
		m := a ^ (a^b)&-lessBit(&s[b&3], &s[a&3])
		h[i] = s[m&3]
		i = c + m
	}
	q.touched = eventKind(acc)
	siftUp(h, i, last)
}

// touchTop reads the events of the next entries (the root and its
// children), so that with a large queue the cache misses their dispatch
// would take overlap the current event's work: a prefetch by hand, the
// loads are issued and nothing waits for their values.
func (q *eventQueue) touchTop() {
	h := q.h
	if len(h) > prefetchAbove {
		q.touched = q.event(h[root].ref&slotMask).kind | q.event(h[4].ref&slotMask).kind |
			q.event(h[5].ref&slotMask).kind | q.event(h[6].ref&slotMask).kind | q.event(h[7].ref&slotMask).kind
	}
}

// compact rebuilds the heap without its dead entries, if they are many.
func (q *eventQueue) compact() {
	if q.dead < minCompact || q.dead*2 < q.len() {
		return
	}
	h := q.h[:root]
	for _, it := range q.h[root:] {
		if q.stale(it) {
			q.recycle(q.event(it.ref & slotMask))
			continue
		}
		h = append(h, it)
	}
	q.h = h
	q.dead = 0
	// Floyd's heap construction: sift every inner node down, last first.
	n := len(h)
	if n <= root+1 {
		return
	}
	for i := parent(n - 1); i >= root; i-- {
		x := h[i]
		j := i
		for {
			c := firstChild(j)
			if c >= n {
				break
			}
			m := c
			for k := c + 1; k < min(c+queueArity, n); k++ {
				if itemLess(&h[k], &h[m]) {
					m = k
				}
			}
			if !itemLess(&h[m], &x) {
				break
			}
			h[j] = h[m]
			j = m
		}
		h[j] = x
	}
}
