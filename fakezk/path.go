package fakezk

import (
	"strings"
	"unicode/utf8"
)

// ValidatePath checks path as ZooKeeper's PathUtils.validatePath does (docs/ZOOKEEPER.md §2) and returns
// ErrInvalidPath if it is not valid. For a sequential create the path is checked with a digit
// appended, so "/a/" is valid when isSequential is true.
//
// Characters are checked as Java sees them, in UTF-16 code units: anything outside the Basic
// Multilingual Plane is encoded with surrogates (U+D800–DFFF) and therefore rejected, and so is
// invalid UTF-8, which the server decodes to U+FFFD. (go-zk's own client check is laxer; this is the
// server's rule.)
func ValidatePath(path string, isSequential bool) error {
	if !validPath(path, isSequential) {
		return ErrInvalidPath
	}
	return nil
}

// validPath is ValidatePath as a bool, without allocating.
func validPath(path string, isSequential bool) bool {
	if path == "" || path[0] != '/' {
		return false
	}
	if len(path) == 1 {
		return true // "/"; with a sequential digit it would be "/1", also valid
	}
	if path[len(path)-1] == '/' && !isSequential {
		return false
	}
	// Walk the components between slashes.
	start := 1
	for i := 1; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		comp := path[start:i]
		last := i == len(path)
		switch {
		case comp == "" && last && isSequential:
			// Trailing "/" of a sequential create: the appended digit fills it.
		case comp == "":
			return false // "//"
		case (comp == "." || comp == "..") && !(last && isSequential):
			return false // relative component; with a digit appended it is ".1" or "..1"
		}
		start = i + 1
	}
	for i := 0; i < len(path); {
		r, size := utf8.DecodeRuneInString(path[i:])
		if r == utf8.RuneError && size <= 1 {
			return false // invalid UTF-8 arrives as U+FFFD
		}
		if !validPathRune(r) {
			return false
		}
		i += size
	}
	return true
}

// validPathRune reports whether r is allowed in a path (docs/ZOOKEEPER.md §2).
func validPathRune(r rune) bool {
	switch {
	case r == 0:
		return false
	case r <= 0x1f:
		return false
	case r >= 0x7f && r <= 0x9f:
		return false
	case r >= 0xd800 && r <= 0xf8ff:
		return false
	case r >= 0xfff0:
		return false // U+FFF0–FFFF, and everything above the BMP (surrogate pairs in Java)
	}
	return true
}

// splitPath splits a path into its parent's path and its last component, without allocating:
// "/a/b" -> ("/a", "b"), "/a" -> ("/", "a"). The root gives ("", ""). A path without '/' gives
// ok == false.
func splitPath(path string) (parent, name string, ok bool) {
	i := strings.LastIndexByte(path, '/')
	switch {
	case i < 0:
		return "", "", false
	case path == "/":
		return "", "", true
	case i == 0:
		return "/", path[1:], true
	default:
		return path[:i], path[i+1:], true
	}
}

// joinPath is the inverse of splitPath for a child name under parent.
func joinPath(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}
