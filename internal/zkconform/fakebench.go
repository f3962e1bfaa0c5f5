package zkconform

import (
	"errors"
	"fmt"
	"time"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/sim"
)

// FakeBench runs RealBench's mix through fakezk's client over the simulated
// kernel: one world, one server, one client process. Rates are operations
// per second of wall-clock time spent simulating them (the wall clock is
// read here, by the harness, never by simulated code).
func FakeBench(cfg BenchConfig) (BenchResult, error) {
	var res BenchResult
	if cfg.Depth < 1 || cfg.Znodes < 1 || cfg.ReadPercent < 0 || cfg.ReadPercent > 100 {
		return res, fmt.Errorf("bad bench config %+v", cfg)
	}
	w := sim.New(sim.Options{Seed: cfg.Seed, Trace: sim.TraceOff, MaxEvents: 1 << 62, MaxTime: 1 << 62})
	srv := fakezk.NewServer(w, "zk", fakezk.ServerConfig{TickTime: 200 * sim.Millisecond})
	p := w.AddProcess("bench", sim.ProcessHooks{})
	c := fakezk.Connect(w, p, []sim.ProcID{srv.ID()}, fakezk.ClientConfig{SessionTimeout: 10 * sim.Second})
	w.RunFor(100 * sim.Millisecond)
	if c.State() != fakezk.StateHasSession {
		return res, errors.New("fake: no session")
	}
	paths := make([]string, cfg.Znodes)
	for i := range paths {
		paths[i] = fmt.Sprintf("/bench-%d", i)
		c.Create(paths[i], nil, 0, fakezk.WorldACL(fakezk.PermAll), func(string, error) {})
	}
	w.RunFor(100 * sim.Millisecond)
	data := make([]byte, cfg.DataSize)
	r := sim.NewRand(cfg.Seed)
	var failed error
	note := func(err error) {
		if err != nil && failed == nil {
			failed = err
		}
	}

	// Pipelined: Depth requests always outstanding, for cfg.Duration of wall time.
	var done int64
	stop := false
	var issue func()
	getDone := func(_ []byte, _ *fakezk.Stat, err error) { note(err); done++; issue() }
	setDone := func(_ *fakezk.Stat, err error) { note(err); done++; issue() }
	issue = func() {
		if stop {
			return
		}
		path := paths[r.Intn(len(paths))]
		if r.Intn(100) < cfg.ReadPercent {
			c.Get(path, getDone)
		} else {
			c.Set(path, data, -1, setDone)
		}
	}
	for i := 0; i < cfg.Depth; i++ {
		issue()
	}
	start := time.Now()
	for steps := 0; ; steps++ {
		if steps%4096 == 0 && time.Since(start) >= cfg.Duration {
			break
		}
		if !w.Step() {
			return res, errors.New("fake: the world ran dry")
		}
	}
	stop = true
	elapsed := time.Since(start)
	res.PipelinedOps = done
	res.PipelinedOpsPerSec = float64(done) / elapsed.Seconds()
	w.RunFor(sim.Second) // let the outstanding requests finish

	// One at a time: issue, run until the reply, repeat.
	serial := func(op func(done func())) float64 {
		n := 0
		start := time.Now()
		for time.Since(start) < cfg.SerialTime {
			for i := 0; i < 256; i++ {
				finished := false
				op(func() { finished = true })
				for !finished && w.Step() {
				}
				n++
			}
		}
		return float64(n) / time.Since(start).Seconds()
	}
	res.SerialGetsPerSec = serial(func(d func()) {
		c.Get(paths[0], func(_ []byte, _ *fakezk.Stat, err error) { note(err); d() })
	})
	res.SerialSetsPerSec = serial(func(d func()) {
		c.Set(paths[0], data, -1, func(_ *fakezk.Stat, err error) { note(err); d() })
	})
	if failed != nil {
		return res, fmt.Errorf("fake: an operation failed: %w", failed)
	}
	return res, nil
}
