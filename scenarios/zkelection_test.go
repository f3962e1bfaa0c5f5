package scenarios

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/sim"
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

// Each check of zk-election catches the bug planted for it within a few seeds.
func TestZKElectionChecksCatchPlantedBugs(t *testing.T) {
	for _, tc := range []struct {
		plan      electionPlan
		invariant string
	}{
		{electionPlan{serverBugKeepEphemerals: true}, "ephemerals-belong-to-live-sessions"},
		{electionPlan{keepBeliefOnExpiry: true}, "one-leader-after-heal"},
		{electionPlan{noRegisterWait: true}, "members-registered"},
		{electionPlan{leaveCrashed: true}, "sessions-recover"},
	} {
		caught := false
		for seed := uint64(1); seed <= 20 && !caught; seed++ {
			r := runZKElection(Config{Seed: seed}, tc.plan)
			for _, v := range r.Violations {
				caught = caught || v.Invariant == tc.invariant
			}
		}
		assert.True(t, caught, "%+v must be caught by %s", tc.plan, tc.invariant)
	}
}

func TestZKElectionZxidCheckCatchesAGoingBack(t *testing.T) {
	e := &election{ephemeralSeen: map[string]bool{}}
	w := sim.New(sim.Options{})
	e.recorder = newRecorder(w, "zk-election", 0)
	e.srv = fakezk.NewServer(w, "zk", fakezk.ServerConfig{})
	e.lastZxid = 5 // as if the server had been at 5 and came back at 0
	e.checkStep()
	require.Len(t, e.result.Violations, 1)
	assert.Equal(t, "zxid-monotonic", e.result.Violations[0].Invariant)
}
