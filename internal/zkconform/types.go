// Package zkconform is the differential conformance harness that checks
// kzsim's fake ZooKeeper (fakezk) against a real ZooKeeper 3.8.
//
// It generates reproducible sequences of client operations (Generate), runs
// each sequence against two Targets (Run), normalises away what legitimately
// differs between runs (session ids, wall-clock times, absolute zxid values,
// hash-set orders; see Normalize) and reports the first step where the two
// runs disagree (Compare). The behaviour it checks is
// described in docs/ZOOKEEPER.md, §19 in particular.
//
// A Target is one ZooKeeper implementation seen through a go-zk-like client:
// RealTarget drives a real server with github.com/go-zookeeper/zk; the fake
// target (fakezk over the simulated kernel) implements the same interface.
package zkconform

import (
	"crypto/sha1"
	"encoding/base64"
	"strings"
)

// Op names a client operation of a Step.
type Op string

// The operations a Step can perform. Paths are relative to the sequence's
// root (see Step.Path).
const (
	// OpCreate is go-zk Create(path, data, flags, world:anyone ALL). Flags
	// outside 0..3 are deliberate bad flags (4 through Create, 5 and 6 are
	// refused by go-zk as ErrInvalidFlags, others as "invalid flag value").
	OpCreate Op = "create"
	// OpCreateContainer is go-zk CreateContainer(path, data, flags, acl);
	// flags is normally 4 (FlagContainer); anything else is refused by go-zk.
	OpCreateContainer Op = "createContainer"
	// OpGet is Get, or GetW when Step.Watch is set.
	OpGet Op = "get"
	// OpSet is Set(path, data, version).
	OpSet Op = "set"
	// OpDelete is Delete(path, version).
	OpDelete Op = "delete"
	// OpExists is Exists, or ExistsW when Step.Watch is set.
	OpExists Op = "exists"
	// OpChildren is Children, or ChildrenW when Step.Watch is set.
	OpChildren Op = "children"
	// OpSync is Sync(path).
	OpSync Op = "sync"
	// OpMulti is Multi(Step.Ops...).
	OpMulti Op = "multi"
	// OpCheck is a version check; it only appears inside a multi.
	OpCheck Op = "check"
	// OpClose closes the session explicitly (Target.Close). The next step
	// on the same logical session opens a new session for it.
	OpClose Op = "close"
	// OpExpire makes the server expire the session (Target.Expire). As
	// go-zk does, the client then opens a new session by itself.
	OpExpire Op = "expire"
	// OpAddAuth is AddAuth("digest", Step.Auth).
	OpAddAuth Op = "addAuth"
	// OpGetACL is GetACL(path).
	OpGetACL Op = "getACL"
	// OpSetACL is SetACL(path, ACLSpec(Step.ACL), version).
	OpSetACL Op = "setACL"
	// OpDisconnect is a short disconnect of the session's connection
	// (Target.Disconnect), well under the session timeout. While it is
	// cut, the steps of Step.During run on the other sessions; then the
	// client reconnects with the same session and re-registers its
	// watches (docs/ZOOKEEPER.md §14).
	OpDisconnect Op = "disconnect"
)

// ACL is one access-control entry, as go-zk's zk.ACL.
type ACL struct {
	Perms  int32
	Scheme string
	ID     string
}

// Permission bits (ZooDefs.Perms).
const (
	PermRead   = 1
	PermWrite  = 2
	PermCreate = 4
	PermDelete = 8
	PermAdmin  = 16
	PermAll    = 0x1f
)

// Credentials the sequences authenticate with (AddAuth "digest"). u1:bad
// is u1 with a wrong password: a different identity, not a failure.
var authCreds = []string{"u1:p1", "u2:p2", "u1:bad"}

