package kafkazk

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/sim"
)

// Era selects the form of CreateCheckedEphemeral: how Kafka registered an
// ephemeral that may already exist.
type Era uint8

const (
	// Era22 is Kafka 2.2+ (KafkaZkClient.CheckedEphemeral after KAFKA-7165,
	// commit eb3335ef592): a multi [create with no data, setData at version
	// 0]; on NodeExists read the node: if it is owned by the session of this
	// client's last successful registration and that is not the current
	// session, delete it and create again; if it is owned by the current
	// session it is ours; otherwise fail with NodeExists. The czxid is the
	// broker epoch (KIP-380).
	Era22 Era = iota
	// Era09 is Kafka 0.9–2.1 (ZKCheckedEphemeral, KAFKA-1387; 2.1's
	// CheckedEphemeral): a plain create; on NodeExists the node is ours only
	// if the current session owns it, else NodeExists. After an expiry whose
	// old ephemeral is still in place this fails: KAFKA-7165.
	Era09
	// Era08 is Kafka 0.8.x (ZkUtils.createEphemeralPathExpectConflictHandleZKBug):
	// on NodeExists read the node: identical data is ours; data that
	// Config.SameOwner accepts is taken for an expired session's node, and
	// the create is tried again after a session timeout, without limit;
	// anything else fails with NodeExists. A node the current session made
	// before a ConnectionLoss, with other data, is waited for forever:
	// KAFKA-1387.
	Era08
)

// String returns the era's name.
func (e Era) String() string {
	switch e {
	case Era22:
		return "2.2+"
	case Era09:
		return "0.9-2.1"
	case Era08:
		return "0.8"
	}
	return fmt.Sprintf("Era(%d)", uint8(e))
}

// NoBrokerEpoch is the czxid CreateCheckedEphemeral reports in the eras
// before 2.2, which had no broker epoch (Kafka sends -1 for "none").
const NoBrokerEpoch int64 = -1

// ephemeral is one CreateCheckedEphemeral call in progress.
type ephemeral struct {
	c        *Client
	path     string
	data     []byte
	attempts int
	cb       func(czxid int64, err error)
}

// CreateCheckedEphemeral creates the ephemeral path with data for the
// current session, tolerating a node that is already there as Config.Era
// says, and calls cb with the node's czxid (the broker epoch; NoBrokerEpoch
// before Era22) or the error: fakezk.ErrNodeExists when the node belongs to
// someone else, or another ZooKeeper error (SessionExpired when the session
// ends under it). Each request goes through Handle, so ConnectionLoss is
// retried without limit; the loops of the forms are unbounded too, as in
// Kafka: each turn is a ZooKeeper round trip (or, in Era08, a session
// timeout's sleep), so a run's event budget bounds a livelock.
func (c *Client) CreateCheckedEphemeral(path string, data []byte, cb func(czxid int64, err error)) {
	if cb == nil {
		panic("kafkazk: CreateCheckedEphemeral without a callback")
	}
	e := &ephemeral{c: c, path: path, data: bytes.Clone(data), cb: cb}
	e.create()
}

// LastRegisteredSession returns the session of the last successful checked
// ephemeral creation (-1 before one): what Era22 compares an existing node's
// owner with.
func (c *Client) LastRegisteredSession() int64 { return c.lastRegistered }

func (e *ephemeral) emit(label string, attrs ...sim.Attr) {
	w := e.c.w
	if !w.Tracing() {
		return
	}
	base := []sim.Attr{sim.Str("path", e.path), sim.Str("era", e.c.cfg.Era.String()),
		sim.Hex("session", e.c.SessionID()), sim.Int("attempt", e.attempts)}
	w.Emit(KindEphemeral, e.c.self, label, append(base, attrs...)...)
}

func (e *ephemeral) fail(err error) {
	e.emit("failed", sim.Str("err", err.Error()))
	e.cb(0, fmt.Errorf("kafkazk: checked ephemeral %s: %w", e.path, err))
}

// succeed records the session as the last registration's (2.2+: every era
// keeps it, only Era22 reads it) and reports czxid.
func (e *ephemeral) succeed(label string, czxid int64) {
	e.c.lastRegistered = e.c.SessionID()
	e.emit(label, sim.Hex("czxid", czxid))
	e.cb(czxid, nil)
}

