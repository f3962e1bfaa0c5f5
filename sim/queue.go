package sim

// The event queue is a 4-ary min-heap of (time, seq, *event) values ordered
// by (time, insertion seq). A 4-ary heap is half as deep as a binary one and
// its four children share a cache line or two, so a pop touches fewer lines:
// what dominates once the queue outgrows the caches (1M pending timers).
//
// Cancellation is lazy: Cancel marks the event (its seq no longer matches the
// entry's) and the entry is discarded when it reaches the top, so no heap
// index has to be kept up to date in the events on every move. When the
// dead entries outnumber the live ones, the heap is rebuilt without them,
// which keeps memory proportional to the live events and Cancel O(1)
// amortised.

// item is what the queue holds: the key inline, so comparisons never chase a
// pointer, and the event's payload behind one.
type item struct {
	at  Time
	seq uint64
	ev  *event
}

func itemLess(a, b item) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

// queueArity is the heap's fan-out.
const queueArity = 4

// minCompact is the number of dead entries below which the heap is never
// rebuilt: rebuilding a small heap costs more than carrying a few corpses.
const minCompact = 256

type eventQueue struct {
	h    []item
	dead int // entries whose event was cancelled
}

// live returns the number of events in the queue that will run.
func (q *eventQueue) live() int { return len(q.h) - q.dead }

// stale reports whether it is a cancelled entry.
func stale(it item) bool { return it.ev.seq != it.seq }

func (q *eventQueue) push(it item) {
	h := append(q.h, it)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / queueArity
		if !itemLess(it, h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = it
	q.h = h
}

// removeTop removes h[0], which must exist.
func (q *eventQueue) removeTop() {
	h := q.h
	n := len(h) - 1
	last := h[n]
	h[n] = item{}
	h = h[:n]
	q.h = h
	if n == 0 {
		return
	}
	// Sift the hole at the root down to where last belongs.
	i := 0
	for {
		c := queueArity*i + 1
		if c >= n {
			break
		}
		m := c
		end := min(c+queueArity, n)
		for j := c + 1; j < end; j++ {
			if itemLess(h[j], h[m]) {
				m = j
			}
		}
		if !itemLess(h[m], last) {
			break
		}
		h[i] = h[m]
		i = m
	}
	h[i] = last
}

// compact rebuilds the heap without its dead entries, if they are many.
func (q *eventQueue) compact(release func(*event)) {
	if q.dead < minCompact || q.dead*2 < len(q.h) {
		return
	}
	h := q.h[:0]
	for _, it := range q.h {
		if stale(it) {
			release(it.ev)
			continue
		}
		h = append(h, it)
	}
	clear(q.h[len(h):])
	q.h = h
	q.dead = 0
	// Floyd's heap construction: sift every inner node down, last first.
	for i := (len(h) - 2) / queueArity; i >= 0; i-- {
		x := h[i]
		j := i
		for {
			c := queueArity*j + 1
			if c >= len(h) {
				break
			}
			m := c
			end := min(c+queueArity, len(h))
			for k := c + 1; k < end; k++ {
				if itemLess(h[k], h[m]) {
					m = k
				}
			}
			if !itemLess(h[m], x) {
				break
			}
			h[j] = h[m]
			j = m
		}
		h[j] = x
	}
}
