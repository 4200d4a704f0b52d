// Package memlimit keeps the process's soft memory limit fitted to its live
// heap, for dog-enforcer: a daemon whose heap is mostly one long-lived
// table description, rebuilt now and then by a reload or an import.
package memlimit

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// The enforcer's heap is mostly the applied table's description, which
// stays put between reloads. What churns is every checkpoint's counter dump
// and snapshot (~6 MB at 10,000 items); left alone, the runtime keeps the
// pages they freed mapped, and the resident size settles ~10 MB above what
// the heap needs (bench/RESULTS.md). A soft memory limit of 5/3 of the
// live heap makes the scavenger hand them back: GOGC=50 lets the heap grow
// to 3/2 of the live heap, and the runtime's own structures take about a
// tenth more, so the limit bounds what is mapped without pacing the
// collector much harder. Reloads and imports parse a
// whole new config, whose transient heap may pass that limit, and a bigger
// config needs a bigger one: they lift the limit while they work, and set
// it again from a fresh collection when done, so the collector never works
// against a limit the table has outgrown.

// minMemoryLimit keeps a tiny table's limit clear of the runtime's own
// fixed costs.
const minMemoryLimit = 16 << 20

// Tuner fits the limit; its zero value is ready. The enforcer calls Fit
// after a checkpoint and Lift around a reload or an import
// (enforcer.Options.Memory).
type Tuner struct {
	lifted atomic.Int32 // reloads and imports at work
}

// Fit sets the limit from the live heap of the last collection (after one
// of its own when gc), unless it is lifted.
func (t *Tuner) Fit(gc bool) {
	if t.lifted.Load() > 0 {
		return
	}
	if gc {
		runtime.GC()
	}
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	live := s[0].Value.Uint64()
	if live > math.MaxInt64/2 {
		return
	}
	debug.SetMemoryLimit(max(int64(live)/3*5, minMemoryLimit))
}

// Lift removes the limit until the returned func runs, which fits it
// again.
func (t *Tuner) Lift() (refit func()) {
	t.lifted.Add(1)
	debug.SetMemoryLimit(math.MaxInt64)
	return func() {
		t.lifted.Add(-1)
		t.Fit(true)
	}
}
