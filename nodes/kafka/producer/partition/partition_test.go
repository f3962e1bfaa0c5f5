package partition

import (
	"errors"
	"math"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/kzsim/kzsim/sim"
)

func TestKeyString(t *testing.T) {
	tests := []struct {
		id   uint64
		s    string
		hash int32
	}{
		// Java: "0".hashCode() == 48, "17".hashCode() == 49·31 + 55.
		{0, "0", 48},
		{17, "17", 1574},
		{4294967296, "4294967296", -662265042},
		{math.MaxUint64, "18446744073709551615", 1823116549},
		// A preimage of Integer.MIN_VALUE, found by a meet-in-the-middle search.
		{2497347275573142800, "2497347275573142800", math.MinInt32},
	}
	for _, tt := range tests {
		if got := KeyString(tt.id); got != tt.s {
			t.Errorf("KeyString(%d) = %q", tt.id, got)
		}
		if got := KeyHashCode(tt.id); got != tt.hash {
			t.Errorf("KeyHashCode(%d) = %d, want %d", tt.id, got, tt.hash)
		}
	}
}

func TestHash(t *testing.T) {
	const minKey = 2497347275573142800 // hashCode == Integer.MIN_VALUE
	tests := []struct {
		name string
		key  uint64
		n    int
		abs  Abs
		want int
		err  bool
	}{
		{"positive hash, every era", 17, 4, AbsMath, 2, false},
		{"positive hash 0.8.0", 17, 4, AbsMask, 2, false},
		{"positive hash 0.8.2", 17, 4, AbsZeroMin, 2, false},
		// hash −662265042: −h = 662265042 → 2; h & 0x7fffffff = 1485218606 → 6.
		{"negative hash 0.7", 4294967296, 10, AbsMath, 2, false},
		{"negative hash 0.8.0 masks", 4294967296, 10, AbsMask, 6, false},
		{"negative hash 0.8.2", 4294967296, 10, AbsZeroMin, 2, false},
		// Integer.MIN_VALUE: 0.7's math.abs keeps it negative, −2^31 % 10 = −8.
		{"min hash 0.7 fails", minKey, 10, AbsMath, 0, true},
		{"min hash 0.7, count divides 2^31", minKey, 8, AbsMath, 0, false},
		{"min hash 0.8.0", minKey, 10, AbsMask, 0, false},
		{"min hash 0.8.2 (KAFKA-1469)", minKey, 10, AbsZeroMin, 0, false},
		{"one partition", 99999, 1, AbsZeroMin, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Hash(tt.key, tt.n, tt.abs)
			if tt.err {
				if !errors.Is(err, ErrInvalidPartition) {
					t.Fatalf("err = %v, want ErrInvalidPartition", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Hash = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestHashProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		key := rapid.Uint64().Draw(t, "key")
		n := rapid.IntRange(1, 1000).Draw(t, "n")
		for _, abs := range []Abs{AbsMask, AbsZeroMin} {
			a, err := Hash(key, n, abs)
			b, _ := Hash(key, n, abs)
			if err != nil || a < 0 || a >= n || a != b {
				t.Fatalf("Hash(%d, %d, %d) = %d, %v", key, n, abs, a, err)
			}
		}
		// 0.7 and 0.8.2 agree except on Integer.MIN_VALUE.
		if KeyHashCode(key) != math.MinInt32 {
			a, _ := Hash(key, n, AbsMath)
			b, _ := Hash(key, n, AbsZeroMin)
			if a != b {
				t.Fatalf("0.7 %d, 0.8.2 %d", a, b)
			}
		}
	})
}

func TestRandom(t *testing.T) {
	a, b := sim.NewRand(7), sim.NewRand(7)
	for range 100 {
		x, y := Random(a, 5), Random(b, 5)
		if x != y || x < 0 || x >= 5 {
			t.Fatalf("Random = %d, %d", x, y)
		}
	}
}

func TestSticky(t *testing.T) {
	r := sim.NewRand(1)
	var s Sticky
	if _, err := s.Partition(r, "t", nil); !errors.Is(err, ErrLeaderNotAvailable) {
		t.Fatalf("no leaders: err = %v", err)
	}
	first, err := s.Partition(r, "t", []int32{3, 5, 9})
	if err != nil || !slices.Contains([]int32{3, 5, 9}, first) {
		t.Fatalf("first = %d, %v", first, err)
	}
	// Kept even when its leader is gone: the failure waits for the send.
	for range 20 {
		if p, _ := s.Partition(r, "t", []int32{42}); p != first {
			t.Fatalf("sticky moved to %d", p)
		}
	}
	// Topics stick independently.
	if p, _ := s.Partition(r, "u", []int32{42}); p != 42 {
		t.Fatalf("topic u = %d", p)
	}
	s.Clear()
	if p, _ := s.Partition(r, "t", []int32{42}); p != 42 {
		t.Fatalf("after Clear = %d, want the only available 42", p)
	}
	// Over many refreshes every available partition is drawn.
	seen := map[int32]bool{}
	for range 200 {
		s.Clear()
		p, _ := s.Partition(r, "t", []int32{0, 1, 2})
		seen[p] = true
	}
	if len(seen) != 3 {
		t.Fatalf("drew only %v", seen)
	}
}

func TestRoundRobin(t *testing.T) {
	var rr RoundRobin
	var got []int32
	for range 5 {
		got = append(got, rr.Partition("t", 3, []int32{0, 2}))
	}
	if want := []int32{0, 2, 0, 2, 0}; !slices.Equal(got, want) {
		t.Fatalf("available {0,2}: %v, want %v", got, want)
	}
	// The counter is per topic and goes on when no partition has a leader.
	got = got[:0]
	for range 4 {
		got = append(got, rr.Partition("u", 3, nil))
	}
	if want := []int32{0, 1, 2, 0}; !slices.Equal(got, want) {
		t.Fatalf("none available: %v, want %v", got, want)
	}
	if p := rr.Partition("t", 3, nil); p != 2 { // t's counter is at 5
		t.Fatalf("t after 5 = %d, want 2", p)
	}
	// The 32-bit counter wraps; toPositive masks the sign bit.
	rr.next["w"] = math.MaxInt32
	if p := rr.Partition("w", 3, nil); p != math.MaxInt32%3 {
		t.Fatalf("at MaxInt32 = %d", p)
	}
	if p := rr.Partition("w", 3, nil); p != 0 {
		t.Fatalf("at MinInt32 = %d, want 0", p)
	}
}

func TestZipf(t *testing.T) {
	for _, bad := range []struct {
		keys int
		s    float64
	}{{0, 1}, {ZipfKeysMax + 1, 1}, {10, -1}, {10, math.NaN()}, {10, math.Inf(1)}} {
		if _, err := NewZipf(bad.keys, bad.s); err == nil {
			t.Errorf("NewZipf(%d, %v) accepted", bad.keys, bad.s)
		}
	}
	z, err := NewZipf(3, 1)
	if err != nil {
		t.Fatal(err)
	}
	// s = 1 over 3 keys: weights 1, 1/2, 1/3 of 11/6.
	for k, want := range []float64{6.0 / 11, 3.0 / 11, 2.0 / 11, 0} {
		if got := z.Probability(uint64(k)); math.Abs(got-want) > 1e-12 {
			t.Errorf("P(%d) = %v, want %v", k, got, want)
		}
	}
	const draws = 110_000
	r := sim.NewRand(3)
	var n [3]int
	for range draws {
		n[z.Next(r)]++
	}
	for k := range n {
		want := z.Probability(uint64(k)) * draws
		if math.Abs(float64(n[k])-want) > 0.02*draws {
			t.Errorf("key %d drawn %d times, want about %.0f", k, n[k], want)
		}
	}
	u, _ := NewZipf(4, 0)
	for k := range 4 {
		if p := u.Probability(uint64(k)); math.Abs(p-0.25) > 1e-12 {
			t.Errorf("s = 0: P(%d) = %v", k, p)
		}
	}
	one, _ := NewZipf(1, 2)
	if one.Next(r) != 0 || one.Keys() != 1 {
		t.Error("one key")
	}
}

func TestZipfProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		keys := rapid.IntRange(1, 5000).Draw(t, "keys")
		s := rapid.Float64Range(0, 3).Draw(t, "s")
		seed := rapid.Uint64().Draw(t, "seed")
		z, err := NewZipf(keys, s)
		if err != nil {
			t.Fatal(err)
		}
		a, b := sim.NewRand(seed), sim.NewRand(seed)
		for range 50 {
			x, y := z.Next(a), z.Next(b)
			if x != y || x >= uint64(keys) {
				t.Fatalf("Next = %d, %d of %d keys", x, y, keys)
			}
		}
		// Hotter keys never less likely.
		for k := 1; k < min(keys, 50); k++ {
			if z.Probability(uint64(k)) > z.Probability(uint64(k-1))+1e-15 {
				t.Fatalf("P(%d) > P(%d)", k, k-1)
			}
		}
	})
}
