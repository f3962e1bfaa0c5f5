package rpc

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/sim"
)

// A worked example: a fake Kafka Metadata request (after Kafka's
// MetadataRequest/MetadataResponse), whose response carries each
// partition's ISR as a slice, so Clone must copy it.
type metadataRequest struct {
	Topics []string
}

func (r *metadataRequest) Kind() string   { return "Metadata" }
func (r *metadataRequest) String() string { return fmt.Sprintf("Metadata%v", r.Topics) }
func (r *metadataRequest) Clone() Payload { return &metadataRequest{Topics: slices.Clone(r.Topics)} }

type partitionMetadata struct {
	Topic     string
	Partition int32
	Leader    int32
	ISR       []int32
}

type metadataResponse struct {
	Partitions []partitionMetadata
}

func (r *metadataResponse) Kind() string   { return "Metadata" }
func (r *metadataResponse) String() string { return fmt.Sprintf("Metadata%v", r.Partitions) }
func (r *metadataResponse) Clone() Payload {
	c := &metadataResponse{Partitions: slices.Clone(r.Partitions)}
	for i := range c.Partitions {
		c.Partitions[i].ISR = slices.Clone(c.Partitions[i].ISR)
	}
	return c
}

// text is a payload of any kind with a string body.
type text struct{ kind, body string }

func (t *text) Kind() string   { return t.kind }
func (t *text) String() string { return t.kind + "(" + t.body + ")" }
func (t *text) Clone() Payload { c := *t; return &c }

type rig struct {
	w      *sim.World
	mem    *sim.MemorySink
	client sim.ProcID
	server sim.ProcID
	srv    *Server
}

func newRig(t *testing.T, cfg ServerConfig) *rig {
	t.Helper()
	mem := &sim.MemorySink{}
	w := sim.New(sim.Options{Seed: 1, Sinks: []sim.Sink{mem}})
	r := &rig{w: w, mem: mem, client: w.AddProcess("client", sim.ProcessHooks{}), server: w.AddProcess("server", sim.ProcessHooks{})}
	r.srv = NewServer(w, r.server, cfg)
	r.srv.Listen()
	return r
}

// at runs fn as an event of p at time t.
func (r *rig) at(p sim.ProcID, t sim.Duration, fn func()) { r.w.At(p, sim.Time(t), "test", fn) }

func (r *rig) kinds(prefix string) []string {
	var out []string
	for _, rec := range r.mem.All() {
		if len(rec.Kind) >= len(prefix) && rec.Kind[:len(prefix)] == prefix {
			out = append(out, rec.Kind+" "+rec.Label+" "+rec.Detail())
		}
	}
	return out
}

func TestMetadataRoundTripCopiesAtTheBoundary(t *testing.T) {
	r := newRig(t, ServerConfig{})
	isr := []int32{1, 2, 3}
	var served []string
	r.srv.Handle("Metadata", func(req *Request) {
		served = req.Payload().(*metadataRequest).Topics
		resp := &metadataResponse{Partitions: []partitionMetadata{{Topic: "t", Partition: 0, Leader: 1, ISR: isr}}}
		req.Respond(resp)
		isr[0] = 99 // the leader shrinks its ISR after answering: the client must not see it
	})
	var got *metadataResponse
	returned := false
	r.at(r.client, 0, func() {
		c := Dial(r.w, r.client, r.server, ClientConfig{})
		topics := []string{"t"}
		c.Call(&metadataRequest{Topics: topics}, func(resp Payload, err error) {
			require.NoError(t, err)
			require.True(t, returned, "the callback runs after Call returned, as an event")
			got = resp.(*metadataResponse)
		})
		returned = true
		topics[0] = "changed after send"
	})
	r.w.Run()
	require.NotNil(t, got)
	assert.Equal(t, []string{"t"}, served, "the server never sees the client's later change")
	assert.Equal(t, []int32{1, 2, 3}, got.Partitions[0].ISR, "the client never sees the server's later change")
	got.Partitions[0].ISR[1] = 42
	assert.Equal(t, int32(2), isr[1], "nor does the server see the client's")
	assert.Equal(t, []string{
		"rpc.request Metadata id=1",
		"rpc.respond Metadata id=1",
		"rpc.answer Metadata id=1",
	}, r.kinds("rpc."))
}

