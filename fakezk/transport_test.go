package fakezk

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// fakeZK is a ZooKeeper stand-in written directly on rpc: it accepts the
// handshake and holds every later request until it has held two, then
// answers them in the order order gives (indexes into the two).
func fakeZK(w *sim.World, order []int) sim.ProcID {
	p := w.AddProcess("fake-zk", sim.ProcessHooks{})
	srv := rpc.NewServer(w, p, rpc.ServerConfig{})
	srv.Handle(kindConnect, func(r *rpc.Request) {
		r.Respond(&connectResponse{timeout: 4000, sessionID: 1})
	})
	var held []*rpc.Request
	hold := func(r *rpc.Request) {
		if r.Kind() == opPing.String() {
			r.Respond(&reply{op: opPing})
			return
		}
		held = append(held, r)
		if len(held) == len(order) {
			for _, i := range order {
				held[i].Respond(&reply{op: opGetData, data: []byte{byte('a' + i)}})
			}
		}
	}
	srv.Handle(opGetData.String(), hold)
	srv.Listen()
	return p
}

// TestClientChecksRepliesComeInOrder: rpc matches answers by correlation id
// whatever their order, but ZooKeeper answers a connection's requests in
// order and go-zk and ClientCnxn rely on it, so the client checks it: a
// server that answers out of order is caught.
func TestClientChecksRepliesComeInOrder(t *testing.T) {
	run := func(order []int) (got []string) {
		w := sim.New(sim.Options{Seed: 1})
		zk := fakeZK(w, order)
		p := w.AddProcess("c", sim.ProcessHooks{})
		c := Connect(w, p, []sim.ProcID{zk}, ClientConfig{SessionTimeout: 4 * sim.Second})
		w.RunFor(10 * sim.Millisecond)
		require.Equal(t, StateHasSession, c.State())
		for range order {
			c.Get("/x", func(data []byte, _ *Stat, err error) {
				require.NoError(t, err)
				got = append(got, string(data))
			})
		}
		w.RunFor(10 * sim.Millisecond)
		return got
	}
	assert.Equal(t, []string{"a", "b"}, run([]int{0, 1}), "in order: answered")
	assert.PanicsWithValue(t, "fakezk: answer to getData out of order: ZooKeeper answers a connection's requests in order",
		func() { run([]int{1, 0}) })
}

// TestRequestsTravelAsRPCs: the handshake, reads, writes, pings and watch
// events go through the rpc layer, as requests with correlation ids and a
// notification, and the trace shows them so.
func TestRequestsTravelAsRPCs(t *testing.T) {
	mem := &sim.MemorySink{}
	w := sim.New(sim.Options{Seed: 1, Sinks: []sim.Sink{mem}})
	srv := NewServer(w, "zk", ServerConfig{})
	p := w.AddProcess("c", sim.ProcessHooks{})
	c := Connect(w, p, []sim.ProcID{srv.ID()}, ClientConfig{SessionTimeout: 3 * sim.Second})
	w.RunFor(10 * sim.Millisecond)
	fired := false
	c.ExistsW("/a", func(bool, *Stat, error) {}, func(Event) { fired = true })
	c.Create("/a", nil, 0, WorldACL(PermAll), func(string, error) {})
	w.RunFor(2 * sim.Second) // a ping goes out after a third of the timeout
	require.True(t, fired)
	var seen []string
	for _, r := range mem.All() {
		if r.Kind == rpc.KindRequest || r.Kind == rpc.KindAnswer {
			seen = append(seen, r.Kind+" "+r.Label+" "+r.Detail())
		}
	}
	require.GreaterOrEqual(t, len(seen), 8)
	assert.Equal(t, []string{
		"rpc.request connect id=1", "rpc.answer connect id=1",
		"rpc.request exists id=2", "rpc.request create id=3",
		"rpc.answer exists id=2", "rpc.answer create id=3",
		"rpc.request ping id=4", "rpc.answer ping id=4",
	}, seen[:8])
}
