package kafkazk

import (
	"slices"
	"strconv"
	"strings"
)

// This file holds Kafka's znode payloads, as Kafka 2.6
// core/src/main/scala/kafka/zk/ZkData.scala encodes and decodes them. Each
// Encode writes the bytes Kafka 2.6 writes, key order included (see
// zkjson.go); each Decode is strict about the fields Kafka reads (missing
// field, wrong JSON type, unknown version) and, like Kafka's read-by-key
// JsonObject, ignores fields it does not read. Timestamps are milliseconds
// of the caller's virtual clock, never wall time.

// ControllerData is /controller: the elected controller (ZkData
// ControllerZNode, version 1; 3.4's version 2 is not modelled).
type ControllerData struct {
	BrokerID    int32 // the controller's broker id ("brokerid")
	TimestampMs int64 // virtual time of the election, ms since the epoch
}

const kindController = "/controller"

// Encode returns {"version":1,"brokerid":N,"timestamp":"ms"}, with the
// timestamp as a string (a 3-entry Scala Map: insertion order).
func (c ControllerData) Encode() []byte {
	var w jsonWriter
	w.raw(`{"version":1,"brokerid":`)
	w.int(int64(c.BrokerID))
	w.raw(`,"timestamp":`)
	w.str(strconv.FormatInt(c.TimestampMs, 10))
	w.raw("}")
	return w.buf
}

// DecodeController parses /controller. Kafka 2.6 reads only "brokerid";
// this also requires version 1 and the timestamp, so that a malformed
// write by the simulation is caught.
func DecodeController(data []byte) (ControllerData, error) {
	o, err := parseObject(kindController, data)
	if err != nil {
		return ControllerData{}, err
	}
	if _, err := o.version(1); err != nil {
		return ControllerData{}, err
	}
	var c ControllerData
	if c.BrokerID, err = o.int32("brokerid"); err != nil {
		return ControllerData{}, err
	}
	if c.TimestampMs, err = o.int64String("timestamp"); err != nil {
		return ControllerData{}, err
	}
	return c, nil
}

// InitialControllerEpoch is the value /controller_epoch is created with, so
// that the first controller has epoch 1 (Kafka KafkaController.InitialControllerEpoch).
const InitialControllerEpoch int32 = 0

// EncodeControllerEpoch returns /controller_epoch's data: the epoch as
// plain decimal text, not JSON (ZkData ControllerEpochZNode).
func EncodeControllerEpoch(epoch int32) []byte { return strconv.AppendInt(nil, int64(epoch), 10) }

// DecodeControllerEpoch parses /controller_epoch as Java's String.toInt
// does: an optional sign and decimal digits, nothing else.
func DecodeControllerEpoch(data []byte) (int32, error) {
	n, err := strconv.ParseInt(string(data), 10, 32)
	if err != nil {
		return 0, malformed("/controller_epoch", "want a decimal 32-bit integer, got %q", clip(data))
	}
	return int32(n), nil
}

