// Package broker07 is a Kafka 0.7 broker's ZooKeeper side, as a
// node.Machine: the broker registry of a cluster with no controller, no
// replication and no leaders, where a partition lives on exactly one broker
// (Kafka 0.7.2, tag kafka-0.7.2-incubating-candidate-5: KafkaZooKeeper.scala,
// LogManager.scala, ZkUtils.scala, Broker.scala, KafkaServerStartable.scala).
//
// What a 0.7 broker writes:
//
//	/brokers/ids/<id>              ephemeral  "<host>-<currentTimeMillis>:<host>:<port>"
//	/brokers/topics/<topic>/<id>   ephemeral  its number of partitions of the topic, in decimal
//	/brokers, /brokers/ids, /brokers/topics/<topic>   persistent, empty, made as parents on demand
//
// Three of the broker's threads write them, and the machine keeps them
// apart, each doing one registration at a time:
//   - startup (LogManager.startup): once the client has its first session,
//     register the broker, then each topic with a log directory on disk; a
//     failure aborts start-up and the broker shuts down (StartupFailed).
//     A produce request waits on the start-up latch until it is done.
//   - the ZkClient event thread (SessionExpireListener.handleNewSession): on
//     every later session, register the broker again with a new creatorId,
//     then every topic on the list of those registered so far; a failure
//     is logged by zkclient and ends the handler (RegistrationFailed).
//   - the zkActor (LogManager.registerNewTopicInZK): a topic whose first log
//     a produce request made is registered later, in the background; a
//     failure is logged and the topic stays off the list.
//
// Every registration is ZkUtils.createEphemeralPathExpectConflict: create
// the ephemeral; on NoNode create the persistent parents (ZkClient's
// createPersistent(parent, true)) and create again; on NodeExists read the
// node and accept it only if it holds exactly our data ("this can happen
// when there is connection loss"), else fail. zkclient's retryUntilConnected
// retries a request that failed with ConnectionLoss or SessionExpired once
// the client is connected again, without limit (each retry waits for a
// reconnection, so they are as many as the reconnections).
//
// The trap after a fast restart: the previous incarnation's session lives
// on until it expires, and with it /brokers/ids/<id>, whose creatorId has an
// older timestamp. 0.7 does not wait for it: the data differs, start-up
// fails with "A broker is already registered on the path /brokers/ids/<id>
// ... restarted it faster than the zookeeper timeout", and the broker
// exits. The machine models exactly that (StartupFailed); whoever runs the
// process decides whether to start it again. After a session expiry the
// old session's ephemerals are already gone (the server deletes them
// before it tells the client), so handleNewSession's create succeeds.
//
// The machine sets no watches: a 0.7 broker reads nothing of the registry.
//
// Data is the broker's data plane beside the machine, in the same process:
// produce (no response in 0.7; partition −1 is the broker's pick), fetch
// (up to the flushed end) and offset requests over rpc, from a log per
// partition on the process's disk (nodes/kafka/log), no replication. A
// produce that makes a topic's first log hands the topic to the machine
// as a Produce command.
package broker07
