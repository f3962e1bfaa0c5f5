// Package assign holds the partition assignors of Kafka's old ZooKeeper-based
// high-level consumer (`kafka.consumer.ZookeeperConsumerConnector`) as pure
// functions: given every member of a group with the topics and stream counts
// its registration names, and the partitions of those topics, they return the
// owner thread of every partition. Every member of a group computes the whole
// group's assignment from its own reading of ZooKeeper and keeps its share
// (Assignment.Of); two members that read the same znodes agree.
//
// The assignors, and the Kafka source each follows:
//   - Range: `RangeAssignor` in Kafka 0.8.2.2
//     `core/src/main/scala/kafka/consumer/PartitionAssignor.scala` (the
//     default, `partition.assignment.strategy=range`), unchanged to 1.1.1;
//   - RoundRobin: `RoundRobinAssignor` in Kafka 0.10.2.2 (KAFKA-2434: the
//     cycle runs over every thread of the group and skips threads not
//     subscribed to a partition's topic), unchanged to 1.1.1;
//   - RoundRobin082: `RoundRobinAssignor` in Kafka 0.8.2.2 to 0.10.1.1
//     (KAFKA-687), which refuses a group whose members differ in topics or
//     stream counts;
//   - Range07: Kafka 0.7.2's `ZookeeperConsumerConnector.rebalance`, where a
//     partition is the string "<brokerId>-<partId>" and partitions sort as
//     strings, so "10-0" comes before "2-0".
//
// Orderings follow Kafka's exactly: thread ids `<consumerId>-<n>` compare as
// Java strings (`ConsumerThreadId.compare`, UTF-16 code units); 0.8+
// partition ids sort numerically (`ZkUtils.getPartitionsForTopics`); round
// robin orders (topic, partition) pairs by the Java `String.hashCode` of
// `TopicAndPartition.toString`, "[<topic>,<partition>]".
//
// Wildcard subscriptions (`white_list`, `black_list`) are resolved against
// the topics under /brokers/topics by Subscription.Resolve before assigning,
// as `WildcardTopicCount` does. The registration data a Subscription is
// read from and written to, /consumers/<group>/ids/<consumerId>, is
// EncodeRegistration/ParseRegistration (0.8+ JSON) and
// EncodeRegistration07/ParseRegistration07 (0.7.2's formats).
package assign
