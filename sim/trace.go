package sim

import (
	"bufio"
	"fmt"
	"io"
	"iter"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// Trace record kinds written by the kernel. Layers above add their own kinds
// (fakezk writes "zk.*", nodes "kafka.*") through World.Emit.
const (
	KindEvent        = "event"         // a scheduled event ran
	KindEventDropped = "event.dropped" // an event of a crashed incarnation was discarded
	KindEventDefer   = "event.deferred"
	KindMsgSend      = "msg.send"
	KindMsgDeliver   = "msg.deliver"
	KindMsgLost      = "msg.lost"
	KindConnDial     = "conn.dial"
	KindConnUp       = "conn.up"
	KindConnRefused  = "conn.refused"
	KindConnBreak    = "conn.break" // the connection broke (both ends learn later)
	KindConnClose    = "conn.close" // one end closed it on purpose
	KindConnDown     = "conn.down"  // an end learnt that its connection is gone
	KindProcCrash    = "proc.crash"
	KindProcRestart  = "proc.restart"
	KindProcPause    = "proc.pause"
	KindProcResume   = "proc.resume"
	KindNetPartition = "net.partition"
	KindNetHeal      = "net.heal"
	KindNetLatency   = "net.latency"
	KindNote         = "note" // free text from a scenario
)

// MaxAttrs bounds the attributes of one record.
const MaxAttrs = 16

// TraceLevel says how much of the trace a run makes.
type TraceLevel uint8

// Trace levels. The zero value, TraceDefault, is TraceHash when
// Options.Sinks is empty and TraceFull when it is not.
const (
	// TraceDefault picks TraceHash or TraceFull from Options.Sinks.
	TraceDefault TraceLevel = iota
	// TraceOff makes no records and no hash (benchmarks of the kernel alone).
	TraceOff
	// TraceHash hashes every record and keeps none: the level of sweeps.
	TraceHash
	// TraceFull hashes every record and hands it to the sinks.
	TraceFull
)

// String names the level: "default", "off", "hash" or "full".
func (l TraceLevel) String() string {
	switch l {
	case TraceDefault:
		return "default"
	case TraceOff:
		return "off"
	case TraceHash:
		return "hash"
	case TraceFull:
		return "full"
	}
	return fmt.Sprintf("tracelevel(%d)", uint8(l))
}

// Record is one observable step of a run. Records are written in the order
// they happen; Step is the number of the kernel event during which the record
// was made (0 for records made before the first event).
type Record struct {
	Step     uint64
	At       Time
	Kind     string
	Proc     ProcID
	ProcName string
	Peer     ProcID
	PeerName string
	Conn     ConnID
	Label    string
	// Attrs are the record's typed fields, in the order they were given.
	Attrs []Attr
}

// Attr returns the attribute named key, if r has one.
func (r *Record) Attr(key string) (Attr, bool) {
	for _, a := range r.Attrs {
		if a.Key == key {
			return a, true
		}
	}
	return Attr{}, false
}

// Detail renders the attributes as key=value pairs separated by spaces, for
// people (strings with spaces are quoted).
func (r *Record) Detail() string { return string(r.appendDetail(nil)) }

func (r *Record) appendDetail(b []byte) []byte {
	for i := range r.Attrs {
		if i > 0 {
			b = append(b, ' ')
		}
		b = r.Attrs[i].appendText(b)
	}
	return b
}

// String renders r as one human-readable line.
func (r *Record) String() string {
	s := fmt.Sprintf("%6d %12v %-14s %s", r.Step, r.At, r.Kind, r.ProcName)
	if r.PeerName != "" {
		s += "->" + r.PeerName
	}
	if r.Conn != 0 {
		s += fmt.Sprintf(" c%d", r.Conn)
	}
	if r.Label != "" {
		s += " " + r.Label
	}
	if len(r.Attrs) > 0 {
		s += " " + r.Detail()
	}
	return s
}

// A Sink receives every trace record of a run, in order. The record and its
// attributes are only valid during the call: a sink that keeps them copies.
type Sink interface {
	Write(r *Record) error
}

// Memory sink layout: records and attributes live in fixed-size chunks, so
// a long trace never copies what it holds (no doubling of a giant slice) and
// a record costs 72 bytes plus 32 per attribute (strings are shared with the
// run, not copied).
const (
	memRecordChunk = 8192
	memAttrChunk   = 16384
)

type memRecord struct {
	step  uint64
	at    Time
	kind  string
	label string
	conn  ConnID
	proc  ProcID
	peer  ProcID
	attr  uint32 // index of the first attribute in the arena
	nattr uint8
}

type memAttr struct {
	str  string
	num  int64
	key  uint16 // index into MemorySink.keys
	kind AttrKind
}

// MemorySink keeps every record in memory, compactly. Read it back with Len,
// At, All or Records.
type MemorySink struct {
	recs   [][]memRecord
	attrs  [][]memAttr
	n      int
	keys   []string
	keyIdx map[string]uint16
	names  []string // process names by ProcID, as records showed them
}

// Write appends a copy of r.
func (m *MemorySink) Write(r *Record) error {
	if m.n%memRecordChunk == 0 {
		m.recs = append(m.recs, make([]memRecord, 0, memRecordChunk))
	}
	mr := memRecord{step: r.Step, at: r.At, kind: r.Kind, label: r.Label, conn: r.Conn, proc: r.Proc, peer: r.Peer, nattr: uint8(len(r.Attrs))}
	if len(r.Attrs) > 0 {
		last := len(m.attrs) - 1
		if last < 0 || len(m.attrs[last])+len(r.Attrs) > memAttrChunk {
			m.attrs = append(m.attrs, make([]memAttr, 0, memAttrChunk))
			last++
		}
		chunk := m.attrs[last]
		mr.attr = uint32(last*memAttrChunk + len(chunk))
		for i := range r.Attrs {
			a := &r.Attrs[i]
			chunk = append(chunk, memAttr{str: a.Str, num: a.Num, key: m.key(a.Key), kind: a.Kind})
		}
		m.attrs[last] = chunk
	}
	m.name(r.Proc, r.ProcName)
	m.name(r.Peer, r.PeerName)
	c := &m.recs[len(m.recs)-1]
	*c = append(*c, mr)
	m.n++
	return nil
}

func (m *MemorySink) key(k string) uint16 {
	if i, ok := m.keyIdx[k]; ok {
		return i
	}
	if len(m.keys) == 1<<16 {
		panic("sim: more than 65536 distinct attribute keys in one trace")
	}
	if m.keyIdx == nil {
		m.keyIdx = map[string]uint16{}
	}
	i := uint16(len(m.keys))
	m.keys = append(m.keys, k)
	m.keyIdx[k] = i
	return i
}

func (m *MemorySink) name(p ProcID, name string) {
	if name == "" || p < 0 {
		return
	}
	for int(p) >= len(m.names) {
		m.names = append(m.names, "")
	}
	m.names[p] = name
}

func (m *MemorySink) procName(p ProcID) string {
	if p < 0 || int(p) >= len(m.names) {
		return ""
	}
	return m.names[p]
}

// Len returns the number of records.
func (m *MemorySink) Len() int { return m.n }

// At returns record i (0 ≤ i < Len). Its attributes are a fresh slice.
func (m *MemorySink) At(i int) Record {
	if i < 0 || i >= m.n {
		panic(fmt.Sprintf("sim: MemorySink.At(%d) with %d records", i, m.n))
	}
	mr := &m.recs[i/memRecordChunk][i%memRecordChunk]
	r := Record{Step: mr.step, At: mr.at, Kind: mr.kind, Proc: mr.proc, Peer: mr.peer, Conn: mr.conn, Label: mr.label}
	r.ProcName = m.procName(mr.proc)
	if mr.peer != Kernel {
		r.PeerName = m.procName(mr.peer)
	}
	if mr.nattr > 0 {
		r.Attrs = make([]Attr, mr.nattr)
		chunk := m.attrs[mr.attr/memAttrChunk]
		off := int(mr.attr % memAttrChunk)
		for j := range r.Attrs {
			ma := &chunk[off+j]
			r.Attrs[j] = Attr{Key: m.keys[ma.key], Kind: ma.kind, Num: ma.num, Str: ma.str}
		}
	}
	return r
}

// All yields every record in order.
func (m *MemorySink) All() iter.Seq2[int, Record] {
	return func(yield func(int, Record) bool) {
		for i := 0; i < m.n; i++ {
			if !yield(i, m.At(i)) {
				return
			}
		}
	}
}

// Records returns a copy of every record (convenient for small traces).
func (m *MemorySink) Records() []Record {
	out := make([]Record, m.n)
	for i := range out {
		out[i] = m.At(i)
	}
	return out
}

// JSONSink writes records as JSON lines: the record's fields, then its
// attributes as fields of their own (see AttrKind for how each kind is
// written). It encodes by hand, without reflection.
type JSONSink struct {
	w   *bufio.Writer
	buf []byte
}

// NewJSONSink returns a sink that writes one JSON object per line to w. Call
// Flush when the run ends.
func NewJSONSink(w io.Writer) *JSONSink {
	return &JSONSink{w: bufio.NewWriterSize(w, 64<<10), buf: make([]byte, 0, 512)}
}

// Write encodes r as one line.
func (j *JSONSink) Write(r *Record) error {
	j.buf = AppendJSON(j.buf[:0], r)
	_, err := j.w.Write(j.buf)
	return err
}

// Flush writes buffered lines out.
func (j *JSONSink) Flush() error { return j.w.Flush() }

// AppendJSON appends r as one JSON object and a newline.
func AppendJSON(b []byte, r *Record) []byte {
	b = append(b, `{"step":`...)
	b = strconv.AppendUint(b, r.Step, 10)
	b = append(b, `,"t_ns":`...)
	b = strconv.AppendInt(b, int64(r.At), 10)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, r.Kind)
	b = append(b, `,"proc":`...)
	b = strconv.AppendInt(b, int64(r.Proc), 10)
	if r.ProcName != "" {
		b = append(b, `,"proc_name":`...)
		b = appendJSONString(b, r.ProcName)
	}
	if r.Peer != 0 {
		b = append(b, `,"peer":`...)
		b = strconv.AppendInt(b, int64(r.Peer), 10)
	}
	if r.PeerName != "" {
		b = append(b, `,"peer_name":`...)
		b = appendJSONString(b, r.PeerName)
	}
	if r.Conn != 0 {
		b = append(b, `,"conn":`...)
		b = strconv.AppendUint(b, uint64(r.Conn), 10)
	}
	if r.Label != "" {
		b = append(b, `,"label":`...)
		b = appendJSONString(b, r.Label)
	}
	for i := range r.Attrs {
		a := &r.Attrs[i]
		b = append(b, ',')
		b = appendJSONString(b, a.Key)
		if a.Kind == AttrDur { // "<key>_ns": the suffix goes inside the quotes
			b = append(b[:len(b)-1], `_ns":`...)
			b = strconv.AppendInt(b, a.Num, 10)
			continue
		}
		b = append(b, ':')
		switch a.Kind {
		case AttrStr:
			b = appendJSONString(b, a.Str)
		case AttrBool:
			b = strconv.AppendBool(b, a.Num != 0)
		case AttrHex:
			b = append(b, '"')
			b = appendHex(b, a.Num)
			b = append(b, '"')
		case AttrProc:
			b = strconv.AppendInt(b, a.Num, 10)
			if a.Str != "" {
				b = append(b, ',')
				b = appendJSONString(b, a.Key)
				b = append(b[:len(b)-1], `_name":`...)
				b = appendJSONString(b, a.Str)
			}
		default: // AttrInt, AttrConn
			b = strconv.AppendInt(b, a.Num, 10)
		}
	}
	return append(b, '}', '\n')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD, and U+2028
// and U+2029 escaped as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// traceHash is the determinism fingerprint: a 64-bit FNV-style hash that
// takes a word (8 bytes) at a time, h = rotl((h ^ w) * k, 27), over a
// canonical encoding of every record, finished with MurmurHash3's fmix64
// when read. Both steps are bijections of the state, so no information is
// lost between words. The encoding of a record:
//
//	step, t_ns, len(kind) | len(attrs)<<32, kind, uint32(proc) | uint32(peer)<<32, conn,
//	label, then per attribute: kind | len(key)<<8, key, value
//
// where a string is its length then its bytes in little-endian words (the
// last one zero-padded) and a value is Num, or Str as a string for AttrStr.
// Every length precedes what it measures, so no two different traces
// encode alike. Process names are not hashed (ids are).
type traceHash struct {
	h uint64
}

const (
	hashSeed = 14695981039346656037 // FNV-1a's 64-bit offset basis
	hashMul  = 0x9e3779b97f4a7c15   // 2^64 / golden ratio, odd
)

func mix(h, w uint64) uint64 { return bits.RotateLeft64((h^w)*hashMul, 27) }

// mixStr mixes the bytes of s (not its length) a word at a time.
func mixStr(h uint64, s string) uint64 {
	for len(s) >= 8 {
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = mix(h, w)
		s = s[8:]
	}
	if len(s) > 0 {
		var w uint64
		for i := len(s) - 1; i >= 0; i-- {
			w = w<<8 | uint64(s[i])
		}
		h = mix(h, w)
	}
	return h
}

func (t *traceHash) record(step uint64, at Time, kind string, proc, peer ProcID, conn ConnID, label string, attrs []Attr) {
	h := t.h
	h = mix(h, step)
	h = mix(h, uint64(at))
	h = mix(h, uint64(len(kind))|uint64(len(attrs))<<32)
	h = mixStr(h, kind)
	h = mix(h, uint64(uint32(proc))|uint64(uint32(peer))<<32)
	h = mix(h, uint64(conn))
	h = mix(h, uint64(len(label)))
	h = mixStr(h, label)
	for i := range attrs {
		a := &attrs[i]
		h = mix(h, uint64(a.Kind)|uint64(len(a.Key))<<8)
		h = mixStr(h, a.Key)
		if a.Kind == AttrStr {
			h = mix(h, uint64(len(a.Str)))
			h = mixStr(h, a.Str)
		} else {
			h = mix(h, uint64(a.Num))
		}
	}
	t.h = h
}

// sum returns the finished hash.
func (t *traceHash) sum() uint64 {
	h := t.h
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// TraceHashOf returns the trace hash of records, as World.TraceHash gives it
// for the run that made them: what a sink saw can be checked against the hash.
func TraceHashOf(records iter.Seq2[int, Record]) string {
	t := traceHash{h: hashSeed}
	for _, r := range records {
		t.record(r.Step, r.At, r.Kind, r.Proc, r.Peer, r.Conn, r.Label, r.Attrs)
	}
	return t.String()
}

// String returns the finished hash in 16 hex digits.
func (t *traceHash) String() string {
	b := strconv.AppendUint(make([]byte, 0, 16), t.sum(), 16)
	for len(b) < 16 {
		b = append([]byte{'0'}, b...)
	}
	return string(b)
}
