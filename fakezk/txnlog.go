package fakezk

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// The transaction log: one JSON line per committed change, in zxid order, as ZooKeeper's txn log
// (FileTxnLog) holds one record per transaction. A line is
//
//	{"zxid":5,"t_ns":1200000,"session":72057594037927937,"type":"create","path":"/a","data":"x","ephemeral_owner":0}
//
// with type one of createSession, closeSession, create (path, data, ephemeral_owner; "container":true
// for a container), setData (path, data, version: the version after the write) and delete (path). The
// ops of one multi are one line each, all with the multi's zxid and "multi":true. The ephemerals a
// closeSession removes follow its line as delete lines with the same zxid; a container the server
// reaps is a delete line of its own zxid with session 0. Data that is not UTF-8 goes in data_b64
// instead of data.
//
// Simplified: failed writes (error txns in ZooKeeper's log) and setACL are not logged: the log holds
// what changes the tree's paths, data, versions and owners, which is what the dump shows.

// Txn log record types.
const (
	TxnCreateSession = "createSession"
	TxnCloseSession  = "closeSession"
	TxnCreate        = "create"
	TxnSetData       = "setData"
	TxnDelete        = "delete"
)

type logKind uint8

const (
	logCreate logKind = iota + 1
	logSetData
	logDelete
	logSetACL // on the server's disk only: the JSON log has no ACLs
)

// logOp is one change a Tree committed, recorded for the logs.
type logOp struct {
	kind    logKind
	path    string
	data    []byte
	acl     []ACL
	owner   int64 // internal owner: a session, containerOwner or 0
	version int32 // setData: the version after; setACL: the aversion after
}

func (t *Tree) record(op logOp) {
	if t.rec != nil {
		*t.rec = append(*t.rec, op)
	}
}

func (t *Tree) recLen() int {
	if t.rec == nil {
		return 0
	}
	return len(*t.rec)
}

func (t *Tree) truncRec(n int) {
	if t.rec != nil {
		clear((*t.rec)[n:])
		*t.rec = (*t.rec)[:n]
	}
}

// txnLogWriter turns committed transactions into log lines on an io.Writer. Lines wait in pending
// until the transaction is durable (its fsync completed, or a restart found it on the disk), so the
// log never shows a transaction a crash took back. It keeps the first write error and writes nothing
// after it.
type txnLogWriter struct {
	w       io.Writer
	buf     []byte
	pending []byte
	marks   []pendingMark
	written int64 // the zxid of the last transaction written
	err     error
}

// pendingMark is where a transaction's lines end in pending.
type pendingMark struct {
	end  int
	zxid int64
}

// record adds r's lines to pending.
func (l *txnLogWriter) record(r *diskRecord) {
	switch r.typ {
	case recCreateSession:
		l.session(r.zxid, r.tNs, r.session, TxnCreateSession)
	case recCloseSession:
		l.session(r.zxid, r.tNs, r.session, TxnCloseSession)
	}
	l.ops(r.zxid, r.tNs, r.session, r.ops, r.multi)
	l.marks = append(l.marks, pendingMark{end: len(l.pending), zxid: r.zxid})
}

// flush writes the first n bytes of pending (a transaction boundary) and drops them.
func (l *txnLogWriter) flush(n int) {
	if n == 0 {
		return
	}
	if l.err == nil {
		if _, err := l.w.Write(l.pending[:n]); err != nil {
			l.err = fmt.Errorf("fakezk: writing the transaction log: %w", err)
		}
	}
	k := 0
	for k < len(l.marks) && l.marks[k].end <= n {
		l.written = l.marks[k].zxid
		k++
	}
	rest := copy(l.marks, l.marks[k:])
	for i := range l.marks[:rest] {
		l.marks[i].end -= n
	}
	l.marks = l.marks[:rest]
	rest = copy(l.pending, l.pending[n:])
	l.pending = l.pending[:rest]
}

func (l *txnLogWriter) write(line []byte) {
	l.pending = append(l.pending, line...)
}

// header starts a line.
func (l *txnLogWriter) header(zxid, tNs, session int64, typ string) []byte {
	b := append(l.buf[:0], `{"zxid":`...)
	b = strconv.AppendInt(b, zxid, 10)
	b = append(b, `,"t_ns":`...)
	b = strconv.AppendInt(b, tNs, 10)
	b = append(b, `,"session":`...)
	b = strconv.AppendInt(b, session, 10)
	b = append(b, `,"type":"`...)
	b = append(b, typ...)
	return append(b, '"')
}

func (l *txnLogWriter) end(b []byte, multi bool) {
	if multi {
		b = append(b, `,"multi":true`...)
	}
	b = append(b, "}\n"...)
	l.write(b)
	l.buf = b
}

// session writes a createSession or closeSession line.
func (l *txnLogWriter) session(zxid, tNs, session int64, typ string) {
	l.end(l.header(zxid, tNs, session, typ), false)
}

