package fakezk

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
// ErrRuntimeInconsistency (spec §3.2).
type MultiResponse struct {
	Stat   *Stat
	String string
	Error  error
}

// Multi applies ops atomically as one transaction at zxid and timeMs, which every op shares (spec
// §1.3, §3.2). Each op sees the effects of the ops before it. If op k fails, nothing is applied (no
// sequence number is used up), the results are as MultiResponse describes, no Changes are returned, and
// the error is op k's. On success the Changes are every op's, in op order. An empty multi returns an
// empty result and nil.
//
// Ops are checked as the standalone ops are, except that create flags outside 0..6 give
// ErrBadArguments, as the server answers (go-zk does not check inside Multi), and FlagContainer commits
// a container: a real 3.8 server turns a container create inside a multi into createContainer (seen:
// the node is reaped once emptied, and go-zk cannot decode the result; the client models that). A nil
// op gives ErrBadArguments.
func (t *Tree) Multi(c Caller, zxid, timeMs int64, ops []Op) ([]MultiResponse, []Change, error) {
	results := make([]MultiResponse, len(ops))
	if len(ops) == 0 {
		return results, nil, nil
	}
	// Apply to a clone and adopt it on success; on failure the clone is dropped. The clone marks t's
	// nodes as shared, but as the clone is only kept on success, t may keep its own token: the clone
	// copies every node it changes.
	saved := t.cow
	work := t.Clone()
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
			for j := range results {
				results[j] = MultiResponse{}
				if j == i {
					results[j].Error = err
				} else if j > i {
					results[j].Error = ErrRuntimeInconsistency
				}
			}
			return results, nil, err
		}
	}
	t.nodes, t.owned = work.nodes, work.owned
	// Nodes still marked saved are referenced only by the adopted btree now; nodes the clone made
	// carry its token and get copied once more on their next change.
	t.cow = saved
	return results, changes, nil
}
