package invariants

import (
	"fmt"
	"maps"
	"slices"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/sim"
)

// Names of the ZooKeeper invariants.
const (
	// EphemeralsBelongToLiveSessions: every ephemeral znode is owned by a
	// session the server still has. Broken when a session closes or expires
	// and one of its ephemerals stays, or when an ephemeral is created for a
	// session that is gone.
	EphemeralsBelongToLiveSessions = "ephemerals-belong-to-live-sessions"
	// ZxidsOnlyGrow: each transaction the server commits has a larger zxid
	// than the one before; the durable zxid (of the last transaction on
	// disk) never goes back, and a restart recovers at least to it. A crash
	// may take back transactions whose fsync had not completed (none was
	// acknowledged), and their zxids are then given out again: allowed.
	ZxidsOnlyGrow = "zxids-only-grow"
)

// WatchZooKeeper checks srv's invariants from now on, reporting to c:
// EphemeralsBelongToLiveSessions and ZxidsOnlyGrow. Both are computed from
// the server's commits (fakezk.Server.OnCommit), so a step costs in
// proportion to what it changed, plus O(1) to read the durable zxid and
// notice a restart; the tree is walked once now, and once after each restart
// of the server, whose tree is whatever its disk gave back.
func WatchZooKeeper(c *Checker, srv *fakezk.Server) {
	z := newZKWatch(c, srv)
	srv.OnCommit(z.commit)
	c.w.OnStep(z.step)
}

// zkServer is what the ZooKeeper invariants read of a server (tests plant
// faulty ones).
type zkServer interface {
	ID() sim.ProcID
	Tree() *fakezk.Tree
	SessionAlive(session int64) bool
	Zxid() int64
	DurableZxid() int64
}

func newZKWatch(c *Checker, srv zkServer) *zkWatch {
	z := &zkWatch{c: c, srv: srv}
	z.sweep()
	z.lastZxid, z.durable, z.durableSeen = srv.Zxid(), srv.DurableZxid(), srv.DurableZxid()
	return z
}

// zkWatch is the state of the ZooKeeper invariants: its own index of
// ephemerals by owner, built from the commits and independent of the tree's
// own, so that a tree that loses track of an ephemeral is caught too.
type zkWatch struct {
	c           *Checker
	srv         zkServer
	incarnation uint32
	lastZxid    int64                     // of the last commit, or what a restart recovered
	durable     int64                     // the highest durable zxid seen
	durableSeen int64                     // the durable zxid last seen (a drop is reported once)
	owner       map[string]int64          // ephemeral path -> owning session
	owned       map[int64]map[string]bool // session -> its ephemerals
}

// step, after every event, checks the durable zxid and notices a restart of
// the server: O(1) unless the server restarted.
func (z *zkWatch) step() {
	z.checkDurable()
	z.checkRestart()
}

func (z *zkWatch) checkDurable() {
	d := z.srv.DurableZxid()
	if d < z.durable && d != z.durableSeen {
		z.c.Safety(ZxidsOnlyGrow, "the durable zxid went back from 0x%x to 0x%x", z.durable, d)
	}
	z.durable, z.durableSeen = max(z.durable, d), d
}

// checkRestart: a restarted server has the tree, zxid and sessions its disk
// gave back. They must reach every transaction that was durable; the index
// is rebuilt from the tree.
func (z *zkWatch) checkRestart() {
	if z.c.w.Incarnation(z.srv.ID()) == z.incarnation || !z.c.w.IsUp(z.srv.ID()) {
		return
	}
	if zx := z.srv.Zxid(); zx < z.durable {
		z.c.Safety(ZxidsOnlyGrow, "the server restarted at zxid 0x%x, before its durable zxid 0x%x: it lost transactions it had on disk", zx, z.durable)
	}
	z.lastZxid = z.srv.Zxid()
	z.sweep()
}

// sweep rebuilds the index from the tree and checks every ephemeral's owner.
func (z *zkWatch) sweep() {
	z.incarnation = z.c.w.Incarnation(z.srv.ID())
	z.owner, z.owned = map[string]int64{}, map[int64]map[string]bool{}
	z.srv.Tree().Walk(func(path string, _ []byte, st fakezk.Stat) bool {
		if st.EphemeralOwner != 0 {
			z.add(path, st.EphemeralOwner)
			z.checkOwnerAlive(path, st.EphemeralOwner)
		}
		return true
	})
}

func (z *zkWatch) commit(cm fakezk.Commit) {
	z.checkRestart() // in case the restart's own event commits
	if cm.Zxid <= z.lastZxid {
		z.c.Safety(ZxidsOnlyGrow, "%s for session 0x%x committed at zxid 0x%x, after zxid 0x%x", cm.Kind, cm.Session, cm.Zxid, z.lastZxid)
	}
	z.lastZxid = cm.Zxid
	// A failed write is checked for its zxid only: it changes no node.
	tree := z.srv.Tree()
	for _, ch := range cm.Changes {
		switch ch.Type {
		case fakezk.EventNodeCreated:
			// The tree already reflects the whole transaction: a node that a
			// multi created and deleted again is gone, and its delete follows.
			st, ok := tree.Exists(ch.Path)
			if ok && st.Czxid == cm.Zxid && st.EphemeralOwner != 0 {
				z.add(ch.Path, st.EphemeralOwner)
				z.checkOwnerAlive(ch.Path, st.EphemeralOwner)
			}
		case fakezk.EventNodeDeleted:
			z.remove(ch.Path)
		}
	}
	if cm.Kind == fakezk.CommitCloseSession {
		z.checkClosed(cm.Session)
	}
}

// checkClosed: after a session's close, no ephemeral of it is left, by our
// index or by the tree's.
func (z *zkWatch) checkClosed(session int64) {
	tree := z.srv.Tree()
	left := map[string]bool{}
	for path := range z.owned[session] {
		if st, ok := tree.Exists(path); ok && st.EphemeralOwner == session {
			left[path] = true
		}
	}
	for _, path := range tree.Ephemerals(session) {
		left[path] = true
	}
	for _, p := range slices.Sorted(maps.Keys(left)) {
		if z.c.Once(fmt.Sprintf("%s %s 0x%x", EphemeralsBelongToLiveSessions, p, session)) {
			z.c.Safety(EphemeralsBelongToLiveSessions, "session 0x%x closed but its ephemeral %s is still there", session, p)
		}
	}
}

func (z *zkWatch) checkOwnerAlive(path string, session int64) {
	if z.srv.SessionAlive(session) {
		return
	}
	if z.c.Once(fmt.Sprintf("%s %s 0x%x", EphemeralsBelongToLiveSessions, path, session)) {
		z.c.Safety(EphemeralsBelongToLiveSessions, "%s is owned by session 0x%x, which the server no longer has", path, session)
	}
}

func (z *zkWatch) add(path string, session int64) {
	z.remove(path)
	z.owner[path] = session
	set := z.owned[session]
	if set == nil {
		set = map[string]bool{}
		z.owned[session] = set
	}
	set[path] = true
}

func (z *zkWatch) remove(path string) {
	s, ok := z.owner[path]
	if !ok {
		return
	}
	delete(z.owner, path)
	delete(z.owned[s], path)
	if len(z.owned[s]) == 0 {
		delete(z.owned, s)
	}
}
