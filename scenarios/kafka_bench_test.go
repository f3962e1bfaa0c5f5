package scenarios

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/kzsim/kzsim/invariants"
	"github.com/kzsim/kzsim/sim"
)

// The benchmarks of the closing note's figures. Run them with
//
//	go test ./scenarios -run '^$' -bench 'ControllerFailover|Scenario' -benchtime 1x -count 5 | tee new.txt
//	benchstat old.txt new.txt
//
// KZSIM_BENCH_CPUPROFILE=<path> writes a CPU profile of the failover phase
// alone to <path>.<partitions>; KZSIM_BENCH_HEAPPROFILE=<path> a heap
// profile of the settled cluster (after a GC) to <path>.<partitions>.
//
// BenchmarkControllerFailover times only the failover: building the
// cluster, creating the topics and letting every partition get its leader
// runs with the timer stopped, and is reported apart as settle_wall_s.
// ns/op, B/op and allocs/op are those of the failover phase alone.

// benchPartitionsPerTopic is the size of the benchmark's topics.
const benchPartitionsPerTopic = 100

// benchSample is how many events pass between samples of the heap
// (runtime.ReadMemStats stops the world, so not after every event).
const benchSample = 20_000

func BenchmarkControllerFailover(b *testing.B) {
	for _, partitions := range []int{10_000, 50_000} {
		b.Run(fmt.Sprintf("partitions=%d", partitions), func(b *testing.B) {
			b.ReportAllocs()
			var fig failoverFigures
			for range b.N {
				fig = benchFailover(b, 5, partitions)
			}
			b.ReportMetric(float64(fig.failover), "sim_failover_ns")
			b.ReportMetric(float64(fig.election), "sim_election_ns")
			b.ReportMetric(float64(fig.events), "events/op")
			b.ReportMetric(fig.settleWall.Seconds(), "settle_wall_s")
			b.ReportMetric(float64(fig.settleEvents), "settle_events")
			b.ReportMetric(float64(fig.peakHeap)/(1<<20), "peak_heap_MiB")
			b.ReportMetric(float64(fig.settledHeap)/float64(partitions), "settled_heap_B/partition")
		})
	}
}

// failoverFigures are what one benchmarked failover measured.
type failoverFigures struct {
	failover     sim.Duration  // crash to the new controller's FailoverDone
	election     sim.Duration  // crash to the new controller's BecameController
	events       uint64        // events of the failover phase
	settleWall   time.Duration // wall time to build and settle the cluster
	settleEvents uint64
	peakHeap     uint64 // the largest HeapInuse sampled, both phases
	settledHeap  uint64 // HeapAlloc after a GC once settled
}

// benchFailover builds a cluster of brokers with partitions (replication
// factor 3, no drawn faults), waits until every partition's leader has
// applied its LeaderAndIsr, crashes the controller, and runs until the new
// controller reports FailoverDone.
func benchFailover(b *testing.B, brokers, partitions int) failoverFigures {
	b.StopTimer()
	var topics []topicSpec
	for i := 0; i*benchPartitionsPerTopic < partitions; i++ {
		topics = append(topics, topicSpec{name: fmt.Sprintf("t%04d", i), partitions: min(benchPartitionsPerTopic, partitions-i*benchPartitionsPerTopic), rf: 3})
	}
	var fig failoverFigures
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fig.peakHeap = max(fig.peakHeap, ms.HeapInuse)
	}
	start := time.Now()
	plan := kafkaPlan{name: "bench-failover", brokers: brokers, topics: topics, safety: 10 * sim.Minute, grace: sim.Minute}
	plan.drive = func(c *kcluster) sim.Status {
		w := c.w
		// Settle: every partition has a leader that applied it.
		for len(c.leaderOf) < partitions {
			if !w.Step() {
				for _, l := range c.result.Timeline {
					b.Log(l)
				}
				b.Fatalf("the cluster did not settle: %d of %d partitions led at %v", len(c.leaderOf), partitions, w.Now())
			}
			if w.Steps()%benchSample == 0 {
				sample()
			}
		}
		if st := w.RunFor(2 * sim.Second); st != sim.StatusDeadline {
			b.Fatalf("settling: %v", st)
		}
		fig.settleWall = time.Since(start)
		fig.settleEvents = w.Steps()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fig.settledHeap = ms.HeapAlloc
		fig.peakHeap = max(fig.peakHeap, ms.HeapInuse)
		if path := os.Getenv("KZSIM_BENCH_HEAPPROFILE"); path != "" {
			runtime.GC() // a heap profile is as of the GC before the last
			writeHeapProfile(b, fmt.Sprintf("%s.%d", path, partitions))
		}

		// Fail over.
		if path := os.Getenv("KZSIM_BENCH_CPUPROFILE"); path != "" {
			stop := startCPUProfile(b, fmt.Sprintf("%s.%d", path, partitions))
			defer stop()
		}
		b.StartTimer()
		crashed := w.Now()
		elections, failovers, steps := c.elections, len(c.failovers), w.Steps()
		w.At(sim.Kernel, crashed, faultCrashController, func() {
			c.fire(kafkaEvent{At: crashed, Kind: faultCrashController, Hold: 5 * sim.Minute})
		})
		for len(c.failovers) == failovers {
			if !w.Step() {
				b.Fatalf("no FailoverDone by %v", w.Now())
			}
			if fig.election == 0 && c.elections > elections {
				fig.election = w.Now().Sub(crashed)
			}
			if w.Steps()%benchSample == 0 {
				sample()
			}
		}
		b.StopTimer()
		fig.failover = c.failovers[len(c.failovers)-1]
		fig.events = w.Steps() - steps
		sample()
		return sim.StatusStopped
	}
	res := runKafka(Config{Seed: 1}, plan)
	for _, v := range res.Violations {
		// The crashed broker is still down at the stop: the end's liveness
		// checks do not apply, but every safety check must hold.
		if v.Class == invariants.Safety || v.Class == invariants.Panic {
			b.Fatalf("violation: %v", v)
		}
	}
	return fig
}

// startCPUProfile profiles the failover phase alone (go test -cpuprofile
// covers the settling too); run without -cpuprofile.
func startCPUProfile(b *testing.B, path string) (stop func()) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("cpu profile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatalf("cpu profile: %v", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatalf("heap profile: %v", err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatalf("heap profile: %v", err)
	}
}

// BenchmarkScenario runs the default scenario for seed 1 and reports its
// virtual time per wall time.
func BenchmarkScenario(b *testing.B) {
	for _, name := range []string{"controller-failover"} {
		b.Run(name, func(b *testing.B) {
			sc, err := Lookup(name)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var res *invariants.Result
			start := time.Now()
			for range b.N {
				res = sc.Run(Config{Seed: 1})
			}
			wall := time.Since(start)
			if !res.OK() {
				b.Fatalf("seed 1: %v", res.Violations)
			}
			b.ReportMetric(float64(res.SimTimeNs)*float64(b.N)/float64(wall.Nanoseconds()), "virtual/wall")
			b.ReportMetric(float64(res.Events), "events/op")
		})
	}
}
