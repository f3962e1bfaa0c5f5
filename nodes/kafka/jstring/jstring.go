// Package jstring computes what Kafka's JVM code computes of a string where
// the result leaks into a decision: `java.lang.String.hashCode` (the round
// robin assignor's partition order, the old producers' key partitioning) and
// `java.lang.String.compareTo` (the order of consumer thread ids and of 0.7's
// "<broker>-<partition>" names). Both work on UTF-16 code units, as the JVM
// does, so a string outside ASCII orders and hashes as it would in Kafka.
// Invalid UTF-8 decodes to U+FFFD first, as Java's UTF-8 decoder does for
// the bytes ZooKeeper hands it.
package jstring

import (
	"unicode/utf16"
	"unicode/utf8"
)

// HashCode returns Java's `String.hashCode` of s: h = 31·h + c over the
// UTF-16 code units c of s, wrapping at 32 bits (OpenJDK
// `java/lang/String.java`, `StringLatin1.hashCode`/`StringUTF16.hashCode`).
func HashCode(s string) int32 {
	var h int32
	if isASCII(s) {
		for i := 0; i < len(s); i++ {
			h = 31*h + int32(s[i])
		}
		return h
	}
	for _, u := range units(s) {
		h = 31*h + int32(u)
	}
	return h
}

// Compare returns Java's `a.compareTo(b)` sign: −1, 0 or +1, comparing UTF-16
// code units lexicographically, a proper prefix first. For ASCII strings it
// is Go's byte order; above U+FFFF it differs (surrogates sort below
// U+E000–U+FFFF in UTF-16 but above them in UTF-8).
func Compare(a, b string) int {
	if isASCII(a) && isASCII(b) {
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	}
	ua, ub := units(a), units(b)
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			if ua[i] < ub[i] {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(ua) < len(ub):
		return -1
	case len(ua) > len(ub):
		return 1
	}
	return 0
}

// Less reports whether a sorts before b in Java's `String.compareTo` order.
func Less(a, b string) bool { return Compare(a, b) < 0 }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func units(s string) []uint16 { return utf16.Encode([]rune(s)) }
