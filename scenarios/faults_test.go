package scenarios

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/sim"
)

// faultTimes returns, per fault id, when the trace says it applied and
// healed, and why it healed.
func faultTimes(t *testing.T, recs []sim.Record) (applied, healed map[sim.FaultID]sim.Time, why map[sim.FaultID]string) {
	applied, healed, why = map[sim.FaultID]sim.Time{}, map[sim.FaultID]sim.Time{}, map[sim.FaultID]string{}
	for _, r := range recs {
		if r.Kind != sim.KindFaultApply && r.Kind != sim.KindFaultHeal {
			continue
		}
		a, ok := r.Attr("id")
		require.True(t, ok, "%s has an id", r.String())
		id := sim.FaultID(a.Num)
		if r.Kind == sim.KindFaultApply {
			applied[id] = r.At
		} else {
			healed[id] = r.At
			w, _ := r.Attr("why")
			why[id] = w.Str
		}
	}
	return applied, healed, why
}

// checkPlannedDurations: every fault of the schedule applies at its time and
// lasts exactly its duration, unless the end of the safety phase heals it or
// (a pause) a crash of its process ends it.
func checkPlannedDurations(t *testing.T, s sim.Schedule, recs []sim.Record, end sim.Time) {
	applied, healed, why := faultTimes(t, recs)
	require.Len(t, applied, len(s))
	for _, e := range s {
		assert.Equal(t, e.At, applied[e.ID], "fault %d applies on time", e.ID)
		crashed := false
		for _, c := range s {
			if e.Kind == sim.FaultPause && c.Kind == sim.FaultCrash && c.Proc == e.Proc && e.At <= c.At && c.At <= e.At.Add(e.Duration) && c.At < end {
				assert.Equal(t, c.At, healed[e.ID], "%s ends with the crash %s", e, c)
				assert.Equal(t, fmt.Sprintf("ended by fault %d", c.ID), why[e.ID], "%s", e)
				crashed = true
				break
			}
		}
		switch {
		case crashed:
		case e.At.Add(e.Duration) < end:
			assert.Equal(t, e.At.Add(e.Duration), healed[e.ID], "%s lasts as planned", e)
			assert.Equal(t, "scheduled", why[e.ID], "%s", e)
		default:
			assert.Equal(t, end, healed[e.ID], "%s ends with the safety phase", e)
			assert.Equal(t, "heal-all", why[e.ID], "%s", e)
		}
	}
}

func TestKernelDemoFaultsLastAsPlanned(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		mem := &sim.MemorySink{}
		r := runKernelDemo(Config{Seed: seed, Sinks: []sim.Sink{mem}}, demoPlan{})
		s, _ := demoSchedule(sim.New(sim.Options{Seed: seed}).Rand("faults"), []string{"n0", "n1", "n2", "n3", "n4"})
		require.NoError(t, s.Validate())
		checkPlannedDurations(t, s, mem.Records(), sim.Time(demoSafetyPhase))
		if seed == 2 {
			// The partition that another fault's heal once ended after 2.5s.
			assert.Contains(t, r.Timeline, "    4.197s  partition n2 | n0 for 2.961s")
			assert.Contains(t, r.Timeline, "    7.158s  heal n2 | n0")
		}
	}
}

func TestZKElectionFaultsLastAsPlanned(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		mem := &sim.MemorySink{}
		runZKElection(Config{Seed: seed, Sinks: []sim.Sink{mem}}, electionPlan{})
		s, _, _ := electionSchedule(sim.New(sim.Options{Seed: seed}).Rand("faults"), []string{"m0", "m1", "m2", "m3"}, "zk")
		require.NoError(t, s.Validate())
		checkPlannedDurations(t, s, mem.Records(), sim.Time(electionSafetyPhase))
	}
}

// TestDemoScheduleLeavesOutFaultsThatWouldDoNothing: no crash of a crashed
// node, never more than demoMaxCrashed down, no pause of a paused or crashed
// node, no process cut from itself.
func TestDemoScheduleLeavesOutFaultsThatWouldDoNothing(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		s, _ := demoSchedule(sim.New(sim.Options{Seed: seed}).Rand("faults"), []string{"n0", "n1", "n2", "n3", "n4"})
		for i, e := range s {
			down, paused := map[string]bool{}, map[string]bool{}
			for _, p := range s[:i] {
				covers := p.At <= e.At && e.At <= p.At.Add(p.Duration)
				switch {
				case p.Kind == sim.FaultCrash && covers:
					down[p.Proc] = true
				case p.Kind == sim.FaultPause && covers:
					paused[p.Proc] = true
				}
			}
			for _, p := range s[:i] { // a crash ends the pause it meets
				if p.Kind == sim.FaultCrash && down[p.Proc] {
					delete(paused, p.Proc)
				}
			}
			switch e.Kind {
			case sim.FaultCrash:
				assert.False(t, down[e.Proc], "seed %d: %s crashes a crashed node", seed, e)
				assert.Less(t, len(down), demoMaxCrashed, "seed %d: %s", seed, e)
			case sim.FaultPause:
				assert.False(t, down[e.Proc] || paused[e.Proc], "seed %d: %s", seed, e)
			}
		}
	}
}
