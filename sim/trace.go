package sim

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
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

// Record is one observable step of a run. Records are written in the order
// they happen; Step is the number of the kernel event during which the record
// was made (0 for records made before the first event).
type Record struct {
	Step     uint64 `json:"step"`
	At       Time   `json:"t_ns"`
	Kind     string `json:"kind"`
	Proc     ProcID `json:"proc"`
	ProcName string `json:"proc_name,omitempty"`
	Peer     ProcID `json:"peer,omitempty"`
	PeerName string `json:"peer_name,omitempty"`
	Conn     ConnID `json:"conn,omitempty"`
	Label    string `json:"label,omitempty"`
	Detail   string `json:"detail,omitempty"`
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
	if r.Detail != "" {
		s += " " + r.Detail
	}
	return s
}

// A Sink receives every trace record of a run, in order. The record is only
// valid during the call.
type Sink interface {
	Write(r *Record) error
}

// MemorySink keeps every record in memory.
type MemorySink struct {
	Records []Record
}

// Write appends a copy of r.
func (m *MemorySink) Write(r *Record) error {
	m.Records = append(m.Records, *r)
	return nil
}

// JSONSink writes records as JSON lines.
type JSONSink struct {
	w   *bufio.Writer
	enc *json.Encoder
}

// NewJSONSink returns a sink that writes one JSON object per line to w. Call
// Flush when the run ends.
func NewJSONSink(w io.Writer) *JSONSink {
	bw := bufio.NewWriter(w)
	return &JSONSink{w: bw, enc: json.NewEncoder(bw)}
}

// Write encodes r as one line.
func (j *JSONSink) Write(r *Record) error { return j.enc.Encode(r) }

// Flush writes buffered lines out.
func (j *JSONSink) Flush() error { return j.w.Flush() }

// traceHash is FNV-1a (64 bit) over a canonical binary encoding of every
// record: fixed-width little-endian integers and length-prefixed strings, so
// no two different traces encode alike.
type traceHash struct {
	h   uint64
	buf [8]byte
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func (t *traceHash) bytes(b []byte) {
	h := t.h
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	t.h = h
}

func (t *traceHash) u64(v uint64) {
	binary.LittleEndian.PutUint64(t.buf[:], v)
	t.bytes(t.buf[:])
}

func (t *traceHash) str(s string) {
	t.u64(uint64(len(s)))
	h := t.h
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	t.h = h
}

func (t *traceHash) add(r *Record) {
	t.u64(r.Step)
	t.u64(uint64(r.At))
	t.str(r.Kind)
	t.u64(uint64(uint32(r.Proc)))
	t.u64(uint64(uint32(r.Peer)))
	t.u64(uint64(r.Conn))
	t.str(r.Label)
	t.str(r.Detail)
}