func TestCallbacksRunAsEventsOfTheClientProcess(t *testing.T) {
	r := newRig(t, ServerConfig{})
	r.srv.Handle("echo", func(req *Request) { req.Respond(req.Payload()) })
	var answeredAt sim.Time = -1
	r.at(r.client, 0, func() {
		c := Dial(r.w, r.client, r.server, ClientConfig{})
		c.Call(&text{"echo", "x"}, func(Payload, error) { answeredAt = r.w.Now() })
		r.w.Pause(r.client)
	})
	r.w.At(sim.Kernel, sim.Time(50*sim.Millisecond), "resume", func() { r.w.Resume(r.client) })
	r.w.Run()
	assert.Equal(t, sim.Time(50*sim.Millisecond), answeredAt, "a paused client hears the answer when it resumes")
}

func TestServerAnswersLater(t *testing.T) {
	r := newRig(t, ServerConfig{})
	r.srv.Handle("slow", func(req *Request) {
		r.w.After(r.server, 40*sim.Millisecond, "work", func() { req.Respond(&text{"slow", "done"}) })
	})
	var at sim.Time
	var body string
	r.at(r.client, 0, func() {
		Dial(r.w, r.client, r.server, ClientConfig{}).Call(&text{"slow", "?"}, func(p Payload, err error) {
			require.NoError(t, err)
			at, body = r.w.Now(), p.(*text).body
		})
	})
	r.w.Run()
	assert.Equal(t, "done", body)
	assert.Equal(t, sim.Time(42*sim.Millisecond), at, "1ms there, 40ms of work, 1ms back")
}

func TestTimeoutFailsTheRequestAndDropsTheLateReply(t *testing.T) {
	r := newRig(t, ServerConfig{})
	r.srv.Handle("slow", func(req *Request) {
		r.w.After(r.server, 100*sim.Millisecond, "work", func() { req.Respond(&text{"slow", "late"}) })
	})
	var errs []error
	var at sim.Time
	r.at(r.client, 0, func() {
		c := Dial(r.w, r.client, r.server, ClientConfig{MaxInFlight: 1})
		c.CallTimeout(&text{"slow", "1"}, 10*sim.Millisecond, func(p Payload, err error) {
			errs = append(errs, err)
			at = r.w.Now()
		})
		// Queued behind the first; its slot frees at the timeout.
		c.CallTimeout(&text{"slow", "2"}, sim.Second, func(p Payload, err error) { errs = append(errs, err) })
	})
	r.w.Run()
	require.Len(t, errs, 2)
	assert.ErrorIs(t, errs[0], ErrTimeout)
	assert.Equal(t, sim.Time(10*sim.Millisecond), at)
	assert.NoError(t, errs[1])
	assert.Equal(t, []string{
		"rpc.request slow id=1",
		"rpc.queued slow id=2",
		"rpc.timeout slow id=1",
		"rpc.request slow id=2",
		"rpc.respond slow id=1",
		"rpc.late slow id=1",
		"rpc.respond slow id=2",
		"rpc.answer slow id=2",
	}, r.kinds("rpc."))
}

func TestBrokenConnectionFailsEveryPendingRequest(t *testing.T) {
	var serverSaw error
	r := newRig(t, ServerConfig{OnClose: func(sc *ServerConn, err error) { serverSaw = err }})
	r.srv.Handle("hang", func(req *Request) {})
	var failed []string
	var closedWith error
	var c *Client
	r.at(r.client, 0, func() {
		c = Dial(r.w, r.client, r.server, ClientConfig{MaxInFlight: 2, OnClose: func(err error) {
			closedWith = err
			failed = append(failed, "OnClose")
		}})
		for i := range 3 {
			c.Call(&text{"hang", fmt.Sprint(i)}, func(p Payload, err error) {
				assert.ErrorIs(t, err, ErrConnection)
				assert.ErrorIs(t, err, sim.ErrPartitioned, "the kernel's reason is wrapped")
				failed = append(failed, fmt.Sprint(i))
			})
		}
	})
	r.w.At(sim.Kernel, sim.Time(5*sim.Millisecond), "cut", func() {
		r.w.Partition([]sim.ProcID{r.client}, []sim.ProcID{r.server})
	})
	// A call on the broken client fails too, in an event of its own.
	returned := false
	var late error
	r.at(r.client, sim.Second, func() {
		c.Call(&text{"hang", "after"}, func(p Payload, err error) {
			assert.True(t, returned, "never inside the call")
			late = err
		})
		returned = true
	})
	r.w.Run()
	assert.Equal(t, []string{"0", "1", "2", "OnClose"}, failed, "in id order, queued ones too, then OnClose")
	assert.ErrorIs(t, closedWith, ErrConnection)
	assert.ErrorIs(t, serverSaw, sim.ErrPartitioned)
	assert.ErrorIs(t, c.Err(), ErrConnection)
	assert.Zero(t, c.Pending())
	assert.ErrorIs(t, late, ErrConnection)
}

