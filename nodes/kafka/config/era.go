package config

import (
	"fmt"
	"strings"

	"github.com/kzsim/kzsim/sim"
)

// Era is a Kafka release at which the behaviour modelled here changed.
// Eras are ordered: a later era includes every change of the earlier ones.
type Era uint8

// The eras, oldest first. Each constant's comment lists what that release
// changed; ForEra undoes, newest first, the changes of every later era.
const (
	// Era08 is 0.8.0–0.8.1: the baseline (no ISR read-back, no
	// min.insync.replicas, always-unclean election, no auto rebalance, no
	// controlled shutdown by default, no topic deletion by default).
	Era08 Era = iota
	// Era082 is 0.8.2.0: min.insync.replicas and unclean.leader.election.enable
	// become settings (at 1 and true: what 0.8.1 did); auto.leader.rebalance.enable and controlled.shutdown.enable
	// default true; the leader's ISR-write read-back (KAFKA-1382).
	Era082
	// Era09 is 0.9.0.x: checked ephemeral owned by the session (KAFKA-1387);
	// replica.lag.max.messages removed; broker id generation and
	// reserved.broker.max.id (flag from 0.9.0.1, KAFKA-3012);
	// replica.fetch.backoff.ms (KAFKA-1461).
	Era09
	// Era010 is 0.10.0: broker znode version 4 (inter.broker.protocol.version 0.10.0-IV1).
	Era010
	// Era011 is 0.11.0: leader-epoch truncation (KIP-101, fixing
	// KAFKA-1211); unclean.leader.election.enable default false (KIP-106).
	Era011
	// Era10 is 1.0.0: delete.topic.enable default true.
	Era10
	// Era11 is 1.1.0: the pipelined ZooKeeperClient for the controller and
	// brokers (KAFKA-5642, KAFKA-5501; batched controlled shutdown,
	// KAFKA-5027) with zookeeper.max.in.flight.requests; BADVERSION retry
	// of leader/ISR writes; keep the last ISR member (KAFKA-5083); offline
	// election in assignment order.
	Era11
	// Era20 is 2.0.0: KIP-279 truncation (KAFKA-6361); topic znode rewrite
	// when partitions are added during deletion (KAFKA-6612).
	Era20
	// Era21 is 2.1.0: fenced controller writes and atomic election
	// (KAFKA-6082); ISR expansion needs the leader epoch's start (KAFKA-7128,
	// also in 2.0.1).
	Era21
	// Era22 is 2.2.0: broker epochs (KIP-380, KAFKA-7235); the checked
	// ephemeral that re-creates the previous session's node (KAFKA-7165).
	Era22
	// Era24 is 2.4.0: reassignment with adding/removing replicas (KIP-455).
	Era24
	// Era25 is 2.5.0: zookeeper.session.timeout.ms 18 s and
	// replica.lag.time.max.ms 30 s (KIP-537, KAFKA-9102).
	Era25
	// Era26 is 2.6.0, the default: newer broker epochs accepted (KAFKA-9839);
	// StopReplica leader epochs (KIP-570, KAFKA-9539).
	Era26
)

// Eras lists every era, oldest first.
func Eras() []Era {
	eras := make([]Era, 0, len(eraChanges))
	for _, ch := range eraChanges {
		eras = append(eras, ch.era)
	}
	return eras
}

// eraChange is what one era changed: the JSON keys it changed (documentation
// the tests hold ForEra to) and how to undo it, giving the previous era.
type eraChange struct {
	era     Era
	name    string
	changed []string
	undo    func(*Config)
}

