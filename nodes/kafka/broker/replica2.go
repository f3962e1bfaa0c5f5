package broker

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	klog "github.com/kzsim/kzsim/nodes/kafka/log"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// pendingIsr is an ISR write to ZooKeeper waiting for its answer.
type pendingIsr struct {
	isr    []int32
	shrink bool
	data   []byte
}

// isrWritten takes the answer of an ISR write. BadVersion means the
// controller (or our own earlier attempt, applied before a ConnectionLoss)
// wrote the state: from 0.8.2 (KAFKA-1382) the leader reads it back and
// takes it as its own if it holds what it wrote; otherwise it keeps its
// ISR and waits for the controller.
func (rm *replicaManager) isrWritten(id kproc.ReqID, c call, r fakezk.Response) {
	w := rm.isrWrites[id]
	delete(rm.isrWrites, id)
	p := rm.current(c)
	if p == nil {
		return
	}
	switch {
	case r.Err == nil:
		rm.isrApplied(p, w, r.Stat.Version)
	case r.Err == fakezk.ErrBadVersion && rm.b.cfg.Kafka.Features.IsrWriteReadBack:
		rid := rm.b.newCall(call{kind: callIsrReadBack, tp: c.tp, arg: c.arg})
		rm.isrWrites[rid] = w
		rm.b.emit(kproc.ZKBatch{ID: rid, Reqs: []fakezk.Request{&fakezk.GetDataRequest{Path: kafkazk.PartitionStatePath(c.tp.Topic, c.tp.Partition)}}})
	default:
		p.isrWrite = false
		rm.b.emit(IsrWriteFailed{Broker: rm.b.cfg.ID, TP: p.tp, Err: r.Err.Error()})
	}
}

func (rm *replicaManager) isrReadBack(id kproc.ReqID, c call, r fakezk.Response) {
	w := rm.isrWrites[id]
	delete(rm.isrWrites, id)
	p := rm.current(c)
	if p == nil {
		return
	}
	if r.Err == nil && bytes.Equal(r.Data, w.data) {
		rm.isrApplied(p, w, r.Stat.Version)
		return
	}
	p.isrWrite = false
	why := "read back a different state"
	if r.Err != nil {
		why = r.Err.Error()
	}
	rm.b.emit(IsrWriteFailed{Broker: rm.b.cfg.ID, TP: p.tp, Err: "BADVERSION, " + why})
}

// current returns the partition an ISR write was for, if this broker still
// leads it in the same leader epoch.
func (rm *replicaManager) current(c call) *partition {
	p := rm.parts[c.tp]
	if p == nil || int64(p.leaderEpoch) != c.arg {
		return nil // a newer epoch has come (and cleared isrWrite)
	}
	if !p.isLeader(rm.b.cfg.ID) {
		p.isrWrite = false
		return nil
	}
	return p
}

func (rm *replicaManager) isrApplied(p *partition, w pendingIsr, version int32) {
	b := rm.b
	p.isrWrite = false
	p.isr = w.isr
	p.zkVersion = version
	rm.isrChanges[p.tp] = true
	rm.lastIsrChange = b.now
	b.emit(IsrChanged{Broker: b.cfg.ID, TP: p.tp, LeaderEpoch: p.leaderEpoch, ISR: p.isr, ZkVersion: version, Shrink: w.shrink})
	rm.maybeAdvanceHW(p)
}

// maybePropagateIsrChanges writes the ISR changes to a sequential
// /isr_change_notification/isr_change_ znode, at most every 2.5 s and only
// once no change has come for 5 s or the last write is 60 s old
// (ReplicaManager.maybePropagateIsrChanges).
func (rm *replicaManager) maybePropagateIsrChanges() {
	b := rm.b
	if len(rm.isrChanges) == 0 {
		return
	}
	if rm.lastIsrChange.Add(isrChangePropagationBlackout) >= b.now && rm.lastIsrPropagation.Add(isrChangePropagationMax) >= b.now {
		return
	}
	var list kafkazk.PartitionList
	for _, tp := range slices.SortedFunc(maps.Keys(rm.isrChanges), proto.Compare) {
		list.Partitions = append(list.Partitions, kafkazk.TopicPartition{Topic: tp.Topic, Partition: tp.Partition})
	}
	clear(rm.isrChanges)
	rm.lastIsrPropagation = b.now
	b.emit(kproc.ZKBatch{ID: b.newCall(call{kind: callIsrNotify}), Reqs: []fakezk.Request{&fakezk.CreateRequest{
		Path: kafkazk.IsrChangePrefix, Data: list.Encode(), Acl: fakezk.WorldACL(fakezk.PermAll), Flags: fakezk.FlagSequence}}})
}

