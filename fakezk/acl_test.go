package fakezk

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDigestID(t *testing.T) {
	// The superDigest example of the ZooKeeper admin guide.
	require.Equal(t, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=", DigestID("super:test"))
	require.Equal(t, []ACL{{PermRead, "digest", "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="}}, DigestACL(PermRead, "alice", "secret"))
	// The user is the text before the first ':', the hash covers everything.
	require.Equal(t, Identity{"digest", "bob:Y/LfFgTEMzeSdJM371GRzmUOebQ="}, DigestIdentity([]byte("bob:pw:with:colons")))
	require.Equal(t, "nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g=", DigestID("nocolon"))
}

func TestFixupACL(t *testing.T) {
	dig := DigestIdentity([]byte("alice:secret"))
	ip := Identity{"ip", "127.0.0.1"}
	cases := []struct {
		name string
		acl  []ACL
		ids  []Identity
		want []ACL // nil: ErrInvalidACL
	}{
		{"world", WorldACL(PermAll), nil, WorldACL(PermAll)},
		{"nil", nil, nil, nil},
		{"empty", []ACL{}, nil, nil},
		{"world someone", []ACL{{PermAll, "world", "someone"}}, nil, nil},
		{"unknown scheme", []ACL{{PermAll, "x509", "CN=a"}}, nil, nil},
		{"empty scheme", []ACL{{PermAll, "", ""}}, nil, nil},
		{"digest ok", []ACL{{PermAll, "digest", "u:h"}}, nil, []ACL{{PermAll, "digest", "u:h"}}},
		{"digest trailing colons dropped by Java split", []ACL{{PermAll, "digest", "u:h::"}}, nil, []ACL{{PermAll, "digest", "u:h::"}}},
		{"digest empty user", []ACL{{PermAll, "digest", ":h"}}, nil, []ACL{{PermAll, "digest", ":h"}}},
		{"digest no colon", []ACL{{PermAll, "digest", "u"}}, nil, nil},
		{"digest empty hash", []ACL{{PermAll, "digest", "u:"}}, nil, nil},
		{"digest three parts", []ACL{{PermAll, "digest", "u:h:x"}}, nil, nil},
		{"digest only colons", []ACL{{PermAll, "digest", ":::"}}, nil, nil},
		{"ip", []ACL{{PermAll, "ip", "10.1.2.3"}}, nil, []ACL{{PermAll, "ip", "10.1.2.3"}}},
		{"ip range", []ACL{{PermAll, "ip", "10.0.0.0/8"}}, nil, []ACL{{PermAll, "ip", "10.0.0.0/8"}}},
		{"ip bad bits", []ACL{{PermAll, "ip", "10.0.0.0/33"}}, nil, nil},
		{"ip garbage", []ACL{{PermAll, "ip", "ten"}}, nil, nil},
		{"auth without identities", AuthACL(PermAll), nil, nil},
		{"auth with only ip", AuthACL(PermAll), []Identity{ip}, nil},
		{"auth with only super", AuthACL(PermAll), []Identity{{"super", ""}}, nil},
		{"auth expands to every digest", AuthACL(PermAll), []Identity{dig, {"super", ""}, {"digest", "b:h"}},
			[]ACL{{PermAll, dig.Scheme, dig.ID}, {PermAll, "digest", "b:h"}}},
		{"auth expands to digest", AuthACL(PermRead), []Identity{ip, dig}, []ACL{{PermRead, dig.Scheme, dig.ID}}},
		{"duplicates dropped", []ACL{WorldACL(PermAll)[0], WorldACL(PermRead)[0], WorldACL(PermAll)[0]}, nil,
			[]ACL{WorldACL(PermAll)[0], WorldACL(PermRead)[0]}},
		{"one bad entry spoils all", []ACL{WorldACL(PermAll)[0], {PermAll, "digest", "bad"}}, nil, nil},
		{"one bad entry after auth", []ACL{AuthACL(PermAll)[0], {PermAll, "digest", "bad"}}, []Identity{dig}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fixupACL(tc.acl, tc.ids)
			if tc.want == nil {
				require.Equal(t, ErrInvalidACL, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestAllowed(t *testing.T) {
	dig := DigestIdentity([]byte("alice:secret"))
	mixed := []ACL{
		{PermRead, "world", "anyone"},
		{PermWrite, "digest", dig.ID},
		{PermDelete, "ip", "10.0.0.0/8"},
		{PermAdmin, "ip", "192.168.1.7"},
	}
	cases := []struct {
		name string
		acl  []ACL
		perm int32
		ids  []Identity
		want bool
	}{
		{"world read", mixed, PermRead, nil, true},
		{"no write for anyone", mixed, PermWrite, nil, false},
		{"digest write", mixed, PermWrite, []Identity{dig}, true},
		{"other digest", mixed, PermWrite, []Identity{DigestIdentity([]byte("alice:wrong"))}, false},
		{"scheme must match", mixed, PermWrite, []Identity{{"ip", dig.ID}}, false},
		{"ip in range", mixed, PermDelete, []Identity{{"ip", "10.9.8.7"}}, true},
		{"ip out of range", mixed, PermDelete, []Identity{{"ip", "11.0.0.1"}}, false},
		{"ip exact", mixed, PermAdmin, []Identity{{"ip", "192.168.1.7"}}, true},
		{"ip exact other", mixed, PermAdmin, []Identity{{"ip", "192.168.1.8"}}, false},
		{"create granted to nobody", mixed, PermCreate, []Identity{dig, {"ip", "10.0.0.1"}}, false},
		{"super", mixed, PermCreate, []Identity{{"super", ""}}, true},
		{"empty ACL allows all", nil, PermAdmin, nil, true},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, allowed(tc.acl, tc.perm, tc.ids), tc.name)
	}
}

func TestAuthACLOnCreate(t *testing.T) {
	tr := NewTree()
	_, _, err := tr.Create(bob, 1, 0, "/x", nil, AuthACL(PermAll), 0)
	require.Equal(t, ErrInvalidACL, err)
	_, _, err = tr.Create(alice, 2, 0, "/x", nil, AuthACL(PermAll), 0)
	require.NoError(t, err)
	acl, _, err := tr.GetACL(alice, "/x")
	require.NoError(t, err)
	require.Equal(t, []ACL{{PermAll, "digest", alice.Identities[0].ID}}, acl)
	_, _, err = tr.Set(bob, 3, 0, "/x", nil, -1)
	require.Equal(t, ErrNoAuth, err)
	_, _, err = tr.Set(alice, 4, 0, "/x", nil, -1)
	require.NoError(t, err)
}

// getACL needs READ or ADMIN and hides digest hashes from callers without
// ADMIN, as 3.8 does (seen with go-zk: NoAuth for a digest-only node, and
// [digest u1:x, world READ] for digest ALL + world READ).
func TestGetACLChecksReadOrAdminAndRedactsDigests(t *testing.T) {
	tr := NewTree()
	u1 := DigestACL(PermAll, "alice", "secret")
	mustCreate := func(path string, acl []ACL) {
		t.Helper()
		_, _, err := tr.Create(alice, 1, 0, path, nil, acl, 0)
		require.NoError(t, err)
	}
	mustCreate("/d", u1)
	mustCreate("/dr", append(slices.Clone(u1), WorldACL(PermRead)...))
	mustCreate("/cd", WorldACL(PermCreate|PermDelete))
	mustCreate("/ad", WorldACL(PermAdmin))

	_, _, err := tr.GetACL(bob, "/d")
	require.Equal(t, ErrNoAuth, err, "neither READ nor ADMIN")
	acl, _, err := tr.GetACL(alice, "/d")
	require.NoError(t, err)
	require.Equal(t, u1, acl, "ADMIN sees the hash")

	acl, st, err := tr.GetACL(bob, "/dr")
	require.NoError(t, err)
	require.Equal(t, []ACL{{PermAll, "digest", "alice:x"}, {PermRead, "world", "anyone"}}, acl, "READ without ADMIN")
	require.Equal(t, statOf(t, tr, "/dr"), st)
	stored, _, _ := tr.GetACL(alice, "/dr")
	require.Equal(t, u1[0].ID, stored[0].ID, "redaction must not change the stored ACL")

	_, _, err = tr.GetACL(alice, "/cd")
	require.Equal(t, ErrNoAuth, err, "CREATE|DELETE is not enough, even for the creator")
	acl, _, err = tr.GetACL(bob, "/ad")
	require.NoError(t, err, "ADMIN alone is enough")
	require.Equal(t, WorldACL(PermAdmin), acl)
}

// A connection's auth info is a hash set on the server: duplicates collapse
// and an "auth" ACL expands in hash-bin order. Orders seen on 3.8 (the ACLs
// were read back by getACL).
func TestAddIdentityOrdersLikeTheServer(t *testing.T) {
	ids := func(creds ...string) []Identity {
		var out []Identity
		for _, c := range creds {
			out = addIdentity(out, DigestIdentity([]byte(c)))
		}
		return out
	}
	want := func(creds ...string) []Identity {
		out := make([]Identity, len(creds))
		for i, c := range creds {
			out[i] = DigestIdentity([]byte(c))
		}
		return out
	}
	require.Equal(t, want("u2:p2", "u1:p1"), ids("u1:p1", "u1:p1", "u2:p2"))
	// u1:bad and u5:p5 share a bin: insertion order decides between them.
	require.Equal(t, want("u1:bad", "u5:p5", "u1:p1", "u4:p4", "u3:p3"),
		ids("u3:p3", "u1:bad", "u1:p1", "u5:p5", "u4:p4"))
	require.Equal(t, want("u5:p5", "u1:bad", "u1:p1", "u4:p4", "u3:p3"),
		ids("u5:p5", "u4:p4", "u1:bad", "u3:p3", "u1:p1"))

	acl, err := fixupACL(AuthACL(PermAll), ids("u1:p1", "u1:p1", "u2:p2"))
	require.NoError(t, err)
	require.Equal(t, []ACL{
		{PermAll, "digest", DigestID("u2:p2")},
		{PermAll, "digest", DigestID("u1:p1")},
	}, acl)
}
