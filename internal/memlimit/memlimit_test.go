package memlimit

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func liveHeap() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// TestMemoryLimitFollowsTheHeap: the limit is 5/3 of the live heap (at
// least minMemoryLimit), lifted while a reload works, fitted again after
// it.
func TestMemoryLimitFollowsTheHeap(t *testing.T) {
	orig := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(orig) })

	e := &Tuner{}
	ballast := make([]byte, 40<<20) // live heap well above minMemoryLimit/2
	e.Fit(true)
	got, live := debug.SetMemoryLimit(-1), liveHeap()
	runtime.KeepAlive(ballast)
	if got != live/3*5 || got < 60<<20 {
		t.Fatalf("limit %d, want 5/3 of the live heap %d", got, live)
	}

	refit := e.Lift()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("lifted: limit %d", got)
	}
	e.Fit(false) // a checkpoint during the reload
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("a checkpoint during a reload set the limit to %d", got)
	}
	refit()
	if got := debug.SetMemoryLimit(-1); got != max(liveHeap()/3*5, minMemoryLimit) || got >= 60<<20 {
		t.Fatalf("after the reload: limit %d, live heap %d", got, liveHeap())
	}
}
