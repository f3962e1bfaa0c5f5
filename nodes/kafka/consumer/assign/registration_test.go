package assign

import (
	"maps"
	"strings"
	"testing"
)

func TestRegistration(t *testing.T) {
	tests := []struct {
		name string
		sub  Subscription
		want string
	}{
		// The examples of a 0.8.2 registration (`registerConsumerInZK`).
		{"static", Subscription{Static, streams("orders", 2)}, `{"version":1,"subscription":{"orders":2},"pattern":"static","timestamp":"1420070400123"}`},
		{"whitelist", Subscription{WhiteList, streams(`metrics\..*`, 3)}, `{"version":1,"subscription":{"metrics\\..*":3},"pattern":"white_list","timestamp":"1420070400123"}`},
		{"blacklist cleaned", Subscription{BlackList, streams(` "a/b, c" `, 1)}, `{"version":1,"subscription":{"a\/b|c":1},"pattern":"black_list","timestamp":"1420070400123"}`},
		{"two topics", Subscription{Static, streams("b", 1, "a", 4)}, `{"version":1,"subscription":{"a":4,"b":1},"pattern":"static","timestamp":"1420070400123"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeRegistration(tt.sub, 1420070400123)
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %s, %v\nwant %s", got, err, tt.want)
			}
			back, err := ParseRegistration(got)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.sub
			if want.Pattern != Static {
				want.Streams = map[string]int{}
				for k, v := range tt.sub.Streams {
					want.Streams[cleanFilter(k)] = v
				}
			}
			if back.Pattern != want.Pattern || !maps.Equal(back.Streams, want.Streams) {
				t.Fatalf("parsed %+v, want %+v", back, want)
			}
		})
	}
}

func TestParseRegistration(t *testing.T) {
	// An unknown pattern, or an empty subscription, reads as static (TopicCount.constructTopicCount).
	s, err := ParseRegistration([]byte(`{"version":1,"subscription":{"t":1},"pattern":"other"}`))
	if err != nil || s.Pattern != Static {
		t.Fatalf("unknown pattern: %+v, %v", s, err)
	}
	s, err = ParseRegistration([]byte(`{"version":1,"subscription":{},"pattern":"white_list"}`))
	if err != nil || s.Pattern != Static || len(s.Streams) != 0 {
		t.Fatalf("empty wildcard: %+v, %v", s, err)
	}
	for _, bad := range []struct{ data, want string }{
		{`not json`, "not the JSON of a registration"},
		{`{"version":1,"subscription":{"t":1}}`, `needs "pattern" and "subscription"`},
		{`{"version":1,"pattern":"static"}`, `needs "pattern" and "subscription"`},
		{`{"subscription":{"t":"2"},"pattern":"static"}`, `stream count of "t" is "2", not an integer`},
		{`{"subscription":{"t":1.5},"pattern":"static"}`, `not an integer`},
		{`{"subscription":{"t":0},"pattern":"static"}`, `asks for 0 streams`},
		{`{"subscription":{"a":1,"b":1},"pattern":"white_list"}`, `has 2 entries`},
	} {
		_, err := ParseRegistration([]byte(bad.data))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: err = %v, want %q", bad.data, err, bad.want)
		}
	}
	if _, err := EncodeRegistration(Subscription{Static, streams("t", 0)}, 1); err == nil {
		t.Error("encoded 0 streams")
	}
}

func TestRegistration07(t *testing.T) {
	tests := []struct {
		sub  Subscription
		want string
	}{
		// 0.7.2 `StaticTopicCount.dbString`: "{ ", entries joined by ",", " }".
		{Subscription{Static, streams("t1", 2, "t2", 1)}, `{ "t1": 2,"t2": 1 }`},
		{Subscription{Static, nil}, `{  }`},
		// `WildcardTopicCount.dbString`, and its scaladoc's examples.
		{Subscription{WhiteList, streams("whitetopic.*", 4)}, `*4*whitetopic.*`},
		{Subscription{BlackList, streams("blacktopic.*", 4)}, `!4!blacktopic.*`},
	}
	for _, tt := range tests {
		got, err := EncodeRegistration07(tt.sub)
		if err != nil || got != tt.want {
			t.Errorf("EncodeRegistration07(%+v) = %q, %v; want %q", tt.sub, got, err, tt.want)
			continue
		}
		back, err := ParseRegistration07(got)
		if err != nil || back.Pattern != tt.sub.Pattern || !maps.Equal(back.Streams, tt.sub.Streams) && len(tt.sub.Streams) > 0 {
			t.Errorf("ParseRegistration07(%q) = %+v, %v", got, back, err)
		}
	}
	for _, bad := range []struct{ data, want string }{
		{`*x*t`, "not *<n>*<regex>"},
		{`!4t`, "not !<n>!<regex>"},
		{`*0*t`, "asks for 0 streams"},
		{`t1:2`, "not a JSON object"},
		{`{ "t": "2" }`, "not an integer"},
	} {
		_, err := ParseRegistration07(bad.data)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: err = %v, want %q", bad.data, err, bad.want)
		}
	}
}
