package invariants

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Metrics are a run's measured figures by name. A name "group.member" is a
// member of a group of figures: JSON writes it as {"group": {"member": v}}
// (messages_per_broker.broker-1, rebalance_ns.p50), so a reader gets an
// object per group; one level only, and a name is either a figure or a
// group, never both. Keys are written sorted, so the encoding is
// deterministic.
type Metrics map[string]float64

// MarshalJSON writes the figures sorted by name, each group as an object.
func (m Metrics) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	keys := slices.Sorted(maps.Keys(m))
	open := "" // the group whose object is being written
	for _, k := range keys {
		group, member, grouped := strings.Cut(k, ".")
		if grouped && (group == "" || member == "" || strings.Contains(member, ".")) {
			return nil, fmt.Errorf("metric %q: a grouped name is group.member, one level", k)
		}
		if _, clash := m[group]; grouped && clash {
			return nil, fmt.Errorf("metric %q is both a figure and a group", group)
		}
		v, err := json.Marshal(m[k])
		if err != nil {
			return nil, fmt.Errorf("metric %q: %w", k, err)
		}
		name := k
		if grouped && group == open {
			b.WriteByte(',') // the next member of the open group
			name = member
		} else {
			if open != "" {
				b.WriteByte('}')
			}
			if b.Len() > 1 {
				b.WriteByte(',')
			}
			open = ""
			if grouped {
				b.WriteString(strconv.Quote(group))
				b.WriteString(":{")
				open, name = group, member
			}
		}
		b.WriteString(strconv.Quote(name))
		b.WriteByte(':')
		b.Write(v)
	}
	if open != "" {
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON writes: figures, and groups of
// figures one level deep.
func (m *Metrics) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	out := Metrics{}
	for k, v := range raw {
		var f float64
		if err := json.Unmarshal(v, &f); err == nil {
			out[k] = f
			continue
		}
		var group map[string]float64
		if err := json.Unmarshal(v, &group); err != nil {
			return fmt.Errorf("metric %q: neither a number nor an object of numbers", k)
		}
		for member, f := range group {
			out[k+"."+member] = f
		}
	}
	*m = out
	return nil
}
