package fakezk

import (
	"errors"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

var (
	alice     = Caller{Session: 0x100, Identities: []Identity{DigestIdentity([]byte("alice:secret"))}}
	bob       = Caller{Session: 0x200}
	openACL   = WorldACL(PermAll)
	createdAt = int64(1000) // a time stamp, ms
)

// must fails the test on err and returns v.
func must[T any](t testing.TB, v T, err error) T {
	t.Helper()
	require.NoError(t, err)
	return v
}

// mk creates path (persistent, open ACL) at zxid, failing the test on error.
func mk(t testing.TB, tr *Tree, zxid int64, path string, flags int32) string {
	t.Helper()
	p, _, err := tr.Create(bob, zxid, createdAt+zxid, path, []byte(path), openACL, flags)
	require.NoError(t, err, "create %s", path)
	return p
}

func statOf(t testing.TB, tr *Tree, path string) Stat {
	t.Helper()
	st, ok := tr.Exists(path)
	require.True(t, ok, "%s exists", path)
	return st
}

func children(t testing.TB, tr *Tree, path string) []string {
	t.Helper()
	names, _, err := tr.Children(bob, path)
	require.NoError(t, err)
	return names
}

func TestInitialTree(t *testing.T) {
	tr := NewTree()
	require.Equal(t, 4, tr.Len())
	require.Equal(t, []string{"zookeeper"}, children(t, tr, "/"))
	require.ElementsMatch(t, []string{"quota", "config"}, children(t, tr, "/zookeeper"))

	// docs/ZOOKEEPER.md §3: cversion −1 for the root, −2 for /zookeeper; everything else zero.
	require.Equal(t, Stat{Cversion: -1, NumChildren: 1}, statOf(t, tr, "/"))
	require.Equal(t, Stat{Cversion: -2, NumChildren: 2}, statOf(t, tr, "/zookeeper"))
	require.Equal(t, Stat{}, statOf(t, tr, "/zookeeper/quota"))
	require.Equal(t, Stat{Aversion: -1}, statOf(t, tr, "/zookeeper/config"))

	acl, _, err := tr.GetACL(alice, "/zookeeper/config")
	require.NoError(t, err)
	require.Equal(t, WorldACL(PermRead), acl)
	acl, _, err = tr.GetACL(alice, "/")
	require.NoError(t, err)
	require.Equal(t, WorldACL(PermAll), acl)

	data, _, err := tr.Get(bob, "/")
	require.NoError(t, err)
	require.NotNil(t, data)
	require.Empty(t, data)
}

func TestCreateStampsNodeAndParent(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/p", 0)
	before := statOf(t, tr, "/p")

	path, changes, err := tr.Create(bob, 7, 5000, "/p/c", []byte("hello"), openACL, 0)
	require.NoError(t, err)
	require.Equal(t, "/p/c", path)
	require.Equal(t, []Change{{Type: EventNodeCreated, Path: "/p/c"}, {Type: EventNodeChildrenChanged, Path: "/p"}}, bare(changes))

	// docs/ZOOKEEPER.md §4: the new node.
	require.Equal(t, Stat{Czxid: 7, Mzxid: 7, Ctime: 5000, Mtime: 5000, DataLength: 5, Pzxid: 7}, statOf(t, tr, "/p/c"))
	// The parent: counter +1, pzxid, numChildren; not mzxid, mtime or version.
	after := statOf(t, tr, "/p")
	want := before
	want.Cversion = 1
	want.NumChildren = 1
	want.Pzxid = 7
	require.Equal(t, want, after)

	// The root saw one more create: −1 + 2 − 1 = 0 → after /p it is 2·1 − 2 = 0.
	require.Equal(t, int32(0), statOf(t, tr, "/").Cversion)
	require.Equal(t, int64(1), statOf(t, tr, "/").Pzxid)
}

func TestCversionIsTwiceCreatesMinusChildren(t *testing.T) {
	// [E] three creates give 3, then a delete gives 4.
	tr := NewTree()
	mk(t, tr, 1, "/p", 0)
	for i, name := range []string{"/p/a", "/p/b", "/p/c"} {
		mk(t, tr, int64(2+i), name, 0)
	}
	require.Equal(t, int32(3), statOf(t, tr, "/p").Cversion)
	_, err := tr.Delete(bob, 5, "/p/b", -1)
	require.NoError(t, err)
	st := statOf(t, tr, "/p")
	require.Equal(t, int32(4), st.Cversion)
	require.Equal(t, int32(2), st.NumChildren)
	require.Equal(t, int64(5), st.Pzxid)
	require.Equal(t, int64(1), st.Mzxid, "delete does not touch the parent's mzxid")
}

func TestSequenceNumbering(t *testing.T) {
	// [E] s-0000000000, …01, …02; delete …01, create plain, then …04.
	tr := NewTree()
	mk(t, tr, 1, "/q", 0)
	require.Equal(t, "/q/s-0000000000", mk(t, tr, 2, "/q/s-", FlagSequence))
	require.Equal(t, "/q/s-0000000001", mk(t, tr, 3, "/q/s-", FlagEphemeralSequential))
	require.Equal(t, "/q/s-0000000002", mk(t, tr, 4, "/q/s-", FlagSequence))
	_, err := tr.Delete(bob, 5, "/q/s-0000000001", -1)
	require.NoError(t, err)
	mk(t, tr, 6, "/q/plain", 0)
	require.Equal(t, "/q/s-0000000004", mk(t, tr, 7, "/q/s-", FlagSequence))
}

func TestSequentialTrailingSlash(t *testing.T) {
	// docs/ZOOKEEPER.md §2: Create("/a/", FlagSequence) is checked with a digit appended.
	tr := NewTree()
	mk(t, tr, 1, "/a", 0)
	for i := range 5 {
		mk(t, tr, int64(2+i), "/a/x", 0)
		_, err := tr.Delete(bob, int64(2+i), "/a/x", -1)
		require.NoError(t, err)
	}
	require.Equal(t, "/a/0000000005", mk(t, tr, 10, "/a/", FlagSequence))
	// Without the sequence flag the same path is BadArguments.
	_, _, err := tr.Create(bob, 11, 0, "/a/", nil, openACL, 0)
	require.Equal(t, ErrBadArguments, err)
	// Under the root, "/" + suffix.
	require.Equal(t, "/0000000001", mk(t, tr, 12, "/", FlagSequence))
}

func TestSequenceOverflow(t *testing.T) {
	// docs/ZOOKEEPER.md §6: the counter is int32, so after 2147483647 the name is <path>-2147483648.
	tr := NewTree()
	mk(t, tr, 1, "/o", 0)
	tr.mutable(tr.lookup("/o")).creates = math.MaxInt32
	require.Equal(t, "/o/n2147483647", mk(t, tr, 2, "/o/n", FlagSequence))
	require.Equal(t, "/o/n-2147483648", mk(t, tr, 3, "/o/n", FlagSequence))
	require.Equal(t, "/o/n-2147483647", mk(t, tr, 4, "/o/n", FlagSequence))
	require.Equal(t, "-000000005", seqSuffix(-5))
}

func TestCreateErrorsInServerOrder(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/a", 0)
	mk(t, tr, 2, "/a/b", 0)
	_, _, err := tr.Create(alice, 3, 0, "/eph", nil, openACL, FlagEphemeral)
	require.NoError(t, err)
	_, _, err = tr.Create(bob, 4, 0, "/ro", nil, WorldACL(PermRead|PermWrite|PermDelete|PermAdmin), 0)
	require.NoError(t, err)
	mk(t, tr, 5, "/ro2", 0)

	cases := []struct {
		name  string
		path  string
		acl   []ACL
		flags int32
		want  error
	}{
		{"flags above 6", "/new", openACL, 7, ErrInvalidFlags},
		{"negative flags", "/new", openACL, -1, ErrInvalidFlags},
		{"TTL before path", "bad", nil, FlagTTL, ErrUnimplemented},
		{"TTL sequential", "/new", openACL, FlagPersistentSequentialWithTTL, ErrUnimplemented},
		{"empty path", "", openACL, 0, ErrBadArguments},
		{"no slash beats ACL", "a", nil, 0, ErrBadArguments},
		{"NUL beats ACL", "/a\x00b", nil, 0, ErrBadArguments},
		{"nil ACL", "/new", nil, 0, ErrInvalidACL},
		{"empty ACL beats NoNode", "/missing/x", []ACL{}, 0, ErrInvalidACL},
		{"malformed ACL", "/new", []ACL{{PermAll, "world", "someone"}}, 0, ErrInvalidACL},
		{"auth without identities", "/new", AuthACL(PermAll), 0, ErrInvalidACL},
		{"parent missing", "/missing/x", openACL, 0, ErrNoNode},
		{"relative path, parent missing", "a/b", openACL, 0, ErrNoNode},
		{"NoNode below an ephemeral", "/eph/x/y", openACL, 0, ErrNoNode},
		{"parent lacks CREATE", "/ro/x", openACL, 0, ErrNoAuth},
		{"NoAuth beats validation", "/ro/.", openACL, 0, ErrNoAuth},
		{"trailing slash", "/a/", openACL, 0, ErrBadArguments},
		{"dot component", "/a/.", openACL, 0, ErrBadArguments},
		{"dotdot component", "/a/..", openACL, 0, ErrBadArguments},
		{"double slash: parent /a/ missing", "/a//b", openACL, 0, ErrNoNode},
		{"control character", "/a/\x01", openACL, 0, ErrBadArguments},
		{"exists", "/a/b", openACL, 0, ErrNodeExists},
		{"root exists", "/", openACL, 0, ErrNodeExists},
		{"ephemeral parent", "/eph/x", openACL, 0, ErrNoChildrenForEphemerals},
		{"ephemeral parent, sequential", "/eph/x", openACL, FlagSequence, ErrNoChildrenForEphemerals},
		{"under /zookeeper is allowed", "/zookeeper/foo", openACL, 0, nil},
		{"dots inside names are fine", "/a/a.b", openACL, 0, nil},
		{"three dots are fine", "/a/...", openACL, 0, nil},
		{"digest ACL", "/d", DigestACL(PermAll, "u", "p"), 0, nil},
		{"ip ACL", "/ip", []ACL{{PermAll, "ip", "10.0.0.0/8"}}, 0, nil},
	}
	zxid := int64(100)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			zxid++
			lenBefore := tr.Len()
			p, changes, err := tr.Create(bob, zxid, 0, tc.path, nil, tc.acl, tc.flags)
			require.Equal(t, tc.want, err)
			if tc.want != nil {
				require.Empty(t, p)
				require.Nil(t, changes)
				require.Equal(t, lenBefore, tr.Len())
			} else {
				require.Equal(t, tc.path, p)
				require.Len(t, changes, 2)
			}
		})
	}
}

