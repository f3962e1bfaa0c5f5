// Package algo holds the Kafka controller's pure algorithms, as Kafka 2.6 in
// ZooKeeper mode computes them: the replica assignment of a new topic or of
// added partitions (Kafka 2.6 `AdminUtils.assignReplicasToBrokers`, rack
// unaware and rack aware), the four leader election strategies (Kafka 2.6
// `Election.scala` and `PartitionLeaderElectionAlgorithms` in
// `PartitionStateMachine.scala`), the first leader of a new partition and the
// removal of an offline replica from the ISR (`initializeLeaderAndIsrForPartitions`,
// `ZkReplicaStateMachine.doRemoveReplicasFromIsr`), the replica sets of a
// reassignment (KIP-455's `ReplicaAssignment.reassignTo`), and the per-broker
// leader imbalance of the automatic rebalance
// (`KafkaController.checkAndTriggerAutoLeaderRebalance`).
//
// Every function is pure: it reads its arguments, returns fresh slices and
// never keeps or mutates what it was given. No ZooKeeper, no kernel, no clock;
// the only randomness (the assignment's start index and replica shift) comes
// from a *sim.Rand the caller passes, or from explicit parameters so that a
// test can reproduce Kafka's documented examples.
//
// Broker ids and partition ids are int32, as Kafka's are (Java int).
package algo
