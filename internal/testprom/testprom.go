// Package testprom runs the real Prometheus and Alertmanager that Debian
// packages (prometheus, prometheus-alertmanager) for tests: each on a free
// loopback port with its own temporary directory, stopped and removed in
// t.Cleanup whatever the outcome, with its log shown when the test failed.
// It also fakes the Telegram Bot API so that Alertmanager's real Telegram
// notifier can be observed (telegram.go).
//
// The binaries are required through testutil.RequireBinary: a laptop without
// them skips, CI (DOG_REQUIRE_PRIVILEGED=1) fails.
package testprom

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"port-traffic-dog/internal/testutil"
)

// StartTimeout bounds how long a process may take to become ready.
const StartTimeout = 30 * time.Second

// File is a file written into a process's directory before it starts, so
// that its configuration can name it by a relative path (rule files,
// Alertmanager templates).
type File struct {
	Name string // relative to the process directory
	Data string
}

// process is a started server and what is needed to stop and debug it.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *testutil.SyncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, valid after done
}

// freeLoopbackAddr asks the kernel for a free port. The port is released
// before the server binds it; start retries when another process took it in
// between.
func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free loopback port: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func writeFiles(t testing.TB, dir string, files []File) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Fatalf("file %q escapes the process directory", f.Name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.Data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// start runs bin with args(addr) until its readiness URL answers 200,
// retrying with a new port if the chosen one was taken. The process is
// killed in t.Cleanup; its log is printed there if the test failed.
func start(t testing.TB, name, bin string, args func(addr string) []string) (*process, string) {
	t.Helper()
	return startAt(t, name, bin, "", args)
}

// startAt is start on a fixed address (fixed != ""), which it cannot retry:
// for a server whose address is already written in another's config.
func startAt(t testing.TB, name, bin, fixed string, args func(addr string) []string) (*process, string) {
	t.Helper()
	deadline := time.Now().Add(StartTimeout)
	for attempt := 1; ; attempt++ {
		addr := fixed
		if addr == "" {
			addr = freeLoopbackAddr(t)
		}
		p := &process{name: name, log: &testutil.SyncBuffer{}, done: make(chan struct{})}
		p.cmd = exec.Command(bin, args(addr)...)
		p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
		// Its own process group, so that the kill reaches nothing else and
		// an interrupted `go test` does not leave it behind with the tty.
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", name, err)
		}
		go func() { p.err = p.cmd.Wait(); close(p.done) }()
		t.Cleanup(func() { p.stop(t) })

		err := waitReady(p, "http://"+addr+"/-/ready", deadline)
		if err == nil {
			return p, addr
		}
		if fixed == "" && strings.Contains(p.log.String(), "address already in use") && attempt < 5 && time.Now().Before(deadline) {
			continue
		}
		t.Fatalf("%s did not become ready on %s: %v", name, addr, err)
	}
}

