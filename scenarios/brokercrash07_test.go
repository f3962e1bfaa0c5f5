package scenarios

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/nodes/kafka/broker07"
	"github.com/kzsim/kzsim/sim"
)

func TestBrokerCrash07HoldsAndReplays(t *testing.T) {
	sc, err := Lookup("broker-crash")
	require.NoError(t, err)
	assert.Equal(t, []string{LayoutController, Layout07}, sc.Layouts)
	for seed := uint64(1); seed <= 8; seed++ {
		a := sc.Run(Config{Seed: seed, Layout: Layout07})
		b := sc.Run(Config{Seed: seed, Layout: Layout07})
		assert.Empty(t, a.Violations, "seed %d", seed)
		assert.Equal(t, a.TraceHash, b.TraceHash, "seed %d replays", seed)
		assert.GreaterOrEqual(t, a.Metrics["broker_registrations"], float64(crash07Brokers), "seed %d: each broker registers at start", seed)
		assert.Contains(t, a.Replay, "--layout 0.7")
	}
}

// The registrations are typed trace records: one per broker registration,
// with its broker id, session and why.
func TestBrokerCrash07TracesRegistrations(t *testing.T) {
	sink := &sim.MemorySink{}
	r := runBrokerCrash07(Config{Seed: 1, Layout: Layout07, Sinks: []sim.Sink{sink}}, crash07Plan{})
	require.True(t, r.OK(), "%v", r.Violations)
	kinds := map[string]int{}
	var first *sim.Record
	for _, rec := range sink.All() {
		if strings.HasPrefix(rec.Kind, "kafka.07.") {
			kinds[rec.Kind]++
			if rec.Kind == broker07.KindRegistered && first == nil {
				c := rec
				first = &c
			}
		}
	}
	assert.Equal(t, int(r.Metrics["broker_registrations"]+r.Metrics["broker_reregistrations"]), kinds[broker07.KindRegistered])
	assert.Equal(t, int(r.Metrics["topic_registrations"]), kinds[broker07.KindTopicRegistered])
	require.NotNil(t, first)
	why, ok := first.Attr("why")
	require.True(t, ok)
	assert.Equal(t, "startup", why.Str)
	broker, ok := first.Attr("broker")
	require.True(t, ok)
	assert.Equal(t, sim.AttrInt, broker.Kind)
	session, ok := first.Attr("session")
	require.True(t, ok)
	assert.NotZero(t, session.Num)
}

// After settling, the live brokers' registry matches what they host; the
// dump shows it.
func TestBrokerCrash07DumpsTheRegistry(t *testing.T) {
	var dump, log bytes.Buffer
	r := runBrokerCrash07(Config{Seed: 2, Layout: Layout07, ZKDump: &dump, ZKLog: &log}, crash07Plan{})
	require.True(t, r.OK(), "%v", r.Violations)
	nodes, err := fakezk.ReadDump(bytes.NewReader(dump.Bytes()))
	require.NoError(t, err)
	for _, p := range []string{"/brokers", "/brokers/ids", "/brokers/topics/orders", "/brokers/topics/orders/0"} {
		assert.Contains(t, nodes, p)
	}
	assert.Equal(t, "4", string(nodes["/brokers/topics/orders/0"].Data))
	assert.NotZero(t, nodes["/brokers/topics/orders/0"].EphemeralOwner)
	replayed, err := fakezk.ReplayTxnLog(bytes.NewReader(log.Bytes()))
	require.NoError(t, err)
	var again bytes.Buffer
	require.NoError(t, fakezk.WriteDump(&again, fakezk.ViewOf(replayed)))
	assert.Equal(t, dump.String(), again.String(), "the log replays to the dump")
}

// Each settle check catches the bug planted for it within a few seeds.
func TestBrokerCrash07ChecksCatchPlantedBugs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		plan      crash07Plan
		invariant string
	}{
		{"a broker that re-registers nothing on a new session", crash07Plan{brokerBugs: broker07.Bugs{NoReRegister: true}}, BrokersRegistered07},
		{"no supervisor: a broker whose start-up failed stays down", crash07Plan{noSupervisor: true}, BrokersRegistered07},
		{"the server keeps a lost broker's ephemerals", crash07Plan{serverBugKeepEphemerals: true, forceLose: true}, LostBrokerUnregistered07},
		{"the server keeps a lost broker's ephemerals (safety)", crash07Plan{serverBugKeepEphemerals: true, forceLose: true}, invariants.EphemeralsBelongToLiveSessions},
	} {
		caught := false
		for seed := uint64(1); seed <= 20 && !caught; seed++ {
			r := runBrokerCrash07(Config{Seed: seed, Layout: Layout07}, tc.plan)
			for _, v := range r.Violations {
				caught = caught || v.Invariant == tc.invariant
			}
		}
		assert.True(t, caught, "%s must be caught by %s", tc.name, tc.invariant)
	}
}

// The controller layout of broker-crash is not written yet: it is refused.
func TestControllerScenariosRefuseLayout07(t *testing.T) {
	for _, name := range []string{"controller-failover", "zombie-controller", "reassignment"} {
		sc, err := Lookup(name)
		require.NoError(t, err)
		assert.Error(t, sc.CheckLayout(Layout07), name)
		assert.NoError(t, sc.CheckLayout(""), name)
	}
}

// Over a few seeds the scenario exercises what it is about: fast restarts
// that meet their old registration and exit, supervisor restarts,
// re-registration on new sessions, topics registered at runtime, and a
// broker lost for good.
func TestBrokerCrash07ExercisesItsStories(t *testing.T) {
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 20; seed++ {
		r := runBrokerCrash07(Config{Seed: seed, Layout: Layout07}, crash07Plan{})
		require.True(t, r.OK(), "seed %d: %v", seed, r.Violations)
		for _, m := range []string{"startup_failures", "supervisor_restarts", "broker_reregistrations", "produces_lost"} {
			seen[m] = seen[m] || r.Metrics[m] > 0
		}
		for _, l := range r.Timeline {
			seen["new-topic"] = seen["new-topic"] || strings.Contains(l, "(new-topic)")
			seen["lost"] = seen["lost"] || strings.Contains(l, "is lost for good")
			seen["already registered"] = seen["already registered"] || strings.Contains(l, "A broker is already registered on the path")
		}
	}
	for _, s := range []string{"startup_failures", "supervisor_restarts", "broker_reregistrations", "produces_lost", "new-topic", "lost", "already registered"} {
		assert.True(t, seen[s], "no seed of 1-20 shows %s", s)
	}
}
