package zkconform

import (
	"fmt"
	"sort"
	"strings"
)

// NormRecord is one step of a trace after normalisation: plain strings that
// two conforming targets produce identically.
type NormRecord struct {
	Step    string   // FormatStep of the step
	Outcome string   // the normalised outcome
	Events  []string // per logical session, "s1: NodeCreated ~/a, ..." (empty sessions omitted)
}

// Normalized is a whole trace after normalisation, plus the problems found
// inside the trace itself (its clock disagreeing with its zxids, say),
// which are divergences whatever the other target did.
type Normalized struct {
	Setup     string
	Records   []NormRecord
	Anomalies []string
}

// Normalize removes from a trace what may legitimately differ between two
// runs or two implementations (docs/ZOOKEEPER.md §19):
//   - paths are shown relative to the root ("~", "~/a");
//   - session ids and ephemeralOwner become logical names (s0, s0.1, ...);
//   - children are sorted;
//   - zxids become their rank among the distinct non-zero zxids the trace
//     saw (0 stays 0), so only their order and equalities count;
//   - ctime/mtime are not compared; instead each trace must be consistent
//     with itself: one time per zxid, and times that never go backwards as
//     zxids grow (so ctime==mtime after a create, the parent's mtime stays
//     put on a child create, ...). Violations are Anomalies;
//   - stats returned alongside errors are dropped;
//   - session state events other than Expired are dropped (timing), and
//     the events of a close or expiry step are sorted, because the server
//     deletes a session's ephemerals in hash-set order; so are the events
//     a disconnected session gets on reconnecting (setWatches, whose
//     lists go-zk builds in map order).
func Normalize(tr *Trace) Normalized {
	n := Normalized{Setup: tr.Setup}
	ranks, anomalies := zxidRanks(tr)
	n.Anomalies = anomalies
	nz := &normalizer{root: tr.Root, ranks: ranks, names: tr.SessionNames}
	for _, rec := range tr.Records {
		nr := NormRecord{Step: FormatStep(rec.Step), Outcome: nz.outcome(rec.Step, rec.Outcome)}
		for i, evs := range rec.Events {
			var parts []string
			for _, ev := range evs {
				if s, ok := nz.event(ev); ok {
					parts = append(parts, s)
				}
			}
			if rec.Step.Op == OpClose || rec.Step.Op == OpExpire ||
				rec.Step.Op == OpDisconnect && i == rec.Step.Session {
				// A reconnected go-zk lists its watches for setWatches
				// in map order, and the server answers in list order.
				sort.Strings(parts)
			}
			if len(parts) > 0 {
				nr.Events = append(nr.Events, fmt.Sprintf("s%d: %s", i, strings.Join(parts, ", ")))
			}
		}
		n.Records = append(n.Records, nr)
	}
	return n
}

// statsOf lists the stats of an outcome that Normalize shows.
func statsOf(s Step, o Outcome) []*Stat {
	var out []*Stat
	if o.Harness != "" {
		return nil
	}
	if o.Err == CodeOK && o.Stat != nil {
		switch s.Op {
		case OpGet, OpSet, OpChildren:
			out = append(out, o.Stat)
		case OpExists:
			if o.Exists {
				out = append(out, o.Stat)
			}
		}
	}
	if o.Err == CodeOK && o.Stat != nil && (s.Op == OpGetACL || s.Op == OpSetACL) {
		out = append(out, o.Stat)
	}
	if s.Op == OpMulti {
		for i, m := range o.Multi {
			if m.Err == CodeOK && m.Stat != nil && i < len(s.Ops) && s.Ops[i].Op == OpSet {
				out = append(out, m.Stat)
			}
		}
	}
	if s.Op == OpDisconnect {
		for i, d := range o.During {
			if i < len(s.During) {
				out = append(out, statsOf(s.During[i], d)...)
			}
		}
	}
	return out
}

// zxidRanks ranks the distinct non-zero zxids of the shown stats and
// checks the trace's times against them.
func zxidRanks(tr *Trace) (map[int64]int, []string) {
	timeOf := map[int64]int64{}
	all := map[int64]bool{}
	var anomalies []string
	note := func(step int, zxid, t int64, what string) {
		if zxid == 0 {
			return
		}
		all[zxid] = true
		if prev, ok := timeOf[zxid]; ok && prev != t {
			anomalies = append(anomalies, fmt.Sprintf("step %d: %s %d differs from time %d seen before for the same zxid", step, what, t, prev))
			return
		}
		timeOf[zxid] = t
	}
	for i, rec := range tr.Records {
		for _, st := range statsOf(rec.Step, rec.Outcome) {
			note(i, st.Czxid, st.Ctime, "ctime")
			note(i, st.Mzxid, st.Mtime, "mtime")
			if st.Pzxid != 0 {
				all[st.Pzxid] = true
			}
		}
	}
	zxids := make([]int64, 0, len(all))
	for z := range all {
		zxids = append(zxids, z)
	}
	sort.Slice(zxids, func(i, j int) bool { return zxids[i] < zxids[j] })
	ranks := make(map[int64]int, len(zxids))
	haveLast, last, lastRank := false, int64(0), 0
	for i, z := range zxids {
		ranks[z] = i + 1
		if t, ok := timeOf[z]; ok {
			if haveLast && t < last {
				anomalies = append(anomalies, fmt.Sprintf("time goes backwards: zxid rank %d has time %d, rank %d had %d", i+1, t, lastRank, last))
			}
			haveLast, last, lastRank = true, t, i+1
		}
	}
	return ranks, anomalies
}