func TestDeleteErrorsInServerOrder(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/a", 0)
	mk(t, tr, 2, "/a/b", 0)
	mk(t, tr, 3, "/leaf", 0)
	_, _, err := tr.Create(bob, 4, 0, "/nodel", nil, WorldACL(PermAll&^PermDelete), 0)
	require.NoError(t, err)
	mk(t, tr, 5, "/nodel/x", 0)
	mk(t, tr, 6, "/zookeeper/foo", 0)

	cases := []struct {
		name    string
		path    string
		version int32
		want    error
	}{
		{"root", "/", -1, ErrBadArguments},
		{"/zookeeper", "/zookeeper", -1, ErrBadArguments},
		{"quota", "/zookeeper/quota", -1, ErrBadArguments},
		{"config", "/zookeeper/config", -1, ErrBadArguments},
		{"no slash", "a", -1, ErrBadArguments},
		{"NUL", "/a\x00", -1, ErrBadArguments},
		{"parent missing", "/missing/x", -1, ErrNoNode},
		{"parent lacks DELETE, node missing", "/nodel/missing", 5, ErrNoAuth},
		{"parent lacks DELETE", "/nodel/x", -1, ErrNoAuth},
		{"node missing", "/a/missing", 3, ErrNoNode},
		{"BadVersion beats NotEmpty", "/a", 3, ErrBadVersion},
		{"NotEmpty", "/a", 0, ErrNotEmpty},
		{"NotEmpty, any version", "/a", -1, ErrNotEmpty},
		{"BadVersion on leaf", "/leaf", 1, ErrBadVersion},
		{"exact version", "/leaf", 0, nil},
		{"under /zookeeper", "/zookeeper/foo", -1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			changes, err := tr.Delete(bob, 50, tc.path, tc.version)
			require.Equal(t, tc.want, err)
			if err != nil {
				require.Nil(t, changes)
				return
			}
			_, ok := tr.Exists(tc.path)
			require.False(t, ok)
		})
	}
}

