package broker07

import (
	"fmt"
	"strconv"
	"strings"
)

// Kafka 0.7's broker znodes (ZkUtils.scala@0.7.2: BrokerIdsPath,
// BrokerTopicsPath). /brokers, /brokers/ids and /brokers/topics/<topic> are
// persistent and empty, created as parents on demand and never deleted.
const (
	BrokersPath      = "/brokers"
	BrokerIDsPath    = "/brokers/ids"
	BrokerTopicsPath = "/brokers/topics"
)

// IDPath is the ephemeral registration of broker id: /brokers/ids/<id>.
func IDPath(id int32) string { return BrokerIDsPath + "/" + strconv.Itoa(int(id)) }

// TopicPath is broker id's ephemeral registration of topic, holding its
// number of partitions of it: /brokers/topics/<topic>/<id>.
func TopicPath(topic string, id int32) string {
	return BrokerTopicsPath + "/" + topic + "/" + strconv.Itoa(int(id))
}

// BrokerInfo is the payload of /brokers/ids/<id>, as Kafka 0.7's
// Broker.getZKString writes it: "<creatorId>:<host>:<port>", where
// KafkaZooKeeper.registerBrokerInZk makes creatorId "<host>-<currentTimeMillis>".
type BrokerInfo struct {
	CreatorID string
	Host      string
	Port      int
}

// String is the znode's data.
func (b BrokerInfo) String() string { return fmt.Sprintf("%s:%s:%d", b.CreatorID, b.Host, b.Port) }

// ParseBrokerInfo reads a /brokers/ids/<id> payload as Kafka 0.7's
// Broker.createBroker does: split on ':', creatorId, host and port are
// fields 0, 1 and 2. Unlike 0.7 it also refuses extra fields and a port out
// of range, so that a malformed registration is an error, not a guess.
func ParseBrokerInfo(data string) (BrokerInfo, error) {
	f := strings.Split(data, ":")
	if len(f) != 3 {
		return BrokerInfo{}, fmt.Errorf("broker registration %q: want <creatorId>:<host>:<port>", data)
	}
	port, err := strconv.Atoi(f[2])
	if err != nil || port < 1 || port > 65535 {
		return BrokerInfo{}, fmt.Errorf("broker registration %q: port %q is not a number from 1 to 65535", data, f[2])
	}
	if f[0] == "" || f[1] == "" {
		return BrokerInfo{}, fmt.Errorf("broker registration %q: empty creatorId or host", data)
	}
	return BrokerInfo{CreatorID: f[0], Host: f[1], Port: port}, nil
}

// ParsePartitionCount reads a /brokers/topics/<topic>/<id> payload: the
// decimal number of partitions (Kafka 0.7 readers call toInt on it).
func ParsePartitionCount(data string) (int, error) {
	n, err := strconv.Atoi(data)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("topic registration %q: not a positive decimal number", data)
	}
	return n, nil
}

// maxTopicLength is Kafka 0.7.2's max.topic.name.length default.
const maxTopicLength = 255

// ValidTopic checks a topic name as Kafka 0.7.2's TopicNameValidator does:
// not empty, at most 255 characters, not "." or "..", and none of '/',
// U+0000-U+001F, U+007F-U+009F, U+D800-U+F8FF, U+FFF0-U+FFFF.
func ValidTopic(topic string) error {
	switch {
	case topic == "":
		return fmt.Errorf("topic name is empty")
	case topic == "." || topic == "..":
		return fmt.Errorf("topic name %q is not allowed", topic)
	case len([]rune(topic)) > maxTopicLength:
		return fmt.Errorf("topic name %q is longer than %d characters", topic, maxTopicLength)
	}
	for _, c := range topic {
		if c == '/' || c <= 0x1f || c >= 0x7f && c <= 0x9f || c >= 0xd800 && c <= 0xf8ff || c >= 0xfff0 && c <= 0xffff {
			return fmt.Errorf("topic name %q has the illegal character %U", topic, c)
		}
	}
	return nil
}
