package notify

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"port-traffic-dog/internal/testutil"
)

// An operator's file: other jobs, comments everywhere, odd indentation,
// a list of rule files, an Alertmanager elsewhere, no trailing newline.
const busyProm = `# my prometheus — hand-edited, keep my comments
global:
  scrape_interval:     15s   # fast
  evaluation_interval: 15s

# alerts go to the ops alertmanager
alerting:
  alertmanagers:
  - static_configs:
    - targets: ['ops.example.com:9093']   # shared
    # a comment inside the list

rule_files:
    - /etc/prometheus/rules/node.yml   # node rules
    # - disabled.yml

scrape_configs:
  # myself
  - job_name: 'prometheus'
    static_configs:
      - targets: ['localhost:9090']

  - job_name: node   # node_exporter
    static_configs:
      - targets: ['localhost:9100']
        labels: {instance: 'web-1'}

# trailing comment at the end`

var promCases = map[string]string{
	"busy":           busyProm,
	"empty":          "",
	"comments only":  "# nothing yet\n",
	"debian":         debianProm(),
	"no alerting":    "global:\n  scrape_interval: 30s\nscrape_configs:\n  - job_name: x\n    static_configs:\n      - targets: ['a:1']\n",
	"alerting empty": "alerting:\n# later\nrule_files:\nscrape_configs:\n",
	"alertmanagers missing": "alerting:\n  alert_relabel_configs:\n    - action: labeldrop\n      regex: replica\n" +
		"scrape_configs:\n- job_name: a\n  static_configs:\n  - targets: ['a:1']\n",
	"indent 4": "scrape_configs:\n    -   job_name: a\n        static_configs:\n            -   targets: ['a:1']\n",
}

func debianProm() string {
	b, err := os.ReadFile("/etc/prometheus/prometheus.yml")
	if err != nil {
		return busyProm
	}
	return string(b)
}

var testProm = PromSettings{ServerName: "edge-1 'quoted' 服务器", ExporterAddr: "127.0.0.1:9730", AlertmanagerAddr: "127.0.0.1:9093", RulesFile: "/etc/prometheus/rules/port-traffic-dog.yml"}

// TestEditPrometheus: every other line and comment stays byte for byte (the
// result without dog's blocks is the input), a second run changes nothing,
// a run with other settings replaces dog's lines only, and the result has
// the job, the instance label, the rule file and an Alertmanager target.
func TestEditPrometheus(t *testing.T) {
	promtool, _ := exec.LookPath("promtool")
	for name, src := range promCases {
		t.Run(name, func(t *testing.T) {
			out, err := editPrometheus(src, testProm)
			if err != nil {
				t.Fatal(err)
			}
			base, got, err := stripManaged(out)
			if err != nil {
				t.Fatal(err)
			}
			want := src
			if want != "" && !strings.HasSuffix(want, "\n") {
				want += "\n"
			}
			if base != want {
				t.Errorf("the operator's lines changed:\n--- in\n%s\n--- out\n%s", src, out)
			}
			if got.ServerName != testProm.ServerName || got.ExporterAddr != testProm.ExporterAddr {
				t.Errorf("read back %+v", got)
			}
			again, err := editPrometheus(out, testProm)
			if err != nil || again != out {
				t.Errorf("second run changed the file (err %v):\n%s\n---\n%s", err, out, again)
			}
			other := testProm
			other.ServerName, other.ExporterAddr, other.AlertmanagerAddr = "edge-2", "10.0.0.2:9730", "127.0.0.1:19093"
			changed, err := editPrometheus(out, other)
			if err != nil {
				t.Fatal(err)
			}
			if fresh, _ := editPrometheus(src, other); changed != fresh {
				t.Errorf("a changed setting is not the same as a fresh run:\n%s\n---\n%s", changed, fresh)
			}

			var cfg struct {
				Alerting struct {
					Alertmanagers []struct {
						StaticConfigs []struct{ Targets []string } `yaml:"static_configs"`
					} `yaml:"alertmanagers"`
				} `yaml:"alerting"`
				RuleFiles     []string `yaml:"rule_files"`
				ScrapeConfigs []struct {
					JobName       string `yaml:"job_name"`
					StaticConfigs []struct {
						Targets []string
						Labels  map[string]string
					} `yaml:"static_configs"`
				} `yaml:"scrape_configs"`
			}
			if err := yaml.Unmarshal([]byte(out), &cfg); err != nil {
				t.Fatalf("result does not parse: %v\n%s", err, out)
			}
			jobs := 0
			for _, j := range cfg.ScrapeConfigs {
				if j.JobName == JobName {
					jobs++
					if sc := j.StaticConfigs[0]; sc.Targets[0] != "127.0.0.1:9730" || sc.Labels["instance"] != testProm.ServerName {
						t.Errorf("job %+v", j)
					}
				}
			}
			if jobs != 1 {
				t.Errorf("%d port-traffic-dog jobs", jobs)
			}
			if !strings.Contains(strings.Join(cfg.RuleFiles, "\n"), testProm.RulesFile) {
				t.Errorf("rule files %v", cfg.RuleFiles)
			}
			var ams []string
			for _, a := range cfg.Alerting.Alertmanagers {
				for _, s := range a.StaticConfigs {
					ams = append(ams, s.Targets...)
				}
			}
			if !strings.Contains(strings.Join(ams, " "), "9093") {
				t.Errorf("no Alertmanager target on 9093: %v", ams)
			}
			if name == "debian" && strings.Contains(out, "'127.0.0.1:9093'") {
				t.Error("Debian's localhost:9093 is the same Alertmanager; a second target was added")
			}
			if promtool != "" {
				p := filepath.Join(t.TempDir(), "prometheus.yml")
				os.WriteFile(p, []byte(out), 0o644)
				if b, err := exec.Command(promtool, "check", "config", "--syntax-only", p).CombinedOutput(); err != nil {
					t.Errorf("promtool: %v\n%s\n%s", err, b, out)
				}
			}
		})
	}
}

