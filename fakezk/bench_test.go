package fakezk

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kzsim/kzsim/sim"
)

// benchTree builds a tree of 100 parents × 100 children (10,104 znodes with the parents and the four
// initial nodes) and 4096 precomputed random paths of existing leaves.
func benchTree(b *testing.B) (*Tree, []string) {
	b.Helper()
	tr := NewTree()
	zxid := int64(0)
	var leaves []string
	for p := 0; p < 100; p++ {
		zxid++
		parent := fmt.Sprintf("/parent-%03d", p)
		if _, _, err := tr.Create(bob, zxid, zxid, parent, []byte("p"), openACL, 0); err != nil {
			b.Fatal(err)
		}
		for c := 0; c < 100; c++ {
			zxid++
			child := fmt.Sprintf("%s/child-%03d", parent, c)
			if _, _, err := tr.Create(bob, zxid, zxid, child, []byte("some data of typical size"), openACL, 0); err != nil {
				b.Fatal(err)
			}
			leaves = append(leaves, child)
		}
	}
	if tr.Len() != 10104 {
		b.Fatalf("tree has %d znodes", tr.Len())
	}
	rng := rand.New(rand.NewPCG(1, 2))
	paths := make([]string, 4096)
	for i := range paths {
		paths[i] = leaves[rng.IntN(len(leaves))]
	}
	return tr, paths
}

func BenchmarkGetData10k(b *testing.B) {
	tr, paths := benchTree(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, _, err := tr.Get(bob, paths[i&4095]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSetData10k(b *testing.B) {
	tr, paths := benchTree(b)
	data := []byte("new data of typical size!")
	zxid := int64(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		zxid++
		if _, _, err := tr.Set(bob, zxid, zxid, paths[i&4095], data, -1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreateDelete10k(b *testing.B) {
	tr, _ := benchTree(b)
	zxid := int64(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		zxid++
		if _, _, err := tr.Create(bob, zxid, zxid, "/parent-050/tmp", nil, openACL, 0); err != nil {
			b.Fatal(err)
		}
		if _, err := tr.Delete(bob, zxid, "/parent-050/tmp", -1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMulti10k(b *testing.B) {
	tr, paths := benchTree(b)
	zxid := int64(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		zxid++
		ops := []Op{
			&CheckVersionRequest{Path: "/parent-000", Version: 0},
			&SetDataRequest{Path: paths[i&4095], Data: []byte("x"), Version: -1},
		}
		if _, _, err := tr.Multi(bob, zxid, zxid, ops); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMulti10kClone is BenchmarkMulti10k through the clone path that dependent multis take (and
// every multi took before the in-place path), for comparison.
func BenchmarkMulti10kClone(b *testing.B) {
	tr, paths := benchTree(b)
	zxid := int64(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		zxid++
		ops := []Op{
			&CheckVersionRequest{Path: "/parent-000", Version: 0},
			&SetDataRequest{Path: paths[i&4095], Data: []byte("x"), Version: -1},
		}
		if _, _, err := tr.multi(bob, zxid, zxid, ops, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPipelinedWrites sends b.N setData requests at once from one client and reports the
// virtual time they take per write (virtual-µs/op), with group commit (the default) and with one
// fsync per write (MaxBatchSize 1).
func BenchmarkPipelinedWrites(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  ServerConfig
	}{{"GroupCommit", ServerConfig{}}, {"FsyncEach", ServerConfig{MaxBatchSize: 1}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			r := pipelinedWrites(b, bc.cfg, b.N)
			b.ReportMetric(float64(r.elapsed)/float64(sim.Microsecond)/float64(b.N), "virtual-µs/op")
			b.ReportMetric(float64(r.stats.FsyncedTxns)/float64(max(r.stats.Fsyncs, 1)), "txns/fsync")
		})
	}
}
