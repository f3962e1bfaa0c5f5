package scenarios

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestZKElectionHoldsAndReplays(t *testing.T) {
	sc, err := Lookup("zk-election")
	require.NoError(t, err)
	for seed := uint64(1); seed <= 8; seed++ {
		a := sc.Run(Config{Seed: seed})
		b := sc.Run(Config{Seed: seed})
		assert.Empty(t, a.Violations, "seed %d", seed)
		assert.Equal(t, a.TraceHash, b.TraceHash, "seed %d replays", seed)
		assert.Positive(t, a.Metrics["elections_won"], "seed %d", seed)
	}
}

func TestZKElectionCatchesAServerThatKeepsEphemerals(t *testing.T) {
	caught := false
	for seed := uint64(1); seed <= 5 && !caught; seed++ {
		r := runZKElection(Config{Seed: seed}, electionPlan{serverBugKeepEphemerals: true})
		for _, v := range r.Violations {
			caught = caught || v.Invariant == "ephemerals-belong-to-live-sessions"
		}
	}
	assert.True(t, caught, "a server that keeps ephemerals of dead sessions must be caught")
}
