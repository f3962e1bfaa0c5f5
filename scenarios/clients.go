package scenarios

import (
	"maps"
	"slices"
	"strings"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/config"
	"github.com/kzsim/kzsim/nodes/kafka/consumer"
	"github.com/kzsim/kzsim/nodes/kafka/history"
	"github.com/kzsim/kzsim/nodes/kafka/producer"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/sim"
)

// The clients a Kafka scenario runs beside its cluster: producers of the
// three discovery ways (producerbalance.go) and consumer groups of the old
// ZooKeeper consumer (consumerrebalance.go). Their operations make the
// run's history; the end checks judge it.

// groupSpec is a consumer group a scenario runs: its name, the topics it
// subscribes to (one stream each) and how many consumers it has.
type groupSpec struct {
	name      string
	topics    []string
	consumers int
}

// addGroups adds the consumers of every group of the plan, numbered across
// groups, and starts measuring each group's rebalances.
func (c *kcluster) addGroups() {
	c.groupClocks = map[string]*groupClock{}
	for _, g := range c.plan.groups {
		c.groupClocks[g.name] = &groupClock{since: -1, ids: consumer.IDsPath(g.name) + "/"}
		for range g.consumers {
			c.addConsumer(g, len(c.consumers)+1)
		}
	}
	c.srv.OnCommit(c.membershipChanged)
}

// groupClock measures a group's rebalances: from a change of its
// membership (a child of /consumers/<group>/ids created or deleted) to
// every partition of its topics owned by a live consumer of the group that
// has finished rebalancing and started its fetchers.
type groupClock struct {
	ids   string         // the group's ids path, with a trailing slash
	since sim.Time       // the change that started the rebalance; -1: settled
	times []sim.Duration // each rebalance, in order
}

// membershipChanged starts the clock of every group whose membership a
// ZooKeeper commit changed.
func (c *kcluster) membershipChanged(cm fakezk.Commit) {
	for _, ch := range cm.Changes {
		if ch.Type != fakezk.EventNodeCreated && ch.Type != fakezk.EventNodeDeleted {
			continue
		}
		for _, g := range c.plan.groups {
			if gc := c.groupClocks[g.name]; gc.since < 0 && strings.HasPrefix(ch.Path, gc.ids) {
				gc.since = c.w.Now()
			}
		}
	}
}

// groupFetching stops the clock of group g if every partition of its
// topics is owned by a live consumer of g that is not rebalancing (called
// when one of its consumers starts fetching after a rebalance).
func (c *kcluster) groupFetching(g string) {
	gc := c.groupClocks[g]
	if gc == nil || gc.since < 0 {
		return
	}
	ready := map[string]bool{} // the threads of g's settled consumers
	for _, p := range c.consumers {
		if m, ok := p.shell.Machine(); ok && p.group == g && c.w.IsUp(p.shell.ID()) && m.Running() && !m.View().Rebalancing {
			ready[m.ID()+"-0"] = true
		}
	}
	v := c.srv.View()
	for _, spec := range c.plan.groups {
		if spec.name != g {
			continue
		}
		for _, t := range spec.topics {
			for part := range int32(c.topicPartitions(t)) {
				data, _, ok := v.Get(consumer.OwnerPath(g, proto.TopicPartition{Topic: t, Partition: part}))
				if !ok || !ready[string(data)] {
					return
				}
			}
		}
	}
	gc.times = append(gc.times, c.w.Now().Sub(gc.since))
	gc.since = -1
}

// produceRate is each producer's rate, messages a second.
func (c *kcluster) produceRate() int {
	if c.plan.produceRate > 0 {
		return c.plan.produceRate
	}
	return balanceRate
}

// brokerNames are the brokers' process names, in id order: every
// broker a client may bootstrap from.
func (c *kcluster) brokerNames() []string {
	names := make([]string, len(c.brokers))
	for i, b := range c.brokers {
		names[i] = b.name
	}
	return names
}

// topicNames are the names of the topics the cluster starts with, in the
// plan's order: what producers write.
func (c *kcluster) topicNames() []string {
	names := make([]string, len(c.plan.topics))
	for i, t := range c.plan.topics {
		names[i] = t.name
	}
	return names
}

// topicPartitions is the partition count of the plan's topic t.
func (c *kcluster) topicPartitions(t string) int {
	for _, s := range c.plan.topics {
		if s.name == t {
			return s.partitions
		}
	}
	panic("kafka scenario: a group subscribes to " + t + ", not a topic of the plan") // the plan's own groups
}

