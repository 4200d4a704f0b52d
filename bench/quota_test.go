package bench

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"port-traffic-dog/bench/stats"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// BenchmarkQuotaPrecision: how exactly a quota stops traffic at full veth
// speed, per billing mode. An item with a quota of DOG_BENCH_QUOTA_BYTES
// (default 2 GB; a tenth of it with offload off, where this machine's veth
// moves only ~0.5–1 Gbit/s) gets iperf3 TCP traffic as fast as the veth
// carries it:
// downloads (the server sends, out) for out, uploads for in, both at once
// (--bidir) for sum, max and relay, until the kernel quota runs out and the
// enforcer (notified by the kernel) blocks the item. The item's counters
// then hold what really passed; billable is what the mode charges for it.
//
//   - B-over: billable bytes beyond the quota (must be 0: the packet that
//     crosses the quota is dropped, so nothing passes after the budget);
//   - B-short: how far below the quota the item stopped, at most the
//     packet that crossed it (relay counts bytes twice, so twice that);
//   - Gbit/s: the rate the quota was used up at.
//
// With segmentation offload on, netfilter sees GSO packets of up to 64 KiB;
// with it off (gso_max_segs 1 on both veth ends) every packet is one TCP
// segment of at most 1,500 bytes. Worst case of DOG_BENCH_QUOTA_REPS (3)
// runs.
func BenchmarkQuotaPrecision(b *testing.B) {
	testutil.RequireRoot(b)
	testutil.RequireBinary(b, "iperf3")
	quota := uint64(envInt("DOG_BENCH_QUOTA_BYTES", 2_000_000_000))
	runs := envInt("DOG_BENCH_QUOTA_REPS", 3)
	const port = 5201
	for _, offload := range []bool{true, false} {
		for _, mode := range []config.Billing{config.BillingOut, config.BillingIn, config.BillingSum, config.BillingMax, config.BillingRelay} {
			name := fmt.Sprintf("offload=%s/billing=%s", map[bool]string{true: "on", false: "off"}[offload], mode)
			b.Run(name, func(b *testing.B) {
				var over, short, rate []float64
				q := quota
				if !offload {
					q /= 10 // ~1 Gbit/s without offload here: keep the run short
				}
				for i := 0; i < runs; i++ {
					o, s, r := quotaRun(b, offload, mode, q, port)
					over, short, rate = append(over, o), append(short, s), append(rate, r)
				}
				b.ReportMetric(stats.Max(over), "B-over")
				b.ReportMetric(stats.Max(short), "B-short")
				b.ReportMetric(stats.Median(rate), "Gbit/s")
			})
		}
	}
}

// quotaRun exhausts the quota once and returns the bytes over and short of
// it and the rate it was used at.
func quotaRun(b *testing.B, offload bool, mode config.Billing, quota uint64, port uint16) (over, short, gbps float64) {
	b.Helper()
	p := testnet.NewPair(b)
	if !offload {
		for _, ns := range []*testnet.NS{p.Client, p.Server} {
			ns.Run(b, "ip", "link", "set", testnet.Dev, "gso_max_segs", "1")
		}
	}
	e, _ := newEnforcer(b, p.Server, fmt.Sprintf("checkpoint_interval: 1h\nports:\n  - ports: \"%d\"\n    quota: %dB\n    billing: %s\n", port, quota, mode))
	if err := e.Start(); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	p.Server.Start(b, "iperf3", "-s", "-p", strconv.Itoa(int(port)), "-B", testnet.ServerIP4.String())
	spec, err := portspec.Parse(strconv.Itoa(int(port)))
	if err != nil {
		b.Fatal(err)
	}
	id := config.ItemID(spec)
	read := func() (in, out uint64, depleted bool) {
		objs, err := nftread.Read(p.Server.Fd(), layout.Table)
		if err != nil {
			b.Fatal(err)
		}
		for name, q := range objs.Quotas {
			if owner, ok := layout.QuotaOwner(name); ok && owner == id && q.Depleted() {
				depleted = true
			}
		}
		return objs.Counters[layout.Counter(id, layout.In)].Bytes, objs.Counters[layout.Counter(id, layout.Out)].Bytes, depleted
	}

	args := []string{"iperf3", "-c", testnet.ServerIP4.String(), "-p", strconv.Itoa(int(port)), "-t", "60"}
	switch mode {
	case config.BillingOut:
		args = append(args, "-R")
	case config.BillingIn:
	default:
		args = append(args, "--bidir")
	}
	start := time.Now()
	var client *daemon
	for try := 0; ; try++ { // the server may still be starting
		client = startDaemon(b, p.Client, nil, args[0], args[1:]...)
		select {
		case <-client.exited:
			if try == 20 {
				b.Fatalf("iperf3 keeps failing: %s", client.out)
			}
			time.Sleep(100 * time.Millisecond)
			continue
		case <-time.After(300 * time.Millisecond):
		}
		break
	}
	// The rate is taken from the first poll that sees traffic flowing to
	// the one that sees the quota run out.
	charged := func(in, out uint64) uint64 {
		switch mode {
		case config.BillingOut:
			return out
		case config.BillingIn:
			return in
		}
		return in + out
	}
	deadline := time.Now().Add(2 * time.Minute)
	var flowing time.Time
	var bytes0, bytes1 uint64
	for {
		in, out, depleted := read()
		if depleted {
			bytes1 = charged(in, out)
			break
		}
		if flowing.IsZero() && charged(in, out) > 1<<20 {
			flowing, bytes0 = time.Now(), charged(in, out)
		}
		if time.Now().After(deadline) {
			b.Fatalf("the quota of %d bytes did not run out (iperf3: %s)", quota, client.out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if flowing.IsZero() { // ran out before the first poll saw it flow
		flowing, bytes0 = start, 0
	}
	took := time.Since(flowing)
	// The blocked transfer stalls; stop it and let the last packets settle.
	time.Sleep(500 * time.Millisecond)
	client.kill()
	in0, out0, _ := read()
	for settle := 0; settle < 100; settle++ {
		time.Sleep(50 * time.Millisecond)
		in, out, _ := read()
		if in == in0 && out == out0 {
			break
		}
		in0, out0 = in, out
	}
	billable := mode.Billable(in0, out0)
	if billable > quota {
		over = float64(billable - quota)
	} else {
		short = float64(quota - billable)
	}
	return over, short, float64(bytes1-bytes0) * 8 / took.Seconds() / 1e9
}
