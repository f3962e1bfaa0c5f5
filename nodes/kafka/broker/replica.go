package broker

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/fakezk"
	"github.com/kzsim/kzsim/nodes/kafka/config"
	"github.com/kzsim/kzsim/nodes/kafka/isr"
	"github.com/kzsim/kzsim/nodes/kafka/kproc"
	klog "github.com/kzsim/kzsim/nodes/kafka/log"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/nodes/kafkazk"
	"github.com/kzsim/kzsim/sim"
)

// Files on a broker's disk (Kafka's log.dirs layout, one directory).
const (
	hwCheckpointFile = "replication-offset-checkpoint"
	logFileName      = "00000000000000000000.log"
	epochFileName    = "leader-epoch-checkpoint"
)

func partitionDir(tp proto.TopicPartition) string {
	return tp.Topic + "-" + strconv.Itoa(int(tp.Partition))
}

func logFile(tp proto.TopicPartition) string   { return partitionDir(tp) + "/" + logFileName }
func epochFile(tp proto.TopicPartition) string { return partitionDir(tp) + "/" + epochFileName }

// parseDir reads "<topic>-<partition>" (the partition is after the last '-',
// as Kafka's Log.parseTopicPartitionName does).
func parseDir(dir string) (proto.TopicPartition, bool) {
	i := strings.LastIndexByte(dir, '-')
	if i <= 0 {
		return proto.TopicPartition{}, false
	}
	p, err := strconv.ParseInt(dir[i+1:], 10, 32)
	if err != nil || p < 0 {
		return proto.TopicPartition{}, false
	}
	return proto.TopicPartition{Topic: dir[:i], Partition: int32(p)}, true
}

// Timers of the replica manager (ReplicaManager's scheduled tasks).
const (
	timerIsrExpiration  kproc.TimerName = "broker/isr-expiration"  // maybeShrinkIsr, every replica.lag.time.max.ms / 2
	timerIsrPropagation kproc.TimerName = "broker/isr-propagation" // maybePropagateIsrChanges, every 2.5 s
	timerHWCheckpoint   kproc.TimerName = "broker/highwatermark-checkpoint"
	timerPurgatory      kproc.TimerName = "broker/purgatory"      // delayed fetches and produces
	timerFetchBackoff   kproc.TimerName = "broker/fetch-backoff/" // + leader id
)

// Kafka 2.6 ReplicaManager's ISR change propagation constants.
const (
	isrChangePropagationInterval = 2500 * sim.Millisecond
	isrChangePropagationBlackout = 5000 * sim.Millisecond
	isrChangePropagationMax      = 60000 * sim.Millisecond
)

// maxFetchRecords bounds the records a fetch returns per partition (the
// stand-in for replica.fetch.max.bytes).
const maxFetchRecords = 500

// partition is one replica this broker hosts (Kafka's Partition with its
// local Log).
type partition struct {
	tp              proto.TopicPartition
	log             klog.Log // held in place: the fetch path reads every partition's log end
	leader          int32
	leaderEpoch     int32 // -1 before the first LeaderAndIsr
	zkVersion       int32
	controllerEpoch int32
	replicas        []int32
	isr             []int32 // the leader's view; a follower's copy from the controller
	hw              int64

	// Leader side.
	followers        []isr.Follower
	epochStartOffset int64
	isrWrite         bool // an ISR write to ZooKeeper is outstanding
	produces         []*delayedProduce

	// Follower side.
	fetcher    int32 // leader followed; -1 for none
	truncating bool  // waiting for OffsetsForLeaderEpoch before fetching
	unflushed  int64

	// removed: the partition left rm.parts (StopReplica with delete). The
	// fetch path holds *partition across a request's round trip instead of
	// looking each partition up again (every partition of a fetch, twice a
	// second per fetcher); a removed one is looked up by name again.
	removed bool
}

func (p *partition) isLeader(self int32) bool { return p.leader == self }

type replicaManager struct {
	b                *Broker
	parts            map[proto.TopicPartition]*partition
	sorted           []*partition // parts by name (nil: to sort again)
	recovered        map[proto.TopicPartition]*klog.Log
	hwFromDisk       map[proto.TopicPartition]int64
	recoveredRecords int64
	fetchers         map[int32]*fetcher

	isrChanges         map[proto.TopicPartition]bool
	lastIsrChange      sim.Time
	lastIsrPropagation sim.Time

	isrWrites map[kproc.ReqID]pendingIsr

	purgatory []deadline // sorted by at
	parked    []*delayedFetch
	hwDirty   bool
}

type deadline struct {
	at      sim.Time
	fetch   *delayedFetch
	produce *delayedProduce
}

type delayedFetch struct {
	token kproc.Token
	req   *proto.FetchRequest
	parts []*partition // resolved req.Partitions (nil: not found then)
	done  bool
}

