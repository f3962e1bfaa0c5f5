package fakezk

import (
	"crypto/sha1"
	"encoding/base64"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Permission bits of an ACL entry (ZooDefs.Perms; go-zk's Perm* constants).
const (
	PermRead   = 1 << 0
	PermWrite  = 1 << 1
	PermCreate = 1 << 2
	PermDelete = 1 << 3
	PermAdmin  = 1 << 4
	PermAll    = 0x1f
)

// ACL is one access-control entry: the permissions Perms granted to the identity (Scheme, ID).
type ACL struct {
	Perms  int32
	Scheme string
	ID     string
}

// Identity is something a session has authenticated as, e.g. Identity{"digest", "user:base64hash"}
// after AddAuth("digest", "user:pass"). Every caller is implicitly world:anyone as well, so that one
// need not be listed.
type Identity struct {
	Scheme string
	ID     string
}

// Caller is who performs a tree operation: the session (owner of any ephemeral it creates) and the
// identities it has authenticated as (for ACL checks).
type Caller struct {
	Session    int64
	Identities []Identity
}

// WorldACL returns the ACL that grants perms to everyone (world:anyone).
func WorldACL(perms int32) []ACL {
	return []ACL{{Perms: perms, Scheme: "world", ID: "anyone"}}
}

// DigestACL returns the ACL that grants perms to the digest identity of user with password, the id
// ZooKeeper's DigestAuthenticationProvider derives: "user:" + base64(sha1("user:password")).
func DigestACL(perms int32, user, password string) []ACL {
	return []ACL{{Perms: perms, Scheme: "digest", ID: DigestID(user + ":" + password)}}
}

// AuthACL returns the ACL that grants perms to whoever creates the node: the "auth" scheme is expanded
// at create (or setACL) time to the caller's authenticated identities. A caller with none gets
// ErrInvalidACL.
func AuthACL(perms int32) []ACL {
	return []ACL{{Perms: perms, Scheme: "auth", ID: ""}}
}

// DigestID turns the credentials "user:password" given to AddAuth("digest", ...) into the digest id
// stored in ACLs and identities: the part before the first ':' then ':' and the base64 SHA-1 of the
// whole string, as DigestAuthenticationProvider.generateDigest does.
func DigestID(userPassword string) string {
	user, _, _ := strings.Cut(userPassword, ":")
	sum := sha1.Sum([]byte(userPassword))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// DigestIdentity is the Identity a session gains from AddAuth("digest", auth).
func DigestIdentity(auth []byte) Identity {
	return Identity{Scheme: "digest", ID: DigestID(string(auth))}
}

// fixupACL validates acl and expands "auth" entries into the caller's identities, as the server's
// PrepRequestProcessor.fixupACL does: duplicates are dropped first (first one kept), an empty list or a
// malformed entry gives ErrInvalidACL. The result may alias acl when nothing needs changing.
//
// Supported schemes: world (only id "anyone"), auth, digest (id "user:hash"), ip (an address or
// address/bits). Any other scheme is unknown to the fake and gives ErrInvalidACL, as it does on a server
// without that provider configured.
func fixupACL(acl []ACL, ids []Identity) ([]ACL, error) {
	if len(acl) == 0 {
		return nil, ErrInvalidACL
	}
	needCopy := false
	for i, a := range acl {
		if a.Scheme == "auth" {
			needCopy = true
		}
		for j := 0; j < i; j++ {
			if acl[j] == a {
				needCopy = true
			}
		}
	}
	if !needCopy {
		for _, a := range acl {
			if !validACLEntry(a) {
				return nil, ErrInvalidACL
			}
		}
		return acl, nil
	}
	out := make([]ACL, 0, len(acl))
	for i, a := range acl {
		dup := false
		for j := 0; j < i; j++ {
			if acl[j] == a {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		if a.Scheme != "auth" {
			if !validACLEntry(a) {
				return nil, ErrInvalidACL
			}
			out = append(out, a)
			continue
		}
		// "auth" expands to every identity whose provider is "authenticated": here digest only
		// (sasl and x509 are not modelled); never ip, and not "super", which has no provider. The
		// expansion is not de-duplicated again.
		expanded := false
		for _, id := range ids {
			if id.Scheme != "digest" {
				continue
			}
			out = append(out, ACL{Perms: a.Perms, Scheme: id.Scheme, ID: id.ID})
			expanded = true
		}
		if !expanded {
			return nil, ErrInvalidACL
		}
	}
	return out, nil
}

// validACLEntry reports whether the server's provider for a.Scheme accepts a.ID.
func validACLEntry(a ACL) bool {
	switch a.Scheme {
	case "world":
		return a.ID == "anyone"
	case "digest":
		// DigestAuthenticationProvider.isValid: id.split(":").length == 2 (Java drops trailing
		// empty fields).
		return javaSplitLen(a.ID, ':') == 2
	case "ip":
		return validIPACL(a.ID)
	default:
		return false
	}
}

// javaSplitLen is len(s.split(sep)) in Java: trailing empty fields are dropped, and "" gives 1.
func javaSplitLen(s string, sep byte) int {
	if s == "" {
		return 1
	}
	s = strings.TrimRight(s, string(sep))
	if s == "" {
		return 0
	}
	return strings.Count(s, string(sep)) + 1
}

// validIPACL accepts "addr" or "addr/bits" with 0 <= bits <= address length, like
// IPAuthenticationProvider.isValid. Simplified: the address syntax is Go's netip.ParseAddr.
func validIPACL(id string) bool {
	addrStr, bitsStr, hasBits := strings.Cut(id, "/")
	addr, err := netip.ParseAddr(addrStr)
	if err != nil {
		return false
	}
	if !hasBits {
		return true
	}
	bits, err := strconv.Atoi(bitsStr)
	return err == nil && bits >= 0 && bits <= addr.BitLen()
}

// ipMatches reports whether the caller's address matches the ACL's "addr[/bits]" id.
func ipMatches(callerAddr, aclID string) bool {
	caller, err := netip.ParseAddr(callerAddr)
	if err != nil {
		return false
	}
	addrStr, bitsStr, hasBits := strings.Cut(aclID, "/")
	addr, err := netip.ParseAddr(addrStr)
	if err != nil || addr.BitLen() != caller.BitLen() {
		return false
	}
	bits := addr.BitLen()
	if hasBits {
		if bits, err = strconv.Atoi(bitsStr); err != nil {
			return false
		}
	}
	prefix, err := addr.Prefix(bits)
	return err == nil && prefix.Contains(caller)
}

// redactDigests returns a copy of acl in which each digest id "user:hash" reads "user:x", as getACL
// shows it to a caller without ADMIN (the server's id.replaceAll(":.*", ":x")).
func redactDigests(acl []ACL) []ACL {
	out := make([]ACL, len(acl))
	for i, a := range acl {
		if a.Scheme == "digest" {
			if user, _, ok := strings.Cut(a.ID, ":"); ok {
				a.ID = user + ":x"
			}
		}
		out[i] = a
	}
	return out
}

// addIdentity returns ids with id added, the way the server keeps a connection's auth info: a set
// (adding an identity twice keeps one) backed by a java.util.concurrent.ConcurrentHashMap, whose
// iteration order decides the order in which an "auth" ACL entry expands. That order is by hash bin,
// then by insertion within a bin; seen on 3.8: AddAuth u1:p1, u1:p1, u2:p2 then an auth ACL gave
// [digest u2, digest u1]. The result is a new slice. Modelled exactly for up to 11 identities (the
// server's own "ip" identity makes 12, when the map grows from 16 bins and reorders).
func addIdentity(ids []Identity, id Identity) []Identity {
	if slices.Contains(ids, id) {
		return ids
	}
	b := id.bin()
	i := 0
	for i < len(ids) && ids[i].bin() <= b {
		i++
	}
	return slices.Insert(slices.Clone(ids), i, id)
}

// bin is the bucket of the identity in a 16-bin Java hash map: the jute-generated Id.hashCode
// (17, then 37*h + scheme.hashCode(), then 37*h + id.hashCode()) spread as HashMap and
// ConcurrentHashMap do, h ^ h>>>16, masked to 4 bits.
func (id Identity) bin() int {
	h := int32(17)
	h = 37*h + javaStringHash(id.Scheme)
	h = 37*h + javaStringHash(id.ID)
	u := uint32(h)
	return int((u ^ u>>16) & 15)
}

// javaStringHash is Java's String.hashCode: over UTF-16 code units, s[0]*31^(n-1) + ... + s[n-1].
func javaStringHash(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

// allowed reports whether a caller with identities ids holds perm on a node with acl, following
// ZooKeeperServer.checkACL: an empty ACL allows everything, a "super" identity allows everything,
// world:anyone matches every caller, digest matches an equal identity, ip matches an identity
// Identity{"ip", addr} whose address lies in the entry's range.
func allowed(acl []ACL, perm int32, ids []Identity) bool {
	if len(acl) == 0 {
		return true
	}
	for _, id := range ids {
		if id.Scheme == "super" {
			return true
		}
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		if a.Scheme == "world" && a.ID == "anyone" {
			return true
		}
		for _, id := range ids {
			if id.Scheme != a.Scheme {
				continue
			}
			if a.Scheme == "ip" {
				if ipMatches(id.ID, a.ID) {
					return true
				}
			} else if id.ID == a.ID {
				return true
			}
		}
	}
	return false
}
