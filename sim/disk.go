package sim

import (
	"fmt"
	"maps"
	"slices"
)

// Trace record kinds written by disks.
const (
	KindDiskSync = "disk.sync" // a sync completed: what it covered is durable
	KindDiskLoss = "disk.loss" // a crash lost (part of) a file's unsynced writes
	KindDiskSlow = "disk.slow" // a slow-disk fault began or ended
)

// DefaultSyncCost is the sync cost of a disk that was given none: about an
// fsync on a datacenter SSD.
const DefaultSyncCost = Millisecond

// LossMode says what a crash keeps of the writes made since a file's last
// completed sync.
type LossMode uint8

// Loss modes.
const (
	// LossPrefix keeps a random write-order prefix of the unsynced writes:
	// none, some, or all of them, the last kept append possibly torn at a byte
	// boundary (the page cache may have written some of it back). The default.
	LossPrefix LossMode = iota
	// LossTail loses every unsynced write: the strictest outcome, and a
	// deterministic one.
	LossTail
	// LossNone keeps every unsynced write: the process was killed while its
	// machine and operating system stayed up, so the page cache survives
	// (a disk-crash-loss fault still loses them: a power failure).
	LossNone
)

// String names the mode as the trace and flags show it.
func (m LossMode) String() string {
	switch m {
	case LossPrefix:
		return "prefix"
	case LossTail:
		return "tail"
	case LossNone:
		return "none"
	}
	return fmt.Sprintf("loss(%d)", m)
}

// plantDiskForgetsSync is a planted bug for tests: a completed sync does not
// make its writes durable, so a crash can lose synced data.
var plantDiskForgetsSync bool

type diskOpKind uint8

const (
	diskAppend   diskOpKind = iota // append data
	diskWrite                      // replace the content with data (creates the file)
	diskTruncate                   // cut the content to size bytes
	diskRemove                     // delete the file
)

// diskOp is one write to a file, kept until a sync makes it durable. data is
// the disk's own copy.
type diskOp struct {
	kind diskOpKind
	data []byte
	size int
}

// fileState is a file's content: exists says whether it is there at all.
type fileState struct {
	exists bool
	data   []byte
}

// apply applies op. A write shares the op's bytes (the disk's own copy,
// never changed) with the op list and the other state rather than copying
// them: every replica's files are written this way, and each copy was a
// third of the simulated disk's memory. So that no shared bytes are ever
// overwritten, a shared or cut slice is capped at its length, and the next
// append copies it.
func (s *fileState) apply(op diskOp) {
	switch op.kind {
	case diskAppend:
		s.exists = true
		s.data = append(s.data, op.data...)
	case diskWrite:
		s.exists = true
		s.data = op.data[:len(op.data):len(op.data)]
	case diskTruncate:
		s.data = s.data[:op.size:op.size]
	case diskRemove:
		s.exists = false
		s.data = nil
	}
}

func (s *fileState) clone() fileState {
	return fileState{exists: s.exists, data: slices.Clone(s.data)}
}

// file is one named file of a disk. cur is what reads see; durable is what a
// crash keeps for sure; ops are the writes since, the first of which has
// sequence number durableSeq+1.
type file struct {
	name       string
	cur        fileState
	durable    fileState
	ops        []diskOp
	durableSeq uint64 // writes made durable so far
	seq        uint64 // writes made so far
}

// syncMark says that a sync covers a file's writes up to sequence number seq.
type syncMark struct {
	file *file
	seq  uint64
}

// pendingSync is a sync that has been asked for and has not completed.
type pendingSync struct {
	inc   uint32
	marks []syncMark // by file name
}

