package kafkazk

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// Golden payloads. The state znode's order is the one real Kafka 2.6
// clusters show (controller_epoch first); the broker registration's is the
// Scala 2.13 mutable.HashMap order of its keys, which is what a 2.13 build
// of Kafka 2.6 writes.
func TestEncodeGolden(t *testing.T) {
	plain := Endpoint{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "b1", Port: 9092}
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"controller", ControllerData{BrokerID: 2, TimestampMs: 1700000000000}.Encode(),
			`{"version":1,"brokerid":2,"timestamp":"1700000000000"}`},
		{"controller_epoch", EncodeControllerEpoch(5), `5`},
		{"broker v4", BrokerRegistration{Version: 4, Endpoints: []Endpoint{plain}, JMXPort: -1, TimestampMs: 1700000000000}.Encode(),
			`{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://b1:9092"],"jmx_port":-1,"port":9092,"host":"b1","version":4,"timestamp":"1700000000000"}`},
		{"broker v4 rack, no plaintext", BrokerRegistration{Version: 4, Rack: "dc1", JMXPort: 9999, TimestampMs: 7,
			Endpoints: []Endpoint{{Listener: "CLIENT", SecurityProtocol: "SSL", Host: "h", Port: 9093}}}.Encode(),
			`{"listener_security_protocol_map":{"CLIENT":"SSL"},"endpoints":["CLIENT://h:9093"],"rack":"dc1","jmx_port":9999,"port":-1,"host":null,"version":4,"timestamp":"7"}`},
		{"broker v2 drops rack", BrokerRegistration{Version: 2, Rack: "dc1", Endpoints: []Endpoint{plain}, JMXPort: -1, TimestampMs: 1}.Encode(),
			`{"endpoints":["PLAINTEXT://b1:9092"],"jmx_port":-1,"port":9092,"host":"b1","version":2,"timestamp":"1"}`},
		{"topic v2", TopicAssignment{Version: 2, Partitions: map[int32]ReplicaAssignment{
			0: {Replicas: []int32{1, 2, 3}}, 1: {Replicas: []int32{4, 2, 3}, Adding: []int32{4}, Removing: []int32{1}}}}.Encode(),
			`{"version":2,"partitions":{"0":[1,2,3],"1":[4,2,3]},"adding_replicas":{"1":[4]},"removing_replicas":{"1":[1]}}`},
		{"topic v1", TopicAssignment{Version: 1, Partitions: map[int32]ReplicaAssignment{
			1: {Replicas: []int32{2, 3, 1}}, 0: {Replicas: []int32{1, 2, 3}}}}.Encode(),
			`{"version":1,"partitions":{"0":[1,2,3],"1":[2,3,1]}}`},
		{"state", PartitionState{Leader: 1, LeaderEpoch: 7, ISR: []int32{1, 3}, ControllerEpoch: 5}.Encode(),
			`{"controller_epoch":5,"leader":1,"version":1,"leader_epoch":7,"isr":[1,3]}`},
		{"isr change", PartitionList{Partitions: []TopicPartition{{"t", 0}}}.Encode(),
			`{"version":1,"partitions":[{"topic":"t","partition":0}]}`},
		{"reassign", ReassignPartitions{Partitions: []PartitionReplicas{{"t", 0, []int32{4, 5, 6}}}}.Encode(),
			`{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[4,5,6]}]}`},
		{"log dir event", LogDirEvent{BrokerID: 2}.Encode(), `{"version":1,"broker":2,"event":1}`},
		{"config change", ConfigChange{EntityPath: "topics/t"}.Encode(), `{"version":2,"entity_path":"topics/t"}`},
		{"cluster id", ClusterID{ID: "abcdefghijklmnopqrstuv"}.Encode(), `{"version":"1","id":"abcdefghijklmnopqrstuv"}`},
		{"producer id block", ProducerIDBlock{BrokerID: 0, BlockStart: 0, BlockEnd: 999}.Encode(),
			`{"version":1,"broker":0,"block_start":"0","block_end":"999"}`},
		{"escapes", ClusterID{ID: "a\"\\\n\x01<é"}.Encode(), `{"version":"1","id":"a\"\\\n\u0001<é"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { require.Equal(t, c.want, string(c.got)) })
	}
}

// Scala 2.13 mutable.HashMap order of partition ids: "0".."9" hash to
// 48..57 and "10", "11" to 1567, 1568. A table of 16 puts them in buckets
// 0..9, 15 (and "11" in 0, after "0"); it doubles to 32 on the 12th
// insertion, which moves "0".."9" to 16..25, "10" to 31 and "11" to 0.
func TestScalaMutableOrderPartitions(t *testing.T) {
	keys := func(n int) []string {
		var ks []string
		for i := range n {
			ks = append(ks, fmt.Sprint(i))
		}
		return ks
	}
	require.Equal(t, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}, scalaMutableOrder(keys(11)))
	require.Equal(t, []string{"11", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}, scalaMutableOrder(keys(12)))
	// 16 buckets with 11 keys: "11" shares bucket 0 with "0" and sorts after it by hash.
	require.Equal(t, []string{"0", "11", "1", "2"}, scalaMutableOrder([]string{"11", "2", "1", "0"}))
}

// Immutable maps of at most 4 entries keep insertion order (Map1..Map4).
func TestScalaImmutableOrderSmall(t *testing.T) {
	require.Equal(t, []string{"z", "a", "m", "b"}, scalaImmutableOrder([]string{"z", "a", "m", "b"}))
}

func TestDecodeGolden(t *testing.T) {
	c, err := DecodeController([]byte(`{"version":1,"brokerid":2,"timestamp":"1700000000000"}`))
	require.NoError(t, err)
	require.Equal(t, ControllerData{BrokerID: 2, TimestampMs: 1700000000000}, c)

	e, err := DecodeControllerEpoch([]byte("5"))
	require.NoError(t, err)
	require.Equal(t, int32(5), e)

	// Kafka's own documented schemas (BrokerIdZNode.decode comment), with
	// spaces and in their order: versions 1 to 4.
	b, err := DecodeBrokerRegistration([]byte(`{"version":1, "host":"localhost", "port":9092, "jmx_port":9999, "timestamp":"2233345666"}`))
	require.NoError(t, err)
	require.Equal(t, BrokerRegistration{Version: 1, JMXPort: 9999, TimestampMs: 2233345666,
		Endpoints: []Endpoint{{"PLAINTEXT", "PLAINTEXT", "localhost", 9092}}}, b)
	b, err = DecodeBrokerRegistration([]byte(`{"version":3,"host":"localhost","port":9092,"jmx_port":9999,"timestamp":"2233345666","endpoints":["PLAINTEXT://host1:9092", "SSL://host1:9093"],"rack":"dc1"}`))
	require.NoError(t, err)
	require.Equal(t, []Endpoint{{"PLAINTEXT", "PLAINTEXT", "host1", 9092}, {"SSL", "SSL", "host1", 9093}}, b.Endpoints)
	require.Equal(t, "dc1", b.Rack)
	b, err = DecodeBrokerRegistration([]byte(`{"version":4,"host":"localhost","port":9092,"jmx_port":9999,"timestamp":"2233345666","endpoints":["CLIENT://host1:9092", "REPLICATION://host1:9093"],"listener_security_protocol_map":{"CLIENT":"SSL", "REPLICATION":"PLAINTEXT"},"rack":"dc1"}`))
	require.NoError(t, err)
	require.Equal(t, []Endpoint{{"CLIENT", "SSL", "host1", 9092}, {"REPLICATION", "PLAINTEXT", "host1", 9093}}, b.Endpoints)
	// 2.7's version 5 is read as 2.6 reads it: features ignored.
	_, err = DecodeBrokerRegistration([]byte(`{"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://b:1"],"jmx_port":-1,"port":1,"host":"b","version":5,"timestamp":"1"}`))
	require.NoError(t, err)

	s, err := DecodePartitionState([]byte(`{"controller_epoch":5,"leader":1,"version":1,"leader_epoch":7,"isr":[1,3],"leader_recovery_state":1}`))
	require.NoError(t, err)
	require.Equal(t, PartitionState{Leader: 1, LeaderEpoch: 7, ISR: []int32{1, 3}, ControllerEpoch: 5}, s)

	ta, err := DecodeTopicAssignment([]byte(`{"version":2,"partitions":{"0":[1,2,3],"1":[4,2,3]},"adding_replicas":{"1":[4]},"removing_replicas":{}}`))
	require.NoError(t, err)
	require.Equal(t, map[int32]ReplicaAssignment{0: {Replicas: []int32{1, 2, 3}}, 1: {Replicas: []int32{4, 2, 3}, Adding: []int32{4}}}, ta.Partitions)
	ta, err = DecodeTopicAssignment([]byte(`{"version":1,"partitions":{"0":[1,2,3]}}`))
	require.NoError(t, err)
	require.Equal(t, int32(1), ta.Version)

	cid, err := DecodeClusterID([]byte(`{"version":"1","id":"x"}`))
	require.NoError(t, err)
	require.Equal(t, "x", cid.ID)
}

func TestDecodeBadInput(t *testing.T) {
	decoders := map[string]func([]byte) error{
		"controller":       func(d []byte) error { _, err := DecodeController(d); return err },
		"controller_epoch": func(d []byte) error { _, err := DecodeControllerEpoch(d); return err },
		"broker":           func(d []byte) error { _, err := DecodeBrokerRegistration(d); return err },
		"topic":            func(d []byte) error { _, err := DecodeTopicAssignment(d); return err },
		"state":            func(d []byte) error { _, err := DecodePartitionState(d); return err },
		"isr":              func(d []byte) error { _, err := DecodePartitionList(KindIsrChange, d); return err },
		"reassign":         func(d []byte) error { _, err := DecodeReassignPartitions(d); return err },
		"logdir":           func(d []byte) error { _, err := DecodeLogDirEvent(d); return err },
		"config":           func(d []byte) error { _, err := DecodeConfigChange(d); return err },
		"cluster":          func(d []byte) error { _, err := DecodeClusterID(d); return err },
		"pid":              func(d []byte) error { _, err := DecodeProducerIDBlock(d); return err },
	}
	const ts = `"timestamp":"1"`
	cases := []struct{ dec, data, want string }{
		{"controller", ``, "/controller: not a JSON object"},
		{"controller", `[1]`, "not a JSON object"},
		{"controller", `{"version":1,` + ts + `}`, `missing field "brokerid"`},
		{"controller", `{"version":1,"brokerid":"2",` + ts + `}`, `"brokerid": want an integer`},
		{"controller", `{"version":1,"brokerid":2.5,` + ts + `}`, `"brokerid": want a 32-bit integer`},
		{"controller", `{"version":1,"brokerid":4294967296,` + ts + `}`, `want a 32-bit integer`},
		{"controller", `{"version":2,"brokerid":2,` + ts + `}`, "unknown version 2"},
		{"controller", `{"version":1,"brokerid":2,"timestamp":1}`, `"timestamp": want a string`},
		{"controller", `{"version":1,"brokerid":2,"timestamp":"x"}`, `want a decimal integer in a string`},
		{"controller_epoch", `5 `, "/controller_epoch: want a decimal 32-bit integer"},
		{"controller_epoch", ``, "want a decimal 32-bit integer"},
		{"broker", `{"version":0,"jmx_port":1,` + ts + `}`, "/brokers/ids/<id>: unknown version 0"},
		{"broker", `{"version":4,` + ts + `}`, `missing field "jmx_port"`},
		{"broker", `{"version":1,"jmx_port":1,` + ts + `,"port":1}`, `missing field "host"`},
		{"broker", `{"version":4,"jmx_port":1,` + ts + `}`, `missing field "endpoints"`},
		{"broker", `{"version":4,"jmx_port":1,` + ts + `,"endpoints":"x"}`, `"endpoints": want an array`},
		{"broker", `{"version":4,"jmx_port":1,` + ts + `,"endpoints":["nohost"]}`, `want LISTENER://host:port`},
		{"broker", `{"version":4,"jmx_port":1,` + ts + `,"endpoints":["PLAINTEXT://h:x"]}`, `bad port`},
		{"broker", `{"version":2,"jmx_port":1,` + ts + `,"endpoints":["CLIENT://h:1"]}`, `no listener_security_protocol_map`},
		{"broker", `{"version":4,"jmx_port":1,` + ts + `,"endpoints":["CLIENT://h:1"],"listener_security_protocol_map":{}}`, `no security protocol defined for listener CLIENT`},
		{"broker", `{"version":4,"jmx_port":1,` + ts + `,"endpoints":["client://h:1"],"listener_security_protocol_map":{"client":"SSL"}}`, `no security protocol defined for listener CLIENT`},
		{"broker", `{"version":4,"jmx_port":1,` + ts + `,"endpoints":[],"listener_security_protocol_map":{"A":"TLS"}}`, `unknown security protocol "TLS"`},
		{"broker", `{"version":4,"jmx_port":1,` + ts + `,"endpoints":[],"rack":3}`, `"rack": want a string`},
		{"topic", `{"version":3,"partitions":{}}`, "/brokers/topics/<t>: unknown version 3"},
		{"topic", `{"version":2}`, `missing field "partitions"`},
		{"topic", `{"version":2,"partitions":{"a":[1]}}`, `partition key "a" is not a partition id`},
		{"topic", `{"version":2,"partitions":{"0":[1,"2"]}}`, `partitions["0"][1]: want an integer`},
		{"topic", `{"version":2,"partitions":{"0":[1]},"adding_replicas":{"1":[2]}}`, `adding_replicas names partition "1"`},
		{"topic", `{"version":2,"partitions":{"0":[1]},"removing_replicas":[]}`, `"removing_replicas": want an object`},
		{"state", `{"version":1,"leader":1,"leader_epoch":1,"isr":[1]}`, `partitions/<p>/state: missing field "controller_epoch"`},
		{"state", `{"version":1,"leader":1,"leader_epoch":1,"isr":1,"controller_epoch":1}`, `"isr": want an array of integers`},
		{"state", `{"leader":1}`, `missing field "version"`},
		{"isr", `{"version":1,"partitions":[{"topic":"t"}]}`, `isr_change_<seq>: missing field "partition"`},
		{"isr", `{"version":1,"partitions":[3]}`, `partitions[0]: want an object`},
		{"reassign", `{"version":1,"partitions":[{"topic":"t","partition":0}]}`, `/admin/reassign_partitions: missing field "replicas"`},
		{"logdir", `{"version":1,"broker":1,"event":2}`, `unknown event 2`},
		{"config", `{"version":1,"entity_type":"topics","entity_name":"t"}`, `config_change_<seq>: unknown version 1`},
		{"cluster", `{"version":1,"id":"x"}`, `/cluster/id: "version": want a string`},
		{"cluster", `{"version":"2","id":"x"}`, `unknown version "2"`},
		{"pid", `{"version":1,"broker":0,"block_start":0,"block_end":"999"}`, `/latest_producer_id_block: "block_start": want a string`},
	}
	for _, c := range cases {
		t.Run(c.dec+" "+c.data, func(t *testing.T) {
			err := decoders[c.dec]([]byte(c.data))
			require.Error(t, err)
			require.ErrorIs(t, err, ErrMalformed)
			require.Contains(t, err.Error(), c.want)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestEncodeMisusePanics(t *testing.T) {
	require.PanicsWithValue(t, "kafkazk: BrokerRegistration.Encode: Kafka 2.6 writes versions 2 and 4 only, not 3",
		func() { BrokerRegistration{Version: 3}.Encode() })
	require.Panics(t, func() { TopicAssignment{Version: 3}.Encode() })
}

var (
	genID    = rapid.Int32Range(-1, 1<<20)
	genInts  = rapid.SliceOfN(rapid.Int32Range(0, 1000), 0, 6)
	genName  = rapid.StringMatching(`[a-zA-Z0-9._-]{1,20}`)
	genText  = rapid.String()
	genStamp = rapid.Int64Range(0, 1<<62)
)

func TestRoundTrips(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := ControllerData{BrokerID: genID.Draw(t, "id"), TimestampMs: genStamp.Draw(t, "ts")}
		got, err := DecodeController(c.Encode())
		require.NoError(t, err)
		require.Equal(t, c, got)

		epoch := rapid.Int32().Draw(t, "epoch")
		e, err := DecodeControllerEpoch(EncodeControllerEpoch(epoch))
		require.NoError(t, err)
		require.Equal(t, epoch, e)

		s := PartitionState{Leader: genID.Draw(t, "leader"), LeaderEpoch: genID.Draw(t, "le"),
			ISR: genInts.Draw(t, "isr"), ControllerEpoch: genID.Draw(t, "ce")}
		gs, err := DecodePartitionState(s.Encode())
		require.NoError(t, err)
		require.Equal(t, s, gs)

		pid := ProducerIDBlock{BrokerID: genID.Draw(t, "pb"), BlockStart: genStamp.Draw(t, "bs"), BlockEnd: genStamp.Draw(t, "be")}
		gp, err := DecodeProducerIDBlock(pid.Encode())
		require.NoError(t, err)
		require.Equal(t, pid, gp)

		cid := ClusterID{ID: genText.Draw(t, "cid")}
		gc, err := DecodeClusterID(cid.Encode())
		require.NoError(t, err)
		require.Equal(t, cid, gc)

		l := PartitionList{Partitions: rapid.SliceOfN(rapid.Custom(func(t *rapid.T) TopicPartition {
			return TopicPartition{genText.Draw(t, "topic"), genID.Draw(t, "p")}
		}), 0, 5).Draw(t, "parts")}
		gl, err := DecodePartitionList(KindPreferredElection, l.Encode())
		require.NoError(t, err)
		require.Equal(t, l, gl)

		r := ReassignPartitions{Partitions: rapid.SliceOfN(rapid.Custom(func(t *rapid.T) PartitionReplicas {
			return PartitionReplicas{genName.Draw(t, "topic"), genID.Draw(t, "p"), genInts.Draw(t, "rs")}
		}), 0, 5).Draw(t, "reassign")}
		gr, err := DecodeReassignPartitions(r.Encode())
		require.NoError(t, err)
		require.Equal(t, r, gr)
	})
}

func TestBrokerRoundTrip(t *testing.T) {
	protos := rapid.SampledFrom(securityProtocols)
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 6).Draw(t, "n")
		b := BrokerRegistration{Version: rapid.SampledFrom([]int32{2, 4}).Draw(t, "v"),
			JMXPort: genID.Draw(t, "jmx"), TimestampMs: genStamp.Draw(t, "ts")}
		for i := range n {
			e := Endpoint{Host: genName.Draw(t, "host"), Port: rapid.Int32Range(-1, 65535).Draw(t, "port")}
			if b.Version == 2 {
				e.SecurityProtocol = protos.Draw(t, "proto")
				e.Listener = e.SecurityProtocol
			} else {
				e.Listener = fmt.Sprintf("L%d_%s", i, strings.ToUpper(genName.Draw(t, "l")))
				e.SecurityProtocol = protos.Draw(t, "proto")
			}
			b.Endpoints = append(b.Endpoints, e)
		}
		if b.Version == 4 {
			b.Rack = rapid.StringMatching(`[a-z0-9]{0,5}`).Draw(t, "rack")
		}
		got, err := DecodeBrokerRegistration(b.Encode())
		require.NoError(t, err)
		require.Equal(t, b, got)
	})
}

func TestTopicRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ta := TopicAssignment{Version: rapid.SampledFrom([]int32{1, 2}).Draw(t, "v"), Partitions: map[int32]ReplicaAssignment{}}
		for range rapid.IntRange(0, 40).Draw(t, "n") {
			ra := ReplicaAssignment{Replicas: genInts.Draw(t, "rs")}
			if ta.Version == 2 {
				if a := genInts.Draw(t, "add"); len(a) > 0 {
					ra.Adding = a
				}
				if r := genInts.Draw(t, "rm"); len(r) > 0 {
					ra.Removing = r
				}
			}
			ta.Partitions[rapid.Int32Range(0, 100).Draw(t, "p")] = ra
		}
		got, err := DecodeTopicAssignment(ta.Encode())
		require.NoError(t, err)
		require.Equal(t, ta, got)
	})
}

// Decoders never panic on arbitrary bytes, and every error wraps ErrMalformed.
func TestDecodeArbitraryBytes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		data := rapid.SliceOf(rapid.Byte()).Draw(t, "data")
		for _, err := range []error{
			func() error { _, err := DecodeController(data); return err }(),
			func() error { _, err := DecodeBrokerRegistration(data); return err }(),
			func() error { _, err := DecodeTopicAssignment(data); return err }(),
			func() error { _, err := DecodePartitionState(data); return err }(),
			func() error { _, err := DecodeReassignPartitions(data); return err }(),
		} {
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
		}
	})
}
