// Package kafkazk is Kafka's own ZooKeeper access layer, as a broker's shell
// uses it: the part of Kafka 2.6's kafka.zookeeper.ZooKeeperClient and
// kafka.zk.KafkaZkClient that decides how requests reach ZooKeeper, not what
// they say. It sits on the shell side of a Kafka process (docs/ARCHITECTURE.md
// §5), under the controller and broker machines, as ZooKeeperClient sits under
// KafkaController.
//
// A Client wraps a fakezk.Client in the Java client's mode (Kafka used the
// Java client) and adds what Kafka adds on top of it:
//
//   - Handle sends a batch of requests pipelined, at most
//     zookeeper.max.in.flight.requests (10) outstanding, and answers once with
//     every response in request order (ZooKeeperClient.handleRequests, 1.1+).
//     A request that fails with ConnectionLoss is sent again once the client
//     is connected, without limit (KafkaZkClient.retryRequestsUntilConnected):
//     its first attempt may have been applied, so a retried create can meet
//     its own earlier success as NodeExists.
//   - On Expired, the registered StateChangeHandlers hear
//     BeforeInitializingSession, a new session is started on a new Java
//     handle (Expired is final for a Java handle), and the handlers hear
//     AfterInitializingSession (ZooKeeperClient.reinitialize).
//   - Watches are not set per request: handlers are kept in maps by path
//     (znode change handlers, child change handlers), and a read of a path
//     arms the watch only if a handler for that path is registered
//     (ZooKeeperClient.shouldWatch). A fired watch is re-armed only by the
//     next read of the path. The maps outlive re-initialisation; the watches
//     do not.
//   - CreateCheckedEphemeral registers an ephemeral that may already exist
//     (a broker's /brokers/ids/<id>): Kafka 2.2+'s CheckedEphemeral by
//     default, the 0.9–2.1 and 0.8 forms behind Config.Era. It returns the
//     node's czxid, which is the broker epoch from 2.2 on (KIP-380).
//   - Kafka's znode paths (ControllerPath, BrokerIDPath, PartitionStatePath,
//     …) and the persistent paths every broker makes sure exist at startup
//     (CreateTopLevelPaths, MakeSurePersistentPathExists).
//   - Kafka's znode payloads as Kafka 2.6's ZkData writes them, byte for byte
//     (BrokerRegistration, ControllerData, PartitionState, TopicAssignment,
//     the notification and admin znodes), each with a strict Decode.
//
// Everything runs on the kernel's thread, in callbacks that run as events of
// the owning process, never inside the call; the Client is bound to one
// incarnation of its process, like the fakezk.Client under it.
//
// Trace kinds: KindRetry (requests sent again after ConnectionLoss),
// KindReinit (the phases of a re-initialisation) and KindEphemeral (the
// outcome of each checked-ephemeral step).
package kafkazk