// eraChanges, oldest first. Era08's undo is nil: it is the oldest modelled.
var eraChanges = []eraChange{
	{era: Era08, name: "0.8"},
	{era: Era082, name: "0.8.2",
		changed: []string{"auto.leader.rebalance.enable", "controlled.shutdown.enable", "features.isr_write_read_back"},
		undo: func(c *Config) {
			// unclean.leader.election.enable arrived with default true;
			// 0.8.0–0.8.1 had no setting and always fell back to the first live
			// assigned replica (0.8.1.1 OfflinePartitionLeaderSelector), which
			// is the same value, so it is left at true.
			// 0.8.0 had no rebalance at all; 0.8.1's default was false.
			c.AutoLeaderRebalanceEnable = false
			c.ControlledShutdownEnable = false
			c.Features.IsrWriteReadBack = false
			// min.insync.replicas is absent before 0.8.2; acks=-1 waited for the
			// ISR alone, which is min.insync.replicas=1, so it is left at 1.
		}},
	{era: Era09, name: "0.9",
		changed: []string{"replica.lag.max.messages", "replica.fetch.backoff.ms", "broker.id.generation.enable", "features.checked_ephemeral"},
		undo: func(c *Config) {
			c.ReplicaLagMaxMessages = 4000 // 0.8.2 KafkaConfig
			c.ReplicaFetchBackoff = 0      // no back-off before KAFKA-1461
			c.BrokerIDGenerationEnable = false
			c.Features.CheckedEphemeral = Ephemeral08
		}},
	{era: Era010, name: "0.10",
		changed: []string{"features.broker_znode_version"},
		undo:    func(c *Config) { c.Features.BrokerZNodeVersion = 2 }},
	{era: Era011, name: "0.11",
		changed: []string{"unclean.leader.election.enable", "features.truncation"},
		undo: func(c *Config) {
			c.UncleanLeaderElectionEnable = true
			c.Features.Truncation = TruncateHighWatermark
		}},
	{era: Era10, name: "1.0",
		changed: []string{"delete.topic.enable"},
		undo:    func(c *Config) { c.DeleteTopicEnable = false }},
	{era: Era11, name: "1.1",
		changed: []string{"zookeeper.max.in.flight.requests", "features.pipelined_zookeeper", "features.controller_retries_bad_version", "features.keep_last_isr_member", "features.offline_election_assignment_order"},
		undo: func(c *Config) {
			// The synchronous ZkClient has one request outstanding.
			c.ZooKeeperMaxInFlightRequests = 1
			c.Features.PipelinedZooKeeper = false
			c.Features.ControllerRetriesBadVersion = false
			c.Features.KeepLastIsrMember = false
			c.Features.OfflineElectionAssignmentOrder = false
		}},
	{era: Era20, name: "2.0",
		changed: []string{"features.truncation", "features.topic_rewrite_on_deleted_add"},
		undo: func(c *Config) {
			c.Features.Truncation = TruncateEpoch
			c.Features.TopicRewriteOnDeletedAdd = false
		}},
	{era: Era21, name: "2.1",
		changed: []string{"features.fenced_controller_writes", "features.isr_expand_needs_epoch_start"},
		undo: func(c *Config) {
			c.Features.FencedControllerWrites = false
			c.Features.IsrExpandNeedsEpochStart = false
		}},
	{era: Era22, name: "2.2",
		changed: []string{"features.broker_epochs", "features.checked_ephemeral"},
		undo: func(c *Config) {
			c.Features.BrokerEpochs = false
			c.Features.CheckedEphemeral = Ephemeral09
		}},
	{era: Era24, name: "2.4",
		changed: []string{"features.reassignment_adding_removing"},
		undo:    func(c *Config) { c.Features.ReassignmentAddingRemoving = false }},
	{era: Era25, name: "2.5",
		changed: []string{"zookeeper.session.timeout.ms", "replica.lag.time.max.ms"},
		undo: func(c *Config) {
			c.ZooKeeperSessionTimeout = 6 * sim.Second
			c.ReplicaLagTimeMax = 10 * sim.Second
		}},
	{era: Era26, name: "2.6",
		changed: []string{"features.accept_newer_broker_epoch", "features.stop_replica_leader_epoch", "features.epoch_cache_truncated_at_end"},
		undo: func(c *Config) {
			c.Features.AcceptNewerBrokerEpoch = false
			c.Features.StopReplicaLeaderEpoch = false
			c.Features.EpochCacheTruncatedAtEnd = false // a 2.6.1 fix; 2.5 and before never had it
		}},
}

// Changed lists the JSON keys (Kafka property names; "features.<name>" for
// features) whose value era e changed from the era before it.
func (e Era) Changed() []string {
	return append([]string(nil), e.change().changed...)
}

func (e Era) change() eraChange {
	if int(e) >= len(eraChanges) {
		panic(fmt.Sprintf("config: unknown era %d", uint8(e)))
	}
	return eraChanges[e]
}

// String is the release, as ParseEra reads it ("0.8", "1.1", "2.6").
func (e Era) String() string {
	if int(e) >= len(eraChanges) {
		return fmt.Sprintf("Era(%d)", uint8(e))
	}
	return eraChanges[e].name
}

// ParseEra reads an era by its release ("2.2"); a patch release or tag
// of one ("2.2.0", "0.8.2.1") is read as its era's (the latest era not
// after it).
func ParseEra(s string) (Era, error) {
	v, ok := parseVersion(s)
	if !ok {
		return 0, fmt.Errorf("era %q: not a Kafka release (want e.g. 2.6 or 0.8.2)", s)
	}
	best, found := Era(0), false
	for _, ch := range eraChanges {
		ev, _ := parseVersion(ch.name)
		if compareVersion(ev, v) <= 0 {
			best, found = ch.era, true
		}
	}
	if !found {
		return 0, fmt.Errorf("era %q: older than the oldest modelled release 0.8", s)
	}
	if compareVersion(v, []int{2, 7}) >= 0 {
		return 0, fmt.Errorf("era %q: newer than 2.6, the newest modelled release", s)
	}
	return best, nil
}

// ForEra returns release e's settings and behaviour: Default with the
// changes of every later era undone.
func ForEra(e Era) Config {
	_ = e.change() // panics on an unknown era: programmer error
	c := Default()
	for i := len(eraChanges) - 1; i > int(e); i-- {
		eraChanges[i].undo(&c)
	}
	return c
}

func parseVersion(s string) ([]int, bool) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 4 {
		return nil, false
	}
	v := make([]int, len(parts))
	for i, p := range parts {
		if p == "" || len(p) > 3 {
			return nil, false
		}
		n := 0
		for _, r := range p {
			if r < '0' || r > '9' {
				return nil, false
			}
			n = n*10 + int(r-'0')
		}
		v[i] = n
	}
	return v, true
}

func compareVersion(a, b []int) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		x, y := 0, 0
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
