package fakezk

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/kzsim/kzsim/sim"
)

// The server keeps its transaction log on its process's disk (sim.Disk), as ZooKeeper keeps
// FileTxnLog: every transaction is appended when it is processed, an fsync makes a batch durable
// (group commit, see Server.finish), and no reply leaves before the fsync of the transactions it
// depends on. A crash keeps what the disk keeps (every synced record, perhaps part of the rest); the
// restarted server rebuilds its tree, zxid and sessions from the log, dropping a torn last record.
//
// Simplified: there are no snapshots, so a restart replays the whole log; records carry no checksum
// (the disk tears only the last append, which the length prefix detects).

// diskLogFile is the server's log on its disk.
const diskLogFile = "zk/log"

// Record types.
const (
	recOps           byte = iota // a transaction's changes (none: a failed write's error txn)
	recCreateSession             // a session, then changes (none)
	recCloseSession              // a session's end, then the deletes of its ephemerals
)

// diskRecord is one transaction of the disk log.
type diskRecord struct {
	zxid    int64
	tNs     int64
	typ     byte
	session int64
	multi   bool
	timeout sim.Duration // recCreateSession
	passwd  [16]byte     // recCreateSession
	ops     []logOp
}

// appendRecord encodes r, prefixed by its length, onto b.
func appendRecord(b []byte, r *diskRecord) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0) // length, filled in below
	b = binary.AppendVarint(b, r.zxid)
	b = binary.AppendVarint(b, r.tNs)
	b = append(b, r.typ)
	b = binary.AppendVarint(b, r.session)
	if r.multi {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	if r.typ == recCreateSession {
		b = binary.AppendVarint(b, int64(r.timeout))
		b = append(b, r.passwd[:]...)
	}
	b = binary.AppendUvarint(b, uint64(len(r.ops)))
	for i := range r.ops {
		op := &r.ops[i]
		b = append(b, byte(op.kind))
		b = appendString(b, op.path)
		switch op.kind {
		case logCreate:
			b = appendBytes(b, op.data)
			b = binary.AppendVarint(b, op.owner)
			b = appendACL(b, op.acl)
		case logSetData:
			b = appendBytes(b, op.data)
			b = binary.AppendVarint(b, int64(op.version))
		case logSetACL:
			b = appendACL(b, op.acl)
			b = binary.AppendVarint(b, int64(op.version))
		}
	}
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendBytes keeps nil apart from empty: clients tell them apart.
func appendBytes(b []byte, d []byte) []byte {
	if d == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(d))+1)
	return append(b, d...)
}

func appendACL(b []byte, acl []ACL) []byte {
	b = binary.AppendUvarint(b, uint64(len(acl)))
	for _, a := range acl {
		b = binary.AppendVarint(b, int64(a.Perms))
		b = appendString(b, a.Scheme)
		b = appendString(b, a.ID)
	}
	return b
}

// recordReader decodes records; a short or malformed one sets err.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("fakezk: disk log: bad %s", what)
	}
}

func (r *recordReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("varint")
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("uvarint")
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) byte1() byte {
	if len(r.b) == 0 {
		r.fail("byte")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *recordReader) take(n uint64) []byte {
	if uint64(len(r.b)) < n {
		r.fail("length")
		r.b = nil
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *recordReader) str() string { return string(r.take(r.uvarint())) }

func (r *recordReader) bytes() []byte {
	n := r.uvarint()
	if n == 0 {
		return nil
	}
	return append([]byte{}, r.take(n-1)...)
}

func (r *recordReader) acl() []ACL {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("ACL count")
		return nil
	}
	acl := make([]ACL, 0, n)
	for range n {
		acl = append(acl, ACL{Perms: int32(r.varint()), Scheme: r.str(), ID: r.str()})
	}
	return acl
}

// decodeRecord decodes one record's payload.
func decodeRecord(payload []byte) (diskRecord, error) {
	r := &recordReader{b: payload}
	rec := diskRecord{zxid: r.varint(), tNs: r.varint(), typ: r.byte1(), session: r.varint(), multi: r.byte1() == 1}
	if rec.typ == recCreateSession {
		rec.timeout = sim.Duration(r.varint())
		copy(rec.passwd[:], r.take(16))
	}
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("op count")
		n = 0
	}
	for range n {
		op := logOp{kind: logKind(r.byte1()), path: r.str()}
		switch op.kind {
		case logCreate:
			op.data, op.owner, op.acl = r.bytes(), r.varint(), r.acl()
		case logSetData:
			op.data, op.version = r.bytes(), int32(r.varint())
		case logDelete:
		case logSetACL:
			op.acl, op.version = r.acl(), int32(r.varint())
		default:
			r.fail("op kind")
		}
		rec.ops = append(rec.ops, op)
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("record length")
	}
	return rec, r.err
}

// readDiskLog splits a log into records. It stops at a torn last record and returns how many bytes
// the whole records take; a malformed whole record is an error (the disk never corrupts).
func readDiskLog(b []byte) ([]diskRecord, int, error) {
	var recs []diskRecord
	off := 0
	for len(b)-off >= 4 {
		n := int(binary.BigEndian.Uint32(b[off:]))
		if len(b)-off-4 < n {
			break // torn by a crash
		}
		rec, err := decodeRecord(b[off+4 : off+4+n])
		if err != nil {
			return nil, 0, fmt.Errorf("%w at byte %d", err, off)
		}
		recs = append(recs, rec)
		off += 4 + n
	}
	return recs, off, nil
}

// replayOp applies one logged change to t, as the transaction did: no checks, the same zxid and time.
func (t *Tree) replayOp(zxid, timeMs int64, op logOp) error {
	switch op.kind {
	case logCreate:
		lastSlash := strings.LastIndexByte(op.path, '/')
		parentPath := parentOf(op.path, max(lastSlash, 0))
		if lastSlash < 0 || t.lookup(parentPath) == nil || t.lookup(op.path) != nil {
			return fmt.Errorf("create %s: no parent or already there", op.path)
		}
		t.applyCreate(zxid, timeMs, createPlan{path: op.path, parentPath: parentPath, data: op.data, acl: op.acl, owner: op.owner}, nil)
	case logSetData:
		n := t.lookup(op.path)
		if n == nil {
			return fmt.Errorf("setData %s: no node", op.path)
		}
		if st, _ := t.applySet(zxid, timeMs, n, op.data, nil); st.Version != op.version {
			return fmt.Errorf("setData %s: version %d, logged %d", op.path, st.Version, op.version)
		}
	case logDelete:
		n := t.lookup(op.path)
		if n == nil || n.numChildren > 0 {
			return fmt.Errorf("delete %s: no node or not empty", op.path)
		}
		parentPath := parentOf(op.path, strings.LastIndexByte(op.path, '/'))
		t.remove(zxid, n, t.lookup(parentPath), parentPath, nil)
	case logSetACL:
		n := t.lookup(op.path)
		if n == nil {
			return fmt.Errorf("setACL %s: no node", op.path)
		}
		if st := t.applySetACL(n, op.acl); st.Aversion != op.version {
			return fmt.Errorf("setACL %s: aversion %d, logged %d", op.path, st.Aversion, op.version)
		}
	default:
		return fmt.Errorf("unknown op kind %d", op.kind)
	}
	return nil
}
