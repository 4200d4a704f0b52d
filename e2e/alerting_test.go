package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/alerts"
	"port-traffic-dog/dashboards"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testprom"
	"port-traffic-dog/internal/testutil"
)

const hostileRemark = `<b>&"'</b> 阿里云`

// TestTelegramAlertsEndToEnd runs the whole product for one host: enforcer
// and exporter in a namespace with an item of a tiny quota, real traffic
// until it is blocked, Debian's Prometheus scraping the exporter with the
// bundled rules, Debian's Alertmanager with the bundled config sending to a
// fake Telegram Bot API, and `dog reset`.
func TestTelegramAlertsEndToEnd(t *testing.T) {
	testutil.RequireBinary(t, "prometheus")
	testutil.RequireBinary(t, "prometheus-alertmanager")
	h := newHost(t, `checkpoint_interval: 1s
ports:
  - ports: "443"
    remark: '`+strings.ReplaceAll(hostileRemark, `'`, `''`)+`'
    quota: 400KiB
  - ports: "8080"
    remark: other
    rate: 10Mbps
    expires: 2099-01-01
interfaces: [veth0]
`)
	h.enforcer()
	start(t, h.pair.Server, "dog-exporter", "--web.listen-address", "127.0.0.1:9730", "--state-dir", filepath.Join(h.dir, "state"))
	target := h.pair.Server.Forward(t, "127.0.0.1:9730")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tg := testprom.NewFakeTelegram(t)
	tmpl := t.TempDir()
	for _, f := range alerts.TemplateFiles {
		b, _ := alerts.FS.ReadFile(f)
		os.WriteFile(filepath.Join(tmpl, filepath.Base(f)), b, 0o644)
	}
	amCfg, err := alerts.AlertmanagerConfig(alerts.Config{BotToken: "123:fake", ChatID: 4242, TelegramAPIURL: tg.URL,
		TemplatesDir: tmpl, StatusInterval: 5 * time.Second, StatusGroupWait: time.Second,
		EventGroupWait: time.Second, EventGroupInterval: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	am := testprom.StartAlertmanager(t, string(amCfg))
	rules, err := alerts.Rules(60, time.Second) // every `for:` in seconds instead of minutes
	if err != nil {
		t.Fatal(err)
	}
	prom := testprom.StartPrometheus(t, fmt.Sprintf(`
global:
  scrape_interval: 1s
  evaluation_interval: 1s
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['%s']
scrape_configs:
  - job_name: port-traffic-dog
    static_configs:
      - targets: ['%s']
`, am.Addr, target), string(rules))
	if err := prom.WaitForTargetsUp(ctx, 1); err != nil {
		t.Fatal(err)
	}
	text := func(m testprom.TelegramMessage) string { return testprom.TelegramText(m.Text) }
	wait := func(what string, match func(string) bool) testprom.TelegramMessage {
		t.Helper()
		m, err := tg.WaitFor(ctx, func(m testprom.TelegramMessage) bool { return match(text(m)) })
		if err != nil {
			var got []string
			for _, m := range tg.Messages() {
				got = append(got, text(m))
			}
			t.Fatalf("no %s message: %v; got:\n%s", what, err, strings.Join(got, "\n---\n"))
		}
		return m
	}

	// ~85% of the quota (sum of both directions, IP bytes).
	if _, err := h.pair.TCP(testnet.ServerIP4, 443, 300_000, 40_000, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	warn := wait("quota warning", func(s string) bool { return strings.Contains(s, "Quota 80% used") && strings.Contains(s, "443") })
	if !strings.Contains(text(warn), "443 "+hostileRemark) || !strings.Contains(warn.Text, "&lt;b&gt;&amp;&#34;&#39;&lt;/b&gt;") {
		t.Errorf("warning lacks the escaped remark:\n%s", warn.Text)
	}

	// Past the quota: the transfer stalls when the kernel drops the port.
	h.pair.TCP(testnet.ServerIP4, 443, 300_000, 0, 3*time.Second)
	blocked := wait("block", func(s string) bool { return strings.Contains(s, "Port blocked") && strings.Contains(s, "443") })
	for _, want := range []string{"443 " + hostileRemark, "quota used up", "of 400kiB"} {
		if !strings.Contains(text(blocked), want) {
			t.Errorf("block message lacks %q:\n%s", want, text(blocked))
		}
	}
	report := wait("status report", func(s string) bool {
		return strings.Contains(s, "traffic report") && strings.Contains(s, "8080 other") && strings.Contains(s, "blocked: quota")
	})
	if !strings.Contains(text(report), "443 "+hostileRemark) {
		t.Errorf("status report lacks item 443:\n%s", text(report))
	}

	out, err := h.pair.Server.Output(filepath.Join(bin, "dog"), "--socket", filepath.Join(h.dir, "admin.sock"), "reset", "443")
	if err != nil {
		t.Fatalf("dog reset: %v\n%s", err, out)
	}
	wait("unblock", func(s string) bool { return strings.Contains(s, "Port unblocked") && strings.Contains(s, "443") })
	if _, err := h.pair.TCP(testnet.ServerIP4, 443, 10_000, 10_000, 5*time.Second); err != nil {
		t.Errorf("traffic after the reset: %v", err)
	}
	for _, m := range tg.Messages() {
		if m.Rejected != "" {
			t.Errorf("Telegram would reject: %s\n%s", m.Rejected, m.Text)
		}
	}

	// Every query of every dashboard panel, variables expanded, returns
	// data from this real exporter.
	qs, err := dashboards.Queries(dashboards.Vars{RateInterval: "4s", Interval: "1s", Range: "1m"})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		v, err := prom.Query(ctx, q.Expr)
		if err != nil {
			t.Errorf("%s / %s %s: %v", q.File, q.Panel, q.RefID, err)
		} else if len(v) == 0 {
			t.Errorf("%s / %s %s: no series for %s", q.File, q.Panel, q.RefID, q.Expr)
		}
	}
}
