package fakezk

import "github.com/kzsim/kzsim/sim"

// The JavaClient mode: ZooKeeper 3.8's Java client as a watcher and a
// callback see it, after ClientCnxn.java (SendThread.run, startConnect,
// cleanup, onConnected, queuePacket, conLossPacket, EventThread.queueEvent),
// ClientCnxnSocketNIO.java (cleanup) and client/StaticHostProvider.java
// (next). Only its timing and its answers are modelled, not its threads.

// ClientCnxn's constants.
const (
	javaCleanupSleep   = 100 * sim.Millisecond // ClientCnxnSocketNIO.cleanup sleeps after closing the socket
	javaSpinDelay      = sim.Second            // hostProvider.next(1000): once every server was tried
	javaMaxBackoff     = 1000                  // startConnect: nextLong(1000) ms, except before the first connection
	javaMaxPingIdle    = 10 * sim.Second       // MAX_SEND_PING_INTERVAL
	javaPingRaceMargin = sim.Second            // "1000 is to prevent race condition missing to send the second ping"
)

// javaEvent delivers a session state to the default watcher unless it is
// the state delivered last (EventThread.queueEvent drops a repeated state,
// so an outage gives one Disconnected however many attempts fail).
func (c *Client) javaEvent(s State) {
	if s == c.javaState {
		return
	}
	c.javaState = s
	c.event(Event{Type: EventSession, State: s})
}

// javaTimeouts returns ClientCnxn's readTimeout (2/3 of the session
// timeout) and connectTimeout (the session timeout over the number of
// servers), from the negotiated timeout once there is one. Integer
// milliseconds, as ClientCnxn computes them.
func (c *Client) javaTimeouts() (read, connect sim.Duration) {
	t := c.timeout
	if t == 0 {
		t = c.cfg.SessionTimeout
	}
	ms := int64(t / sim.Millisecond)
	read = sim.Duration(ms*2/3) * sim.Millisecond
	connect = sim.Duration(ms/int64(len(c.hosts.servers))) * sim.Millisecond
	return read, connect
}

// javaTick is one turn of SendThread.run's loop, taken whenever ClientCnxn
// would wake (a packet in or out, or the select timeout): a connection
// silent for readTimeout (connectTimeout before the session is
// established) is dropped; an established one pings once it has sent
// nothing for readTimeout/2 (less a second once a second has passed, and at
// least every 10s); then it sleeps until the next of those deadlines.
func (c *Client) javaTick() {
	if c.rc == nil || c.dead() {
		return
	}
	now := c.w.Now()
	read, connect := c.javaTimeouts()
	idleRecv := now.Sub(c.rc.LastReceived())
	limit := connect
	if c.established {
		limit = read
	}
	to := limit - idleRecv
	if to <= 0 {
		// SessionTimeoutException: "Client session timed out, have not heard from server".
		c.hangUp()
		c.lost()
		return
	}
	if c.established {
		idleSend := now.Sub(c.lastSend)
		next := read/2 - idleSend
		if idleSend > javaPingRaceMargin {
			next -= javaPingRaceMargin
		}
		if next <= 0 || idleSend > javaMaxPingIdle {
			c.internalCall(request{op: opPing})
		} else if next < to {
			to = next
		}
	}
	c.w.Cancel(c.recvTimer)
	c.recvTimer = c.w.After(c.self, to, "zk-java-tick", c.javaTick)
}

// javaLost: the connection is gone. ClientCnxn's cleanup closes the socket
// and sleeps 100ms, then fails the requests in flight and those queued with
// ConnectionLoss (in that order; whether they were applied is unknown),
// then the watcher hears Disconnected. getState() still says connected
// until the next attempt starts.
func (c *Client) javaLost() {
	c.w.Cancel(c.attempt)
	c.attempt = c.w.After(c.self, javaCleanupSleep, "zk-java-cleanup", c.javaCleanup)
}

func (c *Client) javaCleanup() {
	if c.final {
		return
	}
	if c.closed {
		c.javaFinishClose()
		return
	}
	c.fail(&c.sent, ErrConnectionLoss)
	c.fail(&c.queued, ErrConnectionLoss)
	c.javaEvent(StateDisconnected)
	c.javaNextAttempt()
}

// javaNextAttempt schedules the next connection attempt:
// StaticHostProvider.next(1000) sleeps 1s once every server has been tried
// since the last connection (with one server: every time), and startConnect
// sleeps a random 0-999ms unless no connection was ever made. With one
// server a reconnect thus comes 1.1-2.1s after the drop.
func (c *Client) javaNextAttempt() {
	server, spin := c.hosts.next()
	var delay sim.Duration
	if spin {
		delay += javaSpinDelay
	}
	if !c.firstConnect {
		delay += sim.Duration(c.rand.Intn(javaMaxBackoff)) * sim.Millisecond
	}
	c.attempt = c.w.After(c.self, delay, "zk-java-connect", func() {
		if c.final || c.closed || c.rc != nil {
			return
		}
		c.server = server
		c.setQuietState(StateConnecting)
		c.dial()
	})
}

// javaHandshake handles the connect response (ClientCnxn.onConnected).
func (c *Client) javaHandshake(m *connectResponse) {
	c.firstConnect = false // set in primeConnection, once the socket is connected
	if m.timeout <= 0 {
		// The session expired: the state becomes CLOSED, the watcher hears
		// Expired and nothing after it (the event thread dies), and the
		// requests waiting fail with SessionExpired. The handle is finished:
		// the application must make a new one. The watches registered on
		// it are dropped (simplified: Java also hands Expired to every
		// registered watcher object; fakezk tells only the EventCallback).
		c.final = true
		c.setQuietState(StateExpired)
		c.javaEvent(StateExpired)
		c.javaShut(ErrSessionExpired)
		return
	}
	c.adopt(m)
	c.setQuietState(StateSyncConnected)
	c.javaEvent(StateSyncConnected)
	// Simplified: ClientCnxn.primeConnection sends setWatches and auth right
	// behind the connect request; fakezk sends them once it is answered.
	c.resume()
}

// javaShut ends the handle for good: the connection, the timers, and every
// request it holds fails with err.
func (c *Client) javaShut(err error) {
	if c.rc != nil {
		c.hangUp()
	}
	c.established = false
	c.w.Cancel(c.recvTimer)
	c.w.Cancel(c.attempt)
	c.fail(&c.sent, err)
	c.fail(&c.queued, err)
	c.fail(&c.held, err)
	clear(c.watchers)
}

// javaClose is ZooKeeper.close(): a closeSession queued behind everything
// already sent (those requests complete normally), then the handle closes
// when it is answered or the connection fails.
func (c *Client) javaClose() {
	if c.final {
		return
	}
	if c.rc != nil && c.established {
		c.sendNow(&call{internal: true, req: request{op: opCloseSession}, done: func(*reply, error) { c.javaFinishClose() }})
		return
	}
	// Simplified: Java's close() would queue the closeSession for the next
	// connection attempt and wait for it; fakezk closes the handle at once.
	c.javaFinishClose()
}

// javaFinishClose: the state is CLOSED, what is left fails with
// SessionExpired (conLossPacket in state CLOSED), and the watcher hears
// Closed (SendThread.run, after its loop).
func (c *Client) javaFinishClose() {
	if c.final {
		return
	}
	c.final = true
	c.setQuietState(StateClosed)
	c.javaShut(ErrSessionExpired)
	c.javaEvent(StateClosed)
}
