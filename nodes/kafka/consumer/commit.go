package consumer

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
)

// commit is commitOffsets with ZooKeeper storage: the consumed offset of
// every partition owned is written to its offset znode, skipping those
// unchanged since the last read or write (KAFKA-987). done gets the first
// error. Simplified: the writes are pipelined, so a failed one does not
// stop the others as Kafka 0.8.2–1.1's loop does; and a partition whose
// offset is not known yet (−1, a reset pending) is skipped, where Kafka
// would write "-1".
func (c *Consumer) commit(done func(error)) {
	var tps []proto.TopicPartition
	var offs []int64
	for _, tp := range slices.SortedFunc(maps.Keys(c.registry), proto.Compare) {
		off := c.registry[tp].consumed
		// 0.7 writes every offset at every commit (KAFKA-987 is 0.8.0).
		if last, ok := c.checkpointed[tp]; off < 0 || ok && last == off && !c.cfg.Era07 {
			continue
		}
		tps, offs = append(tps, tp), append(offs, off)
	}
	if len(tps) == 0 {
		done(nil)
		return
	}
	reqs := make([]fakezk.Request, len(tps))
	for i, tp := range tps {
		reqs[i] = &fakezk.SetDataRequest{Path: c.offsetPath(tp), Data: []byte(strconv.FormatInt(offs[i], 10)), Version: -1}
	}
	c.zk(reqs, func(rs []fakezk.Response) {
		var first error
		var missing []int
		for i, r := range rs {
			switch {
			case r.Err == nil:
				c.committed(tps[i], offs[i])
			case errors.Is(r.Err, fakezk.ErrNoNode):
				missing = append(missing, i)
			default:
				first = c.commitFailed(first, tps[i], r.Err)
			}
		}
		if len(missing) == 0 {
			done(first)
			return
		}
		c.createOffsets(tps, offs, missing, first, done)
	})
}

// createOffsets is updatePersistentPath's NoNode branch: the parents are
// created, then the node; one created meanwhile is written again.
func (c *Consumer) createOffsets(tps []proto.TopicPartition, offs []int64, missing []int, first error, done func(error)) {
	var reqs []fakezk.Request
	seen := map[string]bool{}
	parent := func(p string) {
		if !seen[p] {
			seen[p] = true
			reqs = append(reqs, persistent(p))
		}
	}
	parent(c.groupPath() + "/offsets")
	for _, i := range missing {
		parent(c.offsetsPath(tps[i].Topic))
	}
	nParents := len(reqs)
	for _, i := range missing {
		reqs = append(reqs, &fakezk.CreateRequest{Path: c.offsetPath(tps[i]), Data: []byte(strconv.FormatInt(offs[i], 10)), Acl: acl})
	}
	c.zk(reqs, func(rs []fakezk.Response) {
		var again []fakezk.Request
		var againIdx []int
		for j, i := range missing {
			r := rs[nParents+j]
			switch {
			case r.Err == nil:
				c.committed(tps[i], offs[i])
			case errors.Is(r.Err, fakezk.ErrNodeExists):
				again = append(again, &fakezk.SetDataRequest{Path: c.offsetPath(tps[i]), Data: []byte(strconv.FormatInt(offs[i], 10)), Version: -1})
				againIdx = append(againIdx, i)
			default:
				first = c.commitFailed(first, tps[i], r.Err)
			}
		}
		if len(again) == 0 {
			done(first)
			return
		}
		c.zk(again, func(rs []fakezk.Response) {
			for j, r := range rs {
				i := againIdx[j]
				if r.Err == nil {
					c.committed(tps[i], offs[i])
				} else {
					first = c.commitFailed(first, tps[i], r.Err)
				}
			}
			done(first)
		})
	})
}

func (c *Consumer) committed(tp proto.TopicPartition, off int64) {
	c.checkpointed[tp] = off
	c.emit(Committed{Group: c.cfg.Group, ConsumerID: c.id, TP: tp, Offset: off})
}

func (c *Consumer) commitFailed(first error, tp proto.TopicPartition, err error) error {
	c.emit(CommitFailed{Group: c.cfg.Group, ConsumerID: c.id, TP: tp, Why: err.Error()})
	if first == nil {
		first = fmt.Errorf("offset of %s: %w", tp, err)
	}
	return first
}
