package fakezk

import (
	"fmt"
	"math"
	"strings"

	"github.com/google/btree"
)

// Create flags (CreateMode, docs/ZOOKEEPER.md §6; go-zk's Flag* constants).
const (
	FlagPersistent                  = 0
	FlagEphemeral                   = 1
	FlagSequence                    = 2
	FlagEphemeralSequential         = 3
	FlagContainer                   = 4
	FlagTTL                         = 5
	FlagPersistentSequentialWithTTL = 6
)

// containerOwner is the internal ephemeralOwner marker of a container node
// (EphemeralType.CONTAINER_EPHEMERAL_OWNER); it is reported as 0 (DataNode.copyStat; docs/ZOOKEEPER.md §4).
const containerOwner = math.MinInt64

// Znode paths the server refuses to delete (DataTree.isSpecialPath, docs/ZOOKEEPER.md §2).
const (
	rootPath   = "/"
	procPath   = "/zookeeper"
	quotaPath  = "/zookeeper/quota"
	configPath = "/zookeeper/config"
)

// cowToken marks which Tree may modify a znode in place. It is not zero-sized, so every token has its
// own address.
type cowToken struct{ _ byte }

// znode is one node of the tree. A znode whose cow token is its Tree's may be changed in place;
// any other is shared with a clone and is copied before a change (copy-on-write, as btree does for
// its own nodes).
type znode struct {
	path        string
	data        []byte
	acl         []ACL
	czxid       int64
	mzxid       int64
	ctime       int64
	mtime       int64
	pzxid       int64
	owner       int64 // internal ephemeralOwner: a session, containerOwner, or 0
	version     int32
	aversion    int32
	creates     int32 // internal cversion: children ever created (docs/ZOOKEEPER.md §4, §6)
	numChildren int32
	cow         *cowToken
}

// isEphemeral reports whether n is a normal ephemeral (not a container).
func (n *znode) isEphemeral() bool { return n.owner != 0 && n.owner != containerOwner }

// stat returns the Stat a client sees (DataNode.copyStat).
func (n *znode) stat() Stat {
	owner := n.owner
	if owner == containerOwner {
		owner = 0
	}
	return Stat{
		Czxid:          n.czxid,
		Mzxid:          n.mzxid,
		Ctime:          n.ctime,
		Mtime:          n.mtime,
		Version:        n.version,
		Cversion:       2*n.creates - n.numChildren, // int32 arithmetic wraps as Java's does
		Aversion:       n.aversion,
		EphemeralOwner: owner,
		DataLength:     int32(len(n.data)),
		NumChildren:    n.numChildren,
		Pzxid:          n.pzxid,
	}
}

// item is a btree entry keyed by (parent path, child name), so that a node's children are contiguous
// and sorted, and a lookup needs only substrings of the path. The root is ("", "").
type item struct {
	parent string
	name   string
	n      *znode
}

func itemLess(a, b item) bool {
	if c := strings.Compare(a.parent, b.parent); c != 0 {
		return c < 0
	}
	return a.name < b.name
}

// ownedKey indexes ephemerals by session and containers under containerOwner.
type ownedKey struct {
	owner int64
	path  string
}

func ownedLess(a, b ownedKey) bool {
	if a.owner != b.owner {
		return a.owner < b.owner
	}
	return a.path < b.path
}

// btreeDegree was chosen by BenchmarkGetData10k/BenchmarkSetData10k.
const btreeDegree = 16

// Tree is ZooKeeper's data tree (DataTree). It is a plain single-threaded value: the server applies
// each transaction to it with the zxid and time it allocated, and turns the returned Changes into watch
// notifications.
//
// Data and ACL slices passed to a write are kept by the tree, and those returned by reads are the
// stored ones: neither side may modify them afterwards.
type Tree struct {
	nodes *btree.BTreeG[item]
	owned *btree.BTreeG[ownedKey]
	cow   *cowToken
	// rec, when set, receives every change the tree commits, for the server's transaction log.
	// Clones do not inherit it.
	rec *[]logOp
}

