package kafkazk

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// compactSeeds are payloads the compact fast path must take or refuse in
// agreement with encoding/json.
var compactSeeds = []string{
	`{"controller_epoch":3,"leader":1,"version":1,"leader_epoch":7,"isr":[1,2,3]}`,
	`{"version":2,"partitions":{"0":[1,2,3],"1":[2,3,1]},"adding_replicas":{},"removing_replicas":{}}`,
	`{"a":-0,"b":[],"c":{},"d":null,"e":true,"f":false,"g":"x","a":2}`,
	`{}`, `{"a":{"b":{"c":[[1],[2,[3]]]}}}`,
	`{"a":1.5}`, `{"a":1e3}`, `{"a":01}`, `{"a":-}`, `{"a":[1,]}`, `{"a":1,}`, `{"a" :1}`, `{"a":1} `,
	`{"a":"\u00e9"}`, `{"a":"é"}`, `{"\n":1}`, `{"a":[1 ,2]}`, `{"a":2147483648}`, `{"a":-2147483649}`,
	`[1,2]`, `null`, `{`, `{"a"`, `{"a":`, `{"a":1`, `{"a":nul}`, `{"a":truex}`, ``,
}

// TestCompactAgreesWithEncodingJSON: whatever the fast path accepts,
// encoding/json accepts and reads the same.
func TestCompactAgreesWithEncodingJSON(t *testing.T) {
	check := func(t require.TestingT, data []byte) {
		if fields, ok := compactObject(data); ok {
			var want map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(data, &want), "fast path took %q", data)
			require.Equal(t, len(want), len(fields), "%q", data)
			for k, v := range want {
				require.Equal(t, string(v), string(fields[k]), "%q field %q", data, k)
			}
		}
		if n, ok := compactInt32(data); ok {
			var want int32
			require.NoError(t, json.Unmarshal(data, &want), "fast int took %q", data)
			require.Equal(t, want, n)
		}
		if ns, ok := compactInt32s(data); ok {
			var want []int32
			require.NoError(t, json.Unmarshal(data, &want), "fast ints took %q", data)
			require.Equal(t, want, ns)
		}
		if end, ok := compactString(data, 0); ok && end == len(data) {
			var want string
			require.NoError(t, json.Unmarshal(data, &want), "fast string took %q", data)
			require.Equal(t, want, string(data[1:len(data)-1]))
		}
	}
	for _, s := range compactSeeds {
		check(t, []byte(s))
	}
	rapid.Check(t, func(t *rapid.T) {
		seed := []byte(rapid.SampledFrom(compactSeeds).Draw(t, "seed"))
		// Mutate a few bytes of a seed into JSON-ish characters.
		for range rapid.IntRange(0, 3).Draw(t, "edits") {
			if len(seed) == 0 {
				break
			}
			i := rapid.IntRange(0, len(seed)-1).Draw(t, "at")
			seed[i] = rapid.SampledFrom([]byte(`{}[]":,-0123456789. \ae`)).Draw(t, "byte")
		}
		check(t, seed)
	})
}

// TestCompactTakesKafkaPayloads: the payloads kzsim writes take the fast
// path (else the speed-up is gone).
func TestCompactTakesKafkaPayloads(t *testing.T) {
	st := PartitionState{Leader: 2, LeaderEpoch: 4, ISR: []int32{2, 3}, ControllerEpoch: 1}
	o, ok := compactObject(st.Encode())
	require.True(t, ok)
	isr, ok := compactInt32s(o["isr"])
	require.True(t, ok)
	require.Equal(t, []int32{2, 3}, isr)
	for _, bad := range []string{`{"a":1.5}`, `{"a" :1}`, `{"a":"\u00e9"}`, `{"a":01}`, `{"a":[1,]}`} {
		_, ok := compactObject([]byte(bad))
		if ok {
			_, ok = compactInt32(mustField(t, bad))
		}
		require.False(t, ok, "%s took the fast path", bad)
	}
}

func mustField(t *testing.T, data string) []byte {
	o, ok := compactObject([]byte(data))
	require.True(t, ok)
	return o["a"]
}