func (e *ephemeral) create() {
	e.attempts++
	acl := fakezk.WorldACL(fakezk.PermAll)
	var req fakezk.Request
	if e.c.cfg.Era == Era22 {
		// 2.2+: create with null data, then setData at version 0, in one
		// multi, so a fresh registration has version 1 (KafkaZkClient
		// 2.6 CheckedEphemeral.create).
		req = &fakezk.MultiRequest{Ops: []fakezk.Op{
			&fakezk.CreateRequest{Path: e.path, Acl: acl, Flags: fakezk.FlagEphemeral},
			&fakezk.SetDataRequest{Path: e.path, Data: e.data, Version: 0},
		}}
	} else {
		req = &fakezk.CreateRequest{Path: e.path, Data: e.data, Acl: acl, Flags: fakezk.FlagEphemeral}
	}
	e.c.Handle([]fakezk.Request{req}, func(rs []fakezk.Response) {
		r := rs[0]
		switch {
		case r.Err == nil && e.c.cfg.Era == Era22:
			e.succeed("created", r.Multi[1].Stat.Czxid)
		case r.Err == nil:
			e.succeed("created", NoBrokerEpoch)
		case errors.Is(r.Err, fakezk.ErrNodeExists):
			e.getAfterNodeExists()
		default:
			e.fail(r.Err)
		}
	})
}

// getAfterNodeExists reads the node that was in the way and decides, by
// era, whose it is.
func (e *ephemeral) getAfterNodeExists() {
	e.c.Handle([]fakezk.Request{&fakezk.GetDataRequest{Path: e.path}}, func(rs []fakezk.Response) {
		r := rs[0]
		switch {
		case errors.Is(r.Err, fakezk.ErrNoNode):
			// It went away while we read it: create again at once (every era).
			// Simplified: Kafka 2.6 reads the response's stat before matching
			// its code, and the Java client hands a null Stat with an error,
			// so there this path would throw instead.
			e.emit("gone")
			e.create()
			return
		case r.Err != nil:
			e.fail(r.Err)
			return
		}
		owner, current := r.Stat.EphemeralOwner, e.c.SessionID()
		switch e.c.cfg.Era {
		case Era22:
			// The order of KafkaZkClient 2.6 getAfterNodeExists.
			last := e.c.lastRegistered
			switch {
			case owner == last && current != last:
				e.emit("recreate", sim.Hex("owner", owner))
				e.reCreate()
			case owner != current:
				e.emit("exists", sim.Hex("owner", owner))
				e.fail(fakezk.ErrNodeExists)
			default:
				e.succeed("own", r.Stat.Czxid)
			}
		case Era09:
			if owner != current {
				e.emit("exists", sim.Hex("owner", owner))
				e.fail(fakezk.ErrNodeExists)
				return
			}
			e.succeed("own", NoBrokerEpoch)
		case Era08:
			switch {
			case bytes.Equal(r.Data, e.data):
				e.succeed("own", NoBrokerEpoch)
			case e.c.cfg.SameOwner != nil && e.c.cfg.SameOwner(r.Data):
				// "I wrote this conflicted ephemeral node ... a while back in
				// a different session, hence I will backoff for this node to
				// be deleted by Zookeeper and retry" (0.8.2 ZkUtils).
				e.emit("wait", sim.Hex("owner", owner), sim.Dur("backoff", e.c.cfg.SessionTimeout))
				e.c.w.After(e.c.self, e.c.cfg.SessionTimeout, "kafka-zk-ephemeral-backoff", e.create)
			default:
				e.emit("exists", sim.Hex("owner", owner))
				e.fail(fakezk.ErrNodeExists)
			}
		default:
			panic(fmt.Sprintf("kafkazk: unknown era %v", e.c.cfg.Era))
		}
	})
}

// reCreate deletes the previous session's node (any version) and creates
// again; NoNode means ZooKeeper removed it meanwhile (KAFKA-7165's
// workaround for ZOOKEEPER-2985).
func (e *ephemeral) reCreate() {
	e.c.Handle([]fakezk.Request{&fakezk.DeleteRequest{Path: e.path, Version: -1}}, func(rs []fakezk.Response) {
		if err := rs[0].Err; err != nil && !errors.Is(err, fakezk.ErrNoNode) {
			e.fail(err)
			return
		}
		e.create()
	})
}