// Disk is a process's durable storage: named files that outlive its crashes.
//
// Writes (Append, Write, Truncate, Remove) take effect at once for reads but
// are volatile until a Sync that covers them completes. A crash of the
// process keeps every file's durable content plus, per LossMode, a
// write-order prefix of its unsynced writes; a sync in flight at the crash
// does not complete. Files are independent: a crash may keep more of one
// file's unsynced writes than another's, as a file system keeps no order
// between files. Nor does a file's creation or removal need a sync of its
// directory to survive a crash (simplified: no directory-entry durability).
//
// Writes cost no virtual time (they land in the page cache); a sync costs a
// duration drawn from the disk's SyncCost, plus the extra of a slow-disk
// fault. Syncs of one disk run one at a time, in the order they were asked
// for; a sync with nothing to write costs as much as any (a simplification:
// a real fsync of a clean file returns at once).
type Disk struct {
	w        *World
	proc     ProcID
	inc      uint32 // the incarnation whose writes the volatile state holds
	files    map[string]*file
	syncCost Latency
	loss     LossMode
	slow     Duration
	busy     Time // when the last queued sync completes
	syncs    []*pendingSync
	costRand *Rand
	lossRand *Rand
}

// Disk returns p's disk, creating it empty on first use. The disk lives
// across p's crashes and restarts.
func (w *World) Disk(p ProcID) *Disk {
	pr := w.proc(p)
	if int(p) >= len(w.disks) {
		w.disks = append(w.disks, make([]*Disk, int(p)+1-len(w.disks))...)
	}
	d := w.disks[p]
	if d == nil {
		d = &Disk{
			w:        w,
			proc:     p,
			inc:      pr.incarnation,
			files:    map[string]*file{},
			syncCost: Fixed(DefaultSyncCost),
			costRand: w.Rand("sim.disk.cost/" + pr.name),
			lossRand: w.Rand("sim.disk.loss/" + pr.name),
		}
		w.disks[p] = d
	}
	return d
}

// crashDisk applies a crash of p to its disk, if it has one: the unsynced
// writes are (partly) lost now rather than at the disk's next use.
func (w *World) crashDisk(p ProcID) {
	if int(p) < len(w.disks) && w.disks[p] != nil {
		w.disks[p].recover()
	}
}

// Proc returns the process the disk belongs to.
func (d *Disk) Proc() ProcID { return d.proc }

// SetSyncCost sets the distribution a sync's cost is drawn from (default
// Fixed(DefaultSyncCost)). It applies to syncs asked for from now on.
func (d *Disk) SetSyncCost(l Latency) {
	if err := l.Validate(); err != nil {
		panic("sim: disk sync cost: " + err.Error())
	}
	d.syncCost = l
}

// SetLossMode sets what a crash keeps of unsynced writes (default LossPrefix).
func (d *Disk) SetLossMode(m LossMode) {
	if m > LossNone {
		panic(fmt.Sprintf("sim: unknown disk loss mode %d", m))
	}
	d.loss = m
}

// SetSlow starts a slow-disk fault: every sync asked for from now on costs
// extra on top of its drawn cost, until ClearSlow. Syncs already queued keep
// their cost (simplified: a disk that turns slow would slow them too). Setting it again replaces the extra.
func (d *Disk) SetSlow(extra Duration) {
	if extra < 0 {
		panic(fmt.Sprintf("sim: negative slow-disk extra %v", extra))
	}
	d.slow = extra
	if d.w.tracing {
		d.w.record(KindDiskSlow, d.proc, Kernel, 0, "", Dur("extra", extra))
	}
}

// ClearSlow ends a slow-disk fault.
func (d *Disk) ClearSlow() {
	if d.slow == 0 {
		return
	}
	d.slow = 0
	if d.w.tracing {
		d.w.record(KindDiskSlow, d.proc, Kernel, 0, "", Dur("extra", 0))
	}
}

// Slow returns the extra cost of the current slow-disk fault (0: none).
func (d *Disk) Slow() Duration { return d.slow }

// recover applies a crash that happened since the disk last looked: the
// volatile state of the old incarnation becomes what survived it.
func (d *Disk) recover() {
	inc := d.w.procs[d.proc].incarnation
	if inc == d.inc {
		return
	}
	d.inc = inc
	d.syncs = nil // in flight at the crash: they never complete
	d.busy = 0
	for _, name := range d.names() {
		f := d.files[name]
		d.lose(f)
		if !f.cur.exists {
			delete(d.files, name)
		}
	}
}

