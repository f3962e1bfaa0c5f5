package kafkazk

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/fakezk"
)

// Kafka's znode paths (Kafka 2.6 ZkData.scala: ControllerZNode,
// BrokerIdsZNode, TopicsZNode, …), without a chroot.
const (
	ControllerPath            = "/controller"       // EPHEMERAL, the elected controller
	ControllerEpochPath       = "/controller_epoch" // PERSISTENT, decimal text; the fence of controller writes
	BrokersPath               = "/brokers"
	BrokerIDsPath             = "/brokers/ids"    // children: EPHEMERAL, one per live broker
	TopicsPath                = "/brokers/topics" // children: PERSISTENT, one per topic (its assignment)
	BrokerSeqIDPath           = "/brokers/seqid"  // its zkVersion generates broker ids
	ConfigPath                = "/config"
	ConfigChangesPath         = "/config/changes"
	AdminPath                 = "/admin"
	DeleteTopicsPath          = "/admin/delete_topics"
	ReassignPartitionsPath    = "/admin/reassign_partitions"
	PreferredReplicaPath      = "/admin/preferred_replica_election"
	IsrChangeNotificationPath = "/isr_change_notification"
	LogDirEventPath           = "/log_dir_event_notification"
	ConsumersPath             = "/consumers" // the old consumers' path
	ClusterIDPath             = "/cluster/id"
	ProducerIDBlockPath       = "/latest_producer_id_block"
)

// Prefixes of Kafka's PERSISTENT_SEQUENTIAL notification znodes (ZkData:
// IsrChangeNotificationSequenceZNode, LogDirEventNotificationSequenceZNode,
// ConfigEntityChangeNotificationSequenceZNode); the server appends the
// sequence number.
const (
	IsrChangePrefix    = IsrChangeNotificationPath + "/isr_change_"
	LogDirEventPrefix  = LogDirEventPath + "/log_dir_event_"
	ConfigChangePrefix = ConfigChangesPath + "/config_change_"
)

// ConfigTypes are the entity types under /config in Kafka 2.6
// (DynamicConfigManager's ConfigType.all; "ips" came later).
var ConfigTypes = []string{"topics", "clients", "users", "brokers"}

// BrokerIDPath returns /brokers/ids/<id>.
func BrokerIDPath(id int32) string { return BrokerIDsPath + "/" + strconv.Itoa(int(id)) }

// TopicPath returns /brokers/topics/<topic>, the topic's assignment.
func TopicPath(topic string) string { return TopicsPath + "/" + topic }

// TopicPartitionsPath returns /brokers/topics/<topic>/partitions.
func TopicPartitionsPath(topic string) string { return TopicPath(topic) + "/partitions" }

// TopicPartitionPath returns /brokers/topics/<topic>/partitions/<partition>.
func TopicPartitionPath(topic string, partition int32) string {
	return TopicPartitionsPath(topic) + "/" + strconv.Itoa(int(partition))
}

// PartitionStatePath returns …/partitions/<partition>/state, the
// partition's leader, ISR and epochs; its zkVersion is the partition epoch.
func PartitionStatePath(topic string, partition int32) string {
	return TopicPartitionPath(topic, partition) + "/state"
}

// DeleteTopicPath returns /admin/delete_topics/<topic>, a deletion request.
func DeleteTopicPath(topic string) string { return DeleteTopicsPath + "/" + topic }

// ConfigEntityPath returns /config/<type>/<name>.
func ConfigEntityPath(entityType, name string) string {
	return ConfigPath + "/" + entityType + "/" + name
}

// PersistentPaths returns the paths every Kafka 2.6 broker makes sure exist
// at startup, in ZkData.PersistentZkPaths order.
func PersistentPaths() []string {
	paths := []string{ConsumersPath, BrokerIDsPath, TopicsPath, ConfigChangesPath, DeleteTopicsPath,
		BrokerSeqIDPath, IsrChangeNotificationPath, ProducerIDBlockPath, LogDirEventPath}
	for _, t := range ConfigTypes {
		paths = append(paths, ConfigPath+"/"+t)
	}
	return paths
}

// CreateTopLevelPaths makes sure every one of PersistentPaths exists
// (KafkaZkClient.createTopLevelPaths), one after the other, and calls cb
// with the first error, or nil.
func (c *Client) CreateTopLevelPaths(cb func(error)) {
	paths := PersistentPaths()
	var next func(i int)
	next = func(i int) {
		if i == len(paths) {
			cb(nil)
			return
		}
		c.MakeSurePersistentPathExists(paths[i], func(err error) {
			if err != nil {
				cb(err)
				return
			}
			next(i + 1)
		})
	}
	next(0)
}

// MakeSurePersistentPathExists creates path with empty data and any
// missing parents, and treats NodeExists as success
// (KafkaZkClient.makeSurePersistentPathExists and createRecursive: create
// the path; on NoNode make sure of the parent the same way, then create the
// path once more, where only OK and NodeExists are success).
func (c *Client) MakeSurePersistentPathExists(path string, cb func(error)) {
	if !strings.HasPrefix(path, "/") || path == "/" {
		panic(fmt.Sprintf("kafkazk: MakeSurePersistentPathExists(%q): not a znode path below the root", path))
	}
	c.createPersistent(path, func(err error) {
		parent := path[:strings.LastIndex(path, "/")]
		if !errors.Is(err, fakezk.ErrNoNode) || parent == "" {
			cb(err)
			return
		}
		c.MakeSurePersistentPathExists(parent, func(err error) {
			if err != nil {
				cb(err)
				return
			}
			c.createPersistent(path, cb)
		})
	})
}

// createPersistent creates path with empty data; NodeExists is success.
func (c *Client) createPersistent(path string, cb func(error)) {
	c.Handle([]fakezk.Request{&fakezk.CreateRequest{Path: path, Acl: fakezk.WorldACL(fakezk.PermAll)}}, func(rs []fakezk.Response) {
		err := rs[0].Err
		if err == nil || errors.Is(err, fakezk.ErrNodeExists) {
			cb(nil)
			return
		}
		cb(fmt.Errorf("kafkazk: create %s: %w", path, err))
	})
}
