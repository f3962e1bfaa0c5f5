package scenarios

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kzsim/kzsim/nodes/kafka/broker07"
	"github.com/kzsim/kzsim/nodes/kafka/history"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The 0.7 client scenarios run clean and repeat themselves for a seed, and
// their history has no acknowledged send (a 0.7 produce has no answer).
func TestClients07Runs(t *testing.T) {
	for _, name := range []string{"producer-balance", "consumer-rebalance"} {
		sc, err := Lookup(name)
		require.NoError(t, err)
		require.NoError(t, sc.CheckLayout(Layout07), name)
		for seed := uint64(1); seed <= 3; seed++ {
			var hist bytes.Buffer
			a := sc.Run(Config{Seed: seed, Layout: Layout07, History: &hist})
			b := sc.Run(Config{Seed: seed, Layout: Layout07})
			assert.Empty(t, a.Violations, "%s@0.7 seed %d", name, seed)
			assert.Equal(t, a.TraceHash, b.TraceHash, "%s@0.7 seed %d repeats", name, seed)
			assert.Positive(t, a.Metrics["messages_consumed"], "%s@0.7 seed %d consumes", name, seed)
			h, err := history.Read(&hist)
			require.NoError(t, err)
			assert.Equal(t, history.AcksNone, h.Config.Acks)
			infos := 0
			for _, o := range h.Ops {
				assert.False(t, o.F == history.Send && o.Type == history.OK, "%s@0.7: an acknowledged 0.7 send", name)
				if o.F == history.Send && o.Type == history.Info {
					infos++
				}
			}
			assert.Positive(t, infos, "%s@0.7: sends are info", name)
		}
	}
	r := runClients07(Config{Seed: 1, Layout: Layout07}, consumerRebalance07())
	assert.True(t, strings.Contains(strings.Join(r.Timeline, "\n"), "start-up fails: A broker is already registered"),
		"seed 1 shows 0.7's fast-restart trap")
}

// Each check of the 0.7 client scenarios catches the bug planted for it.
func TestClients07ChecksCatchPlantedBugs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		bugs      clients07Bugs
		invariant string
	}{
		{"consumers all down at the end", clients07Bugs{consumersDownAtEnd: true}, "partitions-owned"},
		{"a broker serving other values on every other fetch", clients07Bugs{data: broker07.DataBugs{FlipValues: true}}, history.CheckOneValuePerOffset},
		{"a broker appending other values", clients07Bugs{data: broker07.DataBugs{WrongValue: true}}, "consumed-was-sent"},
		{"a broker appending other values (logs)", clients07Bugs{data: broker07.DataBugs{WrongValue: true}}, "logged-was-sent"},
		{"a broker stating a high watermark short of its records", clients07Bugs{data: broker07.DataBugs{ShortHighWatermark: true}}, "consumers-below-log-end"},
	} {
		caught := false
		for seed := uint64(1); seed <= 5 && !caught; seed++ {
			plan := consumerRebalance07()
			plan.bugs = tc.bugs
			for _, v := range runClients07(Config{Seed: seed, Layout: Layout07}, plan).Violations {
				caught = caught || v.Invariant == tc.invariant
			}
		}
		assert.True(t, caught, "%s must be caught by %s", tc.name, tc.invariant)
	}
}
