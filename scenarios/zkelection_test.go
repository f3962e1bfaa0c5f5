package scenarios

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/invariants"
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
		{electionPlan{serverBugKeepEphemerals: true}, invariants.EphemeralsBelongToLiveSessions},
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

// The ZooKeeper invariants see every commit of the run, and report the
// planted server bug at the step of the expiry that left an ephemeral behind.
func TestZKElectionReportsKeptEphemeralsAsSafety(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := runZKElection(Config{Seed: seed}, electionPlan{serverBugKeepEphemerals: true})
		for _, v := range r.Violations {
			if v.Invariant == invariants.EphemeralsBelongToLiveSessions {
				assert.Equal(t, invariants.Safety, v.Class)
				assert.Positive(t, v.Step)
				assert.Contains(t, v.Message, "closed but its ephemeral")
				return
			}
		}
	}
	t.Fatal("no seed of 1-20 caught the kept ephemerals")
}
