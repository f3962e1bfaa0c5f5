package consumer

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/broker07"
	"github.com/kzsim/kzsim/nodes/kafka/consumer/assign"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// fetcher is one ConsumerFetcherThread: the partitions led by one broker,
// one fetch in flight at a time.
type fetcher struct {
	broker   int32
	host     string
	parts    []*partInfo
	inflight bool
}

// fetchManager is ConsumerFetcherManager: the fetchers by leader, and the
// partitions without a known leader, which the leader finder looks up.
type fetchManager struct {
	epoch    uint64 // bumped by stop: answers of earlier fetchers and finder passes are dropped
	fetchers map[int32]*fetcher
	noLeader []*partInfo
	finding  bool // a leader finder pass runs, or its sleep
	// announce: since the last rebalance, not every owned partition has had
	// a fetcher yet (Fetching is reported when they all have).
	announce bool
}

func (f *fetchManager) init() { f.fetchers = map[int32]*fetcher{} }

// stop is stopConnections: every fetcher and the leader finder stop.
func (f *fetchManager) stop(c *Consumer) {
	f.epoch++
	clear(f.fetchers)
	f.noLeader = nil
	f.announce = false
	if f.finding {
		f.finding = false
		c.emit(kproc.CancelTimer{Name: timerFinder})
	}
}

// start is updateFetcher: every owned partition goes to the leader finder.
func (f *fetchManager) start(c *Consumer) {
	for _, tp := range c.ownedList() {
		f.noLeader = append(f.noLeader, c.registry[tp])
	}
	f.announce = true
	f.maybeAnnounce(c)
	f.wake(c)
}

// wake starts a leader finder pass unless one runs or sleeps
// (LeaderFinderThread waits on a condition while its set is empty).
func (f *fetchManager) wake(c *Consumer) {
	if f.finding || len(f.noLeader) == 0 {
		return
	}
	f.finding = true
	epoch := f.epoch
	// ZkUtils.getAllBrokersInCluster, then ClientUtils.fetchTopicMetadata.
	c.zk([]fakezk.Request{&fakezk.GetChildrenRequest{Path: kafkazk.BrokerIDsPath}}, func(rs []fakezk.Response) {
		if f.epoch != epoch {
			return
		}
		if rs[0].Err != nil || len(rs[0].Children) == 0 {
			f.sleep(c)
			return
		}
		ids := slices.Sorted(slices.Values(rs[0].Children))
		reqs := make([]fakezk.Request, len(ids))
		for i, id := range ids {
			reqs[i] = &fakezk.GetDataRequest{Path: kafkazk.BrokerIDsPath + "/" + id}
		}
		c.zk(reqs, func(rs []fakezk.Response) {
			if f.epoch != epoch {
				return
			}
			var hosts []string
			hostOf := map[int32]string{}
			for i, r := range rs {
				if r.Err != nil {
					continue
				}
				if c.cfg.Era07 {
					bi, err := broker07.ParseBrokerInfo(string(r.Data))
					id, err2 := strconv.ParseInt(ids[i], 10, 32)
					if err == nil && err2 == nil {
						hostOf[int32(id)] = bi.Host
					}
					continue
				}
				reg, err := kafkazk.DecodeBrokerRegistration(r.Data)
				if err != nil || len(reg.Endpoints) == 0 {
					continue
				}
				hosts = append(hosts, reg.Endpoints[0].Host)
			}
			if c.cfg.Era07 {
				// 0.7: a partition is fetched from its own broker, which
				// /brokers/ids names; no metadata request.
				// Simplified: 0.7.2's rebalance hands the fetcher the
				// cluster it read; here the finder reads the brokers.
				leader := map[proto.TopicPartition]int32{}
				for _, p := range f.noLeader {
					if b := assign.Unpack07(p.tp.Partition).Broker; hostOf[b] != "" {
						leader[p.tp] = b
					}
				}
				f.leadersFound(c, leader, hostOf)
				f.sleep(c)
				return
			}
			// fetchTopicMetadata asks the brokers in random order until one answers.
			c.cfg.Rand.Shuffle(len(hosts), func(i, j int) { hosts[i], hosts[j] = hosts[j], hosts[i] })
			f.askMetadata(c, epoch, hosts)
		})
	})
}

