package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/sim"
)

// The JSON form of a Config is one object whose keys are Kafka's property
// names, durations as integer milliseconds as Kafka's *.ms properties are
// (leader.imbalance.check.interval.seconds in seconds), with the features
// in a nested "features" object:
//
//	{"zookeeper.session.timeout.ms":18000, ..., "features":{"pipelined_zookeeper":true, ...}}
//
// MarshalJSON writes every key in a fixed order, except
// zookeeper.connection.timeout.ms, which is left out while unset (as in a
// Kafka properties file). ParseConfig starts from Kafka 2.6's defaults, or
// from ForEra of an "era" key ("era":"1.1"), applies the keys present, and
// validates; so a file names only what it changes, and Marshal then Parse
// gives back the same Config.

// field is one setting's JSON key and the Config field it encodes.
type field struct {
	key  string
	dur  *sim.Duration
	unit sim.Duration // of dur: Millisecond or Second
	i64  *int64
	i    *int
	i32  *int32
	b    *bool
	// unsetZero: a zero value means "unset" and is left out.
	unsetZero bool
}

// fields lists c's settings in their JSON order, as pointers into c.
func (c *Config) fields() []field {
	ms, s := sim.Millisecond, sim.Second
	return []field{
		{key: "zookeeper.session.timeout.ms", dur: &c.ZooKeeperSessionTimeout, unit: ms},
		{key: "zookeeper.connection.timeout.ms", dur: &c.ZooKeeperConnectionTimeout, unit: ms, unsetZero: true},
		{key: "zookeeper.max.in.flight.requests", i: &c.ZooKeeperMaxInFlightRequests},
		{key: "replica.lag.time.max.ms", dur: &c.ReplicaLagTimeMax, unit: ms},
		{key: "replica.lag.max.messages", i64: &c.ReplicaLagMaxMessages},
		{key: "replica.fetch.wait.max.ms", dur: &c.ReplicaFetchWaitMax, unit: ms},
		{key: "replica.fetch.min.bytes", i: &c.ReplicaFetchMinBytes},
		{key: "replica.fetch.max.bytes", i: &c.ReplicaFetchMaxBytes},
		{key: "replica.fetch.backoff.ms", dur: &c.ReplicaFetchBackoff, unit: ms},
		{key: "replica.socket.timeout.ms", dur: &c.ReplicaSocketTimeout, unit: ms},
		{key: "num.replica.fetchers", i: &c.NumReplicaFetchers},
		{key: "replica.high.watermark.checkpoint.interval.ms", dur: &c.ReplicaHighWatermarkCheckpointInterval, unit: ms},
		{key: "min.insync.replicas", i: &c.MinInsyncReplicas},
		{key: "unclean.leader.election.enable", b: &c.UncleanLeaderElectionEnable},
		{key: "default.replication.factor", i: &c.DefaultReplicationFactor},
		{key: "num.partitions", i: &c.NumPartitions},
		{key: "auto.create.topics.enable", b: &c.AutoCreateTopicsEnable},
		{key: "delete.topic.enable", b: &c.DeleteTopicEnable},
		{key: "offsets.topic.replication.factor", i: &c.OffsetsTopicReplicationFactor},
		{key: "offsets.topic.num.partitions", i: &c.OffsetsTopicNumPartitions},
		{key: "auto.leader.rebalance.enable", b: &c.AutoLeaderRebalanceEnable},
		{key: "leader.imbalance.check.interval.seconds", dur: &c.LeaderImbalanceCheckInterval, unit: s},
		{key: "leader.imbalance.per.broker.percentage", i: &c.LeaderImbalancePerBrokerPercentage},
		{key: "controlled.shutdown.enable", b: &c.ControlledShutdownEnable},
		{key: "controlled.shutdown.max.retries", i: &c.ControlledShutdownMaxRetries},
		{key: "controlled.shutdown.retry.backoff.ms", dur: &c.ControlledShutdownRetryBackoff, unit: ms},
		{key: "controller.socket.timeout.ms", dur: &c.ControllerSocketTimeout, unit: ms},
		{key: "request.timeout.ms", dur: &c.RequestTimeout, unit: ms},
		{key: "log.flush.interval.messages", i64: &c.LogFlushIntervalMessages},
		{key: "log.flush.interval.ms", dur: &c.LogFlushInterval, unit: ms},
		{key: "log.flush.offset.checkpoint.interval.ms", dur: &c.LogFlushOffsetCheckpointInterval, unit: ms},
		{key: "broker.id.generation.enable", b: &c.BrokerIDGenerationEnable},
		{key: "reserved.broker.max.id", i32: &c.ReservedBrokerMaxID},
	}
}

