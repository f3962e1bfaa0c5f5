package rpc

import (
	"errors"
	"strconv"

	"github.com/kzsim/kzsim/sim"
)

// Payload is what a request, a response or a notification carries.
type Payload interface {
	// Kind names the payload's type ("Metadata", "LeaderAndIsr"): a Server
	// dispatches requests by it, and the trace shows it.
	Kind() string
	// String describes the payload deterministically (no pointers, no map
	// order): it goes into the trace.
	String() string
	// Clone returns a deep copy that shares no mutable memory with the
	// receiver: every slice, map and pointer copied. A payload that nobody
	// changes once it is sent (an immutable value, whose sender made its
	// contents its own beforehand) may return itself: it shares no mutable
	// memory with anyone.
	Clone() Payload
}

// Trace record kinds written by this package (through sim.World.Emit). Label
// is the payload's kind; the "id" attribute is the correlation id, "err" or
// "error" the failure.
const (
	KindRequest = "rpc.request" // a client sent a request
	KindQueued  = "rpc.queued"  // a request waits for a free in-flight slot
	KindAnswer  = "rpc.answer"  // a client got the response (or remote error)
	KindTimeout = "rpc.timeout" // a request timed out at the client
	KindLate    = "rpc.late"    // a response came after its request timed out; dropped
	KindFail    = "rpc.fail"    // a request failed: connection lost, client closed, queue full
	KindRespond = "rpc.respond" // a server answered a request
)

// Defaults for a ClientConfig left zero.
const (
	// DefaultTimeout is Kafka's request.timeout.ms default (30 s).
	DefaultTimeout = 30 * sim.Second
	// DefaultMaxInFlight is Kafka's max.in.flight.requests.per.connection
	// default (5).
	DefaultMaxInFlight = 5
	// DefaultMaxQueued bounds the requests waiting beyond MaxInFlight.
	DefaultMaxQueued = 1024
)

// NoTimeout, as a request timeout, makes the request wait until it is
// answered or its connection breaks, as ZooKeeper's requests do (the client
// bounds the wait with its session's read timeout instead). It sets no timer.
const NoTimeout sim.Duration = -1

// Errors a request's callback can get.
var (
	// ErrTimeout: no response within the request's timeout. The server may
	// still have acted on it.
	ErrTimeout = errors.New("rpc: request timed out")
	// ErrConnection: the connection broke with the request pending; the
	// server may or may not have acted on it. The error also wraps the
	// kernel's reason (sim.ErrPeerCrashed, sim.ErrPartitioned, ...).
	ErrConnection = errors.New("rpc: connection lost")
	// ErrClosed: the client was closed with the request pending, or before
	// the call.
	ErrClosed = errors.New("rpc: client closed")
	// ErrTooManyRequests: MaxInFlight requests are in flight and MaxQueued
	// more are waiting.
	ErrTooManyRequests = errors.New("rpc: too many outstanding requests")
)

// RemoteError is a failure the server reported for a request (Request.Fail,
// or no handler for its kind), carried back as text.
type RemoteError struct {
	Msg string
}

// Error returns the server's message, marked as remote.
func (e *RemoteError) Error() string { return "rpc: remote: " + e.Msg }

type frameKind uint8

const (
	frameRequest frameKind = iota + 1
	frameResponse
	frameError
	frameNotify
)

var frameNames = [...]string{frameRequest: "request", frameResponse: "response", frameError: "error", frameNotify: "notify"}

// frame is what travels on the connection: the sim.Message of this layer.
type frame struct {
	kind    frameKind
	id      uint64
	payload Payload // for frameError, an errorText
}

// errorText carries a RemoteError's message in a frameError.
type errorText string

func (e errorText) Kind() string   { return "error" }
func (e errorText) String() string { return string(e) }
func (e errorText) Clone() Payload { return e }

// String renders the frame for the trace: "request 7 Metadata{...}".
func (f *frame) String() string {
	// One allocation: every message is formatted for the trace hash.
	var num [20]byte
	id := strconv.AppendUint(num[:0], f.id, 10)
	if f.payload == nil {
		return frameNames[f.kind] + " " + string(id)
	}
	return frameNames[f.kind] + " " + string(id) + " " + f.payload.String()
}

// plantShare is a planted bug for tests: payloads cross the boundary
// uncopied, as live pointers.
var plantShare bool

func clone(p Payload, what string) Payload {
	if p == nil {
		panic("rpc: nil payload for " + what)
	}
	if plantShare {
		return p
	}
	c := p.Clone()
	if c == nil {
		panic("rpc: " + p.Kind() + ".Clone returned nil")
	}
	return c
}
