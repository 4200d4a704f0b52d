package e2e

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testprom"
	"port-traffic-dog/internal/testutil"
)

// The operator's prometheus.yml: other jobs and comments that `dog notify
// telegram` must keep byte for byte.
const operatorProm = `# /etc/prometheus/prometheus.yml — edited by hand
global:
  scrape_interval: 1s      # tests: fast
  evaluation_interval: 1s

rule_files:
  # - "first_rules.yml"

scrape_configs:
  # Prometheus itself
  - job_name: 'prometheus'
    static_configs:
      - targets: ['localhost:9']   # nothing listens: down, and harmless

  - job_name: node
    # node_exporter, later
    static_configs:
      - targets: ['localhost:7']
# end of my file
`

const e2eToken = "1234567:AAH-e2e_Secret0123456789abcdefXYZ"

// tokenWatch records every process command line that holds the token, by
// scanning /proc while `dog notify` runs its validators.
type tokenWatch struct {
	mu   sync.Mutex
	seen []string
	stop chan struct{}
	done chan struct{}
}

func watchArgv(token string) *tokenWatch {
	w := &tokenWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			w.scan(token)
			select {
			case <-w.stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return w
}

func (w *tokenWatch) scan(token string) {
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(token)) {
			w.mu.Lock()
			w.seen = append(w.seen, strings.ReplaceAll(string(b), "\x00", " "))
			w.mu.Unlock()
		}
	}
}

func (w *tokenWatch) end() []string {
	close(w.stop)
	<-w.done
	return w.seen
}

