package alerts_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"

	"port-traffic-dog/alerts"
	"port-traffic-dog/internal/testprom"
)

// The hostile remark of the issue: markup characters, both quotes, and
// Chinese. Prometheus passes it through verbatim; the template must escape
// it exactly once.
const hostile = `<b>&"'</b> 阿里云-香港`

var langs = []string{"en", "zh"}

// templatesDir writes the bundled templates where Alertmanager would find
// them.
func templatesDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range alerts.TemplateFiles {
		b, err := alerts.FS.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func loadTemplates(t *testing.T) (*template.Template, string) {
	t.Helper()
	dir := templatesDir(t)
	tmpl, err := template.FromGlobs([]string{filepath.Join(dir, "*.tmpl")})
	if err != nil {
		t.Fatalf("parsing templates with Alertmanager 0.35: %v", err)
	}
	tmpl.ExternalURL, _ = url.Parse("http://alertmanager.example:9093")
	return tmpl, dir
}

type testAlert struct {
	labels      map[string]string
	annotations map[string]string
	resolved    bool
}

// groupData builds what Alertmanager hands the template for one group: the
// alerts sorted as its dispatcher sorts them, common labels computed by
// Alertmanager's own code.
func groupData(tmpl *template.Template, receiver string, groupBy []string, as []testAlert) *template.Data {
	now := time.Now()
	var list alert.AlertSlice
	for _, a := range as {
		m := model.Alert{Labels: model.LabelSet{}, Annotations: model.LabelSet{}, StartsAt: now.Add(-time.Hour)}
		for k, v := range a.labels {
			m.Labels[model.LabelName(k)] = model.LabelValue(v)
		}
		for k, v := range a.annotations {
			m.Annotations[model.LabelName(k)] = model.LabelValue(v)
		}
		if a.resolved {
			m.EndsAt = now.Add(-time.Minute)
		}
		list = append(list, alert.New(m, now, false))
	}
	sort.Stable(list)
	gl := model.LabelSet{}
	if len(as) > 0 {
		for _, k := range groupBy {
			if v, ok := as[0].labels[k]; ok {
				gl[model.LabelName(k)] = model.LabelValue(v)
			}
		}
	}
	return tmpl.Data(receiver, gl, nil, "", list...)
}

func render(t *testing.T, tmpl *template.Template, lang string, data *template.Data) string {
	t.Helper()
	out, err := tmpl.ExecuteHTMLString(`{{ template "dog.telegram.`+lang+`" . }}`, data)
	if err != nil {
		t.Fatalf("rendering dog.telegram.%s: %v", lang, err)
	}
	return out
}

// checkMessage applies Telegram's rules and the stricter 0.25 one: the raw
// HTML, which 0.25 cuts at 4096 runes, must fit too.
func checkMessage(t *testing.T, what, msg string) {
	t.Helper()
	if err := testprom.CheckTelegramHTML(msg); err != nil {
		t.Errorf("%s: Telegram would refuse it: %v\n%s", what, err, msg)
	}
	// Runes for 0.25's cut; UTF-16 units because that is what the template
	// budget counts (it is the larger of the two).
	if n := len(utf16.Encode([]rune(msg))); n > testprom.TelegramMaxChars {
		t.Errorf("%s: %d UTF-16 units of HTML (%d runes); Alertmanager 0.25 cuts at %d runes", what, n, utf8.RuneCountInString(msg), testprom.TelegramMaxChars)
	}
	if strings.Contains(msg, "&amp;lt;") || strings.Contains(msg, "&amp;amp;") || strings.Contains(msg, "&amp;#") {
		t.Errorf("%s: escaped twice:\n%s", what, msg)
	}
}

func item(port, remark string) map[string]string {
	l := map[string]string{"instance": "vps1.example.com:9730", "job": "port-traffic-dog", "port": port}
	if remark != "" {
		l["remark"] = remark
	}
	return l
}

func with(l map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range l {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// statusAnnotations are what the DogStatusReport rule produces for a busy
// item (see the promtool test "status report small host").
func statusAnnotations() map[string]string {
	return map[string]string{
		"period_in": "1.5GiB", "period_out": "3.5GiB", "used": "5GiB", "quota": "100GiB", "percent": "5.0%",
		"rate_limit_in": "100Mbit/s", "rate_limit_out": "50Mbit/s",
		"next_reset": "2024-03-01 00:00 UTC", "expires": "2024-12-31 00:00 UTC", "blocked": "",
		"summary": "status report",
	}
}

// eventCases is one firing group per alert of rules.yml, annotated as the
// rules annotate them, plus the numbers a reader must find in the message.
func eventCases() []struct {
	name   string
	alerts []testAlert
	want   []string
} {
	q := map[string]string{"percent": "96.0%", "used": "96GiB", "quota": "100GiB", "next_reset": "2024-03-01 00:00 UTC"}
	host := map[string]string{"instance": "vps1.example.com:9730", "job": "port-traffic-dog"}
	return []struct {
		name   string
		alerts []testAlert
		want   []string
	}{
		{"DogQuotaUsage80", []testAlert{{labels: with(item("443", hostile), "alertname", "DogQuotaUsage80", "severity", "warning"), annotations: q}}, []string{"443", hostile, "96.0%", "96GiB", "100GiB", "2024-03-01 00:00 UTC"}},
		{"DogQuotaUsage95", []testAlert{{labels: with(item("443", hostile), "alertname", "DogQuotaUsage95", "severity", "warning"), annotations: q}}, []string{"443", hostile, "96.0%", "96GiB", "100GiB"}},
		{"DogQuotaExhausted", []testAlert{{labels: with(item("host", ""), "alertname", "DogQuotaExhausted", "severity", "critical"), annotations: q}}, []string{"96.0%", "96GiB", "100GiB"}},
		{"DogPortBlocked quota", []testAlert{{labels: with(item("5000-5100", hostile), "alertname", "DogPortBlocked", "severity", "critical", "reason", "quota"), annotations: map[string]string{"used": "100GiB", "quota": "100GiB", "next_reset": "2024-03-01 00:00 UTC"}}}, []string{"5000-5100", hostile, "100GiB", "2024-03-01 00:00 UTC"}},
		{"DogPortBlocked expired", []testAlert{{labels: with(item("443,5000-5100", "客户"), "alertname", "DogPortBlocked", "severity", "critical", "reason", "expired"), annotations: map[string]string{"expires": "2024-12-31 00:00 UTC"}}}, []string{"443,5000-5100", "客户", "2024-12-31 00:00 UTC"}},
		// After `dog reset`: the block ends, the group resolves.
		{"DogPortBlocked resolved", []testAlert{{labels: with(item("5000-5100", hostile), "alertname", "DogPortBlocked", "severity", "critical", "reason", "quota"), annotations: map[string]string{"used": "100GiB", "quota": "100GiB"}, resolved: true}}, []string{"en:✅ Port unblocked", "zh:✅ 端口已解封", "5000-5100 " + hostile}},
		{"DogQuotaUsage95 resolved", []testAlert{{labels: with(item("443", hostile), "alertname", "DogQuotaUsage95", "severity", "warning"), annotations: q, resolved: true}}, []string{"en:✅ Resolved: Quota 95% used", "zh:✅ 已恢复：流量已用 95%", "443 " + hostile}},
		{"DogQuotaReset", []testAlert{{labels: with(item("443", hostile), "alertname", "DogQuotaReset", "severity", "info"), annotations: map[string]string{"period_start": "2024-03-01 00:00 UTC", "next_reset": "2024-04-01 00:00 UTC", "quota": "100GiB"}}}, []string{"443", "2024-03-01 00:00 UTC", "2024-04-01 00:00 UTC", "100GiB"}},
		{"DogItemExpiringSoon", []testAlert{{labels: with(item("8443", "test"), "alertname", "DogItemExpiringSoon", "severity", "warning"), annotations: map[string]string{"expires": "1970-01-05 00:00 UTC", "expires_in": "2d 23h 55m 0s"}}}, []string{"8443", "1970-01-05 00:00 UTC", "2d 23h 55m 0s"}},
		{"DogItemExpired", []testAlert{{labels: with(item("8443", "test"), "alertname", "DogItemExpired", "severity", "critical"), annotations: map[string]string{"expires": "1970-01-05 00:00 UTC"}}}, []string{"8443", "1970-01-05 00:00 UTC"}},
		{"DogExporterDown", []testAlert{{labels: with(host, "alertname", "DogExporterDown", "severity", "critical")}}, []string{"vps1.example.com:9730"}},
		{"DogExporterMissing", []testAlert{{labels: with(host, "alertname", "DogExporterMissing", "severity", "warning")}}, []string{"vps1.example.com:9730"}},
		{"DogNoExporterTargets", []testAlert{{labels: map[string]string{"alertname": "DogNoExporterTargets", "severity": "critical", "job": "port-traffic-dog"}}}, []string{"port-traffic-dog"}},
		{"DogKernelTableUnreadable", []testAlert{{labels: with(host, "alertname", "DogKernelTableUnreadable", "severity", "critical")}}, []string{"nftables"}},
		{"DogEnforcerCheckpointStale", []testAlert{
			{labels: with(host, "alertname", "DogEnforcerCheckpointStale", "severity", "critical"), annotations: map[string]string{"checkpoint_age": "4m 0s"}},
		}, []string{"4m 0s"}},
		{"DogEnforcerOutOfSync", []testAlert{{labels: with(host, "alertname", "DogEnforcerOutOfSync", "severity", "critical")}}, []string{"en:2 min", "zh:2 分钟", "en:Enforcer cannot apply"}},
		{"DogEnforcerCheckpointErrors", []testAlert{{labels: with(host, "alertname", "DogEnforcerCheckpointErrors", "severity", "warning"), annotations: map[string]string{"errors": "2"}}}, []string{"2"}},
		{"DogStatusReport", []testAlert{
			{labels: with(item("443", hostile), "alertname", "DogStatusReport", "severity", "info"), annotations: statusAnnotations()},
			{labels: with(item("host", ""), "alertname", "DogStatusReport", "severity", "info"), annotations: map[string]string{"period_in": "10GiB", "period_out": "20GiB", "used": "20GiB", "quota": "1TiB", "percent": "2.0%"}},
			{labels: with(item("8080", ""), "alertname", "DogStatusReport", "severity", "info"), annotations: map[string]string{"period_in": "0B", "period_out": "1MiB", "used": "1MiB", "blocked": "expired,quota"}},
		}, []string{"443", hostile, "1.5GiB", "3.5GiB", "5GiB", "100GiB", "5.0%", "100Mbit/s", "50Mbit/s", "en:reset 03-01", "zh:03-01 重置", "2024-12-31", "10GiB", "20GiB", "1TiB", "2.0%", "8080", "0B", "1MiB", "en:blocked: expired,quota", "zh:已封禁：到期,超额", "en:whole host", "zh:整机"}},
		// A custom group_by that mixes alerts and hosts: every line names both.
		{"mixed group", []testAlert{
			{labels: with(item("443", hostile), "alertname", "DogQuotaUsage95", "severity", "warning"), annotations: q},
			{labels: with(item("22", "ssh"), "alertname", "DogPortBlocked", "severity", "critical", "reason", "quota", "instance", "vps2:9730"), annotations: map[string]string{"used": "1GiB", "quota": "1GiB"}},
			{labels: map[string]string{"alertname": "SomeoneElsesAlert", "severity": "warning", "instance": "db1:9100"}, annotations: map[string]string{"summary": "Disk < 10% & falling"}},
		}, []string{"vps1.example.com:9730", "vps2:9730", "db1:9100", "96.0%", "1GiB", "Disk < 10% & falling"}},
	}
}

func TestEventMessagesRender(t *testing.T) {
	tmpl, _ := loadTemplates(t)
	for _, c := range eventCases() {
		for _, lang := range langs {
			t.Run(c.name+"/"+lang, func(t *testing.T) {
				data := groupData(tmpl, "telegram", []string{"instance", "alertname"}, c.alerts)
				msg := render(t, tmpl, lang, data)
				checkMessage(t, c.name, msg)
				text := testprom.TelegramText(msg)
				for _, w := range c.want {
					if l, rest, ok := strings.Cut(w, ":"); ok && (l == "en" || l == "zh") {
						if l != lang {
							continue
						}
						w = rest
					}
					if !strings.Contains(text, w) {
						t.Errorf("message lacks %q:\n%s", w, text)
					}
				}
				if inst := data.CommonLabels["instance"]; !strings.Contains(strings.SplitN(text, "\n", 2)[0], inst) {
					t.Errorf("the first line does not name the server %q:\n%s", inst, text)
				}
			})
		}
	}
}

// numbers extracts what must be equal in both languages: every token that
// starts with a digit (sizes, percentages, rates, dates, times, ports,
// counts, durations).
var numberRe = regexp.MustCompile(`[0-9][0-9A-Za-z.%/:,-]*`)

func numbers(s string) []string {
	n := numberRe.FindAllString(s, -1)
	sort.Strings(n)
	return n
}

// TestLanguagesCarrySameInformation: the English and the Chinese message of
// every case hold the same numbers, remarks and server names.
func TestLanguagesCarrySameInformation(t *testing.T) {
	tmpl, _ := loadTemplates(t)
	for _, c := range eventCases() {
		t.Run(c.name, func(t *testing.T) {
			data := groupData(tmpl, "telegram", []string{"instance", "alertname"}, c.alerts)
			en := testprom.TelegramText(render(t, tmpl, "en", data))
			zh := testprom.TelegramText(render(t, tmpl, "zh", data))
			if !slices.Equal(numbers(en), numbers(zh)) {
				t.Errorf("numbers differ:\nen %q\nzh %q\n%s\n%s", numbers(en), numbers(zh), en, zh)
			}
			for _, a := range c.alerts {
				for _, l := range []string{"remark", "instance"} {
					if v := a.labels[l]; v != "" && v != "-" && strings.Contains(en, v) != strings.Contains(zh, v) {
						t.Errorf("%s %q appears in one language only:\n%s\n%s", l, v, en, zh)
					}
				}
			}
		})
	}
}

// statusItems makes n status-report alerts for one host, paged like the
// rule pages them (by the ports spec's last digit) when page is true.
func statusItems(n int, instance string, page bool, port func(i int) string, remark func(i int) string) []testAlert {
	var as []testAlert
	for i := 0; i < n; i++ {
		l := map[string]string{"alertname": "DogStatusReport", "severity": "info", "instance": instance, "job": "port-traffic-dog", "port": port(i), "remark": remark(i)}
		if page {
			l["page"] = l["port"][len(l["port"])-1:]
		}
		// A realistic mix: symmetric limits, an asymmetric one with an
		// expiry date, an item without quota or limit, a blocked one.
		a := statusAnnotations()
		switch (i / 10) % 4 { // every page gets every kind
		case 0:
			a["rate_limit_out"], a["expires"] = a["rate_limit_in"], ""
		case 1:
			// everything: asymmetric limits and an expiry date
		case 2:
			for _, k := range []string{"quota", "percent", "rate_limit_in", "rate_limit_out", "expires"} {
				delete(a, k)
			}
		case 3:
			a["used"], a["percent"], a["blocked"], a["expires"] = "100GiB", "100.0%", "quota", ""
			a["rate_limit_out"] = a["rate_limit_in"]
		}
		as = append(as, testAlert{labels: l, annotations: a})
	}
	return as
}

// byGroup splits alerts into Alertmanager groups by the label values of groupBy.
func byGroup(as []testAlert, groupBy ...string) [][]testAlert {
	idx := map[string]int{}
	var out [][]testAlert
	for _, a := range as {
		var k []string
		for _, g := range groupBy {
			k = append(k, a.labels[g])
		}
		key := strings.Join(k, "\xff")
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], a)
	}
	return out
}

var moreRe = regexp.MustCompile(`(?:… and|…… 还有) ([0-9]+) (?:more|项)\s*$`)

// shown counts the item lines of a status message and the "… and N more".
func shown(t *testing.T, text string) (lines, more int) {
	t.Helper()
	body := strings.Split(strings.TrimSpace(text), "\n")[1:]
	if m := moreRe.FindStringSubmatch(text); m != nil {
		body = body[:len(body)-1]
		fmt.Sscan(m[1], &more)
	}
	return len(body), more
}

// TestStatusReport300Items: 300 items with realistic remarks, paged as the
// rule pages them, arrive complete in ten messages; on one page (no paging)
// they are summarized with "… and N more" and N is exact; with the
// most hostile labels possible every message still fits.
func TestStatusReport300Items(t *testing.T) {
	tmpl, _ := loadTemplates(t)
	port := func(i int) string { return fmt.Sprint(10001 + i) }
	remark := func(i int) string {
		return []string{"阿里云-香港 客户%03d", "AWS Tokyo <jp> #%d", "Tom & Jerry's \"relay\" %d", "搬瓦工 CN2 GIA %d", "game-%d"}[(i/10)%5] // every page gets every remark
	}
	realistic := func(i int) string { return fmt.Sprintf(remark(i), i) }
	for _, lang := range langs {
		t.Run("paged/"+lang, func(t *testing.T) {
			groups := byGroup(statusItems(300, "vps1.example.com:9730", true, port, realistic), "instance", "page")
			if len(groups) != 10 {
				t.Fatalf("%d pages, want 10", len(groups))
			}
			total := 0
			for _, g := range groups {
				msg := render(t, tmpl, lang, groupData(tmpl, "telegram-quiet", []string{"instance", "page"}, g))
				checkMessage(t, "page", msg)
				text := testprom.TelegramText(msg)
				lines, more := shown(t, text)
				if more != 0 || lines != len(g) {
					t.Errorf("page of %d items shows %d lines and %d more:\n%s", len(g), lines, more, text)
				}
				for _, a := range g {
					if !strings.Contains(text, a.labels["port"]+" "+a.labels["remark"]) {
						t.Errorf("item %s %q missing:\n%s", a.labels["port"], a.labels["remark"], text)
						break
					}
				}
				total += lines
			}
			if total != 300 {
				t.Errorf("%d item lines in all pages, want 300", total)
			}
		})
		t.Run("one page/"+lang, func(t *testing.T) {
			g := statusItems(300, "vps1.example.com:9730", false, port, realistic)
			msg := render(t, tmpl, lang, groupData(tmpl, "telegram-quiet", []string{"instance", "page"}, g))
			checkMessage(t, "300 items on one page", msg)
			lines, more := shown(t, testprom.TelegramText(msg))
			if more == 0 || lines+more != 300 {
				t.Errorf("%d lines + %d more, want 300 with a summary", lines, more)
			}
			if lines < 20 {
				t.Errorf("only %d lines fit; the budget is too small", lines)
			}
		})
		t.Run("worst case/"+lang, func(t *testing.T) {
			// Every character of every label one the escaper expands five-fold.
			evil := strings.Repeat(`"&'<>+`, 20)
			g := statusItems(300, evil, false, func(int) string { return evil }, func(int) string { return evil })
			for i := range g {
				for k := range g[i].annotations {
					if k != "blocked" {
						g[i].annotations[k] = evil
					}
				}
			}
			msg := render(t, tmpl, lang, groupData(tmpl, "telegram-quiet", []string{"instance", "page"}, g))
			checkMessage(t, "worst case", msg)
			if len(msg) > testprom.TelegramMaxChars {
				t.Errorf("%d bytes", len(msg))
			}
		})
	}
}

// TestEventMessagesAlwaysFit: a host-wide event group with 300 firing and
// 300 resolved items, normal and hostile, never exceeds the limit.
func TestEventMessagesAlwaysFit(t *testing.T) {
	tmpl, _ := loadTemplates(t)
	evil := strings.Repeat(`"&'<>+`, 20)
	for _, name := range []string{"normal", "hostile"} {
		for _, lang := range langs {
			t.Run(name+"/"+lang, func(t *testing.T) {
				var as []testAlert
				for i := 0; i < 600; i++ {
					l := with(item(fmt.Sprint(20000+i), fmt.Sprintf("客户 %d & co", i)), "alertname", "DogQuotaUsage80", "severity", "warning")
					a := map[string]string{"percent": "85.0%", "used": "85GiB", "quota": "100GiB", "next_reset": "2024-03-01 00:00 UTC"}
					if name == "hostile" {
						l["instance"], l["port"], l["remark"] = evil, evil, evil
						l["port"] += fmt.Sprint(i)
						for k := range a {
							a[k] = evil
						}
					}
					as = append(as, testAlert{labels: l, annotations: a, resolved: i%2 == 1})
				}
				msg := render(t, tmpl, lang, groupData(tmpl, "telegram", []string{"instance", "alertname"}, as))
				checkMessage(t, "600 events", msg)
				if len(msg) > testprom.TelegramMaxChars {
					t.Errorf("%d bytes", len(msg))
				}
				text := testprom.TelegramText(msg)
				if !moreRe.MatchString(strings.Split(text, "\n✅")[0]) || !moreRe.MatchString(text) {
					t.Errorf("no \"more\" summary in the firing or the resolved part:\n%s", text)
				}
			})
		}
	}
}
