package history

import (
	"fmt"
	"slices"
)

// The checks Check runs.
const (
	// CheckAckedConsumed: in a durable configuration (Config.Durable), every
	// acknowledged send is polled by every group subscribed to its topic at
	// least once, at the partition and offset it was acknowledged at.
	CheckAckedConsumed = "acked-sends-consumed"
	// CheckOneValuePerOffset: no (topic, partition, offset) is polled with
	// two different values, by one group or by two. Skipped when unclean
	// leader elections are on, or a broker lost power (Config.PowerLoss): a
	// replica outside the ISR that becomes leader, or every replica having
	// lost its unsynced tail, truncates what consumers read and writes other
	// values at those offsets.
	CheckOneValuePerOffset = "one-value-per-offset"
)

// ViolationsMax bounds the violations Check returns; a final one counts the
// rest.
const ViolationsMax = 100

// Violation is one failed check about one line of the history.
type Violation struct {
	Check string // CheckAckedConsumed or CheckOneValuePerOffset
	Line  int    // the line it is about
	Msg   string // one line
}

// String returns "line N: check: message".
func (v Violation) String() string { return fmt.Sprintf("line %d: %s: %s", v.Line, v.Check, v.Msg) }

type position struct {
	topic     string
	partition int32
	offset    int64
}

func (p position) String() string { return fmt.Sprintf("%s/%d@%d", p.topic, p.partition, p.offset) }

type groupValue struct {
	group string
	value uint64
}

// Check runs CheckAckedConsumed and CheckOneValuePerOffset over a history
// read by Read, and returns the violations in line order (at most
// ViolationsMax). Completions of sends other than ok (fail, info) promise
// nothing and are not checked; a poll of a value never acknowledged is
// allowed (info sends may have been written).
func Check(h *History) []Violation {
	var out []Violation
	polled := map[position]map[string]map[uint64]bool{} // position → group → values
	where := map[groupValue]Op{}                        // the first poll of a value by a group
	first := map[position]Op{}                          // the first poll of each position
	reported := map[position]map[uint64]bool{}
	checkValues := !h.Config.UncleanLeaderElection && !h.Config.PowerLoss
	for _, op := range h.Ops {
		if op.F != Poll {
			continue
		}
		pos := position{op.Topic, op.Partition, op.Offset}
		if polled[pos] == nil {
			polled[pos] = map[string]map[uint64]bool{}
		}
		if polled[pos][op.Group] == nil {
			polled[pos][op.Group] = map[uint64]bool{}
		}
		polled[pos][op.Group][op.Value] = true
		if _, ok := where[groupValue{op.Group, op.Value}]; !ok {
			where[groupValue{op.Group, op.Value}] = op
		}
		f, ok := first[pos]
		if !ok {
			first[pos] = op
			continue
		}
		if checkValues && f.Value != op.Value && !reported[pos][op.Value] {
			if reported[pos] == nil {
				reported[pos] = map[uint64]bool{}
			}
			reported[pos][op.Value] = true
			out = append(out, Violation{CheckOneValuePerOffset, op.Line, fmt.Sprintf(
				"%s polled as value %d by group %s, but as %d by group %s on line %d", pos, op.Value, op.Group, f.Value, f.Group, f.Line)})
		}
	}
	if h.Config.Durable() {
		groups := sortedKeys(h.Config.Subscriptions)
		for _, op := range h.Ops {
			if op.F != Send || op.Type != OK {
				continue
			}
			pos := position{op.Topic, op.Partition, op.Offset}
			for _, g := range groups {
				if !slices.Contains(h.Config.Subscriptions[g], op.Topic) || polled[pos][g][op.Value] {
					continue
				}
				msg := fmt.Sprintf("value %d acknowledged at %s was never polled by group %s", op.Value, pos, g)
				if other, ok := where[groupValue{g, op.Value}]; ok {
					msg = fmt.Sprintf("value %d acknowledged at %s was polled by group %s only at %s (line %d)",
						op.Value, pos, g, position{other.Topic, other.Partition, other.Offset}, other.Line)
				}
				out = append(out, Violation{CheckAckedConsumed, op.Line, msg})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Violation) int { return a.Line - b.Line })
	if len(out) > ViolationsMax {
		rest := len(out) - (ViolationsMax - 1)
		out = append(out[:ViolationsMax-1], Violation{out[ViolationsMax-1].Check, out[ViolationsMax-1].Line,
			fmt.Sprintf("and %d more violations from this line on", rest)})
	}
	return out
}