// NewTree returns the tree of a fresh server (docs/ZOOKEEPER.md §3): "/", "/zookeeper", "/zookeeper/quota" and
// "/zookeeper/config" (world:anyone READ, aversion −1), all with zxid 0 and ctime 0. The root starts
// with cversion −1 and /zookeeper with −2: they have children but no counted creates.
func NewTree() *Tree {
	t := &Tree{
		nodes: btree.NewWithFreeListG(btreeDegree, itemLess, btree.NewFreeListG[item](btree.DefaultFreeListSize)),
		owned: btree.NewG(8, ownedLess),
		cow:   new(cowToken),
	}
	add := func(path string, numChildren int32, acl []ACL, aversion int32) {
		t.insert(&znode{path: path, data: []byte{}, acl: acl, aversion: aversion, numChildren: numChildren, cow: t.cow})
	}
	add(rootPath, 1, WorldACL(PermAll), 0)
	add(procPath, 2, WorldACL(PermAll), 0)
	add(quotaPath, 0, WorldACL(PermAll), 0)
	add(configPath, 0, WorldACL(PermRead), -1)
	return t
}

// Clone returns a copy of t in O(1). The two share their nodes until either changes one; later writes to
// either copy do not affect the other.
func (t *Tree) Clone() *Tree {
	out := &Tree{nodes: t.nodes.Clone(), owned: t.owned.Clone(), cow: new(cowToken)}
	t.cow = new(cowToken) // nodes marked with the old token are now shared
	return out
}

// Len returns the number of znodes.
func (t *Tree) Len() int { return t.nodes.Len() }

func keyOf(path string) item {
	parent, name, _ := splitPath(path)
	return item{parent: parent, name: name}
}

// lookup finds the znode at path; invalid paths are simply not found.
func (t *Tree) lookup(path string) *znode {
	parent, name, ok := splitPath(path)
	if !ok {
		return nil
	}
	it, found := t.nodes.Get(item{parent: parent, name: name})
	if !found || it.n.path != path {
		return nil // e.g. "//a" splits like "/a"
	}
	return it.n
}

func (t *Tree) insert(n *znode) {
	it := keyOf(n.path)
	it.n = n
	t.nodes.ReplaceOrInsert(it)
	if n.owner != 0 {
		t.owned.ReplaceOrInsert(ownedKey{owner: n.owner, path: n.path})
	}
}

// mutable returns a version of n that t may change in place, copying n if it is shared with a clone.
func (t *Tree) mutable(n *znode) *znode {
	if n.cow == t.cow {
		return n
	}
	c := *n
	c.cow = t.cow
	it := keyOf(c.path)
	it.n = &c
	t.nodes.ReplaceOrInsert(it)
	return &c
}

// parentOf returns the parent path the server derives for a create or delete: the text before the
// last '/', where "" stands for the root (DataTree stores the root under "" as well as "/").
func parentOf(path string, lastSlash int) string {
	if lastSlash == 0 {
		return rootPath
	}
	return path[:lastSlash]
}

// Get returns the data and Stat of the node at path (getData). The data is the stored slice: callers
// must not modify it. Errors: ErrNoNode, ErrNoAuth (no READ).
func (t *Tree) Get(c Caller, path string) ([]byte, Stat, error) {
	n := t.lookup(path)
	if n == nil {
		return nil, Stat{}, ErrNoNode
	}
	if !allowed(n.acl, PermRead, c.Identities) {
		return nil, Stat{}, ErrNoAuth
	}
	return n.data, n.stat(), nil
}

// Exists returns the Stat of the node at path and whether it exists. exists needs no permission.
func (t *Tree) Exists(path string) (Stat, bool) {
	n := t.lookup(path)
	if n == nil {
		return Stat{}, false
	}
	return n.stat(), true
}

// Children returns the names of the children of path, sorted, and the node's Stat (getChildren2). The
// real server returns them in hash order (docs/ZOOKEEPER.md §4): compare as sets. Errors: ErrNoNode, ErrNoAuth.
func (t *Tree) Children(c Caller, path string) ([]string, Stat, error) {
	n := t.lookup(path)
	if n == nil {
		return nil, Stat{}, ErrNoNode
	}
	if !allowed(n.acl, PermRead, c.Identities) {
		return nil, Stat{}, ErrNoAuth
	}
	names := make([]string, 0, n.numChildren)
	t.nodes.AscendGreaterOrEqual(item{parent: n.path}, func(it item) bool {
		if it.parent != n.path {
			return false
		}
		names = append(names, it.name)
		return true
	})
	return names, n.stat(), nil
}

