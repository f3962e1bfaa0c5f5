package fakezk

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidatePath(t *testing.T) {
	// docs/ZOOKEEPER.md §2 (PathUtils.validatePath).
	cases := []struct {
		path  string
		seq   bool
		valid bool
	}{
		{"/", false, true},
		{"/", true, true},
		{"/a", false, true},
		{"/a/b/c", false, true},
		{"/a.b", false, true},
		{"/...", false, true},
		{"/a/.b", false, true},
		{"/a/..b", false, true},
		{"/zookeeper/foo", false, true},
		{"/ünïcödé/日本", false, true},
		{"", false, false},
		{"", true, false},
		{"a", false, false},
		{"a/b", false, false},
		{"/a/", false, false},
		{"/a/", true, true}, // checked as "/a/1"
		{"//", false, false},
		{"//", true, false},
		{"/a//b", false, false},
		{"/a//", true, false},
		{"/.", false, false},
		{"/..", false, false},
		{"/a/.", false, false},
		{"/a/./b", false, false},
		{"/a/../b", false, false},
		{"/a/.", true, true}, // "/a/.1"
		{"/a/..", true, true},
		{"/./a", true, false},
		{"/a\x00b", false, false},
		{"/a\x01", false, false},
		{"/a\x1f", false, false},
		{"/a\x7f", false, false},
		{"/a\u0085", false, false},
		{"/a\u009f", false, false},
		{"/a\u00a0", false, true},
		{"/a\ud7ff", false, true},
		{"/a\ue000", false, false}, // U+D800–F8FF (Java rejects the private-use area too)
		{"/a\uf8ff", false, false},
		{"/a\uf900", false, true},
		{"/a\ufff0", false, false},
		{"/a\uffff", false, false},
		{"/a\U0001F600", false, false}, // a surrogate pair in Java
		{"/a\xff", false, false},       // invalid UTF-8 becomes U+FFFD
	}
	for _, tc := range cases {
		err := ValidatePath(tc.path, tc.seq)
		if tc.valid {
			require.NoError(t, err, "%q seq=%v", tc.path, tc.seq)
		} else {
			require.Equal(t, ErrInvalidPath, err, "%q seq=%v", tc.path, tc.seq)
		}
	}
}

func TestSplitPath(t *testing.T) {
	cases := []struct{ path, parent, name string }{
		{"/", "", ""},
		{"/a", "/", "a"},
		{"/a/b", "/a", "b"},
		{"/a/b/c", "/a/b", "c"},
	}
	for _, tc := range cases {
		parent, name, ok := splitPath(tc.path)
		require.True(t, ok)
		require.Equal(t, tc.parent, parent, tc.path)
		require.Equal(t, tc.name, name, tc.path)
		if tc.path != "/" {
			require.Equal(t, tc.path, joinPath(parent, name))
		}
	}
	_, _, ok := splitPath("nope")
	require.False(t, ok)
}