// Security protocols a listener may map to (Kafka SecurityProtocol).
var securityProtocols = []string{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"}

// Endpoint is one advertised listener of a broker (Kafka EndPoint).
type Endpoint struct {
	Listener         string // listener name, upper case (e.g. "PLAINTEXT")
	SecurityProtocol string // PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
	Host             string // may be empty: bind to the default interface
	Port             int32
}

// connectionString is Kafka's EndPoint.connectionString, LISTENER://host:port.
// Simplified: an IPv6 host is not bracketed (Kafka's Utils.formatAddress).
func (e Endpoint) connectionString() string {
	return e.Listener + "://" + e.Host + ":" + strconv.Itoa(int(e.Port))
}

// BrokerRegistration is /brokers/ids/<id>, a live broker's registration
// (ZkData BrokerIdZNode, BrokerInfo). Kafka 2.6 writes version 4 (version 2
// below inter.broker.protocol.version 0.10.0-IV1); versions 1 and 3 are read
// only, and 2.7's version 5 is read as Kafka 2.6 reads it, as version 4
// without its "features".
type BrokerRegistration struct {
	Version     int32      // 2 or 4 to encode; 1 to 5 decode
	Endpoints   []Endpoint // advertised listeners, in order
	JMXPort     int32      // -1 when JMX is off
	TimestampMs int64      // virtual time of registration, ms since the epoch
	Rack        string     // "" for none; written from version 3 on
}

const kindBroker = "/brokers/ids/<id>"

// Encode returns the registration as Kafka 2.6's BrokerIdZNode.encode: the
// top-level host and port are those of the first PLAINTEXT endpoint (null
// and -1 when there is none), keys in mutable.HashMap order. It panics on
// a version Kafka 2.6 does not write (API misuse).
func (b BrokerRegistration) Encode() []byte {
	if b.Version != 2 && b.Version != 4 {
		panic("kafkazk: BrokerRegistration.Encode: Kafka 2.6 writes versions 2 and 4 only, not " + strconv.Itoa(int(b.Version)))
	}
	host, port, hostNull := "", int32(-1), true
	for _, e := range b.Endpoints {
		if e.SecurityProtocol == "PLAINTEXT" {
			host, port, hostNull = e.Host, e.Port, false
			break
		}
	}
	keys := []string{"version", "host", "port", "endpoints", "jmx_port", "timestamp"}
	if b.Rack != "" && b.Version >= 3 {
		keys = append(keys, "rack")
	}
	if b.Version >= 4 {
		keys = append(keys, "listener_security_protocol_map")
	}
	var w jsonWriter
	w.object(scalaMutableOrder(keys), func(k string) {
		switch k {
		case "version":
			w.int(int64(b.Version))
		case "host":
			if hostNull {
				w.raw("null")
			} else {
				w.str(host)
			}
		case "port":
			w.int(int64(port))
		case "endpoints":
			w.raw("[")
			for i, e := range b.Endpoints {
				if i > 0 {
					w.raw(",")
				}
				w.str(e.connectionString())
			}
			w.raw("]")
		case "jmx_port":
			w.int(int64(b.JMXPort))
		case "timestamp":
			w.str(strconv.FormatInt(b.TimestampMs, 10))
		case "rack":
			w.str(b.Rack)
		case "listener_security_protocol_map":
			// endpoints.map(...).toMap: an immutable Map; a repeated
			// listener keeps its first position and its last value.
			var names []string
			proto := map[string]string{}
			for _, e := range b.Endpoints {
				if _, ok := proto[e.Listener]; !ok {
					names = append(names, e.Listener)
				}
				proto[e.Listener] = e.SecurityProtocol
			}
			w.object(scalaImmutableOrder(names), func(n string) { w.str(proto[n]) })
		}
	})
	return w.buf
}

// DecodeBrokerRegistration parses /brokers/ids/<id> as Kafka 2.6's
// BrokerIdZNode.decode: version and jmx_port always; version 1 has only
// host and port (one PLAINTEXT endpoint); later versions take endpoints,
// their protocols from listener_security_protocol_map or, without it, from
// the listener name. The timestamp is required here (Kafka does not read it).
func DecodeBrokerRegistration(data []byte) (BrokerRegistration, error) {
	o, err := parseObject(kindBroker, data)
	if err != nil {
		return BrokerRegistration{}, err
	}
	var b BrokerRegistration
	if b.Version, err = o.version(1, 2, 3, 4, 5); err != nil {
		return BrokerRegistration{}, err
	}
	if b.JMXPort, err = o.int32("jmx_port"); err != nil {
		return BrokerRegistration{}, err
	}
	if b.TimestampMs, err = o.int64String("timestamp"); err != nil {
		return BrokerRegistration{}, err
	}
	if b.Version == 1 {
		host, err := o.string("host")
		if err != nil {
			return BrokerRegistration{}, err
		}
		port, err := o.int32("port")
		if err != nil {
			return BrokerRegistration{}, err
		}
		b.Endpoints = []Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: host, Port: port}}
	} else {
		var protoMap map[string]string
		if o.has("listener_security_protocol_map") {
			m, err := o.object("listener_security_protocol_map")
			if err != nil {
				return BrokerRegistration{}, err
			}
			protoMap = map[string]string{}
			for name, v := range m.fields {
				p, err := stringOf(kindBroker, "listener_security_protocol_map["+strconv.Quote(name)+"]", v)
				if err != nil {
					return BrokerRegistration{}, err
				}
				if !slices.Contains(securityProtocols, p) {
					return BrokerRegistration{}, malformed(kindBroker, "unknown security protocol %q for listener %q", p, name)
				}
				protoMap[name] = p // as given: Kafka's map keys are not normalised, endpoints' names are
			}
		}
		items, err := o.array("endpoints")
		if err != nil {
			return BrokerRegistration{}, err
		}
		for i, it := range items {
			s, err := stringOf(kindBroker, "endpoints["+strconv.Itoa(i)+"]", it)
			if err != nil {
				return BrokerRegistration{}, err
			}
			e, err := parseEndpoint(s, protoMap)
			if err != nil {
				return BrokerRegistration{}, err
			}
			b.Endpoints = append(b.Endpoints, e)
		}
	}
	if o.has("rack") && !o.isNull("rack") {
		if b.Rack, err = o.string("rack"); err != nil {
			return BrokerRegistration{}, err
		}
	}
	return b, nil
}

