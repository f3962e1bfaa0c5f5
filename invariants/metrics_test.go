package invariants

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricsJSONGroups(t *testing.T) {
	m := Metrics{
		"messages_acked":               7,
		"messages_per_broker.broker-2": 3,
		"messages_per_broker.broker-1": 4,
		"rebalance_ns.p50":             1.5e9,
		"rebalance_ns.max":             2e9,
		"a-b":                          1,
		"zz":                           0,
	}
	data, err := json.Marshal(m)
	require.NoError(t, err)
	assert.Equal(t, `{"a-b":1,"messages_acked":7,"messages_per_broker":{"broker-1":4,"broker-2":3},`+
		`"rebalance_ns":{"max":2000000000,"p50":1500000000},"zz":0}`, string(data))
	var back Metrics
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, m, back, "the encoding round-trips")

	empty, err := json.Marshal(Metrics{})
	require.NoError(t, err)
	assert.Equal(t, `{}`, string(empty))
	only, err := json.Marshal(Metrics{"g.x": 1})
	require.NoError(t, err)
	assert.Equal(t, `{"g":{"x":1}}`, string(only))
}

func TestMetricsJSONRefusesBadNames(t *testing.T) {
	for _, m := range []Metrics{
		{"g": 1, "g.x": 2},
		{"g.x.y": 1},
		{".x": 1},
		{"g.": 1},
	} {
		_, err := json.Marshal(m)
		assert.Error(t, err, "%v", m)
	}
	var back Metrics
	assert.ErrorContains(t, json.Unmarshal([]byte(`{"g":"text"}`), &back), `metric "g"`)
}
