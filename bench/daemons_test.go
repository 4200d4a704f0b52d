package bench

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/bench/stats"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// BenchmarkDaemons runs the shipped dog-enforcer and dog-exporter with n
// items in a namespace, as an operator runs them, and measures:
//
//   - scrape: GET /metrics over HTTP (a new TCP connection each time),
//     from the request to the last byte of the body, with gzip (what
//     Prometheus asks for) and without, alternating, one scrape a second
//     for DOG_BENCH_BUSY_SECONDS (default 60). The config counts loopback
//     traffic, so the scrapes move the host counters and the enforcer
//     takes a real checkpoint (kernel dump, state file) every 10 s, as on
//     a host with traffic;
//   - memory: VmRSS of both processes after start, and VmRSS and VmHWM (the
//     peak, the cold start's transaction for the enforcer) after the busy
//     minute;
//   - CPU: of the enforcer during the busy minute (its checkpoints), and of
//     both while idle for DOG_BENCH_IDLE_SECONDS (default 30): no scrape, no
//     change, so the enforcer's 1 s tick and 10 s checkpoint find nothing to
//     do and the exporter nothing at all.
func BenchmarkDaemons(b *testing.B) {
	testutil.RequireRoot(b)
	n := applyItems()
	b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
		ns := testnet.NewNS(b, "daemons")
		enf, files := scaledEnforcer(b, ns, n, "count_loopback: true\n")
		const addr = "127.0.0.1:9730"
		exp := startDaemon(b, ns, nil, binary(b, "dog-exporter"), "--web.listen-address", addr, "--state-dir", files.stateDir,
			"--log.level", "warn")
		client := ns.HTTPClient()
		testnet.WaitFor(b, 10*time.Second, "the exporter to listen", func() bool {
			resp, err := client.Get("http://" + addr + "/")
			if err == nil {
				resp.Body.Close()
			}
			return err == nil
		})
		time.Sleep(2 * time.Second) // the enforcer returns the cold start's buffers after a second
		rssEnfStart, rssExpStart := procStatus(b, enf.pid(), "VmRSS"), procStatus(b, exp.pid(), "VmRSS")

		scrape := func(gzip bool) (time.Duration, int) {
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
			if gzip {
				req.Header.Set("Accept-Encoding", "gzip")
			} else {
				req.Header.Set("Accept-Encoding", "identity")
			}
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			d := time.Since(t0)
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("scrape: %v %d", err, resp.StatusCode)
			}
			if !gzip && (!strings.Contains(string(body), "\nport_traffic_dog_up 1\n") ||
				strings.Count(string(body), "\nport_traffic_dog_bytes_total{") != 2*(n+1)) {
				b.Fatalf("scrape: not every item's counters, or up != 1 (%d bytes)", len(body))
			}
			return d, len(body)
		}
		scrape(false) // the exporter reads and caches the meta file once
		var plain, gz []float64
		var plainBytes, gzBytes int
		busy := time.Duration(envInt("DOG_BENCH_BUSY_SECONDS", 60)) * time.Second
		e0 := cpuTime(b, enf.pid())
		t0 := time.Now()
		for i := 0; time.Since(t0) < busy; i++ {
			next := t0.Add(time.Duration(i+1) * time.Second)
			d, size := scrape(i%2 == 1)
			if i%2 == 1 {
				gz, gzBytes = append(gz, ms(d)), size
			} else {
				plain, plainBytes = append(plain, ms(d)), size
			}
			time.Sleep(time.Until(next))
		}
		busyCPU := float64(cpuTime(b, enf.pid())-e0) / float64(time.Since(t0))
		rssEnf, hwmEnf := procStatus(b, enf.pid(), "VmRSS"), procStatus(b, enf.pid(), "VmHWM")
		rssExp, hwmExp := procStatus(b, exp.pid(), "VmRSS"), procStatus(b, exp.pid(), "VmHWM")

		// Idle: nothing scrapes, nothing changes. The first checkpoint
		// after the scrapes still has their bytes to save: wait for it.
		time.Sleep(12 * time.Second)
		idle := time.Duration(envInt("DOG_BENCH_IDLE_SECONDS", 30)) * time.Second
		e1, x1 := cpuTime(b, enf.pid()), cpuTime(b, exp.pid())
		time.Sleep(idle)
		e2, x2 := cpuTime(b, enf.pid()), cpuTime(b, exp.pid())

		b.ReportMetric(stats.Median(plain), "ms-scrape")
		b.ReportMetric(stats.Median(gz), "ms-scrape-gzip")
		b.ReportMetric(float64(plainBytes)/1e6, "MB-scrape")
		b.ReportMetric(float64(gzBytes)/1e6, "MB-scrape-gzip")
		b.ReportMetric(rssEnfStart/1024, "MB-enforcer-RSS-start")
		b.ReportMetric(rssEnf/1024, "MB-enforcer-RSS")
		b.ReportMetric(hwmEnf/1024, "MB-enforcer-peak")
		b.ReportMetric(rssExpStart/1024, "MB-exporter-RSS-start")
		b.ReportMetric(rssExp/1024, "MB-exporter-RSS")
		b.ReportMetric(hwmExp/1024, "MB-exporter-peak")
		b.ReportMetric(busyCPU*100, "%CPU-enforcer-busy")
		b.ReportMetric(float64(e2-e1)/float64(idle)*100, "%CPU-enforcer-idle")
		b.ReportMetric(float64(x2-x1)/float64(idle)*100, "%CPU-exporter-idle")
	})
}

// enforcerFiles are the paths a scaledEnforcer runs with.
type enforcerFiles struct{ config, stateDir, socket string }

// scaledEnforcer starts the shipped dog-enforcer in ns on the n items of
// scaleConfig (with extra settings) and waits until it is ready.
func scaledEnforcer(b *testing.B, ns *testnet.NS, n int, extra string) (*daemon, enforcerFiles) {
	b.Helper()
	dir := b.TempDir()
	f := enforcerFiles{config: filepath.Join(dir, "config.yaml"), stateDir: filepath.Join(dir, "state"), socket: filepath.Join(dir, "admin.sock")}
	if err := os.WriteFile(f.config, []byte(scaleConfig(n, -1, extra)), 0o600); err != nil {
		b.Fatal(err)
	}
	env, ready := notifySocket(b)
	enf := startDaemon(b, ns, []string{env}, binary(b, "dog-enforcer"), "--config.file", f.config, "--state-dir", f.stateDir,
		"--admin-socket", f.socket, "--log.level", "warn")
	ready(time.Minute, enf)
	return enf, f
}
