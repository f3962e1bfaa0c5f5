package rpc

import (
	"testing"

	"github.com/kzsim/kzsim/sim"
)

// BenchmarkRPCRoundTrip measures one request and its response end to end
// with the trace off: the Call (copy, correlation id, timeout timer), the
// request's send and delivery, the server's dispatch and Respond (copy), the
// response's send and delivery, and the callback.
func BenchmarkRPCRoundTrip(b *testing.B) {
	w := sim.New(sim.Options{Trace: sim.TraceOff, MaxEvents: 1 << 62, MaxTime: 1 << 62})
	client, server := w.AddProcess("client", sim.ProcessHooks{}), w.AddProcess("server", sim.ProcessHooks{})
	srv := NewServer(w, server, ServerConfig{})
	srv.Handle("echo", func(req *Request) { req.Respond(req.Payload()) })
	srv.Listen()
	c := Dial(w, client, server, ClientConfig{})
	req := &text{"echo", "ping"}
	answered := 0
	done := func(p Payload, err error) {
		if err != nil {
			b.Fatal(err)
		}
		answered++
	}
	// Let the connection come up first.
	for w.Step() {
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c.Call(req, done)
		for answered <= i {
			if !w.Step() {
				b.Fatal("no answer")
			}
		}
	}
}