func TestDeleteUpdatesParentOnly(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/p", 0)
	mk(t, tr, 2, "/p/c", 0)
	before := statOf(t, tr, "/p")
	changes, err := tr.Delete(bob, 9, "/p/c", 0)
	require.NoError(t, err)
	require.Equal(t, []Change{{Type: EventNodeDeleted, Path: "/p/c"}, {Type: EventNodeChildrenChanged, Path: "/p"}}, bare(changes))
	want := before
	want.NumChildren = 0
	want.Cversion = 2 // 2·1 − 0
	want.Pzxid = 9
	require.Equal(t, want, statOf(t, tr, "/p"))
	// Deleting a top-level node reports the root as parent.
	changes, err = tr.Delete(bob, 10, "/p", -1)
	require.NoError(t, err)
	require.Equal(t, []Change{{Type: EventNodeDeleted, Path: "/p"}, {Type: EventNodeChildrenChanged, Path: "/"}}, bare(changes))
}

func TestSetData(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/p", 0)
	mk(t, tr, 2, "/p/c", 0)
	parentBefore := statOf(t, tr, "/p")
	before := statOf(t, tr, "/p/c")

	st, changes, err := tr.Set(bob, 3, 7777, "/p/c", []byte("new data"), 0)
	require.NoError(t, err)
	require.Equal(t, []Change{{Type: EventNodeDataChanged, Path: "/p/c"}}, bare(changes))
	want := before
	want.Version = 1
	want.Mzxid = 3
	want.Mtime = 7777
	want.DataLength = 8
	require.Equal(t, want, st)
	require.Equal(t, want, statOf(t, tr, "/p/c"))
	require.Equal(t, parentBefore, statOf(t, tr, "/p"), "setData changes nothing on the parent")

	// Identical data still bumps the version [E].
	st, _, err = tr.Set(bob, 4, 7778, "/p/c", []byte("new data"), -1)
	require.NoError(t, err)
	require.Equal(t, int32(2), st.Version)

	// nil and empty data are kept apart; both have dataLength 0 [E].
	_, _, err = tr.Set(bob, 5, 0, "/p/c", nil, -1)
	require.NoError(t, err)
	data, st, err := tr.Get(bob, "/p/c")
	require.NoError(t, err)
	require.Nil(t, data)
	require.Equal(t, int32(0), st.DataLength)
	_, _, err = tr.Set(bob, 6, 0, "/p/c", []byte{}, -1)
	require.NoError(t, err)
	data, _, err = tr.Get(bob, "/p/c")
	require.NoError(t, err)
	require.NotNil(t, data)
	require.Empty(t, data)
}

