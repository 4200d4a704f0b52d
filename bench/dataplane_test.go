// Package bench holds the benchmarks behind bench/RESULTS.md. They need
// root, iperf3 and nft, and a quiet machine; bench/run.sh runs them all and
// writes the results. They are benchmarks, not tests: `go test` alone runs
// none of them (only TestScaleFits, a check of the item mix).
package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"port-traffic-dog/bench/stats"
	"port-traffic-dog/enforcer/nft"
	"port-traffic-dog/enforcer/ruleset"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/layout"
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

// BenchmarkDataPlaneToggled measures the same ratio as BenchmarkDataPlane in
// a way this VM's drift cannot skew: one long iperf3 transfer, during which
// the loaded table is put to sleep and woken every 2 s (`flags dormant`
// unregisters its hooks: the kernel then runs no rule of it, as with no
// table). Each 2 s phase gives three 0.5 s intervals clear of the switches;
// each awake phase is compared with the mean of the dormant phases around
// it, and the median of those ratios is reported. The table is the vmap
// design of BenchmarkDataPlane. DOG_BENCH_TOGGLED_SIZES (default
// 10000,50000) and DOG_BENCH_CYCLES (12 dormant/awake pairs per port) tune
// it.
func BenchmarkDataPlaneToggled(b *testing.B) {
	testutil.RequireRoot(b)
	testutil.RequireBinary(b, "iperf3")
	cycles := envInt("DOG_BENCH_CYCLES", 12)
	for _, n := range envSizes("DOG_BENCH_TOGGLED_SIZES", []int{10000, 50000}) {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			p := testnet.NewPair(b)
			inside := insidePort(n)
			iperfServers(b, p, portOutside, inside)
			rs := ruleset.Build(ruleset.Input{Items: scale(n), Exempt: config.DefaultExempt}, nil)
			if err := nft.Open(p.Server.Fd()).Sync(rs); err != nil {
				b.Fatal(err)
			}
			time.Sleep(2 * time.Second) // the kernel's deferred work after a big commit
			for _, port := range []struct {
				name string
				port uint16
			}{{"outside", portOutside}, {"inside", inside}} {
				r := toggledRatio(b, p, port.port, cycles)
				b.ReportMetric(r*100, "%-"+port.name)
			}
		})
	}
}

// setTableDormant puts the enforcer's table to sleep or wakes it with one
// NEWTABLE message. Not with nft(8): `add table … { flags dormant; }` first
// dumps the ruleset for its cache, 2 s of kernel time at 50,000 items, which
// fell in the dormant phases and halved their goodput.
func setTableDormant(netns int, dormant bool) error {
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netns})
	if err != nil {
		return fmt.Errorf("dormant: dial: %w", err)
	}
	defer conn.Close()
	nfgen := func(family uint8, resID uint16) []byte {
		return []byte{family, unix.NFNETLINK_V0, byte(resID >> 8), byte(resID)}
	}
	var flags uint32
	if dormant {
		flags = unix.NFT_TABLE_F_DORMANT
	}
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_TABLE_NAME, Data: append([]byte(layout.Table), 0)},
		{Type: unix.NFTA_TABLE_FLAGS, Data: []byte{byte(flags >> 24), byte(flags >> 16), byte(flags >> 8), byte(flags)}},
	})
	if err != nil {
		return err
	}
	batch := []netlink.Message{
		{Header: netlink.Header{Type: unix.NFNL_MSG_BATCH_BEGIN, Flags: netlink.Request}, Data: nfgen(unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES)},
		{Header: netlink.Header{Type: netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_NEWTABLE),
			Flags: netlink.Request | netlink.Acknowledge | netlink.Create}, Data: append(nfgen(unix.NFPROTO_INET, 0), attrs...)},
		{Header: netlink.Header{Type: unix.NFNL_MSG_BATCH_END, Flags: netlink.Request}, Data: nfgen(unix.AF_UNSPEC, unix.NFNL_SUBSYS_NFTABLES)},
	}
	if _, err := conn.SendMessages(batch); err != nil {
		return fmt.Errorf("dormant: send: %w", err)
	}
	if _, err := conn.Receive(); err != nil { // the NEWTABLE's ack, or its error
		return fmt.Errorf("dormant=%v: %w", dormant, err)
	}
	return nil
}

// phase is how long the table stays asleep or awake; interval is iperf3's
// reporting interval. A phase starting at s gives the intervals within
// [s+margin, s+phase-margin): the switch and iperf3's own start time are off
// by far less than the margin.
const (
	phase    = 2 * time.Second
	interval = 500 * time.Millisecond
	margin   = 250 * time.Millisecond
)

// toggledRatio runs one transfer to port of 2*cycles+3 phases, the table
// dormant in even phases and awake in odd ones (phases 0 and 1, slow start,
// are not used), and returns the median ratio of awake to dormant goodput.
func toggledRatio(b *testing.B, p *testnet.Pair, port uint16, cycles int) float64 {
	b.Helper()
	phases := 2*cycles + 3
	total := time.Duration(phases) * phase
	setDormant := func(dormant bool) {
		if err := setTableDormant(p.Server.Fd(), dormant); err != nil {
			b.Fatal(err)
		}
	}
	setDormant(true)
	defer setDormant(false)
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	t0 := time.Now()
	go func() {
		out, err := p.Client.Output(iperfClient(port, int(total/time.Second), "-i", "0.5")...)
		done <- result{out, err}
	}()
	for j := 1; j < phases; j++ {
		time.Sleep(time.Until(t0.Add(time.Duration(j) * phase)))
		setDormant(j%2 == 0)
	}
	res := <-done
	var rep struct {
		Intervals []struct {
			Sum struct {
				Start, End    float64
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum"`
		} `json:"intervals"`
	}
	if res.err != nil || json.Unmarshal([]byte(res.out), &rep) != nil || len(rep.Intervals) == 0 {
		b.Fatalf("iperf3 to %d: %v %s", port, res.err, res.out)
	}
	// The mean goodput of each phase, from its intervals clear of the switches.
	mean := make([]float64, phases)
	for j := range mean {
		lo := (time.Duration(j)*phase + margin).Seconds()
		hi := (time.Duration(j+1)*phase - margin).Seconds()
		var sum float64
		var k int
		for _, iv := range rep.Intervals {
			if iv.Sum.Start >= lo-0.01 && iv.Sum.End <= hi+0.01 && iv.Sum.End-iv.Sum.Start >= interval.Seconds()*0.9 {
				sum += iv.Sum.BitsPerSecond
				k++
			}
		}
		if k > 0 {
			mean[j] = sum / float64(k)
		}
	}
	var ratios []float64
	for j := 3; j+1 < phases; j += 2 { // awake phase j between dormant j-1 and j+1
		if asleep := (mean[j-1] + mean[j+1]) / 2; asleep > 0 && mean[j] > 0 {
			ratios = append(ratios, mean[j]/asleep)
		}
	}
	if len(ratios) < cycles/2 {
		b.Fatalf("only %d of %d cycles measured: %v", len(ratios), cycles, mean)
	}
	gbits := make([]float64, len(mean))
	for j, m := range mean {
		gbits[j] = m / 1e9
	}
	b.Logf("port %d: Gbit/s by phase (dormant first) %.1f; awake/dormant %.3f", port, gbits, ratios)
	return stats.Median(ratios)
}
