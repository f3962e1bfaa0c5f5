package kafkazk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// ErrMalformed is wrapped by every error the Decode functions of this
// package return: the bytes are not the payload Kafka writes at that znode.
var ErrMalformed = errors.New("malformed znode data")

// malformed returns a one-line decode error naming the znode kind.
func malformed(kind, format string, args ...any) error {
	return fmt.Errorf("kafkazk: decode %s: %s: %w", kind, fmt.Sprintf(format, args...), ErrMalformed)
}

// Kafka 2.6 encodes znode JSON with Jackson's ObjectMapper over Java views of
// Scala maps (Kafka 2.6 kafka/utils/Json.scala encodeAsBytes). Jackson writes
// a map's entries in the map's own iteration order, so the key order on the
// wire is Scala 2.13's (the default build of Kafka 2.6, gradle.properties
// scalaVersion=2.13.2):
//   - immutable Map(...) of at most 4 entries (Map1..Map4): insertion order;
//   - immutable Map of 5 or more (a CHAMP HashMap): scalaImmutableOrder;
//   - mutable.Map (a mutable.HashMap): scalaMutableOrder.
// Kafka's Scala 2.12 build would order the >4-entry cases differently.

// javaStringHash is java.lang.String.hashCode, which Scala's ## uses for strings.
func javaStringHash(s string) int32 {
	var h int32
	for _, c := range utf16Units(s) {
		h = 31*h + int32(c)
	}
	return h
}

// utf16Units returns s as Java's UTF-16 code units.
func utf16Units(s string) []uint16 {
	var out []uint16
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
			continue
		}
		out = append(out, uint16(r))
	}
	return out
}

// scalaImprove is Scala 2.13 scala.collection.Hashing.improve, the hash
// immutable.HashMap (CHAMP) keys on.
func scalaImprove(hcode int32) uint32 {
	h := hcode + ^(hcode << 9)
	h ^= int32(uint32(h) >> 14)
	h += h << 4
	return uint32(h ^ int32(uint32(h)>>10))
}

// scalaImmutableOrder returns keys in the iteration order of a Scala 2.13
// immutable.Map holding them: insertion order up to 4 entries, else the
// CHAMP order (scala/collection/immutable/HashMap.scala, ChampBaseIterator):
// in each node, first its inline entries by ascending 5-bit hash fragment,
// then its sub-nodes by ascending fragment, depth first.
func scalaImmutableOrder(keys []string) []string {
	if len(keys) <= 4 {
		return slices.Clone(keys)
	}
	return champOrder(keys, 0)
}

func champOrder(keys []string, shift uint) []string {
	if shift >= 35 {
		// Full 32-bit hash collision: a HashCollisionNode, in insertion
		// order. Never reached by Kafka's fixed key sets.
		return slices.Clone(keys)
	}
	byFrag := map[uint32][]string{}
	for _, k := range keys {
		f := (scalaImprove(javaStringHash(k)) >> shift) & 0x1f
		byFrag[f] = append(byFrag[f], k)
	}
	var data, out []string
	var sub [][]string
	for f := uint32(0); f < 32; f++ {
		switch ks := byFrag[f]; {
		case len(ks) == 1:
			data = append(data, ks[0])
		case len(ks) > 1:
			sub = append(sub, champOrder(ks, shift+5))
		}
	}
	out = append(out, data...)
	for _, s := range sub {
		out = append(out, s...)
	}
	return out
}

// scalaMutableOrder returns keys, inserted one by one into an empty Scala
// 2.13 mutable.HashMap (scala/collection/mutable/HashMap.scala), in its
// iteration order: the table starts at 16 buckets and doubles when an
// insertion would reach 0.75 of it; a key's bucket is
// (h ^ h>>>16) & (len-1) for its ## h; buckets are walked from 0 up, and a
// bucket keeps its keys by ascending (signed) improved hash.
func scalaMutableOrder(keys []string) []string {
	table := 16
	for n := 0; n < len(keys); n++ {
		if n+1 >= table*3/4 {
			table *= 2
		}
	}
	improved := func(k string) int32 {
		h := javaStringHash(k)
		return h ^ int32(uint32(h)>>16)
	}
	out := slices.Clone(keys)
	slices.SortStableFunc(out, func(a, b string) int {
		ha, hb := improved(a), improved(b)
		ia, ib := int(uint32(ha))&(table-1), int(uint32(hb))&(table-1)
		if ia != ib {
			return ia - ib
		}
		switch {
		case ha < hb:
			return -1
		case ha > hb:
			return 1
		}
		return 0
	})
	return out
}

