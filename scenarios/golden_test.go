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
		"controller-failover@2.6": "40f87a3dad96a3cf",
		"broker-crash@2.6":        "7c3ae044b8cb8638",
		"controlled-shutdown@2.6": "1a2933d663ee052d",
		"zombie-controller@2.6":   "8f73cfe53ff64966",
		"session-expiry@2.6":      "80c712594ef9f495",
		"preferred-election@2.6":  "fbdf1e84b08c3ba0",
		"reassignment@2.6":        "fb837c9129b5819c",
		"topic-lifecycle@2.6":     "bf0c3a0ad15b45fb",
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
