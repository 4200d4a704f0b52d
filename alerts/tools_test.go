package alerts_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"port-traffic-dog/alerts"
	"port-traffic-dog/internal/testprom"
	"port-traffic-dog/internal/testutil"
)

func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestPromtool runs Debian's promtool (Prometheus 2.42) on the bundled
// rules: they load, and every unit test in tests.yml passes.
func TestPromtool(t *testing.T) {
	promtool := testutil.RequireBinary(t, "promtool")
	if out, err := run(t, nil, promtool, "check", "rules", "rules.yml"); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
	// The rules print dates in the server's time zone; tests.yml expects UTC.
	if out, err := run(t, []string{"TZ=UTC"}, promtool, "test", "rules", "tests.yml"); err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
}

// TestEveryRuleIsTested: each alert of rules.yml is expected to fire in at
// least one promtool test case, so a new rule cannot ship untested.
func TestEveryRuleIsTested(t *testing.T) {
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal([]byte(bundled(t, "rules.yml")), &rules); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal([]byte(bundled(t, "tests.yml")), &tests); err != nil {
		t.Fatal(err)
	}
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			}
		}
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			n++
			if !fires[r.Alert] {
				t.Errorf("no promtool test expects %s to fire", r.Alert)
			}
		}
	}
	if n == 0 {
		t.Fatal("no rules parsed")
	}
}

var versionRe = regexp.MustCompile(`version (\d+)\.(\d+)\.`)

// minorVersion returns the minor version of an Alertmanager 0.x binary.
func minorVersion(t *testing.T, bin string) int {
	t.Helper()
	out, _ := run(t, nil, bin, "--version")
	m := versionRe.FindStringSubmatch(out)
	if m == nil || m[1] != "0" {
		t.Fatalf("cannot read the version of %s: %q", bin, out)
	}
	v, _ := strconv.Atoi(m[2])
	return v
}

var requiresRe = regexp.MustCompile(`(?m)^# Requires Alertmanager >= 0\.(\d+)`)

// TestAmtool runs Debian's amtool (Alertmanager 0.25) on the bundled config,
// with the templates in place so that 0.25 parses them too, and on every
// example: those whose header says they need a newer Alertmanager must be
// refused, the others accepted — the headers are checked, not trusted.
func TestAmtool(t *testing.T) {
	amtool := testutil.RequireBinary(t, "amtool")
	have := minorVersion(t, amtool)
	dir := templatesDir(t)
	cfg, err := alerts.AlertmanagerConfig(alerts.Config{TemplatesDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"alertmanager.yml": bundled(t, "alertmanager.yml"), "alertmanager.yml with templates": string(cfg)}
	for _, name := range examples(t) {
		files[name] = bundled(t, name)
	}
	for name, content := range files {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "am.yml")
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := run(t, nil, amtool, "check-config", p)
			need := 25
			if m := requiresRe.FindStringSubmatch(content); m != nil {
				need, _ = strconv.Atoi(m[1])
			} else if strings.HasPrefix(name, "examples/") {
				t.Errorf("%s has no '# Requires Alertmanager >= 0.N' header", name)
			}
			switch {
			case have >= need && err != nil:
				t.Errorf("amtool 0.%d refuses it: %v\n%s", have, err, out)
			case have < need && err == nil:
				t.Errorf("says it needs Alertmanager 0.%d, but amtool 0.%d accepts it:\n%s", need, have, out)
			case strings.Contains(name, "templates") && !strings.Contains(out, "1 templates"):
				t.Errorf("templates not found by amtool:\n%s", out)
			}
		})
	}
}

// TestTemplatesRenderAlikeIn025 renders the hardest cases with Debian's
// Alertmanager 0.25 (amtool template render, html mode, as its Telegram
// notifier does) and requires byte-identical output to 0.35's: the
// templates use nothing 0.25 lacks and escape the same way.
func TestTemplatesRenderAlikeIn025(t *testing.T) {
	amtool := testutil.RequireBinary(t, "amtool")
	tmpl, dir := loadTemplates(t)
	cases := map[string][]testAlert{}
	for _, c := range eventCases() {
		cases[c.name] = c.alerts
	}
	evil := strings.Repeat(`"&'<>+`, 20)
	cases["300 items"] = statusItems(300, "vps1:9730", false, func(i int) string { return fmt.Sprint(10001 + i) }, func(i int) string { return fmt.Sprintf("阿里云 <%d> & co", i) })
	cases["300 hostile items"] = statusItems(300, evil, false, func(i int) string { return evil + fmt.Sprint(i) }, func(int) string { return evil })
	var resolved []testAlert
	for i := 0; i < 300; i++ {
		resolved = append(resolved, testAlert{labels: with(item(fmt.Sprint(20000+i), hostile), "alertname", "DogPortBlocked", "severity", "critical", "reason", "quota"), resolved: i%3 == 0})
	}
	cases["300 events half resolved"] = resolved
	for name, as := range cases {
		for _, lang := range langs {
			t.Run(name+"/"+lang, func(t *testing.T) {
				data := groupData(tmpl, "telegram", []string{"instance", "alertname"}, as)
				want := render(t, tmpl, lang, data)
				js, err := json.Marshal(data)
				if err != nil {
					t.Fatal(err)
				}
				dataFile := filepath.Join(t.TempDir(), "data.json")
				if err := os.WriteFile(dataFile, js, 0o600); err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(amtool, "template", "render", "--no-version-check",
					"--template.glob="+filepath.Join(dir, "*.tmpl"), "--template.type=html",
					"--template.data="+dataFile, `--template.text={{ template "dog.telegram.`+lang+`" . }}`)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				got, err := cmd.Output()
				if err != nil {
					t.Fatalf("amtool template render: %v\n%s", err, stderr.String())
				}
				if g := strings.TrimSuffix(string(got), "\n"); g != want {
					t.Errorf("Alertmanager 0.25 renders differently:\n--- 0.25\n%s\n--- 0.35\n%s", g, want)
				}
				checkMessage(t, name, want)
			})
		}
	}
}

