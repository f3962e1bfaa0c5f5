package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// LatencyKind names a latency distribution.
type LatencyKind uint8

// Latency distributions a link can draw its one-way delay from.
const (
	// LatencyFixed always gives Min.
	LatencyFixed LatencyKind = iota
	// LatencyUniform gives a uniform value in [Min, Max].
	LatencyUniform
	// LatencyPareto gives Min plus a Pareto tail with shape Alpha and scale
	// Scale, capped at Max: mostly near Min, sometimes far beyond (a slow link).
	LatencyPareto
)

// Latency is a one-way delay distribution for a network link.
type Latency struct {
	Kind  LatencyKind
	Min   Duration // the smallest delay; for LatencyFixed, the delay
	Max   Duration // the largest delay (LatencyUniform, LatencyPareto cap)
	Scale Duration // LatencyPareto: the scale of the tail
	Alpha float64  // LatencyPareto: the tail's shape; smaller is heavier
}

// Fixed returns a distribution that always gives d.
func Fixed(d Duration) Latency { return Latency{Kind: LatencyFixed, Min: d, Max: d} }

// Uniform returns a distribution uniform in [min, max].
func Uniform(min, max Duration) Latency { return Latency{Kind: LatencyUniform, Min: min, Max: max} }

// Pareto returns a long-tailed distribution: min plus a Pareto(scale, alpha)
// tail, capped at max.
func Pareto(min, scale Duration, alpha float64, max Duration) Latency {
	return Latency{Kind: LatencyPareto, Min: min, Max: max, Scale: scale, Alpha: alpha}
}

// Validate reports a distribution that cannot be sampled.
func (l Latency) Validate() error {
	switch {
	case l.Min < 0:
		return fmt.Errorf("latency: negative minimum %v", l.Min)
	case l.Kind != LatencyFixed && l.Max < l.Min:
		return fmt.Errorf("latency: maximum %v below minimum %v", l.Max, l.Min)
	case math.IsNaN(l.Alpha) || math.IsInf(l.Alpha, 0):
		return fmt.Errorf("latency: alpha %v is not a number", l.Alpha)
	case l.Kind == LatencyPareto && (l.Alpha <= 0 || l.Scale <= 0):
		return fmt.Errorf("latency: pareto needs alpha > 0 and scale > 0")
	case l.Kind > LatencyPareto:
		return fmt.Errorf("latency: unknown kind %d", l.Kind)
	}
	return nil
}

// Sample draws one delay from r.
func (l Latency) Sample(r *Rand) Duration {
	switch l.Kind {
	case LatencyFixed:
		return l.Min
	case LatencyUniform:
		return r.DurationBetween(l.Min, l.Max)
	case LatencyPareto:
		// Inverse CDF of Pareto(xm=Scale, alpha) minus xm, so the tail starts at 0.
		u := 1 - r.Float64() // (0, 1]
		tail := float64(l.Scale) * (math.Pow(u, -1/l.Alpha) - 1)
		d := l.Min + Duration(math.Min(tail, float64(l.Max-l.Min)))
		return d
	}
	panic(fmt.Sprintf("sim: unknown latency kind %d", l.Kind))
}

// String describes the distribution.
func (l Latency) String() string {
	switch l.Kind {
	case LatencyFixed:
		return fmt.Sprintf("fixed(%v)", l.Min)
	case LatencyUniform:
		return fmt.Sprintf("uniform(%v,%v)", l.Min, l.Max)
	case LatencyPareto:
		return fmt.Sprintf("pareto(min=%v,scale=%v,alpha=%g,max=%v)", l.Min, l.Scale, l.Alpha, l.Max)
	}
	return fmt.Sprintf("latency(%d)", l.Kind)
}

var latencyKindNames = [...]string{LatencyFixed: "fixed", LatencyUniform: "uniform", LatencyPareto: "pareto"}

// latencyJSON is Latency as JSON: the kind by name, durations in integer
// nanoseconds. Every field is written, so a round trip is lossless.
type latencyJSON struct {
	Kind  string   `json:"kind"`
	Min   Duration `json:"min_ns"`
	Max   Duration `json:"max_ns"`
	Scale Duration `json:"scale_ns"`
	Alpha float64  `json:"alpha"`
}

// MarshalJSON encodes l as {"kind": "uniform", "min_ns": ..., "max_ns": ...,
// "scale_ns": ..., "alpha": ...}.
func (l Latency) MarshalJSON() ([]byte, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(latencyJSON{latencyKindNames[l.Kind], l.Min, l.Max, l.Scale, l.Alpha})
}

// UnmarshalJSON decodes what MarshalJSON writes, refusing unknown fields and
// kinds and distributions that cannot be sampled.
func (l *Latency) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var j latencyJSON
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	k := slices.Index(latencyKindNames[:], j.Kind)
	if k < 0 {
		return fmt.Errorf("latency: unknown kind %q (known: %s)", j.Kind, strings.Join(latencyKindNames[:], ", "))
	}
	v := Latency{Kind: LatencyKind(k), Min: j.Min, Max: j.Max, Scale: j.Scale, Alpha: j.Alpha}
	if err := v.Validate(); err != nil {
		return err
	}
	*l = v
	return nil
}
