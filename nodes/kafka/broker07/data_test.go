package broker07

import (
	"testing"

	"github.com/kzsim/kzsim/nodes/kafka/proto"
	"github.com/kzsim/kzsim/rpc"
	"github.com/kzsim/kzsim/sim"
)

// dataWorld is a 0.7 broker's data plane (broker 1, 3 partitions of t) and
// a client process to call it.
type dataWorld struct {
	t       *testing.T
	w       *sim.World
	b, cl   sim.ProcID
	d       *Data
	newLogs []string
	conn    *rpc.Client
}

func newDataWorld(t *testing.T, bugs DataBugs) *dataWorld {
	dw := &dataWorld{t: t, w: sim.New(sim.Options{Seed: 1})}
	dw.b = dw.w.AddProcess("broker-1", sim.ProcessHooks{OnRestart: func() { dw.d.Start() }})
	dw.cl = dw.w.AddProcess("client", sim.ProcessHooks{})
	cfg := Config{ID: 1, Host: "broker-1", TopicPartitions: map[string]int{"t": 3}}
	dw.d = NewData(dw.w, dw.b, cfg, dw.w.Rand("partitions"), func(topic string) { dw.newLogs = append(dw.newLogs, topic) }, bugs)
	dw.w.At(dw.b, 0, "start", dw.d.Start)
	dw.w.RunFor(sim.Millisecond)
	return dw
}

// call sends req from the client and runs until it is answered.
func (dw *dataWorld) call(req rpc.Payload) rpc.Payload {
	dw.t.Helper()
	var got rpc.Payload
	var gerr error
	done := false
	dw.w.At(dw.cl, dw.w.Now(), "call", func() {
		if dw.conn == nil || dw.conn.Err() != nil {
			dw.conn = rpc.Dial(dw.w, dw.cl, dw.b, rpc.ClientConfig{})
		}
		dw.conn.Call(req, func(resp rpc.Payload, err error) { got, gerr, done = resp, err, true })
	})
	dw.w.RunFor(2 * sim.Second)
	if !done || gerr != nil {
		dw.t.Fatalf("%s: done=%v err=%v", req.Kind(), done, gerr)
	}
	return got
}

func produce07(part int32, values ...uint64) *proto.ProduceRequest {
	pp := proto.ProducePartition{TopicPartition: proto.TopicPartition{Topic: "t", Partition: part}}
	for _, v := range values {
		pp.Entries = append(pp.Entries, proto.Entry{Value: v})
	}
	return &proto.ProduceRequest{Partitions: []proto.ProducePartition{pp}}
}

func fetch07(part int32, from int64) *proto.FetchRequest {
	return &proto.FetchRequest{ReplicaID: proto.ConsumerReplicaID, Partitions: []proto.FetchPartition{
		{TopicPartition: proto.TopicPartition{Topic: "t", Partition: part}, FetchOffset: from, MaxRecords: 100}}}
}

// TestDataProduceFetch: a produce makes the topic's first log (and tells the
// machine), is answered with nothing, and is readable once flushed; a
// partition out of range is dropped; partition −1 lands on one the broker
// picks; the offsets request gives the earliest and latest offsets.
func TestDataProduceFetch(t *testing.T) {
	dw := newDataWorld(t, DataBugs{})
	if resp := dw.call(produce07(2, 10, 11, 12)).(*proto.ProduceResponse); len(resp.Partitions) != 0 {
		t.Fatalf("a 0.7 produce was answered with %v", resp)
	}
	if len(dw.newLogs) != 1 || dw.newLogs[0] != "t" {
		t.Fatalf("new logs %v, want [t]", dw.newLogs)
	}
	fr := dw.call(fetch07(2, 1)).(*proto.FetchResponse).Partitions[0]
	if fr.Error != proto.None || fr.HighWatermark != 3 || len(fr.Records) != 2 || fr.Records[0].Value != 11 || fr.Records[0].Offset != 1 {
		t.Fatalf("fetch from 1: %+v", fr)
	}
	if fr := dw.call(fetch07(2, 4)).(*proto.FetchResponse).Partitions[0]; fr.Error != proto.OffsetOutOfRange {
		t.Fatalf("fetch past the end: %+v", fr)
	}
	dw.call(produce07(7, 99)) // InvalidPartitionException: dropped
	if _, _, ok := dw.d.LogEnd(proto.TopicPartition{Topic: "t", Partition: 7}); ok {
		t.Fatal("a produce to partition 7 of 3 made a log")
	}
	dw.call(produce07(-1, 20))
	total := int64(0)
	for p := range int32(3) {
		end, _, _ := dw.d.LogEnd(proto.TopicPartition{Topic: "t", Partition: p})
		total += end
	}
	if total != 4 {
		t.Fatalf("%d messages in the logs, want 4 (partition -1 placed on one)", total)
	}
	if or := dw.call(&OffsetsRequest{TopicPartition: proto.TopicPartition{Topic: "t", Partition: 2}, Time: LatestTime}).(*OffsetsResponse); or.Error != proto.None || or.Offset != 3 {
		t.Fatalf("latest offset %+v", or)
	}
	if or := dw.call(&OffsetsRequest{TopicPartition: proto.TopicPartition{Topic: "t", Partition: 2}, Time: EarliestTime}).(*OffsetsResponse); or.Offset != 0 {
		t.Fatalf("earliest offset %+v", or)
	}
}

// TestDataFlushedOnly: what is not flushed yet is not served, and a crash
// keeps what was flushed: the recovered log serves it again.
func TestDataFlushedOnly(t *testing.T) {
	dw := newDataWorld(t, DataBugs{})
	dw.call(produce07(0, 1, 2))
	// Append without the flush completing: the disk is slow.
	dw.w.Disk(dw.b).SetSlow(10 * sim.Second)
	var fr proto.FetchPartitionResponse
	dw.w.At(dw.cl, dw.w.Now(), "produce-slow", func() {
		dw.conn.Call(produce07(0, 3), func(rpc.Payload, error) {})
	})
	dw.w.RunFor(100 * sim.Millisecond)
	if end, flushed, _ := dw.d.LogEnd(proto.TopicPartition{Topic: "t", Partition: 0}); end != 3 || flushed != 2 {
		t.Fatalf("end %d flushed %d, want 3 and 2", end, flushed)
	}
	fr = dw.call(fetch07(0, 0)).(*proto.FetchResponse).Partitions[0]
	if fr.HighWatermark != 2 || len(fr.Records) != 2 {
		t.Fatalf("fetch served %+v, want the 2 flushed records", fr)
	}
	dw.w.Crash(dw.b)
	dw.w.Disk(dw.b).ClearSlow()
	dw.w.Restart(dw.b)
	dw.w.RunFor(sim.Millisecond)
	dw.conn = nil // the old connection died with the broker
	fr = dw.call(fetch07(0, 0)).(*proto.FetchResponse).Partitions[0]
	if fr.HighWatermark < 2 || len(fr.Records) < 2 || fr.Records[1].Value != 2 {
		t.Fatalf("after the crash: %+v", fr)
	}
}
