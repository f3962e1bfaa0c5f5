package config

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/kzsim/kzsim/sim"
)

func TestJSONDefaultForm(t *testing.T) {
	b, err := json.Marshal(Default())
	require.NoError(t, err)
	s := string(b)
	assert.True(t, strings.HasPrefix(s, `{"zookeeper.session.timeout.ms":18000,"zookeeper.max.in.flight.requests":10,`), s)
	assert.NotContains(t, s, "zookeeper.connection.timeout.ms", "unset: left out")
	assert.Contains(t, s, `"log.flush.interval.ms":9223372036854775807`)
	assert.Contains(t, s, `"features":{"checked_ephemeral":"2.2","truncation":"kip-279","broker_znode_version":4,"pipelined_zookeeper":true`)

	// Encoding is a fixed order: twice the same bytes.
	b2, err := json.Marshal(Default())
	require.NoError(t, err)
	assert.Equal(t, b, b2)
}

func TestParseConfigOverrides(t *testing.T) {
	c, err := ParseConfig([]byte(`{}`))
	require.NoError(t, err)
	assert.Equal(t, Default(), c)

	c, err = ParseConfig([]byte(`{"era":"1.1","zookeeper.session.timeout.ms":10000,"zookeeper.connection.timeout.ms":4000,"features":{"keep_last_isr_member":false}}`))
	require.NoError(t, err)
	want := ForEra(Era11)
	want.ZooKeeperSessionTimeout = 10 * sim.Second
	want.ZooKeeperConnectionTimeout = 4 * sim.Second
	want.Features.KeepLastIsrMember = false
	assert.Equal(t, want, c)

	c, err = ParseConfig([]byte(`{"zookeeper.connection.timeout.ms":null,"leader.imbalance.check.interval.seconds":60}`))
	require.NoError(t, err)
	assert.Equal(t, sim.Duration(0), c.ZooKeeperConnectionTimeout)
	assert.Equal(t, 60*sim.Second, c.LeaderImbalanceCheckInterval)

	// Through a struct field, as a scenario file would carry it.
	var file struct {
		Kafka Config `json:"kafka"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"kafka":{"era":"2.1"}}`), &file))
	assert.Equal(t, ForEra(Era21), file.Kafka)
	assert.Error(t, json.Unmarshal([]byte(`{"kafka":{"bogus":1}}`), &file))
}