func (f *fetchManager) askMetadata(c *Consumer, epoch uint64, hosts []string) {
	if len(hosts) == 0 {
		f.sleep(c)
		return
	}
	topics := map[string]bool{}
	for _, p := range f.noLeader {
		topics[p.tp.Topic] = true
	}
	c.send(hosts[0], &proto.MetadataRequest{Topics: slices.Sorted(maps.Keys(topics))}, func(resp rpc.Payload, err error) {
		if f.epoch != epoch {
			return
		}
		if err != nil {
			f.askMetadata(c, epoch, hosts[1:])
			return
		}
		md, ok := resp.(*proto.MetadataResponse)
		if !ok {
			panic(fmt.Sprintf("consumer %s: metadata answered with %T", c.id, resp))
		}
		hostOf := map[int32]string{}
		for _, b := range md.Brokers {
			hostOf[b.ID] = b.Host
		}
		leader := map[proto.TopicPartition]int32{}
		for _, p := range md.Partitions {
			if p.Error == proto.None && p.Leader >= 0 && hostOf[p.Leader] != "" {
				leader[p.TopicPartition] = p.Leader
			}
		}
		f.leadersFound(c, leader, hostOf)
		f.sleep(c)
	})
}

// leadersFound adds each partition with a known leader (at a host of
// hostOf) to that leader's fetcher (addFetcherForPartitions); the others
// wait for the next pass.
func (f *fetchManager) leadersFound(c *Consumer, leader map[proto.TopicPartition]int32, hostOf map[int32]string) {
	kept := f.noLeader[:0]
	var touched []int32
	for _, p := range f.noLeader {
		id, ok := leader[p.tp]
		if !ok {
			kept = append(kept, p)
			continue
		}
		fe := f.fetchers[id]
		if fe == nil {
			fe = &fetcher{broker: id, host: hostOf[id]}
			f.fetchers[id] = fe
		}
		fe.parts = append(fe.parts, p)
		if !slices.Contains(touched, id) {
			touched = append(touched, id)
		}
	}
	clear(f.noLeader[len(kept):])
	f.noLeader = kept
	f.maybeAnnounce(c)
	slices.Sort(touched)
	for _, id := range touched {
		f.fetchFrom(c, f.fetchers[id])
	}
}

// maybeAnnounce reports Fetching once every partition the last rebalance
// gave has a fetcher.
func (f *fetchManager) maybeAnnounce(c *Consumer) {
	if f.announce && len(f.noLeader) == 0 {
		f.announce = false
		c.emit(Fetching{Group: c.cfg.Group, ConsumerID: c.id, Partitions: len(c.registry)})
	}
}

// sleep ends a pass: the finder sleeps refresh.leader.backoff.ms.
func (f *fetchManager) sleep(c *Consumer) {
	c.emit(kproc.SetTimer{Name: timerFinder, After: c.cfg.RefreshLeaderBackoff})
}

func (f *fetchManager) finderSlept(c *Consumer) {
	f.finding = false
	f.wake(c)
}