// lose replaces f's volatile state with what a crash keeps of it.
func (d *Disk) lose(f *file) {
	n := len(f.ops)
	if n == 0 {
		return
	}
	keep, torn := 0, -1
	if d.loss == LossNone {
		keep = n
	}
	if d.loss == LossPrefix {
		keep = d.lossRand.Intn(n + 1)
		if keep < n && f.ops[keep].kind == diskAppend && len(f.ops[keep].data) > 1 && d.lossRand.Chance(0.5) {
			torn = 1 + d.lossRand.Intn(len(f.ops[keep].data)-1)
		}
	}
	st := f.durable.clone()
	for _, op := range f.ops[:keep] {
		st.apply(op)
	}
	if torn > 0 {
		st.apply(diskOp{kind: diskAppend, data: f.ops[keep].data[:torn]})
	}
	if d.w.tracing {
		d.w.record(KindDiskLoss, d.proc, Kernel, 0, f.name,
			Int("unsynced", n), Int("kept", keep), Int("torn", max(torn, 0)), Int("size", len(st.data)))
	}
	f.cur = st
	// Simplified: what survived the crash counts as durable from now on.
	f.durable = st.clone()
	f.ops = nil
	f.durableSeq = f.seq
}

func (d *Disk) names() []string { return slices.Sorted(maps.Keys(d.files)) }

// writable checks that p may write now and applies a crash since.
func (d *Disk) writable(op string, name string) {
	if name == "" {
		panic(fmt.Sprintf("sim: disk %s with an empty file name", op))
	}
	if !d.w.procs[d.proc].up {
		panic(fmt.Sprintf("sim: crashed process %s writes to its disk (%s %q)", d.w.procs[d.proc].name, op, name))
	}
	d.recover()
}

func (d *Disk) file(name string) *file {
	f := d.files[name]
	if f == nil {
		f = &file{name: name}
		d.files[name] = f
	}
	return f
}

func (d *Disk) write(f *file, op diskOp) {
	f.cur.apply(op)
	f.ops = append(f.ops, op)
	f.seq++
}

// Append adds data at the end of the file, creating it if need be. The disk
// keeps its own copy of data.
func (d *Disk) Append(name string, data []byte) {
	d.writable("append", name)
	d.write(d.file(name), diskOp{kind: diskAppend, data: slices.Clone(data)})
}

// Write replaces the file's content with data, creating it if need be. The
// replacement is atomic, as writing a temporary file and renaming it over
// the old one is (how Kafka writes its checkpoint files): a crash keeps the
// old content or the new, never a mix.
func (d *Disk) Write(name string, data []byte) {
	d.writable("write", name)
	d.write(d.file(name), diskOp{kind: diskWrite, data: slices.Clone(data)})
}

// Truncate cuts the file to size bytes, as Kafka truncates a log to a
// leader's offset. Truncating a missing file or beyond its size is a
// programming error.
func (d *Disk) Truncate(name string, size int) {
	d.writable("truncate", name)
	f := d.files[name]
	if f == nil || !f.cur.exists {
		panic(fmt.Sprintf("sim: truncate of missing file %q", name))
	}
	if size < 0 || size > len(f.cur.data) {
		panic(fmt.Sprintf("sim: truncate of %q (%d bytes) to %d", name, len(f.cur.data), size))
	}
	d.write(f, diskOp{kind: diskTruncate, size: size})
}

// Remove deletes the file; removing a missing file does nothing.
func (d *Disk) Remove(name string) {
	d.writable("remove", name)
	f := d.files[name]
	if f == nil || !f.cur.exists {
		return
	}
	d.write(f, diskOp{kind: diskRemove})
}

// Exists reports whether the file exists. Like every read, it sees the
// volatile writes of a running process, and after a crash only what survived.
func (d *Disk) Exists(name string) bool {
	d.recover()
	f := d.files[name]
	return f != nil && f.cur.exists
}

// Size returns the file's size in bytes (0 if it does not exist).
func (d *Disk) Size(name string) int {
	d.recover()
	if f := d.files[name]; f != nil {
		return len(f.cur.data)
	}
	return 0
}

// Read returns a copy of the file's content and whether it exists.
func (d *Disk) Read(name string) ([]byte, bool) {
	d.recover()
	f := d.files[name]
	if f == nil || !f.cur.exists {
		return nil, false
	}
	return slices.Clone(f.cur.data), true
}

