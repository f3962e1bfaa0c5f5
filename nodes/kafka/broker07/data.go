package broker07

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kzsim/kzsim/nodes/kafka/log"
	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// The request kind a 0.7 broker serves besides Produce and Fetch
// (proto.KindProduce, proto.KindFetch): OffsetRequest (getOffsetsBefore).
const KindOffsets = "Offsets"

// Offset request times (OffsetRequest.EarliestTime, LatestTime@0.7.2).
const (
	EarliestTime int64 = -2
	LatestTime   int64 = -1
)

// OffsetsRequest asks a 0.7 broker for the earliest or latest offset of a
// partition it holds (OffsetRequest@0.7.2, with Time EarliestTime or
// LatestTime and maxNumOffsets 1).
type OffsetsRequest struct {
	proto.TopicPartition
	Time int64
}

// OffsetsResponse answers an OffsetsRequest.
type OffsetsResponse struct {
	Error  proto.ErrorCode
	Offset int64
}

func (r *OffsetsRequest) Kind() string                 { return KindOffsets }
func (r *OffsetsResponse) Kind() string                { return KindOffsets }
func (r *OffsetsRequest) Clone() rpc.Payload           { return r }
func (r *OffsetsResponse) Clone() rpc.Payload          { return r }
func (r *OffsetsRequest) String() string               { return fmt.Sprintf("%s time=%d", r.TopicPartition, r.Time) }
func (r *OffsetsResponse) String() string              { return fmt.Sprintf("%s offset=%d", r.Error, r.Offset) }
func (d *Data) logFile(tp proto.TopicPartition) string { return LogFile(tp) }

// LogFile is the file of a partition's log: 0.7's log directory
// "<topic>-<partition>" and its first segment, named by its first offset.
func LogFile(tp proto.TopicPartition) string {
	return tp.Topic + "-" + strconv.Itoa(int(tp.Partition)) + "/00000000000000000000.kafka"
}

// parseLogFile reads a LogFile name back.
func parseLogFile(name string) (proto.TopicPartition, bool) {
	dir, file, ok := strings.Cut(name, "/")
	i := strings.LastIndexByte(dir, '-')
	if !ok || file != "00000000000000000000.kafka" || i <= 0 {
		return proto.TopicPartition{}, false
	}
	p, err := strconv.Atoi(dir[i+1:])
	if err != nil || p < 0 || ValidTopic(dir[:i]) != nil {
		return proto.TopicPartition{}, false
	}
	return proto.TopicPartition{Topic: dir[:i], Partition: int32(p)}, true
}

