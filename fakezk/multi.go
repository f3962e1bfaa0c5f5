package fakezk

import "strings"

// Op is one operation of a multi: *CreateRequest, *SetDataRequest, *DeleteRequest or
// *CheckVersionRequest (go-zk's names). The interface is sealed.
type Op interface {
	isOp()
}

// CreateRequest creates a node inside a multi; its result is the actual path (MultiResponse.String).
type CreateRequest struct {
	Path  string
	Data  []byte
	Acl   []ACL //nolint:revive // go-zk's spelling
	Flags int32
}

// SetDataRequest sets a node's data inside a multi; its result is the new Stat (MultiResponse.Stat).
type SetDataRequest struct {
	Path    string
	Data    []byte
	Version int32
}

// DeleteRequest deletes a node inside a multi.
type DeleteRequest struct {
	Path    string
	Version int32
}

// CheckVersionRequest fails the multi unless the node exists with Version (−1: any version). It
// exists only inside a multi.
type CheckVersionRequest struct {
	Path    string
	Version int32
}

func (*CreateRequest) isOp()       {}
func (*SetDataRequest) isOp()      {}
func (*DeleteRequest) isOp()       {}
func (*CheckVersionRequest) isOp() {}

// MultiResponse is the result of one op of a multi, as go-zk reports it: String is a create's path,
// Stat a setData's new Stat, and Error the op's error. When the multi fails at op k, every entry has an
// empty String and nil Stat, entries before k have Error nil, entry k its own error, and entries after k
// ErrRuntimeInconsistency (DataTree.processTxn; docs/ZOOKEEPER.md §9).
type MultiResponse struct {
	Stat   *Stat
	String string
	Error  error
}

// Multi applies ops atomically as one transaction at zxid and timeMs, which every op shares
// (docs/ZOOKEEPER.md §9). Each op sees the effects of the ops before it. If op k fails, nothing is applied (no
// sequence number is used up), the results are as MultiResponse describes, no Changes are returned, and
// the error is op k's. On success the Changes are every op's, in op order. An empty multi returns an
// empty result and nil.
//
// Ops are checked as the standalone ops are, except that create flags outside 0..6 give
// ErrBadArguments, as the server answers (go-zk does not check inside Multi), and FlagContainer commits
// a container: a real 3.8 server turns a container create inside a multi into createContainer (seen:
// the node is reaped once emptied, and go-zk cannot decode the result; the client models that). A nil
// op gives ErrBadArguments.
//
// When no op can see another's effect (independentOps), every op is checked against the tree as it is
// and then applied in place; otherwise the ops run one after the other on an O(1) clone that is adopted
// on success. Both give the same results, Changes and tree.
func (t *Tree) Multi(c Caller, zxid, timeMs int64, ops []Op) ([]MultiResponse, []Change, error) {
	return t.multi(c, zxid, timeMs, ops, true)
}

// multi is Multi; inPlace false forces the clone path (the differential test compares the two).
func (t *Tree) multi(c Caller, zxid, timeMs int64, ops []Op, inPlace bool) ([]MultiResponse, []Change, error) {
	results := make([]MultiResponse, len(ops))
	if len(ops) == 0 {
		return results, nil, nil
	}
	if inPlace && independentOps(ops) {
		return t.multiInPlace(c, zxid, timeMs, ops, results)
	}
	// Apply to a clone and adopt it on success; on failure the clone is dropped. The clone marks t's
	// nodes as shared, but as the clone is only kept on success, t may keep its own token: the clone
	// copies every node it changes.
	saved := t.cow
	work := t.Clone()
	work.rec = t.rec
	recLen := t.recLen()
	var changes []Change
	for i, op := range ops {
		var err error
		switch o := op.(type) {
		case *CreateRequest:
			if o == nil {
				err = ErrBadArguments
				break
			}
			results[i].String, changes, err = work.create(c, zxid, timeMs, o.Path, o.Data, o.Acl, o.Flags, true, changes)
		case *SetDataRequest:
			if o == nil {
				err = ErrBadArguments
				break
			}
			var st Stat
			st, changes, err = work.set(c, zxid, timeMs, o.Path, o.Data, o.Version, changes)
			if err == nil {
				results[i].Stat = &st
			}
		case *DeleteRequest:
			if o == nil {
				err = ErrBadArguments
				break
			}
			changes, err = work.delete(c, zxid, o.Path, o.Version, changes)
		case *CheckVersionRequest:
			if o == nil {
				err = ErrBadArguments
				break
			}
			err = work.check(c, o.Path, o.Version)
		default:
			err = ErrBadArguments
		}
		if err != nil {
			t.cow = saved
			t.truncRec(recLen)
			return failedMulti(results, i, err), nil, err
		}
	}
	t.nodes, t.owned = work.nodes, work.owned
	// Nodes still marked saved are referenced only by the adopted btree now; nodes the clone made
	// carry its token and get copied once more on their next change.
	t.cow = saved
	return results, changes, nil
}

