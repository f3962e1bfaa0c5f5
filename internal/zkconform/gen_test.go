package zkconform

import (
	"reflect"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestGenerateIsDeterministic(t *testing.T) {
	for i := 0; i < 50; i++ {
		a, b := Generate(7, i), Generate(7, i)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("sequence %d differs between two draws:\n%+v\n%+v", i, a, b)
		}
	}
	if reflect.DeepEqual(Generate(7, 0), Generate(7, 1)) {
		t.Error("sequences 0 and 1 of seed 7 are equal")
	}
	if reflect.DeepEqual(Generate(7, 3), Generate(8, 3)) {
		t.Error("sequence 3 of seeds 7 and 8 are equal")
	}
}

// checkSequence reports what is wrong with a generated sequence.
func checkSequence(seq Sequence) string {
	if seq.Sessions < 1 || seq.Sessions > 3 {
		return "sessions out of range"
	}
	if len(seq.Steps) < 5 || len(seq.Steps) > 40 {
		return "step count out of range"
	}
	for _, s := range seq.Steps {
		if s.Session < 0 || s.Session >= seq.Sessions {
			return "step on a session that does not exist"
		}
		isSeq := func(op Op, flags int32, path string) bool {
			return op == OpCreate && (flags == 2 || flags == 3) && path == ""
		}
		if isSeq(s.Op, s.Flags, s.Path) {
			return "sequential create on the root escapes it"
		}
		for _, m := range s.Ops {
			if isSeq(m.Op, m.Flags, m.Path) {
				return "sequential create on the root inside a multi"
			}
		}
		if strings.HasPrefix(s.Path, "/") {
			return "absolute step path"
		}
		if s.Op != OpDisconnect && len(s.During) > 0 {
			return "steps during a step that is not a disconnect"
		}
		for _, d := range s.During {
			if d.Session == s.Session || d.Session < 0 || d.Session >= seq.Sessions {
				return "a step during a disconnect is not on another session"
			}
			switch d.Op {
			case OpCreate, OpCreateContainer, OpSet, OpDelete, OpMulti:
			default:
				return "a step during a disconnect is not a write: " + string(d.Op)
			}
		}
	}
	return ""
}

func TestSequenceGenShape(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		if msg := checkSequence(SequenceGen().Draw(t, "seq")); msg != "" {
			t.Fatal(msg)
		}
	})
}

// TestGenerateCoversEveryOp makes sure the generator's mix is not starved
// of any operation (rapid's own integer draws favour small values).
func TestGenerateCoversEveryOp(t *testing.T) {
	count := map[Op]int{}
	flags := map[int32]int{}
	steps, sessions := 0, map[int]int{}
	for i := 0; i < 300; i++ {
		seq := Generate(1, i)
		if msg := checkSequence(seq); msg != "" {
			t.Fatalf("sequence %d: %s", i, msg)
		}
		sessions[seq.Sessions]++
		for _, s := range seq.Steps {
			steps++
			count[s.Op]++
			if s.Op == OpCreate {
				flags[s.Flags]++
			}
			for _, m := range s.Ops {
				count["multi-"+m.Op]++
			}
			if len(s.During) > 0 {
				count["during"]++
			}
		}
	}
	for _, op := range []Op{OpCreate, OpCreateContainer, OpGet, OpSet, OpDelete, OpExists,
		OpChildren, OpSync, OpMulti, OpClose, OpExpire,
		OpAddAuth, OpGetACL, OpSetACL, OpDisconnect, "during",
		"multi-create", "multi-set", "multi-delete", "multi-check"} {
		if count[op] == 0 {
			t.Errorf("no %s in 300 sequences", op)
		}
	}
	for _, f := range []int32{0, 1, 2, 3, 4, 5, 6, 7, -1} {
		if flags[f] == 0 {
			t.Errorf("no create with flags %d", f)
		}
	}
	for n := 1; n <= 3; n++ {
		if sessions[n] < 50 {
			t.Errorf("only %d of 300 sequences have %d sessions", sessions[n], n)
		}
	}
	if avg := float64(steps) / 300; avg < 17 || avg > 28 {
		t.Errorf("average sequence length %.1f, want about 22.5", avg)
	}
	if share := float64(count[OpExpire]) / float64(steps); share < 0.01 || share > 0.04 {
		t.Errorf("expiry share %.3f, want about 0.02", share)
	}
}

func TestUniformIsRoughlyUniform(t *testing.T) {
	hist := make([]int, 5)
	for i := 0; i < 2000; i++ {
		v := rapid.Custom(func(t *rapid.T) int { return uniform(t, "v", 5) }).Example(i)
		hist[v]++
	}
	for v, n := range hist {
		if n < 300 || n > 500 {
			t.Errorf("value %d drawn %d times of 2000, want about 400 (%v)", v, n, hist)
		}
	}
}