func TestCloseFailsPendingRequestsAfterTheCall(t *testing.T) {
	r := newRig(t, ServerConfig{})
	r.srv.Handle("hang", func(req *Request) {})
	var order []string
	r.at(r.client, 0, func() {
		c := Dial(r.w, r.client, r.server, ClientConfig{})
		c.Call(&text{"hang", "a"}, func(p Payload, err error) {
			assert.ErrorIs(t, err, ErrClosed)
			order = append(order, "pending failed")
		})
		c.Close()
		order = append(order, "Close returned")
		c.Call(&text{"hang", "b"}, func(p Payload, err error) {
			assert.ErrorIs(t, err, ErrClosed)
			order = append(order, "late call failed")
		})
		order = append(order, "Call returned")
		c.Close()
	})
	r.w.Run()
	assert.Equal(t, []string{"Close returned", "Call returned", "pending failed", "late call failed"}, order)
}

func TestOutstandingRequestsAreBoundedQueuedThenRefused(t *testing.T) {
	r := newRig(t, ServerConfig{})
	atServer, maxAtServer := 0, 0
	r.srv.Handle("work", func(req *Request) {
		atServer++
		maxAtServer = max(maxAtServer, atServer)
		r.w.After(r.server, 10*sim.Millisecond, "work", func() {
			atServer--
			req.Respond(req.Payload())
		})
	})
	var got []string
	r.at(r.client, 0, func() {
		c := Dial(r.w, r.client, r.server, ClientConfig{MaxInFlight: 2, MaxQueued: 2})
		for i := range 5 {
			c.Call(&text{"work", fmt.Sprint(i)}, func(p Payload, err error) {
				if err != nil {
					got = append(got, fmt.Sprintf("%d: %v", i, err))
					return
				}
				got = append(got, p.(*text).body)
			})
		}
		assert.Equal(t, 4, c.Pending())
	})
	r.w.Run()
	assert.Equal(t, []string{"4: " + ErrTooManyRequests.Error(), "0", "1", "2", "3"}, got)
	assert.Equal(t, 2, maxAtServer, "never more than MaxInFlight at the server")
}

func TestNotificationsTravelInOrderWithResponses(t *testing.T) {
	r := newRig(t, ServerConfig{})
	r.srv.Handle("get", func(req *Request) {
		req.Conn().Notify(&text{"watch", "changed"})
		req.Respond(&text{"get", "value"})
	})
	var seen []string
	r.at(r.client, 0, func() {
		c := Dial(r.w, r.client, r.server, ClientConfig{OnNotify: func(p Payload) { seen = append(seen, p.String()) }})
		c.Call(&text{"get", ""}, func(p Payload, err error) { seen = append(seen, p.String()) })
	})
	r.w.Run()
	assert.Equal(t, []string{"watch(changed)", "get(value)"}, seen)
}

func TestServerErrors(t *testing.T) {
	r := newRig(t, ServerConfig{})
	r.srv.Handle("refuse", func(req *Request) { req.Fail(errors.New("not the controller")) })
	var errs []string
	r.at(r.client, 0, func() {
		c := Dial(r.w, r.client, r.server, ClientConfig{})
		for _, k := range []string{"refuse", "nosuch"} {
			c.Call(&text{k, ""}, func(p Payload, err error) {
				var re *RemoteError
				require.ErrorAs(t, err, &re)
				errs = append(errs, re.Msg)
			})
		}
	})
	r.w.Run()
	assert.Equal(t, []string{"not the controller", "no handler for nosuch"}, errs)
}

func TestClientAndServerBelongToTheirIncarnation(t *testing.T) {
	r := newRig(t, ServerConfig{})
	var c *Client
	r.at(r.client, 0, func() { c = Dial(r.w, r.client, r.server, ClientConfig{}) })
	r.w.RunFor(sim.Millisecond)
	r.w.Crash(r.client)
	r.w.Restart(r.client)
	assert.PanicsWithValue(t, "rpc: client of client's incarnation 1 used in incarnation 2", func() {
		c.Call(&text{"x", ""}, func(Payload, error) {})
	})
	r.w.Crash(r.server)
	r.w.Restart(r.server)
	assert.Panics(t, func() { r.srv.Listen() })
}