// withClients gives a cluster scenario the clients every run of it then
// carries: a producer of each dynamic discovery way (zk and metadata,
// acks=all) writing every topic, and a group of two consumers reading
// them; min.insync.replicas 2 makes the configuration durable, so the end
// checks judge every acknowledged message (checkAckedDurable,
// checkConsumers).
func withClients(p kafkaPlan) kafkaPlan {
	var topics []string
	for _, t := range p.topics {
		topics = append(topics, t.name)
	}
	tweak := p.tweak
	p.tweak = func(k *config.Config) {
		k.MinInsyncReplicas = 2
		if tweak != nil {
			tweak(k)
		}
	}
	p.groups = []groupSpec{{name: "audit", topics: topics, consumers: 2}}
	p.produceRate = clientsRate
	p.clients = func(c *kcluster) {
		c.addProducer(producer.DiscoveryZK, 1)
		c.addProducer(producer.DiscoveryMetadata, 2)
		c.addGroups()
		if c.plan.bugs.consumersDownAtEnd {
			c.w.At(sim.Kernel, sim.Time(c.plan.safety), "consumers-down", func() {
				for _, cp := range c.consumers {
					if c.w.IsUp(cp.shell.ID()) {
						c.w.Crash(cp.shell.ID())
					}
				}
			})
		}
	}
	settled := p.settled
	p.settled = func(c *kcluster) {
		if settled != nil {
			settled(c)
		}
		checkAckedDurable(c)
		checkConsumers(c)
		c.narrateClients()
	}
	p.metrics = clientMetrics
	return p
}

// clientsRate is each producer's rate in the scenarios withClients gives
// clients: enough to have messages in flight at every fault, few enough to
// keep a run fast.
const clientsRate = 10

// clientMetrics: messages acknowledged (in all, per discovery way, per
// broker), each way's load skew (the most messages one broker took over
// the mean of all brokers), and, with consumers, messages consumed,
// duplicates delivered and the groups' rebalance times (groupClock) p50
// and max.
func clientMetrics(c *kcluster, m map[string]float64) {
	total := 0.0
	perBroker := map[string]float64{}
	for _, mode := range []producer.Discovery{producer.DiscoveryZK, producer.DiscoveryMetadata, producer.DiscoveryStatic} {
		byBroker := map[string]float64{}
		for _, b := range c.brokers {
			byBroker[b.name] = 0
		}
		acked, failed, unknown, producers := 0.0, 0.0, 0.0, 0
		for _, p := range c.producers {
			if p.mode != mode {
				continue
			}
			producers++
			for _, a := range p.acked {
				byBroker[a.Host]++
				perBroker[a.Host]++
			}
			acked += float64(len(p.acked))
			failed += float64(p.fails)
			unknown += float64(p.infos)
		}
		if producers == 0 {
			continue
		}
		total += acked
		name := strings.ToLower(mode.String())
		m["acked_by_discovery."+name] = acked
		m["failed_by_discovery."+name] = failed
		m["unknown_by_discovery."+name] = unknown
		if acked > 0 {
			m["load_skew."+name] = slices.Max(slices.Collect(maps.Values(byBroker))) / (acked / float64(len(byBroker)))
		}
	}
	if len(c.producers) > 0 {
		m["messages_acked"] = total
		for _, b := range c.brokers {
			m["messages_per_broker."+b.name] = perBroker[b.name]
		}
	}
	if c.ackedLost >= 0 {
		m["acked_lost"] = float64(c.ackedLost)
	}
	if len(c.consumers) == 0 {
		return
	}
	type pos struct {
		tp  proto.TopicPartition
		off int64
	}
	seen := map[pos]uint64{} // the first value polled at each position
	polls, rewritten := 0, map[pos]bool{}
	for _, o := range c.history {
		if o.F == history.Poll {
			polls++
			at := pos{proto.TopicPartition{Topic: o.Topic, Partition: o.Partition}, o.Offset}
			if v, ok := seen[at]; !ok {
				seen[at] = o.Value
			} else if v != o.Value {
				rewritten[at] = true
			}
		}
	}
	m["messages_consumed"] = float64(len(seen))
	m["duplicates_delivered"] = float64(polls - len(seen))
	// Offsets read with two values: none unless elections were unclean or
	// brokers lost power (history.CheckOneValuePerOffset).
	m["offsets_with_two_values"] = float64(len(rewritten))
	var all []sim.Duration
	for _, g := range c.plan.groups {
		all = append(all, c.groupClocks[g.name].times...)
	}
	m["rebalances"] = float64(len(all))
	if len(all) > 0 {
		slices.Sort(all)
		m["rebalance_ns.p50"] = float64(all[len(all)/2])
		m["rebalance_ns.max"] = float64(all[len(all)-1])
	}
}

// narrateClients tells the clients' end: what was acknowledged and lost,
// and what each group consumed.
func (c *kcluster) narrateClients() {
	acked := 0
	for _, p := range c.producers {
		acked += len(p.acked)
	}
	consumed := map[string]int{}
	for _, o := range c.history {
		if o.F == history.Poll {
			consumed[o.Group]++
		}
	}
	c.narrate("end: %d messages acknowledged, %d of them not in their leader's log", acked, c.ackedLost)
	for _, g := range c.plan.groups {
		c.narrate("end: group %s was delivered %d messages", g.name, consumed[g.name])
	}
}