// GetACL returns the ACL of path and the node's Stat (getACL), as the server's FinalRequestProcessor
// does: the caller needs READ or ADMIN (else ErrNoAuth), and a caller without ADMIN gets a copy in
// which every digest id has its hash replaced by "x" ("user:x"). Seen on 3.8: a session without auth
// got NoAuth for a digest-only ACL and [digest u1:x, world:anyone READ] for digest ALL + world READ.
// With ADMIN the stored slice is returned: callers must not modify it. Errors: ErrNoNode, ErrNoAuth.
func (t *Tree) GetACL(c Caller, path string) ([]ACL, Stat, error) {
	n := t.lookup(path)
	if n == nil {
		return nil, Stat{}, ErrNoNode
	}
	if !allowed(n.acl, PermRead|PermAdmin, c.Identities) {
		return nil, Stat{}, ErrNoAuth
	}
	if allowed(n.acl, PermAdmin, c.Identities) {
		return n.acl, n.stat(), nil
	}
	return redactDigests(n.acl), n.stat(), nil
}

// Create adds a node (docs/ZOOKEEPER.md §6, §8) at transaction zxid and time timeMs and returns its actual path
// (with the sequence suffix for sequential flags) and the watch triggers. Checks, in server order:
// flags outside 0..6 (ErrInvalidFlags, go-zk's client check), TTL flags (ErrUnimplemented: extended
// types are off, as on a default server), path without '/' or with NUL (ErrBadArguments), ACL
// (ErrInvalidACL), parent missing (ErrNoNode), parent lacks CREATE (ErrNoAuth), sequence suffix, full
// path validation (ErrBadArguments), node exists (ErrNodeExists), parent ephemeral
// (ErrNoChildrenForEphemerals).
//
// An ephemeral's owner is c.Session, which must not be 0.
//
// FlagContainer makes a container, as the createContainer opcode (go-zk CreateContainer) does. A real
// server commits a plain create (opcode 1, e.g. go-zk Create with flag 4) as a persistent node, since
// its CreateTxn carries only an ephemeral bit; a server modelling that passes FlagPersistent.
func (t *Tree) Create(c Caller, zxid, timeMs int64, path string, data []byte, acl []ACL, flags int32) (string, []Change, error) {
	if flags < FlagPersistent || flags > FlagPersistentSequentialWithTTL {
		return "", nil, ErrInvalidFlags
	}
	created, changes, err := t.create(c, zxid, timeMs, path, data, acl, flags, true, nil)
	if err != nil {
		return "", nil, err
	}
	return created, changes, nil
}

// create is Create; containerOpcode says whether FlagContainer commits a container (opcode
// createContainer) or a persistent node (opcode create, as inside a go-zk multi).
func (t *Tree) create(c Caller, zxid, timeMs int64, path string, data []byte, acl []ACL, flags int32, containerOpcode bool, changes []Change) (string, []Change, error) {
	p, err := t.prepCreate(c, path, data, acl, flags, containerOpcode)
	if err != nil {
		return "", changes, err
	}
	return p.path, t.applyCreate(zxid, timeMs, p, changes), nil
}

// createPlan is a create that passed every check: applying it cannot fail.
type createPlan struct {
	path       string // with the sequence suffix
	parentPath string
	data       []byte
	acl        []ACL
	owner      int64
}