func TestSetErrorsInServerOrder(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/a", 0)
	_, _, err := tr.Create(bob, 2, 0, "/ro", nil, WorldACL(PermRead), 0)
	require.NoError(t, err)
	cases := []struct {
		name    string
		path    string
		version int32
		want    error
	}{
		{"invalid path beats NoNode", "/missing/", 0, ErrBadArguments},
		{"relative", "a", 0, ErrBadArguments},
		{"NoNode beats BadVersion", "/missing", 5, ErrNoNode},
		{"NoAuth beats BadVersion", "/ro", 5, ErrNoAuth},
		{"BadVersion", "/a", 5, ErrBadVersion},
		{"ok", "/a", 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, changes, err := tr.Set(bob, 10, 0, tc.path, []byte("x"), tc.version)
			require.Equal(t, tc.want, err)
			if err != nil {
				require.Equal(t, Stat{}, st)
				require.Nil(t, changes)
			}
		})
	}
}

func TestVersionWraps(t *testing.T) {
	// docs/ZOOKEEPER.md §4: the version is int32 current+1 and wraps.
	tr := NewTree()
	mk(t, tr, 1, "/w", 0)
	tr.mutable(tr.lookup("/w")).version = math.MaxInt32
	st, _, err := tr.Set(bob, 2, 0, "/w", nil, math.MaxInt32)
	require.NoError(t, err)
	require.Equal(t, int32(math.MinInt32), st.Version)
	st, _, err = tr.Set(bob, 3, 0, "/w", nil, math.MinInt32)
	require.NoError(t, err)
	require.Equal(t, int32(math.MinInt32+1), st.Version)
}

