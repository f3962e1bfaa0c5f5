// Package history is the client history of a run as JSON lines, in the
// style of Jepsen's histories (invoke/ok/fail/info operations; the Kafka
// workload is jepsen-io/jepsen `jepsen/src/jepsen/tests/kafka.clj`, whose
// checker also looks for lost writes and offsets read with two values): a
// configuration line, then one line
// per client operation in virtual-time order, so any checker can judge a run
// from the outside. Writer writes it, Read reads it back strictly, and Check
// is a small checker over it.
//
// The lines, with their fields in this order:
//
//	{"type":"config","acks":"all","min_insync_replicas":2,"unclean_leader_election":false,"subscriptions":{"g":["t"]}}
//	{"type":"invoke","f":"send","process":"p1","topic":"t","key":7,"value":1,"t_ns":10}
//	{"type":"ok","f":"send","process":"p1","topic":"t","key":7,"value":1,"partition":0,"offset":0,"t_ns":20}
//	{"type":"ok","f":"poll","process":"c1","group":"g","topic":"t","partition":0,"offset":0,"value":1,"t_ns":30}
//	{"type":"ok","f":"commit","process":"c1","group":"g","topic":"t","partition":0,"offset":1,"t_ns":40}
//
// A send is invoked, then completes at most once, by the same process, as
// ok (acknowledged at partition and offset), fail (certainly not written) or
// info (unknown, e.g. a timeout). Values are unique per run; a key is a key
// id (partition.KeyString gives the String the producer hashed) or null for
// an unkeyed message. A poll is one message delivered to a consumer; a
// commit records the offset of the next message to deliver, as Kafka's
// committed offsets do. Later config lines (one per producer, say) may
// follow, each no weaker than the first, which states the weakest.
package history