// prepCreate runs a create's checks, in server order, without changing the tree (PrepRequestProcessor
// does the same before a txn exists).
func (t *Tree) prepCreate(c Caller, path string, data []byte, acl []ACL, flags int32, containerOpcode bool) (createPlan, error) {
	if flags < FlagPersistent || flags > FlagPersistentSequentialWithTTL {
		return createPlan{}, ErrBadArguments // CreateMode.fromFlag on the server
	}
	if flags == FlagTTL || flags == FlagPersistentSequentialWithTTL {
		return createPlan{}, ErrUnimplemented
	}
	lastSlash := strings.LastIndexByte(path, '/')
	if lastSlash < 0 || strings.IndexByte(path, 0) >= 0 {
		return createPlan{}, ErrBadArguments
	}
	acl, err := fixupACL(acl, c.Identities)
	if err != nil {
		return createPlan{}, err
	}
	parentPath := parentOf(path, lastSlash)
	parent := t.lookup(parentPath)
	if parent == nil {
		return createPlan{}, ErrNoNode
	}
	if !allowed(parent.acl, PermCreate, c.Identities) {
		return createPlan{}, ErrNoAuth
	}
	if flags == FlagSequence || flags == FlagEphemeralSequential {
		// The suffix is the parent's create counter before this create; after int32 overflow it
		// is negative, e.g. "-2147483648" (docs/ZOOKEEPER.md §6). Simplified: DataTree's refusal to lower a
		// parent's stored cversion after overflow is not modelled; the counter just wraps.
		path = path + seqSuffix(parent.creates)
	}
	if !validPath(path, false) {
		return createPlan{}, ErrBadArguments
	}
	if t.lookup(path) != nil {
		return createPlan{}, ErrNodeExists
	}
	if parent.isEphemeral() {
		return createPlan{}, ErrNoChildrenForEphemerals
	}

	var owner int64
	switch flags {
	case FlagEphemeral, FlagEphemeralSequential:
		if c.Session == 0 || c.Session == containerOwner {
			panic("fakezk: ephemeral create needs a session id other than 0 and MinInt64")
		}
		owner = c.Session
	case FlagContainer:
		if containerOpcode {
			owner = containerOwner
		}
	}
	return createPlan{path: path, parentPath: parentPath, data: data, acl: acl, owner: owner}, nil
}

// applyCreate commits a planned create. The parent is looked up again: an earlier op of the same
// multi may have replaced it with a copy.
func (t *Tree) applyCreate(zxid, timeMs int64, p createPlan, changes []Change) []Change {
	t.insert(&znode{
		path:  p.path,
		data:  p.data,
		acl:   p.acl,
		czxid: zxid,
		mzxid: zxid,
		ctime: timeMs,
		mtime: timeMs,
		pzxid: zxid,
		owner: p.owner,
		cow:   t.cow,
	})
	parent := t.mutable(t.lookup(p.parentPath))
	parent.creates++
	parent.numChildren++
	parent.pzxid = zxid
	t.record(logOp{kind: logCreate, path: p.path, data: p.data, acl: p.acl, owner: p.owner})
	return append(changes,
		Change{Type: EventNodeCreated, Path: p.path, ACL: p.acl},
		Change{Type: EventNodeChildrenChanged, Path: p.parentPath, ACL: parent.acl})
}

// seqSuffix formats a sequence number as Java's "%010d" does; Go's verb pads negative numbers the same
// way ("-000000005").
func seqSuffix(n int32) string {
	return fmt.Sprintf("%010d", n)
}

// Delete removes the node at path (docs/ZOOKEEPER.md §8). Checks, in server order: path without '/', with NUL, or
// one of "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config" (ErrBadArguments), parent missing
// (ErrNoNode), parent lacks DELETE (ErrNoAuth), node missing (ErrNoNode), version neither −1 nor the
// node's (ErrBadVersion), node has children (ErrNotEmpty; so BadVersion beats NotEmpty).
func (t *Tree) Delete(c Caller, zxid int64, path string, version int32) ([]Change, error) {
	return t.delete(c, zxid, path, version, nil)
}

func (t *Tree) delete(c Caller, zxid int64, path string, version int32, changes []Change) ([]Change, error) {
	n, parentPath, err := t.prepDelete(c, path, version)
	if err != nil {
		return changes, err
	}
	return t.remove(zxid, n, t.lookup(parentPath), parentPath, changes), nil
}

// prepDelete runs a delete's checks without changing the tree and returns the node and its parent's
// path.
func (t *Tree) prepDelete(c Caller, path string, version int32) (*znode, string, error) {
	lastSlash := strings.LastIndexByte(path, '/')
	if lastSlash < 0 || strings.IndexByte(path, 0) >= 0 || isSpecialPath(path) {
		return nil, "", ErrBadArguments
	}
	parentPath := parentOf(path, lastSlash)
	parent := t.lookup(parentPath)
	if parent == nil {
		return nil, "", ErrNoNode
	}
	if !allowed(parent.acl, PermDelete, c.Identities) {
		return nil, "", ErrNoAuth
	}
	n := t.lookup(path)
	if n == nil {
		return nil, "", ErrNoNode
	}
	if version != -1 && version != n.version {
		return nil, "", ErrBadVersion
	}
	if n.numChildren > 0 {
		return nil, "", ErrNotEmpty
	}
	return n, parentPath, nil
}

