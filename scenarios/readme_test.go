package scenarios

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kzsim/kzsim/sim"
)

// TestREADMETraceExampleIsTrue: the trace lines the README shows are lines
// of the trace that `simrun run --scenario zk-election --seed 1 --trace`
// writes, byte for byte.
func TestREADMETraceExampleIsTrue(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	const intro = "`simrun run --scenario zk-election --seed 1 --trace FILE`):\n```\n"
	i := bytes.Index(readme, []byte(intro))
	require.GreaterOrEqual(t, i, 0, "README introduces its trace example with %q", intro)
	block := readme[i+len(intro):]
	block = block[:bytes.Index(block, []byte("```"))]
	example := strings.Split(strings.TrimSpace(string(block)), "\n")
	require.NotEmpty(t, example)

	var buf bytes.Buffer
	js := sim.NewJSONSink(&buf)
	sc, err := Lookup("zk-election")
	require.NoError(t, err)
	sc.Run(Config{Seed: 1, Sinks: []sim.Sink{js}})
	require.NoError(t, js.Flush())
	lines := map[string]bool{}
	for _, l := range strings.Split(buf.String(), "\n") {
		lines[l] = true
	}
	for _, l := range example {
		require.True(t, lines[l], "README's trace line is not in the trace:\n%s", l)
	}
}
