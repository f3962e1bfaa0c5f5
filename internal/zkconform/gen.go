package zkconform

import (
	"fmt"
	"math/bits"
	"slices"

	"pgregory.net/rapid"
)

// Paths the generator chooses from, relative to the sequence root. The
// alphabet is small so that steps collide: creates hit existing nodes,
// deletes hit parents with children, watches see other sessions' writes.
var (
	// nodePaths are valid paths of nodes that may exist.
	nodePaths = []string{
		"a", "b", "a/x", "a/y", "b/x", "a/x/q",
		// names the sequential creates below produce
		"s-0000000000", "s-0000000001", "s-0000000002",
		"a/s-0000000000", "a/s-0000000001",
		"a/0000000000", "a/0000000001",
	}
	// createPaths are the paths given to non-sequential creates; the
	// first two are top-level.
	createPaths = []string{"a", "b", "a/x", "a/y", "b/x", "a/x/q"}
	// seqPrefixes are the paths given to sequential creates.
	seqPrefixes = []string{"s-", "a/s-", "a/"}
	// badPaths are invalid for every operation (except "a/" for
	// sequential creates, which is among seqPrefixes).
	badPaths = []string{"a/", "a//x", "a/.", "a/..", "./a", "a\x01", "b/\u007f"}
	dataVals = [][]byte{nil, {}, []byte("x"), []byte("hello"), []byte("0123456789")}
)

// genState is what the generator remembers while drawing one sequence: the
// paths it has asked to create, with sequential names predicted from a
// per-parent counter. It is only a guess (creates fail), but it makes later
// steps hit nodes that exist far more often than a blind draw does.
type genState struct {
	known   []string
	watched []string       // paths of watching reads, so writes can fire them
	counter map[string]int // parent -> creates asked under it
}

func parentOf(rel string) string {
	for i := len(rel) - 1; i >= 0; i-- {
		if rel[i] == '/' {
			return rel[:i]
		}
	}
	return ""
}

// noteCreate records a create of rel (a prefix for sequential creates).
func (g *genState) noteCreate(rel string, sequential bool) {
	if !sequential && slices.Contains(badPaths, rel) {
		return
	}
	parent := parentOf(rel)
	n := g.counter[parent]
	g.counter[parent] = n + 1
	if sequential {
		rel = fmt.Sprintf("%s%010d", rel, n)
	}
	if rel != "" && !slices.Contains(g.known, rel) {
		g.known = append(g.known, rel)
	}
}

// SequenceGen returns the rapid generator of operation sequences: 1-3
// sessions and 5-40 steps. Outside tests, draw sequence i of a run with
// Generate, which calls Example with a seed derived from (seed, i).
func SequenceGen() *rapid.Generator[Sequence] {
	return rapid.Custom(func(t *rapid.T) Sequence {
		n := 1 + uniform(t, "sessions", 3)
		steps := 5 + uniform(t, "steps", 36)
		seq := Sequence{Sessions: n}
		g := &genState{counter: map[string]int{}}
		// A prologue of up to 4 creates of a, b, a/x, b/x gives the
		// rest of the sequence nodes to work on.
		prologue := uniform(t, "prologue", 5)
		for i := 0; i < steps; i++ {
			if i < prologue {
				path := createPaths[[]int{0, 1, 2, 4}[i]]
				flags := pick(t, "prologueFlags", []int32{0, 0, 0, 1})
				g.noteCreate(path, false)
				seq.Steps = append(seq.Steps, Step{Session: uniform(t, "session", n), Op: OpCreate, Path: path, Data: drawData(t), Flags: flags})
				continue
			}
			seq.Steps = append(seq.Steps, g.step(t, n))
		}
		return seq
	})
}

// Generate returns sequence i of the run with the given seed. The result
// depends only on (seed, i).
func Generate(seed int64, i int) Sequence {
	return SequenceGen().Example(int(mix(uint64(seed), uint64(i))))
}

// mix is splitmix64 over (seed, i), so neighbouring indices get unrelated
// seeds.
func mix(seed, i uint64) uint64 {
	z := seed*0x9e3779b97f4a7c15 + i + 1
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return (z ^ (z >> 31)) >> 1 // keep it non-negative as an int
}

func weighted[V any](t *rapid.T, label string, weights []int, gens []func() V) V {
	total := 0
	for _, w := range weights {
		total += w
	}
	k := uniform(t, label, total)
	for i, w := range weights {
		if k < w {
			return gens[i]()
		}
		k -= w
	}
	panic("unreachable")
}