// jsonWriter writes compact JSON as Jackson's default generator does:
// no spaces, strings escaped only for '"', '\\' and control characters
// (\b \t \n \f \r short, others as \u00XX), everything else raw UTF-8.
type jsonWriter struct{ buf []byte }

func (w *jsonWriter) raw(s string) { w.buf = append(w.buf, s...) }

func (w *jsonWriter) str(s string) {
	const hex = "0123456789ABCDEF"
	w.buf = append(w.buf, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			w.buf = append(w.buf, '\\', c)
		case c == '\b':
			w.raw(`\b`)
		case c == '\t':
			w.raw(`\t`)
		case c == '\n':
			w.raw(`\n`)
		case c == '\f':
			w.raw(`\f`)
		case c == '\r':
			w.raw(`\r`)
		case c < 0x20:
			w.buf = append(w.buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		default:
			w.buf = append(w.buf, c)
		}
	}
	w.buf = append(w.buf, '"')
}

func (w *jsonWriter) int(n int64) { w.buf = strconv.AppendInt(w.buf, n, 10) }

func (w *jsonWriter) ints(ns []int32) {
	w.raw("[")
	for i, n := range ns {
		if i > 0 {
			w.raw(",")
		}
		w.int(int64(n))
	}
	w.raw("]")
}

// object writes {"k":v,...} with the fields in the order of keys; field
// writes each value.
func (w *jsonWriter) object(keys []string, field func(key string)) {
	w.raw("{")
	for i, k := range keys {
		if i > 0 {
			w.raw(",")
		}
		w.str(k)
		w.raw(":")
		field(k)
	}
	w.raw("}")
}

// jsonObject is a parsed JSON object read by key, as Kafka's JsonObject is;
// keys it does not ask for are ignored, as Kafka ignores them.
type jsonObject struct {
	kind   string
	fields map[string]json.RawMessage
}

// parseObject parses data as one JSON object (duplicate keys: the last
// wins, as with Jackson's readTree).
func parseObject(kind string, data []byte) (jsonObject, error) {
	if fields, ok := compactObject(data); ok {
		return jsonObject{kind: kind, fields: fields}, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		return jsonObject{}, malformed(kind, "not a JSON object: %q", clip(data))
	}
	return jsonObject{kind: kind, fields: fields}, nil
}

// The compact fast path. Every znode payload is decoded where it is read
// (the controller loads every partition state at failover, the checks
// decode every state write), and encoding/json's reflection was a fifth
// of a 10,000-partition failover's time. The payloads Kafka and kzsim
// write are compact JSON: no whitespace, ASCII strings without escapes,
// integers without fraction or exponent. The compact* functions accept
// exactly that form and report false for anything else (whitespace,
// escapes, non-ASCII, numbers that are not plain integers, bad syntax),
// which then goes through encoding/json as before: for every input they
// accept they give what encoding/json gives, and every error still comes
// from the encoding/json path.

// compactObject splits a compact JSON object into its fields (the last of
// duplicate keys wins, as with encoding/json). The values alias data.
func compactObject(data []byte) (map[string]json.RawMessage, bool) {
	if len(data) < 2 || data[0] != '{' {
		return nil, false
	}
	fields := make(map[string]json.RawMessage, 8)
	i := 1
	if data[i] == '}' {
		return fields, i+1 == len(data)
	}
	for {
		kend, ok := compactString(data, i)
		if !ok || kend >= len(data) || data[kend] != ':' {
			return nil, false
		}
		vend, ok := compactValue(data, kend+1, 0)
		if !ok || vend >= len(data) {
			return nil, false
		}
		fields[string(data[i+1:kend-1])] = data[kend+1 : vend : vend]
		switch data[vend] {
		case ',':
			i = vend + 1
		case '}':
			return fields, vend+1 == len(data)
		default:
			return nil, false
		}
	}
}