// ReadAt returns a copy of at most n bytes of the file from offset off (fewer
// at its end; none past it or if it does not exist).
func (d *Disk) ReadAt(name string, off, n int) []byte {
	if off < 0 || n < 0 {
		panic(fmt.Sprintf("sim: disk ReadAt(%q, %d, %d)", name, off, n))
	}
	d.recover()
	f := d.files[name]
	if f == nil || off >= len(f.cur.data) {
		return nil
	}
	return slices.Clone(f.cur.data[off:min(off+n, len(f.cur.data))])
}

// Durable returns a copy of the content a crash now would keep for sure (the
// file as of its last completed sync) and whether the file exists there. It
// is for checkers: a process reads with Read.
func (d *Disk) Durable(name string) ([]byte, bool) {
	d.recover()
	f := d.files[name]
	if f == nil || !f.durable.exists {
		return nil, false
	}
	return slices.Clone(f.durable.data), true
}

// Unsynced returns how many writes to the file no completed sync covers yet.
func (d *Disk) Unsynced(name string) int {
	d.recover()
	if f := d.files[name]; f != nil {
		return len(f.ops)
	}
	return 0
}

// Files returns the names of the files that exist, sorted.
func (d *Disk) Files() []string {
	d.recover()
	var names []string
	for _, name := range d.names() {
		if d.files[name].cur.exists {
			names = append(names, name)
		}
	}
	return names
}

// Sync makes the writes made so far to the named file durable, like fsync:
// done runs as an event of the process when they are (nil: nobody waits).
// Writes made after the call are not covered. If the process crashes first,
// done never runs and the writes are as volatile as any.
func (d *Disk) Sync(name string, done func()) {
	d.writable("sync", name)
	var marks []syncMark
	if f := d.files[name]; f != nil && len(f.ops) > 0 {
		marks = []syncMark{{f, f.seq}}
	}
	d.sync(name, marks, done)
}

// SyncAll is Sync for every file of the disk (fsync of each, then of the
// directory).
func (d *Disk) SyncAll(done func()) {
	if !d.w.procs[d.proc].up {
		panic(fmt.Sprintf("sim: crashed process %s syncs its disk", d.w.procs[d.proc].name))
	}
	d.recover()
	var marks []syncMark
	for _, name := range d.names() {
		if f := d.files[name]; len(f.ops) > 0 {
			marks = append(marks, syncMark{f, f.seq})
		}
	}
	d.sync("*", marks, done)
}

func (d *Disk) sync(label string, marks []syncMark, done func()) {
	w := d.w
	cost := d.syncCost.Sample(d.costRand) + d.slow
	start := max(w.now, d.busy)
	d.busy = start.Add(cost)
	s := &pendingSync{inc: d.inc, marks: marks}
	d.syncs = append(d.syncs, s)
	// The disk finishes on its own clock, paused process or not; the process
	// hears of it through an event of its own.
	w.At(Kernel, d.busy, "disk-sync", func() {
		d.recover()
		if s.inc != d.inc || len(d.syncs) == 0 || d.syncs[0] != s {
			return // lost with a crash
		}
		d.syncs[0] = nil
		d.syncs = d.syncs[1:]
		ops := 0
		for _, m := range marks {
			ops += d.complete(m.file, m.seq)
		}
		if w.tracing {
			w.record(KindDiskSync, d.proc, Kernel, 0, label, Int("writes", ops), Dur("cost", cost))
		}
		if done != nil {
			w.At(d.proc, w.now, "disk-sync-done", done)
		}
	})
}

// complete makes f's writes up to sequence number mark durable and reports
// how many that was.
func (d *Disk) complete(f *file, mark uint64) int {
	if f == nil || mark <= f.durableSeq || plantDiskForgetsSync {
		return 0
	}
	n := int(mark - f.durableSeq)
	for _, op := range f.ops[:n] {
		f.durable.apply(op)
	}
	clear(f.ops[:n])
	f.ops = f.ops[n:]
	f.durableSeq = mark
	if len(f.ops) == 0 {
		f.ops = nil
	}
	return n
}
