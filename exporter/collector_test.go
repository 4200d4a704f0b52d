package exporter

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"port-traffic-dog/enforcer"
	"port-traffic-dog/internal/testnet"
	tu "port-traffic-dog/internal/testutil"
)

func scrape(t *testing.T, c *Exporter) string {
	t.Helper()
	srv := httptest.NewServer(c.Handler(prometheus.NewRegistry(), 2, 10*time.Second))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// startEnforcer starts a real enforcer on the config body in the namespace
// fd, with its state in a temporary dir (opts may adjust its options), and
// returns it with an exporter of the same kernel and state.
func startEnforcer(tb testing.TB, fd int, body string, opts func(*enforcer.Options)) (*enforcer.Enforcer, *Exporter) {
	tb.Helper()
	dir := tb.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	o := enforcer.Options{ConfigPath: cfg, NetNS: fd, Logger: log,
		StateDir: filepath.Join(dir, "state"), AdminSocket: filepath.Join(dir, "s.sock")}
	if opts != nil {
		opts(&o)
	}
	e, err := enforcer.New(o)
	if err != nil {
		tb.Fatal(err)
	}
	if err := e.Start(); err != nil {
		tb.Fatal(err)
	}
	return e, New(fd, o.StateDir, log)
}

func TestExporterAgainstRealTable(t *testing.T) {
	p := testnet.NewPair(t)
	e, c := startEnforcer(t, p.Server.Fd(), `ports:
  - ports: "443"
    remark: "alice <vip> & \"co\" 阿里"
    quota: 1GiB
    billing: max
    expires: 2099-01-01
    rate: 50Mbps
  - ports: "5000-5100,6000"
    protocols: [udp]
    reset_day: 0
host:
  quota: 10TB
`, nil)
	if _, err := p.TCP(testnet.ServerIP4, 443, 123_456, 654_321, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	out := scrape(t, c)
	for _, want := range []string{
		`port_traffic_dog_up 1`,
		`port_traffic_dog_info{billing="max",port="443",protocols="tcp+udp",remark="alice <vip> & \"co\" 阿里"} 1`,
		`port_traffic_dog_info{billing="sum",port="5000-5100,6000",protocols="udp",remark=""} 1`,
		`port_traffic_dog_quota_bytes{port="443"} 1073741824`,
		`port_traffic_dog_blocked{port="443",reason="quota"} 0`,
		`port_traffic_dog_blocked{port="443",reason="expired"} 0`,
		`port_traffic_dog_rate_limit_bytes_per_second{direction="in",port="443"} 6.25e+06`,
		`port_traffic_dog_items 2`,
		`port_traffic_dog_enforcer_synced 1`,
		`port_traffic_dog_quota_bytes{port="host"} 10000000000000`,
		`port_traffic_dog_bytes_total{direction="in",port="host"}`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(out, `port_traffic_dog_next_reset_timestamp_seconds{port="5000-5100,6000"}`) {
		t.Error("reset_day 0 must have no next reset")
	}
	// The _total counters are the durable checkpoint's: the transfer shows
	// in them once a checkpoint took it, while the period gauge has it at
	// once from the kernel.
	const served = `port_traffic_dog_bytes_total{direction="in",port="443"}`
	if in := value(t, out, served); in >= 123_456 {
		t.Errorf("bytes in = %v before any checkpoint took the transfer", in)
	}
	if in := value(t, out, `port_traffic_dog_period_bytes{direction="in",port="443"}`); in < 123_456 {
		t.Errorf("period bytes in = %v", in)
	}
	st, err := e.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if in := value(t, scrape(t, c), served); in != float64(st.Items[0].In.Bytes) || in < 123_456 {
		t.Errorf("bytes in = %v after a checkpoint of %d", in, st.Items[0].In.Bytes)
	}
	promtool := tu.RequireBinary(t, "promtool")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(out)
	if res, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, res)
	}

	// Without the table (a power loss): up 0, and the counters stay at
	// the checkpoint the restore will bring back.
	e.Cleanup()
	out = scrape(t, c)
	if !strings.Contains(out, "port_traffic_dog_up 0") {
		t.Errorf("no table: %s", out)
	}
	if in := value(t, out, served); in != float64(st.Items[0].In.Bytes) {
		t.Errorf("no table: bytes in = %v, the checkpoint has %d", in, st.Items[0].In.Bytes)
	}
}

// value extracts one series' value from a scrape.
func value(t *testing.T, out, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, series+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, series)), 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no series %s in\n%s", series, out)
	return 0
}