func isSpecialPath(path string) bool {
	return path == rootPath || path == procPath || path == quotaPath || path == configPath
}

// remove deletes n, a leaf, from under parent: the parent's pzxid and numChildren change, its create
// counter, mzxid and mtime do not (DataTree.deleteNode; docs/ZOOKEEPER.md §4).
func (t *Tree) remove(zxid int64, n, parent *znode, parentPath string, changes []Change) []Change {
	t.nodes.Delete(keyOf(n.path))
	if n.owner != 0 {
		t.owned.Delete(ownedKey{owner: n.owner, path: n.path})
	}
	t.record(logOp{kind: logDelete, path: n.path})
	p := t.mutable(parent)
	p.numChildren--
	p.pzxid = zxid
	return append(changes,
		Change{Type: EventNodeDeleted, Path: n.path, ACL: n.acl},
		Change{Type: EventNodeChildrenChanged, Path: parentPath, ACL: parent.acl})
}

// Set replaces the data of path (setData) and returns the new Stat: version +1 (wrapping as int32,
// also for identical data), mzxid = zxid, mtime = timeMs (docs/ZOOKEEPER.md §4). Checks, in server order: invalid
// path (ErrBadArguments), node missing (ErrNoNode), no WRITE (ErrNoAuth), version neither −1 nor the
// node's (ErrBadVersion).
func (t *Tree) Set(c Caller, zxid, timeMs int64, path string, data []byte, version int32) (Stat, []Change, error) {
	return t.set(c, zxid, timeMs, path, data, version, nil)
}

func (t *Tree) set(c Caller, zxid, timeMs int64, path string, data []byte, version int32, changes []Change) (Stat, []Change, error) {
	n, err := t.prepSet(c, path, version)
	if err != nil {
		return Stat{}, changes, err
	}
	st, changes := t.applySet(zxid, timeMs, n, data, changes)
	return st, changes, nil
}

// prepSet runs a setData's checks without changing the tree and returns the node.
func (t *Tree) prepSet(c Caller, path string, version int32) (*znode, error) {
	if !validPath(path, false) {
		return nil, ErrBadArguments
	}
	n := t.lookup(path)
	if n == nil {
		return nil, ErrNoNode
	}
	if !allowed(n.acl, PermWrite, c.Identities) {
		return nil, ErrNoAuth
	}
	if version != -1 && version != n.version {
		return nil, ErrBadVersion
	}
	return n, nil
}

func (t *Tree) applySet(zxid, timeMs int64, n *znode, data []byte, changes []Change) (Stat, []Change) {
	m := t.mutable(n)
	m.data = data
	m.version++
	m.mzxid = zxid
	m.mtime = timeMs
	t.record(logOp{kind: logSetData, path: m.path, data: data, version: m.version})
	return m.stat(), append(changes, Change{Type: EventNodeDataChanged, Path: m.path, ACL: m.acl})
}

// SetACL replaces the ACL of path and returns the new Stat: aversion +1 and nothing else; no watch
// fires (docs/ZOOKEEPER.md §4, §12). Checks, in the server's order (PrepRequestProcessor setACL): invalid path
// (ErrBadArguments), bad ACL (ErrInvalidACL), node missing (ErrNoNode), no ADMIN (ErrNoAuth), version
// neither −1 nor the node's aversion (ErrBadVersion). zxid is unused: setACL stamps no zxid on the node.
func (t *Tree) SetACL(c Caller, zxid int64, path string, acl []ACL, version int32) (Stat, error) {
	if !validPath(path, false) {
		return Stat{}, ErrBadArguments
	}
	acl, err := fixupACL(acl, c.Identities)
	if err != nil {
		return Stat{}, err
	}
	n := t.lookup(path)
	if n == nil {
		return Stat{}, ErrNoNode
	}
	if !allowed(n.acl, PermAdmin, c.Identities) {
		return Stat{}, ErrNoAuth
	}
	if version != -1 && version != n.aversion {
		return Stat{}, ErrBadVersion
	}
	return t.applySetACL(n, acl), nil
}

func (t *Tree) applySetACL(n *znode, acl []ACL) Stat {
	m := t.mutable(n)
	m.acl = acl
	m.aversion++
	t.record(logOp{kind: logSetACL, path: m.path, acl: acl, version: m.aversion})
	return m.stat()
}