// TestDebianAlertmanagerStarts: Debian's Alertmanager 0.25 starts with the
// bundled configuration exactly as shipped (templates glob included).
func TestDebianAlertmanagerStarts(t *testing.T) {
	am := testprom.StartAlertmanager(t, bundled(t, "alertmanager.yml"))
	if strings.Contains(am.Log(), "level=error") {
		t.Errorf("errors in the log:\n%s", am.Log())
	}
}

// queryFormatRe finds the PromQL format strings the annotations pass to query.
var queryFormatRe = regexp.MustCompile(`printf ("(?:[^"\\]|\\.)*")[^|}]*\| query`)

// TestRulesUseTheContract: every metric the rules select, in expressions
// and in annotation queries, is in docs/METRICS.md with the labels used
// (plus Prometheus's own `up`).
func TestRulesUseTheContract(t *testing.T) {
	c, err := testprom.MetricsContract("../docs/METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	c["up"] = nil
	known := map[string]bool{"instance": true, "job": true}
	for _, ls := range c {
		for _, l := range ls {
			known[l] = true
		}
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal([]byte(bundled(t, "rules.yml")), &rules); err != nil {
		t.Fatal(err)
	}
	queries := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs := []string{r.Expr}
			for _, a := range r.Annotations {
				for _, m := range queryFormatRe.FindAllStringSubmatch(a, -1) {
					f, err := strconv.Unquote(m[1])
					if err != nil {
						t.Fatalf("%s: %v", r.Alert, err)
					}
					exprs = append(exprs, strings.ReplaceAll(f, "%q", `"x"`))
					queries++
				}
			}
			for _, e := range exprs {
				metrics, grouping, err := testprom.PromQLRefs(e)
				if err != nil {
					t.Errorf("%s: %v", r.Alert, err)
				}
				for m, labels := range metrics {
					allowed, ok := c[m]
					if !ok {
						t.Errorf("%s: %s is not in docs/METRICS.md", r.Alert, m)
					}
					for _, l := range labels {
						if l != "instance" && l != "job" && !slices.Contains(allowed, l) {
							t.Errorf("%s: %s has no label %q", r.Alert, m, l)
						}
					}
				}
				for _, l := range grouping {
					if !known[l] {
						t.Errorf("%s: label %q exists on no metric", r.Alert, l)
					}
				}
			}
		}
	}
	if queries < 20 {
		t.Errorf("found only %d annotation queries; has the annotation style changed?", queries)
	}
}

// TestDeployPrometheusExamples: Debian's promtool accepts the scrape
// configurations in deploy/prometheus, with the bundled rules and the
// example targets file where the configs expect them.
func TestDeployPrometheusExamples(t *testing.T) {
	promtool := testutil.RequireBinary(t, "promtool")
	files, err := filepath.Glob("../deploy/prometheus/prometheus.*.yml")
	if err != nil || len(files) < 2 {
		t.Fatalf("deploy/prometheus examples: %v %v", files, err)
	}
	targets, err := os.ReadFile("../deploy/prometheus/file_sd/hosts.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			root := t.TempDir()
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg := strings.ReplaceAll(string(b), "/etc/prometheus/", root+"/")
			for name, data := range map[string]string{
				"prometheus.yml":                             cfg,
				"rules/port-traffic-dog.yml":                 bundled(t, "rules.yml"),
				"file_sd/port-traffic-dog/hosts.example.yml": string(targets),
			} {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out, err := run(t, nil, promtool, "check", "config", filepath.Join(root, "prometheus.yml"))
			if err != nil || !strings.Contains(out, "SUCCESS: 15 rules found") {
				t.Errorf("promtool check config: %v\n%s", err, out)
			}
		})
	}
}
