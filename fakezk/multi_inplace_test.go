package fakezk

import (
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// multiOutcome is everything a multi produces, for comparing the in-place and clone paths.
type multiOutcome struct {
	Results    []MultiResponse
	Changes    []Change
	Err        error
	Tree       []nodeSnap
	Ephemerals [][]string
	Containers []string
	Log        []logOp
}

func runMulti(tr *Tree, c Caller, zxid, timeMs int64, ops []Op, inPlace bool) multiOutcome {
	var log []logOp
	tr.rec = &log
	res, changes, err := tr.multi(c, zxid, timeMs, ops, inPlace)
	tr.rec = nil
	if len(log) == 0 {
		log = nil // a failed clone-path multi truncates to empty
	}
	out := multiOutcome{Results: res, Changes: changes, Err: err, Tree: snapshot(tr), Log: log}
	for _, mc := range modelCallers {
		out.Ephemerals = append(out.Ephemerals, tr.Ephemerals(mc.Session))
	}
	out.Containers = tr.EmptyContainers()
	return out
}

// drawMultiPaths draws paths from a small alphabet, so that ops often hit existing nodes and each
// other's parents.
func drawMultiPath(t *rapid.T, label string) string {
	return rapid.SampledFrom([]string{"/a", "/b", "/c", "/a/x", "/a/y", "/b/x", "/a/x/z", "/zookeeper", "//a", "/"}).Draw(t, label)
}

func drawMultiOp(t *rapid.T) Op {
	path, version := drawMultiPath(t, "path"), rapid.Int32Range(-1, 2).Draw(t, "version")
	data := drawData(t)
	switch rapid.IntRange(0, 3).Draw(t, "op") {
	case 0:
		return &CreateRequest{Path: path, Data: data, Acl: rapid.SampledFrom(modelACLs).Draw(t, "acl"),
			Flags: rapid.SampledFrom([]int32{0, 0, 1, 2, 3, 4, 7}).Draw(t, "flags")}
	case 1:
		return &SetDataRequest{Path: path, Data: data, Version: version}
	case 2:
		return &DeleteRequest{Path: path, Version: version}
	default:
		return &CheckVersionRequest{Path: path, Version: version}
	}
}

// TestMultiInPlaceMatchesClone runs random multis on random trees both ways, in place where
// independentOps allows and always through a clone, and requires identical results, Changes, trees,
// indexes and log records.
func TestMultiInPlaceMatchesClone(t *testing.T) {
	inPlace, total := 0, 0
	rapid.Check(t, func(t *rapid.T) {
		tr := NewTree()
		zxid := int64(0)
		// A random tree: writes from random sessions, errors ignored.
		for range rapid.IntRange(0, 12).Draw(t, "setup") {
			zxid++
			c := rapid.SampledFrom(modelCallers).Draw(t, "caller")
			_, _, _ = tr.multi(c, zxid, zxid*10, []Op{drawMultiOp(t)}, false)
		}
		// Share some nodes with a clone, so that in-place writes must copy them.
		if rapid.Bool().Draw(t, "cloned") {
			_ = tr.Clone()
		}
		ops := make([]Op, rapid.IntRange(1, 5).Draw(t, "ops"))
		for i := range ops {
			ops[i] = drawMultiOp(t)
		}
		c := rapid.SampledFrom(modelCallers).Draw(t, "caller")
		total++
		if independentOps(ops) {
			inPlace++
		}
		a, b := tr.Clone(), tr.Clone()
		got := runMulti(a, c, zxid+1, 4242, ops, true)
		want := runMulti(b, c, zxid+1, 4242, ops, false)
		require.Equal(t, want, got)
		// Both trees keep working the same afterwards.
		next := []Op{drawMultiOp(t)}
		require.Equal(t, runMulti(b, c, zxid+2, 4343, next, false), runMulti(a, c, zxid+2, 4343, next, false))
		require.Equal(t, snapshot(tr), snapshot(tr.Clone()), "the original is untouched")
	})
	require.Greater(t, inPlace, total/10, "the in-place path must be exercised (%d of %d)", inPlace, total)
}

// TestIndependentOps pins which multis go in place.
func TestIndependentOps(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []Op
		want bool
	}{
		{"check and set on distinct paths", []Op{&CheckVersionRequest{Path: "/c"}, &SetDataRequest{Path: "/a"}}, true},
		{"creates under one parent", []Op{&CreateRequest{Path: "/a/x"}, &CreateRequest{Path: "/a/y"}, &DeleteRequest{Path: "/a/z"}}, true},
		{"set then check of one path", []Op{&SetDataRequest{Path: "/a"}, &CheckVersionRequest{Path: "/a"}}, false},
		{"create then set of one path", []Op{&CreateRequest{Path: "/a"}, &SetDataRequest{Path: "/a"}}, false},
		{"create under a created node", []Op{&CreateRequest{Path: "/a"}, &CreateRequest{Path: "/a/x"}}, false},
		{"delete a parent of a later op", []Op{&SetDataRequest{Path: "/a"}, &DeleteRequest{Path: "/a/x"}}, false},
		{"create the parent of an earlier op", []Op{&DeleteRequest{Path: "/a/x"}, &DeleteRequest{Path: "/a"}}, false},
		{"sequential create", []Op{&CreateRequest{Path: "/a/s", Flags: FlagSequence}}, false},
		{"nil op", []Op{(*SetDataRequest)(nil)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, independentOps(tc.ops))
		})
	}
}

// TestMultiInPlaceOnDependentOpsDiverges plants the bug the independence check exists for: applying a
// dependent multi in place (create, then setData of the same node) fails where the clone path
// succeeds, and the differential comparison sees it.
func TestMultiInPlaceOnDependentOpsDiverges(t *testing.T) {
	ops := []Op{&CreateRequest{Path: "/a", Acl: openACL}, &SetDataRequest{Path: "/a", Data: []byte("x"), Version: 0}}
	require.False(t, independentOps(ops))
	want := runMulti(NewTree(), bob, 1, 0, ops, false)
	require.NoError(t, want.Err)
	tr := NewTree()
	res, _, err := tr.multiInPlace(bob, 1, 0, ops, make([]MultiResponse, len(ops)))
	require.Equal(t, ErrNoNode, err, "in place, the setData is checked before the create applies")
	require.NotEqual(t, want.Results, res)
}
