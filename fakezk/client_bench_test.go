package fakezk

import (
	"fmt"
	"testing"

	"github.com/kzsim/kzsim/sim"
)

// BenchmarkClientPipelined64 measures the whole stack — client library,
// kernel network, server pipeline, tree — on an 80/20 get/set mix over 16
// znodes, with 64 requests outstanding. One op is one request and its reply.
func BenchmarkClientPipelined64(b *testing.B) {
	w := sim.New(sim.Options{Seed: 1, Trace: sim.TraceOff, MaxEvents: 1 << 62, MaxTime: 1 << 62})
	srv := NewServer(w, "zk", ServerConfig{})
	p := w.AddProcess("client", sim.ProcessHooks{})
	c := Connect(w, p, []sim.ProcID{srv.ID()}, ClientConfig{SessionTimeout: 10 * sim.Second})
	w.RunFor(100 * sim.Millisecond)
	const znodes = 16
	paths := make([]string, znodes)
	for i := range paths {
		paths[i] = fmt.Sprintf("/bench-%02d", i)
		c.Create(paths[i], []byte("v"), 0, WorldACL(PermAll), func(string, error) {})
	}
	w.RunFor(100 * sim.Millisecond)
	data := []byte("value")
	issued, done := 0, 0
	var issue func()
	getDone := func([]byte, *Stat, error) { done++; issue() }
	setDone := func(*Stat, error) { done++; issue() }
	issue = func() {
		if issued >= b.N {
			return
		}
		path := paths[issued%znodes]
		if issued%5 == 4 {
			c.Set(path, data, -1, setDone)
		} else {
			c.Get(path, getDone)
		}
		issued++
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < 64; i++ {
		issue()
	}
	for done < b.N {
		if !w.Step() {
			b.Fatalf("world stopped with %d of %d done", done, b.N)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