// compactMaxDepth bounds the nesting compactValue follows; deeper values
// take the encoding/json path.
const compactMaxDepth = 8

// compactValue returns the end of the compact JSON value at data[i:].
func compactValue(data []byte, i, depth int) (int, bool) {
	if i >= len(data) || depth > compactMaxDepth {
		return 0, false
	}
	switch c := data[i]; {
	case c == '"':
		return compactString(data, i)
	case c == '-' || c >= '0' && c <= '9':
		return compactInt(data, i)
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i++
		if i < len(data) && data[i] == closer {
			return i + 1, true
		}
		for {
			if c == '{' {
				kend, ok := compactString(data, i)
				if !ok || kend >= len(data) || data[kend] != ':' {
					return 0, false
				}
				i = kend + 1
			}
			end, ok := compactValue(data, i, depth+1)
			if !ok || end >= len(data) {
				return 0, false
			}
			switch data[end] {
			case ',':
				i = end + 1
			case closer:
				return end + 1, true
			default:
				return 0, false
			}
		}
	}
	for _, lit := range []string{"null", "true", "false"} {
		if len(data)-i >= len(lit) && string(data[i:i+len(lit)]) == lit {
			return i + len(lit), true
		}
	}
	return 0, false
}

// compactString returns the end of the ASCII, escape-free JSON string at
// data[i:].
func compactString(data []byte, i int) (int, bool) {
	if i >= len(data) || data[i] != '"' {
		return 0, false
	}
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return 0, false
		}
	}
	return 0, false
}

// compactInt returns the end of the JSON integer (-?(0|[1-9][0-9]*), no
// fraction or exponent after it) at data[i:].
func compactInt(data []byte, i int) (int, bool) {
	if data[i] == '-' {
		i++
	}
	start := i
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	switch {
	case i == start, data[start] == '0' && i-start > 1:
		return 0, false
	case i < len(data) && (data[i] == '.' || data[i] == 'e' || data[i] == 'E'):
		return 0, false
	}
	return i, true
}