func TestSetACL(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/a", 0)
	before := statOf(t, tr, "/a")

	st, err := tr.SetACL(bob, 2, "/a", WorldACL(PermRead), 0)
	require.NoError(t, err)
	want := before
	want.Aversion = 1
	require.Equal(t, want, st, "setACL changes only aversion")
	acl, _, err := tr.GetACL(alice, "/a")
	require.NoError(t, err)
	require.Equal(t, WorldACL(PermRead), acl)

	// Now bob lacks ADMIN; the check order is path, ACL, node, ADMIN, version.
	cases := []struct {
		name    string
		path    string
		acl     []ACL
		version int32
		want    error
	}{
		{"invalid path", "/a/", nil, 0, ErrBadArguments},
		{"InvalidACL beats NoNode", "/missing", nil, 0, ErrInvalidACL},
		{"NoNode", "/missing", openACL, 0, ErrNoNode},
		{"NoAuth beats BadVersion", "/a", openACL, 7, ErrNoAuth},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tr.SetACL(bob, 3, tc.path, tc.acl, tc.version)
			require.Equal(t, tc.want, err)
		})
	}
	// BadVersion is checked against aversion, not version.
	mk(t, tr, 4, "/b", 0)
	_, _, err = tr.Set(bob, 5, 0, "/b", nil, -1)
	require.NoError(t, err)
	_, err = tr.SetACL(bob, 6, "/b", openACL, 1)
	require.Equal(t, ErrBadVersion, err)
	st, err = tr.SetACL(bob, 7, "/b", openACL, 0)
	require.NoError(t, err)
	require.Equal(t, int32(1), st.Aversion)
	require.Equal(t, int32(1), st.Version)
}

func TestReadsCheckREAD(t *testing.T) {
	tr := NewTree()
	_, _, err := tr.Create(alice, 1, 0, "/secret", []byte("s"), DigestACL(PermAll, "alice", "secret"), 0)
	require.NoError(t, err)
	mk(t, tr, 2, "/open", 0)

	_, _, err = tr.Get(bob, "/secret")
	require.Equal(t, ErrNoAuth, err)
	_, _, err = tr.Children(bob, "/secret")
	require.Equal(t, ErrNoAuth, err)
	_, ok := tr.Exists("/secret")
	require.True(t, ok, "exists needs no permission")
	data, _, err := tr.Get(alice, "/secret")
	require.NoError(t, err)
	require.Equal(t, []byte("s"), data)

	_, _, err = tr.Get(bob, "/missing")
	require.Equal(t, ErrNoNode, err)
	_, _, err = tr.Children(bob, "/missing")
	require.Equal(t, ErrNoNode, err)
	_, _, err = tr.GetACL(alice, "/missing")
	require.Equal(t, ErrNoNode, err)
	_, ok = tr.Exists("/missing")
	require.False(t, ok)

	// Lookups of malformed paths find nothing (the server does not validate reads).
	for _, p := range []string{"", "open", "/open/", "//open"} {
		_, _, err = tr.Get(bob, p)
		require.Equal(t, ErrNoNode, err, p)
	}

	super := Caller{Identities: []Identity{{Scheme: "super"}}}
	_, _, err = tr.Get(super, "/secret")
	require.NoError(t, err)
}

func TestGetDoesNotAllocate(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/a", 0)
	mk(t, tr, 2, "/a/b", 0)
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := tr.Get(bob, "/a/b"); err != nil {
			panic(err)
		}
	})
	require.Zero(t, allocs)
}