// ACLSpec returns the ACL a step's ACL name stands for. The names:
//
//	""            world:anyone ALL (what every step used before ACLs)
//	world-r       world:anyone READ
//	world-cd      world:anyone CREATE|DELETE (no READ: getData NoAuth)
//	world-a       world:anyone ADMIN
//	digest-u1     digest u1:p1 ALL
//	digest-u1+r   digest u1:p1 ALL, world:anyone READ
//	digest-u2-rw  digest u2:p2 READ|WRITE
//	auth          auth ALL (InvalidACL unless the session has authenticated)
//	auth-ra       auth READ|ADMIN
//	bad-digest    digest id without a hash (InvalidACL)
//	empty         no entry at all (InvalidACL)
//
// digest ids are computed as ZooKeeper does: user:base64(sha1(user:pw)).
func ACLSpec(name string) []ACL {
	world := func(p int32) ACL { return ACL{p, "world", "anyone"} }
	digest := func(p int32, cred string) ACL { return ACL{p, "digest", digestID(cred)} }
	switch name {
	case "":
		return []ACL{world(PermAll)}
	case "world-r":
		return []ACL{world(PermRead)}
	case "world-cd":
		return []ACL{world(PermCreate | PermDelete)}
	case "world-a":
		return []ACL{world(PermAdmin)}
	case "digest-u1":
		return []ACL{digest(PermAll, "u1:p1")}
	case "digest-u1+r":
		return []ACL{digest(PermAll, "u1:p1"), world(PermRead)}
	case "digest-u2-rw":
		return []ACL{digest(PermRead|PermWrite, "u2:p2")}
	case "auth":
		return []ACL{{PermAll, "auth", ""}}
	case "auth-ra":
		return []ACL{{PermRead | PermAdmin, "auth", ""}}
	case "bad-digest":
		return []ACL{{PermAll, "digest", "u1"}}
	case "empty":
		return []ACL{}
	}
	panic("zkconform: unknown ACL spec " + name)
}

// aclSpecs lists the ACL names ACLSpec knows.
var aclSpecs = []string{"", "world-r", "world-cd", "world-a", "digest-u1", "digest-u1+r",
	"digest-u2-rw", "auth", "auth-ra", "bad-digest", "empty"}

func digestID(cred string) string {
	user, _, _ := strings.Cut(cred, ":")
	sum := sha1.Sum([]byte(cred))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// Step is one operation of a generated sequence, issued on logical session
// Session (0..Sequence.Sessions-1, printed as s0, s1, s2).
type Step struct {
	Session int `json:"session"`
	Op      Op  `json:"op"`
	// Path is relative to the sequence root: "" is the root itself, "a/b"
	// is root+"/a/b". Some paths are deliberately invalid ("a/", "a//b",
	// "a/.."), so the full path is always root + "/" + Path unless Path is
	// empty; use FullPath.
	Path    string    `json:"path,omitempty"`
	Data    []byte    `json:"data,omitempty"` // nil and empty are different
	Flags   int32     `json:"flags,omitempty"`
	Version int32     `json:"version,omitempty"`
	Watch   bool      `json:"watch,omitempty"`
	Ops     []MultiOp `json:"ops,omitempty"` // OpMulti only
	// ACL names the ACL of a create or setACL (see ACLSpec; "" is
	// world:anyone ALL).
	ACL string `json:"acl,omitempty"`
	// Auth is the "user:password" of an OpAddAuth.
	Auth string `json:"auth,omitempty"`
	// During lists the steps an OpDisconnect runs, on other sessions,
	// while its session is cut off.
	During []Step `json:"during,omitempty"`
}

// MultiOp is one sub-operation of a multi: OpCreate (go-zk CreateRequest
// with Flags), OpSet, OpDelete or OpCheck. go-zk does not validate paths or
// flags inside a multi, so the server judges them.
type MultiOp struct {
	Op      Op     `json:"op"`
	Path    string `json:"path"`
	Data    []byte `json:"data,omitempty"`
	Flags   int32  `json:"flags,omitempty"`
	Version int32  `json:"version,omitempty"`
	ACL     string `json:"acl,omitempty"` // creates: see ACLSpec
}

// Sequence is one generated test case: how many logical sessions to open
// and the steps to run on them, in order, one at a time.
type Sequence struct {
	Sessions int    `json:"sessions"`
	Steps    []Step `json:"steps"`
}

// FullPath joins a sequence root and a relative step path: the root itself
// for "", else root + "/" + rel (which may well be an invalid path).
func FullPath(root, rel string) string {
	if rel == "" {
		return root
	}
	return root + "/" + rel
}

// Stat is a znode's metadata exactly as the server reports it (field order
// as in ZooKeeper and go-zk). Times are milliseconds since the epoch (or any
// monotone clock for a fake); zxids and session ids are raw values.
type Stat struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	DataLength     int32
	NumChildren    int32
	Pzxid          int64
}

