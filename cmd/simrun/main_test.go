package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func simrun(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestDefaultRunNarrates(t *testing.T) {
	code, out, errOut := simrun()
	assert.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "scenario kernel-demo, seed 1")
	assert.Contains(t, out, "timeline:")
	assert.Contains(t, out, "checks: all held")
}

func TestRunJSON(t *testing.T) {
	code, out, _ := simrun("run", "--scenario", "kernel-demo", "--seed", "7", "--json")
	require.Equal(t, 0, code)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	for _, k := range []string{"scenario", "seed", "status", "trace_hash", "events", "sim_time_ns", "violations", "metrics"} {
		assert.Contains(t, res, k)
	}
	assert.Equal(t, []any{}, res["violations"])
	_, again, _ := simrun("run", "--scenario", "kernel-demo", "--seed", "7", "--json")
	assert.Equal(t, out, again, "same seed, same output")
}

func TestList(t *testing.T) {
	code, out, _ := simrun("list")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "kernel-demo")
	code, out, _ = simrun("list", "--json")
	assert.Equal(t, 0, code)
	var entries []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &entries))
	assert.NotEmpty(t, entries)
}

func TestBadUsageIsOneLineAndExit2(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"run"},
		{"run", "--scenario", "kernel-demo"},
		{"run", "--scenario", "kernel-demo", "--seed", "-3"},
		{"run", "--scenario", "kernel-demo", "--seed", "abc"},
		{"run", "--scenario", "nope", "--seed", "1"},
		{"run", "--scenario", "kernel-demo", "--seed", "1", "--bogus"},
		{"run", "--scenario", "kernel-demo", "--seed", "1", "extra"},
		{"list", "--yaml"},
	} {
		code, out, errOut := simrun(args...)
		assert.Equal(t, 2, code, "%v", args)
		assert.Empty(t, out, "%v", args)
		assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line for %v: %q", args, errOut)
		assert.True(t, strings.HasPrefix(errOut, "simrun: "), errOut)
	}
}

func TestTraceFileIsWrittenAndNeverOverwrittenSilently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.jsonl")
	code, _, errOut := simrun("run", "--scenario", "kernel-demo", "--seed", "2", "--trace", path)
	require.Equal(t, 0, code, errOut)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	assert.Greater(t, len(lines), 1000)
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec))
	assert.Contains(t, rec, "kind")

	code, _, errOut = simrun("run", "--scenario", "kernel-demo", "--seed", "3", "--trace", path)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "exists; remove it or pass --force")
	after, _ := os.ReadFile(path)
	assert.Equal(t, data, after, "the user's file is untouched")

	code, _, _ = simrun("run", "--scenario", "kernel-demo", "--seed", "3", "--trace", path, "--force")
	assert.Equal(t, 0, code)
}
