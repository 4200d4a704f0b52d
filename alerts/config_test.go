package alerts_test

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/notify/telegram"
	"github.com/prometheus/alertmanager/notify/webhook"
	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"port-traffic-dog/alerts"
	"port-traffic-dog/internal/testprom"
)

func bundled(t *testing.T, name string) string {
	t.Helper()
	b, err := alerts.FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func load(t *testing.T, what, cfg string) *config.Config {
	t.Helper()
	c, err := config.Load(cfg)
	if err != nil {
		t.Fatalf("%s does not load in Alertmanager 0.35: %v", what, err)
	}
	return c
}

func route(t *testing.T, c *config.Config, alertname string) *config.Route {
	t.Helper()
	for _, r := range c.Route.Routes {
		for _, m := range r.Matchers {
			if m.Name == "alertname" && m.Matches(alertname) {
				return r
			}
		}
	}
	return c.Route
}

func TestBundledAlertmanagerConfig(t *testing.T) {
	c := load(t, "alertmanager.yml", bundled(t, "alertmanager.yml"))

	if got := c.Global.TelegramAPIUrl.String(); got != "https://api.telegram.org" {
		t.Errorf("telegram_api_url %s", got)
	}
	if len(c.Templates) != 1 || c.Templates[0] != alerts.TemplatesDir+"/*.tmpl" {
		t.Errorf("templates %v, want the Debian templates dir", c.Templates)
	}
	sendResolved := map[string]bool{"telegram": true, "telegram-quiet": false}
	for _, r := range c.Receivers {
		if r.Name == "silent" {
			if len(r.TelegramConfigs)+len(r.EmailConfigs)+len(r.WebhookConfigs) != 0 {
				t.Errorf("receiver silent notifies: %+v", r)
			}
			continue
		}
		want, ok := sendResolved[r.Name]
		if !ok || len(r.TelegramConfigs) != 1 {
			t.Errorf("unexpected receiver %q", r.Name)
			continue
		}
		tc := r.TelegramConfigs[0]
		if tc.ParseMode != "HTML" || tc.SendResolved() != want || tc.Message != `{{ template "dog.telegram.en" . }}` || tc.BotToken == "" || tc.ChatID == 0 {
			t.Errorf("receiver %s: %+v", r.Name, tc)
		}
	}

	// Events at once, per host and alert.
	if r := c.Route; r.Receiver != "telegram" || !reflect.DeepEqual(r.GroupByStr, []string{"instance", "alertname"}) || time.Duration(*r.GroupWait) > 30*time.Second {
		t.Errorf("root route %+v", r)
	}
	// The status report every status interval, per host and page.
	st := route(t, c, "DogStatusReport")
	if st.Receiver != "telegram-quiet" || !reflect.DeepEqual(st.GroupByStr, []string{"instance", "page"}) ||
		time.Duration(*st.GroupInterval) != alerts.DefaultStatusInterval ||
		time.Duration(*st.RepeatInterval) != alerts.StatusRepeatInterval(alerts.DefaultStatusInterval) {
		t.Errorf("status route %+v", st)
	}
	if r := route(t, c, "DogQuotaReset"); r.Receiver != "telegram-quiet" {
		t.Errorf("resets go to %s, want the receiver without resolved messages", r.Receiver)
	}
	if r := route(t, c, "DogPortBlocked"); r != c.Route {
		t.Errorf("DogPortBlocked is caught by a sub-route %+v", r)
	}
	// A one-off request (dog notify test/report) is a group of its own, sent
	// at once, even when it is a status report.
	oneOff := c.Route.Routes[0]
	if !labels.Matchers(oneOff.Matchers).Matches(model.LabelSet{"alertname": "DogStatusReport", "dog_request": "x1"}) ||
		labels.Matchers(oneOff.Matchers).Matches(model.LabelSet{"alertname": "DogStatusReport"}) ||
		oneOff.Receiver != "telegram-quiet" || !reflect.DeepEqual(oneOff.GroupByStr, []string{"instance", "page", "dog_request"}) ||
		time.Duration(*oneOff.GroupWait) > time.Second {
		t.Errorf("one-off route %+v", oneOff)
	}
}

// TestInhibition evaluates the bundled inhibit rules the way Alertmanager
// does (source and target matchers, equal labels): blocked hides used-up,
// 95% and 80%; used-up hides 95% and 80%; 95% hides 80%; only for the same
// host and ports spec; nothing hides the status report.
func TestInhibition(t *testing.T) {
	c := load(t, "alertmanager.yml", bundled(t, "alertmanager.yml"))
	ls := func(name, instance, port string, kv ...string) model.LabelSet {
		l := model.LabelSet{"alertname": model.LabelValue(name), "instance": model.LabelValue(instance), "port": model.LabelValue(port)}
		for i := 0; i < len(kv); i += 2 {
			l[model.LabelName(kv[i])] = model.LabelValue(kv[i+1])
		}
		return l
	}
	inhibits := func(src, tgt model.LabelSet) bool {
		for _, r := range c.InhibitRules {
			if labels.Matchers(r.SourceMatchers).Matches(src) && labels.Matchers(r.TargetMatchers).Matches(tgt) {
				eq := true
				for _, l := range r.Equal {
					if src[model.LabelName(l)] != tgt[model.LabelName(l)] {
						eq = false
					}
				}
				if eq {
					return true
				}
			}
		}
		return false
	}
	blocked := ls("DogPortBlocked", "a:9730", "443", "reason", "quota")
	cases := []struct {
		src, tgt model.LabelSet
		want     bool
	}{
		{blocked, ls("DogQuotaExhausted", "a:9730", "443"), true},
		{blocked, ls("DogQuotaUsage95", "a:9730", "443"), true},
		{blocked, ls("DogQuotaUsage80", "a:9730", "443"), true},
		{blocked, ls("DogItemExpired", "a:9730", "443"), false},
		{ls("DogPortBlocked", "a:9730", "443", "reason", "expired"), ls("DogItemExpired", "a:9730", "443"), true},
		{ls("DogQuotaExhausted", "a:9730", "443"), ls("DogQuotaUsage95", "a:9730", "443"), true},
		{ls("DogQuotaExhausted", "a:9730", "443"), ls("DogQuotaUsage80", "a:9730", "443"), true},
		{ls("DogQuotaUsage95", "a:9730", "443"), ls("DogQuotaUsage80", "a:9730", "443"), true},
		{ls("DogQuotaUsage80", "a:9730", "443"), ls("DogQuotaUsage95", "a:9730", "443"), false},
		{ls("DogQuotaUsage95", "a:9730", "443"), ls("DogQuotaUsage80", "a:9730", "8443"), false},
		{ls("DogQuotaUsage95", "a:9730", "443"), ls("DogQuotaUsage80", "b:9730", "443"), false},
		{blocked, ls("DogStatusReport", "a:9730", "443"), false},
		{blocked, ls("DogQuotaReset", "a:9730", "443"), false},
	}
	for _, k := range cases {
		if got := inhibits(k.src, k.tgt); got != k.want {
			t.Errorf("%s inhibits %s: %v, want %v", k.src, k.tgt, got, k.want)
		}
	}
}

func TestAlertmanagerConfigRender(t *testing.T) {
	b, err := alerts.AlertmanagerConfig(alerts.Config{
		BotToken: "123456:ABC-def_ghi", ChatID: -100987, Language: "zh",
		StatusInterval: time.Hour, TelegramAPIURL: "http://127.0.0.1:8081/tg", TemplatesDir: "/opt/dog/tmpl",
		EventGroupWait: time.Second, EventGroupInterval: 2 * time.Second, StatusGroupWait: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := load(t, "rendered config", string(b))
	for _, r := range c.Receivers {
		if r.Name == "silent" {
			continue
		}
		tc := r.TelegramConfigs[0]
		if string(tc.BotToken) != "123456:ABC-def_ghi" || tc.ChatID != -100987 || tc.Message != `{{ template "dog.telegram.zh" . }}` {
			t.Errorf("receiver %s not rendered: %+v", r.Name, tc)
		}
		if tc.APIUrl.String() != "http://127.0.0.1:8081/tg" {
			t.Errorf("api url %s", tc.APIUrl)
		}
	}
	if c.Templates[0] != "/opt/dog/tmpl/*.tmpl" {
		t.Errorf("templates %v", c.Templates)
	}
	st := route(t, c, "DogStatusReport")
	if time.Duration(*st.GroupInterval) != time.Hour || time.Duration(*st.RepeatInterval) != 50*time.Minute || time.Duration(*st.GroupWait) != 3*time.Second {
		t.Errorf("status route %v %v %v", st.GroupInterval, st.RepeatInterval, st.GroupWait)
	}
	if time.Duration(*c.Route.GroupWait) != time.Second || time.Duration(*c.Route.GroupInterval) != 2*time.Second {
		t.Errorf("event route %v %v", c.Route.GroupWait, c.Route.GroupInterval)
	}

	b, err = alerts.AlertmanagerConfig(alerts.Config{BotTokenFile: "/etc/prometheus/telegram_bot_token"})
	if err != nil {
		t.Fatal(err)
	}
	c = load(t, "config with bot_token_file", string(b))
	for _, r := range c.Receivers {
		if r.Name == "silent" {
			continue
		}
		if tc := r.TelegramConfigs[0]; tc.BotTokenFile != "/etc/prometheus/telegram_bot_token" || tc.BotToken != "" {
			t.Errorf("receiver %s: token %q file %q", r.Name, tc.BotToken, tc.BotTokenFile)
		}
	}

	// Report off, e-mail beside Telegram in both receivers.
	b, err = alerts.AlertmanagerConfig(alerts.Config{StatusOff: true, Email: &alerts.Email{
		Smarthost: "smtp.example.com:587", From: "dog@example.com", To: "o'neil@example.com",
		AuthUsername: "dog", AuthPasswordFile: "/etc/prometheus/smtp_password"}})
	if err != nil {
		t.Fatal(err)
	}
	c = load(t, "config with e-mail", string(b))
	if r := route(t, c, "DogStatusReport"); r.Receiver != "silent" {
		t.Errorf("report off: status route goes to %s", r.Receiver)
	}
	if g := c.Global; g.SMTPSmarthost.String() != "smtp.example.com:587" || g.SMTPFrom != "dog@example.com" || g.SMTPAuthUsername != "dog" || g.SMTPAuthPasswordFile != "/etc/prometheus/smtp_password" {
		t.Errorf("smtp globals %+v", g)
	}
	for _, r := range c.Receivers {
		if r.Name == "silent" {
			continue
		}
		if len(r.EmailConfigs) != 1 || r.EmailConfigs[0].To != "o'neil@example.com" || r.EmailConfigs[0].SendResolved() != r.TelegramConfigs[0].SendResolved() {
			t.Errorf("receiver %s e-mail %+v", r.Name, r.EmailConfigs)
		}
	}

	for _, bad := range []alerts.Config{
		{Email: &alerts.Email{Smarthost: "h:25", To: "a@b"}}, // no from
		{Email: &alerts.Email{Smarthost: "h:25", From: "a@b", To: "a@b\nx"}},
		{BotToken: "not a token'"},
		{BotToken: "1:a", BotTokenFile: "/x"},
		{BotTokenFile: "relative/path"},
		{Language: "fr"},
		{TelegramAPIURL: "ftp://x"},
		{TemplatesDir: "/tmp/*"},
		{StatusInterval: time.Millisecond},
	} {
		if _, err := alerts.AlertmanagerConfig(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestStatusRepeatInterval: for every documented status interval the repeat
// interval is shorter than the status interval by a margin that outlasts a
// Telegram call, and not by so much that a second report could slip in.
func TestStatusRepeatInterval(t *testing.T) {
	for _, s := range alerts.StatusIntervals {
		r := alerts.StatusRepeatInterval(s)
		if m := s - r; m < 10*time.Second || m > s/6 || r <= 0 {
			t.Errorf("status %s: repeat %s", s, r)
		}
	}
	if r := alerts.StatusRepeatInterval(6 * time.Hour); r != 5*time.Hour+50*time.Minute {
		t.Errorf("6h: %s, and alertmanager.yml says 5h50m", r)
	}
}

// TestTokenFileExampleMatchesBundled keeps examples/telegram-bot-token-file.yml
// equal to alertmanager.yml apart from where the token comes from.
func TestTokenFileExampleMatchesBundled(t *testing.T) {
	b, err := alerts.AlertmanagerConfig(alerts.Config{BotTokenFile: "/etc/prometheus/telegram_bot_token"})
	if err != nil {
		t.Fatal(err)
	}
	want := load(t, "rendered", string(b))
	got := load(t, "examples/telegram-bot-token-file.yml", bundled(t, "examples/telegram-bot-token-file.yml"))
	if !reflect.DeepEqual(got.Route, want.Route) || !reflect.DeepEqual(got.Receivers, want.Receivers) ||
		!reflect.DeepEqual(got.InhibitRules, want.InhibitRules) || !reflect.DeepEqual(got.Templates, want.Templates) {
		t.Error("examples/telegram-bot-token-file.yml differs from alertmanager.yml beyond bot_token_file")
	}
}

func examples(t *testing.T) []string {
	t.Helper()
	names, err := fs.Glob(alerts.FS, "examples/*.yml")
	if err != nil || len(names) < 5 {
		t.Fatalf("examples: %v %v", names, err)
	}
	return names
}

func TestExamplesLoad(t *testing.T) {
	for _, name := range examples(t) {
		c := load(t, name, bundled(t, name))
		if len(c.InhibitRules) == 0 {
			t.Errorf("%s has no inhibit rules", name)
		}
	}
}

// deliverOnce runs one notification through a real Alertmanager 0.35
// notifier: n.Notify with the context the dispatcher would give it.
func notifyCtx(receiver string, groupLabels model.LabelSet) context.Context {
	ctx := notify.WithGroupKey(context.Background(), "{}:"+groupLabels.String())
	ctx = notify.WithReceiverName(ctx, receiver)
	ctx = notify.WithGroupLabels(ctx, groupLabels)
	ctx = notify.WithNotificationReason(ctx, notify.ReasonFirstNotification)
	return notify.WithNow(ctx, time.Now())
}

func amAlerts(as []testAlert) []*alert.Alert {
	var out []*alert.Alert
	for _, a := range as {
		m := model.Alert{Labels: model.LabelSet{}, Annotations: model.LabelSet{}, StartsAt: time.Now().Add(-time.Hour)}
		for k, v := range a.labels {
			m.Labels[model.LabelName(k)] = model.LabelValue(v)
		}
		for k, v := range a.annotations {
			m.Annotations[model.LabelName(k)] = model.LabelValue(v)
		}
		if a.resolved {
			m.EndsAt = time.Now().Add(-time.Minute)
		}
		out = append(out, alert.New(m, time.Now(), false))
	}
	return out
}

// TestWebhookPayloadExamples sends an alert through the Feishu and DingTalk
// examples with Alertmanager 0.35's webhook notifier and checks that the
// body is the bot's own JSON with the text intact.
func TestWebhookPayloadExamples(t *testing.T) {
	tmpl, _ := loadTemplates(t)
	for _, k := range []struct {
		file string
		text func(map[string]any) (string, bool)
	}{
		{"examples/webhook-feishu.yml", func(b map[string]any) (string, bool) {
			c, _ := b["content"].(map[string]any)
			s, ok := c["text"].(string)
			return s, ok && b["msg_type"] == "text" && len(b) == 2
		}},
		{"examples/webhook-dingtalk.yml", func(b map[string]any) (string, bool) {
			c, _ := b["text"].(map[string]any)
			s, ok := c["content"].(string)
			return s, ok && b["msgtype"] == "text" && len(b) == 2
		}},
	} {
		t.Run(k.file, func(t *testing.T) {
			bodies := make(chan []byte, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				bodies <- b
				io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
			}))
			defer srv.Close()
			c := load(t, k.file, bundled(t, k.file))
			var wc *webhook.WebhookConfig
			for _, r := range c.Receivers {
				if len(r.WebhookConfigs) > 0 {
					wc = r.WebhookConfigs[0]
				}
			}
			urlFile := filepath.Join(t.TempDir(), "url")
			if err := os.WriteFile(urlFile, []byte(srv.URL+"/robot/send?access_token=x\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			wc.URLFile = urlFile
			n, err := webhook.New(wc, tmpl, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			summary := `Port 443 (` + hostile + `) on vps1:9730 has used 96.0% of its traffic quota.`
			as := []testAlert{{labels: with(item("443", hostile), "alertname", "DogQuotaUsage95", "severity", "warning"), annotations: map[string]string{"summary": summary}}}
			if v := n.Notify(notifyCtx("x", model.LabelSet{"instance": "vps1.example.com:9730", "alertname": "DogQuotaUsage95"}), amAlerts(as)...); v.Err() != nil {
				t.Fatal(v.Err())
			}
			var body map[string]any
			if err := json.Unmarshal(<-bodies, &body); err != nil {
				t.Fatal(err)
			}
			text, ok := k.text(body)
			if !ok || !strings.HasPrefix(text, "Port Traffic Dog [FIRING] DogQuotaUsage95 vps1.example.com:9730\n") || !strings.Contains(text, summary) {
				t.Errorf("payload %v", body)
			}
		})
	}
}

// TestTelegramNotifier sends the hardest messages through Alertmanager
// 0.35's own Telegram notifier to the fake Bot API: the notifier renders
// with html/template, measures the message as Telegram would and would
// replace an over-long one with an error text; the fake refuses what
// Telegram would refuse.
func TestTelegramNotifier(t *testing.T) {
	tg := testprom.NewFakeTelegram(t)
	b, err := alerts.AlertmanagerConfig(alerts.Config{BotToken: "42:test", ChatID: 777, TelegramAPIURL: tg.URL})
	if err != nil {
		t.Fatal(err)
	}
	c := load(t, "rendered", string(b))
	tmpl, _ := loadTemplates(t)
	evil := strings.Repeat(`"&'<>+`, 20)
	cases := map[string][]testAlert{}
	for _, c := range eventCases() {
		cases[c.name] = c.alerts
	}
	cases["300 hostile items"] = statusItems(300, "vps1:9730", false, func(i int) string { return evil + string(rune('0'+i%10)) }, func(int) string { return evil })
	for _, lang := range langs {
		tc := *c.Receivers[0].TelegramConfigs[0]
		tc.Message = `{{ template "dog.telegram.` + lang + `" . }}`
		n, err := telegram.New(&tc, tmpl, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		for name, as := range cases {
			before := len(tg.Messages())
			gl := model.LabelSet{"instance": model.LabelValue(as[0].labels["instance"]), "alertname": model.LabelValue(as[0].labels["alertname"])}
			if v := n.Notify(notifyCtx("telegram", gl), amAlerts(as)...); v.Err() != nil {
				t.Errorf("%s/%s: %v", name, lang, v.Err())
				continue
			}
			msgs := tg.Messages()[before:]
			if len(msgs) != 1 {
				t.Fatalf("%s/%s: %d messages", name, lang, len(msgs))
			}
			m := msgs[0]
			if m.Rejected != "" || m.ChatID != "777" || m.ParseMode != "HTML" || m.Token != "42:test" || strings.Contains(m.Text, "could not be sent") {
				t.Errorf("%s/%s: %+v", name, lang, m)
			}
		}
	}
}

// TestRulesRewrite: Rules divides every `for` and sets the status group's
// interval, and changes nothing else.
func TestRulesRewrite(t *testing.T) {
	type rules struct {
		Groups []struct {
			Name     string `yaml:"name"`
			Interval string `yaml:"interval"`
			Rules    []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
				For   string `yaml:"for"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	parse := func(b []byte) rules {
		var r rules
		if err := yaml.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	orig := parse([]byte(bundled(t, "rules.yml")))
	b, err := alerts.Rules(60, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got := parse(b)
	n := 0
	for gi, g := range got.Groups {
		if g.Name == "port-traffic-dog.status" {
			if g.Interval != "1s" || orig.Groups[gi].Interval != "1m" {
				t.Errorf("status interval %q (bundled %q)", g.Interval, orig.Groups[gi].Interval)
			}
		} else if g.Interval != "" {
			t.Errorf("group %s has interval %q", g.Name, g.Interval)
		}
		for ri, r := range g.Rules {
			n++
			o := orig.Groups[gi].Rules[ri]
			want := map[string]string{"0s": "0s", "1m": "1s", "2m": "2s", "5m": "5s"}[o.For]
			if want == "" || r.For != want || r.Expr != o.Expr {
				t.Errorf("%s: for %q from %q", r.Alert, r.For, o.For)
			}
		}
	}
	if n != 15 {
		t.Errorf("%d rules, want 15", n)
	}
	b, err = alerts.Rules(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "interval:") || strings.Replace(bundled(t, "rules.yml"), "    interval: 1m\n", "\n", 1) != string(b) {
		t.Error("Rules(1, 0) should keep every for and only drop the status interval")
	}
	if _, err := alerts.Rules(0, -1); err == nil {
		t.Error("speedup 0 accepted")
	}
}
