package fakezk

// View is a read-only snapshot of a server's tree at one moment, for invariants and tools that
// explain a run. It is taken in O(1) through the tree's copy-on-write Clone: the server's later writes
// copy what they change and never show in the view. Nothing a View returns aliases the server's
// state: data and child names are copies, so a View cannot be used to change the server.
//
// A View reads as the server's own observer, with no ACL checks. Taking one makes the server's next
// write to each node (and each btree node) copy it once, so take a View when it is needed, not after
// every step.
type View struct {
	t    *Tree
	zxid int64
}

// View returns a read-only snapshot of the tree and the last zxid, as they are now.
func (s *Server) View() View { return View{t: s.tree.Clone(), zxid: s.zxid} }

// ViewOf returns a read-only snapshot of t as it is now.
func ViewOf(t *Tree) View { return View{t: t.Clone()} }

// Zxid returns the last zxid the server had committed when the view was taken (0 for ViewOf).
func (v View) Zxid() int64 { return v.zxid }

// Len returns the number of znodes.
func (v View) Len() int { return v.t.Len() }

// Get returns a copy of the data of path, its Stat, and whether it exists.
func (v View) Get(path string) ([]byte, Stat, bool) {
	n := v.t.lookup(path)
	if n == nil {
		return nil, Stat{}, false
	}
	return cloneBytes(n.data), n.stat(), true
}

// Exists returns the Stat of path and whether it exists.
func (v View) Exists(path string) (Stat, bool) { return v.t.Exists(path) }

// Children returns the names of path's children, sorted, its Stat, and whether it exists.
func (v View) Children(path string) ([]string, Stat, bool) {
	names, st, err := v.t.Children(Caller{Identities: superIdentity}, path)
	return names, st, err == nil
}

// Walk calls fn for every node in path order (depth-first, children by name, from "/") until fn returns
// false. data is a copy.
func (v View) Walk(fn func(path string, data []byte, st Stat) bool) {
	v.t.Walk(func(path string, data []byte, st Stat) bool {
		return fn(path, cloneBytes(data), st)
	})
}

// EphemeralsOf returns the paths of the ephemerals session owns, sorted.
func (v View) EphemeralsOf(session int64) []string { return v.t.Ephemerals(session) }

var superIdentity = []Identity{{Scheme: "super"}}

// cloneBytes copies b, keeping nil as nil and empty as empty (clients tell them apart).
func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
