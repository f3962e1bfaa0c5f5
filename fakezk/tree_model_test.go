package fakezk

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// This file checks Tree against a deliberately naive model: a map from path to node, with
// children found by scanning the whole map, and every rule written out again straight from docs/ZOOKEEPER.md
// (§4 stats, §6 create modes, §8 check order, §12 triggers). Random operations from several
// sessions on a small path alphabet run against both, and every step compares results, errors,
// changes and then the whole tree.

// mNode is a model znode. creates is the internal create counter; numChildren is never stored.
type mNode struct {
	data                             []byte
	acl                              []ACL
	czxid, mzxid, ctime, mtime, pzxd int64
	version, aversion, creates       int32
	owner                            int64 // ephemeral owner session, 0 otherwise
	container                        bool
}

type model struct {
	nodes map[string]*mNode
}

func newModel() *model {
	m := &model{nodes: map[string]*mNode{}}
	for _, p := range []string{"/", "/zookeeper", "/zookeeper/quota"} {
		m.nodes[p] = &mNode{data: []byte{}, acl: WorldACL(PermAll)}
	}
	m.nodes["/zookeeper/config"] = &mNode{data: []byte{}, acl: WorldACL(PermRead), aversion: -1}
	return m
}

func (m *model) clone() *model {
	c := &model{nodes: map[string]*mNode{}}
	for p, n := range m.nodes {
		cp := *n
		c.nodes[p] = &cp
	}
	return c
}

func mParent(path string) string {
	i := strings.LastIndex(path, "/")
	if i <= 0 {
		return "/"
	}
	return path[:i]
}

func (m *model) childNames(path string) []string {
	var names []string
	for p := range m.nodes {
		if p != "/" && mParent(p) == path {
			names = append(names, p[strings.LastIndex(p, "/")+1:])
		}
	}
	slices.Sort(names)
	return names
}

func (m *model) stat(path string) Stat {
	n := m.nodes[path]
	kids := int32(len(m.childNames(path)))
	return Stat{
		Czxid: n.czxid, Mzxid: n.mzxid, Ctime: n.ctime, Mtime: n.mtime,
		Version: n.version, Cversion: 2*n.creates - kids, Aversion: n.aversion,
		EphemeralOwner: n.owner, DataLength: int32(len(n.data)), NumChildren: kids, Pzxid: n.pzxd,
	}
}

// mAllowed: the generator only makes world:anyone and digest entries.
func mAllowed(acl []ACL, perm int32, c Caller) bool {
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		if a.Scheme == "world" {
			return true
		}
		for _, id := range c.Identities {
			if id.Scheme == a.Scheme && id.ID == a.ID {
				return true
			}
		}
	}
	return false
}

func (m *model) create(c Caller, zxid int64, path string, data []byte, acl []ACL, flags int32, inMulti bool, ch *[]Change) (string, error) {
	if flags < 0 || flags > 6 {
		if inMulti {
			return "", ErrBadArguments
		}
		return "", ErrInvalidFlags
	}
	if flags == 5 || flags == 6 {
		return "", ErrUnimplemented
	}
	if !strings.Contains(path, "/") {
		return "", ErrBadArguments
	}
	if len(acl) == 0 {
		return "", ErrInvalidACL
	}
	if acl[0].Scheme == "auth" {
		if len(c.Identities) == 0 {
			return "", ErrInvalidACL
		}
		acl = []ACL{{acl[0].Perms, c.Identities[0].Scheme, c.Identities[0].ID}}
	}
	parent := path[:strings.LastIndex(path, "/")]
	if parent == "" {
		parent = "/"
	}
	p, ok := m.nodes[parent]
	if !ok {
		return "", ErrNoNode
	}
	if !mAllowed(p.acl, PermCreate, c) {
		return "", ErrNoAuth
	}
	if flags == FlagSequence || flags == FlagEphemeralSequential {
		path += fmt.Sprintf("%010d", p.creates)
	}
	if (path != "/" && strings.HasSuffix(path, "/")) || strings.Contains(path, "//") {
		return "", ErrBadArguments
	}
	if _, ok := m.nodes[path]; ok {
		return "", ErrNodeExists
	}
	if p.owner != 0 {
		return "", ErrNoChildrenForEphemerals
	}
	n := &mNode{data: data, acl: acl, czxid: zxid, mzxid: zxid, ctime: zxid * 10, mtime: zxid * 10, pzxd: zxid}
	if flags == FlagEphemeral || flags == FlagEphemeralSequential {
		n.owner = c.Session
	}
	n.container = flags == FlagContainer
	m.nodes[path] = n
	p.creates++
	p.pzxd = zxid
	*ch = append(*ch, Change{Type: EventNodeCreated, Path: path, ACL: acl}, Change{Type: EventNodeChildrenChanged, Path: parent, ACL: p.acl})
	return path, nil
}

