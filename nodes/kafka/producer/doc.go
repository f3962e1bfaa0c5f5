// Package producer is a simulated Kafka producer process: a kproc.Machine
// run in a kproc.Shell, with no requests to serve. It makes messages on its
// timers (a steady rate and bursts; keys from a Zipf over its seeded
// stream; values Index<<40 | n, unique per run), places each on a
// partition (package partition), sends them to the partition leaders in
// ProduceRequests on the client channel, and reports every send: Invoked,
// then at most one of Acked (partition and offset), Failed (certainly not
// written) and Unknown (a timeout, a broken connection after sending, acks
// not met after the append, acks=0), which a scenario writes as history
// lines (package history).
//
// It finds the brokers one of three ways (Config.Discovery):
//   - zk: Kafka 0.7.2's ZooKeeper producer (`ZKBrokerPartitionInfo`,
//     `Producer.zkSend`): it watches /brokers/ids, /brokers/topics and its
//     topics' registrations through handlers (each read re-arms them) and
//     reacts to every change; with the controller's layout it reads each
//     partition's state znode for the leader and watches it too; under
//     Config.Layout07 it reads 0.7's registrations, a topic being the sorted
//     (broker, partition) pairs of its brokers' counts;
//   - metadata: the old Scala producer (`BrokerPartitionInfo`,
//     `DefaultEventHandler`@0.8.2): a MetadataRequest to the bootstrap
//     brokers in shuffled order, refreshed after any failed attempt (a
//     NOT_LEADER_FOR_PARTITION, a broken connection) and every
//     topic.metadata.refresh.interval.ms, checked when sending;
//   - static: 0.7.2's `broker.list` behind a layer-4 balancer
//     (`ConfigBrokerPartitionInfo`): one broker picked once, everything sent
//     there, nothing learnt.
//
// Under Config.Layout07 (the zk and static ways) the producer is 0.7's: a
// 0.7 produce request has no response, so each send is Unknown once sent.
//
// Every attempt's failure backs off retry.backoff.ms and retries up to
// message.send.max.retries times; at most MaxInFlight produce requests are
// in flight per broker. The idempotent mode stamps a producer id and a
// sequence per partition (KIP-98), and the brokers deduplicate retried
// batches by them (nodes/kafka/log, Kafka 2.6 ProducerStateManager).
package producer
