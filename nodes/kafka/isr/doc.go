// Package isr holds the partition leader's pure in-sync replica rules, as
// Kafka 2.6 `kafka.cluster.Partition` and `kafka.cluster.Replica` compute
// them: a follower's last caught-up time from its fetches, when a follower
// falls out of the ISR (time-based lag only, as from Kafka 0.9), when it may
// join it again (KAFKA-7128's epoch start condition from 2.0.1/2.1.0), and
// the high watermark. The leader broker calls these on its own clock; no
// ZooKeeper, no kernel.
//
// Simplification: Kafka keeps the ISR as a Scala Set, whose order in the
// state znode is insertion order up to four members and hash order above;
// here the ISR keeps its order, a shrink filters it and an expansion
// appends.
package isr
