package scenarios

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestGoldenTraceHashes pins what seed 1 of each scenario does. A change here
// means every saved replay of that scenario is stale: make it on purpose,
// say so in the commit, and update the hash.
func TestGoldenTraceHashes(t *testing.T) {
	golden := map[string]string{
		"kernel-demo": "ea8d180096091347",
		"zk-election": "df375d843250e90f",
	}
	for _, sc := range All() {
		want, ok := golden[sc.Name]
		if !assert.True(t, ok, "scenario %s has no golden hash", sc.Name) {
			continue
		}
		assert.Equal(t, want, sc.Run(Config{Seed: 1}).TraceHash, "scenario %s, seed 1", sc.Name)
	}
}