// uniform draws an int in [0, n) uniformly. rapid's IntRange and
// SampledFrom favour small values on purpose (good for finding edge cases,
// bad for an even mix of operations), so this builds the number from
// unbiased rapid.Bool draws, rejecting values >= n. Shrinking still works:
// false bits shrink towards 0.
func uniform(t *rapid.T, label string, n int) int {
	if n <= 1 {
		return 0
	}
	width := bits.Len(uint(n - 1))
	for {
		v := 0
		for i := 0; i < width; i++ {
			v <<= 1
			if rapid.Bool().Draw(t, label) {
				v |= 1
			}
		}
		if v < n {
			return v
		}
	}
}

func pick[V any](t *rapid.T, label string, vals []V) V {
	return vals[uniform(t, label, len(vals))]
}

// path draws a path for a non-create step: mostly one the
// sequence has created (or tried to), else any from the alphabet, the root
// or an invalid path.
func (g *genState) path(t *rapid.T) string {
	switch k := uniform(t, "pathKind", 20); {
	case k == 0:
		return "" // the root itself
	case k == 1:
		return pick(t, "badPath", badPaths)
	case k < 5 && len(g.watched) > 0:
		return pick(t, "watchedPath", g.watched)
	case k < 14 && len(g.known) > 0:
		return pick(t, "knownPath", g.known)
	default:
		return pick(t, "path", nodePaths)
	}
}

func drawVersion(t *rapid.T) int32 {
	if rapid.Bool().Draw(t, "anyVersion") {
		return -1
	}
	return pick(t, "version", []int32{0, 0, 1, 1, 2, 3, 7, -2})
}

func drawData(t *rapid.T) []byte {
	return pick(t, "data", dataVals)
}

// drawACL draws the ACL of a create: mostly world:anyone ALL, so that
// later steps can work on the node, else any of ACLSpec's names.
func drawACL(t *rapid.T) string {
	if uniform(t, "restrictACL", 5) != 0 {
		return ""
	}
	return pick(t, "acl", aclSpecs[1:])
}

// drawCreate draws a create's path and flags: mostly good modes, sometimes
// bad flags or paths. Sequential creates never target the root, whose
// sequential children would land outside it.
func (g *genState) drawCreate(t *rapid.T) (op Op, path string, flags int32) {
	op = OpCreate
	switch k := uniform(t, "createKind", 100); {
	case k < 30:
		flags = 0
	case k < 50:
		flags = 1
	case k < 62:
		flags = 2
	case k < 72:
		flags = 3
	case k < 82:
		op, flags = OpCreateContainer, 4
	case k < 85:
		op, flags = OpCreateContainer, 0 // refused by go-zk
	case k < 88:
		flags = 4 // container flag through plain Create (opcode create)
	case k < 91:
		flags = pick(t, "ttlFlag", []int32{5, 6})
	case k < 93:
		flags = pick(t, "badFlag", []int32{7, -1})
	default:
		flags = pick(t, "anyFlag", []int32{0, 1, 2, 3})
		if flags&2 == 0 {
			return op, pick(t, "badPath", badPaths), flags
		}
		return op, pick(t, "badPath", badPaths[1:]), flags
	}
	if flags >= 0 && flags&2 != 0 && flags <= 3 || flags == 6 {
		return op, pick(t, "seqPrefix", seqPrefixes), flags
	}
	switch k := uniform(t, "createDepth", 20); {
	case k == 0:
		path = "" // NodeExists, or recreates a deleted root
	case k < 8:
		path = pick(t, "path", createPaths[:2])
	case k < 10 && len(g.watched) > 0:
		path = pick(t, "watchedPath", g.watched) // fires exists watches
	case k < 11 && len(g.known) > 0:
		path = pick(t, "knownPath", g.known) // mostly NodeExists
	default:
		path = pick(t, "path", createPaths[2:])
	}
	return op, path, flags
}

func (g *genState) drawMultiOp(t *rapid.T) MultiOp {
	return weighted(t, "multiOp", []int{4, 3, 3, 2}, []func() MultiOp{
		func() MultiOp {
			_, path, flags := g.drawCreate(t)
			if flags < 0 || flags > 4 {
				flags = 0 // go-zk passes multi flags through unchecked
			}
			if flags&2 != 0 {
				path = pick(t, "seqPrefix", seqPrefixes)
			}
			g.noteCreate(path, flags&2 != 0)
			return MultiOp{Op: OpCreate, Path: path, Data: drawData(t), Flags: flags, ACL: drawACL(t)}
		},
		func() MultiOp {
			return MultiOp{Op: OpSet, Path: g.path(t), Data: drawData(t), Version: drawVersion(t)}
		},
		func() MultiOp {
			return MultiOp{Op: OpDelete, Path: g.path(t), Version: drawVersion(t)}
		},
		func() MultiOp {
			return MultiOp{Op: OpCheck, Path: g.path(t), Version: drawVersion(t)}
		},
	})
}

