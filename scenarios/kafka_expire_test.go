package scenarios

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestExpireControllerStartsFailoverClock: an expiry of the controller's
// session is a controller loss the failover metric counts. The fault must
// read /controller before the expiry deletes it (it once read it after,
// and session-expiry reported no failover at all).
func TestExpireControllerStartsFailoverClock(t *testing.T) {
	sc, err := Lookup("session-expiry")
	if !assert.NoError(t, err) {
		return
	}
	res := sc.Run(Config{Seed: 2})
	assert.Empty(t, res.Violations)
	assert.Positive(t, res.Metrics["controller_failovers"], "session-expiry seed 2 expires the controller's session")
	assert.Positive(t, res.Metrics["controller_failover_ns"])
}