// Code is an error outcome by name. The empty Code means success. Server
// errors use ZooKeeper's KeeperException.Code names; errors go-zk raises in
// the client have their own names (CodeInvalidPath, CodeInvalidFlags, ...).
// A server code go-zk has no named error for shows up as "unknown error: -N"
// in go-zk and is named here from its number (e.g. RuntimeInconsistency).
type Code string

// Error codes an Outcome can carry.
const (
	CodeOK                      Code = ""
	CodeSystemError             Code = "SystemError"          // -1
	CodeRuntimeInconsistency    Code = "RuntimeInconsistency" // -2
	CodeDataInconsistency       Code = "DataInconsistency"    // -3
	CodeMarshallingError        Code = "MarshallingError"     // -5
	CodeUnimplemented           Code = "Unimplemented"        // -6
	CodeOperationTimeout        Code = "OperationTimeout"     // -7
	CodeBadArguments            Code = "BadArguments"         // -8
	CodeAPIError                Code = "APIError"             // -100
	CodeNoNode                  Code = "NoNode"               // -101
	CodeNoAuth                  Code = "NoAuth"               // -102
	CodeBadVersion              Code = "BadVersion"           // -103
	CodeNoChildrenForEphemerals Code = "NoChildrenForEphemerals"
	CodeNodeExists              Code = "NodeExists"     // -110
	CodeNotEmpty                Code = "NotEmpty"       // -111
	CodeSessionExpired          Code = "SessionExpired" // -112
	CodeInvalidACL              Code = "InvalidACL"     // -114
	CodeAuthFailed              Code = "AuthFailed"     // -115
	CodeSessionMoved            Code = "SessionMoved"   // -118

	// Client-side (go-zk) errors.
	CodeInvalidPath      Code = "InvalidPath"      // zk.ErrInvalidPath
	CodeInvalidFlags     Code = "InvalidFlags"     // zk.ErrInvalidFlags (TTL flags, non-container flag to CreateContainer)
	CodeInvalidFlagValue Code = "InvalidFlagValue" // "invalid flag value: [N]" for flags outside 0..6
	CodeConnectionClosed Code = "ConnectionClosed" // zk.ErrConnectionClosed (ConnectionLoss)
	CodeClosing          Code = "Closing"          // zk.ErrClosing
	CodeNoServer         Code = "NoServer"         // zk.ErrNoServer
)

// MultiResult is the result of one sub-operation of a multi: its error
// (RuntimeInconsistency for the ops after the failing one), the created path
// for a create and the new stat for a set (nil otherwise).
type MultiResult struct {
	Err  Code
	Path string
	Stat *Stat
}

// Outcome is what one operation returned, before normalisation. Fill only
// what the operation returns on success; on error only Err (and Multi for a
// multi) matters, because go-zk's zero stats on error are not compared.
type Outcome struct {
	Err      Code
	Path     string        // create, createContainer, sync: the returned (absolute) path
	Data     []byte        // get (nil and empty differ)
	Stat     *Stat         // get, set, exists (when it exists), children
	Exists   bool          // exists
	Children []string      // children, in any order
	Multi    []MultiResult // multi, one per sub-op (whether or not it failed)
	ACL      []ACL         // getACL
	// During holds the outcomes of an OpDisconnect's During steps.
	During []Outcome
	// Harness reports a failure of the harness or the target's plumbing
	// rather than a ZooKeeper result (e.g. an expiry that could not be
	// forced). It is always reported as a divergence.
	Harness string
}