// checkpointHighWatermarks writes replication-offset-checkpoint
// (ReplicaManager.checkpointHighWatermarks), written and synced whole.
func (rm *replicaManager) checkpointHighWatermarks() {
	if !rm.hwDirty {
		return
	}
	rm.hwDirty = false
	entries := make([]klog.PartitionOffset, 0, len(rm.parts))
	for tp, p := range rm.parts {
		entries = append(entries, klog.PartitionOffset{Topic: tp.Topic, Partition: tp.Partition, Offset: p.hw})
	}
	b := rm.b
	b.emit(kproc.DiskWrite{File: hwCheckpointFile, Data: klog.EncodeOffsets(entries)},
		kproc.DiskSync{ID: b.newCall(call{kind: callSync}), File: hwCheckpointFile})
}

// ---- Follower side: the replica fetchers ----

// fetcher is the ReplicaFetcherThread for one leader: one request in flight
// (truncation queries first, then fetches of every partition it follows
// there), backing off replica.fetch.backoff.ms after an error.
type fetcher struct {
	rm       *replicaManager
	leader   int32
	host     string
	parts    map[proto.TopicPartition]*partition
	sorted   []*partition // parts by name, rebuilt when dirty
	dirty    bool
	inflight bool
	backoff  bool
	// The request in flight: an answer is taken for a partition only if its
	// fetch state is still what the request was built from (Kafka's
	// AbstractFetcherThread compares the current fetch state with the
	// request's before processing a partition's data or error).
	fetching *proto.FetchRequest
	querying *proto.OffsetsForLeaderEpochRequest
	// sent are the partitions of the request in flight, in its order.
	sent []*partition
}

func (f *fetcher) list() []*partition {
	if f.dirty {
		f.sorted = slices.SortedFunc(maps.Values(f.parts), func(x, y *partition) int { return proto.Compare(x.tp, y.tp) })
		f.dirty = false
	}
	return f.sorted
}

func (f *fetcher) pump() {
	if f.inflight || f.backoff || len(f.parts) == 0 {
		return
	}
	rm := f.rm
	b := rm.b
	var queries []proto.EpochQuery
	var sentQ []*partition
	list := f.list()
	fetches := make([]proto.FetchPartition, 0, len(list)) // most partitions fetch
	sentF := make([]*partition, 0, len(list))
	for _, p := range list {
		tp := p.tp
		if p.truncating {
			sentQ = append(sentQ, p)
			queries = append(queries, proto.EpochQuery{TopicPartition: tp, CurrentLeaderEpoch: p.leaderEpoch, LeaderEpoch: p.log.LatestEpoch()})
		} else {
			sentF = append(sentF, p)
			fetches = append(fetches, proto.FetchPartition{TopicPartition: tp, CurrentLeaderEpoch: p.leaderEpoch,
				FetchOffset: p.log.LogEndOffset(), LogStartOffset: p.log.LogStartOffset()})
		}
	}
	k := b.cfg.Kafka
	f.inflight = true
	if len(queries) > 0 {
		f.sent = sentQ
		f.querying = &proto.OffsetsForLeaderEpochRequest{ReplicaID: b.cfg.ID, Partitions: queries}
		b.emit(kproc.Send{ID: b.newCall(call{kind: callEpochQuery, arg: int64(f.leader)}), Host: f.host, Channel: kproc.ChannelFetcher,
			Req: f.querying, Timeout: k.ReplicaSocketTimeout})
		return
	}
	f.sent = sentF
	f.fetching = &proto.FetchRequest{ReplicaID: b.cfg.ID, BrokerEpoch: b.brokerEpoch,
		MaxWaitMs: int32(k.ReplicaFetchWaitMax / sim.Millisecond), MinRecords: 1, Partitions: fetches}
	b.emit(kproc.Send{ID: b.newCall(call{kind: callFetch, arg: int64(f.leader)}), Host: f.host, Channel: kproc.ChannelFetcher,
		Req: f.fetching, Timeout: k.ReplicaSocketTimeout})
}

func (f *fetcher) fail() {
	f.inflight = false
	f.backoff = true
	b := f.rm.b
	b.emit(kproc.SetTimer{Name: timerFetchBackoff + kproc.TimerName(strconv.Itoa(int(f.leader))), After: b.cfg.Kafka.ReplicaFetchBackoff})
}

func (rm *replicaManager) fetcherOf(c call) *fetcher {
	f := rm.fetchers[int32(c.arg)]
	if f == nil {
		panic("broker: answer for a fetcher that does not exist")
	}
	return f
}