func TestParseConfigRejects(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"zookeeper.sesion.timeout.ms":6000}`, `config: unknown setting "zookeeper.sesion.timeout.ms"`},
		{`{"features":{"pipelined":true}}`, `config: unknown feature "pipelined"`},
		{`{"zookeeper.session.timeout.ms":"6000"}`, `config: zookeeper.session.timeout.ms: "6000" is not an integer`},
		{`{"zookeeper.session.timeout.ms":6000.5}`, `config: zookeeper.session.timeout.ms: 6000.5 is not an integer`},
		{`{"zookeeper.session.timeout.ms":1e4}`, `is not an integer`},
		{`{"zookeeper.session.timeout.ms":-5}`, `config: zookeeper.session.timeout.ms: -5ms must be positive`},
		{`{"zookeeper.session.timeout.ms":9223372036855}`, `zookeeper.session.timeout.ms: 9223372036855 is out of range`},
		{`{"zookeeper.connection.timeout.ms":0}`, `zookeeper.connection.timeout.ms: 0 is not a timeout`},
		{`{"min.insync.replicas":0}`, `config: min.insync.replicas: 0 must be at least 1`},
		{`{"min.insync.replicas":4294967297}`, `min.insync.replicas: 4294967297 is out of range`},
		{`{"unclean.leader.election.enable":"yes"}`, `config: unclean.leader.election.enable: "yes" is not true or false`},
		{`{"features":{"broker_epochs":1}}`, `config: features.broker_epochs: 1 is not true or false`},
		{`{"features":{"checked_ephemeral":"1.0"}}`, `config: features.checked_ephemeral: "1.0" is not`},
		{`{"features":{"truncation":3}}`, `config: features.truncation: 3 is not`},
		{`{"features":{"broker_znode_version":"4"}}`, `features.broker_znode_version: "4" is not an integer`},
		{`{"features":[]}`, `config: features: not a JSON object`},
		{`{"era":"3.7"}`, `config: era "3.7": newer than 2.6`},
		{`{"era":2.6}`, `config: era: 2.6 is not a string`},
		{`[1]`, `config: not a JSON object`},
		{`null`, `config: not a JSON object: null`},
		{`{} {}`, `config: trailing data`},
		{`{"era":"2.1","features":{"broker_epochs":true}}`, `features.broker_epochs: true needs features.checked_ephemeral 2.2, not 0.9`},
	}
	for _, tc := range tests {
		_, err := ParseConfig([]byte(tc.in))
		require.Error(t, err, tc.in)
		assert.Contains(t, err.Error(), tc.want, tc.in)
		assert.NotContains(t, err.Error(), "\n", tc.in)
	}
	c := Default()
	c.RequestTimeout = 1500 * sim.Microsecond
	_, err := json.Marshal(c)
	assert.ErrorContains(t, err, "request.timeout.ms: 1500000ns is not a whole number of milliseconds")
}

// drawConfig draws a valid Config: an era, then any setting within its
// valid range.
func drawConfig(t *rapid.T) Config {
	eras := Eras()
	c := ForEra(eras[rapid.IntRange(0, len(eras)-1).Draw(t, "era")])
	msd := func(name string, lo, hi int64) sim.Duration {
		return sim.Duration(rapid.Int64Range(lo, hi).Draw(t, name)) * sim.Millisecond
	}
	c.ZooKeeperSessionTimeout = msd("session", 1, 1<<40)
	c.ZooKeeperConnectionTimeout = msd("connection", 0, 1<<40)
	if c.Features.PipelinedZooKeeper {
		c.ZooKeeperMaxInFlightRequests = rapid.IntRange(1, 1<<20).Draw(t, "inflight")
	}
	c.ReplicaLagTimeMax = msd("lag", 1, 1<<40)
	c.ReplicaSocketTimeout = msd("socket", 1, 1<<40)
	c.ReplicaFetchWaitMax = msd("wait", 0, int64(min(c.ReplicaLagTimeMax, c.ReplicaSocketTimeout)/sim.Millisecond))
	c.ReplicaLagMaxMessages = rapid.Int64Range(0, 1<<62).Draw(t, "lagmsgs")
	c.ReplicaFetchMinBytes = rapid.IntRange(0, 1<<30).Draw(t, "minbytes")
	c.ReplicaFetchMaxBytes = rapid.IntRange(0, 1<<30).Draw(t, "maxbytes")
	c.ReplicaFetchBackoff = msd("backoff", 0, 1<<40)
	c.NumReplicaFetchers = rapid.IntRange(1, 64).Draw(t, "fetchers")
	c.ReplicaHighWatermarkCheckpointInterval = msd("hwckpt", 1, 1<<40)
	c.MinInsyncReplicas = rapid.IntRange(1, 1<<20).Draw(t, "minisr")
	c.UncleanLeaderElectionEnable = rapid.Bool().Draw(t, "unclean")
	c.DefaultReplicationFactor = rapid.IntRange(1, 1<<15).Draw(t, "rf")
	c.NumPartitions = rapid.IntRange(1, 1<<20).Draw(t, "partitions")
	c.AutoCreateTopicsEnable = rapid.Bool().Draw(t, "autocreate")
	c.DeleteTopicEnable = rapid.Bool().Draw(t, "delete")
	c.AutoLeaderRebalanceEnable = rapid.Bool().Draw(t, "rebalance")
	c.LeaderImbalanceCheckInterval = sim.Duration(rapid.Int64Range(1, 1<<30).Draw(t, "imbalance_s")) * sim.Second
	c.LeaderImbalancePerBrokerPercentage = rapid.IntRange(0, 1000).Draw(t, "pct")
	c.ControlledShutdownMaxRetries = rapid.IntRange(0, 100).Draw(t, "retries")
	c.ControlledShutdownRetryBackoff = msd("csbackoff", 0, 1<<40)
	c.ControllerSocketTimeout = msd("ctlsocket", 1, 1<<40)
	c.RequestTimeout = msd("request", 1, 1<<40)
	c.LogFlushIntervalMessages = rapid.Int64Range(1, 1<<63-1).Draw(t, "flushmsgs")
	if rapid.Bool().Draw(t, "flushnever") {
		c.LogFlushInterval = FlushNever
	} else {
		c.LogFlushInterval = msd("flush", 1, (1<<63-1)/int64(sim.Millisecond))
	}
	c.LogFlushOffsetCheckpointInterval = msd("rpckpt", 1, 1<<40)
	c.ReservedBrokerMaxID = rapid.Int32Range(0, 1<<31-1).Draw(t, "reserved")
	c.BrokerIDGenerationEnable = rapid.Bool().Draw(t, "gen")
	f := &c.Features
	f.Truncation = Truncation(rapid.IntRange(0, 2).Draw(t, "trunc"))
	f.BrokerZNodeVersion = rapid.SampledFrom([]int{2, 4}).Draw(t, "znode")
	for _, bf := range f.boolFields() {
		*bf.b = rapid.Bool().Draw(t, bf.key)
	}
	if f.BrokerEpochs {
		f.CheckedEphemeral = Ephemeral22
	} else {
		f.CheckedEphemeral = EphemeralForm(rapid.IntRange(0, 2).Draw(t, "ephemeral"))
		f.AcceptNewerBrokerEpoch = false
	}
	if !f.PipelinedZooKeeper {
		c.ZooKeeperMaxInFlightRequests = 1
	}
	return c
}

func TestJSONRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := drawConfig(t)
		if err := c.Validate(); err != nil {
			t.Fatalf("drawn config invalid: %v", err)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		got, err := ParseConfig(b)
		if err != nil {
			t.Fatalf("parse %s: %v", b, err)
		}
		if got != c {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", c, got)
		}
		b2, _ := json.Marshal(got)
		if string(b2) != string(b) {
			t.Fatalf("re-encoding differs:\n%s\n%s", b, b2)
		}
	})
}

func TestCosts(t *testing.T) {
	k := DefaultCosts()
	require.NoError(t, k.Validate())

	// The derivation of ControllerPartitionLoad: 100,000 partitions loaded in
	// 14 s by Kafka 1.1, bound by the controller's per-partition work.
	assert.Equal(t, 14*sim.Second, 100_000*k.ControllerPartitionLoad)
	// Held below the 1.1 controlled-shutdown figure: 10,000 leaders moved in
	// 3 s, 300 µs per leader for the controller's and brokers' work
	// together (one election, a LeaderAndIsr and an UpdateMetadata entry,
	// the new leader's apply).
	perLeader := k.ControllerPartitionChange + 2*k.ControllerRequestPartition + k.BrokerLeaderAndIsrPartition + k.BrokerUpdateMetadataPartition
	assert.LessOrEqual(t, 10_000*perLeader, 3*sim.Second)

	b, err := json.Marshal(k)
	require.NoError(t, err)
	got, err := ParseCosts(b)
	require.NoError(t, err)
	assert.Equal(t, k, got)

	got, err = ParseCosts([]byte(`{"broker_record_ns":2000}`))
	require.NoError(t, err)
	assert.Equal(t, 2*sim.Microsecond, got.BrokerRecord)
	assert.Equal(t, k.ControllerEvent, got.ControllerEvent)

	for _, tc := range []struct{ in, want string }{
		{`{"broker_record_us":2}`, `costs: json: unknown field "broker_record_us"`},
		{`{"broker_record_ns":-1}`, `costs: broker_record_ns: -1 must not be negative`},
		{`{"broker_record_ns":"1"}`, `costs: json: cannot unmarshal string`},
		{`{} {}`, `costs: trailing data`},
	} {
		_, err := ParseCosts([]byte(tc.in))
		require.Error(t, err, tc.in)
		assert.Contains(t, err.Error(), tc.want)
		assert.NotContains(t, err.Error(), "\n")
	}
	// Every field is in costFields, so Validate sees each: a negative in any
	// one is caught.
	for i := range k.costFields() {
		bad := DefaultCosts()
		*bad.costFields()[i].v = -1
		assert.Error(t, bad.Validate(), k.costFields()[i].key)
	}
}

// Every field of Config, Features and Costs has a JSON key, so none is lost
// by the round trip (a field added without one fails here).
func TestEveryFieldEncoded(t *testing.T) {
	var c Config
	assert.Equal(t, reflect.TypeOf(c).NumField(), len(c.fields())+1, "Config fields vs fields() + Features")
	assert.Equal(t, reflect.TypeOf(c.Features).NumField(), len(c.Features.boolFields())+3, "Features vs boolFields() + 3 encoded by key")
	var k Costs
	assert.Equal(t, reflect.TypeOf(k).NumField(), len(k.costFields()))
	b, err := json.Marshal(DefaultCosts())
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	for _, f := range k.costFields() {
		assert.Contains(t, m, f.key)
	}
	assert.Len(t, m, len(k.costFields()))
}
