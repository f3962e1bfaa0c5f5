// Package controller is the Kafka 2.6 controller of ZooKeeper mode as a pure
// state machine: the KafkaController that lives inside every KafkaServer,
// races for /controller, and, once elected, watches the cluster's znodes,
// elects partition leaders, writes partition state and sends LeaderAndIsr,
// UpdateMetadata and StopReplica requests to the brokers (Kafka 2.6
// core/src/main/scala/kafka/controller: KafkaController.scala,
// ControllerContext.scala, PartitionStateMachine.scala,
// ReplicaStateMachine.scala, ControllerChannelManager.scala,
// ControllerEventManager.scala, TopicDeletionManager.scala; and the
// requests KafkaZkClient.scala builds).
//
// The controller is not a process of its own: the broker machine hosts it,
// as KafkaServer hosts KafkaController, routes inputs to it and appends its
// effects to its own. It never touches ZooKeeper, the network or a clock;
// it returns kproc effects and learns their outcome as kproc inputs.
//
// # Contract with the broker machine
//
//   - New(Config) makes a controller for one incarnation of a broker.
//   - Startup(now, brokerEpoch), once the broker's /brokers/ids/<id>
//     registration succeeded (KafkaServer.startup then
//     KafkaController.startup): the controller registers its /controller
//     handler and enqueues Startup, which elects.
//   - After a session expiry the broker hands the controller
//     ZKSessionPhase BeforeInitializingSession (the controller clears its
//     queue and resigns, Kafka's Expire event), re-registers, and calls
//     Reelect(now, brokerEpoch) (Kafka 2.6's RegisterBrokerAndReelect
//     event, whose registration the broker does itself).
//   - Step(now, in) takes every ZKChange and ZKSessionPhase the broker
//     hears; every ZKResult, RPCResult and Synced whose ReqID has IDBit set
//     (the controller allocates all its ids with that bit); every TimerFired
//     whose name starts with TimerPrefix; and every RPCIn carrying a
//     proto.ControlledShutdownRequest. It returns the effects in order.
//   - View() is a cheap summary for checks and the broker's metadata.
//
// # The event thread and its costs
//
// Kafka's ControllerEventManager runs one event at a time from a FIFO
// queue; an event's processing blocks on its ZooKeeper calls, and the queue
// does not advance until it ends. Here an event is a chain of steps: each
// ZooKeeper call is a ZKBatch effect and the next step runs when its
// ZKResult comes back; inputs arriving meanwhile (watch events, timers,
// broker responses, controlled shutdown requests) are queued as events.
//
// With Features.PipelinedZooKeeper (1.1+), a call of many requests (every
// partition state, say) is one pipelined ZKBatch; without it (≤1.0's
// synchronous ZkClient) the same requests go one ZKBatch at a time, each
// after the previous one's answer.
//
// Work on the event thread costs virtual time (config.Costs): each event
// ControllerEvent, each ZooKeeper reply handled ControllerPartitionLoad (at
// failover) or ControllerPartitionChange (elections and ISR changes), each
// request built ControllerRequest plus ControllerRequestPartition per
// partition entry. The cost accumulated by a step is charged before that
// step's effects go out: the effects are held and a timer named
// TimerPrefix+"cpu" is set for the cost; when it fires they are released
// (ZooKeeper requests issued, requests handed to the sender queues,
// reports emitted) and the event thread moves on. The senders
// (RequestSendThread, one per broker) are threads of their own: they are
// not charged and not held. Simplified: the answers of a pipelined batch
// are handled once the last has arrived, so their handling does not
// overlap the batch's round trips as Kafka's response callbacks do.
//
// # Trace kinds
//
// Reports implement kproc.Traced with kinds "kafka.controller.*":
// elected, election-lost, resigned, fenced, failover-done, broker-added,
// broker-removed, leader-elected, partition-offline, isr-changed,
// request-sent, request-failed, event-failed, topic-created,
// topic-deleted, reassignment-started, reassignment-done,
// controlled-shutdown.
package controller
