package scenarios

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestIdempotentProducerScenario: over a few seeds the producers' retries
// meet batches the leaders already hold (acknowledged after a retry) and
// no check fails.
func TestIdempotentProducerScenario(t *testing.T) {
	if raceEnabled {
		t.Skip("many runs; covered without -race")
	}
	retried := 0.0
	for seed := uint64(1); seed <= 3; seed++ {
		res := runKafka(Config{Seed: seed}, idempotentProducerPlan())
		assert.Empty(t, res.Violations, "seed %d", seed)
		assert.Positive(t, res.Metrics["messages_acked"], "seed %d", seed)
		retried += res.Metrics["messages_acked_after_retry"]
	}
	assert.Positive(t, retried, "no message was acknowledged after a retry on seeds 1-3")
}

// TestNoIdempotentDuplicatesCatchesThePlantedBug: leaders that append an
// idempotent producer's retries without checking their sequences write
// them twice, and the check says so.
func TestNoIdempotentDuplicatesCatchesThePlantedBug(t *testing.T) {
	if raceEnabled {
		t.Skip("many runs; covered without -race")
	}
	for seed := uint64(1); seed <= 10; seed++ {
		plan := idempotentProducerPlan()
		plan.bugs.noProducerDedupe = true
		for _, v := range runKafka(Config{Seed: seed}, plan).Violations {
			if v.Invariant == CheckNoIdempotentDuplicates {
				t.Logf("seed %d: %s", seed, v.Message)
				return
			}
		}
	}
	t.Errorf("%s never fired on seeds 1-10 with BugNoProducerDedupe", CheckNoIdempotentDuplicates)
}
