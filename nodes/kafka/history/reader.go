package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// LineBytesMax bounds one line of a history; Read refuses a longer one.
const LineBytesMax = 1 << 20

// History is a history as Read returns it.
type History struct {
	Config  Config   // the first line: the run's configuration, the weakest
	Configs []Config // later config lines, in order
	Ops     []Op     // the operations, in order, each with its Line
}

// Read reads a history strictly: every line one JSON object with exactly the
// fields its type and f call for, no field twice, each of its JSON type and
// range; the config first; time never going back; each send's value invoked
// once and completed at most once by the same process for the same topic
// and key. The first problem ends the read with a one-line error naming the
// line and the field. A final newline is optional; an empty line is an
// error.
func Read(r io.Reader) (*History, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), LineBytesMax)
	h := &History{}
	seq := newSequence()
	n := 0
	for sc.Scan() {
		n++
		if err := readLine(h, &seq, sc.Bytes(), n); err != nil {
			return nil, fmt.Errorf("history: line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("history: line %d: longer than %d bytes", n+1, LineBytesMax)
		}
		return nil, fmt.Errorf("history: line %d: %w", n+1, err)
	}
	if n == 0 {
		return nil, errors.New("history: empty (the first line must be the config)")
	}
	return h, nil
}

func readLine(h *History, seq *sequence, line []byte, n int) error {
	if len(bytes.TrimSpace(line)) == 0 {
		return errors.New("empty line")
	}
	obj, err := parseObject(line)
	if err != nil {
		return err
	}
	typ, err := obj.str("type")
	if err != nil {
		return err
	}
	if typ == "config" {
		c, err := obj.config()
		if err != nil {
			return err
		}
		if err := seq.config(c); err != nil {
			return err
		}
		if n == 1 {
			h.Config = c
		} else {
			h.Configs = append(h.Configs, c)
		}
		return nil
	}
	op, err := obj.op(Type(typ))
	if err != nil {
		return err
	}
	op.Line = n
	if err := seq.op(op); err != nil {
		return err
	}
	h.Ops = append(h.Ops, op)
	return nil
}

// object is one line's fields, raw, in the order read.
type object struct {
	fields map[string]json.RawMessage
	order  []string
}

func parseObject(line []byte) (object, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return object{}, errors.New("not a JSON object")
	}
	o := object{fields: map[string]json.RawMessage{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return object{}, fmt.Errorf("bad JSON: %v", oneLine(err.Error()))
		}
		name, ok := tok.(string)
		if !ok {
			return object{}, errors.New("bad JSON: a key is not a string")
		}
		if _, dup := o.fields[name]; dup {
			return object{}, fmt.Errorf("field %q: appears twice", name)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return object{}, fmt.Errorf("field %q: bad JSON: %v", name, oneLine(err.Error()))
		}
		o.fields[name] = raw
		o.order = append(o.order, name)
	}
	if _, err := dec.Token(); err != nil {
		return object{}, fmt.Errorf("bad JSON: %v", oneLine(err.Error()))
	}
	if _, err := dec.Token(); err != io.EOF {
		return object{}, errors.New("bad JSON: more after the object")
	}
	return o, nil
}

// expect checks the object has exactly the fields want, plus optional ones.
func (o object) expect(what string, want []string, optional ...string) error {
	for _, f := range want {
		if _, ok := o.fields[f]; !ok {
			return fmt.Errorf("field %q: missing from a %s line", f, what)
		}
	}
	for _, f := range o.order {
		if !slices.Contains(want, f) && !slices.Contains(optional, f) {
			return fmt.Errorf("field %q: not allowed on a %s line", f, what)
		}
	}
	return nil
}

func (o object) raw(name string) json.RawMessage { return o.fields[name] }

func (o object) str(name string) (string, error) {
	raw, ok := o.fields[name]
	if !ok {
		return "", fmt.Errorf("field %q: missing", name)
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("field %q: want a string, got %s", name, show(raw))
	}
	return s, nil
}

func (o object) integer(name string, lo, hi int64) (int64, error) {
	raw := o.fields[name]
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("field %q: want an integer in [%d, %d], got %s", name, lo, hi, show(raw))
	}
	return v, nil
}

func (o object) uint(name string) (uint64, error) {
	raw := o.fields[name]
	v, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("field %q: want an integer in [0, %d], got %s", name, uint64(math.MaxUint64), show(raw))
	}
	return v, nil
}

func (o object) boolean(name string) (bool, error) {
	switch string(o.fields[name]) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("field %q: want true or false, got %s", name, show(o.fields[name]))
}

func (o object) config() (Config, error) {
	if err := o.expect("config", []string{"type", "acks", "min_insync_replicas", "unclean_leader_election", "subscriptions"}, "process", "power_loss"); err != nil {
		return Config{}, err
	}
	var c Config
	var err error
	if c.Acks, err = o.str("acks"); err != nil {
		return Config{}, err
	}
	mis, err := o.integer("min_insync_replicas", 1, math.MaxInt32)
	if err != nil {
		return Config{}, err
	}
	c.MinInsyncReplicas = int(mis)
	if c.UncleanLeaderElection, err = o.boolean("unclean_leader_election"); err != nil {
		return Config{}, err
	}
	if _, ok := o.fields["process"]; ok {
		if c.Process, err = o.str("process"); err != nil {
			return Config{}, err
		}
	}
	if _, ok := o.fields["power_loss"]; ok {
		if c.PowerLoss, err = o.boolean("power_loss"); err != nil {
			return Config{}, err
		}
	}
	sub, err := parseObject(o.raw("subscriptions"))
	if err != nil {
		return Config{}, fmt.Errorf("field \"subscriptions\": want an object of group → [topic], %v", err)
	}
	c.Subscriptions = map[string][]string{}
	for _, g := range sub.order {
		var topics []string
		raw := sub.raw(g)
		if raw[0] != '[' || json.Unmarshal(raw, &topics) != nil {
			return Config{}, fmt.Errorf("field \"subscriptions\": group %q: want an array of topic strings, got %s", g, show(raw))
		}
		c.Subscriptions[g] = topics
	}
	return c, nil
}

func (o object) op(typ Type) (Op, error) {
	f, err := o.str("f")
	if err != nil {
		return Op{}, err
	}
	op := Op{Type: typ, F: F(f)}
	if err := op.validateKind(); err != nil {
		return Op{}, err
	}
	what := string(typ) + " " + f
	if err := o.expect(what, op.fields()); err != nil {
		return Op{}, err
	}
	for _, name := range op.fields() {
		var err error
		switch name {
		case "process":
			op.Process, err = o.str(name)
		case "group":
			op.Group, err = o.str(name)
		case "topic":
			op.Topic, err = o.str(name)
		case "key":
			if string(o.raw(name)) != "null" {
				op.Keyed = true
				op.Key, err = o.uint(name)
			}
		case "value":
			op.Value, err = o.uint(name)
		case "partition":
			var v int64
			v, err = o.integer(name, 0, math.MaxInt32)
			op.Partition = int32(v)
		case "offset":
			op.Offset, err = o.integer(name, 0, math.MaxInt64)
		case "t_ns":
			op.TimeNs, err = o.integer(name, 0, math.MaxInt64)
		}
		if err != nil {
			return Op{}, err
		}
	}
	return op, nil
}

// show renders a raw JSON value for an error: on one line, at most 40 bytes.
func show(raw json.RawMessage) string {
	r := []rune(oneLine(string(raw)))
	if len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return string(r)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