// EventType is the type of an Event, named as in go-zk.
type EventType string

// Event types. EventSession carries a State; the node events carry a Path.
const (
	EventNodeCreated         EventType = "NodeCreated"
	EventNodeDeleted         EventType = "NodeDeleted"
	EventNodeDataChanged     EventType = "NodeDataChanged"
	EventNodeChildrenChanged EventType = "NodeChildrenChanged"
	EventSession             EventType = "Session"
	// EventNotWatching is go-zk's notice, one per registered (path, watch
	// type), that a watch was lost because the session expired.
	EventNotWatching EventType = "NotWatching"
)

// Session states (EventSession), named as in go-zk.
const (
	StateDisconnected  = "Disconnected"
	StateConnecting    = "Connecting"
	StateConnected     = "Connected"
	StateHasSession    = "HasSession"
	StateSyncConnected = "SyncConnected"
	StateExpired       = "Expired"
)

// Event is something a session's client delivered on its own, i.e. not as
// the reply to a call: a watch firing, a session state change, or go-zk's
// EventNotWatching. Only node events, NotWatching and the Expired state are
// compared; other session states depend on timing (docs/ZOOKEEPER.md §19).
type Event struct {
	Type  EventType
	Path  string // absolute path, for node events and NotWatching
	State string // for EventSession
	Err   Code   // for EventNotWatching (SessionExpired)
}

// Target is one ZooKeeper implementation under test, driven synchronously:
// every call returns after the operation has completed. A target is used for
// one sequence at a time: Open, then steps, then Shutdown.
//
// Implementations over a discrete-event simulator run the kernel until the
// operation's reply (or the expiry, or the close) has been delivered, and in
// Events until nothing is left in flight ("settle").
type Target interface {
	// Open starts a run of one sequence: it connects `sessions` logical
	// sessions (each with a session established) and creates root, with
	// its missing ancestors, as a persistent node with nil data. Nothing
	// else may exist under root.
	Open(root string, sessions int) error
	// Do performs one step's operation (never OpClose or OpExpire) on the
	// logical session and returns its outcome. If the session was closed
	// by Close, Do first opens a new session for the logical name.
	Do(session int, s Step) Outcome
	// Expire makes the server expire the session: the server deletes its
	// ephemerals and the client learns it on reconnecting (go-zk:
	// Expired, NotWatching per watch, then a brand-new session). Expire
	// returns once the client holds its new session.
	Expire(session int) error
	// Close closes the session explicitly (go-zk Conn.Close) and returns
	// once the server has processed the close.
	Close(session int) error
	// Events returns, in arrival order, the events the session's client
	// delivered since the last call, after making sure that everything
	// the server had sent to it before this call has arrived.
	Events(session int) []Event
	// Disconnect cuts the session's connection, as a network fault
	// would, and holds back its reconnection until Reconnect; the server
	// keeps the session. It returns once the client has noticed. Other
	// sessions' steps may run in between; the cut session's may not.
	Disconnect(session int) error
	// Reconnect lets a session cut by Disconnect reconnect and returns
	// once its client holds the same session again and has re-sent its
	// watches (their events then arrive by the next Events).
	Reconnect(session int) error
	// SessionID returns the logical session's current server session id,
	// or 0 while it has none (e.g. after Close).
	SessionID(session int) int64
	// Shutdown closes every session and releases the target.
	Shutdown()
}

// Disturbable is implemented by targets that can tell when a run was
// disturbed by something outside the sequence, such as a real client's
// connection dropping on a loaded machine (the outcome of a request caught
// by ConnectionLoss is undefined, docs/ZOOKEEPER.md §8). Run records the reason in
// Trace.Disturbed; callers re-run such sequences instead of comparing them.
type Disturbable interface {
	// Disturbed returns why the current run cannot be trusted, or "".
	Disturbed() string
}
