package sim

import "fmt"

// KindBuggifySite is the trace record of a fault site's first reach: Label is
// the site, Detail says whether the run enabled it. KindBuggifyFire records
// each time an enabled site fires.
const (
	KindBuggifySite = "buggify.site"
	KindBuggifyFire = "buggify.fire"
)

// FoundationDB's probabilities (flow/include/flow/Buggify.h,
// P_GENERAL_BUGGIFIED_SECTION_ACTIVATED and ..._FIRES): a site is enabled
// for a run with 0.25, and an enabled site fires with 0.25 each time it is
// reached.
const (
	BuggifySiteEnabledP = 0.25
	BuggifyFireP        = 0.25
)

// BuggifySite is what a run did with one fault site.
type BuggifySite struct {
	Name    string
	Enabled bool   // the run switched it on at its first reach
	Reached uint64 // how many times it was reached
	Fired   uint64 // how many of those it fired
}

type buggifySite struct {
	BuggifySite
	rand *Rand
}

type buggifyState struct {
	sites map[string]*buggifySite
	order []*buggifySite // in order of first reach
}

// Buggify reports whether the named fault site fires now, as FoundationDB's
// BUGGIFY: code that could take a rare path (a short timeout, a dropped
// cache, a smaller batch) asks at the place, so the simulator reaches the
// rare states. With Options.Buggify off it is always false and draws nothing,
// so runs without it keep their traces. With it on, the site is enabled or
// not for the whole run when first reached (BuggifySiteEnabledP), and an
// enabled site fires with BuggifyFireP each time. Each site draws from a
// stream of its own, named after it, so adding, removing or reaching a site
// more often never changes another site's draws (FoundationDB draws every
// site from one generator). Name sites after what they
// do ("zk.server.slow-fsync"), not where they are, so replays survive edits.
func (w *World) Buggify(site string) bool { return w.BuggifyP(site, BuggifyFireP) }

// BuggifyP is Buggify with the firing probability p of an enabled site
// (FoundationDB's BUGGIFY_WITH_PROB). Whether the site is enabled does not
// depend on p.
func (w *World) BuggifyP(site string, p float64) bool {
	if !w.opts.Buggify {
		return false
	}
	if site == "" {
		panic("sim: Buggify with an empty site name")
	}
	if p < 0 || p > 1 {
		panic(fmt.Sprintf("sim: BuggifyP(%q, %g): probability outside [0, 1]", site, p))
	}
	b := &w.buggify
	s := b.sites[site]
	if s == nil {
		if b.sites == nil {
			b.sites = map[string]*buggifySite{}
		}
		s = &buggifySite{BuggifySite: BuggifySite{Name: site}, rand: w.Rand("sim.buggify/" + site)}
		s.Enabled = s.rand.Chance(BuggifySiteEnabledP)
		b.sites[site] = s
		b.order = append(b.order, s)
		if w.tracing {
			w.record(KindBuggifySite, Kernel, Kernel, 0, site, Bool("enabled", s.Enabled))
		}
	}
	s.Reached++
	if !s.Enabled || !s.rand.Chance(p) {
		return false
	}
	s.Fired++
	if w.tracing {
		w.record(KindBuggifyFire, Kernel, Kernel, 0, site)
	}
	return true
}

// BuggifyEnabled reports whether the run has fault sites switched on
// (Options.Buggify).
func (w *World) BuggifyEnabled() bool { return w.opts.Buggify }

// BuggifySites returns every fault site reached so far, in order of first
// reach, for reports: which were enabled, how often each was reached and
// fired.
func (w *World) BuggifySites() []BuggifySite {
	out := make([]BuggifySite, len(w.buggify.order))
	for i, s := range w.buggify.order {
		out[i] = s.BuggifySite
	}
	return out
}