// fetchResult appends what the leader sent (ReplicaFetcherThread.
// processPartitionData) and fetches again.
func (rm *replicaManager) fetchResult(c call, in kproc.RPCResult) {
	f := rm.fetcherOf(c)
	if in.Err != nil {
		f.fail()
		return
	}
	resp := in.Resp.(*proto.FetchResponse)
	req := f.fetching
	b := rm.b
	backoff := false
	for i := range resp.Partitions {
		pr := &resp.Partitions[i]
		p := rm.resolve(f.sent[i], pr.TopicPartition)
		sent := req.Partitions[i]
		if p == nil || p.fetcher != f.leader || p.truncating || p.leaderEpoch != sent.CurrentLeaderEpoch || p.log.LogEndOffset() != sent.FetchOffset {
			continue // the partition moved on while the fetch was out
		}
		switch pr.Error {
		case proto.None:
			if len(pr.Records) > 0 && pr.Records[0].Offset == p.log.LogEndOffset() {
				data, outOfOrder, err := p.log.AppendAsFollower(pr.Records)
				if err != nil {
					panic(fmt.Sprintf("broker %d: %s: follower append: %v", b.cfg.ID, p.tp, err))
				}
				for _, w := range outOfOrder {
					b.emit(EpochOutOfOrder{Broker: b.cfg.ID, TP: p.tp, Epoch: w.Assigned.Epoch, StartOffset: w.Assigned.StartOffset,
						LatestEpoch: w.Latest.Epoch, LatestStartOffset: w.Latest.StartOffset})
				}
				b.emit(kproc.DiskAppend{File: logFile(p.tp), Data: data})
				rm.writeEpochs(p)
				rm.maybeFlush(p, int64(len(pr.Records)))
			}
			if hw := min(pr.HighWatermark, p.log.LogEndOffset()); hw > p.hw {
				p.hw = hw
				rm.hwDirty = true
			}
		case proto.OffsetOutOfRange:
			// ReplicaFetcherThread.handleOffsetOutOfRange: a follower ahead
			// of the leader truncates to the leader's end (unclean election);
			// one behind its start starts over at the leader's start.
			if p.log.LogEndOffset() > pr.LogEndOffset {
				if !b.cfg.Kafka.UncleanLeaderElectionEnable {
					// ReplicaFetcherThread: truncating below our log end means
					// an unclean leader; with unclean election off Kafka halts
					// the broker rather than lose the data.
					b.fatal(fmt.Sprintf("exiting because log truncation is not allowed for partition %s: the leader's latest offset %d is less than this replica's %d",
						p.tp, pr.LogEndOffset, p.log.LogEndOffset()))
					return
				}
				rm.truncate(p, pr.LogEndOffset, false)
			} else {
				rm.truncateFully(p, pr.LogStartOffset)
			}
		case proto.FencedLeaderEpoch:
			rm.unfollow(p) // our epoch is older than the leader's: wait for the controller
		default:
			backoff = true // NOT_LEADER, UNKNOWN_LEADER_EPOCH: the metadata is changing
		}
	}
	if backoff {
		f.fail()
		return
	}
	f.inflight = false
	f.pump()
}

// epochResult truncates each partition where the leader's log and ours
// diverge (KIP-101, KIP-279), then the partition fetches.
func (rm *replicaManager) epochResult(c call, in kproc.RPCResult) {
	f := rm.fetcherOf(c)
	if in.Err != nil {
		f.fail()
		return
	}
	resp := in.Resp.(*proto.OffsetsForLeaderEpochResponse)
	req := f.querying
	backoff := false
	for i, e := range resp.Partitions {
		p := rm.resolve(f.sent[i], e.TopicPartition)
		sent := req.Partitions[i]
		if p == nil || p.fetcher != f.leader || !p.truncating || p.leaderEpoch != sent.CurrentLeaderEpoch || p.log.LatestEpoch() != sent.LeaderEpoch {
			continue // the partition moved on while the query was out
		}
		if e.Error != proto.None {
			if e.Error == proto.FencedLeaderEpoch {
				rm.unfollow(p)
			} else {
				backoff = true
			}
			continue
		}
		to, done := p.log.TruncationOffset(e.LeaderEpoch, e.EndOffset, p.hw)
		rm.truncate(p, to, true)
		if !done {
			backoff = true // the next round after replica.fetch.backoff.ms (AbstractFetcherThread delays the partition)
		}
		p.truncating = !done
	}
	if backoff {
		f.fail()
		return
	}
	f.inflight = false
	f.pump()
}

var _ rpc.Payload = (*proto.FetchResponse)(nil)