import (
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Type is an operation's "type".
type Type string

// The operation types.
const (
	Invoke Type = "invoke" // a send began
	OK     Type = "ok"     // it succeeded (every poll and commit is ok)
	Fail   Type = "fail"   // it certainly did not happen
	Info   Type = "info"   // its outcome is unknown
)

// F is an operation's function, its "f".
type F string

// The operation functions.
const (
	Send   F = "send"
	Poll   F = "poll"
	Commit F = "commit"
)

// Acks values of the config line, the producer's `acks` (`request.required.acks`).
const (
	AcksAll  = "all"
	AcksOne  = "1"
	AcksNone = "0"
)

// Config is the run's configuration line.
type Config struct {
	Acks                  string              // AcksAll, AcksOne or AcksNone
	MinInsyncReplicas     int                 // the topic's min.insync.replicas
	UncleanLeaderElection bool                // unclean.leader.election.enable
	Subscriptions         map[string][]string // group → the topics it subscribes to
	Process               string              // optional: the producer a later config line is for
	// PowerLoss (optional "power_loss", written when true): some broker
	// machine lost power during the run and with it the log tail it had
	// not synced. Kafka leaves flushing to the page cache and relies on
	// replication, so a replica that lost its tail but stayed in the ISR
	// can be elected and lose acknowledged messages (the problem of
	// KIP-966); no configuration is durable then.
	PowerLoss bool
}

// Durable reports whether the configuration promises to keep every
// acknowledged message through broker failures: acks=all, min ISR ≥ 2 and
// clean leader elections only, and no machine that lost power.
func (c Config) Durable() bool {
	return c.Acks == AcksAll && c.MinInsyncReplicas >= 2 && !c.UncleanLeaderElection && !c.PowerLoss
}

func acksRank(a string) int { return slices.Index([]string{AcksNone, AcksOne, AcksAll}, a) }

// weakerThan reports why c is weaker than d in some respect, or "".
func (c Config) weakerThan(d Config) string {
	switch {
	case acksRank(c.Acks) < acksRank(d.Acks):
		return fmt.Sprintf("acks %s is weaker than %s", c.Acks, d.Acks)
	case c.MinInsyncReplicas < d.MinInsyncReplicas:
		return fmt.Sprintf("min_insync_replicas %d is weaker than %d", c.MinInsyncReplicas, d.MinInsyncReplicas)
	case c.UncleanLeaderElection && !d.UncleanLeaderElection:
		return "unclean_leader_election true is weaker than false"
	case c.PowerLoss && !d.PowerLoss:
		return "power_loss true is weaker than false"
	}
	return ""
}

func (c Config) validate() error {
	if acksRank(c.Acks) < 0 {
		return fmt.Errorf("field \"acks\": %q is not \"all\", \"1\" or \"0\"", c.Acks)
	}
	if c.MinInsyncReplicas < 1 {
		return fmt.Errorf("field \"min_insync_replicas\": %d (need ≥ 1)", c.MinInsyncReplicas)
	}
	for _, g := range sortedKeys(c.Subscriptions) {
		if g == "" || !utf8.ValidString(g) {
			return fmt.Errorf("field \"subscriptions\": group %q is empty or not UTF-8", g)
		}
		for _, t := range c.Subscriptions[g] {
			if t == "" || !utf8.ValidString(t) {
				return fmt.Errorf("field \"subscriptions\": group %q has topic %q, empty or not UTF-8", g, t)
			}
		}
	}
	if !utf8.ValidString(c.Process) {
		return fmt.Errorf("field \"process\": not UTF-8")
	}
	return nil
}

// Op is one client operation line.
type Op struct {
	Type      Type
	F         F
	Process   string // the client's process name
	Group     string // poll, commit
	Topic     string
	Keyed     bool   // send: false writes "key": null
	Key       uint64 // send, when Keyed: the key id
	Value     uint64 // send, poll: the message's value, unique per run
	Partition int32  // ok send, poll, commit
	Offset    int64  // ok send, poll; commit: the next offset to deliver
	TimeNs    int64  // virtual time, ns since the run's start
	Line      int    // Read: the line it came from (1-based); ignored when writing
}

// fields returns the op's JSON field names in the order they are written.
func (op Op) fields() []string {
	switch {
	case op.F == Send && op.Type == OK:
		return []string{"type", "f", "process", "topic", "key", "value", "partition", "offset", "t_ns"}
	case op.F == Send:
		return []string{"type", "f", "process", "topic", "key", "value", "t_ns"}
	case op.F == Poll:
		return []string{"type", "f", "process", "group", "topic", "partition", "offset", "value", "t_ns"}
	default:
		return []string{"type", "f", "process", "group", "topic", "partition", "offset", "t_ns"}
	}
}

// validateKind checks the op's type and f.
func (op Op) validateKind() error {
	switch op.Type {
	case Invoke, OK, Fail, Info:
	default:
		return fmt.Errorf("field \"type\": %q is not config, invoke, ok, fail or info", string(op.Type))
	}
	switch op.F {
	case Send:
	case Poll, Commit:
		if op.Type != OK {
			return fmt.Errorf("field \"type\": a %s is always ok, not %s", op.F, op.Type)
		}
	default:
		return fmt.Errorf("field \"f\": %q is not send, poll or commit", string(op.F))
	}
	return nil
}

// validate checks every field of the op.
func (op Op) validate() error {
	if err := op.validateKind(); err != nil {
		return err
	}
	if op.F != Send && (op.Group == "" || !utf8.ValidString(op.Group)) {
		return fmt.Errorf("field \"group\": empty or not UTF-8")
	}
	if op.Process == "" || !utf8.ValidString(op.Process) {
		return fmt.Errorf("field \"process\": empty or not UTF-8")
	}
	if op.Topic == "" || !utf8.ValidString(op.Topic) {
		return fmt.Errorf("field \"topic\": empty or not UTF-8")
	}
	if op.Partition < 0 {
		return fmt.Errorf("field \"partition\": %d (need ≥ 0)", op.Partition)
	}
	if op.Offset < 0 {
		return fmt.Errorf("field \"offset\": %d (need ≥ 0)", op.Offset)
	}
	if op.TimeNs < 0 {
		return fmt.Errorf("field \"t_ns\": %d (need ≥ 0)", op.TimeNs)
	}
	return nil
}

// AppendJSON appends the op's line, without the newline.
func (op Op) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	for i, f := range op.fields() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f)
		b = append(b, ':')
		switch f {
		case "type":
			b = appendString(b, string(op.Type))
		case "f":
			b = appendString(b, string(op.F))
		case "process":
			b = appendString(b, op.Process)
		case "group":
			b = appendString(b, op.Group)
		case "topic":
			b = appendString(b, op.Topic)
		case "key":
			if op.Keyed {
				b = strconv.AppendUint(b, op.Key, 10)
			} else {
				b = append(b, "null"...)
			}
		case "value":
			b = strconv.AppendUint(b, op.Value, 10)
		case "partition":
			b = strconv.AppendInt(b, int64(op.Partition), 10)
		case "offset":
			b = strconv.AppendInt(b, op.Offset, 10)
		case "t_ns":
			b = strconv.AppendInt(b, op.TimeNs, 10)
		}
	}
	return append(b, '}')
}

// AppendJSON appends the config line, without the newline: groups in byte
// order, each group's topics as given.
func (c Config) AppendJSON(b []byte) []byte {
	b = append(b, `{"type":"config","acks":`...)
	b = appendString(b, c.Acks)
	b = append(b, `,"min_insync_replicas":`...)
	b = strconv.AppendInt(b, int64(c.MinInsyncReplicas), 10)
	b = append(b, `,"unclean_leader_election":`...)
	b = strconv.AppendBool(b, c.UncleanLeaderElection)
	b = append(b, `,"subscriptions":{`...)
	for i, g := range sortedKeys(c.Subscriptions) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, g)
		b = append(b, ":["...)
		for j, t := range c.Subscriptions[g] {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendString(b, t)
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	if c.Process != "" {
		b = append(b, `,"process":`...)
		b = appendString(b, c.Process)
	}
	if c.PowerLoss {
		b = append(b, `,"power_loss":true`...)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, everything else as UTF-8 (s is valid UTF-8, checked
// before writing).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