// failedMulti fills results for a multi whose op i failed with err (DataTree.processTxn's error
// results: 0 before, the error at i, RuntimeInconsistency after).
func failedMulti(results []MultiResponse, i int, err error) []MultiResponse {
	for j := range results {
		results[j] = MultiResponse{}
		if j == i {
			results[j].Error = err
		} else if j > i {
			results[j].Error = ErrRuntimeInconsistency
		}
	}
	return results
}

// multiPlan is one op of an in-place multi that passed its checks.
type multiPlan struct {
	create createPlan
	node   *znode // setData's or delete's node
	parent string // delete's parent path
	data   []byte // setData's data
}

// multiInPlace checks every op against t, then applies them all; ops must be independentOps.
func (t *Tree) multiInPlace(c Caller, zxid, timeMs int64, ops []Op, results []MultiResponse) ([]MultiResponse, []Change, error) {
	var small [4]multiPlan
	plans := small[:0]
	if len(ops) > len(small) {
		plans = make([]multiPlan, 0, len(ops))
	}
	for i, op := range ops {
		var p multiPlan
		var err error
		switch o := op.(type) {
		case *CreateRequest:
			p.create, err = t.prepCreate(c, o.Path, o.Data, o.Acl, o.Flags, true)
		case *SetDataRequest:
			p.node, err = t.prepSet(c, o.Path, o.Version)
			p.data = o.Data
		case *DeleteRequest:
			p.node, p.parent, err = t.prepDelete(c, o.Path, o.Version)
		case *CheckVersionRequest:
			err = t.check(c, o.Path, o.Version)
		}
		if err != nil {
			return failedMulti(results, i, err), nil, err
		}
		plans = append(plans, p)
	}
	var changes []Change
	for i, op := range ops {
		p := &plans[i]
		switch op.(type) {
		case *CreateRequest:
			results[i].String = p.create.path
			changes = t.applyCreate(zxid, timeMs, p.create, changes)
		case *SetDataRequest:
			var st Stat
			st, changes = t.applySet(zxid, timeMs, p.node, p.data, changes)
			results[i].Stat = &st
		case *DeleteRequest:
			changes = t.remove(zxid, p.node, t.lookup(p.parent), p.parent, changes)
		}
	}
	return results, changes, nil
}

// maxInPlaceOps bounds the pairwise independence check; larger multis take the clone path.
const maxInPlaceOps = 64

// independentOps reports whether no op of a multi can see the effect of an earlier one, so that checking
// them all against the tree before any applies gives what checking each after the earlier ones would.
// An op reads and changes its own path, and a create or delete also its parent. Two ops conflict when
// one's path is the other's path or the other's create/delete parent. Two creates or deletes under one
// parent do not: each only bumps the parent's counters. Sequential creates (whose name depends on the
// parent's counter), nil ops and unknown op types always take the clone path.
func independentOps(ops []Op) bool {
	if len(ops) > maxInPlaceOps {
		return false
	}
	var pathsBuf, parentsBuf [8]string
	paths, parents := pathsBuf[:0], parentsBuf[:0] // parents[i] is "" for setData and check
	for _, op := range ops {
		var path, parent string
		switch o := op.(type) {
		case *CreateRequest:
			if o == nil || o.Flags == FlagSequence || o.Flags == FlagEphemeralSequential {
				return false
			}
			path, parent = o.Path, parentOfAny(o.Path)
		case *DeleteRequest:
			if o == nil {
				return false
			}
			path, parent = o.Path, parentOfAny(o.Path)
		case *SetDataRequest:
			if o == nil {
				return false
			}
			path = o.Path
		case *CheckVersionRequest:
			if o == nil {
				return false
			}
			path = o.Path
		default:
			return false
		}
		for i, q := range paths {
			if q == path || (parent != "" && q == parent) || (parents[i] != "" && parents[i] == path) {
				return false
			}
		}
		paths = append(paths, path)
		parents = append(parents, parent)
	}
	return true
}

// parentOfAny is the parent path a create or delete of path would use, or "" for a path without '/'
// (which fails its checks either way).
func parentOfAny(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return ""
	}
	return parentOf(path, i)
}