// parseEndpoint is Kafka's EndPoint.createEndPoint: LISTENER://host:port,
// the listener name upper-cased, the protocol from protoMap (nil: the
// listener name is the protocol).
func parseEndpoint(s string, protoMap map[string]string) (Endpoint, error) {
	name, rest, ok := strings.Cut(s, "://")
	colon := strings.LastIndex(rest, ":")
	if !ok || colon < 0 {
		return Endpoint{}, malformed(kindBroker, "endpoint %q: want LISTENER://host:port", s)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(rest[:colon], "["), "]")
	port, err := strconv.ParseInt(rest[colon+1:], 10, 32)
	if err != nil {
		return Endpoint{}, malformed(kindBroker, "endpoint %q: bad port", s)
	}
	e := Endpoint{Listener: strings.ToUpper(name), Host: host, Port: int32(port)}
	if protoMap == nil {
		if !slices.Contains(securityProtocols, e.Listener) {
			return Endpoint{}, malformed(kindBroker, "endpoint %q: listener is not a security protocol and there is no listener_security_protocol_map", s)
		}
		e.SecurityProtocol = e.Listener
	} else if e.SecurityProtocol, ok = protoMap[e.Listener]; !ok {
		return Endpoint{}, malformed(kindBroker, "endpoint %q: no security protocol defined for listener %s", s, e.Listener)
	}
	return e, nil
}

// ReplicaAssignment is one partition's replicas in a topic znode (Kafka
// controller.ReplicaAssignment). Replicas is in assignment order; its head
// is the preferred replica.
type ReplicaAssignment struct {
	Replicas []int32
	Adding   []int32 // replicas being added by a reassignment (version 2)
	Removing []int32 // replicas being removed by a reassignment (version 2)
}

// TopicAssignment is /brokers/topics/<t>: the topic's partitions and their
// replicas (ZkData TopicZNode). Kafka 2.4–2.6 write version 2, with
// adding_replicas and removing_replicas; 2.3 and earlier wrote version 1.
type TopicAssignment struct {
	Version    int32 // 1 or 2
	Partitions map[int32]ReplicaAssignment
}

const kindTopic = "/brokers/topics/<t>"

// partitionKeys returns the partition ids as strings, in ascending order.
func partitionKeys[V any](m map[int32]V, keep func(V) bool) []string {
	ids := make([]int32, 0, len(m))
	for id, v := range m {
		if keep(v) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = strconv.Itoa(int(id))
	}
	return keys
}