// check is a multi's CheckVersion op (docs/ZOOKEEPER.md §8): invalid path (ErrBadArguments), node missing
// (ErrNoNode), no READ (ErrNoAuth), version neither −1 nor the node's (ErrBadVersion).
func (t *Tree) check(c Caller, path string, version int32) error {
	if !validPath(path, false) {
		return ErrBadArguments
	}
	n := t.lookup(path)
	if n == nil {
		return ErrNoNode
	}
	if !allowed(n.acl, PermRead, c.Identities) {
		return ErrNoAuth
	}
	if version != -1 && version != n.version {
		return ErrBadVersion
	}
	return nil
}

// Ephemerals returns the paths of the ephemerals owned by session, sorted.
func (t *Tree) Ephemerals(session int64) []string {
	var paths []string
	t.owned.AscendGreaterOrEqual(ownedKey{owner: session}, func(k ownedKey) bool {
		if k.owner != session {
			return false
		}
		paths = append(paths, k.path)
		return true
	})
	return paths
}

// CloseSession applies a closeSession transaction: it deletes every ephemeral of session at zxid and
// returns the watch triggers, as for a delete of each (docs/ZOOKEEPER.md §12, §13). Ephemerals have no children, so
// each deletion only updates its parent's pzxid and numChildren. They go in path order; real ZooKeeper
// uses hash-set order.
func (t *Tree) CloseSession(zxid int64, session int64) []Change {
	var changes []Change
	for _, path := range t.Ephemerals(session) {
		n := t.lookup(path)
		lastSlash := strings.LastIndexByte(path, '/')
		parentPath := parentOf(path, lastSlash)
		changes = t.remove(zxid, n, t.lookup(parentPath), parentPath, changes)
	}
	return changes
}

// EmptyContainers returns, sorted, the containers that have had a child and have none now: the
// candidates ContainerManager deletes at each check (docs/ZOOKEEPER.md §6). Containers that never had a child stay
// (maxNeverUsedIntervalMs defaults to 0, i.e. never).
func (t *Tree) EmptyContainers() []string {
	var paths []string
	t.owned.AscendGreaterOrEqual(ownedKey{owner: containerOwner}, func(k ownedKey) bool {
		if k.owner != containerOwner {
			return false
		}
		if n := t.lookup(k.path); n.creates > 0 && n.numChildren == 0 {
			paths = append(paths, k.path)
		}
		return true
	})
	return paths
}

// DeleteContainer applies the server's own deleteContainer transaction, which ContainerManager submits
// for each of EmptyContainers. Checks, in server order: path without '/', with NUL, or special
// (ErrBadArguments), node missing (ErrNoNode), children (ErrNotEmpty), a normal ephemeral
// (ErrBadVersion; like the server, a persistent node is not refused), parent missing (ErrNoNode). No ACL
// check applies.
func (t *Tree) DeleteContainer(zxid int64, path string) ([]Change, error) {
	lastSlash := strings.LastIndexByte(path, '/')
	if lastSlash < 0 || strings.IndexByte(path, 0) >= 0 || isSpecialPath(path) {
		return nil, ErrBadArguments
	}
	n := t.lookup(path)
	if n == nil {
		return nil, ErrNoNode
	}
	if n.numChildren > 0 {
		return nil, ErrNotEmpty
	}
	if n.isEphemeral() {
		return nil, ErrBadVersion
	}
	parentPath := parentOf(path, lastSlash)
	parent := t.lookup(parentPath)
	if parent == nil {
		return nil, ErrNoNode
	}
	return t.remove(zxid, n, parent, parentPath, nil), nil
}

// Walk calls fn for every node in depth-first pre-order, children in name order, starting at "/",
// until fn returns false. data is the stored slice (do not modify), and fn must not change the tree.
func (t *Tree) Walk(fn func(path string, data []byte, st Stat) bool) {
	t.walk(t.lookup(rootPath), fn)
}

func (t *Tree) walk(n *znode, fn func(path string, data []byte, st Stat) bool) bool {
	if !fn(n.path, n.data, n.stat()) {
		return false
	}
	more := true
	if n.numChildren == 0 {
		return true
	}
	t.nodes.AscendGreaterOrEqual(item{parent: n.path}, func(it item) bool {
		if it.parent != n.path {
			return false
		}
		more = t.walk(it.n, fn)
		return more
	})
	return more
}
