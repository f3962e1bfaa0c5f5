package scenarios

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestGoldenTraceHashes pins what seed 1 of each scenario does, in each
// layout it runs ("name@layout"; the name alone for a scenario without a
// Kafka cluster). A change here means every saved replay of that scenario
// is stale: make it on purpose, say so in the commit, and update the hash.
func TestGoldenTraceHashes(t *testing.T) {
	golden := map[string]string{
		"controller-failover@2.6": "d6bd4f7a9092b71f",
		"broker-crash@2.6":        "b42c3c4f88934654",
		"controlled-shutdown@2.6": "6f16979f29141548",
		"zombie-controller@2.6":   "640ae237dac387e7",
		"session-expiry@2.6":      "418ab3ebf4e37d93",
		"preferred-election@2.6":  "263cc85ee254f69d",
		"producer-balance@2.6":    "1884fb23bc247633",
		"consumer-rebalance@2.6":  "6e1d650b51737aea",
		"idempotent-producer@2.6": "7b64180b58e06e90",
		"reassignment@2.6":        "33ccb4e32483abd9",
		"topic-lifecycle@2.6":     "aa64c21a71ac0982",
		"broker-crash@0.7":        "790e39869ced2ec9",
		"producer-balance@0.7":    "a3a01ffd2d94f33b",
		"consumer-rebalance@0.7":  "28bf93c88500e59b",
		"kernel-demo":             "ea8d180096091347",
		"zk-election":             "df375d843250e90f",
	}
	for _, sc := range All() {
		for _, layout := range sc.Forms() {
			key := sc.Name
			if layout != "" {
				key += "@" + layout
			}
			want, ok := golden[key]
			if !assert.True(t, ok, "scenario %s has no golden hash", key) {
				continue
			}
			assert.Equal(t, want, sc.Run(Config{Seed: 1, Layout: layout}).TraceHash, "scenario %s, seed 1", key)
		}
	}
}
