package zkconform

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// BenchConfig describes the throughput benchmark: a get/set mix on a few
// znodes, issued by Depth concurrent callers sharing one client connection
// (so up to Depth requests are pipelined on it), then one-at-a-time gets and
// one-at-a-time sets.
type BenchConfig struct {
	Depth       int           // concurrent callers on one connection (64)
	Znodes      int           // znodes the mix touches (8)
	ReadPercent int           // share of gets in the pipelined mix (80)
	DataSize    int           // bytes written by each set (100)
	Warmup      time.Duration // untimed pipelined mix first, for the server's JIT (1 s)
	Duration    time.Duration // length of the pipelined phase (5 s)
	SerialTime  time.Duration // length of each one-at-a-time phase (2 s)
	Seed        uint64        // seeds the callers' choices
}

// DefaultBenchConfig is the benchmark cmd/zkconform --bench runs.
func DefaultBenchConfig() BenchConfig {
	return BenchConfig{Depth: 64, Znodes: 8, ReadPercent: 80, DataSize: 100,
		Warmup: time.Second, Duration: 5 * time.Second, SerialTime: 2 * time.Second, Seed: 1}
}

// BenchResult holds the benchmark's figures. For the fake side the rates
// are operations per second of wall-clock time spent simulating them.
type BenchResult struct {
	PipelinedOps       int64
	PipelinedOpsPerSec float64
	SerialGetsPerSec   float64
	SerialSetsPerSec   float64
}

// String renders the figures on one line.
func (r BenchResult) String() string {
	return fmt.Sprintf("pipelined %.0f ops/s (%d ops), one-at-a-time gets %.0f/s, sets %.0f/s",
		r.PipelinedOpsPerSec, r.PipelinedOps, r.SerialGetsPerSec, r.SerialSetsPerSec)
}

// RealBench runs the benchmark against the real server at addr, under the
// znode root (created if needed).
func RealBench(addr, root string, cfg BenchConfig) (BenchResult, error) {
	var res BenchResult
	conn, _, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogger(discardLogger{}), zk.WithLogInfo(false))
	if err != nil {
		return res, err
	}
	defer conn.Close()
	if err := waitFor(10*time.Second, func() bool { return conn.State() == zk.StateHasSession }); err != nil {
		return res, fmt.Errorf("no session: %v", err)
	}
	acl := zk.WorldACL(zk.PermAll)
	parts := strings.Split(strings.TrimPrefix(root, "/"), "/")
	for i := range parts {
		p := "/" + strings.Join(parts[:i+1], "/")
		if _, err := conn.Create(p, nil, 0, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return res, fmt.Errorf("create %s: %v", p, err)
		}
	}
	data := make([]byte, cfg.DataSize)
	paths := make([]string, cfg.Znodes)
	for i := range paths {
		paths[i] = fmt.Sprintf("%s/n%d", root, i)
		if _, err := conn.Create(paths[i], data, 0, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return res, fmt.Errorf("create %s: %v", paths[i], err)
		}
	}

	// Pipelined mix: a warm-up round, then the measured one.
	if cfg.Warmup > 0 {
		if _, _, err := pipelined(conn, paths, data, cfg, cfg.Warmup); err != nil {
			return res, fmt.Errorf("warm-up: %v", err)
		}
	}
	n, elapsed, err := pipelined(conn, paths, data, cfg, cfg.Duration)
	if err != nil {
		return res, fmt.Errorf("pipelined phase: %v", err)
	}
	res.PipelinedOps = n
	res.PipelinedOpsPerSec = float64(n) / elapsed.Seconds()

	serial := func(op func(p string) error) (float64, error) {
		n := 0
		start := time.Now()
		for time.Since(start) < cfg.SerialTime {
			if err := op(paths[n%len(paths)]); err != nil {
				return 0, err
			}
			n++
		}
		return float64(n) / time.Since(start).Seconds(), nil
	}
	if res.SerialGetsPerSec, err = serial(func(p string) error { _, _, err := conn.Get(p); return err }); err != nil {
		return res, fmt.Errorf("serial gets: %v", err)
	}
	if res.SerialSetsPerSec, err = serial(func(p string) error { _, err := conn.Set(p, data, -1); return err }); err != nil {
		return res, fmt.Errorf("serial sets: %v", err)
	}
	return res, nil
}

// pipelined runs the get/set mix from cfg.Depth goroutines sharing conn for
// d and returns how many operations completed.
func pipelined(conn *zk.Conn, paths []string, data []byte, cfg BenchConfig, d time.Duration) (int64, time.Duration, error) {
	var ops atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for g := 0; g < cfg.Depth; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(cfg.Seed, uint64(g)))
			for time.Now().Before(deadline) {
				p := paths[r.IntN(len(paths))]
				var err error
				if r.IntN(100) < cfg.ReadPercent {
					_, _, err = conn.Get(p)
				} else {
					_, err = conn.Set(p, data, -1)
				}
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				ops.Add(1)
			}
		}(g)
	}
	wg.Wait()
	return ops.Load(), time.Since(start), firstErr
}