// Encode returns the topic znode. Version 2 is
// {"version":2,"partitions":{…},"adding_replicas":{…},"removing_replicas":{…}}
// with only non-empty adding/removing entries, each inner object in Scala
// mutable.HashMap order of its partition ids (Kafka 2.6 TopicZNode.encode).
// Version 1 is {"version":1,"partitions":{…}}; simplified: Kafka 2.3's
// inner order follows the caller's map, kzsim writes ascending ids.
// It panics on another version (API misuse).
func (t TopicAssignment) Encode() []byte {
	all := func(ReplicaAssignment) bool { return true }
	var w jsonWriter
	inner := func(keys []string, pick func(ReplicaAssignment) []int32) {
		w.object(keys, func(k string) {
			id, _ := strconv.Atoi(k)
			w.ints(pick(t.Partitions[int32(id)]))
		})
	}
	replicas := func(r ReplicaAssignment) []int32 { return r.Replicas }
	switch t.Version {
	case 1:
		w.raw(`{"version":1,"partitions":`)
		inner(partitionKeys(t.Partitions, all), replicas)
	case 2:
		w.raw(`{"version":2,"partitions":`)
		inner(scalaMutableOrder(partitionKeys(t.Partitions, all)), replicas)
		w.raw(`,"adding_replicas":`)
		inner(scalaMutableOrder(partitionKeys(t.Partitions, func(r ReplicaAssignment) bool { return len(r.Adding) > 0 })),
			func(r ReplicaAssignment) []int32 { return r.Adding })
		w.raw(`,"removing_replicas":`)
		inner(scalaMutableOrder(partitionKeys(t.Partitions, func(r ReplicaAssignment) bool { return len(r.Removing) > 0 })),
			func(r ReplicaAssignment) []int32 { return r.Removing })
	default:
		panic("kafkazk: TopicAssignment.Encode: unknown version " + strconv.Itoa(int(t.Version)))
	}
	w.raw("}")
	return w.buf
}

// DecodeTopicAssignment parses /brokers/topics/<t>. Kafka 2.6 reads
// "partitions" and, when present, "adding_replicas" and
// "removing_replicas", whatever the version; this also requires version 1
// or 2 (2.8's version 3 adds topic_id and is refused), partition keys that
// are decimal ids, and adding/removing entries only for known partitions.
func DecodeTopicAssignment(data []byte) (TopicAssignment, error) {
	o, err := parseObject(kindTopic, data)
	if err != nil {
		return TopicAssignment{}, err
	}
	var t TopicAssignment
	if t.Version, err = o.version(1, 2); err != nil {
		return TopicAssignment{}, err
	}
	parts, err := o.object("partitions")
	if err != nil {
		return TopicAssignment{}, err
	}
	t.Partitions = map[int32]ReplicaAssignment{}
	for k, v := range parts.fields {
		id, err := strconv.ParseInt(k, 10, 32)
		if err != nil || id < 0 {
			return TopicAssignment{}, malformed(kindTopic, "partition key %q is not a partition id", k)
		}
		rs, err := int32sOf(kindTopic, "partitions["+strconv.Quote(k)+"]", v)
		if err != nil {
			return TopicAssignment{}, err
		}
		t.Partitions[int32(id)] = ReplicaAssignment{Replicas: rs}
	}
	for _, field := range []string{"adding_replicas", "removing_replicas"} {
		if !o.has(field) {
			continue
		}
		m, err := o.object(field)
		if err != nil {
			return TopicAssignment{}, err
		}
		for k, v := range m.fields {
			id, err := strconv.ParseInt(k, 10, 32)
			ra, ok := t.Partitions[int32(id)]
			if err != nil || !ok {
				return TopicAssignment{}, malformed(kindTopic, "%s names partition %q, which is not in \"partitions\"", field, k)
			}
			rs, err := int32sOf(kindTopic, field+"["+strconv.Quote(k)+"]", v)
			if err != nil {
				return TopicAssignment{}, err
			}
			if len(rs) == 0 {
				rs = nil
			}
			if field == "adding_replicas" {
				ra.Adding = rs
			} else {
				ra.Removing = rs
			}
			t.Partitions[int32(id)] = ra
		}
	}
	return t, nil
}

// PartitionState is …/partitions/<p>/state: the partition's leader, ISR
// and epochs (ZkData TopicPartitionStateZNode, LeaderIsrAndControllerEpoch).
// The znode's zkVersion, the partition epoch, is not part of the data.
type PartitionState struct {
	Leader          int32 // -1: no leader
	LeaderEpoch     int32
	ISR             []int32
	ControllerEpoch int32 // of the controller that elected the leader
}

const kindState = "…/partitions/<p>/state"

