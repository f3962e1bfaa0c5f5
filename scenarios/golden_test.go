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
		"controller-failover@2.6": "8f53fd6dfb32690e",
		"broker-crash@2.6":        "f12ef766958868c9",
		"controlled-shutdown@2.6": "97a4b3604095b5c4",
		"zombie-controller@2.6":   "aa1083a54ede8e7f",
		"session-expiry@2.6":      "3f524cb27da98a4d",
		"preferred-election@2.6":  "efa8f1a73b640e46",
		"reassignment@2.6":        "4b8ffa9b91008895",
		"topic-lifecycle@2.6":     "0ba188950b71594e",
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