func (m *model) delete(c Caller, zxid int64, path string, version int32, ch *[]Change) error {
	switch path {
	case "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config":
		return ErrBadArguments
	}
	parent := mParent(path)
	p, ok := m.nodes[parent]
	if !ok {
		return ErrNoNode
	}
	if !mAllowed(p.acl, PermDelete, c) {
		return ErrNoAuth
	}
	n, ok := m.nodes[path]
	if !ok {
		return ErrNoNode
	}
	if version != -1 && version != n.version {
		return ErrBadVersion
	}
	if len(m.childNames(path)) > 0 {
		return ErrNotEmpty
	}
	m.remove(zxid, path, ch)
	return nil
}

func (m *model) remove(zxid int64, path string, ch *[]Change) {
	n, p := m.nodes[path], m.nodes[mParent(path)]
	delete(m.nodes, path)
	p.pzxd = zxid
	*ch = append(*ch, Change{Type: EventNodeDeleted, Path: path, ACL: n.acl}, Change{Type: EventNodeChildrenChanged, Path: mParent(path), ACL: p.acl})
}

func (m *model) set(c Caller, zxid int64, path string, data []byte, version int32, ch *[]Change) (Stat, error) {
	if strings.HasSuffix(path, "/") && path != "/" {
		return Stat{}, ErrBadArguments
	}
	n, ok := m.nodes[path]
	if !ok {
		return Stat{}, ErrNoNode
	}
	if !mAllowed(n.acl, PermWrite, c) {
		return Stat{}, ErrNoAuth
	}
	if version != -1 && version != n.version {
		return Stat{}, ErrBadVersion
	}
	n.data = data
	n.version++
	n.mzxid = zxid
	n.mtime = zxid * 10
	*ch = append(*ch, Change{Type: EventNodeDataChanged, Path: path, ACL: n.acl})
	return m.stat(path), nil
}

func (m *model) setACL(c Caller, path string, acl []ACL, version int32) (Stat, error) {
	if strings.HasSuffix(path, "/") && path != "/" {
		return Stat{}, ErrBadArguments
	}
	if len(acl) == 0 {
		return Stat{}, ErrInvalidACL
	}
	if acl[0].Scheme == "auth" {
		if len(c.Identities) == 0 {
			return Stat{}, ErrInvalidACL
		}
		acl = []ACL{{acl[0].Perms, c.Identities[0].Scheme, c.Identities[0].ID}}
	}
	n, ok := m.nodes[path]
	if !ok {
		return Stat{}, ErrNoNode
	}
	if !mAllowed(n.acl, PermAdmin, c) {
		return Stat{}, ErrNoAuth
	}
	if version != -1 && version != n.aversion {
		return Stat{}, ErrBadVersion
	}
	n.acl = acl
	n.aversion++
	return m.stat(path), nil
}

func (m *model) check(c Caller, path string, version int32) error {
	if strings.HasSuffix(path, "/") && path != "/" {
		return ErrBadArguments
	}
	n, ok := m.nodes[path]
	if !ok {
		return ErrNoNode
	}
	if !mAllowed(n.acl, PermRead, c) {
		return ErrNoAuth
	}
	if version != -1 && version != n.version {
		return ErrBadVersion
	}
	return nil
}

