package assign

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// EncodeRegistration returns the data of /consumers/<group>/ids/<consumerId>
// as Kafka 0.8.2–1.1.1's `registerConsumerInZK` writes it with `Json.encode`:
// the keys version, subscription, pattern, timestamp in that order, no
// spaces, the timestamp (epoch ms) as a string, a wildcard's regex cleaned as
// `TopicFilter` does and escaped by `Utils.JSONEscapeString`, e.g.
//
//	{"version":1,"subscription":{"orders":2},"pattern":"static","timestamp":"1420070400123"}
//
// Simplification: Kafka writes a static subscription's topics in its Scala
// Map's order (insertion order up to four topics, hash order above); here
// they are in byte order.
func EncodeRegistration(s Subscription, timestampMs int64) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	wild := s.Pattern == WhiteList || s.Pattern == BlackList
	var b bytes.Buffer
	b.WriteString(`{"version":1,"subscription":{`)
	for i, k := range sortedTopics(s.Streams) {
		if i > 0 {
			b.WriteByte(',')
		}
		name := k
		if wild {
			name = cleanFilter(k)
		}
		b.WriteByte('"')
		b.WriteString(jsonEscape(name))
		b.WriteString(`":`)
		b.WriteString(strconv.Itoa(s.Streams[k]))
	}
	b.WriteString(`},"pattern":"`)
	b.WriteString(string(s.Pattern))
	b.WriteString(`","timestamp":"`)
	b.WriteString(strconv.FormatInt(timestampMs, 10))
	b.WriteString(`"}`)
	return b.Bytes(), nil
}

// ParseRegistration reads a 0.8+ registration as `TopicCount.constructTopicCount`
// (Kafka 0.8.2.2) does: "pattern" and "subscription" must be there (anything
// else is ignored); a subscription with no entry, or a pattern other than
// white_list and black_list, is static; stream counts are integers.
func ParseRegistration(data []byte) (Subscription, error) {
	var reg struct {
		Subscription map[string]json.RawMessage `json:"subscription"`
		Pattern      *string                    `json:"pattern"`
	}
	if err := json.Unmarshal(data, &reg); err != nil {
		return Subscription{}, fmt.Errorf("assign: registration %s: not the JSON of a registration", quoteShort(data))
	}
	if reg.Pattern == nil || reg.Subscription == nil {
		return Subscription{}, fmt.Errorf("assign: registration %s: needs \"pattern\" and \"subscription\"", quoteShort(data))
	}
	s := Subscription{Pattern: Pattern(*reg.Pattern), Streams: map[string]int{}}
	for k, raw := range reg.Subscription {
		n, err := strconv.Atoi(string(raw))
		if err != nil {
			return Subscription{}, fmt.Errorf("assign: registration %s: stream count of %q is %s, not an integer", quoteShort(data), k, raw)
		}
		s.Streams[k] = n
	}
	if s.Pattern != WhiteList && s.Pattern != BlackList {
		s.Pattern = Static
	}
	if len(s.Streams) == 0 {
		s.Pattern = Static
	}
	if err := s.check(); err != nil {
		return Subscription{}, err
	}
	return s, nil
}

// EncodeRegistration07 returns Kafka 0.7.2's registration data
// (`StaticTopicCount.dbString`, `WildcardTopicCount.dbString`): static
// `{ "t1": 2,"t2": 1 }`, whitelist `*<n>*<regex>`, blacklist `!<n>!<regex>`
// (the regex cleaned as `TopicFilter` does).
// Static topics are in byte order (the same simplification as
// EncodeRegistration).
func EncodeRegistration07(s Subscription) (string, error) {
	if err := s.check(); err != nil {
		return "", err
	}
	if s.Pattern == WhiteList || s.Pattern == BlackList {
		marker := "*"
		if s.Pattern == BlackList {
			marker = "!"
		}
		for re, n := range s.Streams {
			return marker + strconv.Itoa(n) + marker + cleanFilter(re), nil
		}
	}
	var b strings.Builder
	b.WriteString("{ ")
	for i, t := range sortedTopics(s.Streams) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + t + `": ` + strconv.Itoa(s.Streams[t]))
	}
	b.WriteString(" }")
	return b.String(), nil
}

var (
	whitelist07 = regexp.MustCompile(`^\*([0-9]+)\*(.*)$`)
	blacklist07 = regexp.MustCompile(`^!([0-9]+)!(.*)$`)
)

// ParseRegistration07 reads a 0.7.2 registration as its
// `TopicCount.constructTopicCount` does: `*<n>*<regex>` and `!<n>!<regex>`
// are wildcards (Java's `.` stops at a line break, as Go's does), anything
// else a JSON object of topic → stream count.
func ParseRegistration07(data string) (Subscription, error) {
	for _, w := range []struct {
		prefix  string
		re      *regexp.Regexp
		pattern Pattern
	}{{"*", whitelist07, WhiteList}, {"!", blacklist07, BlackList}} {
		if !strings.HasPrefix(data, w.prefix) {
			continue
		}
		m := w.re.FindStringSubmatch(data)
		if m == nil {
			return Subscription{}, fmt.Errorf("assign: 0.7 registration %s: not %s<n>%s<regex>", quoteShort([]byte(data)), w.prefix, w.prefix)
		}
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return Subscription{}, fmt.Errorf("assign: 0.7 registration %s: stream count %s", quoteShort([]byte(data)), m[1])
		}
		s := Subscription{Pattern: w.pattern, Streams: map[string]int{m[2]: n}}
		return s, s.check()
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(data), &raw); err != nil {
		return Subscription{}, fmt.Errorf("assign: 0.7 registration %s: not a JSON object", quoteShort([]byte(data)))
	}
	s := Subscription{Pattern: Static, Streams: map[string]int{}}
	for k, v := range raw {
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return Subscription{}, fmt.Errorf("assign: 0.7 registration %s: stream count of %q is %s, not an integer", quoteShort([]byte(data)), k, v)
		}
		s.Streams[k] = n
	}
	return s, s.check()
}

// check refuses what no Kafka writer produces: stream counts below 1, a
// wildcard with other than one entry.
func (s Subscription) check() error {
	if (s.Pattern == WhiteList || s.Pattern == BlackList) && len(s.Streams) != 1 {
		return fmt.Errorf("assign: a %s subscription has %d entries (need 1)", s.Pattern, len(s.Streams))
	}
	for _, k := range sortedTopics(s.Streams) {
		if s.Streams[k] < 1 {
			return fmt.Errorf("assign: subscription asks for %d streams of %q (need ≥ 1)", s.Streams[k], k)
		}
	}
	return nil
}

func sortedTopics(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// jsonEscape is Kafka 0.8.2's `Utils.JSONEscapeString`: quote, backslash
// and slash escaped, \b \f \n \r \t, other C0 and C1 controls and DEL as
// \u00XX.
func jsonEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '/':
			b.WriteString(`\/`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r <= 0x1f || (r >= 0x7f && r <= 0x9f) {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	return b.String()
}

// quoteShort quotes data for an error, on one line, at most 60 bytes.
func quoteShort(data []byte) string {
	if len(data) > 60 {
		return strconv.Quote(string(data[:60])) + "…"
	}
	return strconv.Quote(string(data))
}