// compactInt32 parses v, a whole compact JSON integer in int32 range.
func compactInt32(v []byte) (int32, bool) {
	if len(v) == 0 || len(v) > 11 {
		return 0, false
	}
	if end, ok := compactInt(v, 0); !ok || end != len(v) {
		return 0, false
	}
	neg := v[0] == '-'
	var n int64
	for _, c := range v[btoi(neg):] {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	if n < -1<<31 || n > 1<<31-1 {
		return 0, false
	}
	return int32(n), true
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// compactInt32s parses v, a compact JSON array of int32 integers.
func compactInt32s(v []byte) ([]int32, bool) {
	if len(v) < 2 || v[0] != '[' || v[len(v)-1] != ']' {
		return nil, false
	}
	body := v[1 : len(v)-1]
	if len(body) == 0 {
		return []int32{}, true
	}
	out := make([]int32, 0, 1+bytes.Count(body, []byte{','}))
	for len(body) > 0 {
		end := bytes.IndexByte(body, ',')
		item := body
		if end >= 0 {
			item, body = body[:end], body[end+1:]
			if len(body) == 0 {
				return nil, false // a trailing comma
			}
		} else {
			body = nil
		}
		n, ok := compactInt32(item)
		if !ok {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

// clip shortens data for an error message.
func clip(data []byte) string {
	const max = 60
	if len(data) > max {
		return string(data[:max]) + "…"
	}
	return string(data)
}

func (o jsonObject) has(key string) bool { _, ok := o.fields[key]; return ok }

func (o jsonObject) isNull(key string) bool { return string(o.fields[key]) == "null" }

func (o jsonObject) get(key string) (json.RawMessage, error) {
	v, ok := o.fields[key]
	if !ok {
		return nil, malformed(o.kind, "missing field %q", key)
	}
	return v, nil
}

// int32Of reads an integral JSON number in int32 range (Kafka's
// DecodeJson[Int] accepts only Jackson int nodes: no strings, no fractions).
func int32Of(kind, what string, v json.RawMessage) (int32, error) {
	if n, ok := compactInt32(v); ok {
		return n, nil
	}
	var n json.Number
	if len(v) == 0 || v[0] == '"' || json.Unmarshal(v, &n) != nil {
		return 0, malformed(kind, "%s: want an integer, got %s", what, clip(v))
	}
	i, err := strconv.ParseInt(n.String(), 10, 32)
	if err != nil {
		return 0, malformed(kind, "%s: want a 32-bit integer, got %s", what, n)
	}
	return int32(i), nil
}

func (o jsonObject) int32(key string) (int32, error) {
	v, err := o.get(key)
	if err != nil {
		return 0, err
	}
	return int32Of(o.kind, strconv.Quote(key), v)
}

func stringOf(kind, what string, v json.RawMessage) (string, error) {
	if end, ok := compactString(v, 0); ok && end == len(v) {
		return string(v[1 : len(v)-1]), nil
	}
	var s string
	if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
		return "", malformed(kind, "%s: want a string, got %s", what, clip(v))
	}
	return s, nil
}

func (o jsonObject) string(key string) (string, error) {
	v, err := o.get(key)
	if err != nil {
		return "", err
	}
	return stringOf(o.kind, strconv.Quote(key), v)
}

// int64String reads a decimal integer written as a JSON string (Kafka's
// timestamps: Long.toString).
func (o jsonObject) int64String(key string) (int64, error) {
	s, err := o.string(key)
	if err != nil {
		return 0, err
	}
	n, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil {
		return 0, malformed(o.kind, "%q: want a decimal integer in a string, got %q", key, s)
	}
	return n, nil
}

func int32sOf(kind, what string, v json.RawMessage) ([]int32, error) {
	if out, ok := compactInt32s(v); ok {
		return out, nil
	}
	var items []json.RawMessage
	if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &items) != nil {
		return nil, malformed(kind, "%s: want an array of integers, got %s", what, clip(v))
	}
	out := make([]int32, 0, len(items))
	for i, it := range items {
		n, err := int32Of(kind, fmt.Sprintf("%s[%d]", what, i), it)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func (o jsonObject) int32s(key string) ([]int32, error) {
	v, err := o.get(key)
	if err != nil {
		return nil, err
	}
	return int32sOf(o.kind, strconv.Quote(key), v)
}

func (o jsonObject) array(key string) ([]json.RawMessage, error) {
	v, err := o.get(key)
	if err != nil {
		return nil, err
	}
	var items []json.RawMessage
	if len(v) == 0 || v[0] != '[' || json.Unmarshal(v, &items) != nil {
		return nil, malformed(o.kind, "%q: want an array, got %s", key, clip(v))
	}
	return items, nil
}

func (o jsonObject) object(key string) (jsonObject, error) {
	v, err := o.get(key)
	if err != nil {
		return jsonObject{}, err
	}
	if fields, ok := compactObject(v); ok {
		return jsonObject{kind: o.kind, fields: fields}, nil
	}
	var fields map[string]json.RawMessage
	if len(v) == 0 || v[0] != '{' || json.Unmarshal(v, &fields) != nil {
		return jsonObject{}, malformed(o.kind, "%q: want an object, got %s", key, clip(v))
	}
	return jsonObject{kind: o.kind, fields: fields}, nil
}

// version reads the integer "version" field and checks it is one of known.
func (o jsonObject) version(known ...int32) (int32, error) {
	v, err := o.int32("version")
	if err != nil {
		return 0, err
	}
	if !slices.Contains(known, v) {
		return 0, malformed(o.kind, "unknown version %d (known: %v)", v, known)
	}
	return v, nil
}