// fetchFrom sends fe's next fetch (AbstractFetcherThread.doWork): from
// each partition's fetch offset, replica id −1, so the broker reads up to
// the high watermark only.
func (f *fetchManager) fetchFrom(c *Consumer, fe *fetcher) {
	if fe.inflight || len(fe.parts) == 0 {
		return
	}
	req := &proto.FetchRequest{ReplicaID: proto.ConsumerReplicaID, BrokerEpoch: proto.NoEpoch,
		MaxWaitMs: int32(c.cfg.FetchWaitMax / sim.Millisecond), MinRecords: 1}
	for _, p := range fe.parts {
		req.Partitions = append(req.Partitions, proto.FetchPartition{TopicPartition: c.wire(p.tp), CurrentLeaderEpoch: -1,
			FetchOffset: p.fetched, LogStartOffset: -1, MaxRecords: c.cfg.FetchMaxRecords})
	}
	fe.inflight = true
	epoch := f.epoch
	c.send(fe.host, req, func(resp rpc.Payload, err error) {
		if f.epoch != epoch || f.fetchers[fe.broker] != fe {
			return
		}
		fe.inflight = false
		if err != nil {
			// processFetchRequest: every partition of the fetcher has an error.
			f.noLeader = append(f.noLeader, fe.parts...)
			delete(f.fetchers, fe.broker)
			f.wake(c)
			return
		}
		fr, ok := resp.(*proto.FetchResponse)
		if !ok {
			panic(fmt.Sprintf("consumer %s: fetch answered with %T", c.id, resp))
		}
		f.fetched(c, fe, fr)
	})
}

// fetched processes one fetch response (processPartitionData,
// handleOffsetOutOfRange, handlePartitionsWithErrors), then fetches again.
func (f *fetchManager) fetched(c *Consumer, fe *fetcher, fr *proto.FetchResponse) {
	var lost []*partInfo
	for _, pr := range fr.Partitions {
		i := slices.IndexFunc(fe.parts, func(p *partInfo) bool { return c.wire(p.tp) == pr.TopicPartition })
		if i < 0 {
			continue
		}
		p := fe.parts[i]
		switch pr.Error {
		case proto.None:
			if !c.deliver(p, pr) {
				// Not Kafka (which trusts the broker): the partition goes back
				// to the leader finder, so a broken broker is asked again only
				// after its back-off.
				lost = append(lost, p)
				fe.parts = slices.Delete(fe.parts, i, i+1)
			}
		case proto.OffsetOutOfRange:
			// handleOffsetOutOfRange asks the leader for its earliest or
			// latest offset (to a consumer, the high watermark).
			// Simplified: the brokers serve no ListOffsets; the error answer's
			// log start offset and high watermark stand for its answer.
			to := pr.HighWatermark
			if c.cfg.AutoOffsetReset == ResetSmallest {
				to = pr.LogStartOffset
			}
			c.emit(OffsetReset{Group: c.cfg.Group, ConsumerID: c.id, TP: p.tp, From: p.fetched, To: to, Policy: c.cfg.AutoOffsetReset})
			p.fetched, p.consumed = to, to
		default:
			lost = append(lost, p)
			fe.parts = slices.Delete(fe.parts, i, i+1)
		}
	}
	if len(lost) > 0 {
		f.noLeader = append(f.noLeader, lost...)
		f.wake(c)
	}
	if len(fe.parts) == 0 {
		delete(f.fetchers, fe.broker)
		return
	}
	f.fetchFrom(c, fe)
}

// deliver hands pr's records to the application (the ConsumerIterator):
// records before the fetch offset are skipped, as the iterator skips
// those below its consumed offset; none may be at or past the high
// watermark the broker gave: deliver returns false at the first that is.
func (c *Consumer) deliver(p *partInfo, pr proto.FetchPartitionResponse) bool {
	for _, r := range pr.Records {
		if r.Offset >= pr.HighWatermark {
			c.emit(PastHighWatermark{Group: c.cfg.Group, ConsumerID: c.id, TP: p.tp, Offset: r.Offset, HighWatermark: pr.HighWatermark})
			return false
		}
		if r.Offset < p.fetched {
			continue
		}
		c.emit(Delivered{Group: c.cfg.Group, ConsumerID: c.id, Thread: p.thread, TP: p.tp, Offset: r.Offset, Key: r.Key, Value: r.Value})
		p.fetched, p.consumed = r.Offset+1, r.Offset+1
	}
	return true
}