// ops writes one line per recorded change.
func (l *txnLogWriter) ops(zxid, tNs, session int64, ops []logOp, multi bool) {
	for _, op := range ops {
		var b []byte
		switch op.kind {
		case logCreate:
			b = l.header(zxid, tNs, session, TxnCreate)
			b = appendPathData(b, op.path, op.data)
			owner := op.owner
			if owner == containerOwner {
				owner = 0
			}
			b = append(b, `,"ephemeral_owner":`...)
			b = strconv.AppendInt(b, owner, 10)
			if op.owner == containerOwner {
				b = append(b, `,"container":true`...)
			}
		case logSetData:
			b = l.header(zxid, tNs, session, TxnSetData)
			b = appendPathData(b, op.path, op.data)
			b = append(b, `,"version":`...)
			b = strconv.AppendInt(b, int64(op.version), 10)
		case logDelete:
			b = l.header(zxid, tNs, session, TxnDelete)
			b = append(b, `,"path":`...)
			b = appendJSONString(b, op.path)
		default:
			continue // setACL
		}
		l.end(b, multi)
	}
}

func appendPathData(b []byte, path string, data []byte) []byte {
	b = append(b, `,"path":`...)
	b = appendJSONString(b, path)
	return appendData(b, data)
}

// appendData adds ,"data":… (UTF-8 text) or ,"data_b64":… (anything else).
func appendData(b []byte, data []byte) []byte {
	return appendDataAs(b, data, `,"data":`, `,"data_b64":`)
}

// appendDataAs adds dataKey and data as a JSON string, or b64Key and data in base64 when data is not
// UTF-8.
func appendDataAs(b []byte, data []byte, dataKey, b64Key string) []byte {
	if utf8.Valid(data) {
		b = append(b, dataKey...)
		return appendJSONString(b, string(data))
	}
	b = append(b, b64Key...)
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, data)
	return append(b, '"')
}

// appendJSONString appends s as a JSON string. Valid UTF-8 is kept as is except for the characters
// JSON must escape; s that is not valid UTF-8 is encoded by encoding/json (invalid bytes become
// U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		q, _ := json.Marshal(s) // a string always marshals
		return append(b, q...)
	}
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// TxnRecord is one line of the transaction log, as ReadTxnLog decodes it.
type TxnRecord struct {
	Zxid           int64  `json:"zxid"`
	TimeNs         int64  `json:"t_ns"`
	Session        int64  `json:"session"`
	Type           string `json:"type"`
	Path           string `json:"path,omitempty"`
	Data           []byte `json:"-"`
	EphemeralOwner int64  `json:"ephemeral_owner,omitempty"`
	Container      bool   `json:"container,omitempty"`
	Version        int32  `json:"version,omitempty"`
	Multi          bool   `json:"multi,omitempty"`
}

// maxTxnLogLine bounds one line of a log being read: a znode's data is at most jute.maxbuffer, which
// base64 grows by a third.
const maxTxnLogLine = 2*MaxPacketBytes + 4096

// ReadTxnLog decodes a transaction log. Errors name the line.
func ReadTxnLog(r io.Reader) ([]TxnRecord, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxTxnLogLine)
	var out []TxnRecord
	for line := 1; sc.Scan(); line++ {
		var raw struct {
			TxnRecord
			Data    *string `json:"data"`
			DataB64 *string `json:"data_b64"`
		}
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			return nil, fmt.Errorf("txn log line %d: %w", line, err)
		}
		rec := raw.TxnRecord
		switch {
		case raw.Data != nil && raw.DataB64 != nil:
			return nil, fmt.Errorf("txn log line %d: both data and data_b64", line)
		case raw.Data != nil:
			rec.Data = []byte(*raw.Data)
		case raw.DataB64 != nil:
			d, err := base64.StdEncoding.DecodeString(*raw.DataB64)
			if err != nil {
				return nil, fmt.Errorf("txn log line %d: data_b64: %w", line, err)
			}
			rec.Data = d
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("txn log: %w", err)
	}
	return out, nil
}