// TestNotifyTelegramEndToEnd is the issue's scenario on real parts: `dog
// notify telegram` sets up Debian's Prometheus and Alertmanager (started by
// the test on the files it wrote) for a host whose enforcer and exporter
// run in a namespace; a fake Bot API on loopback is Telegram.
func TestNotifyTelegramEndToEnd(t *testing.T) {
	testutil.RequireBinary(t, "prometheus")
	testutil.RequireBinary(t, "prometheus-alertmanager")
	testutil.RequireBinary(t, "promtool")
	testutil.RequireBinary(t, "amtool")
	h := newHost(t, `checkpoint_interval: 1s
ports:
  - ports: "443"
    remark: 阿里云 香港
    quota: 400KiB
  - ports: "8080"
    remark: other
interfaces: [veth0]
`)
	h.enforcer()
	start(t, h.pair.Server, "dog-exporter", "--web.listen-address", "127.0.0.1:9730", "--state-dir", filepath.Join(h.dir, "state"))
	target := h.pair.Server.Forward(t, "127.0.0.1:9730")

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	tg := testprom.NewFakeTelegram(t)
	tg.SetToken(e2eToken)
	tg.SetChats(4242)

	etc := t.TempDir()
	promCfg, amCfg := filepath.Join(etc, "prometheus.yml"), filepath.Join(etc, "alertmanager.yml")
	if err := os.WriteFile(promCfg, []byte(operatorProm), 0o644); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(e2eToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	amAddr := testprom.FreeAddr(t)
	paths := []string{"--prometheus-config", promCfg, "--alertmanager-config", amCfg}
	var outputs []string
	dog := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "dog"), append(append([]string{"notify"}, args...), paths...)...)
		cmd.Env = append(os.Environ(), "LANG=C")
		out, err := cmd.CombinedOutput()
		outputs = append(outputs, string(out))
		return string(out), err
	}
	setup := []string{"telegram", "--chat-id", "4242", "--token-file", tokenFile, "--server-name", "edge-1", "--message-lang", "zh",
		"--report-every", "1m", "--api-url", tg.URL, "--exporter-address", target, "--alertmanager-address", amAddr}

	watch := watchArgv(e2eToken)
	out, err := dog(setup...)
	if err != nil {
		t.Fatalf("dog notify telegram: %v\n%s", err, out)
	}
	firstProm, _ := os.ReadFile(promCfg)
	firstAM, _ := os.ReadFile(amCfg)
	out, err = dog(setup...)
	if err != nil || !strings.Contains(out, "nothing to change") {
		t.Errorf("second run: %v\n%s", err, out)
	}
	// The token on stdin (no --token-file), as a script would pipe it.
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "dog"), append(append([]string{"notify", "telegram", "--chat-id", "4242"}, paths...), "--server-name", "edge-1")...)
	cmd.Stdin = strings.NewReader(e2eToken + "\n")
	out2, err := cmd.CombinedOutput()
	outputs = append(outputs, string(out2))
	if err != nil || !strings.Contains(string(out2), "nothing to change") {
		t.Errorf("token on stdin: %v\n%s", err, out2)
	}
	if seen := watch.end(); len(seen) > 0 {
		t.Errorf("the token is in a command line: %q", seen)
	}
	if p, _ := os.ReadFile(promCfg); !bytes.Equal(p, firstProm) {
		t.Error("the second run changed prometheus.yml")
	}
	if a, _ := os.ReadFile(amCfg); !bytes.Equal(a, firstAM) {
		t.Error("the second run changed alertmanager.yml")
	}
	if got := withoutDogBlocks(string(firstProm)); got != operatorProm {
		t.Errorf("the operator's lines changed:\n%s", firstProm)
	}

	testprom.StartAlertmanagerFile(t, amCfg, amAddr)
	prom := testprom.StartPrometheusFile(t, promCfg)
	if err := waitTarget(ctx, prom, "edge-1"); err != nil {
		t.Fatal(err)
	}
	if bad, err := prom.RuleHealth(ctx); err != nil || len(bad) > 0 {
		t.Errorf("rules: %v %v", bad, err)
	}

	out, err = dog("test")
	if err != nil || !strings.Contains(out, "delivered to telegram") {
		t.Errorf("dog notify test: %v\n%s", err, out)
	}

	text := func(m testprom.TelegramMessage) string { return testprom.TelegramText(m.Text) }
	count := func(match func(string) bool) int {
		n := 0
		for _, m := range tg.Messages() {
			if m.Rejected == "" && match(text(m)) {
				n++
			}
		}
		return n
	}
	// waitCount waits until n messages match and returns when the n-th came.
	waitCount := func(what string, n int, match func(string) bool) time.Time {
		t.Helper()
		for count(match) < n {
			select {
			case <-ctx.Done():
				var got []string
				for _, m := range tg.Messages() {
					got = append(got, text(m))
				}
				t.Fatalf("no %s message #%d: %v; got:\n%s", what, n, ctx.Err(), strings.Join(got, "\n---\n"))
			case <-time.After(100 * time.Millisecond):
			}
		}
		return time.Now()
	}

	// A quota block: one message, in Chinese, naming the server, the port
	// and the remark.
	if _, err := h.pair.TCP(testnet.ServerIP4, 443, 300_000, 40_000, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	h.pair.TCP(testnet.ServerIP4, 443, 300_000, 0, 3*time.Second)
	isBlock := func(s string) bool { return strings.Contains(s, "端口已封禁 · edge-1") }
	waitCount("block", 1, isBlock)
	for _, m := range tg.Messages() {
		if s := text(m); isBlock(s) && !strings.Contains(s, "443 阿里云 香港") {
			t.Errorf("block message lacks the port and remark:\n%s", s)
		}
	}

	// The status report every minute.
	isReport := func(s string) bool {
		return strings.Contains(s, "edge-1 · 流量报告") && strings.Contains(s, "8080 other")
	}
	t1 := waitCount("status report", 1, isReport)
	t2 := waitCount("status report", 2, isReport)
	if gap := t2.Sub(t1); gap < 45*time.Second || gap > 80*time.Second {
		t.Errorf("reports %s apart, want the chosen 1m", gap)
	}
	// `dog notify report`: the report now, not at the next minute.
	out, err = dog("report", "--prometheus-url", prom.URL)
	if err != nil || !strings.Contains(out, "delivered to telegram") {
		t.Errorf("dog notify report: %v\n%s", err, out)
	}
	if n := count(isReport); n != 3 || time.Since(t2) > 40*time.Second {
		t.Errorf("after dog notify report: %d reports, %s after the second", n, time.Since(t2))
	}
	if n := count(isBlock); n != 1 {
		t.Errorf("%d block messages, want 1", n)
	}

	// Failures: a wrong token and an absent API fail the test command.
	tg.SetToken("1:another")
	out, err = dog("test")
	if err == nil || !strings.Contains(out, "the bot token is wrong") || !strings.Contains(out, "failed") {
		t.Errorf("bad token: %v\n%s", err, out)
	}
	tg.SetToken(e2eToken)
	tg.SetChats(1)
	out, err = dog("test")
	if err == nil || !strings.Contains(out, "chat 4242 not found") {
		t.Errorf("unknown chat: %v\n%s", err, out)
	}
	tg.Stop()
	out, err = dog("test")
	if err == nil || !strings.Contains(out, "cannot reach the Telegram Bot API") {
		t.Errorf("no API: %v\n%s", err, out)
	}

	// The token: in no output of ours, no world-readable file, no command
	// line of the running processes.
	for _, o := range outputs {
		if strings.Contains(o, e2eToken) {
			t.Errorf("dog printed the token:\n%s", o)
		}
	}
	filepath.WalkDir(etc, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if fi, _ := d.Info(); bytes.Contains(b, []byte(e2eToken)) && fi.Mode().Perm()&0o007 != 0 {
			t.Errorf("%s holds the token and is %v", p, fi.Mode())
		}
		return nil
	})
	w := watchArgv(e2eToken)
	if seen := w.end(); len(seen) > 0 {
		t.Errorf("the token is in a command line: %q", seen)
	}
}

// withoutDogBlocks drops the lines between dog's markers, inclusive.
func withoutDogBlocks(s string) string {
	var b strings.Builder
	in := false
	for _, l := range strings.SplitAfter(s, "\n") {
		switch t := strings.TrimSpace(l); {
		case strings.HasPrefix(t, "# BEGIN port-traffic-dog"):
			in = true
		case strings.HasPrefix(t, "# END port-traffic-dog"):
			in = false
		case !in:
			b.WriteString(l)
		}
	}
	return b.String()
}

// waitTarget waits until the port-traffic-dog target named instance is up.
func waitTarget(ctx context.Context, p *testprom.Prometheus, instance string) error {
	for {
		ts, err := p.Targets(ctx)
		if err == nil {
			for _, t := range ts {
				if t.ScrapePool == "port-traffic-dog" && t.Labels["instance"] == instance && t.Health == "up" {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