type normalizer struct {
	root  string
	ranks map[int64]int
	names map[int64]string
}

func (nz *normalizer) path(p string) string {
	switch {
	case p == nz.root:
		return "~"
	case strings.HasPrefix(p, nz.root+"/"):
		return showString("~" + p[len(nz.root):])
	}
	return showString(p)
}

func (nz *normalizer) zxid(z int64) int {
	if z == 0 {
		return 0
	}
	if r, ok := nz.ranks[z]; ok {
		return r
	}
	return -1 // cannot happen: every shown zxid is ranked
}

func (nz *normalizer) owner(id int64) string {
	if id == 0 {
		return "-"
	}
	if name, ok := nz.names[id]; ok {
		return name
	}
	return fmt.Sprintf("foreign(%#x)", id)
}

func (nz *normalizer) stat(st *Stat) string {
	return fmt.Sprintf("{cz=%d mz=%d pz=%d v=%d cv=%d av=%d eph=%s len=%d nc=%d}",
		nz.zxid(st.Czxid), nz.zxid(st.Mzxid), nz.zxid(st.Pzxid), st.Version, st.Cversion,
		st.Aversion, nz.owner(st.EphemeralOwner), st.DataLength, st.NumChildren)
}

func (nz *normalizer) outcome(s Step, o Outcome) string {
	if o.Harness != "" {
		return "HARNESS ERROR: " + o.Harness
	}
	if s.Op == OpMulti {
		var b strings.Builder
		if o.Err == CodeOK {
			b.WriteString("ok [")
		} else {
			b.WriteString("err=" + string(o.Err) + " [")
		}
		for i, m := range o.Multi {
			if i > 0 {
				b.WriteString("; ")
			}
			if m.Err != CodeOK {
				b.WriteString("err=" + string(m.Err))
				continue
			}
			b.WriteString("ok")
			if i < len(s.Ops) && o.Err == CodeOK {
				switch s.Ops[i].Op {
				case OpCreate:
					b.WriteString(" " + nz.path(m.Path))
				case OpSet:
					if m.Stat != nil {
						b.WriteString(" " + nz.stat(m.Stat))
					}
				}
			}
		}
		b.WriteString("]")
		return b.String()
	}
	if s.Op == OpDisconnect {
		parts := make([]string, len(o.During))
		for i, d := range o.During {
			if i < len(s.During) {
				parts[i] = nz.outcome(s.During[i], d)
			}
		}
		return "ok [" + strings.Join(parts, "; ") + "]"
	}
	if o.Err != CodeOK {
		return "err=" + string(o.Err)
	}
	stat := func() string {
		if o.Stat == nil {
			return " stat=nil"
		}
		return " " + nz.stat(o.Stat)
	}
	switch s.Op {
	case OpCreate, OpCreateContainer, OpSync:
		return "ok " + nz.path(o.Path)
	case OpGet:
		return "ok data=" + fmtData(o.Data) + stat()
	case OpSet, OpSetACL:
		return "ok" + stat()
	case OpGetACL:
		entries := make([]string, len(o.ACL))
		for i, a := range o.ACL {
			entries[i] = fmt.Sprintf("%d:%s:%s", a.Perms, a.Scheme, showString(a.ID))
		}
		return "ok acl=[" + strings.Join(entries, " ") + "]" + stat()
	case OpExists:
		if !o.Exists {
			return "ok exists=false"
		}
		return "ok exists=true" + stat()
	case OpChildren:
		kids := append([]string(nil), o.Children...)
		sort.Strings(kids)
		for i, k := range kids {
			kids[i] = showString(k)
		}
		return "ok children=[" + strings.Join(kids, " ") + "]" + stat()
	}
	return "ok"
}

// event renders an event, or reports false for events not compared.
func (nz *normalizer) event(ev Event) (string, bool) {
	switch ev.Type {
	case EventSession:
		if ev.State == StateExpired {
			return "Session Expired", true
		}
		return "", false
	case EventNotWatching:
		return "NotWatching " + nz.path(ev.Path) + " " + string(ev.Err), true
	}
	return string(ev.Type) + " " + nz.path(ev.Path), true
}
