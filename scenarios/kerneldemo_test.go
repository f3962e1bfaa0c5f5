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

func TestKernelDemoTraceSinkSeesWhatTheHashCovers(t *testing.T) {
	mem := &sim.MemorySink{}
	sc, _ := Lookup("kernel-demo")
	r := sc.Run(Config{Seed: 3, Sinks: []sim.Sink{mem}})
	assert.Equal(t, int(r.Metrics["messages_sent"]), countKind(mem.Records, sim.KindMsgSend))
}

func countKind(rs []sim.Record, kind string) int {
	n := 0
	for _, r := range rs {
		if r.Kind == kind {
			n++
		}
	}
	return n
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