// durations lists the millisecond-valued settings.
func (c *Config) durations() []field {
	var out []field
	for _, f := range c.fields() {
		if f.dur != nil && f.unit == sim.Millisecond {
			out = append(out, f)
		}
	}
	return out
}

// boolFields lists the boolean features in their JSON order (the enums and
// the znode version are encoded by key in MarshalJSON and decode).
func (f *Features) boolFields() []field {
	return []field{
		{key: "pipelined_zookeeper", b: &f.PipelinedZooKeeper},
		{key: "controller_retries_bad_version", b: &f.ControllerRetriesBadVersion},
		{key: "keep_last_isr_member", b: &f.KeepLastIsrMember},
		{key: "offline_election_assignment_order", b: &f.OfflineElectionAssignmentOrder},
		{key: "fenced_controller_writes", b: &f.FencedControllerWrites},
		{key: "broker_epochs", b: &f.BrokerEpochs},
		{key: "accept_newer_broker_epoch", b: &f.AcceptNewerBrokerEpoch},
		{key: "stop_replica_leader_epoch", b: &f.StopReplicaLeaderEpoch},
		{key: "epoch_cache_truncated_at_end", b: &f.EpochCacheTruncatedAtEnd},
		{key: "isr_expand_needs_epoch_start", b: &f.IsrExpandNeedsEpochStart},
		{key: "isr_write_read_back", b: &f.IsrWriteReadBack},
		{key: "reassignment_adding_removing", b: &f.ReassignmentAddingRemoving},
		{key: "topic_rewrite_on_deleted_add", b: &f.TopicRewriteOnDeletedAdd},
	}
}

// MarshalJSON encodes c as described above (it does not validate).
func (c Config) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	key := func(k string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(strconv.Quote(k))
		b.WriteByte(':')
	}
	for _, f := range c.fields() {
		switch {
		case f.dur != nil:
			if f.unsetZero && *f.dur == 0 {
				continue
			}
			key(f.key)
			if f.key == "log.flush.interval.ms" && *f.dur == FlushNever {
				b.WriteString(strconv.FormatInt(1<<63-1, 10))
				continue
			}
			if *f.dur%f.unit != 0 {
				return nil, fmt.Errorf("config: %s: %dns is not a whole number of %s", f.key, int64(*f.dur), unitName(f.unit))
			}
			b.WriteString(strconv.FormatInt(int64(*f.dur/f.unit), 10))
		case f.i64 != nil:
			key(f.key)
			b.WriteString(strconv.FormatInt(*f.i64, 10))
		case f.i != nil:
			key(f.key)
			b.WriteString(strconv.Itoa(*f.i))
		case f.i32 != nil:
			key(f.key)
			b.WriteString(strconv.FormatInt(int64(*f.i32), 10))
		case f.b != nil:
			key(f.key)
			b.WriteString(strconv.FormatBool(*f.b))
		}
	}
	ft := &c.Features
	key("features")
	b.WriteString(`{"checked_ephemeral":`)
	b.WriteString(strconv.Quote(ft.CheckedEphemeral.String()))
	b.WriteString(`,"truncation":`)
	b.WriteString(strconv.Quote(ft.Truncation.String()))
	b.WriteString(`,"broker_znode_version":`)
	b.WriteString(strconv.Itoa(ft.BrokerZNodeVersion))
	for _, f := range ft.boolFields() {
		b.WriteByte(',')
		b.WriteString(strconv.Quote(f.key))
		b.WriteByte(':')
		b.WriteString(strconv.FormatBool(*f.b))
	}
	b.WriteString("}}")
	return b.Bytes(), nil
}

// UnmarshalJSON is ParseConfig: the keys present over Kafka 2.6's defaults
// (or the "era" named), validated.
func (c *Config) UnmarshalJSON(data []byte) error {
	got, err := ParseConfig(data)
	if err != nil {
		return err
	}
	*c = got
	return nil
}

// ParseConfig decodes a Config from its JSON form: the keys present are
// applied to Default() or, if an "era" key names a release, to ForEra of
// it; the result is validated. Unknown keys, values of the wrong type and
// invalid values are one-line errors naming the key.
func ParseConfig(data []byte) (Config, error) {
	var top map[string]json.RawMessage
	if err := decodeObject(data, &top); err != nil {
		return Config{}, fmt.Errorf("config: %v", err)
	}
	c := Default()
	if raw, ok := top["era"]; ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return Config{}, fmt.Errorf("config: era: %s is not a string", raw)
		}
		e, err := ParseEra(s)
		if err != nil {
			return Config{}, fmt.Errorf("config: %v", err)
		}
		c = ForEra(e)
	}
	byKey := map[string]field{}
	for _, f := range c.fields() {
		byKey[f.key] = f
	}
	for _, k := range slices.Sorted(maps.Keys(top)) {
		raw := top[k]
		switch k {
		case "era":
			continue
		case "features":
			if err := c.Features.decode(raw); err != nil {
				return Config{}, err
			}
			continue
		}
		f, ok := byKey[k]
		if !ok {
			return Config{}, fmt.Errorf("config: unknown setting %q", k)
		}
		if err := f.decode(raw); err != nil {
			return Config{}, err
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config: %v", err)
	}
	return c, nil
}

