package scenarios

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/nodes/kafka/history"
)

var kafkaScenarioNames = []string{"controller-failover", "broker-crash", "controlled-shutdown", "zombie-controller",
	"session-expiry", "preferred-election", "reassignment", "topic-lifecycle"}

func TestKafkaScenariosHoldAndReplay(t *testing.T) {
	seeds := uint64(3)
	if raceEnabled {
		seeds = 1
	}
	for _, name := range kafkaScenarioNames {
		for seed := uint64(1); seed <= seeds; seed++ {
			a := runKafka(Config{Seed: seed}, kafkaPlans[name]())
			b := runKafka(Config{Seed: seed}, kafkaPlans[name]())
			assert.Empty(t, a.Violations, "%s seed %d", name, seed)
			assert.Equal(t, a.TraceHash, b.TraceHash, "%s seed %d replays", name, seed)
		}
	}
}

// fires runs the plan with a planted bug over seeds 1..n and reports
// whether the named check failed on at least one of them.
func fires(t *testing.T, name string, seeds uint64, plant func(*kafkaPlan), check string) {
	t.Helper()
	for seed := uint64(1); seed <= seeds; seed++ {
		plan := kafkaPlans[name]()
		plant(&plan)
		for _, v := range runKafka(Config{Seed: seed}, plan).Violations {
			if v.Invariant == check {
				return
			}
		}
	}
	t.Errorf("%s with the planted bug: %s never fired on seeds 1-%d", name, check, seeds)
}

// Each check of the Kafka scenarios catches a planted bug (the invariants
// of invariants.WatchKafka have their own, in package invariants).
func TestKafkaChecksCatchPlantedBugs(t *testing.T) {
	tests := []struct {
		scenario string
		check    string
		plant    func(*kafkaPlan)
	}{
		{"zombie-controller", invariants.NoStaleRequestApplied, func(p *kafkaPlan) { p.bugs.brokerIgnoresControllerEpoch = true }},
		{"broker-crash", "replicas-in-sync", func(p *kafkaPlan) { p.bugs.noIsrExpand = true }},
		{"topic-lifecycle", "topics-deleted", func(p *kafkaPlan) { p.bugs.keepDeletedLogs = true }},
		{"controlled-shutdown", "controlled-shutdown-moves-leaders", func(p *kafkaPlan) { p.bugs.shutdownWithoutController = true }},
		{"reassignment", "reassignments-complete", func(p *kafkaPlan) { p.bugs.wrongReassignTarget = true }},
		{"preferred-election", "preferred-leaders", func(p *kafkaPlan) { p.bugs.skipFinalPreferredElection = true }},
		{"broker-crash", "partitions-have-state", func(p *kafkaPlan) { p.bugs.assignToMissingBrokers = true }},
		{"producer-balance", "acked-messages-durable", func(p *kafkaPlan) { p.bugs.ackAllAtLeader = true }},
		{"consumer-rebalance", history.CheckAckedConsumed, func(p *kafkaPlan) { p.bugs.consumersResetLargest = true }},
		{"consumer-rebalance", "partitions-owned", func(p *kafkaPlan) { p.bugs.consumersDownAtEnd = true }},
		{"broker-crash", "acked-messages-durable", func(p *kafkaPlan) { p.bugs.ackAllAtLeader = true }},
		{"controller-failover", history.CheckAckedConsumed, func(p *kafkaPlan) { p.bugs.consumersResetLargest = true }},
		{"broker-crash", "partitions-owned", func(p *kafkaPlan) { p.bugs.consumersDownAtEnd = true }},
	}
	if raceEnabled {
		t.Skip("many runs; covered without -race")
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s", tt.scenario, tt.check), func(t *testing.T) {
			fires(t, tt.scenario, 10, tt.plant, tt.check)
		})
	}
}

// The scenarios exercise what they are about, over a few seeds.
func TestKafkaScenariosExerciseTheirStories(t *testing.T) {
	tests := []struct {
		scenario string
		metric   string
	}{
		{"controller-failover", "controller_failovers"},
		{"zombie-controller", "requests_rejected"},
		{"session-expiry", "controller_elections"},
		{"controlled-shutdown", "controlled_shutdowns"},
		{"controller-failover", "messages_consumed"},
		{"broker-crash", "messages_acked"},
		{"consumer-rebalance", "rebalances"},
		{"consumer-rebalance", "rebalance_ns.max"},
	}
	if raceEnabled {
		t.Skip("many runs; covered without -race")
	}
	for _, tt := range tests {
		total := 0.0
		for seed := uint64(1); seed <= 5; seed++ {
			total += runKafka(Config{Seed: seed}, kafkaPlans[tt.scenario]()).Metrics[tt.metric]
		}
		assert.Positive(t, total, "%s: %s over seeds 1-5", tt.scenario, tt.metric)
	}
}

// A power loss takes the unsynced log tail with it, and Kafka promises
// nothing then: with brokers that acknowledge acks=all at the leader's
// append (planted), power losses lose acknowledged messages, which the run
// counts (acked_lost) and writes into the history's config line
// (power_loss), but does not judge.
func TestPowerLossIsCountedNotJudged(t *testing.T) {
	if raceEnabled {
		t.Skip("many runs; covered without -race")
	}
	lost := 0.0
	for seed := uint64(1); seed <= 10; seed++ {
		plan := kafkaPlans["broker-crash"]()
		plan.faults = []string{faultPowerLossBroker}
		plan.bugs.ackAllAtLeader = true
		var h bytes.Buffer
		r := runKafka(Config{Seed: seed, History: &h}, plan)
		for _, v := range r.Violations {
			assert.NotEqual(t, "acked-messages-durable", v.Invariant, "seed %d: %s", seed, v)
			assert.NotEqual(t, history.CheckAckedConsumed, v.Invariant, "seed %d: %s", seed, v)
		}
		if r.Metrics["power_losses"] > 0 {
			first, _, _ := strings.Cut(h.String(), "\n")
			assert.Contains(t, first, `"power_loss":true`, "seed %d", seed)
		}
		lost += r.Metrics["acked_lost"]
	}
	assert.Positive(t, lost, "power losses with acks at the leader lose acknowledged messages on seeds 1-10")
}