// drawDuring draws the writes other sessions make while session cut is
// disconnected: mostly on watched paths, so that the reconnected client
// has something to learn from setWatches.
func (g *genState) drawDuring(t *rapid.T, sessions, cut int) []Step {
	if sessions < 2 {
		return nil
	}
	n := uniform(t, "duringLen", 4)
	out := make([]Step, 0, n)
	target := func() string {
		if len(g.watched) > 0 && rapid.Bool().Draw(t, "duringWatched") {
			return pick(t, "watchedPath", g.watched)
		}
		return g.path(t)
	}
	for i := 0; i < n; i++ {
		s := weighted(t, "duringOp", []int{4, 3, 3, 1}, []func() Step{
			func() Step {
				op, path, flags := g.drawCreate(t)
				if flags < 0 || flags > 4 {
					flags = 0
				}
				if flags&2 == 0 && len(g.watched) > 0 && rapid.Bool().Draw(t, "createWatched") {
					path = pick(t, "watchedPath", g.watched)
				}
				if op == OpCreateContainer {
					flags = 4
				}
				g.noteCreate(path, flags&2 != 0)
				return Step{Op: op, Path: path, Data: drawData(t), Flags: flags}
			},
			func() Step {
				return Step{Op: OpSet, Path: target(), Data: drawData(t), Version: -1}
			},
			func() Step {
				return Step{Op: OpDelete, Path: target(), Version: -1}
			},
			func() Step {
				ops := make([]MultiOp, 1+uniform(t, "multiLen", 3))
				for i := range ops {
					ops[i] = g.drawMultiOp(t)
				}
				return Step{Op: OpMulti, Ops: ops}
			},
		})
		s.Session = (cut + 1 + uniform(t, "duringSession", sessions-1)) % sessions
		out = append(out, s)
	}
	return out
}

// step draws the next step of a sequence with the given session count.
func (g *genState) step(t *rapid.T, sessions int) Step {
	s := weighted(t, "op", []int{26, 10, 12, 10, 10, 8, 2, 10, 3, 2, 3, 4, 4, 4}, []func() Step{
		func() Step {
			op, path, flags := g.drawCreate(t)
			if flags >= 0 && flags <= 6 {
				g.noteCreate(path, flags&2 != 0)
			}
			return Step{Op: op, Path: path, Data: drawData(t), Flags: flags, ACL: drawACL(t)}
		},
		func() Step {
			return Step{Op: OpGet, Path: g.path(t), Watch: uniform(t, "watch", 4) != 0}
		},
		func() Step {
			return Step{Op: OpSet, Path: g.path(t), Data: drawData(t), Version: drawVersion(t)}
		},
		func() Step {
			return Step{Op: OpDelete, Path: g.path(t), Version: drawVersion(t)}
		},
		func() Step {
			return Step{Op: OpExists, Path: g.path(t), Watch: uniform(t, "watch", 4) != 0}
		},
		func() Step {
			return Step{Op: OpChildren, Path: g.path(t), Watch: uniform(t, "watch", 4) != 0}
		},
		func() Step {
			return Step{Op: OpSync, Path: g.path(t)}
		},
		func() Step {
			n := uniform(t, "multiLen", 5)
			ops := make([]MultiOp, n)
			for i := range ops {
				ops[i] = g.drawMultiOp(t)
			}
			return Step{Op: OpMulti, Ops: ops}
		},
		func() Step { return Step{Op: OpClose} },
		func() Step { return Step{Op: OpExpire} },
		func() Step {
			return Step{Op: OpAddAuth, Auth: pick(t, "auth", []string{authCreds[0], authCreds[0], authCreds[1], authCreds[2]})}
		},
		func() Step {
			return Step{Op: OpGetACL, Path: g.path(t)}
		},
		func() Step {
			name := pick(t, "acl", aclSpecs)
			return Step{Op: OpSetACL, Path: g.path(t), ACL: name, Version: drawVersion(t)}
		},
		func() Step { return Step{Op: OpDisconnect} },
	})
	s.Session = uniform(t, "session", sessions)
	if s.Op == OpDisconnect {
		s.During = g.drawDuring(t, sessions, s.Session)
	}
	if s.Watch && s.Path != "" && !slices.Contains(g.watched, s.Path) && !slices.Contains(badPaths, s.Path) {
		g.watched = append(g.watched, s.Path)
	}
	return s
}