// ReplayTxnLog applies a transaction log to a fresh tree (NewTree) and returns the tree. Every record
// must apply cleanly: zxids never go down, a create's parent exists and its path does not, a setData
// gives the logged version, a delete finds its node, ephemerals belong to a session the log created and
// has not closed. ACLs are not in the log: replayed nodes get world:anyone ALL.
func ReplayTxnLog(r io.Reader) (*Tree, error) {
	recs, err := ReadTxnLog(r)
	if err != nil {
		return nil, err
	}
	t := NewTree()
	super := Caller{Identities: []Identity{{Scheme: "super"}}}
	live := map[int64]bool{}
	var last int64
	for i, rec := range recs {
		line := i + 1
		if rec.Zxid < last || (rec.Zxid == last && !sameTxn(recs, i)) {
			return nil, fmt.Errorf("txn log line %d: zxid 0x%x after 0x%x", line, rec.Zxid, last)
		}
		last = rec.Zxid
		timeMs := rec.TimeNs / 1e6
		switch rec.Type {
		case TxnCreateSession:
			live[rec.Session] = true
		case TxnCloseSession:
			if !live[rec.Session] {
				return nil, fmt.Errorf("txn log line %d: closeSession of unknown session 0x%x", line, rec.Session)
			}
			delete(live, rec.Session)
		case TxnCreate:
			flags := int32(FlagPersistent)
			c := super
			switch {
			case rec.Container:
				flags = FlagContainer
			case rec.EphemeralOwner != 0:
				if !live[rec.EphemeralOwner] {
					return nil, fmt.Errorf("txn log line %d: ephemeral %s of a session that is not live (0x%x)", line, rec.Path, rec.EphemeralOwner)
				}
				flags, c.Session = FlagEphemeral, rec.EphemeralOwner
			}
			if _, _, err := t.create(c, rec.Zxid, timeMs, rec.Path, rec.Data, WorldACL(PermAll), flags, true, nil); err != nil {
				return nil, fmt.Errorf("txn log line %d: create %s: %w", line, rec.Path, err)
			}
		case TxnSetData:
			st, _, err := t.Set(super, rec.Zxid, timeMs, rec.Path, rec.Data, -1)
			if err != nil {
				return nil, fmt.Errorf("txn log line %d: setData %s: %w", line, rec.Path, err)
			}
			if st.Version != rec.Version {
				return nil, fmt.Errorf("txn log line %d: setData %s gives version %d, the log says %d", line, rec.Path, st.Version, rec.Version)
			}
		case TxnDelete:
			if _, err := t.Delete(super, rec.Zxid, rec.Path, -1); err != nil {
				return nil, fmt.Errorf("txn log line %d: delete %s: %w", line, rec.Path, err)
			}
		default:
			return nil, fmt.Errorf("txn log line %d: unknown type %q", line, rec.Type)
		}
	}
	return t, nil
}

// sameTxn reports whether record i may share the zxid of record i-1: ops of one multi, or the deletes
// that follow a closeSession.
func sameTxn(recs []TxnRecord, i int) bool {
	if i == 0 {
		return false
	}
	prev, cur := recs[i-1], recs[i]
	if prev.Multi && cur.Multi {
		return true
	}
	return cur.Type == TxnDelete && (prev.Type == TxnCloseSession || (prev.Type == TxnDelete && !prev.Multi && !cur.Multi))
}

// DumpNode is one znode of a dump.
type DumpNode struct {
	Data           []byte
	EphemeralOwner int64
	Version        int32
}

// WriteDump writes every znode of v as one JSON object, in path order:
//
//	{"/": {"data": "", "ephemeral_owner": 0, "version": 0}, ...}
//
// with one node per line, data as UTF-8 text or, when it is not UTF-8, in data_b64.
func WriteDump(w io.Writer, v View) error {
	bw := bufio.NewWriter(w)
	var b []byte
	first := true
	v.Walk(func(path string, data []byte, st Stat) bool {
		b = b[:0]
		if first {
			b = append(b, "{\n"...)
		} else {
			b = append(b, ",\n"...)
		}
		first = false
		b = appendJSONString(b, path)
		b = append(b, `: {`...)
		b = appendDataAs(b, data, `"data": `, `"data_b64": `)
		b = append(b, `, "ephemeral_owner": `...)
		b = strconv.AppendInt(b, st.EphemeralOwner, 10)
		b = append(b, `, "version": `...)
		b = strconv.AppendInt(b, int64(st.Version), 10)
		b = append(b, '}')
		_, _ = bw.Write(b)
		return true
	})
	_, _ = bw.WriteString("\n}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("fakezk: writing the dump: %w", err)
	}
	return nil
}

// ReadDump decodes what WriteDump wrote.
func ReadDump(r io.Reader) (map[string]DumpNode, error) {
	var raw map[string]struct {
		Data           *string `json:"data"`
		DataB64        *string `json:"data_b64"`
		EphemeralOwner int64   `json:"ephemeral_owner"`
		Version        int32   `json:"version"`
	}
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, fmt.Errorf("dump: %w", err)
	}
	out := make(map[string]DumpNode, len(raw))
	for p, n := range raw {
		d := DumpNode{EphemeralOwner: n.EphemeralOwner, Version: n.Version}
		switch {
		case n.Data != nil && n.DataB64 == nil:
			d.Data = []byte(*n.Data)
		case n.DataB64 != nil && n.Data == nil:
			var err error
			if d.Data, err = base64.StdEncoding.DecodeString(*n.DataB64); err != nil {
				return nil, fmt.Errorf("dump: %s: data_b64: %w", p, err)
			}
		default:
			return nil, fmt.Errorf("dump: %s: needs exactly one of data and data_b64", p)
		}
		out[p] = d
	}
	return out, nil
}