func TestMisusePanics(t *testing.T) {
	r := newRig(t, ServerConfig{})
	var req *Request
	r.srv.Handle("x", func(q *Request) { req = q; q.Respond(q.Payload()) })
	assert.Panics(t, func() { r.srv.Handle("x", func(*Request) {}) }, "one handler per kind")
	var c *Client
	r.at(r.client, 0, func() {
		c = Dial(r.w, r.client, r.server, ClientConfig{})
		c.Call(&text{"x", ""}, func(Payload, error) {})
	})
	r.w.Run()
	assert.PanicsWithValue(t, "rpc: request 1 (x) answered twice", func() { req.Respond(&text{"x", ""}) })
	assert.Panics(t, func() { c.Call(nil, func(Payload, error) {}) })
	assert.Panics(t, func() { c.CallTimeout(&text{"x", ""}, 0, func(Payload, error) {}) })
	assert.Panics(t, func() { c.Call(&text{"x", ""}, nil) })
}

// TestSharingCheckCatchesAPlantedAlias shows the copy test above can fail: a
// layer that hands the receiver the sender's own payload is caught.
func TestSharingCheckCatchesAPlantedAlias(t *testing.T) {
	plantShare = true
	defer func() { plantShare = false }()
	r := newRig(t, ServerConfig{})
	var served *metadataRequest
	r.srv.Handle("Metadata", func(req *Request) {
		served = req.Payload().(*metadataRequest)
		req.Respond(&metadataResponse{})
	})
	r.at(r.client, 0, func() {
		req := &metadataRequest{Topics: []string{"t"}}
		Dial(r.w, r.client, r.server, ClientConfig{}).Call(req, func(Payload, error) {})
		req.Topics[0] = "changed after send"
	})
	r.w.Run()
	assert.Equal(t, "changed after send", served.Topics[0], "without the copy the server sees the change")
}

func TestSameSeedSameTrace(t *testing.T) {
	run := func() string {
		w := sim.New(sim.Options{Seed: 7, Latency: sim.Uniform(sim.Millisecond, 9*sim.Millisecond)})
		a, b := w.AddProcess("a", sim.ProcessHooks{}), w.AddProcess("b", sim.ProcessHooks{})
		srv := NewServer(w, b, ServerConfig{})
		srv.Handle("echo", func(req *Request) { req.Respond(req.Payload()) })
		srv.Listen()
		w.At(a, 0, "go", func() {
			c := Dial(w, a, b, ClientConfig{MaxInFlight: 3, Timeout: 12 * sim.Millisecond})
			for i := range 20 {
				c.Call(&text{"echo", fmt.Sprint(i)}, func(Payload, error) {})
			}
		})
		w.Run()
		return w.TraceHash()
	}
	assert.Equal(t, run(), run())
}

func TestNoTimeoutWaitsForTheAnswerAndLastReceivedMoves(t *testing.T) {
	r := newRig(t, ServerConfig{OnConnect: func(sc *ServerConn) { sc.SetValue("session 1") }})
	var conn string
	r.srv.Handle("slow", func(req *Request) {
		conn = req.Conn().Value().(string)
		r.w.After(r.server, 2*sim.Minute, "work", func() { req.Respond(&text{"slow", "done"}) })
	})
	var err error = errors.New("no answer")
	var c *Client
	r.at(r.client, 0, func() {
		c = Dial(r.w, r.client, r.server, ClientConfig{Timeout: NoTimeout})
		c.Call(&text{"slow", ""}, func(p Payload, e error) { err = e })
	})
	r.w.RunFor(sim.Minute)
	assert.Equal(t, sim.Time(0), c.LastReceived(), "nothing received yet: the dial time")
	r.w.Run()
	assert.NoError(t, err, "past DefaultTimeout, with no timeout set")
	assert.Equal(t, sim.Time(2*sim.Minute+2*sim.Millisecond), c.LastReceived())
	assert.Equal(t, "session 1", conn)
}

func TestRefusedDialFailsPendingRequests(t *testing.T) {
	w := sim.New(sim.Options{})
	a, b := w.AddProcess("a", sim.ProcessHooks{}), w.AddProcess("b", sim.ProcessHooks{})
	var err error
	w.At(a, 0, "call", func() {
		Dial(w, a, b, ClientConfig{}).Call(&text{"x", ""}, func(p Payload, e error) { err = e })
	})
	w.Run()
	assert.ErrorIs(t, err, ErrConnection)
	assert.ErrorIs(t, err, sim.ErrRefused, "b does not listen")
}