// LogDirs returns the topics with a log on the disk of process id, the
// broker's log directories (what New takes).
func LogDirs(w *sim.World, id sim.ProcID) []string {
	seen := map[string]bool{}
	for _, name := range w.Disk(id).Files() {
		if tp, ok := parseLogFile(name); ok {
			seen[tp.Topic] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// DataBugs plant faults in the data plane for tests of the checks.
type DataBugs struct {
	// ShortHighWatermark: a fetch answer carrying records states a high
	// watermark one below the end of what it carries.
	ShortHighWatermark bool
	// WrongValue: every message is appended with its value plus one.
	WrongValue bool
	// FlipValues: every other fetch answer carries its records' values
	// plus one.
	FlipValues bool
}

// plog is one partition's log and how far it is flushed.
type plog struct {
	l       *log.Log
	flushed int64 // the log's size when the last completed flush began: what a fetch may read
}

// Data is a 0.7 broker's data plane: it serves produce, fetch and offset
// requests over rpc from a log per partition on the process's disk, with no
// replication (Kafka 0.7.2 KafkaRequestHandlers.scala, LogManager.scala,
// Log.scala, FileMessageSet.scala). It runs beside the ZooKeeper side (the
// Broker machine) in the same process: Start it at every start of the
// process (node.Config.OnStart); a produce that makes a topic's first log
// here calls NewLog, which hands the topic to the machine (a Produce
// command) to register in the background.
//
// Offsets are logical (the record's index in the partition), where 0.7's
// are byte positions: consumers only ever use offsets the broker gave.
type Data struct {
	w      *sim.World
	id     sim.ProcID
	cfg    Config
	rand   *sim.Rand
	newLog func(topic string)
	bugs   DataBugs

	inc     uint32
	logs    map[proto.TopicPartition]*plog
	fetches int // answers with records, for DataBugs.FlipValues
}

// NewData returns the data plane of the broker cfg describes, run by
// process id. newLog is called (in the process's event) when a produce made
// a topic's first log on this broker; rand draws partition −1's partition.
func NewData(w *sim.World, id sim.ProcID, cfg Config, rand *sim.Rand, newLog func(topic string), bugs DataBugs) *Data {
	if err := cfg.Validate(); err != nil {
		panic(err.Error())
	}
	return &Data{w: w, id: id, cfg: cfg.withDefaults(), rand: rand, newLog: newLog, bugs: bugs}
}

// Start starts an incarnation's data plane: the logs are recovered from the
// disk (a torn tail cut off, everything kept counted as flushed, as 0.7's
// recovery makes it), and the rpc server listens. It must run as an event
// of the process.
func (d *Data) Start() {
	d.inc = d.w.Incarnation(d.id)
	d.logs = map[proto.TopicPartition]*plog{}
	disk := d.w.Disk(d.id)
	for _, name := range disk.Files() {
		tp, ok := parseLogFile(name)
		if !ok {
			continue
		}
		data, _ := disk.Read(name)
		l, info, err := log.Recover(data)
		if err != nil {
			// A header lost in a crash: the log starts again empty.
			l = log.New()
			disk.Write(name, l.File())
		} else if info.ValidSize < len(data) {
			disk.Truncate(name, info.ValidSize)
		}
		d.logs[tp] = &plog{l: l, flushed: l.LogEndOffset()}
	}
	srv := rpc.NewServer(d.w, d.id, rpc.ServerConfig{})
	srv.Handle(proto.KindProduce, d.produce)
	srv.Handle(proto.KindFetch, d.fetch)
	srv.Handle(KindOffsets, d.offsets)
	srv.Listen()
}

// LogEnd returns a partition's log end and flushed offset (ok false if
// the broker has no log of it, or is down).
func (d *Data) LogEnd(tp proto.TopicPartition) (end, flushed int64, ok bool) {
	if !d.w.IsUp(d.id) || d.w.Incarnation(d.id) != d.inc {
		return 0, 0, false
	}
	p := d.logs[tp]
	if p == nil {
		return 0, 0, false
	}
	return p.l.LogEndOffset(), p.flushed, true
}

// Read returns up to max records of tp from offset (nil if none or down).
func (d *Data) Read(tp proto.TopicPartition, from int64, max int) []log.Record {
	if _, _, ok := d.LogEnd(tp); !ok {
		return nil
	}
	recs, _ := d.logs[tp].l.Read(from, max)
	return recs
}

// produce is handleProducerRequest: each partition's messages are appended
// to its log (partition −1: a random one, ProducerRequest.RandomPartition,
// LogManager.chooseRandomPartition), made if it is the topic's first here.
// A partition out of range is InvalidPartitionException, logged, and its
// messages are dropped. Then the log is flushed.
// Simplified: a 0.7 produce request has no response; the rpc layer needs
// one, so the broker answers with an empty ProduceResponse, which tells the
// producer nothing. And 0.7 flushes every log.flush.interval messages (500)
// or log.default.flush.interval.ms; here every produce request is flushed,
// so fewer unflushed messages are lost at a crash. The append does not wait
// for the start-up latch (only the topic registration does).
func (d *Data) produce(r *rpc.Request) {
	req, ok := r.Payload().(*proto.ProduceRequest)
	if !ok {
		r.Fail(fmt.Errorf("broker07: produce request of type %T", r.Payload()))
		return
	}
	disk := d.w.Disk(d.id)
	for _, pp := range req.Partitions {
		if ValidTopic(pp.Topic) != nil || len(pp.Entries) == 0 || len(pp.Entries) > log.MaxReadRecords {
			continue
		}
		n := d.cfg.Partitions(pp.Topic)
		part := pp.Partition
		if part == -1 {
			part = int32(d.rand.Intn(n))
		}
		if part < 0 || int(part) >= n {
			continue // InvalidPartitionException: logged, the messages dropped
		}
		tp := proto.TopicPartition{Topic: pp.Topic, Partition: part}
		p := d.logs[tp]
		if p == nil {
			p = &plog{l: log.New()}
			d.logs[tp] = p
			disk.Write(d.logFile(tp), p.l.File())
			if d.newLog != nil {
				d.newLog(tp.Topic)
			}
		}
		entries := pp.Entries
		if d.bugs.WrongValue {
			entries = slices.Clone(entries)
			for i := range entries {
				entries[i].Value++
			}
		}
		_, last, data := p.l.AppendAsLeader(0, entries)
		disk.Append(d.logFile(tp), data)
		inc, end := d.inc, last+1
		disk.Sync(d.logFile(tp), func() {
			if d.w.Incarnation(d.id) == inc && d.logs[tp] == p && end > p.flushed {
				p.flushed = end // FileMessageSet.flush sets the high water mark
			}
		})
	}
	r.Respond(&proto.ProduceResponse{})
}

// fetch is handleFetchRequest: each partition is read from its offset up to
// what was flushed (FileMessageSet.read stops at its high water mark, which
// only a flush moves); an offset beyond it is OffsetOutOfRange. A partition
// of a topic the broker has no log of yet is answered empty.
// Simplified: 0.7's fetch request has no max wait; the 0.7 fetcher sleeps
// fetcher.backoff.ms after a fetch that returned nothing. Here the broker
// holds an empty answer for the request's MaxWaitMs, which the 0.7 consumer
// sets to its back-off.
func (d *Data) fetch(r *rpc.Request) {
	req, ok := r.Payload().(*proto.FetchRequest)
	if !ok {
		r.Fail(fmt.Errorf("broker07: fetch request of type %T", r.Payload()))
		return
	}
	resp := &proto.FetchResponse{}
	any := false
	for _, fp := range req.Partitions {
		pr := proto.FetchPartitionResponse{TopicPartition: fp.TopicPartition}
		p := d.logs[fp.TopicPartition]
		switch {
		case p == nil && fp.FetchOffset == 0:
		case p == nil:
			pr.Error = proto.OffsetOutOfRange
		default:
			hw := p.flushed
			pr.HighWatermark, pr.LogStartOffset, pr.LogEndOffset = hw, p.l.LogStartOffset(), p.l.LogEndOffset()
			if fp.FetchOffset < p.l.LogStartOffset() || fp.FetchOffset > hw {
				pr.Error = proto.OffsetOutOfRange
				break
			}
			n := int(min(int64(max(fp.MaxRecords, 1)), hw-fp.FetchOffset))
			if n > 0 {
				recs, _ := p.l.Read(fp.FetchOffset, n)
				if d.fetches++; d.bugs.FlipValues && d.fetches%2 == 0 {
					recs = slices.Clone(recs)
					for i := range recs {
						recs[i].Value++
					}
				}
				pr.Records = recs
				any = true
				if d.bugs.ShortHighWatermark {
					pr.HighWatermark = recs[len(recs)-1].Offset
				}
			}
		}
		if pr.Error != proto.None {
			any = true
		}
		resp.Partitions = append(resp.Partitions, pr)
	}
	if any || req.MaxWaitMs <= 0 {
		r.Respond(resp)
		return
	}
	inc := d.inc
	d.w.After(d.id, sim.Duration(req.MaxWaitMs)*sim.Millisecond, "fetch-empty-wait", func() {
		if d.w.Incarnation(d.id) == inc {
			r.Respond(resp)
		}
	})
}

// offsets is handleOffsetRequest (LogManager.getOffsets): the earliest
// offset, or the latest (the flushed end, what a fetch can reach); a
// partition without a log has both at 0.
func (d *Data) offsets(r *rpc.Request) {
	req, ok := r.Payload().(*OffsetsRequest)
	if !ok {
		r.Fail(fmt.Errorf("broker07: offsets request of type %T", r.Payload()))
		return
	}
	resp := &OffsetsResponse{}
	if p := d.logs[req.TopicPartition]; p != nil {
		switch req.Time {
		case EarliestTime:
			resp.Offset = p.l.LogStartOffset()
		case LatestTime:
			resp.Offset = p.flushed
		default:
			resp.Error = proto.UnknownTopicOrPartition // times other than these two are not modelled
		}
	} else if int(req.Partition) >= d.cfg.Partitions(req.Topic) || req.Partition < 0 {
		resp.Error = proto.UnknownTopicOrPartition
	}
	r.Respond(resp)
}