func TestEphemeralsAndCloseSession(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/e", 0)
	mk(t, tr, 2, "/f", 0)
	for i, p := range []string{"/e/z", "/f/y", "/e/a"} {
		_, _, err := tr.Create(alice, int64(3+i), 0, p, nil, openACL, FlagEphemeral)
		require.NoError(t, err)
	}
	seq, _, err := tr.Create(alice, 6, 0, "/e/s", nil, openACL, FlagEphemeralSequential)
	require.NoError(t, err)
	_, _, err = tr.Create(bob, 7, 0, "/e/bob", nil, openACL, FlagEphemeral)
	require.NoError(t, err)

	require.Equal(t, alice.Session, statOf(t, tr, "/e/z").EphemeralOwner)
	require.Equal(t, []string{"/e/a", seq, "/e/z", "/f/y"}, tr.Ephemerals(alice.Session))
	require.Equal(t, []string{"/e/bob"}, tr.Ephemerals(bob.Session))
	require.Empty(t, tr.Ephemerals(0x999))

	// Other sessions may set or delete an ephemeral [E].
	_, _, err = tr.Set(bob, 8, 0, "/e/z", []byte("x"), -1)
	require.NoError(t, err)
	_, err = tr.Delete(bob, 9, "/e/z", -1)
	require.NoError(t, err)
	require.Equal(t, []string{"/e/a", seq, "/f/y"}, tr.Ephemerals(alice.Session))

	changes := tr.CloseSession(10, alice.Session)
	require.Equal(t, []Change{
		{Type: EventNodeDeleted, Path: "/e/a"}, {Type: EventNodeChildrenChanged, Path: "/e"},
		{Type: EventNodeDeleted, Path: seq}, {Type: EventNodeChildrenChanged, Path: "/e"},
		{Type: EventNodeDeleted, Path: "/f/y"}, {Type: EventNodeChildrenChanged, Path: "/f"},
	}, bare(changes))
	require.Empty(t, tr.Ephemerals(alice.Session))
	require.Equal(t, []string{"bob"}, children(t, tr, "/e"))
	st := statOf(t, tr, "/e")
	require.Equal(t, int64(10), st.Pzxid, "closeSession's deletions set pzxid")
	require.Equal(t, int32(1), st.NumChildren)
	require.Equal(t, int32(2*4-1), st.Cversion)
	require.Nil(t, tr.CloseSession(11, alice.Session))
}

func TestContainers(t *testing.T) {
	tr := NewTree()
	_, _, err := tr.Create(bob, 1, 0, "/c", nil, openACL, FlagContainer)
	require.NoError(t, err)
	_, _, err = tr.Create(bob, 2, 0, "/never", nil, openACL, FlagContainer)
	require.NoError(t, err)
	require.Equal(t, int64(0), statOf(t, tr, "/c").EphemeralOwner, "containers report owner 0")
	require.Empty(t, tr.EmptyContainers(), "containers that never had a child stay")

	mk(t, tr, 3, "/c/child", 0)
	require.Empty(t, tr.EmptyContainers())
	_, err = tr.DeleteContainer(4, "/c")
	require.Equal(t, ErrNotEmpty, err)
	_, err = tr.Delete(bob, 5, "/c/child", -1)
	require.NoError(t, err)
	require.Equal(t, []string{"/c"}, tr.EmptyContainers())

	changes, err := tr.DeleteContainer(6, "/c")
	require.NoError(t, err)
	require.Equal(t, []Change{{Type: EventNodeDeleted, Path: "/c"}, {Type: EventNodeChildrenChanged, Path: "/"}}, bare(changes))
	require.Empty(t, tr.EmptyContainers())

	_, err = tr.DeleteContainer(7, "/c")
	require.Equal(t, ErrNoNode, err)
	_, err = tr.DeleteContainer(7, "/zookeeper")
	require.Equal(t, ErrBadArguments, err)
	_, _, err = tr.Create(alice, 8, 0, "/eph", nil, openACL, FlagEphemeral)
	require.NoError(t, err)
	_, err = tr.DeleteContainer(9, "/eph")
	require.Equal(t, ErrBadVersion, err)

	// A container is not an ephemeral: it may have (ephemeral) children.
	_, _, err = tr.Create(bob, 10, 0, "/never/x", nil, openACL, FlagEphemeral)
	require.NoError(t, err)
	require.Empty(t, tr.EmptyContainers())
	_ = tr.CloseSession(11, bob.Session)
	require.Equal(t, []string{"/never"}, tr.EmptyContainers())
}

