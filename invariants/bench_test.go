package invariants

import (
	"fmt"
	"testing"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/sim"
)

// benchServer returns a server whose tree holds n persistent znodes and n/10
// ephemerals of one live session, with the ZooKeeper invariants watching it.
func benchServer(b *testing.B, n int) (*zkWatch, *fakezk.Server, int64) {
	w := sim.New(sim.Options{Trace: sim.TraceOff, Latency: sim.Fixed(sim.Millisecond)})
	srv := fakezk.NewServer(w, "zk", fakezk.ServerConfig{})
	id := w.AddProcess("c", sim.ProcessHooks{})
	client := fakezk.Connect(w, id, []sim.ProcID{srv.ID()}, fakezk.ClientConfig{SessionTimeout: 10 * sim.Second})
	w.RunFor(100 * sim.Millisecond)
	session := client.SessionID()
	acl := fakezk.WorldACL(fakezk.PermAll)
	zxid := srv.Zxid() + 1000
	for i := 0; i < n; i++ {
		flags := int32(0)
		caller := fakezk.Caller{}
		if i%10 == 0 {
			flags, caller = fakezk.FlagEphemeral, fakezk.Caller{Session: session}
		}
		if _, _, err := srv.Tree().Create(caller, zxid, 0, fmt.Sprintf("/n%06d", i), []byte("x"), acl, flags); err != nil {
			b.Fatal(err)
		}
	}
	c := NewChecker(w)
	z := &zkWatch{c: c, srv: srv, lastZxid: zxid}
	z.sweep()
	return z, srv, session
}

// One setData commit, as the invariants see it after every write: the cost
// does not grow with the tree.
func BenchmarkZooKeeperInvariantsPerCommit10k(b *testing.B) {
	z, _, session := benchServer(b, 10_000)
	changes := []fakezk.Change{{Type: fakezk.EventNodeDataChanged, Path: "/n000001"}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		z.lastZxid = 0
		z.commit(fakezk.Commit{Kind: fakezk.CommitWrite, Zxid: 1, Session: session, Changes: changes})
	}
	if len(z.c.Violations()) != 0 {
		b.Fatal(z.c.Violations())
	}
}

// The check it replaces: walk the whole tree after every step.
func BenchmarkZooKeeperWalkPerStep10k(b *testing.B) {
	_, srv, _ := benchServer(b, 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	bad := 0
	for i := 0; i < b.N; i++ {
		srv.Tree().Walk(func(_ string, _ []byte, st fakezk.Stat) bool {
			if st.EphemeralOwner != 0 && !srv.SessionAlive(st.EphemeralOwner) {
				bad++
			}
			return true
		})
	}
	if bad != 0 {
		b.Fatal(bad)
	}
}

// An ephemeral's create: a lookup of its owner and the index update.
func BenchmarkZooKeeperInvariantsPerEphemeralCreate10k(b *testing.B) {
	z, srv, session := benchServer(b, 10_000)
	st, ok := srv.Tree().Exists("/n000010")
	if !ok || st.EphemeralOwner != session {
		b.Fatal("no ephemeral /n000010")
	}
	changes := []fakezk.Change{{Type: fakezk.EventNodeCreated, Path: "/n000010"}, {Type: fakezk.EventNodeChildrenChanged, Path: "/"}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		z.lastZxid = 0
		z.commit(fakezk.Commit{Kind: fakezk.CommitWrite, Zxid: st.Czxid, Session: session, Changes: changes})
	}
	if len(z.c.Violations()) != 0 {
		b.Fatal(z.c.Violations())
	}
}
