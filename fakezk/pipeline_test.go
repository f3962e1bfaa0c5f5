package fakezk

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/sim"
)

func TestPipelineSendsEverythingBeforeAnyReply(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", sim.Second)
	acl := WorldACL(PermAll)
	start := e.w.Now()
	var got []Response
	var doneAt sim.Time
	e.await(func(done func()) {
		c.Pipeline([]Request{
			&CreateRequest{Path: "/a", Data: []byte("1"), Acl: acl},
			&CreateRequest{Path: "/a/b", Acl: acl, Flags: FlagEphemeral},
			&SetDataRequest{Path: "/a", Data: []byte("2"), Version: 0},
			&GetDataRequest{Path: "/a"},
			&ExistsRequest{Path: "/nope"},
			&GetChildrenRequest{Path: "/a"},
			&DeleteRequest{Path: "/a", Version: -1},
		}, func(r []Response) { got, doneAt = r, e.w.Now(); done() })
	})
	require.Len(t, got, 7)
	assert.Equal(t, "/a", got[0].Path)
	assert.Equal(t, "/a/b", got[1].Path)
	assert.Equal(t, int32(1), got[2].Stat.Version)
	assert.Equal(t, "2", string(got[3].Data), "FIFO: the read sees the earlier write")
	assert.False(t, got[4].Exists)
	assert.Equal(t, []string{"b"}, got[5].Children)
	assert.Equal(t, ErrNotEmpty, got[6].Err)
	// One round trip plus the server's work, not seven round trips.
	assert.Less(t, doneAt.Sub(start), 6*sim.Millisecond)
}

func TestEmptyPipeline(t *testing.T) {
	e := newEnv(t)
	c := e.client("c", sim.Second)
	called := false
	e.await(func(done func()) { c.Pipeline(nil, func(r []Response) { called = len(r) == 0; done() }) })
	assert.True(t, called)
}
