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

// benchClient is a world with a server and one connected client over 16
// znodes, for the one-request-at-a-time benchmarks below.
func benchClient(b *testing.B) (*sim.World, *Client, []string) {
	b.Helper()
	w := sim.New(sim.Options{Seed: 1, Trace: sim.TraceOff, MaxEvents: 1 << 62, MaxTime: 1 << 62})
	srv := NewServer(w, "zk", ServerConfig{})
	p := w.AddProcess("client", sim.ProcessHooks{})
	c := Connect(w, p, []sim.ProcID{srv.ID()}, ClientConfig{SessionTimeout: 10 * sim.Second})
	w.RunFor(100 * sim.Millisecond)
	paths := make([]string, 16)
	for i := range paths {
		paths[i] = fmt.Sprintf("/bench-%02d", i)
		c.Create(paths[i], []byte("v"), 0, WorldACL(PermAll), func(string, error) {})
	}
	w.RunFor(100 * sim.Millisecond)
	return w, c, paths
}

// benchOneAtATime issues b.N requests through the whole stack, each after the
// previous one's reply, and reports wall-clock ops/s and the virtual time one
// round trip takes (latency plus the server's read, write and fsync costs).
func benchOneAtATime(b *testing.B, issue func(c *Client, path string, done func())) {
	w, c, paths := benchClient(b)
	issued, done := 0, 0
	var next func()
	next = func() {
		if issued < b.N {
			issued++
			issue(c, paths[issued%len(paths)], func() { done++; next() })
		}
	}
	start := w.Now()
	b.ReportAllocs()
	b.ResetTimer()
	next()
	for done < b.N {
		if !w.Step() {
			b.Fatalf("world stopped after %d of %d replies", done, b.N)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(w.Now().Sub(start))/float64(b.N), "virtual-ns/op")
}

// BenchmarkClientGet: one getData at a time through client, network and server.
func BenchmarkClientGet(b *testing.B) {
	benchOneAtATime(b, func(c *Client, path string, done func()) {
		c.Get(path, func([]byte, *Stat, error) { done() })
	})
}

// BenchmarkClientSet: one setData at a time (each waits for its fsync).
func BenchmarkClientSet(b *testing.B) {
	data := []byte("value")
	benchOneAtATime(b, func(c *Client, path string, done func()) {
		c.Set(path, data, -1, func(*Stat, error) { done() })
	})
}

// BenchmarkClientMulti: one multi at a time of a version check and a setData,
// the shape of Kafka's controller writes (a check of /controller_epoch's
// version, then the partition state; any version here, so none fails).
func BenchmarkClientMulti(b *testing.B) {
	data := []byte("value")
	benchOneAtATime(b, func(c *Client, path string, done func()) {
		ops := []Op{&CheckVersionRequest{Path: "/bench-00", Version: -1}, &SetDataRequest{Path: path, Data: data, Version: -1}}
		c.Multi(ops, func([]MultiResponse, error) { done() })
	})
}
