package bench

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"port-traffic-dog/bench/stats"
	"port-traffic-dog/enforcer"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// applyItems is the table size of the apply, checkpoint and daemon
// benchmarks (DOG_BENCH_ITEMS, default 10,000).
func applyItems() int { return envInt("DOG_BENCH_ITEMS", 10000) }

// newEnforcer makes an in-process enforcer for ns with config body; it is
// not started.
func newEnforcer(b testing.TB, ns *testnet.NS, body string) (*enforcer.Enforcer, string) {
	b.Helper()
	dir := b.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		b.Fatal(err)
	}
	e, err := enforcer.New(enforcer.Options{ConfigPath: cfg, NetNS: ns.Fd(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		StateDir: filepath.Join(dir, "state"), AdminSocket: filepath.Join(dir, "admin.sock")})
	if err != nil {
		b.Fatal(err)
	}
	return e, cfg
}

// startedEnforcer makes an in-process enforcer of n items of the scale mix
// in a new namespace and starts it; it returns the config file's path too.
func startedEnforcer(b *testing.B, name string, n int) (*enforcer.Enforcer, *testnet.NS, string) {
	b.Helper()
	ns := testnet.NewNS(b, name)
	e, cfg := newEnforcer(b, ns, scaleConfig(n, -1, ""))
	if err := e.Start(); err != nil {
		b.Fatal(err)
	}
	return e, ns, cfg
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkColdStart: dog-enforcer with n items starting on a host without
// its table (a boot), from exec to ready: config parsed and validated, state
// loaded, the whole table applied in one transaction, the first state file
// written, sd_notify READY=1 sent (what systemd's Type=notify waits for).
// Every repetition is a fresh namespace and state dir. in-process splits
// the same work: enforcer.New (read, parse, validate the config) and Start.
func BenchmarkColdStart(b *testing.B) {
	testutil.RequireRoot(b)
	n := applyItems()
	body := scaleConfig(n, -1, "")
	b.Run(fmt.Sprintf("items=%d/binary", n), func(b *testing.B) {
		bin := binary(b, "dog-enforcer")
		var ready []float64
		for i := 0; i < reps(); i++ {
			ns := testnet.NewNS(b, "cold")
			dir := b.TempDir()
			cfg := filepath.Join(dir, "config.yaml")
			if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
				b.Fatal(err)
			}
			env, waitReady := notifySocket(b)
			start := time.Now()
			d := startDaemon(b, ns, []string{env}, bin, "--config.file", cfg, "--state-dir", filepath.Join(dir, "state"),
				"--admin-socket", filepath.Join(dir, "admin.sock"), "--log.level", "warn")
			ready = append(ready, ms(waitReady(time.Minute, d).Sub(start)))
			d.stop(b)
		}
		b.ReportMetric(stats.Median(ready), "ms-to-ready")
		b.ReportMetric(stats.Max(ready), "ms-to-ready-max")
	})
	b.Run(fmt.Sprintf("items=%d/in-process", n), func(b *testing.B) {
		var parse, start, total []float64
		for i := 0; i < reps(); i++ {
			ns := testnet.NewNS(b, "cold")
			t0 := time.Now()
			e, _ := newEnforcer(b, ns, body)
			t1 := time.Now()
			if err := e.Start(); err != nil {
				b.Fatal(err)
			}
			t2 := time.Now()
			parse, start, total = append(parse, ms(t1.Sub(t0))), append(start, ms(t2.Sub(t1))), append(total, ms(t2.Sub(t0)))
		}
		b.ReportMetric(stats.Median(parse), "ms-parse")
		b.ReportMetric(stats.Median(start), "ms-start")
		b.ReportMetric(stats.Median(total), "ms-total")
	})
}

// BenchmarkReload: Reload of an enforcer with n items whose config file
// changed one item's quota (alternately raised and put back), and Reload of
// an unchanged file, alternating. The config parse as a reload does it (an
// item cache warm with the previous file) and a full parse of the same file
// are timed on their own in the same repetition. A reload that changes
// nothing must send nothing to the kernel: the nftables generation must
// stay and no nftables, tc or link notification may appear (the benchmark
// fails otherwise); the one-item change must be exactly one transaction.
// The garbage the benchmark itself makes (config text, full parses) is
// collected before each timed reload, as a daemon's idle seconds would.
func BenchmarkReload(b *testing.B) {
	testutil.RequireRoot(b)
	n := applyItems()
	b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
		e, ns, cfg := startedEnforcer(b, "reload", n)
		configs := []string{scaleConfig(n, 4, ""), scaleConfig(n, -1, "")} // item 4 has a quota
		w := testnet.WatchKernel(b, ns.Fd())
		var parser config.ItemCache
		if _, err := parser.Parse([]byte(configs[1]), cfg); err != nil {
			b.Fatal(err)
		}
		var one, none, parse, full []float64
		kernelMsgs := 0
		for i := 0; i < 2*reps(); i++ {
			if err := os.WriteFile(cfg, []byte(configs[i%2]), 0o600); err != nil {
				b.Fatal(err)
			}
			gen0, err := testnet.NftGeneration(ns.Fd())
			if err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			t0 := time.Now()
			if err := e.Reload(); err != nil {
				b.Fatal(err)
			}
			one = append(one, ms(time.Since(t0)))
			if gen, _ := testnet.NftGeneration(ns.Fd()); gen != gen0+1 {
				b.Errorf("changing one item: nftables generation %d -> %d, want one transaction", gen0, gen)
			}
			w.Changes()

			runtime.GC()
			t0 = time.Now()
			if err := e.Reload(); err != nil {
				b.Fatal(err)
			}
			none = append(none, ms(time.Since(t0)))
			changes := w.Changes()
			kernelMsgs += len(changes)
			if gen, _ := testnet.NftGeneration(ns.Fd()); gen != gen0+1 || len(changes) > 0 {
				b.Errorf("a reload without change touched the kernel: generation %d -> %d, notifications %v", gen0+1, gen, changes)
			}

			runtime.GC()
			t0 = time.Now()
			if _, err := parser.Load(cfg); err != nil {
				b.Fatal(err)
			}
			parse = append(parse, ms(time.Since(t0)))
			runtime.GC()
			t0 = time.Now()
			if _, err := config.Load(cfg); err != nil {
				b.Fatal(err)
			}
			full = append(full, ms(time.Since(t0)))
		}
		b.ReportMetric(stats.Median(one), "ms-one-change")
		b.ReportMetric(stats.Median(none), "ms-no-change")
		b.ReportMetric(stats.Median(parse), "ms-parse")
		b.ReportMetric(stats.Median(full), "ms-parse-full")
		b.ReportMetric(float64(kernelMsgs), "kernel-msgs-no-change")
	})
}
