// Package bench holds the benchmarks behind bench/RESULTS.md. They need
// root, iperf3 and nft, and a quiet machine; bench/run.sh runs them all and
// writes the results. They are benchmarks, not tests: `go test` alone runs
// none of them (only TestScaleFits, a check of the item mix).
package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/bench/stats"
	"port-traffic-dog/enforcer/nft"
	"port-traffic-dog/enforcer/ruleset"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// linearScript is the shell tool's design, for comparison: one rule per
// port (or range) per chain and protocol, each with its counter (and quota).
func linearScript(items []ruleset.Item) string {
	var in, out strings.Builder
	for _, it := range items {
		q := ""
		if it.Quota > 0 {
			q = fmt.Sprintf(" quota over %d bytes drop", it.Quota)
		}
		for _, r := range it.Spec {
			for _, proto := range []string{"tcp", "udp"} {
				fmt.Fprintf(&in, "  %s dport %s counter%s\n", proto, r, q)
				fmt.Fprintf(&out, "  %s sport %s counter%s\n", proto, r, q)
			}
		}
	}
	return "table inet linear_dog {\n chain input {\n  type filter hook input priority -10;\n" + in.String() +
		" }\n chain output {\n  type filter hook output priority -10;\n" + out.String() + " }\n}\n"
}

// BenchmarkDataPlane measures TCP goodput over a veth pair with no table,
// with the enforcer's table of n items, and with the same items as linear
// rules, traffic to a port outside and inside the list. Each repetition
// measures no table, then the loaded table (outside and inside, in turns
// first), so every ratio compares runs taken side by side; the medians are
// reported.
//
// DOG_BENCH_SIZES (default 100,1000,10000,50000), DOG_BENCH_REPS (5),
// DOG_BENCH_SECONDS (3 per transfer, after 1 s of slow start omitted) and
// DOG_BENCH_LINEAR_MAX (the largest size the linear design is measured at;
// default: all) tune it. 50,000 linear rules per chain load in seconds with
// nft -f, but move only tens of Mbit/s.
func BenchmarkDataPlane(b *testing.B) {
	testutil.RequireRoot(b)
	testutil.RequireBinary(b, "iperf3")
	testutil.RequireBinary(b, "nft")
	sizes := envSizes("DOG_BENCH_SIZES", []int{100, 1000, 10000, 50000})
	reps := reps()
	secs := envInt("DOG_BENCH_SECONDS", 3)
	linearMax := envInt("DOG_BENCH_LINEAR_MAX", 1<<30)
	for _, n := range sizes {
		for _, design := range []string{"vmap", "linear"} {
			if design == "linear" && n > linearMax {
				continue
			}
			b.Run(fmt.Sprintf("items=%d/design=%s", n, design), func(b *testing.B) {
				p := testnet.NewPair(b)
				inside := insidePort(n)
				iperfServers(b, p, portOutside, inside)
				items := scale(n)
				script := filepath.Join(b.TempDir(), "linear.nft")
				if design == "linear" {
					if err := os.WriteFile(script, []byte(linearScript(items)), 0o600); err != nil {
						b.Fatal(err)
					}
				}
				var loads []float64
				load := func() {
					start := time.Now()
					if design == "vmap" {
						rs := ruleset.Build(ruleset.Input{Items: items, Exempt: config.DefaultExempt}, nil)
						if err := nft.Open(p.Server.Fd()).Sync(rs); err != nil {
							b.Fatal(err)
						}
					} else {
						p.Server.Run(b, "nft", "-f", script)
					}
					loads = append(loads, time.Since(start).Seconds())
				}
				unload := func() { p.Server.Run(b, "nft", "flush", "ruleset") }
				// The kernel finishes a big transaction or flush in
				// workers after it returns (freeing the old objects,
				// resizing hash tables); a transfer started at once
				// competes with them. And the transfers alternate order.
				settle := func() { time.Sleep(2 * time.Second) }
				var base, out, in []float64
				for i := 0; i < reps; i++ {
					unload()
					settle()
					base = append(base, iperf3(b, p, portOutside, secs))
					load()
					settle()
					if i%2 == 0 {
						out = append(out, iperf3(b, p, portOutside, secs))
						in = append(in, iperf3(b, p, inside, secs))
					} else {
						in = append(in, iperf3(b, p, inside, secs))
						out = append(out, iperf3(b, p, portOutside, secs))
					}
				}
				ratio := func(v []float64) float64 {
					r := make([]float64, len(v))
					for i := range v {
						r[i] = v[i] / base[i]
					}
					return stats.Median(r)
				}
				b.ReportMetric(stats.Median(base)/1e9, "Gbit/s-no-table")
				b.ReportMetric(stats.Median(out)/1e9, "Gbit/s-outside")
				b.ReportMetric(stats.Median(in)/1e9, "Gbit/s-inside")
				b.ReportMetric(ratio(out)*100, "%-outside")
				b.ReportMetric(ratio(in)*100, "%-inside")
				b.ReportMetric(stats.Median(loads), "s-load")
			})
		}
	}
}
