package jstring

import (
	"testing"

	"pgregory.net/rapid"
)

func TestHashCode(t *testing.T) {
	// Values are Java's: "".hashCode() == 0, "a" == 97, "hello" == 99162322,
	// and the round robin assignor's "[t,p]" names (hash("[t,0]") ==
	// 87540032, and "[t,10]" wraps negative).
	tests := []struct {
		s    string
		want int32
	}{
		{"", 0},
		{"a", 97},
		{"hello", 99162322},
		{"[t,0]", 87540032},
		{"[t,9]", 87540032 + 31*9},
		{"[t,10]", -1581226645},
		{"[t,11]", -1581226614},
		{"Aa", 2112}, {"BB", 2112}, // Java's classic collision
		{"é", 0xe9},
		{"😀", 31*0xd83d + 0xde00}, // one rune, two UTF-16 units
	}
	for _, tt := range tests {
		if got := HashCode(tt.s); got != tt.want {
			t.Errorf("HashCode(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"a", "b", -1},
		{"a-10", "a-2", -1}, // strings, not numbers
		{"10-0", "2-0", -1},
		{"a", "a-0", -1}, // a proper prefix first
		{"b", "a-0", 1},
		{"\uffff", "😀", 1}, // UTF-16: U+FFFF > the high surrogate D83D; UTF-8 says the opposite
		{"😀", "😀", 0},
	}
	for _, tt := range tests {
		if got := Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := Compare(tt.b, tt.a); got != -tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

// TestHashCodeASCIIFastPath checks the ASCII loop against the UTF-16 one.
func TestHashCodeASCIIFastPath(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.StringMatching(`[ -~]{0,20}`).Draw(t, "s")
		var h int32
		for _, u := range units(s) {
			h = 31*h + int32(u)
		}
		if HashCode(s) != h {
			t.Fatalf("HashCode(%q) = %d, UTF-16 loop %d", s, HashCode(s), h)
		}
	})
}
