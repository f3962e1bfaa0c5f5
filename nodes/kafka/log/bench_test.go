package log

import (
	"runtime"
	"testing"
)

// BenchmarkAppendAsLeader1 appends one record at a time, as a produce of
// one record does. The log is emptied every 2^20 records to stay below
// MaxRecords.
func BenchmarkAppendAsLeader1(b *testing.B) {
	l := New()
	es := entries(1)
	b.ReportAllocs()
	for b.Loop() {
		if l.Len() == 1<<20 {
			l.TruncateFully(l.LogEndOffset())
		}
		l.AppendAsLeader(0, es)
	}
}

// BenchmarkAppendAsFollower100 appends a fetch response of 100 records.
func BenchmarkAppendAsFollower100(b *testing.B) {
	src := New()
	for range 10 {
		src.AppendAsLeader(0, make([]Entry, 100))
	}
	l := New()
	b.ReportAllocs()
	for b.Loop() {
		if l.LogEndOffset() == src.LogEndOffset() {
			l.TruncateTo(0)
		}
		got, _ := src.Read(l.LogEndOffset(), 100)
		if _, _, err := l.AppendAsFollower(got); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead100 reads 100 records from a log of 10,000.
func BenchmarkRead100(b *testing.B) {
	l := New()
	for range 10 {
		l.AppendAsLeader(0, make([]Entry, MaxReadRecords))
	}
	b.ReportAllocs()
	off := int64(0)
	for b.Loop() {
		got, err := l.Read(off, 100)
		if err != nil || len(got) != 100 {
			b.Fatal(len(got), err)
		}
		off = (off + 100) % 9900
	}
}

// BenchmarkRecover1000 rebuilds a log of 1,000 records from its file.
func BenchmarkRecover1000(b *testing.B) {
	l := New()
	l.AppendAsLeader(0, make([]Entry, MaxReadRecords))
	file := l.File()
	b.ReportAllocs()
	b.SetBytes(int64(len(file)))
	for b.Loop() {
		if _, _, err := Recover(file); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEmptyLog reports the heap bytes of an empty Log (bytes/log),
// the floor of 600,000 replica logs on one machine.
func BenchmarkEmptyLog(b *testing.B) {
	const n = 1000
	logs := make([]*Log, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for b.Loop() {
		for i := range logs {
			logs[i] = New()
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/n, "bytes/log")
}
