package fakezk

// CommitKind says what kind of transaction a Commit is.
type CommitKind uint8

// Commit kinds.
const (
	// CommitCreateSession: a new session (ZooKeeper's createSession txn).
	CommitCreateSession CommitKind = iota + 1
	// CommitCloseSession: a session closed or expired; Changes lists the
	// ephemerals it removed.
	CommitCloseSession
	// CommitWrite: a write request's transaction (create, delete, setData,
	// setACL, multi), applied or failed (a failed write takes a zxid too), or
	// the server's own deleteContainer (Session 0).
	CommitWrite
)

func (k CommitKind) String() string {
	switch k {
	case CommitCreateSession:
		return "createSession"
	case CommitCloseSession:
		return "closeSession"
	case CommitWrite:
		return "write"
	}
	return "commit(?)"
}

// Commit describes one transaction the server has just applied, for
// observers that must see what changed without walking the tree.
type Commit struct {
	Kind    CommitKind
	Zxid    int64
	Session int64 // the session it ran for; 0 for the server's own transactions
	// Changes are the tree changes, in order, as the watches see them
	// (nil for createSession and for a failed write). Valid only during the
	// call.
	Changes []Change
}

// OnCommit registers fn to be called after every transaction the server
// applies, once the tree and the sessions reflect it and before its watches
// fire. fn observes: it must not change the server or the world. Invariants
// use it to check each change as it happens.
func (s *Server) OnCommit(fn func(Commit)) { s.observers = append(s.observers, fn) }

func (s *Server) committed(c Commit) {
	for _, fn := range s.observers {
		fn(c)
	}
}
