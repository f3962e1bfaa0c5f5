//go:build race

package scenarios

// raceEnabled: the race detector slows simulated runs about tenfold, so the
// many-seed scenario tests run fewer seeds under it (the seed sweep and the
// determinism check cover the rest).
const raceEnabled = true
