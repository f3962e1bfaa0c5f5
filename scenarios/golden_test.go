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
		"controller-failover@2.6": "37406b15effefe59",
		"broker-crash@2.6":        "b6e15586e9143a3a",
		"controlled-shutdown@2.6": "46a114683e0e4795",
		"zombie-controller@2.6":   "61825d14ae73d072",
		"session-expiry@2.6":      "7b982c6067c502a8",
		"preferred-election@2.6":  "c95eb427438e9d1f",
		"reassignment@2.6":        "f08e5b1af61282e6",
		"topic-lifecycle@2.6":     "c4f7f8862dc5f0fc",
		"broker-crash@0.7":        "790e39869ced2ec9",
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
