package fakezk

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMultiSuccess(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/a", 0)
	mk(t, tr, 2, "/a/old", 0)
	res, changes, err := tr.Multi(alice, 9, 4242, []Op{
		&CheckVersionRequest{Path: "/a", Version: 0},
		&CreateRequest{Path: "/a/s", Data: []byte("x"), Acl: openACL, Flags: FlagEphemeralSequential},
		&SetDataRequest{Path: "/a", Data: []byte("yy"), Version: -1},
		&DeleteRequest{Path: "/a/old", Version: 0},
		&CheckVersionRequest{Path: "/a", Version: 1}, // sees the setData above
	})
	require.NoError(t, err)
	require.Len(t, res, 5)
	require.Equal(t, MultiResponse{}, res[0])
	require.Equal(t, MultiResponse{String: "/a/s0000000001"}, res[1])
	require.NotNil(t, res[2].Stat)
	require.Equal(t, int32(1), res[2].Stat.Version)
	require.Equal(t, int64(9), res[2].Stat.Mzxid)
	require.Equal(t, int64(4242), res[2].Stat.Mtime)
	require.Equal(t, MultiResponse{}, res[3])
	require.Equal(t, MultiResponse{}, res[4])
	require.Equal(t, []Change{
		{Type: EventNodeCreated, Path: "/a/s0000000001"}, {Type: EventNodeChildrenChanged, Path: "/a"},
		{Type: EventNodeDataChanged, Path: "/a"},
		{Type: EventNodeDeleted, Path: "/a/old"}, {Type: EventNodeChildrenChanged, Path: "/a"},
	}, bare(changes))

	// All sub-ops share one zxid and time (docs/ZOOKEEPER.md §9).
	st := statOf(t, tr, "/a/s0000000001")
	require.Equal(t, int64(9), st.Czxid)
	require.Equal(t, int64(4242), st.Ctime)
	require.Equal(t, alice.Session, st.EphemeralOwner, "an ephemeral made in a multi belongs to the multi's session")
	require.Equal(t, []string{"/a/s0000000001"}, tr.Ephemerals(alice.Session))
	pst := statOf(t, tr, "/a")
	require.Equal(t, int64(9), pst.Pzxid)
	require.Equal(t, int32(1), pst.NumChildren)
	require.Equal(t, int32(2*2-1), pst.Cversion)
}

func TestMultiFailureAppliesNothing(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/a", 0)
	mk(t, tr, 2, "/a/b", 0)
	before := snapshot(tr)
	ops := []Op{
		&CreateRequest{Path: "/a/s", Acl: openACL, Flags: FlagSequence},
		&SetDataRequest{Path: "/a/b", Data: []byte("z"), Version: -1},
		&SetDataRequest{Path: "/a/b", Data: []byte("z"), Version: 7}, // fails: version is 1 by now
		&DeleteRequest{Path: "/a/b", Version: -1},
		&CreateRequest{Path: "/bad//path", Acl: openACL},
	}
	res, changes, err := tr.Multi(bob, 3, 0, ops)
	require.Equal(t, ErrBadVersion, err)
	require.Nil(t, changes)
	// [E] entries before the failure have Error nil, the failing one its error, later ones
	// RuntimeInconsistency; all have empty String and Stat.
	require.Equal(t, []MultiResponse{
		{}, {}, {Error: ErrBadVersion}, {Error: ErrRuntimeInconsistency}, {Error: ErrRuntimeInconsistency},
	}, res)
	require.Equal(t, before, snapshot(tr), "a failed multi changes nothing")

	// No sequence number was used up: the next sequential create gets 1 (one create under /a so far).
	require.Equal(t, "/a/s0000000001", mk(t, tr, 4, "/a/s", FlagSequence))
	// And the tree still takes writes normally.
	_, _, err = tr.Set(bob, 5, 0, "/a/b", []byte("after"), 0)
	require.NoError(t, err)
}

func TestMultiFirstOpFails(t *testing.T) {
	tr := NewTree()
	res, changes, err := tr.Multi(bob, 1, 0, []Op{
		&DeleteRequest{Path: "/missing", Version: -1},
		&CreateRequest{Path: "/x", Acl: openACL},
	})
	require.Equal(t, ErrNoNode, err)
	require.Nil(t, changes)
	require.Equal(t, []MultiResponse{{Error: ErrNoNode}, {Error: ErrRuntimeInconsistency}}, res)
	_, ok := tr.Exists("/x")
	require.False(t, ok)
}

func TestMultiCreateThenDelete(t *testing.T) {
	// [E] create-then-delete of one node in one multi works.
	tr := NewTree()
	res, changes, err := tr.Multi(bob, 1, 10, []Op{
		&CreateRequest{Path: "/t", Acl: openACL},
		&DeleteRequest{Path: "/t", Version: 0},
	})
	require.NoError(t, err)
	require.Equal(t, "/t", res[0].String)
	require.Equal(t, []Change{
		{Type: EventNodeCreated, Path: "/t"}, {Type: EventNodeChildrenChanged, Path: "/"},
		{Type: EventNodeDeleted, Path: "/t"}, {Type: EventNodeChildrenChanged, Path: "/"},
	}, bare(changes))
	_, ok := tr.Exists("/t")
	require.False(t, ok)
	st := statOf(t, tr, "/")
	require.Equal(t, int64(1), st.Pzxid)
	require.Equal(t, int32(2*1-1), st.Cversion)
}

