// Package consumer is Kafka's old ZooKeeper-based high-level consumer
// (`kafka.consumer.ZookeeperConsumerConnector`, Kafka 0.9.0.0 to 1.1.1, with
// 0.8.2.2 where the two differ and the scenario picks it) as a kproc.Machine:
// it registers in its group, rebalances whenever the group's members or its
// topics' partitions change, claims the partitions the assignor gives it
// with ephemeral owner znodes, fetches them from their leaders and commits
// its offsets to ZooKeeper. It serves no rpc APIs.
//
// The ZooKeeper layout is Kafka's (ZkUtils.ConsumersPath, ZKGroupDirs):
//
//	/consumers/<group>/ids/<consumerId>              EPHEMERAL, the registration JSON
//	/consumers/<group>/owners/<topic>/<partition>    EPHEMERAL, the owning thread id
//	/consumers/<group>/offsets/<topic>/<partition>   PERSISTENT, the next offset, decimal text
//
// The Kafka source each part follows:
//   - registration: registerConsumerInZK; the ephemeral is created through
//     kproc.ZKRegister, whose kafkazk.Era the scenario picks: Era09 is 0.9's
//     ZKCheckedEphemeral (KAFKA-1387), Era08 with SameOwner is 0.8.2's
//     createEphemeralPathExpectConflictHandleZKBug, which waits a session
//     timeout and tries again while an older node is in place;
//   - watches: ZKRebalancerListener on the ids children,
//     ZKTopicPartitionChangeListener on each subscribed topic's data
//     (KAFKA-1075), /brokers/ids only once a rebalance found no broker
//     (KAFKA-969); each fires a rebalance that coalesces with one running
//     (KAFKA-1139), and the watch is armed again at once, as zkclient does;
//   - rebalance: syncedRebalance and rebalance, step by step;
//   - session expiry: ZKSessionExpireListener.handleNewSession;
//   - fetching: ConsumerFetcherManager's LeaderFinderThread (brokers from
//     /brokers/ids, a metadata request to them in random order, every
//     refresh.leader.backoff.ms) and one ConsumerFetcherThread per leader;
//   - offsets: commitOffsetToZooKeeper (skipping unchanged values,
//     KAFKA-987), fetchOffsetFromZooKeeper, ConsumerFetcherThread.
//     handleOffsetOutOfRange with auto.offset.reset.
//
// Config.Era07 (DefaultConfig07) makes it Kafka 0.7.2's consumer
// (ZookeeperConsumerConnector.scala, TopicCount.scala@0.7.2): registration
// `{ "t": n }`, a child listener on each subscribed topic's broker
// registrations and none on /brokers/ids, partitions named "<b>-<p>" and
// sorted as strings (assign.Range07), owner and offset znodes named so, a
// missing offset resolved in the rebalance by asking the broker
// (broker07.OffsetsRequest), fetches straight to the partition's broker,
// every offset written at every commit.
//
// Every message delivered, every commit, every rebalance's start, end and
// failed attempt is a report (kproc.Traced, kinds "kafka.consumer.*") that
// a scenario turns into history lines (Delivered.HistoryOp,
// Committed.HistoryOp).
package consumer
