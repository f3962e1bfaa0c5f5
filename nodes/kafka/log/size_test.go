package log

import "runtime"

// testingAllocsPerNew returns the bytes f allocates on the heap.
func testingAllocsPerNew(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
