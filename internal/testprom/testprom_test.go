package testprom_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/alerts"
	"port-traffic-dog/internal/testprom"
)

const hostile = `<b>&"'</b> 阿里云-香港`

// fakeExporter serves a few port_traffic_dog_* series the way dog-exporter
// would for one host: item 443 (hostile remark) at 85% of its quota with
// rate limits, item 8443 at 96%, and the whole-host item. The checkpoint
// follows the clock so the enforcer looks alive.
func fakeExporter(t *testing.T) *httptest.Server {
	const gib = 1 << 30
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		remark := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(hostile)
		fmt.Fprintf(w, `# TYPE port_traffic_dog_info gauge
port_traffic_dog_info{port="443",remark="%s",protocols="tcp+udp",billing="sum"} 1
port_traffic_dog_info{port="8443",remark="backup",protocols="tcp",billing="out"} 1
port_traffic_dog_info{port="host",remark="",protocols="tcp+udp",billing="max"} 1
# TYPE port_traffic_dog_period_bytes gauge
port_traffic_dog_period_bytes{port="443",direction="in"} %d
port_traffic_dog_period_bytes{port="443",direction="out"} %d
port_traffic_dog_period_bytes{port="8443",direction="in"} 0
port_traffic_dog_period_bytes{port="8443",direction="out"} %d
port_traffic_dog_period_bytes{port="host",direction="in"} %d
port_traffic_dog_period_bytes{port="host",direction="out"} %d
# TYPE port_traffic_dog_quota_used_bytes gauge
port_traffic_dog_quota_used_bytes{port="443"} %d
port_traffic_dog_quota_used_bytes{port="8443"} %d
port_traffic_dog_quota_used_bytes{port="host"} %d
# TYPE port_traffic_dog_quota_bytes gauge
port_traffic_dog_quota_bytes{port="443"} %d
port_traffic_dog_quota_bytes{port="8443"} %d
# TYPE port_traffic_dog_blocked gauge
port_traffic_dog_blocked{port="443",reason="quota"} 0
port_traffic_dog_blocked{port="8443",reason="quota"} 0
# TYPE port_traffic_dog_rate_limit_bytes_per_second gauge
port_traffic_dog_rate_limit_bytes_per_second{port="443",direction="in"} 12500000
port_traffic_dog_rate_limit_bytes_per_second{port="443",direction="out"} 12500000
# TYPE port_traffic_dog_next_reset_timestamp_seconds gauge
port_traffic_dog_next_reset_timestamp_seconds{port="443"} 1709251200
port_traffic_dog_next_reset_timestamp_seconds{port="8443"} 1709251200
# TYPE port_traffic_dog_last_reset_timestamp_seconds gauge
port_traffic_dog_last_reset_timestamp_seconds{port="443"} 1706745600
port_traffic_dog_last_reset_timestamp_seconds{port="8443"} 1706745600
# TYPE port_traffic_dog_items gauge
port_traffic_dog_items 2
# TYPE port_traffic_dog_up gauge
port_traffic_dog_up 1
# TYPE port_traffic_dog_checkpoint_timestamp_seconds gauge
port_traffic_dog_checkpoint_timestamp_seconds %d
`, remark, 34*gib, 51*gib, 96*gib, 200*gib, 300*gib, 85*gib, 96*gib, 300*gib, 100*gib, 100*gib, time.Now().Unix())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestAlertPath proves the whole notification path with real processes:
// Prometheus 2.42 scrapes a fake exporter and evaluates the bundled rules;
// two Alertmanager 0.25 instances, one with the English and one with the
// Chinese templates, send through the bundled configuration to a fake
// Telegram. The quota warnings arrive (95% inhibiting 80% for 8443), so do
// status reports, repeated at the status interval, and the hostile remark
// is escaped exactly once.
func TestAlertPath(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	tg := testprom.NewFakeTelegram(t)
	exporter := fakeExporter(t)

	tmplDir := t.TempDir()
	for _, f := range alerts.TemplateFiles {
		b, err := alerts.FS.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmplDir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const statusInterval = 4 * time.Second
	chats := map[string]string{"en": "1001", "zh": "1002"}
	var ams []string
	for _, lang := range []string{"en", "zh"} {
		cfg, err := alerts.AlertmanagerConfig(alerts.Config{
			BotToken: "123:fake", ChatID: map[string]int64{"en": 1001, "zh": 1002}[lang], Language: lang,
			TelegramAPIURL: tg.URL, TemplatesDir: tmplDir,
			StatusInterval: statusInterval, StatusGroupWait: time.Second,
			EventGroupWait: time.Second, EventGroupInterval: 2 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		am := testprom.StartAlertmanager(t, string(cfg))
		ams = append(ams, am.Addr)
		if lang == "en" {
			defer func() {
				if t.Failed() {
					return
				}
				// 8443 is at 96%: its 80% alert must be inhibited, not sent.
				as, err := am.Alerts(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				for _, a := range as {
					if a.Labels["alertname"] == "DogQuotaUsage80" && a.Labels["port"] == "8443" && (a.Status.State != "suppressed" || len(a.Status.InhibitedBy) == 0) {
						t.Errorf("80%% alert of 8443 is %s, want inhibited: %+v", a.Status.State, a)
					}
				}
			}()
		}
	}

	rules, err := alerts.Rules(60, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	target := strings.TrimPrefix(exporter.URL, "http://")
	prom := testprom.StartPrometheus(t, fmt.Sprintf(`
global:
  scrape_interval: 1s
  evaluation_interval: 1s
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['%s', '%s']
scrape_configs:
  - job_name: port-traffic-dog
    static_configs:
      - targets: ['%s']
`, ams[0], ams[1], target), string(rules))
	if err := prom.WaitForTargetsUp(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if v, err := prom.Query(ctx, `port_traffic_dog_quota_used_bytes{port="443"} / port_traffic_dog_quota_bytes`); err != nil || len(v) != 1 || v[0].Value != 0.85 {
		t.Fatalf("query: %v %v", v, err)
	}

	text := func(m testprom.TelegramMessage) string { return testprom.TelegramText(m.Text) }
	for lang, chat := range chats {
		warning, status := map[string]string{"en": "Quota 80% used", "zh": "流量已用 80%"}[lang], map[string]string{"en": "traffic report", "zh": "流量报告"}[lang]
		m, err := tg.WaitFor(ctx, func(m testprom.TelegramMessage) bool {
			return m.ChatID == chat && strings.Contains(text(m), warning)
		})
		if err != nil {
			t.Fatalf("%s quota warning: %v\n%+v", lang, err, tg.Messages())
		}
		if !strings.Contains(text(m), "443 "+hostile) || !strings.Contains(text(m), "85.0%") || !strings.Contains(text(m), target) {
			t.Errorf("%s quota warning lacks the item, its remark, the number or the server:\n%s", lang, m.Text)
		}
		if strings.Contains(text(m), "8443") {
			t.Errorf("%s: the 80%% warning lists 8443, which is at 95%% (inhibition):\n%s", lang, m.Text)
		}
		if !strings.Contains(m.Text, "&lt;b&gt;&amp;&#34;&#39;&lt;/b&gt;") {
			t.Errorf("%s: remark not escaped exactly once:\n%s", lang, m.Text)
		}
		if _, err := tg.WaitFor(ctx, func(m testprom.TelegramMessage) bool {
			return m.ChatID == chat && strings.Contains(text(m), map[string]string{"en": "Quota 95% used", "zh": "流量已用 95%"}[lang]) && strings.Contains(text(m), "8443 backup")
		}); err != nil {
			t.Fatalf("%s 95%% warning: %v", lang, err)
		}

		isStatus := func(m testprom.TelegramMessage) bool { return m.ChatID == chat && strings.Contains(text(m), status) }
		first, err := tg.WaitFor(ctx, isStatus)
		if err != nil {
			t.Fatalf("%s status report: %v\n%+v", lang, err, tg.Messages())
		}
		for _, want := range []string{target, "443 " + hostile, "34GiB", "51GiB", "85GiB/100GiB 85.0%", "100Mbit/s", "03-01", "8443 backup", "96GiB/100GiB 96.0%", map[string]string{"en": "whole host", "zh": "整机"}[lang], "300GiB"} {
			if !strings.Contains(text(first), want) {
				t.Errorf("%s status report lacks %q:\n%s", lang, want, text(first))
			}
		}
		if lines := strings.Count(strings.TrimSpace(text(first)), "\n"); lines != 3 {
			t.Errorf("%s status report has %d item lines, want 3:\n%s", lang, lines, text(first))
		}
	}

	// The route repeats the report every status interval: wait for the
	// next one in each chat.
	count := func(chat string) int {
		n := 0
		for _, m := range tg.Messages() {
			if m.ChatID == chat && strings.Contains(text(m), "📊") {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(3 * statusInterval)
	for count("1001") < 2 || count("1002") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("status reports in %s: en %d, zh %d; want a second one", 3*statusInterval, count("1001"), count("1002"))
		}
		time.Sleep(200 * time.Millisecond)
	}

	for _, m := range tg.Messages() {
		if m.Rejected != "" || m.Token != "123:fake" || m.ParseMode != "HTML" {
			t.Errorf("bad sendMessage: %+v", m)
		}
	}
	if bad, err := prom.RuleHealth(ctx); err != nil || len(bad) > 0 {
		t.Errorf("rule evaluation errors: %v %v", bad, err)
	}
	as, err := prom.Alerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		for k, v := range a.Annotations {
			if strings.Contains(v, "error expanding template") || strings.Contains(v, "<no value>") {
				t.Errorf("%s annotation %s: %s", a.Labels["alertname"], k, v)
			}
		}
	}
}

// TestCheckTelegramHTML: the fake's HTML check refuses what Telegram refuses.
func TestCheckTelegramHTML(t *testing.T) {
	ok := []string{
		"<b>x</b> &lt;b&gt;&amp;&#34;&#39;&quot; 阿里云",
		`<a href="https://x">y</a><code>1</code><pre>p</pre><i>i</i><em>e</em><u>u</u><s>s</s><strong>s</strong>`,
		strings.Repeat("界", 4096),
		strings.Repeat("&amp;", 4096),
	}
	bad := []string{
		"<b>x", "x</b>", "<b><i>x</b></i>", "<div>x</div>", "<br>", "a < b", "a > b", "a & b", "&nbsp;", "&#0;",
		strings.Repeat("x", 4097), strings.Repeat("🚫", 2049), "\xff",
	}
	for _, s := range ok {
		if err := testprom.CheckTelegramHTML(s); err != nil {
			t.Errorf("%.40q refused: %v", s, err)
		}
	}
	for _, s := range bad {
		if err := testprom.CheckTelegramHTML(s); err == nil {
			t.Errorf("%.40q accepted", s)
		}
	}
	if got := testprom.TelegramText("<b>a</b> &lt;&amp;&#34;&#x41;&quot;"); got != `a <&"A"` {
		t.Errorf("TelegramText: %q", got)
	}
}

// TestProcessesAreCleanedUp: a started server is gone once its test ends,
// and its port is free again.
func TestProcessesAreCleanedUp(t *testing.T) {
	var addr string
	t.Run("inner", func(t *testing.T) {
		am := testprom.StartAlertmanager(t, "route:\n  receiver: x\nreceivers:\n  - name: x\n")
		addr = am.Addr
	})
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port %s still taken after cleanup: %v", addr, err)
	}
	l.Close()
}