func waitReady(p *process, readyURL string, deadline time.Time) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-p.done:
			return fmt.Errorf("exited: %w", p.err)
		default:
		}
		resp, err := client.Get(readyURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out (last error %w)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *process) stop(t testing.TB) {
	select {
	case <-p.done:
	default:
		// SIGTERM first so that it flushes nothing we need; the kill
		// follows if it lingers. Only this process group is signalled.
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	if t.Failed() {
		t.Logf("---- %s log (tail) ----\n%s", p.name, tail(p.log.String(), 6000))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// Log returns what the process wrote so far.
func (p *process) Log() string { return p.log.String() }

// ---------------------------------------------------------------- Prometheus

// Prometheus is a running Prometheus server.
type Prometheus struct {
	*process
	URL string // http://127.0.0.1:port
	Dir string // its directory: config, rule files, TSDB
}

// StartPrometheus starts Prometheus with the configuration cfgYAML (which
// must not have rule_files when ruleFiles are given) and the rule files'
// contents, written next to the config and added to it as rule_files. The
// alert resend delay is 1s so that Alertmanager sees annotation updates
// quickly.
func StartPrometheus(t testing.TB, cfgYAML string, ruleFiles ...string) *Prometheus {
	t.Helper()
	testutil.RequireBinary(t, "prometheus")
	dir := t.TempDir()
	var files []File
	if len(ruleFiles) > 0 {
		cfgYAML = strings.TrimRight(cfgYAML, "\n") + "\nrule_files:\n"
		for i, r := range ruleFiles {
			name := fmt.Sprintf("rules-%d.yml", i)
			files = append(files, File{name, r})
			cfgYAML += "  - " + name + "\n"
		}
	}
	files = append(files, File{"prometheus.yml", cfgYAML})
	writeFiles(t, dir, files)
	return StartPrometheusFile(t, filepath.Join(dir, "prometheus.yml"))
}

// FreeAddr returns a loopback address free at the time of the call, for a
// server whose address must be written into a config before it starts.
func FreeAddr(t testing.TB) string { return freeLoopbackAddr(t) }

// StartPrometheusFile starts Prometheus on the configuration file cfgPath
// as it is (rule files and all); its TSDB goes into a temporary directory.
func StartPrometheusFile(t testing.TB, cfgPath string) *Prometheus {
	t.Helper()
	bin := testutil.RequireBinary(t, "prometheus")
	dir := t.TempDir()
	p, addr := start(t, "prometheus", bin, func(addr string) []string {
		return []string{
			"--config.file=" + cfgPath,
			"--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr,
			"--web.console.templates=" + dir,
			"--web.console.libraries=" + dir,
			"--rules.alert.resend-delay=1s",
			"--log.level=debug",
		}
	})
	return &Prometheus{process: p, URL: "http://" + addr, Dir: dir}
}

// OneTarget is a Prometheus configuration that scrapes target (host:port)
// every second.
func OneTarget(target string) string {
	return fmt.Sprintf(`
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: port-traffic-dog
    static_configs:
      - targets: ['%s']
`, target)
}

// Sample is one element of an instant query's result.
type Sample struct {
	Metric map[string]string
	Value  float64
}

type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

func getAPI(ctx context.Context, base, path string, q url.Values, into any) error {
	u := base + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if strings.HasPrefix(path, "/api/v2/") { // Alertmanager's API has no envelope
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
		}
		return json.Unmarshal(body, into)
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("GET %s: %s: %.200s", path, resp.Status, body)
	}
	if r.Status != "success" {
		return fmt.Errorf("GET %s: %s: %s", path, r.ErrorType, r.Error)
	}
	return json.Unmarshal(r.Data, into)
}

// Query evaluates an instant query now. A scalar result comes back as one
// sample without labels; strings and matrices are errors.
func (p *Prometheus) Query(ctx context.Context, promql string) ([]Sample, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := getAPI(ctx, p.URL, "/api/v1/query", url.Values{"query": {promql}}, &data); err != nil {
		return nil, fmt.Errorf("query %q: %w", promql, err)
	}
	parse := func(v [2]any) (float64, error) {
		s, ok := v[1].(string)
		if !ok {
			return 0, fmt.Errorf("value %v is not a string", v[1])
		}
		return strconv.ParseFloat(s, 64)
	}
	switch data.ResultType {
	case "vector":
		var vec []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(data.Result, &vec); err != nil {
			return nil, err
		}
		out := make([]Sample, 0, len(vec))
		for _, s := range vec {
			v, err := parse(s.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, Sample{Metric: s.Metric, Value: v})
		}
		return out, nil
	case "scalar":
		var sc [2]any
		if err := json.Unmarshal(data.Result, &sc); err != nil {
			return nil, err
		}
		v, err := parse(sc)
		if err != nil {
			return nil, err
		}
		return []Sample{{Metric: map[string]string{}, Value: v}}, nil
	default:
		return nil, fmt.Errorf("query %q: result type %s, want vector or scalar", promql, data.ResultType)
	}
}

// Target is one active scrape target.
type Target struct {
	ScrapePool string            `json:"scrapePool"`
	ScrapeURL  string            `json:"scrapeUrl"`
	Labels     map[string]string `json:"labels"`
	Health     string            `json:"health"`
	LastError  string            `json:"lastError"`
}

// Targets lists the active targets.
func (p *Prometheus) Targets(ctx context.Context) ([]Target, error) {
	var data struct {
		ActiveTargets []Target `json:"activeTargets"`
	}
	if err := getAPI(ctx, p.URL, "/api/v1/targets", url.Values{"state": {"active"}}, &data); err != nil {
		return nil, err
	}
	return data.ActiveTargets, nil
}

// WaitForTargetsUp waits until at least n targets exist and all are up, i.e.
// each has been scraped successfully.
func (p *Prometheus) WaitForTargetsUp(ctx context.Context, n int) error {
	var last []Target
	for {
		ts, err := p.Targets(ctx)
		if err == nil {
			last = ts
			up := 0
			for _, t := range ts {
				if t.Health == "up" {
					up++
				}
			}
			if len(ts) >= n && up == len(ts) {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d targets up, have %+v: %w", n, last, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Alert is an alert as Prometheus's /api/v1/alerts shows it.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"` // pending or firing
	ActiveAt    time.Time         `json:"activeAt"`
	Value       string            `json:"value"`
}

// Alerts lists the pending and firing alerts.
func (p *Prometheus) Alerts(ctx context.Context) ([]Alert, error) {
	var data struct {
		Alerts []Alert `json:"alerts"`
	}
	if err := getAPI(ctx, p.URL, "/api/v1/alerts", nil, &data); err != nil {
		return nil, err
	}
	return data.Alerts, nil
}

// RuleHealth returns "name: error" for every rule whose last evaluation
// failed; a broken expression or template in the bundled rules shows here.
func (p *Prometheus) RuleHealth(ctx context.Context) ([]string, error) {
	var data struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := getAPI(ctx, p.URL, "/api/v1/rules", nil, &data); err != nil {
		return nil, err
	}
	var bad []string
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			if r.Health == "err" {
				bad = append(bad, g.Name+"/"+r.Name+": "+r.LastError)
			}
		}
	}
	return bad, nil
}

// WaitForAlert waits until an alert named name is in state ("firing" or
// "pending") and match (nil: any) accepts it.
func (p *Prometheus) WaitForAlert(ctx context.Context, name, state string, match func(Alert) bool) (Alert, error) {
	var last []Alert
	for {
		as, err := p.Alerts(ctx)
		if err == nil {
			last = as
			for _, a := range as {
				if a.Labels["alertname"] == name && a.State == state && (match == nil || match(a)) {
					return a, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return Alert{}, fmt.Errorf("waiting for %s alert %s; alerts now: %+v: %w", state, name, last, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ---------------------------------------------------------------- Alertmanager

// Alertmanager is a running Alertmanager, clustering off.
type Alertmanager struct {
	*process
	URL  string // http://127.0.0.1:port
	Addr string // 127.0.0.1:port, for Prometheus's alerting config
	Dir  string
}

// StartAlertmanager starts Alertmanager with configuration cfg; files (e.g.
// templates) are written into its directory first and can be named in cfg
// relative to it, since Alertmanager resolves template paths against the
// config file's directory.
func StartAlertmanager(t testing.TB, cfg string, files ...File) *Alertmanager {
	t.Helper()
	testutil.RequireBinary(t, "prometheus-alertmanager", "alertmanager")
	dir := t.TempDir()
	writeFiles(t, dir, append(files, File{"alertmanager.yml", cfg}))
	return StartAlertmanagerFile(t, filepath.Join(dir, "alertmanager.yml"), "")
}

// StartAlertmanagerFile starts Alertmanager on the configuration file
// cfgPath as it is, listening on addr (a free port when "").
func StartAlertmanagerFile(t testing.TB, cfgPath, addr string) *Alertmanager {
	t.Helper()
	bin := testutil.RequireBinary(t, "prometheus-alertmanager", "alertmanager")
	dir := t.TempDir()
	p, addr := startAt(t, "alertmanager", bin, addr, func(addr string) []string {
		return []string{
			"--config.file=" + cfgPath,
			"--storage.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr,
			"--cluster.listen-address=", // no gossip port, no peers
			"--log.level=debug",
		}
	})
	return &Alertmanager{process: p, URL: "http://" + addr, Addr: addr, Dir: dir}
}

// AMAlert is an alert as Alertmanager's API v2 shows it.
type AMAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Status      struct {
		State       string   `json:"state"` // active, suppressed, unprocessed
		InhibitedBy []string `json:"inhibitedBy"`
		SilencedBy  []string `json:"silencedBy"`
	} `json:"status"`
}

// Alerts lists the alerts Alertmanager holds, including inhibited ones.
func (a *Alertmanager) Alerts(ctx context.Context) ([]AMAlert, error) {
	var out []AMAlert
	err := getAPI(ctx, a.URL, "/api/v2/alerts", nil, &out)
	return out, err
}