func (f field) decode(raw json.RawMessage) error {
	if f.b != nil {
		var v bool
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("config: %s: %s is not true or false", f.key, raw)
		}
		*f.b = v
		return nil
	}
	if f.unsetZero && string(bytes.TrimSpace(raw)) == "null" {
		*f.dur = 0
		return nil
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	if err != nil {
		return fmt.Errorf("config: %s: %s is not an integer", f.key, raw)
	}
	switch {
	case f.dur != nil:
		if f.key == "log.flush.interval.ms" && n == 1<<63-1 {
			*f.dur = FlushNever
			return nil
		}
		limit := int64(1<<63-1) / int64(f.unit)
		if n > limit || n < -limit {
			return fmt.Errorf("config: %s: %d is out of range (at most %d)", f.key, n, limit)
		}
		if f.unsetZero && n == 0 {
			return fmt.Errorf("config: %s: 0 is not a timeout (leave it out or null for the session timeout)", f.key)
		}
		*f.dur = sim.Duration(n) * f.unit
	case f.i64 != nil:
		*f.i64 = n
	case f.i != nil:
		if n != int64(int32(n)) {
			return fmt.Errorf("config: %s: %d is out of range for an int", f.key, n)
		}
		*f.i = int(n)
	case f.i32 != nil:
		if n != int64(int32(n)) {
			return fmt.Errorf("config: %s: %d is out of range for an int", f.key, n)
		}
		*f.i32 = int32(n)
	}
	return nil
}

func (ft *Features) decode(raw json.RawMessage) error {
	var m map[string]json.RawMessage
	if err := decodeObject(raw, &m); err != nil {
		return fmt.Errorf("config: features: %v", err)
	}
	byKey := map[string]field{}
	for _, f := range ft.boolFields() {
		byKey[f.key] = f
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		switch k {
		case "checked_ephemeral":
			form, err := parseNamed("checked_ephemeral", v, []EphemeralForm{Ephemeral22, Ephemeral09, Ephemeral08})
			if err != nil {
				return err
			}
			ft.CheckedEphemeral = form
		case "truncation":
			mode, err := parseNamed("truncation", v, []Truncation{TruncateEpochV2, TruncateEpoch, TruncateHighWatermark})
			if err != nil {
				return err
			}
			ft.Truncation = mode
		case "broker_znode_version":
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return fmt.Errorf("config: features.broker_znode_version: %s is not an integer", v)
			}
			ft.BrokerZNodeVersion = n
		default:
			f, ok := byKey[k]
			if !ok {
				return fmt.Errorf("config: unknown feature %q", k)
			}
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				return fmt.Errorf("config: features.%s: %s is not true or false", k, v)
			}
			*f.b = b
		}
	}
	return nil
}

// decodeObject decodes a JSON object into m, refusing anything else and
// trailing data, with an error of one line.
func decodeObject(data []byte, m *map[string]json.RawMessage) error {
	d := json.NewDecoder(bytes.NewReader(data))
	if err := d.Decode(m); err != nil {
		return fmt.Errorf("not a JSON object: %v", err)
	}
	if *m == nil {
		return fmt.Errorf("not a JSON object: null")
	}
	if d.More() {
		return fmt.Errorf("trailing data after the object")
	}
	return nil
}

func unitName(u sim.Duration) string {
	if u == sim.Second {
		return "seconds"
	}
	return "milliseconds"
}

// parseNamed reads a feature whose JSON form is one of the String names of
// values, so a name is written once, in String.
func parseNamed[T fmt.Stringer](key string, v json.RawMessage, values []T) (T, error) {
	var s string
	_ = json.Unmarshal(v, &s) // a non-string matches no name and is refused below
	quoted := make([]string, len(values))
	for i, x := range values {
		if x.String() == s {
			return x, nil
		}
		quoted[i] = strconv.Quote(x.String())
	}
	var zero T
	last := len(quoted) - 1
	return zero, fmt.Errorf("config: features.%s: %s is not %s or %s", key, v, strings.Join(quoted[:last], ", "), quoted[last])
}
