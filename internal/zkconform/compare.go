package zkconform

import (
	"fmt"
	"strings"
)

// Divergence is the first disagreement between two runs of one sequence.
type Divergence struct {
	Seq    int    // sequence index in the run
	Step   int    // step index, or -1 for setup and whole-trace problems
	What   string // one-line summary
	Detail string // the step and both sides, for people
}

// String renders the divergence as a multi-line report.
func (d *Divergence) String() string {
	if d.Step < 0 {
		return fmt.Sprintf("sequence %d: %s\n%s", d.Seq, d.What, d.Detail)
	}
	return fmt.Sprintf("sequence %d, step %d: %s\n%s", d.Seq, d.Step, d.What, d.Detail)
}

// Compare normalises two traces of sequence seq (nameA and nameB label the
// targets in the report) and returns their first divergence, or nil when
// they agree. Harness errors and a trace's inconsistencies with itself are
// divergences too.
func Compare(seq int, nameA string, a *Trace, nameB string, b *Trace) *Divergence {
	na, nb := Normalize(a), Normalize(b)
	return CompareNormalized(seq, nameA, na, nameB, nb)
}

// CompareNormalized is Compare on traces already normalised.
func CompareNormalized(seq int, nameA string, na Normalized, nameB string, nb Normalized) *Divergence {
	w := len(nameA)
	if len(nameB) > w {
		w = len(nameB)
	}
	side := func(name, s string) string { return fmt.Sprintf("  %-*s %s\n", w+1, name+":", s) }
	if na.Setup != "" || nb.Setup != "" {
		return &Divergence{Seq: seq, Step: -1, What: "setup failed",
			Detail: side(nameA, orDash(na.Setup)) + side(nameB, orDash(nb.Setup))}
	}
	for _, x := range []struct {
		name string
		n    Normalized
	}{{nameA, na}, {nameB, nb}} {
		if len(x.n.Anomalies) > 0 {
			return &Divergence{Seq: seq, Step: -1, What: x.name + " is inconsistent with itself",
				Detail: "  " + strings.Join(x.n.Anomalies, "\n  ") + "\n"}
		}
	}
	n := len(na.Records)
	if len(nb.Records) < n {
		n = len(nb.Records)
	}
	for i := 0; i < n; i++ {
		ra, rb := na.Records[i], nb.Records[i]
		harness := strings.HasPrefix(ra.Outcome, "HARNESS") || strings.HasPrefix(rb.Outcome, "HARNESS")
		sameEvents := strings.Join(ra.Events, "\n") == strings.Join(rb.Events, "\n")
		if ra.Outcome == rb.Outcome && sameEvents && !harness {
			continue
		}
		what := "outcomes differ"
		switch {
		case harness:
			what = "harness error"
		case ra.Outcome == rb.Outcome:
			what = "events differ"
		}
		var d strings.Builder
		d.WriteString("  step:  " + ra.Step + "\n")
		d.WriteString(side(nameA, ra.Outcome))
		d.WriteString(side(nameB, rb.Outcome))
		if !sameEvents {
			d.WriteString("  events:\n")
			d.WriteString(side(nameA, orDash(strings.Join(ra.Events, " | "))))
			d.WriteString(side(nameB, orDash(strings.Join(rb.Events, " | "))))
		}
		if i > 0 {
			d.WriteString("  preceding steps:\n")
			from := i - 5
			if from < 0 {
				from = 0
			}
			for j := from; j < i; j++ {
				fmt.Fprintf(&d, "    %2d %s -> %s\n", j, na.Records[j].Step, na.Records[j].Outcome)
			}
		}
		return &Divergence{Seq: seq, Step: i, What: what, Detail: d.String()}
	}
	if len(na.Records) != len(nb.Records) {
		return &Divergence{Seq: seq, Step: n, What: "different number of steps",
			Detail: side(nameA, fmt.Sprint(len(na.Records))) + side(nameB, fmt.Sprint(len(nb.Records)))}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
