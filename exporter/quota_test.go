package exporter

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"port-traffic-dog/enforcer"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
	tu "port-traffic-dog/internal/testutil"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// TestQuotaMetricsContract scrapes the exporter against a real enforcer in a
// namespace after real traffic, a quota block, a manual reset, an automatic
// reset and an expiry, and checks every series of the quota contract
// (docs/METRICS.md) against the kernel's counters and the calendar.
func TestQuotaMetricsContract(t *testing.T) {
	promtool := tu.RequireBinary(t, "promtool")
	p := testnet.NewPair(t)
	t0 := time.Date(2026, 2, 15, 12, 0, 0, 0, time.UTC)
	clk := &clock{t: t0}
	var stateDir string
	e, x := startEnforcer(t, p.Server.Fd(), `checkpoint_interval: 1h
timezone: UTC
host:
  quota: 50GB
  billing: max
  reset_day: 10
ports:
  - ports: "443"
    remark: alice
    quota: 400000B
    billing: relay
    reset_day: 31
  - ports: "8080"
    protocols: [tcp]
    reset_day: 0
    expires: 2026-03-01
`, func(o *enforcer.Options) {
		o.Now, o.TickInterval, stateDir = clk.Now, 50*time.Millisecond, o.StateDir
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	x.now = clk.Now

	kernel := func() map[string]state.Counter {
		t.Helper()
		objs, err := nftread.ReadCounters(p.Server.Fd(), layout.Table)
		if err != nil {
			t.Fatal(err)
		}
		return objs.Counters
	}
	// check scrapes and compares the given series' values; "absent" means
	// the series must not exist. Every scrape must pass promtool.
	check := func(when string, want map[string]any) string {
		t.Helper()
		out := scrape(t, x)
		for series, v := range want {
			has := strings.Contains(out, "\n"+series+" ")
			switch v := v.(type) {
			case string: // "absent"
				if has {
					t.Errorf("%s: %s should be absent", when, series)
				}
			default:
				if !has {
					t.Errorf("%s: missing %s", when, series)
					continue
				}
				if got, want := value(t, out, series), toFloat(v); got != want {
					t.Errorf("%s: %s = %v, want %v", when, series, got, want)
				}
			}
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(out)
		if res, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: promtool check metrics: %v\n%s", when, err, res)
		}
		return out
	}
	ts := func(t time.Time) float64 { return float64(t.Unix()) }
	feb28 := time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC) // reset_day 31, clamped
	mar1 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

	// Traffic, no block yet.
	if _, err := p.TCP(testnet.ServerIP4, 443, 30_000, 60_000, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// Let the connection's last segments (FIN, ACK) pass before comparing.
	k := kernel()
	for deadline := time.Now().Add(3 * time.Second); ; {
		time.Sleep(50 * time.Millisecond)
		again := kernel()
		if again["p443_in"] == k["p443_in"] && again["p443_out"] == k["p443_out"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the counters of 443 keep moving")
		}
		k = again
	}
	in, out := k["p443_in"].Bytes, k["p443_out"].Bytes
	// The _total counters are served from the durable checkpoint.
	if _, err := e.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	o := check("after traffic", map[string]any{
		`port_traffic_dog_info{billing="relay",port="443",protocols="tcp+udp",remark="alice"}`: 1,
		`port_traffic_dog_info{billing="sum",port="8080",protocols="tcp",remark=""}`:           1,
		`port_traffic_dog_info{billing="max",port="host",protocols="tcp+udp",remark=""}`:       1,
		`port_traffic_dog_bytes_total{direction="in",port="443"}`:                              in,
		`port_traffic_dog_period_bytes{direction="in",port="443"}`:                             in,
		`port_traffic_dog_period_bytes{direction="out",port="443"}`:                            out,
		`port_traffic_dog_quota_used_bytes{port="443"}`:                                        2 * (in + out),
		`port_traffic_dog_quota_bytes{port="443"}`:                                             400_000,
		`port_traffic_dog_blocked{port="443",reason="quota"}`:                                  0,
		`port_traffic_dog_blocked{port="443",reason="expired"}`:                                "absent",
		`port_traffic_dog_last_reset_timestamp_seconds{port="443"}`:                            ts(t0),
		`port_traffic_dog_next_reset_timestamp_seconds{port="443"}`:                            ts(feb28),
		`port_traffic_dog_quota_used_bytes{port="8080"}`:                                       0,
		`port_traffic_dog_quota_bytes{port="8080"}`:                                            "absent",
		`port_traffic_dog_blocked{port="8080",reason="quota"}`:                                 "absent",
		`port_traffic_dog_blocked{port="8080",reason="expired"}`:                               0,
		`port_traffic_dog_expiry_timestamp_seconds{port="8080"}`:                               ts(mar1),
		`port_traffic_dog_next_reset_timestamp_seconds{port="8080"}`:                           "absent",
		`port_traffic_dog_quota_bytes{port="host"}`:                                            50e9,
		`port_traffic_dog_blocked{port="host",reason="quota"}`:                                 0,
		`port_traffic_dog_next_reset_timestamp_seconds{port="host"}`:                           ts(time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)),
	})
	// The host's period is all it counted since it was first applied, billed
	// under max; the checkpointed counters are at most what the kernel has.
	// (Compared within one scrape: stray IPv6 multicast reports of the fresh
	// link may move the host counters at any time.)
	hin, hout := value(t, o, `port_traffic_dog_bytes_total{direction="in",port="host"}`), value(t, o, `port_traffic_dog_bytes_total{direction="out",port="host"}`)
	if pin, pout, used := value(t, o, `port_traffic_dog_period_bytes{direction="in",port="host"}`),
		value(t, o, `port_traffic_dog_period_bytes{direction="out",port="host"}`),
		value(t, o, `port_traffic_dog_quota_used_bytes{port="host"}`); pin < hin || pout < hout || used != max(pin, pout) || hin < float64(in) {
		t.Errorf("host: period in %v out %v, used %v; counters in %v out %v", pin, pout, used, hin, hout)
	}

	// Exhaust the quota: (in+out) x 2 reaches 400 KB.
	exhaust(t, p, 443, func() bool {
		return strings.Contains(scrape(t, x), `port_traffic_dog_blocked{port="443",reason="quota"} 1`)
	})
	k = kernel()
	in, out = k["p443_in"].Bytes, k["p443_out"].Bytes
	// Within one packet (up to 64 KiB with segmentation offload), charged twice.
	if used := 2 * (in + out); used >= 400_000 || used+2*65536 < 400_000 {
		t.Errorf("blocked at %d billable bytes of 400000", used)
	}
	check("blocked", map[string]any{
		`port_traffic_dog_blocked{port="443",reason="quota"}`:       1,
		`port_traffic_dog_quota_used_bytes{port="443"}`:             2 * (in + out),
		`port_traffic_dog_period_bytes{direction="out",port="443"}`: out,
	})

	// A manual reset: the period and the quota use start over, the byte
	// counters go on.
	t1 := time.Date(2026, 2, 20, 8, 0, 0, 0, time.UTC)
	clk.Set(t1)
	if _, err := e.Reset([]string{"443"}, false, state.ReasonManual); err != nil {
		t.Fatal(err)
	}
	check("after a manual reset", map[string]any{
		`port_traffic_dog_blocked{port="443",reason="quota"}`:                                  0,
		`port_traffic_dog_period_bytes{direction="in",port="443"}`:                             0,
		`port_traffic_dog_period_bytes{direction="out",port="443"}`:                            0,
		`port_traffic_dog_quota_used_bytes{port="443"}`:                                        0,
		`port_traffic_dog_bytes_total{direction="out",port="443"}`:                             out,
		`port_traffic_dog_last_reset_timestamp_seconds{port="443"}`:                            ts(t1),
		`port_traffic_dog_next_reset_timestamp_seconds{port="443"}`:                            ts(feb28),
		`port_traffic_dog_next_reset_timestamp_seconds{port="host"}`:                           ts(time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)),
		`port_traffic_dog_last_reset_timestamp_seconds{port="host"}`:                           ts(t0),
		`port_traffic_dog_blocked{port="8080",reason="expired"}`:                               0,
		`port_traffic_dog_expiry_timestamp_seconds{port="8080"}`:                               ts(mar1),
		`port_traffic_dog_quota_bytes{port="443"}`:                                             400_000,
		`port_traffic_dog_bytes_total{direction="in",port="443"}`:                              in,
		`port_traffic_dog_last_reset_timestamp_seconds{port="8080"}`:                           ts(t0),
		`port_traffic_dog_period_bytes{direction="in",port="8080"}`:                            0,
		`port_traffic_dog_quota_used_bytes{port="8080"}`:                                       0,
		`port_traffic_dog_items`:                                                               2,
		`port_traffic_dog_enforcer_repairs_total`:                                              0,
		`port_traffic_dog_next_reset_timestamp_seconds{port="8080"}`:                           "absent",
		`port_traffic_dog_blocked{port="host",reason="quota"}`:                                 0,
		`port_traffic_dog_quota_bytes{port="host"}`:                                            50e9,
		`port_traffic_dog_expiry_timestamp_seconds{port="443"}`:                                "absent",
		`port_traffic_dog_blocked{port="443",reason="expired"}`:                                "absent",
		`port_traffic_dog_quota_bytes{port="8080"}`:                                            "absent",
		`port_traffic_dog_blocked{port="8080",reason="quota"}`:                                 "absent",
		`port_traffic_dog_info{billing="relay",port="443",protocols="tcp+udp",remark="alice"}`: 1,
	})

	// The clock passes Feb 28 (443's reset, reset_day 31 in February) and
	// Mar 1 (8080's expiry): an automatic reset and a block.
	clk.Set(mar1)
	testnet.WaitFor(t, 5*time.Second, "the reset and the expiry", func() bool {
		out := scrape(t, x)
		return strings.Contains(out, fmt.Sprintf(`port_traffic_dog_last_reset_timestamp_seconds{port="443"} %g`, ts(mar1))) &&
			strings.Contains(out, `port_traffic_dog_blocked{port="8080",reason="expired"} 1`)
	})
	check("after the reset day and the expiry", map[string]any{
		`port_traffic_dog_next_reset_timestamp_seconds{port="443"}`: ts(time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)),
		`port_traffic_dog_blocked{port="8080",reason="expired"}`:    1,
		`port_traffic_dog_quota_used_bytes{port="443"}`:             0,
	})
	if h, _, err := state.ReadHistory(stateDir); err != nil || len(h) != 2 || h[0].Reason != "manual" || h[1].Reason != "auto" {
		t.Errorf("history: %+v, %v", h, err)
	}
}

// exhaust downloads from port until blocked() holds, then resets the
// connection: a socket closed the usual way would keep retransmitting its
// unsent data and send it into the next period once the item is unblocked.
func exhaust(t *testing.T, p *testnet.Pair, port uint16, blocked func() bool) {
	t.Helper()
	addr := netip.AddrPortFrom(testnet.ServerIP4, port).String()
	var ln net.Listener
	if err := p.Server.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var c net.Conn
	if err := p.Client.Do(func() (err error) { c, err = net.Dial("tcp", addr); return }); err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, c)
	go func() {
		buf := make([]byte, 16<<10)
		for {
			if _, err := s.Write(buf); err != nil {
				return
			}
		}
	}()
	testnet.WaitFor(t, 5*time.Second, fmt.Sprintf("%d to be blocked", port), blocked)
	for _, conn := range []net.Conn{c, s} {
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case int:
		return float64(v)
	case uint64:
		return float64(v)
	case float64:
		return v
	}
	panic(fmt.Sprintf("unexpected %T", v))
}
