package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"port-traffic-dog/bench/stats"
	"port-traffic-dog/internal/atomicfile"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testutil"
)

// BenchmarkCheckpoint: one checkpoint of an enforcer with n items, as the
// control loop takes it every checkpoint_interval while the host has
// traffic (Enforcer.Checkpoint: dump the kernel's counters and quotas,
// encode the state, write it atomically with fsync; the meta file only when
// it changed), and its parts measured separately in the same repetition:
// the kernel dump, encoding the state, writing it (temp file, fsync, link
// the previous one, rename, fsync the directory).
func BenchmarkCheckpoint(b *testing.B) {
	testutil.RequireRoot(b)
	n := applyItems()
	b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
		e, ns, _ := startedEnforcer(b, "cp", n)
		scratch := b.TempDir()
		var total, dump, encode, write []float64
		var size int
		for i := 0; i < 2*reps(); i++ {
			t0 := time.Now()
			st, err := e.Checkpoint()
			if err != nil {
				b.Fatal(err)
			}
			total = append(total, ms(time.Since(t0)))

			t0 = time.Now()
			if _, err := nftread.Read(ns.Fd(), layout.Table); err != nil {
				b.Fatal(err)
			}
			dump = append(dump, ms(time.Since(t0)))

			t0 = time.Now()
			data, err := state.Encode(st)
			if err != nil {
				b.Fatal(err)
			}
			encode = append(encode, ms(time.Since(t0)))
			size = len(data)

			t0 = time.Now()
			if err := atomicfile.WriteFile(filepath.Join(scratch, state.FileName), data, state.FileMode); err != nil {
				b.Fatal(err)
			}
			write = append(write, ms(time.Since(t0)))
		}
		meta, err := os.Stat(filepath.Join(e.StateDir(), state.MetaName))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(stats.Median(total), "ms-total")
		b.ReportMetric(stats.Median(dump), "ms-dump")
		b.ReportMetric(stats.Median(encode), "ms-encode")
		b.ReportMetric(stats.Median(write), "ms-write+fsync")
		b.ReportMetric(float64(size)/1e6, "MB-state.json")
		b.ReportMetric(float64(meta.Size())/1e6, "MB-meta.json")
	})
}
