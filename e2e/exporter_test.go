package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/testnet"
)

// scrape GETs a URL from the client namespace.
func scrape(t *testing.T, c *http.Client, url, user, pass string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	var resp *http.Response
	var err error
	for i := 0; i < 50; i++ { // the exporter may still be starting
		if resp, err = c.Do(req); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestExporterServesTheKernelCounters(t *testing.T) {
	h := newHost(t, "checkpoint_interval: 1s\nports:\n  - ports: \"443\"\n    remark: alice\n  - ports: \"5000-5100\"\n")
	h.enforcer()
	start(t, h.pair.Server, "dog-exporter", "--web.listen-address", testnet.ServerIP4.String()+":9730",
		"--state-dir", filepath.Join(h.dir, "state"))
	h.traffic(443, 250_000)
	client := h.pair.Client.HTTPClient()
	want := h.counter("p443", layout.In).Bytes
	// The _total counters are the last durable checkpoint's: the next
	// periodic one (1 s) has the transfer.
	var code int
	var body string
	testnet.WaitFor(t, 5*time.Second, "a checkpoint with the transfer", func() bool {
		code, body = scrape(t, client, "http://"+testnet.ServerIP4.String()+":9730/metrics", "", "")
		return code == 200 && value(body, `port_traffic_dog_bytes_total{direction="in",port="443"}`) >= float64(want)
	})
	for _, s := range []string{
		`port_traffic_dog_up 1`,
		`port_traffic_dog_info{billing="sum",port="443",protocols="tcp+udp",remark="alice"} 1`,
		`port_traffic_dog_bytes_total{direction="out",port="5000-5100"} 0`,
		`port_traffic_dog_exporter_build_info{`,
	} {
		if !strings.Contains(body, s) {
			t.Errorf("missing %s", s)
		}
	}
	// The scrape itself crossed the veth, on port 9730, not an item: the
	// item's counter is exactly what the kernel says.
	if value(body, `port_traffic_dog_bytes_total{direction="in",port="443"}`) != float64(want) {
		t.Errorf("bytes in of 443 = %v, kernel says %d", value(body, `port_traffic_dog_bytes_total{direction="in",port="443"}`), want)
	}
	if code, body := scrape(t, client, "http://"+testnet.ServerIP4.String()+":9730/", "", ""); code != 200 || !strings.Contains(body, "/metrics") {
		t.Errorf("landing page: %d %q", code, body)
	}
}

func TestExporterBasicAuthAndTLSConfig(t *testing.T) {
	h := newHost(t, "ports:\n  - ports: \"443\"\n")
	h.enforcer()
	hash, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	web := filepath.Join(h.dir, "web.yml")
	os.WriteFile(web, []byte("basic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600)
	start(t, h.pair.Server, "dog-exporter", "--web.listen-address", testnet.ServerIP4.String()+":9731",
		"--web.config.file", web, "--state-dir", filepath.Join(h.dir, "state"))
	client := h.pair.Client.HTTPClient()
	url := "http://" + testnet.ServerIP4.String() + ":9731/metrics"
	if code, _ := scrape(t, client, url, "", ""); code != http.StatusUnauthorized {
		t.Errorf("without credentials: %d, want 401", code)
	}
	if code, _ := scrape(t, client, url, "prometheus", "wrong"); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", code)
	}
	if code, body := scrape(t, client, url, "prometheus", "s3cret"); code != 200 || !strings.Contains(body, "port_traffic_dog_up 1") {
		t.Errorf("with credentials: %d", code)
	}
}

func TestCleanupRemovesTheTable(t *testing.T) {
	h := newHost(t, "ports:\n  - ports: \"443\"\n")
	e := h.enforcer()
	e.stop(t, syscall.SIGTERM)
	out, err := h.pair.Server.Output(filepath.Join(bin, "dog-enforcer"), "--config.file", h.cfg, "--cleanup",
		"--state-dir", filepath.Join(h.dir, "state"), "--admin-socket", filepath.Join(h.dir, "admin.sock"))
	if err != nil {
		t.Fatalf("--cleanup: %v\n%s", err, out)
	}
	if rs := h.pair.Server.Nft("list", "ruleset"); strings.Contains(rs, layout.Table) {
		t.Errorf("table still there:\n%s", rs)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "state", "state.json")); err != nil {
		t.Errorf("cleanup must keep the state: %v", err)
	}
}

func value(body, series string) float64 {
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, series+" ") {
			if v, err := strconv.ParseFloat(strings.TrimPrefix(l, series+" "), 64); err == nil {
				return v
			}
		}
	}
	return -1
}
