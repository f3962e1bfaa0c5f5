package fakezk

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/sim"
)

func TestViewDoesNotSeeLaterWrites(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", 4*sim.Second)
	_, err := e.create(c, "/a", 0)
	require.NoError(t, err)
	_, err = e.create(c, "/a/eph", FlagEphemeral)
	require.NoError(t, err)
	v := e.srv.View()
	require.Equal(t, e.srv.Zxid(), v.Zxid())

	_, err = e.set(c, "/a", "changed")
	require.NoError(t, err)
	_, err = e.create(c, "/a/later", 0)
	require.NoError(t, err)
	require.Greater(t, e.srv.Zxid(), v.Zxid())

	data, st, ok := v.Get("/a")
	require.True(t, ok)
	require.Equal(t, "d", string(data), "the view keeps the data from before the setData") // e.create stores "d"
	require.Equal(t, int32(0), st.Version)
	names, pst, ok := v.Children("/a")
	require.True(t, ok)
	require.Equal(t, []string{"eph"}, names)
	require.Equal(t, int32(1), pst.NumChildren)
	_, ok = v.Exists("/a/later")
	require.False(t, ok)
	require.Equal(t, []string{"/a/eph"}, v.EphemeralsOf(c.SessionID()))

	// A new view sees the writes.
	v2 := e.srv.View()
	data, _, _ = v2.Get("/a")
	require.Equal(t, "changed", string(data))
	_, ok = v2.Exists("/a/later")
	require.True(t, ok)
	require.Equal(t, e.srv.Tree().Len(), v2.Len())
}

func TestViewCannotChangeTheServer(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", 4*sim.Second)
	_, err := e.create(c, "/a", 0)
	require.NoError(t, err)
	v := e.srv.View()
	data, _, _ := v.Get("/a")
	data[0] = 'X' // scribble on what the view returned
	v.Walk(func(path string, d []byte, _ Stat) bool {
		if len(d) > 0 {
			d[0] = 'Y'
		}
		return true
	})
	names, _, _ := v.Children("/")
	names[0] = "scribbled"

	got, _, err := e.srv.Tree().Get(bob, "/a")
	require.NoError(t, err)
	require.Equal(t, "d", string(got), "the server's data is untouched")
	again, _, _ := v.Get("/a")
	require.Equal(t, "d", string(again), "and so is the view's")
	require.Equal(t, []string{"a", "zookeeper"}, children(t, e.srv.Tree(), "/"))
}

func TestViewWalkIsInPathOrder(t *testing.T) {
	tr := NewTree()
	for i, p := range []string{"/b", "/a", "/a/z", "/a/b", "/b/a"} {
		mk(t, tr, int64(i+1), p, 0)
	}
	var paths []string
	ViewOf(tr).Walk(func(path string, _ []byte, _ Stat) bool {
		paths = append(paths, path)
		return true
	})
	require.Equal(t, []string{"/", "/a", "/a/b", "/a/z", "/b", "/b/a", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"}, paths)
	_, _, ok := ViewOf(tr).Get("/missing")
	require.False(t, ok)
	_, _, ok = ViewOf(tr).Children("/missing")
	require.False(t, ok)
}