// Encode returns
// {"controller_epoch":C,"leader":L,"version":1,"leader_epoch":E,"isr":[…]},
// the order of Kafka 2.6's 5-entry Scala Map (a CHAMP HashMap).
func (s PartitionState) Encode() []byte {
	var w jsonWriter
	w.object(scalaImmutableOrder([]string{"version", "leader", "leader_epoch", "controller_epoch", "isr"}), func(k string) {
		switch k {
		case "version":
			w.int(1)
		case "leader":
			w.int(int64(s.Leader))
		case "leader_epoch":
			w.int(int64(s.LeaderEpoch))
		case "controller_epoch":
			w.int(int64(s.ControllerEpoch))
		case "isr":
			w.ints(s.ISR)
		}
	})
	return w.buf
}

// DecodePartitionState parses a partition state znode. Kafka 2.6 reads
// leader, leader_epoch, isr and controller_epoch; this also requires
// version 1 (3.2's leader_recovery_state is ignored, as any extra field).
func DecodePartitionState(data []byte) (PartitionState, error) {
	o, err := parseObject(kindState, data)
	if err != nil {
		return PartitionState{}, err
	}
	if _, err := o.version(1); err != nil {
		return PartitionState{}, err
	}
	var s PartitionState
	if s.Leader, err = o.int32("leader"); err != nil {
		return PartitionState{}, err
	}
	if s.LeaderEpoch, err = o.int32("leader_epoch"); err != nil {
		return PartitionState{}, err
	}
	if s.ISR, err = o.int32s("isr"); err != nil {
		return PartitionState{}, err
	}
	if s.ControllerEpoch, err = o.int32("controller_epoch"); err != nil {
		return PartitionState{}, err
	}
	return s, nil
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// PartitionList is the payload of /isr_change_notification/isr_change_<seq>
// (ZkData IsrChangeNotificationSequenceZNode) and of
// /admin/preferred_replica_election (PreferredReplicaElectionZNode), both
// {"version":1,"partitions":[{"topic":"t","partition":0},…]}. Kafka builds
// the array from a Scala Set, in hash order; simplified: kzsim writes the
// caller's order, and Kafka's readers treat it as a set.
type PartitionList struct {
	Partitions []TopicPartition
}

// Znode kinds of PartitionList, for DecodePartitionList's errors.
const (
	KindIsrChange         = "/isr_change_notification/isr_change_<seq>"
	KindPreferredElection = "/admin/preferred_replica_election"
)

// Encode returns {"version":1,"partitions":[{"topic":…,"partition":…},…]}.
func (l PartitionList) Encode() []byte {
	var w jsonWriter
	w.raw(`{"version":1,"partitions":[`)
	for i, tp := range l.Partitions {
		if i > 0 {
			w.raw(",")
		}
		w.raw(`{"topic":`)
		w.str(tp.Topic)
		w.raw(`,"partition":`)
		w.int(int64(tp.Partition))
		w.raw("}")
	}
	w.raw("]}")
	return w.buf
}

// DecodePartitionList parses a PartitionList; kind (KindIsrChange or
// KindPreferredElection) names the znode in errors. Kafka 2.6 reads only
// "partitions"; this also requires version 1.
func DecodePartitionList(kind string, data []byte) (PartitionList, error) {
	o, err := parseObject(kind, data)
	if err != nil {
		return PartitionList{}, err
	}
	if _, err := o.version(1); err != nil {
		return PartitionList{}, err
	}
	items, err := o.array("partitions")
	if err != nil {
		return PartitionList{}, err
	}
	l := PartitionList{Partitions: []TopicPartition{}}
	for i, it := range items {
		p, err := parseObject(kind, it)
		if err != nil {
			return PartitionList{}, malformed(kind, "partitions[%d]: want an object", i)
		}
		var tp TopicPartition
		if tp.Topic, err = p.string("topic"); err != nil {
			return PartitionList{}, err
		}
		if tp.Partition, err = p.int32("partition"); err != nil {
			return PartitionList{}, err
		}
		l.Partitions = append(l.Partitions, tp)
	}
	return l, nil
}

// PartitionReplicas is one entry of /admin/reassign_partitions: a
// partition and its target replicas.
type PartitionReplicas struct {
	Topic     string
	Partition int32
	Replicas  []int32
}

// ReassignPartitions is /admin/reassign_partitions (ZkData
// ReassignPartitionsZNode, LegacyPartitionAssignment; deprecated in 2.4 by
// KIP-455 but still read by the 2.6 controller).
type ReassignPartitions struct {
	Partitions []PartitionReplicas
}

const kindReassign = "/admin/reassign_partitions"

// Encode returns
// {"version":1,"partitions":[{"topic":…,"partition":…,"replicas":[…]},…]},
// fields in the case classes' declaration order as Jackson writes them;
// entries in the caller's order (Kafka's follow its map's order).
func (r ReassignPartitions) Encode() []byte {
	var w jsonWriter
	w.raw(`{"version":1,"partitions":[`)
	for i, p := range r.Partitions {
		if i > 0 {
			w.raw(",")
		}
		w.raw(`{"topic":`)
		w.str(p.Topic)
		w.raw(`,"partition":`)
		w.int(int64(p.Partition))
		w.raw(`,"replicas":`)
		w.ints(p.Replicas)
		w.raw("}")
	}
	w.raw("]}")
	return w.buf
}

// DecodeReassignPartitions parses /admin/reassign_partitions. Simplified:
// Kafka binds it with Jackson to case classes, which tolerates missing
// fields as null/0; this requires every field. Unknown fields are ignored.
func DecodeReassignPartitions(data []byte) (ReassignPartitions, error) {
	o, err := parseObject(kindReassign, data)
	if err != nil {
		return ReassignPartitions{}, err
	}
	if _, err := o.version(1); err != nil {
		return ReassignPartitions{}, err
	}
	items, err := o.array("partitions")
	if err != nil {
		return ReassignPartitions{}, err
	}
	r := ReassignPartitions{Partitions: []PartitionReplicas{}}
	for i, it := range items {
		p, err := parseObject(kindReassign, it)
		if err != nil {
			return ReassignPartitions{}, malformed(kindReassign, "partitions[%d]: want an object", i)
		}
		var pr PartitionReplicas
		if pr.Topic, err = p.string("topic"); err != nil {
			return ReassignPartitions{}, err
		}
		if pr.Partition, err = p.int32("partition"); err != nil {
			return ReassignPartitions{}, err
		}
		if pr.Replicas, err = p.int32s("replicas"); err != nil {
			return ReassignPartitions{}, err
		}
		r.Partitions = append(r.Partitions, pr)
	}
	return r, nil
}

// LogDirEvent is /log_dir_event_notification/log_dir_event_<seq>: a broker
// reports a failed log directory (ZkData LogDirEventNotificationSequenceZNode).
type LogDirEvent struct {
	BrokerID int32
}

// LogDirFailureEvent is the only event code Kafka 2.6 writes.
const LogDirFailureEvent int32 = 1

const kindLogDirEvent = "/log_dir_event_notification/log_dir_event_<seq>"

// Encode returns {"version":1,"broker":N,"event":1}.
func (e LogDirEvent) Encode() []byte {
	var w jsonWriter
	w.raw(`{"version":1,"broker":`)
	w.int(int64(e.BrokerID))
	w.raw(`,"event":1}`)
	return w.buf
}

// DecodeLogDirEvent parses a log dir event; Kafka reads only "broker",
// this also requires version 1 and event 1.
func DecodeLogDirEvent(data []byte) (LogDirEvent, error) {
	o, err := parseObject(kindLogDirEvent, data)
	if err != nil {
		return LogDirEvent{}, err
	}
	if _, err := o.version(1); err != nil {
		return LogDirEvent{}, err
	}
	var e LogDirEvent
	if e.BrokerID, err = o.int32("broker"); err != nil {
		return LogDirEvent{}, err
	}
	ev, err := o.int32("event")
	if err != nil {
		return LogDirEvent{}, err
	}
	if ev != LogDirFailureEvent {
		return LogDirEvent{}, malformed(kindLogDirEvent, "unknown event %d", ev)
	}
	return e, nil
}

// ConfigChange is /config/changes/config_change_<seq>: an entity's dynamic
// config changed (ZkData ConfigEntityChangeNotificationSequenceZNode,
// version 2). Version 1 (entity_type, entity_name; before 0.10.1) is not
// modelled.
type ConfigChange struct {
	EntityPath string // e.g. "topics/t"
}

const kindConfigChange = "/config/changes/config_change_<seq>"

// Encode returns {"version":2,"entity_path":"…"}.
func (c ConfigChange) Encode() []byte {
	var w jsonWriter
	w.raw(`{"version":2,"entity_path":`)
	w.str(c.EntityPath)
	w.raw("}")
	return w.buf
}

// DecodeConfigChange parses a config change notification of version 2.
func DecodeConfigChange(data []byte) (ConfigChange, error) {
	o, err := parseObject(kindConfigChange, data)
	if err != nil {
		return ConfigChange{}, err
	}
	if _, err := o.version(2); err != nil {
		return ConfigChange{}, err
	}
	var c ConfigChange
	if c.EntityPath, err = o.string("entity_path"); err != nil {
		return ConfigChange{}, err
	}
	return c, nil
}

// ClusterID is /cluster/id (ZkData ClusterIdZNode).
type ClusterID struct {
	ID string // 22 characters of URL-safe base64 in Kafka (a random UUID)
}

const kindClusterID = "/cluster/id"

// Encode returns {"version":"1","id":"…"}; the version is a string here.
func (c ClusterID) Encode() []byte {
	var w jsonWriter
	w.raw(`{"version":"1","id":`)
	w.str(c.ID)
	w.raw("}")
	return w.buf
}

// DecodeClusterID parses /cluster/id. Kafka reads only "id"; this also
// requires "version" to be the string "1".
func DecodeClusterID(data []byte) (ClusterID, error) {
	o, err := parseObject(kindClusterID, data)
	if err != nil {
		return ClusterID{}, err
	}
	v, err := o.string("version")
	if err != nil {
		return ClusterID{}, err
	}
	if v != "1" {
		return ClusterID{}, malformed(kindClusterID, "unknown version %q (known: \"1\")", v)
	}
	var c ClusterID
	if c.ID, err = o.string("id"); err != nil {
		return ClusterID{}, err
	}
	return c, nil
}

// EmptyData is the data Kafka writes to znodes that only exist or count:
// /admin/delete_topics/<t> (KafkaZkClient.createDeleteTopicPath), the
// persistent paths of CreateTopLevelPaths, /brokers/seqid (only its
// zkVersion is used) and the parents of partition state znodes. Kafka
// passes null; ZooKeeper stores it as no bytes.
var EmptyData []byte

// ProducerIDBlock is /latest_producer_id_block: the last block of producer
// ids handed out (Kafka 2.6 coordinator/transaction/ProducerIdManager).
// Allocation reads it, writes the next block conditionally on the read
// zkVersion, and retries on BadVersion.
type ProducerIDBlock struct {
	BrokerID   int32 // the broker that took the block
	BlockStart int64 // first id of the block
	BlockEnd   int64 // last id of the block, inclusive
}

// ProducerIDBlockSize is the number of ids in one block (PidBlockSize).
const ProducerIDBlockSize int64 = 1000

const kindProducerIDBlock = "/latest_producer_id_block"

// Encode returns {"version":1,"broker":N,"block_start":"S","block_end":"E"}
// (a 4-entry Scala Map: insertion order; start and end as strings).
func (p ProducerIDBlock) Encode() []byte {
	var w jsonWriter
	w.raw(`{"version":1,"broker":`)
	w.int(int64(p.BrokerID))
	w.raw(`,"block_start":`)
	w.str(strconv.FormatInt(p.BlockStart, 10))
	w.raw(`,"block_end":`)
	w.str(strconv.FormatInt(p.BlockEnd, 10))
	w.raw("}")
	return w.buf
}

// DecodeProducerIDBlock parses /latest_producer_id_block. Kafka reads
// broker, block_start and block_end; this also requires version 1.
func DecodeProducerIDBlock(data []byte) (ProducerIDBlock, error) {
	o, err := parseObject(kindProducerIDBlock, data)
	if err != nil {
		return ProducerIDBlock{}, err
	}
	if _, err := o.version(1); err != nil {
		return ProducerIDBlock{}, err
	}
	var p ProducerIDBlock
	if p.BrokerID, err = o.int32("broker"); err != nil {
		return ProducerIDBlock{}, err
	}
	if p.BlockStart, err = o.int64String("block_start"); err != nil {
		return ProducerIDBlock{}, err
	}
	if p.BlockEnd, err = o.int64String("block_end"); err != nil {
		return ProducerIDBlock{}, err
	}
	return p, nil
}