func (m *model) multi(c Caller, zxid int64, ops []Op) ([]MultiResponse, []Change, error, *model) {
	work := m.clone()
	res := make([]MultiResponse, len(ops))
	var ch []Change
	for i, op := range ops {
		var err error
		switch o := op.(type) {
		case *CreateRequest:
			res[i].String, err = work.create(c, zxid, o.Path, o.Data, o.Acl, o.Flags, true, &ch)
		case *SetDataRequest:
			var st Stat
			if st, err = work.set(c, zxid, o.Path, o.Data, o.Version, &ch); err == nil {
				res[i].Stat = &st
			}
		case *DeleteRequest:
			err = work.delete(c, zxid, o.Path, o.Version, &ch)
		case *CheckVersionRequest:
			err = work.check(c, o.Path, o.Version)
		}
		if err != nil {
			res = make([]MultiResponse, len(ops))
			res[i].Error = err
			for j := i + 1; j < len(ops); j++ {
				res[j].Error = ErrRuntimeInconsistency
			}
			return res, nil, err, m
		}
	}
	return res, ch, nil, work
}

func (m *model) closeSession(zxid, session int64) []Change {
	var paths []string
	for p, n := range m.nodes {
		if n.owner == session {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	var ch []Change
	for _, p := range paths {
		m.remove(zxid, p, &ch)
	}
	return ch
}

func (m *model) emptyContainers() []string {
	var out []string
	for p, n := range m.nodes {
		if n.container && n.creates > 0 && len(m.childNames(p)) == 0 {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// world is one tree beside its model, with its own zxid counter.
type world struct {
	tree *Tree
	m    *model
	zxid int64
}

func (w *world) next() (int64, int64) {
	w.zxid++
	return w.zxid, w.zxid * 10
}

var (
	modelCallers = []Caller{
		{Session: 0x101, Identities: []Identity{DigestIdentity([]byte("alice:secret"))}},
		{Session: 0x202},
		{Session: 0x303, Identities: []Identity{DigestIdentity([]byte("carol:pw"))}},
	}
	modelACLs = [][]ACL{
		WorldACL(PermAll), WorldACL(PermAll), WorldACL(PermAll),
		WorldACL(PermRead | PermWrite | PermAdmin), // no CREATE or DELETE for children
		DigestACL(PermAll, "alice", "secret"),
		AuthACL(PermAll),
		nil,
	}
	modelNames = []string{"a", "b", "c"}
)

func drawPath(t *rapid.T, m *model, label string) string {
	switch rapid.IntRange(0, 9).Draw(t, label+"-kind") {
	case 0: // an existing node, to reach sequential names
		paths := make([]string, 0, len(m.nodes))
		for p := range m.nodes {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		return rapid.SampledFrom(paths).Draw(t, label+"-existing")
	case 1:
		return rapid.SampledFrom([]string{"/", "/a/", "/zookeeper", "/zookeeper/a", "/zookeeper/config"}).Draw(t, label+"-special")
	default:
		depth := rapid.IntRange(1, 3).Draw(t, label+"-depth")
		path := ""
		for range depth {
			path += "/" + rapid.SampledFrom(modelNames).Draw(t, label+"-name")
		}
		return path
	}
}

func drawData(t *rapid.T) []byte {
	return rapid.SampledFrom([][]byte{nil, {}, []byte("x"), []byte("yz")}).Draw(t, "data")
}

func drawVersion(t *rapid.T) int32 {
	return rapid.Int32Range(-1, 2).Draw(t, "version")
}

func drawOp(t *rapid.T, m *model) Op {
	switch rapid.IntRange(0, 3).Draw(t, "op") {
	case 0:
		return &CreateRequest{Path: drawPath(t, m, "path"), Data: drawData(t),
			Acl: rapid.SampledFrom(modelACLs).Draw(t, "acl"), Flags: rapid.Int32Range(0, 7).Draw(t, "flags")}
	case 1:
		return &SetDataRequest{Path: drawPath(t, m, "path"), Data: drawData(t), Version: drawVersion(t)}
	case 2:
		return &DeleteRequest{Path: drawPath(t, m, "path"), Version: drawVersion(t)}
	default:
		return &CheckVersionRequest{Path: drawPath(t, m, "path"), Version: drawVersion(t)}
	}
}

// compare checks the whole tree against the model: every node's data and Stat, in Walk order, and
// every node's Children, plus the ephemeral and container indexes.
func compare(t *rapid.T, w *world) {
	var got []nodeSnap
	w.tree.Walk(func(path string, data []byte, st Stat) bool {
		got = append(got, nodeSnap{path, string(data), st})
		return true
	})
	var want []nodeSnap
	var walk func(path string)
	walk = func(path string) {
		n := w.m.nodes[path]
		want = append(want, nodeSnap{path, string(n.data), w.m.stat(path)})
		for _, name := range w.m.childNames(path) {
			walk(joinPath(path, name))
		}
	}
	walk("/")
	require.Equal(t, want, got)
	require.Equal(t, len(w.m.nodes), w.tree.Len())
	super := Caller{Identities: []Identity{{Scheme: "super"}}}
	for path, n := range w.m.nodes {
		names, _, err := w.tree.Children(super, path)
		require.NoError(t, err)
		if len(names) == 0 {
			names = nil
		}
		require.Equal(t, w.m.childNames(path), names, "children of %s", path)
		data, _, err := w.tree.Get(super, path)
		require.NoError(t, err)
		require.Equal(t, n.data == nil, data == nil, "nil-ness of data at %s", path)
	}
	for _, c := range modelCallers {
		var want []string
		for p, n := range w.m.nodes {
			if n.owner == c.Session {
				want = append(want, p)
			}
		}
		slices.Sort(want)
		require.Equal(t, want, w.tree.Ephemerals(c.Session))
	}
	require.Equal(t, w.m.emptyContainers(), w.tree.EmptyContainers())
}

func TestTreeMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		worlds := []*world{{tree: NewTree(), m: newModel()}}
		pick := func(t *rapid.T) *world {
			return worlds[rapid.IntRange(0, len(worlds)-1).Draw(t, "world")]
		}
		caller := func(t *rapid.T) Caller {
			return rapid.SampledFrom(modelCallers).Draw(t, "caller")
		}
		t.Repeat(map[string]func(*rapid.T){
			"create": func(t *rapid.T) {
				w, c := pick(t), caller(t)
				path, data := drawPath(t, w.m, "path"), drawData(t)
				acl := rapid.SampledFrom(modelACLs).Draw(t, "acl")
				flags := rapid.Int32Range(-1, 7).Draw(t, "flags")
				zxid, now := w.next()
				var want []Change
				wantPath, wantErr := w.m.create(c, zxid, path, data, acl, flags, false, &want)
				gotPath, got, err := w.tree.Create(c, zxid, now, path, data, acl, flags)
				require.Equal(t, wantErr, err, "create %q flags %d", path, flags)
				require.Equal(t, wantPath, gotPath)
				require.Equal(t, want, got)
			},
			"set": func(t *rapid.T) {
				w, c := pick(t), caller(t)
				path, data, version := drawPath(t, w.m, "path"), drawData(t), drawVersion(t)
				zxid, now := w.next()
				var want []Change
				wantStat, wantErr := w.m.set(c, zxid, path, data, version, &want)
				st, got, err := w.tree.Set(c, zxid, now, path, data, version)
				require.Equal(t, wantErr, err, "set %q", path)
				require.Equal(t, wantStat, st)
				require.Equal(t, want, got)
			},
			"delete": func(t *rapid.T) {
				w, c := pick(t), caller(t)
				path, version := drawPath(t, w.m, "path"), drawVersion(t)
				zxid, _ := w.next()
				var want []Change
				wantErr := w.m.delete(c, zxid, path, version, &want)
				got, err := w.tree.Delete(c, zxid, path, version)
				require.Equal(t, wantErr, err, "delete %q", path)
				require.Equal(t, want, got)
			},
			"setACL": func(t *rapid.T) {
				w, c := pick(t), caller(t)
				path, version := drawPath(t, w.m, "path"), drawVersion(t)
				acl := rapid.SampledFrom(modelACLs).Draw(t, "acl")
				zxid, _ := w.next()
				wantStat, wantErr := w.m.setACL(c, path, acl, version)
				st, err := w.tree.SetACL(c, zxid, path, acl, version)
				require.Equal(t, wantErr, err, "setACL %q", path)
				require.Equal(t, wantStat, st)
			},
			"multi": func(t *rapid.T) {
				w, c := pick(t), caller(t)
				n := rapid.IntRange(0, 4).Draw(t, "ops")
				ops := make([]Op, n)
				for i := range ops {
					ops[i] = drawOp(t, w.m)
				}
				zxid, now := w.next()
				wantRes, want, wantErr, next := w.m.multi(c, zxid, ops)
				res, got, err := w.tree.Multi(c, zxid, now, ops)
				w.m = next
				require.Equal(t, wantErr, err)
				require.Equal(t, wantRes, res)
				require.Equal(t, want, got)
			},
			"read": func(t *rapid.T) {
				w, c := pick(t), caller(t)
				path := drawPath(t, w.m, "path")
				data, st, err := w.tree.Get(c, path)
				names, cst, cerr := w.tree.Children(c, path)
				n, ok := w.m.nodes[path]
				switch {
				case !ok:
					require.Equal(t, ErrNoNode, err)
					require.Equal(t, ErrNoNode, cerr)
				case !mAllowed(n.acl, PermRead, c):
					require.Equal(t, ErrNoAuth, err)
					require.Equal(t, ErrNoAuth, cerr)
				default:
					require.NoError(t, err)
					require.NoError(t, cerr)
					require.Equal(t, string(n.data), string(data))
					require.Equal(t, w.m.stat(path), st)
					require.Equal(t, st, cst)
					require.Equal(t, len(w.m.childNames(path)), len(names))
				}
			},
			"closeSession": func(t *rapid.T) {
				w, c := pick(t), caller(t)
				zxid, _ := w.next()
				require.Equal(t, w.m.closeSession(zxid, c.Session), w.tree.CloseSession(zxid, c.Session))
			},
			"deleteContainers": func(t *rapid.T) {
				w := pick(t)
				for _, p := range w.tree.EmptyContainers() {
					zxid, _ := w.next()
					var want []Change
					w.m.remove(zxid, p, &want)
					got, err := w.tree.DeleteContainer(zxid, p)
					require.NoError(t, err)
					require.Equal(t, want, got)
				}
			},
			"createContainer": func(t *rapid.T) {
				// Containers are rarer among random flags; make some under /a and /b on purpose.
				w, c := pick(t), caller(t)
				path := rapid.SampledFrom([]string{"/a", "/b", "/a/c"}).Draw(t, "container")
				zxid, now := w.next()
				var want []Change
				wantPath, wantErr := w.m.create(c, zxid, path, nil, WorldACL(PermAll), FlagContainer, false, &want)
				gotPath, got, err := w.tree.Create(c, zxid, now, path, nil, WorldACL(PermAll), FlagContainer)
				require.Equal(t, wantErr, err)
				require.Equal(t, wantPath, gotPath)
				require.Equal(t, want, got)
			},
			"clone": func(t *rapid.T) {
				if len(worlds) >= 3 {
					t.Skip("enough clones")
				}
				w := pick(t)
				worlds = append(worlds, &world{tree: w.tree.Clone(), m: w.m.clone(), zxid: w.zxid})
			},
			"": func(t *rapid.T) {
				for _, w := range worlds {
					compare(t, w)
				}
			},
		})
	})
}
