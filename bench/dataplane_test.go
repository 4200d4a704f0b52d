// Package bench holds the benchmarks behind bench/RESULTS.md. They need
// root, iperf3 and a quiet machine; bench/run.sh runs them all and writes the
// results. They are benchmarks, not tests: `go test` alone runs none of them.
package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"port-traffic-dog/enforcer/nft"
	"port-traffic-dog/enforcer/ruleset"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// Ports used for the measured traffic: outside every item, and inside one.
const (
	portOutside = 1000
	portInside  = 1024 // the first item's port
)

// scale returns n items starting at port 1024: single ports, ranges and
// groups mixed, quotas on half (large enough never to block).
func scale(n int) []ruleset.Item {
	var items []ruleset.Item
	port := 1024
	for i := 0; i < n; i++ {
		var spec portspec.Spec
		switch {
		case i%10 == 3: // a range of 4
			spec = portspec.Spec{{Lo: uint16(port), Hi: uint16(port + 3)}}
		case i%10 == 7: // a group: a port and a pair
			spec = portspec.Spec{{Lo: uint16(port), Hi: uint16(port)}, {Lo: uint16(port + 2), Hi: uint16(port + 3)}}
		default:
			spec = portspec.Spec{{Lo: uint16(port), Hi: uint16(port)}}
		}
		port += 4
		if port > 65000 {
			port = 1024 + 1 + i%3 // wrap on odd offsets: 50,000 items need more than 64k ports
		}
		it := ruleset.Item{ID: config.ItemID(spec), Spec: spec, Protocols: config.TCP | config.UDP, Billing: config.BillingSum}
		if i%2 == 0 {
			it.Quota = 1 << 50
		}
		items = append(items, it)
	}
	return items
}

// linearScript is the shell tool's design, for comparison: one rule per
// port per chain and protocol, each with its counter (and quota).
func linearScript(items []ruleset.Item) string {
	var in, out strings.Builder
	for _, it := range items {
		q := ""
		if it.Quota > 0 {
			q = " quota over 1125899906842624 bytes drop"
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
// rules, traffic to a port outside and inside the list. Runs alternate so
// the ratios compare measurements taken side by side.
func BenchmarkDataPlane(b *testing.B) {
	testutil.RequireRoot(b)
	testutil.RequireBinary(b, "iperf3")
	testutil.RequireBinary(b, "nft")
	sizes := []int{100, 1000, 10000, 50000}
	if s := os.Getenv("DOG_BENCH_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			var n int
			fmt.Sscan(f, &n)
			sizes = append(sizes, n)
		}
	}
	reps := envInt("DOG_BENCH_REPS", 5)
	secs := envInt("DOG_BENCH_SECONDS", 3)
	for _, n := range sizes {
		for _, design := range []string{"vmap", "linear"} {
			if design == "linear" && n > 10000 {
				continue // minutes to load and ~0.1 Gbit/s: the point is made at 10,000
			}
			b.Run(fmt.Sprintf("items=%d/design=%s", n, design), func(b *testing.B) {
				p := testnet.NewPair(b)
				iperfServers(b, p, portOutside, portInside)
				items := scale(n)
				load := func() {
					if design == "vmap" {
						if err := nft.Open(p.Server.Fd()).Sync(ruleset.Build(ruleset.Input{Items: items, Exempt: config.DefaultExempt}, nil)); err != nil {
							b.Fatal(err)
						}
						return
					}
					f := filepath.Join(b.TempDir(), "linear.nft")
					os.WriteFile(f, []byte(linearScript(items)), 0o600)
					p.Server.Run(b, "nft", "-f", f)
				}
				unload := func() {
					p.Server.Output("nft", "flush", "ruleset")
				}
				var base, out, in []float64
				for i := 0; i < reps; i++ {
					unload()
					base = append(base, iperf3(b, p, portOutside, secs))
					load()
					out = append(out, iperf3(b, p, portOutside, secs))
					in = append(in, iperf3(b, p, portInside, secs))
				}
				ratio := func(v []float64) float64 {
					r := make([]float64, len(v))
					for i := range v {
						r[i] = v[i] / base[i]
					}
					return median(r)
				}
				b.ReportMetric(median(base)/1e9, "Gbit/s-no-table")
				b.ReportMetric(median(out)/1e9, "Gbit/s-outside")
				b.ReportMetric(median(in)/1e9, "Gbit/s-inside")
				b.ReportMetric(ratio(out)*100, "%-outside")
				b.ReportMetric(ratio(in)*100, "%-inside")
			})
		}
	}
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err == nil && n > 0 {
			return n
		}
	}
	return def
}