func TestChangesOnlyForSuccessfulWrites(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/a", 0)
	_, changes, err := tr.Create(bob, 2, 0, "/a", nil, openACL, 0)
	require.Error(t, err)
	require.Nil(t, changes)
	changes, err = tr.Delete(bob, 3, "/a", 9)
	require.Error(t, err)
	require.Nil(t, changes)
	_, changes, err = tr.Set(bob, 4, 0, "/a", nil, 9)
	require.Error(t, err)
	require.Nil(t, changes)
	// A grandchild create fires NodeChildrenChanged on its parent only.
	mk(t, tr, 5, "/a/b", 0)
	_, changes, err = tr.Create(bob, 6, 0, "/a/b/c", nil, openACL, 0)
	require.NoError(t, err)
	require.Equal(t, []Change{{Type: EventNodeCreated, Path: "/a/b/c"}, {Type: EventNodeChildrenChanged, Path: "/a/b"}}, bare(changes))
}

func TestCloneIsIndependent(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/a", 0)
	mk(t, tr, 2, "/a/b", 0)
	_, _, err := tr.Create(alice, 3, 0, "/a/e", nil, openACL, FlagEphemeral)
	require.NoError(t, err)
	// Write twice before cloning so /a/b is owned (mutated in place) by tr.
	_, _, err = tr.Set(bob, 4, 0, "/a/b", []byte("v1"), -1)
	require.NoError(t, err)

	snap := tr.Clone()
	_, _, err = tr.Set(bob, 5, 0, "/a/b", []byte("v2"), -1)
	require.NoError(t, err)
	mk(t, tr, 6, "/a/new", 0)
	_ = tr.CloseSession(7, alice.Session)

	data, st, err := snap.Get(bob, "/a/b")
	require.NoError(t, err)
	require.Equal(t, []byte("v1"), data)
	require.Equal(t, int32(1), st.Version)
	_, ok := snap.Exists("/a/new")
	require.False(t, ok)
	require.Equal(t, []string{"/a/e"}, snap.Ephemerals(alice.Session))
	require.Equal(t, int32(2), statOf(t, snap, "/a").NumChildren)
	require.Equal(t, 7, snap.Len())

	// And the other way round: writes to the clone leave the original alone.
	_, _, err = snap.Set(bob, 8, 0, "/a/b", []byte("clone"), -1)
	require.NoError(t, err)
	_, err = snap.Delete(bob, 9, "/a/e", -1)
	require.NoError(t, err)
	data, st, err = tr.Get(bob, "/a/b")
	require.NoError(t, err)
	require.Equal(t, []byte("v2"), data)
	require.Equal(t, int32(2), st.Version)
	require.Equal(t, int32(2), statOf(t, tr, "/a").NumChildren)

	// Clones of clones.
	snap2 := snap.Clone()
	_, _, err = snap.Set(bob, 10, 0, "/a/b", []byte("again"), -1)
	require.NoError(t, err)
	data, _, err = snap2.Get(bob, "/a/b")
	require.NoError(t, err)
	require.Equal(t, []byte("clone"), data)
}