type delayedProduce struct {
	token   kproc.Token
	results []proto.ProducePartitionResponse
	need    []int64 // offset the HW must pass, per result (-1: settled)
	waiting int
	done    bool
}

func (rm *replicaManager) init(b *Broker) {
	rm.b = b
	rm.parts = map[proto.TopicPartition]*partition{}
	rm.recovered = map[proto.TopicPartition]*klog.Log{}
	rm.hwFromDisk = map[proto.TopicPartition]int64{}
	rm.fetchers = map[int32]*fetcher{}
	rm.isrChanges = map[proto.TopicPartition]bool{}
	rm.isrWrites = map[kproc.ReqID]pendingIsr{}
}

// recover rebuilds the logs the disk kept (LogManager.loadLogs): each log
// is checked record by record and cut at the first invalid one.
func (rm *replicaManager) recover(files map[string][]byte) {
	b := rm.b
	if data, ok := files[hwCheckpointFile]; ok {
		if entries, err := klog.DecodeOffsets(data); err == nil {
			for _, e := range entries {
				rm.hwFromDisk[proto.TopicPartition{Topic: e.Topic, Partition: e.Partition}] = e.Offset
			}
		} else {
			// Kafka fails the log directory on a corrupt checkpoint;
			// simplified: the broker starts with every high watermark 0.
			b.emit(Fatal{Broker: b.cfg.ID, Why: "ignoring corrupt " + hwCheckpointFile + ": " + err.Error()})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		dir, file, ok := strings.Cut(name, "/")
		if !ok || file != logFileName {
			continue
		}
		tp, ok := parseDir(dir)
		if !ok {
			continue
		}
		l, info, err := klog.Recover(files[name])
		if err != nil {
			b.emit(kproc.DiskRemove{File: name}) // a log whose header was lost is no log
			continue
		}
		if info.ValidSize < len(files[name]) {
			b.emit(kproc.DiskTruncate{File: name, Size: info.ValidSize})
		}
		if data, changed := l.TakeEpochCheckpoint(); changed {
			b.emit(kproc.DiskWrite{File: epochFile(tp), Data: data})
		}
		rm.recovered[tp] = l
		rm.recoveredRecords += int64(l.Len())
	}
}

// recoveryCost is the time loading the logs takes.
func (rm *replicaManager) recoveryCost() sim.Duration {
	k := rm.b.cfg.Costs
	return sim.Duration(len(rm.recovered))*k.BrokerLogLoadPartition + sim.Duration(rm.recoveredRecords)*k.BrokerRecord
}

// startup starts ReplicaManager's scheduled tasks.
func (rm *replicaManager) startup() {
	k := rm.b.cfg.Kafka
	rm.b.emit(
		kproc.SetTimer{Name: timerIsrExpiration, After: k.ReplicaLagTimeMax / 2},
		kproc.SetTimer{Name: timerIsrPropagation, After: isrChangePropagationInterval},
		kproc.SetTimer{Name: timerHWCheckpoint, After: k.ReplicaHighWatermarkCheckpointInterval},
	)
}

func (rm *replicaManager) timer(name kproc.TimerName) {
	b := rm.b
	k := b.cfg.Kafka
	switch {
	case name == timerHandler:
		b.handlerTimer()
	case name == timerIsrExpiration:
		rm.maybeShrinkIsr()
		b.emit(kproc.SetTimer{Name: timerIsrExpiration, After: k.ReplicaLagTimeMax / 2})
	case name == timerIsrPropagation:
		rm.maybePropagateIsrChanges()
		b.emit(kproc.SetTimer{Name: timerIsrPropagation, After: isrChangePropagationInterval})
	case name == timerHWCheckpoint:
		rm.checkpointHighWatermarks()
		b.emit(kproc.SetTimer{Name: timerHWCheckpoint, After: k.ReplicaHighWatermarkCheckpointInterval})
	case name == timerPurgatory:
		rm.expire()
	case strings.HasPrefix(string(name), string(timerFetchBackoff)):
		id, err := strconv.ParseInt(string(name[len(timerFetchBackoff):]), 10, 32)
		if err != nil {
			panic("broker: bad fetcher timer " + string(name))
		}
		if f := rm.fetchers[int32(id)]; f != nil {
			f.backoff = false
			f.pump()
		}
	case name == timerShutdownRetry:
		b.sendControlledShutdown()
	default:
		panic(fmt.Sprintf("broker %d: unknown timer %s", b.cfg.ID, name))
	}
}

// becomeLeaderOrFollower applies one partition of a LeaderAndIsr
// (ReplicaManager.becomeLeaderOrFollower, Partition.makeLeader and
// makeFollower). A leader epoch that is not newer is ignored.
func (rm *replicaManager) becomeLeaderOrFollower(ps *proto.PartitionState, leaders map[int32]proto.Broker) proto.ErrorCode {
	b := rm.b
	self := b.cfg.ID
	if !slices.Contains(ps.Replicas, self) {
		return proto.UnknownTopicOrPartition
	}
	p := rm.parts[ps.TopicPartition]
	if p == nil {
		p = rm.create(ps.TopicPartition)
	} else if ps.LeaderEpoch <= p.leaderEpoch {
		// Kafka 2.6 answers STALE_CONTROLLER_EPOCH for an epoch that is not
		// newer, equal included (a new controller resending the states).
		return proto.StaleControllerEpoch
	}
	if ps.Leader != self && ps.Leader != proto.NoLeader {
		if _, ok := rm.leaderHost(ps.Leader, leaders); !ok {
			// ReplicaManager.makeFollowers: "the leader broker should always
			// be present in the metadata cache"; if not, the transition is
			// abandoned (the log exists, KAFKA-1647) and the partition keeps
			// its old epoch, so the next LeaderAndIsr of this epoch applies.
			return proto.None
		}
	}
	wasLeader := p.isLeader(self)
	// An ISR write of the previous epoch may still be out; its answer is
	// ignored (rm.current), and the new epoch may write at once.
	p.isrWrite = false
	p.leaderEpoch, p.zkVersion, p.controllerEpoch = ps.LeaderEpoch, ps.ZkVersion, ps.ControllerEpoch
	p.replicas = slices.Clone(ps.Replicas)
	p.isr = slices.Clone(ps.ISR)
	p.leader = ps.Leader
	b.emit(PartitionApplied{Broker: self, TP: p.tp, Leader: ps.Leader, LeaderEpoch: ps.LeaderEpoch, ISR: p.isr})
	if ps.Leader == self {
		rm.makeLeader(p, wasLeader)
		return proto.None
	}
	rm.makeFollower(p, wasLeader, leaders)
	return proto.None
}

func (rm *replicaManager) create(tp proto.TopicPartition) *partition {
	b := rm.b
	l := rm.recovered[tp]
	if l != nil {
		delete(rm.recovered, tp)
	} else {
		l = klog.New()
		b.emit(kproc.DiskWrite{File: logFile(tp), Data: l.File()})
	}
	hw := min(rm.hwFromDisk[tp], l.LogEndOffset())
	delete(rm.hwFromDisk, tp)
	p := &partition{tp: tp, log: *l, leader: proto.NoLeader, leaderEpoch: -1, fetcher: -1, hw: max(hw, l.LogStartOffset())}
	rm.parts[tp] = p
	rm.sorted = nil
	return p
}

// sortedParts returns the partitions by name, sorted again only after a
// partition came or went (maybeShrinkIsr walks them every 15 s).
func (rm *replicaManager) sortedParts() []*partition {
	if rm.sorted == nil {
		rm.sorted = slices.SortedFunc(maps.Values(rm.parts), func(x, y *partition) int { return proto.Compare(x.tp, y.tp) })
	}
	return rm.sorted
}

// makeLeader: the epoch starts at the log end (the epoch cache learns it,
// KAFKA-7415), the followers' state resets, fetching stops.
func (rm *replicaManager) makeLeader(p *partition, wasLeader bool) {
	b := rm.b
	rm.unfollow(p)
	leo := p.log.LogEndOffset()
	if p.leaderEpoch > p.log.LatestEpoch() {
		p.log.AssignEpoch(p.leaderEpoch, leo)
	}
	rm.writeEpochs(p)
	p.epochStartOffset = leo
	old := p.followers
	p.followers = p.followers[:0:0]
	for _, id := range p.replicas {
		if id == b.cfg.ID {
			continue
		}
		f := isr.Follower{ID: id, LogEndOffset: isr.UnknownOffset}
		for _, o := range old {
			if o.ID == id {
				f = o
			}
		}
		p.followers = append(p.followers, isr.BecomeLeader(f, slices.Contains(p.isr, id), b.now, leo, !wasLeader))
	}
	rm.maybeAdvanceHW(p)
}

// makeFollower: waiting produces fail, the log is truncated (by leader
// epoch from 0.11, to the high watermark before: Features.Truncation) and
// the fetcher of the new leader takes the partition.
func (rm *replicaManager) makeFollower(p *partition, wasLeader bool, leaders map[int32]proto.Broker) {
	if wasLeader {
		rm.failProduces(p, proto.NotLeaderForPartition)
		p.followers = nil
	}
	rm.unfollow(p)
	if p.leader == proto.NoLeader {
		return
	}
	host, ok := rm.leaderHost(p.leader, leaders)
	if !ok {
		panic("broker: makeFollower without a live leader") // becomeLeaderOrFollower checked
	}
	if rm.b.cfg.Kafka.Features.Truncation != config.TruncateHighWatermark && p.log.LatestEpoch() != klog.UndefinedEpoch {
		p.truncating = true
	} else {
		rm.truncate(p, p.hw, false)
		p.truncating = false
	}
	f := rm.fetchers[p.leader]
	if f == nil {
		f = &fetcher{rm: rm, leader: p.leader, parts: map[proto.TopicPartition]*partition{}}
		rm.fetchers[p.leader] = f
	}
	f.host = host
	f.parts[p.tp] = p
	f.dirty = true
	p.fetcher = p.leader
}

func (rm *replicaManager) unfollow(p *partition) {
	if p.fetcher < 0 {
		return
	}
	if f := rm.fetchers[p.fetcher]; f != nil {
		delete(f.parts, p.tp)
		f.dirty = true
	}
	p.fetcher = -1
	p.truncating = false
}

// leaderAndIsrDone starts the fetchers that have work after a LeaderAndIsr.
func (rm *replicaManager) leaderAndIsrDone() {
	for _, id := range slices.Sorted(maps.Keys(rm.fetchers)) {
		rm.fetchers[id].pump()
	}
}

// truncate cuts p's log to end at offset to (below its start: empty,
// starting at to).
func (rm *replicaManager) truncate(p *partition, to int64, byEpoch bool) {
	b := rm.b
	from := p.log.LogEndOffset()
	if to >= from {
		if b.cfg.Kafka.Features.EpochCacheTruncatedAtEnd && p.log.TruncateEpochsFromEnd(to) {
			rm.writeEpochs(p)
		}
		return
	}
	var size int
	if to < p.log.LogStartOffset() {
		b.emit(kproc.DiskWrite{File: logFile(p.tp), Data: p.log.TruncateFully(max(to, 0))})
		p.hw = p.log.LogStartOffset()
	} else {
		size = p.log.TruncateTo(to)
		b.emit(kproc.DiskTruncate{File: logFile(p.tp), Size: size})
	}
	p.hw = max(min(p.hw, p.log.LogEndOffset()), p.log.LogStartOffset())
	rm.writeEpochs(p)
	b.emit(Truncated{Broker: b.cfg.ID, TP: p.tp, From: from, To: to, LeaderEpoch: p.leaderEpoch, ByLeaderEpoch: byEpoch})
}

// writeEpochs writes the leader-epoch-checkpoint if the cache changed
// (LeaderEpochFileCache.flush writes and syncs it).
func (rm *replicaManager) writeEpochs(p *partition) {
	if data, changed := p.log.TakeEpochCheckpoint(); changed {
		f := epochFile(p.tp)
		rm.b.emit(kproc.DiskWrite{File: f, Data: data}, kproc.DiskSync{ID: rm.b.newCall(call{kind: callSync}), File: f})
	}
}

// stop is one partition of a StopReplica.
func (rm *replicaManager) stop(sp proto.StopReplicaPartition) proto.ErrorCode {
	b := rm.b
	p := rm.parts[sp.TopicPartition]
	if p == nil {
		if sp.Delete {
			if l := rm.recovered[sp.TopicPartition]; l != nil {
				delete(rm.recovered, sp.TopicPartition)
				rm.removeFiles(sp.TopicPartition)
			}
		}
		return proto.None
	}
	if b.cfg.Kafka.Features.StopReplicaLeaderEpoch && sp.LeaderEpoch >= 0 && sp.LeaderEpoch < p.leaderEpoch {
		return proto.FencedLeaderEpoch
	}
	rm.unfollow(p)
	rm.failProduces(p, proto.NotLeaderForPartition)
	if sp.Delete && !b.cfg.BugKeepDeletedLogs {
		p.removed = true
		delete(rm.parts, p.tp)
		rm.sorted = nil
		delete(rm.isrChanges, p.tp)
		rm.removeFiles(p.tp)
		rm.hwDirty = true
	} else {
		p.leader = proto.NoLeader
		p.followers = nil
	}
	return proto.None
}

// ---- Leader side: produce, fetch, ISR, high watermark ----

func (rm *replicaManager) leaderOf(tp proto.TopicPartition, currentEpoch int32) (*partition, proto.ErrorCode) {
	return rm.leaderAt(rm.parts[tp], currentEpoch)
}

// resolve returns the partition named tp that p was: p itself unless it
// has been removed (or was not found), else a fresh lookup.
func (rm *replicaManager) resolve(p *partition, tp proto.TopicPartition) *partition {
	if p != nil && !p.removed {
		return p
	}
	return rm.parts[tp]
}

// leaderAt is leaderOf for the partition p (nil: not found).
func (rm *replicaManager) leaderAt(p *partition, currentEpoch int32) (*partition, proto.ErrorCode) {
	if p == nil {
		return nil, proto.UnknownTopicOrPartition
	}
	if !p.isLeader(rm.b.cfg.ID) {
		return nil, proto.NotLeaderForPartition
	}
	switch {
	case currentEpoch < 0:
	case currentEpoch < p.leaderEpoch:
		return nil, proto.FencedLeaderEpoch
	case currentEpoch > p.leaderEpoch:
		return nil, proto.UnknownLeaderEpoch
	}
	return p, proto.None
}

// produce is ReplicaManager.appendRecords: the leader appends; acks=all
// waits in the purgatory until the high watermark passes the records.
func (rm *replicaManager) produce(token kproc.Token, r *proto.ProduceRequest) {
	b := rm.b
	k := b.cfg.Costs
	minISR := b.cfg.Kafka.MinInsyncReplicas
	d := &delayedProduce{token: token, results: make([]proto.ProducePartitionResponse, len(r.Partitions)), need: make([]int64, len(r.Partitions))}
	records := 0
	for i, pp := range r.Partitions {
		d.results[i] = proto.ProducePartitionResponse{TopicPartition: pp.TopicPartition, BaseOffset: -1}
		d.need[i] = -1
		p, code := rm.leaderOf(pp.TopicPartition, -1)
		if code == proto.None && r.Acks == proto.AcksAll && len(p.isr) < minISR {
			code = proto.NotEnoughReplicas
		}
		if code != proto.None || len(pp.Entries) == 0 {
			d.results[i].Error = code
			continue
		}
		records += len(pp.Entries)
		first, last, dup, code := rm.appendChecked(p, pp.Entries)
		if code != proto.None {
			d.results[i].Error = code
			continue
		}
		d.results[i].BaseOffset = first
		if r.Acks == proto.AcksAll && !b.cfg.BugAckAllAtLeader {
			// A duplicate waits for its first append's records as a new
			// batch would (Kafka 2.6 Log.append returns the duplicate's
			// LogAppendInfo; the delayed produce waits on its last offset).
			d.need[i] = last + 1
			d.waiting++
			p.produces = append(p.produces, d)
		}
		if !dup {
			rm.maybeAdvanceHW(p)
			rm.wakeFetches()
		}
	}
	cost := k.BrokerRequest + sim.Duration(records)*k.BrokerRecord
	if d.waiting == 0 {
		b.reply(token, &proto.ProduceResponse{Partitions: d.results}, cost)
		return
	}
	rm.settleProduce(d) // the leader alone may be the ISR
	if !d.done {
		rm.addDeadline(deadline{at: b.now.Add(sim.Duration(r.TimeoutMs) * sim.Millisecond), produce: d})
	}
}

// appendChecked appends a client's batch to the leader p's log unless the
// producer state refuses it (Kafka 2.6 `Log.append` with origin Client:
// `analyzeAndValidateProducerState` before the append). A duplicate of a
// batch the log keeps is not appended: dup is true and first..last is
// where it was first written. A refused batch gives its error code.
func (rm *replicaManager) appendChecked(p *partition, entries []proto.Entry) (first, last int64, dup bool, code proto.ErrorCode) {
	b := rm.b
	if !b.cfg.BugNoProducerDedupe {
		d, isDup, err := p.log.AnalyzeProducer(entries)
		if err != nil || isDup {
			rep := ProducerBatch{Broker: b.cfg.ID, TP: p.tp, ProducerID: entries[0].ProducerID, FirstSeq: entries[0].Sequence, Records: len(entries), DuplicateOf: -1}
			switch {
			case isDup:
				rep.DuplicateOf = d.First
			case errors.Is(err, klog.ErrOutOfOrderSequence):
				rep.Error = proto.OutOfOrderSequenceNumber
			case errors.Is(err, klog.ErrUnknownProducerID):
				rep.Error = proto.UnknownProducerID
			default:
				rep.Error = proto.InvalidRecord
			}
			if err != nil {
				rep.Why = err.Error()
			}
			b.emit(rep)
			return d.First, d.Last, isDup, rep.Error
		}
	}
	first, last, data := p.log.AppendAsLeader(p.leaderEpoch, entries)
	b.emit(kproc.DiskAppend{File: logFile(p.tp), Data: data})
	rm.maybeFlush(p, int64(len(entries)))
	return first, last, false, proto.None
}

// maybeFlush syncs the log every log.flush.interval.messages records
// (Kafka's default never: it relies on replication, not fsync).
func (rm *replicaManager) maybeFlush(p *partition, n int64) {
	every := rm.b.cfg.Kafka.LogFlushIntervalMessages
	if every <= 0 {
		return
	}
	p.unflushed += n
	if p.unflushed >= every {
		p.unflushed = 0
		rm.b.emit(kproc.DiskSync{ID: rm.b.newCall(call{kind: callSync}), File: logFile(p.tp)})
	}
}

// settleProduce answers d if every partition it waits for is settled.
func (rm *replicaManager) settleProduce(d *delayedProduce) {
	if d.done {
		return
	}
	for i, need := range d.need {
		if need < 0 {
			continue
		}
		p := rm.parts[d.results[i].TopicPartition]
		if p == nil || !p.isLeader(rm.b.cfg.ID) {
			d.results[i].Error = proto.NotLeaderForPartition
		} else if p.hw < need {
			continue
		} else if len(p.isr) < rm.b.cfg.Kafka.MinInsyncReplicas {
			d.results[i].Error = proto.NotEnoughReplicasAfterAppend
		}
		d.need[i] = -1
		d.waiting--
	}
	if d.waiting == 0 {
		rm.finishProduce(d)
	}
}

func (rm *replicaManager) finishProduce(d *delayedProduce) {
	d.done = true
	rm.b.reply(d.token, &proto.ProduceResponse{Partitions: d.results}, 0)
}

func (rm *replicaManager) failProduces(p *partition, code proto.ErrorCode) {
	ds := p.produces
	p.produces = nil
	for _, d := range ds {
		for i := range d.results {
			if d.results[i].TopicPartition == p.tp && d.need[i] >= 0 {
				d.results[i].Error = code
				d.need[i] = -1
				d.waiting--
			}
		}
		if d.waiting == 0 && !d.done {
			rm.finishProduce(d)
		}
	}
}

// maybeAdvanceHW moves the leader's high watermark and answers the
// produces it settles.
func (rm *replicaManager) maybeAdvanceHW(p *partition) {
	b := rm.b
	hw, advanced := isr.HighWatermark(p.hw, p.log.LogEndOffset(), p.isr, p.followers, b.now, b.cfg.Kafka.ReplicaLagTimeMax)
	if !advanced {
		return
	}
	p.hw = hw
	rm.hwDirty = true
	ds := p.produces
	p.produces = p.produces[:0]
	for _, d := range ds {
		rm.settleProduce(d)
		if !d.done && rm.waitsOn(d, p.tp) {
			p.produces = append(p.produces, d)
		}
	}
	rm.wakeFetches()
}

func (rm *replicaManager) waitsOn(d *delayedProduce, tp proto.TopicPartition) bool {
	for i := range d.results {
		if d.results[i].TopicPartition == tp && d.need[i] >= 0 {
			return true
		}
	}
	return false
}

// fetch is ReplicaManager.fetchMessages: a follower's fetch also tells the
// leader how far the follower has got (ISR, high watermark); an empty
// answer waits up to MaxWaitMs for records.
func (rm *replicaManager) fetch(token kproc.Token, r *proto.FetchRequest) {
	b := rm.b
	parts := make([]*partition, len(r.Partitions))
	for i, fp := range r.Partitions {
		parts[i] = rm.parts[fp.TopicPartition]
	}
	if r.ReplicaID >= 0 {
		for i, fp := range r.Partitions {
			p, code := rm.leaderAt(parts[i], fp.CurrentLeaderEpoch)
			if code != proto.None {
				continue
			}
			// ReplicaManager.updateFollowerFetchState skips a partition whose
			// read fails: a fetch offset outside the leader's log (a follower
			// ahead of it, with a divergent tail) must not count as caught up.
			if fp.FetchOffset < p.log.LogStartOffset() || fp.FetchOffset > p.log.LogEndOffset() {
				continue
			}
			rm.followerFetched(p, r.ReplicaID, fp.FetchOffset)
		}
	}
	resp, n := rm.read(r, parts)
	if n == 0 && r.MaxWaitMs > 0 && !rm.anyError(resp) {
		d := &delayedFetch{token: token, req: r, parts: parts}
		rm.parked = append(rm.parked, d)
		rm.addDeadline(deadline{at: b.now.Add(sim.Duration(r.MaxWaitMs) * sim.Millisecond), fetch: d})
		return
	}
	b.reply(token, resp, b.cfg.Costs.BrokerRequest+sim.Duration(n)*b.cfg.Costs.BrokerRecord)
}

func (rm *replicaManager) anyError(r *proto.FetchResponse) bool {
	for _, p := range r.Partitions {
		if p.Error != proto.None {
			return true
		}
	}
	return false
}

// read answers r from the partitions it names, parts (resolved earlier:
// each is checked again with resolve).
func (rm *replicaManager) read(r *proto.FetchRequest, parts []*partition) (*proto.FetchResponse, int) {
	resp := &proto.FetchResponse{Partitions: make([]proto.FetchPartitionResponse, len(r.Partitions))}
	n := 0
	for i, fp := range r.Partitions {
		out := &resp.Partitions[i]
		out.TopicPartition = fp.TopicPartition
		parts[i] = rm.resolve(parts[i], fp.TopicPartition)
		p, code := rm.leaderAt(parts[i], fp.CurrentLeaderEpoch)
		if code != proto.None {
			out.Error = code
			continue
		}
		out.HighWatermark, out.LogStartOffset, out.LogEndOffset = p.hw, p.log.LogStartOffset(), p.log.LogEndOffset()
		limit := p.log.LogEndOffset()
		if r.ReplicaID < 0 {
			limit = p.hw // consumers read committed records only
		}
		if fp.FetchOffset > p.log.LogEndOffset() || fp.FetchOffset < p.log.LogStartOffset() {
			out.Error = proto.OffsetOutOfRange
			continue
		}
		want := min(limit-fp.FetchOffset, int64(maxFetchRecords))
		if fp.MaxRecords > 0 {
			want = min(want, int64(fp.MaxRecords))
		}
		if want <= 0 {
			continue
		}
		recs, err := p.log.Read(fp.FetchOffset, int(want))
		if err != nil {
			out.Error = proto.OffsetOutOfRange
			continue
		}
		out.Records = recs
		n += len(recs)
	}
	return resp, n
}

// followerFetched updates the leader's view of a follower, expands the
// ISR when it has caught up, and moves the high watermark.
func (rm *replicaManager) followerFetched(p *partition, id int32, fetchOffset int64) {
	b := rm.b
	i := slices.IndexFunc(p.followers, func(f isr.Follower) bool { return f.ID == id })
	if i < 0 {
		return // not a replica of ours (a reassignment the leader has not heard of)
	}
	p.followers[i] = p.followers[i].Fetched(fetchOffset, b.now, p.log.LogEndOffset())
	if !slices.Contains(p.isr, id) && !p.isrWrite && !b.cfg.BugNoIsrExpand &&
		p.followers[i].CanJoin(p.hw, p.epochStartOffset, b.cfg.Kafka.Features.IsrExpandNeedsEpochStart) {
		next := append(slices.Clone(p.isr), id)
		rm.writeIsr(p, next, false)
	}
	rm.maybeAdvanceHW(p)
}

// wakeFetches answers the parked fetches that now have records.
func (rm *replicaManager) wakeFetches() {
	if len(rm.parked) == 0 {
		return
	}
	kept := rm.parked[:0]
	for _, d := range rm.parked {
		if d.done {
			continue
		}
		resp, n := rm.read(d.req, d.parts)
		if n == 0 && !rm.anyError(resp) {
			kept = append(kept, d)
			continue
		}
		d.done = true
		rm.b.reply(d.token, resp, rm.b.cfg.Costs.BrokerRequest+sim.Duration(n)*rm.b.cfg.Costs.BrokerRecord)
	}
	clear(rm.parked[len(kept):])
	rm.parked = kept
}

func (rm *replicaManager) addDeadline(d deadline) {
	i, _ := slices.BinarySearchFunc(rm.purgatory, d.at, func(e deadline, at sim.Time) int {
		if e.at <= at {
			return -1 // equal deadlines keep their order of arrival
		}
		return 1
	})
	rm.purgatory = slices.Insert(rm.purgatory, i, d)
	if i == 0 {
		rm.b.emit(kproc.SetTimer{Name: timerPurgatory, After: d.at.Sub(rm.b.now)})
	}
}

func (rm *replicaManager) expire() {
	b := rm.b
	i := 0
	for ; i < len(rm.purgatory) && rm.purgatory[i].at <= b.now; i++ {
		d := rm.purgatory[i]
		switch {
		case d.fetch != nil && !d.fetch.done:
			d.fetch.done = true
			resp, n := rm.read(d.fetch.req, d.fetch.parts)
			b.reply(d.fetch.token, resp, b.cfg.Costs.BrokerRequest+sim.Duration(n)*b.cfg.Costs.BrokerRecord)
		case d.produce != nil && !d.produce.done:
			for j := range d.produce.results {
				if d.produce.need[j] >= 0 {
					d.produce.results[j].Error = proto.RequestTimedOut
					d.produce.need[j] = -1
				}
			}
			d.produce.waiting = 0
			rm.finishProduce(d.produce)
		}
	}
	clear(rm.purgatory[:i])
	rm.purgatory = rm.purgatory[i:]
	if len(rm.purgatory) > 0 {
		b.emit(kproc.SetTimer{Name: timerPurgatory, After: rm.purgatory[0].at.Sub(b.now)})
	}
	kept := rm.parked[:0]
	for _, d := range rm.parked {
		if !d.done {
			kept = append(kept, d)
		}
	}
	clear(rm.parked[len(kept):])
	rm.parked = kept
}

// offsetsForLeaderEpoch answers where each epoch ends in the leader's log.
func (rm *replicaManager) offsetsForLeaderEpoch(token kproc.Token, r *proto.OffsetsForLeaderEpochRequest) {
	resp := &proto.OffsetsForLeaderEpochResponse{Partitions: make([]proto.EpochEndOffset, len(r.Partitions))}
	for i, q := range r.Partitions {
		out := &resp.Partitions[i]
		out.TopicPartition = q.TopicPartition
		p, code := rm.leaderOf(q.TopicPartition, q.CurrentLeaderEpoch)
		if code != proto.None {
			out.Error, out.LeaderEpoch, out.EndOffset = code, klog.UndefinedEpoch, klog.UndefinedEpochOffset
			continue
		}
		out.LeaderEpoch, out.EndOffset = p.log.EndOffsetForEpoch(q.LeaderEpoch)
		if rm.b.cfg.Kafka.Features.Truncation == config.TruncateEpoch {
			out.LeaderEpoch = klog.UndefinedEpoch // version 0 (KIP-101): the answer names no epoch
		}
	}
	rm.b.reply(token, resp, rm.b.cfg.Costs.BrokerRequest)
}

// maybeShrinkIsr drops the followers that have not caught up within
// replica.lag.time.max.ms from the ISR of each partition led.
func (rm *replicaManager) maybeShrinkIsr() {
	b := rm.b
	for _, p := range rm.sortedParts() {
		if !p.isLeader(b.cfg.ID) || p.isrWrite {
			continue
		}
		next, out, err := isr.Shrink(p.isr, b.cfg.ID, p.followers, p.log.LogEndOffset(), b.now, b.cfg.Kafka.ReplicaLagTimeMax)
		if err != nil {
			// A reassignment's LeaderAndIsr (KIP-455 phase B3) carries the
			// target replicas while the ISR still holds the removed ones
			// until B4 shrinks it: Kafka 2.6's isFollowerOutOfSync throws on
			// them (getReplicaOrException) and the partition is skipped.
			continue
		}
		if len(out) > 0 {
			rm.writeIsr(p, next, true)
		}
	}
}

// writeIsr writes the partition state with a new ISR, conditionally on the
// zkVersion the leader holds (Partition.shrinkIsr/expandIsr through
// ReplicationUtils.updateLeaderAndIsr, a conditional setData).
func (rm *replicaManager) writeIsr(p *partition, next []int32, shrink bool) {
	b := rm.b
	st := kafkazk.PartitionState{Leader: b.cfg.ID, LeaderEpoch: p.leaderEpoch, ISR: next, ControllerEpoch: p.controllerEpoch}
	p.isrWrite = true
	id := b.newCall(call{kind: callIsrWrite, tp: p.tp, arg: int64(p.leaderEpoch)})
	rm.isrWrites[id] = pendingIsr{isr: next, shrink: shrink, data: st.Encode()}
	b.emit(kproc.ZKBatch{ID: id, Reqs: []fakezk.Request{&fakezk.SetDataRequest{Path: kafkazk.PartitionStatePath(p.tp.Topic, p.tp.Partition), Data: rm.isrWrites[id].data, Version: p.zkVersion}}})
}

// truncateFully empties p's log to start at newStart, the leader's log
// start (Log.truncateFullyAndStartAt).
func (rm *replicaManager) truncateFully(p *partition, newStart int64) {
	b := rm.b
	from := p.log.LogEndOffset()
	b.emit(kproc.DiskWrite{File: logFile(p.tp), Data: p.log.TruncateFully(newStart)})
	p.hw = p.log.LogStartOffset()
	rm.writeEpochs(p)
	b.emit(Truncated{Broker: b.cfg.ID, TP: p.tp, From: from, To: newStart, LeaderEpoch: p.leaderEpoch})
}

// removeFiles deletes a replica's files for good. Kafka renames the
// directory to <dir>-delete and deletes it in the background, and a log
// directory renamed so is deleted at the next start-up; simplified: the
// removal is synced at once, so a crash cannot bring the replica back.
func (rm *replicaManager) removeFiles(tp proto.TopicPartition) {
	b := rm.b
	b.emit(kproc.DiskRemove{File: logFile(tp)}, kproc.DiskRemove{File: epochFile(tp)},
		kproc.DiskSync{ID: b.newCall(call{kind: callSync}), File: logFile(tp)},
		kproc.DiskSync{ID: b.newCall(call{kind: callSync}), File: epochFile(tp)})
}

// leaderHost finds a leader's host: in the metadata cache's live brokers,
// as Kafka 2.6's makeFollowers does, or else among the request's live
// leaders.
func (rm *replicaManager) leaderHost(id int32, leaders map[int32]proto.Broker) (string, bool) {
	for _, br := range rm.b.meta.brokers {
		if br.ID == id {
			return br.Host, true
		}
	}
	l, ok := leaders[id]
	return l.Host, ok
}