func TestPausedConnectionHoldsRequestsUntilResume(t *testing.T) {
	var conn *ServerConn
	r := newRig(t, ServerConfig{OnConnect: func(sc *ServerConn) { conn = sc }})
	var handled []string
	var reqs []*Request
	r.srv.Handle("work", func(req *Request) {
		body := req.Payload().(*text).body
		handled = append(handled, body)
		reqs = append(reqs, req)
		if body == "0" || body == "2" {
			req.Conn().Pause() // one at a time after these, as a throttled server reads
		}
	})
	var answered []string
	r.at(r.client, 0, func() {
		c := Dial(r.w, r.client, r.server, ClientConfig{})
		for i := range 4 {
			c.Call(&text{"work", fmt.Sprint(i)}, func(p Payload, err error) {
				require.NoError(t, err)
				answered = append(answered, p.(*text).body)
			})
		}
	})
	r.w.RunFor(10 * sim.Millisecond)
	assert.Equal(t, []string{"0"}, handled, "nothing is read past the pause")
	paused, waiting := conn.Paused()
	assert.True(t, paused)
	assert.Equal(t, 3, waiting)
	r.w.At(r.server, sim.Time(20*sim.Millisecond), "resume", func() {
		reqs[0].Respond(&text{"work", "0"})
		conn.Resume()
	})
	r.w.RunFor(10 * sim.Millisecond)
	assert.Equal(t, []string{"0", "1", "2"}, handled, "in order, until a handler pauses again")
	_, waiting = conn.Paused()
	assert.Equal(t, 1, waiting)
	r.w.At(r.server, sim.Time(30*sim.Millisecond), "resume", func() {
		conn.Resume()
		for _, q := range reqs[1:] {
			q.Respond(q.Payload())
		}
	})
	r.w.Run()
	assert.Equal(t, []string{"0", "1", "2", "3"}, handled)
	assert.Equal(t, []string{"0", "1", "2"}, answered[:3])
	paused, waiting = conn.Paused()
	assert.False(t, paused)
	assert.Zero(t, waiting)
}

func TestPausedConnectionThatClosesDropsWhatWaits(t *testing.T) {
	var conn *ServerConn
	r := newRig(t, ServerConfig{OnConnect: func(sc *ServerConn) { conn = sc; sc.Pause() }})
	handled := 0
	r.srv.Handle("work", func(req *Request) { handled++ })
	var errs []error
	r.at(r.client, 0, func() {
		c := Dial(r.w, r.client, r.server, ClientConfig{})
		for range 2 {
			c.Call(&text{"work", ""}, func(p Payload, err error) { errs = append(errs, err) })
		}
	})
	r.w.RunFor(10 * sim.Millisecond)
	_, waiting := conn.Paused()
	assert.Equal(t, 2, waiting)
	r.w.At(r.server, sim.Time(20*sim.Millisecond), "close", func() {
		conn.Close()
		conn.Resume()
	})
	r.w.Run()
	assert.Zero(t, handled, "a closed connection's unread requests are never served")
	require.Len(t, errs, 2)
	assert.ErrorIs(t, errs[0], ErrConnection)
}

// pendingCall is a caller's own record of a request, its own Callback.
type pendingCall struct {
	name string
	got  *[]string
}

func (p *pendingCall) Done(resp Payload, err error) {
	if err != nil {
		*p.got = append(*p.got, p.name+": "+err.Error())
		return
	}
	*p.got = append(*p.got, p.name+": "+resp.String())
}

func TestCallWithACallbackValue(t *testing.T) {
	r := newRig(t, ServerConfig{})
	r.srv.Handle("echo", func(req *Request) { req.Respond(req.Payload()) })
	var got []string
	r.at(r.client, 0, func() {
		c := Dial(r.w, r.client, r.server, ClientConfig{})
		c.CallWith(&text{"echo", "a"}, NoTimeout, &pendingCall{"first", &got})
		c.CallWith(&text{"nosuch", ""}, sim.Second, &pendingCall{"second", &got})
		assert.Panics(t, func() { c.CallWith(&text{"echo", ""}, NoTimeout, nil) })
	})
	r.w.Run()
	assert.Equal(t, []string{"first: echo(a)", "second: rpc: remote: no handler for nosuch"}, got)
}
