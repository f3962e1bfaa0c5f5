package scenarios

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/sim"
)

func TestKernelDemoHoldsAndReplays(t *testing.T) {
	sc, err := Lookup("kernel-demo")
	require.NoError(t, err)
	for seed := uint64(1); seed <= 10; seed++ {
		a := sc.Run(Config{Seed: seed})
		b := sc.Run(Config{Seed: seed})
		assert.Empty(t, a.Violations, "seed %d", seed)
		assert.Equal(t, a.TraceHash, b.TraceHash, "seed %d replays", seed)
		assert.Greater(t, a.Metrics["messages_delivered"], 1000.0)
	}
}

// hashWatcher is a sink that checks, at every record it is given, that the
// record moved the world's trace hash (it is covered by the hash), and keeps
// the records and the hash after the last one.
type hashWatcher struct {
	st       *runState
	records  []sim.Record
	last     string
	unhashed int
}

func (h *hashWatcher) Write(r *sim.Record) error {
	h.records = append(h.records, *r)
	if h.st.rec == nil {
		return nil // before the scenario made its recorder
	}
	now := h.st.rec.w.TraceHash()
	if now == h.last {
		h.unhashed++
	}
	h.last = now
	return nil
}

// A sink is given exactly the records the trace hash covers: each record it
// sees moved the hash, nothing was hashed after the last one it saw, every
// event of the run reached it, and having a sink does not change the run.
func TestKernelDemoTraceSinkSeesWhatTheHashCovers(t *testing.T) {
	st := &runState{}
	h := &hashWatcher{st: st}
	r := runKernelDemo(Config{Seed: 3, Sinks: []sim.Sink{h}, run: st}, demoPlan{})
	require.Greater(t, len(h.records), 1000)
	assert.Zero(t, h.unhashed, "records the sink saw that the hash does not cover")
	assert.Equal(t, r.TraceHash, h.last, "the hash covered records after the last one the sink saw")
	var step uint64
	for _, rec := range h.records {
		require.GreaterOrEqual(t, rec.Step, step, "records come in step order")
		require.LessOrEqual(t, rec.Step, step+1, "step %d left no record in the sink", step+1)
		step = rec.Step
	}
	assert.Equal(t, r.Events, step, "the last event reached the sink")
	alone := runKernelDemo(Config{Seed: 3}, demoPlan{})
	assert.Equal(t, alone.TraceHash, r.TraceHash, "a sink changes nothing")
}

func TestKernelDemoLivenessCheckCatchesNoRecovery(t *testing.T) {
	r := runKernelDemo(Config{Seed: 1}, demoPlan{skipHeal: true})
	require.NotEmpty(t, r.Violations)
	assert.Equal(t, "links-recover", r.Violations[0].Invariant)
}

func TestLookupUnknown(t *testing.T) {
	_, err := Lookup("nope")
	assert.ErrorContains(t, err, `unknown scenario "nope" (known: `)
}

func TestKernelDemoFIFOCheckCatchesAGap(t *testing.T) {
	r := runKernelDemo(Config{Seed: 1}, demoPlan{skipNumbers: true})
	require.NotEmpty(t, r.Violations)
	assert.Equal(t, "fifo-per-connection", r.Violations[0].Invariant)
}

// TestKernelDemoSinkRecordsRehashToTheRunHash: what a sink keeps is enough
// to recompute the run's hash (sim.TraceHashOf), the metric counted
// directly agrees with the records, and a sink that loses one record is
// caught.
func TestKernelDemoSinkRecordsRehashToTheRunHash(t *testing.T) {
	mem := &sim.MemorySink{}
	r := runKernelDemo(Config{Seed: 3, Sinks: []sim.Sink{mem}}, demoPlan{})
	assert.Equal(t, r.TraceHash, sim.TraceHashOf(mem.All()))
	sends := 0
	for _, rec := range mem.All() {
		if rec.Kind == sim.KindMsgSend {
			sends++
		}
	}
	assert.Equal(t, int(r.Metrics["messages_sent"]), sends, "the counted metric agrees with the trace")

	// Planted: a sink that misses one record no longer matches the hash.
	lossy := &dropOne{at: mem.Len() / 2, mem: &sim.MemorySink{}}
	r = runKernelDemo(Config{Seed: 3, Sinks: []sim.Sink{lossy}}, demoPlan{})
	assert.NotEqual(t, r.TraceHash, sim.TraceHashOf(lossy.mem.All()))
}

// dropOne is a sink that loses record number at.
type dropOne struct {
	at, n int
	mem   *sim.MemorySink
}

func (d *dropOne) Write(r *sim.Record) error {
	d.n++
	if d.n-1 == d.at {
		return nil
	}
	return d.mem.Write(r)
}
