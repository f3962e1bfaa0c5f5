package scenarios

import (
	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/sim"
)

// The Kafka 2.6 scenarios: a cluster of brokers on one ZooKeeper, topics
// with replication factor 3, and each scenario's faults and operations.
// All of them check the invariants of invariants.WatchKafka after every
// step and, once healed and settled, that the cluster converged.

// kafkaTopics are the topics most scenarios create at the start.
var kafkaTopics = []topicSpec{{name: "orders", partitions: 12, rf: 3}, {name: "payments", partitions: 8, rf: 3}}

// The plans, by scenario name.
var kafkaPlans = map[string]func() kafkaPlan{
	"producer-balance":   producerBalancePlan,
	"consumer-rebalance": consumerRebalancePlan,
	"controller-failover": func() kafkaPlan {
		return withClients(kafkaPlan{name: "controller-failover", brokers: 5, topics: kafkaTopics, safety: 120 * sim.Second,
			faults: []string{faultCrashController, faultCrashController, faultPartitionController, faultCrashBroker}, faultEvery: 20 * sim.Second})
	},
	"broker-crash": func() kafkaPlan {
		return withClients(kafkaPlan{name: "broker-crash", brokers: 5, topics: kafkaTopics, safety: 120 * sim.Second,
			faults: []string{faultCrashBroker, faultPowerLossBroker, faultIsolateBroker, faultPartitionBroker, faultPauseBroker}, faultEvery: 12 * sim.Second})
	},
	"controlled-shutdown": func() kafkaPlan {
		return kafkaPlan{name: "controlled-shutdown", brokers: 5, topics: kafkaTopics, safety: 120 * sim.Second,
			faults: []string{faultControlledShutdown, faultControlledShutdown, faultCrashBroker}, faultEvery: 20 * sim.Second}
	},
	"zombie-controller": func() kafkaPlan {
		return kafkaPlan{name: "zombie-controller", brokers: 5, topics: kafkaTopics, safety: 120 * sim.Second,
			faults: []string{faultZombie, faultZombie, faultPauseController, faultPartitionController}, faultEvery: 30 * sim.Second}
	},
	"session-expiry": func() kafkaPlan {
		return kafkaPlan{name: "session-expiry", brokers: 5, topics: kafkaTopics, safety: 120 * sim.Second,
			faults: []string{faultExpireBroker, faultExpireController}, faultEvery: 12 * sim.Second}
	},
	"preferred-election": func() kafkaPlan {
		return kafkaPlan{name: "preferred-election", brokers: 5, topics: kafkaTopics, safety: 120 * sim.Second,
			faults: []string{faultCrashBroker, opPreferredElection}, faultEvery: 12 * sim.Second,
			afterHeal: preferredAfterHeal, settled: checkPreferredLeaders}
	},
	"reassignment": func() kafkaPlan {
		return kafkaPlan{name: "reassignment", brokers: 5, topics: kafkaTopics, safety: 120 * sim.Second,
			faults: []string{faultCrashBroker, faultCrashController}, ops: []string{opReassign, opReassign}, faultEvery: 12 * sim.Second,
			settled: checkReassignments}
	},
	"topic-lifecycle": func() kafkaPlan {
		return kafkaPlan{name: "topic-lifecycle", brokers: 5, topics: kafkaTopics, safety: 120 * sim.Second,
			faults: []string{faultCrashBroker, faultCrashController}, ops: []string{opCreateTopic, opDeleteTopic, opCreateTopic}, faultEvery: 10 * sim.Second,
			settled: checkDeletions}
	},
}

var kafkaSummaries = map[string]string{
	"controller-failover": "5 Kafka 2.6 brokers, 2 topics with replication factor 3, 2 producers (acks=all) and a group of 2 consumers; the controller crashes or is cut from ZooKeeper again and again; one controller per epoch, leader ∈ ISR ⊆ replicas, and after healing a live controller, a live leader for every partition, every partition owned by a live consumer and every acknowledged message consumed",
	"broker-crash":        "5 brokers; brokers crash, pause and are cut off; the controller moves their leaderships and the cluster converges after healing",
	"controlled-shutdown": "5 brokers shut down in a controlled way (ControlledShutdown moves their leaders first) and restart",
	"zombie-controller":   "the controller pauses past its 18 s session timeout or is cut from ZooKeeper, wakes and tries to act on a stale epoch; brokers must refuse it",
	"session-expiry":      "ZooKeeper expires brokers' and the controller's sessions while their processes live on; they re-register with new broker epochs",
	"preferred-election":  "brokers crash and come back while an operator asks for preferred replica elections",
	"reassignment":        "partitions are reassigned to other brokers while brokers and the controller crash",
	"topic-lifecycle":     "topics are created and deleted while brokers and the controller crash",
}

func init() {
	// broker-crash is registered with its 0.7 layout (brokercrash07.go).
	for _, name := range []string{"controller-failover", "controlled-shutdown", "zombie-controller",
		"session-expiry", "preferred-election", "reassignment", "topic-lifecycle"} {
		plan := kafkaPlans[name]
		var clients []string
		if plan().clients != nil {
			clients = []string{LayoutController}
		}
		register(Scenario{
			Name:      name,
			ZooKeeper: true,
			Layouts:   []string{LayoutController},
			Clients:   clients,
			Summary:   kafkaSummaries[name],
			Run:       func(cfg Config) *invariants.Result { return runKafka(cfg, plan()) },
		})
	}
}