func TestMultiEphemeralThenChild(t *testing.T) {
	// [E] an ephemeral and then a child of it in one multi: NoChildrenForEphemerals.
	tr := NewTree()
	res, _, err := tr.Multi(alice, 1, 0, []Op{
		&CreateRequest{Path: "/e", Acl: openACL, Flags: FlagEphemeral},
		&CreateRequest{Path: "/e/c", Acl: openACL},
	})
	require.Equal(t, ErrNoChildrenForEphemerals, err)
	require.Equal(t, []MultiResponse{{}, {Error: ErrNoChildrenForEphemerals}}, res)
	require.Empty(t, tr.Ephemerals(alice.Session))
}

func TestMultiEmpty(t *testing.T) {
	tr := NewTree()
	res, changes, err := tr.Multi(bob, 1, 0, nil)
	require.NoError(t, err)
	require.NotNil(t, res)
	require.Empty(t, res)
	require.Nil(t, changes)
}

func TestMultiOpChecks(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/a", 0)
	_, _, err := tr.Create(bob, 2, 0, "/hidden", nil, DigestACL(PermAll, "alice", "secret"), 0)
	require.NoError(t, err)
	cases := []struct {
		name string
		op   Op
		want error
	}{
		{"check any version", &CheckVersionRequest{Path: "/a", Version: -1}, nil},
		{"check exact version", &CheckVersionRequest{Path: "/a", Version: 0}, nil},
		{"check bad path", &CheckVersionRequest{Path: "a", Version: -1}, ErrBadArguments},
		{"check missing", &CheckVersionRequest{Path: "/missing", Version: 3}, ErrNoNode},
		{"check without READ", &CheckVersionRequest{Path: "/hidden", Version: 3}, ErrNoAuth},
		{"check BadVersion", &CheckVersionRequest{Path: "/a", Version: 3}, ErrBadVersion},
		{"create bad flags is BadArguments in a multi", &CreateRequest{Path: "/n", Acl: openACL, Flags: 7}, ErrBadArguments},
		{"create TTL", &CreateRequest{Path: "/n", Acl: openACL, Flags: FlagTTL}, ErrUnimplemented},
		{"create bad path", &CreateRequest{Path: "/a/", Acl: openACL}, ErrBadArguments},
		{"create nil ACL", &CreateRequest{Path: "/n"}, ErrInvalidACL},
		{"delete special", &DeleteRequest{Path: "/zookeeper", Version: -1}, ErrBadArguments},
		{"set bad path", &SetDataRequest{Path: "/a/", Version: -1}, ErrBadArguments},
		{"nil op", nil, ErrBadArguments},
		{"typed nil op", (*SetDataRequest)(nil), ErrBadArguments},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, _, err := tr.Multi(bob, 3, 0, []Op{tc.op})
			require.Equal(t, tc.want, err)
			require.Equal(t, tc.want, res[0].Error)
		})
	}
}

func TestMultiContainerFlagCommitsContainer(t *testing.T) {
	// Observed on ZooKeeper 3.8.0: a multi's create with flag 4 makes a container, reaped once empty.
	tr := NewTree()
	_, _, err := tr.Multi(bob, 1, 0, []Op{
		&CreateRequest{Path: "/c", Acl: openACL, Flags: FlagContainer},
		&CreateRequest{Path: "/c/x", Acl: openACL},
		&DeleteRequest{Path: "/c/x", Version: -1},
	})
	require.NoError(t, err)
	require.Equal(t, []string{"/c"}, tr.EmptyContainers())
}

func TestMultiKeepsClonesIndependent(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/a", 0)
	mk(t, tr, 2, "/a/b", 0)
	snap := tr.Clone()
	snapBefore := snapshot(snap)

	// A failing multi, then in-place writes on tr, must not leak into the earlier clone.
	_, _, err := tr.Multi(bob, 3, 0, []Op{
		&SetDataRequest{Path: "/a/b", Data: []byte("m"), Version: -1},
		&CheckVersionRequest{Path: "/a", Version: 9},
	})
	require.Equal(t, ErrBadVersion, err)
	_, _, err = tr.Set(bob, 4, 0, "/a/b", []byte("1"), -1)
	require.NoError(t, err)
	_, _, err = tr.Set(bob, 5, 0, "/a/b", []byte("2"), -1)
	require.NoError(t, err)
	// A succeeding multi, then more writes.
	_, _, err = tr.Multi(bob, 6, 0, []Op{
		&SetDataRequest{Path: "/a/b", Data: []byte("m"), Version: -1},
		&CreateRequest{Path: "/a/c", Acl: openACL},
	})
	require.NoError(t, err)
	_, _, err = tr.Set(bob, 7, 0, "/a/b", []byte("3"), -1)
	require.NoError(t, err)
	_, _, err = tr.Set(bob, 8, 0, "/a", []byte("3"), -1)
	require.NoError(t, err)

	require.Equal(t, snapBefore, snapshot(snap))
	data, st, err := tr.Get(bob, "/a/b")
	require.NoError(t, err)
	require.Equal(t, []byte("3"), data)
	require.Equal(t, int32(4), st.Version)
	require.Equal(t, int32(2), statOf(t, tr, "/a").NumChildren)
}

// nodeSnap is one node as Walk sees it.
type nodeSnap struct {
	Path string
	Data string
	Stat Stat
}

// snapshot records the whole tree, for before/after comparisons.
func snapshot(tr *Tree) []nodeSnap {
	var out []nodeSnap
	tr.Walk(func(path string, data []byte, st Stat) bool {
		out = append(out, nodeSnap{path, string(data), st})
		return true
	})
	return out
}