func TestEditPrometheusRefuses(t *testing.T) {
	for name, c := range map[string]struct{ src, want string }{
		"flow list":     {"rule_files: ['a.yml']\n", "line 1: rule_files is a flow list"},
		"scalar value":  {"scrape_configs: nope\n", "line 1: scrape_configs is not a list"},
		"foreign job":   {"scrape_configs:\n  - job_name: x\n  - job_name: port-traffic-dog\n", "line 3: a scrape job \"port-traffic-dog\""},
		"unclosed":      {"a: 1\n# BEGIN port-traffic-dog: x\nb: 2\n", "line 2"},
		"stray end":     {"a: 1\n# END port-traffic-dog\n", "line 2"},
		"two documents": {"a: 1\n---\nb: 2\n", "several YAML documents"},
		"not yaml":      {"a: [\n", "not valid YAML"},
		"null on line":  {"rule_files: ~\n", "line 1: rule_files has the value \"~\""},
		// Breaks only YAML sees: the blocks once went into the wrong
		// lists (the rule file into scrape_configs).
		"line separator": {"# a note\u2028\nrule_files:\n  - a.yml\nscrape_configs:\n  - job_name: node\n", "line 1: contains U+2028"},
		"next line":      {"global:\n  # x\u0085y\n  scrape_interval: 15s\n", "line 2: contains U+0085"},
		"lone CR":        {"a: 1\r# b\nrule_files:\n", "line 1: contains CR"},
		"CRLF is fine":   {"rule_files: 5\r\n", "line 1: rule_files is not a list"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := editPrometheus(c.src, testProm)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one with %q", err, c.want)
			}
		})
	}
}

// TestPromtoolAcceptsDebianResult runs the real promtool on the edited
// Debian sample, rules and all (not only the syntax).
func TestPromtoolAcceptsDebianResult(t *testing.T) {
	promtool := testutil.RequireBinary(t, "promtool")
	dir := t.TempDir()
	s := testProm
	s.RulesFile = filepath.Join(dir, "rules", "port-traffic-dog.yml")
	out, err := editPrometheus(debianProm(), s)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(s.RulesFile), 0o755)
	rules, _ := os.ReadFile("../../alerts/rules.yml")
	os.WriteFile(s.RulesFile, rules, 0o644)
	p := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(p, []byte(out), 0o644)
	if b, err := exec.Command(promtool, "check", "config", p).CombinedOutput(); err != nil {
		t.Errorf("promtool: %v\n%s", err, b)
	}
}
