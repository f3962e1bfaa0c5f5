package consumer

import "github.com/kzsim/kzsim/nodes/kafka/proto"

// View is what checks and narration may read of a consumer: values, never
// the machine's own state.
type View struct {
	Group, ConsumerID string
	Phase             string // new, registering, running, exited
	Rebalancing       bool
	Attempt           int  // of the running (or last) rebalance
	Failed            bool // the last rebalance gave up: nothing is owned until the next change
	Owned             []Owned
}

// Owned is one partition in the consumer's registry.
type Owned struct {
	TP        proto.TopicPartition
	Thread    string
	Position  int64 // the next offset to deliver (−1: a reset pending)
	Committed int64 // the last offset read from or written to ZooKeeper (−1: none)
	Leader    int32 // the broker it is fetched from (−1: looking for the leader)
}

// View returns the consumer's view, partitions in (topic, partition) order.
func (c *Consumer) View() View {
	v := View{Group: c.cfg.Group, ConsumerID: c.id, Phase: c.phase.String(), Rebalancing: c.rebalancing, Attempt: c.attempt, Failed: c.failed}
	for _, tp := range c.ownedList() {
		p := c.registry[tp]
		o := Owned{TP: tp, Thread: p.thread, Position: p.consumed, Committed: -1, Leader: -1}
		if off, ok := c.checkpointed[tp]; ok {
			o.Committed = off
		}
		for id, fe := range c.fetch.fetchers {
			for _, q := range fe.parts {
				if q == p {
					o.Leader = id
				}
			}
		}
		v.Owned = append(v.Owned, o)
	}
	return v
}
