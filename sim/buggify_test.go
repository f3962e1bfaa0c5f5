package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Seeds found by hand for the site "zk.slow-fsync": the run disables it with
// seed 1 and enables it with seed 11.
const (
	testSite               = "zk.slow-fsync"
	buggifySeedDisabled    = 1
	buggifySeedEnabled     = 11
	buggifyReachesPerCheck = 1000
)

func fires(w *World, site string, n int) int {
	k := 0
	for range n {
		if w.Buggify(site) {
			k++
		}
	}
	return k
}

func TestBuggifyIsOffUnlessTheRunSwitchesItOn(t *testing.T) {
	mem := &MemorySink{}
	w := New(Options{Seed: buggifySeedEnabled, Sinks: []Sink{mem}})
	assert.False(t, w.BuggifyEnabled())
	assert.Zero(t, fires(w, testSite, buggifyReachesPerCheck))
	assert.Empty(t, w.BuggifySites(), "an off run tracks no sites")
	assert.Empty(t, mem.Records(), "and traces nothing")
	assert.Equal(t, New(Options{}).TraceHash(), w.TraceHash())
}

func TestBuggifySiteDisabledForTheRunNeverFires(t *testing.T) {
	mem := &MemorySink{}
	w := New(Options{Seed: buggifySeedDisabled, Buggify: true, Sinks: []Sink{mem}})
	assert.Zero(t, fires(w, testSite, buggifyReachesPerCheck))
	assert.False(t, w.BuggifyP(testSite, 1), "a disabled site stays silent at any probability")
	assert.Equal(t, []BuggifySite{{Name: testSite, Enabled: false, Reached: buggifyReachesPerCheck + 1}}, w.BuggifySites())
	require.Len(t, mem.Records(), 1, "the site is traced once, at its first reach")
	assert.Equal(t, KindBuggifySite, mem.Records()[0].Kind)
	assert.Equal(t, testSite, mem.Records()[0].Label)
	assert.Equal(t, "enabled=false", mem.Records()[0].Detail())
}

func TestBuggifySiteEnabledForTheRunFiresAtRandom(t *testing.T) {
	mem := &MemorySink{}
	w := New(Options{Seed: buggifySeedEnabled, Buggify: true, Sinks: []Sink{mem}})
	k := fires(w, testSite, buggifyReachesPerCheck)
	// 0.25 of 1000: mean 250, standard deviation about 14.
	assert.InDelta(t, 250, k, 60, "fired %d of %d", k, buggifyReachesPerCheck)
	assert.True(t, w.BuggifyP(testSite, 1))
	assert.False(t, w.BuggifyP(testSite, 0))
	sites := w.BuggifySites()
	require.Len(t, sites, 1)
	assert.Equal(t, BuggifySite{Name: testSite, Enabled: true, Reached: buggifyReachesPerCheck + 2, Fired: uint64(k) + 1}, sites[0])
	assert.Equal(t, "enabled=true", mem.Records()[0].Detail())
	fired := 0
	for _, r := range mem.Records() {
		if r.Kind == KindBuggifyFire {
			fired++
		}
	}
	assert.Equal(t, k+1, fired, "each fire is traced")
}

func TestBuggifySitesDrawFromStreamsOfTheirOwn(t *testing.T) {
	pattern := func(reachOtherFirst int) []bool {
		w := New(Options{Seed: buggifySeedEnabled, Buggify: true})
		fires(w, "other", reachOtherFirst)
		var got []bool
		for range 64 {
			got = append(got, w.Buggify(testSite))
		}
		return got
	}
	assert.Equal(t, pattern(0), pattern(17), "reaching another site never shifts this one's draws")
	w := New(Options{Seed: buggifySeedEnabled, Buggify: true})
	w.Buggify("b")
	w.Buggify("a")
	w.Buggify("b")
	sites := w.BuggifySites()
	require.Len(t, sites, 2)
	assert.Equal(t, "b", sites[0].Name, "sites are listed in order of first reach")
	assert.Equal(t, "a", sites[1].Name)
}

func TestBuggifyMisusePanics(t *testing.T) {
	w := New(Options{Buggify: true})
	assert.Panics(t, func() { w.Buggify("") })
	assert.PanicsWithValue(t, `sim: BuggifyP("x", 1.5): probability outside [0, 1]`, func() { w.BuggifyP("x", 1.5) })
}
