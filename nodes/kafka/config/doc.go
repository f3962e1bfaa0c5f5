// Package config holds the settings of a simulated Kafka cluster in
// ZooKeeper mode, the behaviour that differs between Kafka releases, and
// the processing costs of the simulated brokers and controller.
//
// Config has one field per Kafka setting that the brokers and the
// controller read, named after Kafka's property and holding Kafka 2.6's
// default (Kafka 2.6 KafkaConfig.scala, object Defaults). Durations are
// sim.Durations; each field's doc comment names its property.
// Features holds what a release changed in code rather than in a setting
// (pipelined ZooKeeper reads in 1.1, fenced controller writes in 2.1,
// broker epochs in 2.2, ...). Default returns Kafka 2.6; ForEra returns
// an earlier release, changing only what that release changed, each change
// documented with its KIP or JIRA id.
//
// Config encodes to JSON with Kafka's property names as keys and
// durations as integer milliseconds ("zookeeper.session.timeout.ms":
// 18000), the features under "features"; ParseConfig reads it back,
// starting from Kafka 2.6's defaults (or from the release named by "era")
// so that a scenario file need only name what it changes, and rejects
// unknown keys and invalid values with one-line errors.
//
// Costs is the processing time of the Kafka processes themselves: the
// controller handling an event, loading or changing a partition's state,
// building a request; a broker handling a request and applying each
// partition of it. ZooKeeper's own costs come from fakezk and network
// latency from the kernel, so Costs never counts them. Each constant's
// comment says where it comes from.
package config