func TestWalk(t *testing.T) {
	tr := NewTree()
	mk(t, tr, 1, "/b", 0)
	mk(t, tr, 2, "/a", 0)
	mk(t, tr, 3, "/a-c", 0)
	mk(t, tr, 4, "/a/x", 0)
	var paths []string
	tr.Walk(func(path string, data []byte, st Stat) bool {
		paths = append(paths, path)
		if path != "/" && path[:min(len(path), 10)] != "/zookeeper" {
			require.Equal(t, []byte(path), data)
		}
		return true
	})
	require.Equal(t, []string{"/", "/a", "/a/x", "/a-c", "/b", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"}, paths)

	paths = nil
	tr.Walk(func(path string, _ []byte, _ Stat) bool {
		paths = append(paths, path)
		return path != "/a/x"
	})
	require.Equal(t, []string{"/", "/a", "/a/x"}, paths)
}

func TestPacketTooLarge(t *testing.T) {
	// [E] on /a, 1048553 bytes of data worked and 1048554 dropped the connection.
	require.False(t, PacketTooLarge("/a", make([]byte, 1048553)))
	require.True(t, PacketTooLarge("/a", make([]byte, 1048554)))
}

func TestErrCodes(t *testing.T) {
	require.Equal(t, int32(-101), ErrNoNode.Code())
	require.Equal(t, "zk: node does not exist", ErrNoNode.Error())
	require.Equal(t, "zk: version conflict", ErrBadVersion.Error())
	require.Equal(t, "invalid arguments", ErrBadArguments.Error())
	require.Equal(t, "zk: runtime inconsistency", ErrRuntimeInconsistency.Error())
	require.Equal(t, "unknown error: -126", ErrCode(-126).Error())
	require.NoError(t, ErrorFromCode(0))
	require.Equal(t, ErrNotEmpty, ErrorFromCode(-111))
	require.Equal(t, int32(-112), CodeOf(ErrSessionExpired))
	require.Equal(t, int32(0), CodeOf(nil))
	require.True(t, errors.Is(ErrorFromCode(-110), ErrNodeExists))
	codes := []ErrCode{ErrSystemError, ErrRuntimeInconsistency, ErrDataInconsistency, ErrConnectionLoss,
		ErrMarshallingError, ErrUnimplemented, ErrOperationTimeout, ErrBadArguments, ErrUnknownSession,
		ErrNewConfigNoQuorum, ErrReconfigInProgress, ErrAPIError, ErrNoNode, ErrNoAuth, ErrBadVersion,
		ErrNoChildrenForEphemerals, ErrNodeExists, ErrNotEmpty, ErrSessionExpired, ErrInvalidCallback,
		ErrInvalidACL, ErrAuthFailed, ErrSessionMoved, ErrNotReadOnly, ErrEphemeralOnLocalSession,
		ErrNoWatcher, ErrRequestTimeout, ErrReconfigDisabled, ErrSessionClosedRequireSasl,
		ErrQuotaExceeded, ErrThrottledOp}
	want := []int32{-1, -2, -3, -4, -5, -6, -7, -8, -12, -13, -14, -100, -101, -102, -103, -108, -110,
		-111, -112, -113, -114, -115, -118, -119, -120, -121, -122, -123, -124, -125, -127}
	require.Len(t, codes, len(want))
	for i, c := range codes {
		require.Equal(t, want[i], c.Code())
		require.NotContains(t, c.Error(), "unknown error", "every docs/ZOOKEEPER.md §7 code has a name")
	}
}

// bare drops the ACLs from changes, for tests about types and paths.
func bare(changes []Change) []Change {
	out := make([]Change, len(changes))
	for i, c := range changes {
		out[i] = Change{Type: c.Type, Path: c.Path}
	}
	return out
}

func TestChangesCarryTheACLThatGuardsTheirEvents(t *testing.T) {
	tr := NewTree()
	secret := DigestACL(PermAll, "u", "p")
	open := WorldACL(PermAll)
	c := Caller{Session: 1}
	_, changes, err := tr.Create(c, 1, 0, "/p", nil, open, 0)
	require.NoError(t, err)
	_, changes, err = tr.Create(c, 2, 0, "/p/s", nil, secret, 0)
	require.NoError(t, err)
	require.Equal(t, []Change{
		{Type: EventNodeCreated, Path: "/p/s", ACL: secret},
		{Type: EventNodeChildrenChanged, Path: "/p", ACL: open},
	}, changes)
	changes, err = tr.Delete(c, 3, "/p/s", -1)
	require.NoError(t, err)
	require.Equal(t, secret, changes[0].ACL, "a deleted node's event is guarded by its own ACL")
	require.Equal(t, open, changes[1].ACL, "the parent's event by the parent's")
}
