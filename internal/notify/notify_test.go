package notify

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"

	"port-traffic-dog/internal/testutil"
)

const testToken = "1234567:AAH-secret_Token0123456789abcdefXYZ"

type host struct {
	t     *testing.T
	dir   string
	paths Paths
	out   bytes.Buffer
}

// newHost is a /etc/prometheus of its own with Debian's two files (or
// busyProm when the packages' files are absent) and the tools required.
func newHost(t *testing.T) *host {
	t.Helper()
	testutil.RequireRoot(t) // chown root:prometheus
	testutil.RequireBinary(t, "promtool")
	testutil.RequireBinary(t, "amtool")
	testutil.RequireBinary(t, "prometheus-alertmanager", "alertmanager")
	if _, err := user.LookupGroup("prometheus"); err != nil {
		t.Skip("no group prometheus (package prometheus not installed)")
	}
	dir := t.TempDir()
	h := &host{t: t, dir: dir, paths: Paths{PrometheusConfig: filepath.Join(dir, "prometheus.yml"), AlertmanagerConfig: filepath.Join(dir, "alertmanager.yml")}}
	if err := os.WriteFile(h.paths.PrometheusConfig, []byte(busyProm), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile("/etc/prometheus/alertmanager.yml"); err == nil {
		os.WriteFile(h.paths.AlertmanagerConfig, b, 0o644)
	}
	return h
}

func (h *host) env() *Env {
	return &Env{Out: &h.out, Msg: MessagesFor("en"), Now: time.Now}
}

func (h *host) telegram(o TelegramOptions) error {
	o.Paths = h.paths
	return Telegram(context.Background(), h.env(), o)
}

// snapshot is every file under the host's directory with its mode.
func (h *host) snapshot() map[string]string {
	h.t.Helper()
	m := map[string]string{}
	filepath.WalkDir(h.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, _ := d.Info()
		b, _ := os.ReadFile(p)
		st := fi.Sys().(*syscall.Stat_t)
		m[p] = fi.Mode().String() + " " + strconv.Itoa(int(st.Uid)) + ":" + strconv.Itoa(int(st.Gid)) + " " + fi.ModTime().String() + "\n" + string(b)
		return nil
	})
	return m
}

func sameSnapshot(t *testing.T, what string, a, b map[string]string) {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("%s: %d files before, %d after", what, len(a), len(b))
	}
	for p, v := range a {
		if b[p] != v {
			t.Errorf("%s: %s changed", what, p)
		}
	}
}

// TestTelegramSetup: the first run writes everything (keeping a backup of
// Debian's sample), secrets 0640 root:prometheus; the second run changes
// nothing, not even a modification time; a changed setting rewrites; the
// token is in no output and no world-readable file.
func TestTelegramSetup(t *testing.T) {
	h := newHost(t)
	opts := TelegramOptions{ChatID: "-1001234567890", Token: testToken, ServerName: "edge-1", Language: "zh", ReportEvery: "1h", AlertmanagerAddr: "127.0.0.1:19093"}
	if err := h.telegram(opts); err != nil {
		t.Fatalf("%v\n%s", err, h.out.String())
	}
	am, err := os.ReadFile(h.paths.AlertmanagerConfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"chat_id: -1001234567890", `dog.telegram.zh`, "group_interval: 1h       # status_interval", h.paths.TemplatesDir() + "/*.tmpl", "bot_token: '" + testToken + "'"} {
		if !strings.Contains(string(am), want) {
			t.Errorf("alertmanager.yml lacks %q", want)
		}
	}
	g, _ := user.LookupGroup("prometheus")
	for p, want := range map[string]fs.FileMode{h.paths.AlertmanagerConfig: 0o640, h.paths.RulesFile(): 0o644, filepath.Join(h.paths.TemplatesDir(), "telegram.zh.tmpl"): 0o644, h.paths.PrometheusConfig: 0o644} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		if p == h.paths.AlertmanagerConfig && strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Gid)) != g.Gid {
			t.Errorf("%s: not group prometheus", p)
		}
	}
	backups, _ := filepath.Glob(h.paths.AlertmanagerConfig + ".dog-backup-*")
	if _, err := os.Stat("/etc/prometheus/alertmanager.yml"); err == nil && len(backups) != 1 {
		t.Errorf("Debian's sample replaced without a backup: %v", backups)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(h.dir, ".dog-*")); len(leftovers) > 0 {
		t.Errorf("staging left behind: %v", leftovers)
	}
	checkTokenPlaces(t, h.dir, testToken)

	// Second run, same flags (and one with no flags but the paths): nothing
	// changes.
	before := h.snapshot()
	h.out.Reset()
	if err := h.telegram(opts); err != nil {
		t.Fatal(err)
	}
	if err := h.telegram(TelegramOptions{}); err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, "second run", before, h.snapshot())
	if !strings.Contains(h.out.String(), "nothing to change") {
		t.Errorf("second run says:\n%s", h.out.String())
	}

	// A changed interval, then off.
	if err := h.telegram(TelegramOptions{ReportEvery: "off"}); err != nil {
		t.Fatal(err)
	}
	am, _ = os.ReadFile(h.paths.AlertmanagerConfig)
	if !strings.Contains(string(am), "- receiver: silent   # status_receiver") || !strings.Contains(string(am), "dog.telegram.zh") {
		t.Errorf("report off not written, or the language was lost:\n%s", am)
	}
	var status bytes.Buffer
	if err := Status(context.Background(), &Env{Out: &status, Msg: MessagesFor("en"), Now: time.Now}, h.paths); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-1001234567890", "edge-1", "status report every    off", "message language       zh", "127.0.0.1:19093"} {
		if !strings.Contains(status.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, status.String())
		}
	}
	if strings.Contains(status.String()+h.out.String(), "secret_Token") {
		t.Error("the token is in the output")
	}
	// In Chinese too the values line up: a label is padded by screen
	// columns (two a Chinese character), not by characters.
	var zh bytes.Buffer
	if err := Status(context.Background(), &Env{Out: &zh, Msg: MessagesFor("zh"), Now: time.Now}, h.paths); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(zh.String()), "\n")
	if len(lines) < 10 {
		t.Fatalf("zh status:\n%s", zh.String())
	}
	for _, l := range lines {
		label := runewidth.Truncate(l, 22, "")
		if runewidth.StringWidth(label) != 22 || len(l) < len(label)+2 || l[len(label)] != ' ' || l[len(label)+1] == ' ' {
			t.Errorf("zh status: a value does not start at column 24 (%q):\n%s", l, zh.String())
			break
		}
	}
}

// checkTokenPlaces: every file holding the token is 0640 (or stricter)
// root:prometheus or 0600 root.
func checkTokenPlaces(t *testing.T, dir, token string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if !bytes.Contains(b, []byte(token)) {
			return nil
		}
		fi, _ := d.Info()
		if fi.Mode().Perm()&0o007 != 0 {
			t.Errorf("%s holds the token and is world-accessible (%v)", p, fi.Mode())
		}
		return nil
	})
}

// TestTelegramRefuses: a foreign alertmanager.yml without --force, a chat
// id that is not a number, a bad interval, a config promtool rejects: each
// is an error naming the problem and changes nothing.
func TestTelegramRefuses(t *testing.T) {
	h := newHost(t)
	foreign := "# mine\nroute:\n  receiver: x\nreceivers:\n  - name: x\n"
	os.WriteFile(h.paths.AlertmanagerConfig, []byte(foreign), 0o644)
	good := TelegramOptions{ChatID: "42", Token: testToken}
	for name, c := range map[string]struct {
		o    TelegramOptions
		want string
	}{
		"foreign":        {good, "was not written by dog: add --force"},
		"chat name":      {TelegramOptions{ChatID: "@mychannel", Token: testToken, Force: true}, "only numeric chat ids"},
		"no chat":        {TelegramOptions{Token: testToken, Force: true}, "--chat-id is required"},
		"no token":       {TelegramOptions{ChatID: "42", Force: true}, "no bot token"},
		"bad token":      {TelegramOptions{ChatID: "42", Token: "x" + testToken, Force: true}, "does not look like"},
		"interval short": {TelegramOptions{ChatID: "42", Token: testToken, ReportEvery: "30s", Force: true}, "--report-every \"30s\""},
		"interval long":  {TelegramOptions{ChatID: "42", Token: testToken, ReportEvery: "25h", Force: true}, "1m to 24h"},
		"lang":           {TelegramOptions{ChatID: "42", Token: testToken, Language: "fr", Force: true}, "--message-lang"},
		"exporter":       {TelegramOptions{ChatID: "42", Token: testToken, ExporterAddr: "nohost", Force: true}, "--exporter-address"},
		// In every message and in prometheus.yml: the rule of remarks (a
		// U+2028 is a line break to YAML, U+202E reverses what follows).
		"name line separator": {TelegramOptions{ChatID: "42", Token: testToken, ServerName: "edge\u2028one", Force: true}, "--server-name"},
		"name bidi override":  {TelegramOptions{ChatID: "42", Token: testToken, ServerName: "edge\u202e1-egde", Force: true}, "--server-name"},
	} {
		t.Run(name, func(t *testing.T) {
			before := h.snapshot()
			err := h.telegram(c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret_Token") {
				t.Errorf("the error repeats the token: %v", err)
			}
			sameSnapshot(t, name, before, h.snapshot())
		})
	}

	// Without the packages' programs it names the packages and changes
	// nothing (it installs none).
	t.Run("no packages", func(t *testing.T) {
		t.Setenv("PATH", t.TempDir())
		before := h.snapshot()
		err := h.telegram(TelegramOptions{ChatID: "42", Token: testToken, Force: true})
		if err == nil || !strings.Contains(err.Error(), "apt install prometheus prometheus-alertmanager") {
			t.Errorf("error %v", err)
		}
		sameSnapshot(t, "no packages", before, h.snapshot())
	})

	// promtool rejects the operator's file: nothing is written, not even
	// the rules or templates.
	bad := strings.Replace(busyProm, "scrape_interval:     15s", "scrape_interval:     banana", 1)
	os.WriteFile(h.paths.PrometheusConfig, []byte(bad), 0o644)
	before := h.snapshot()
	err := h.telegram(TelegramOptions{ChatID: "42", Token: testToken, Force: true})
	if err == nil || !strings.Contains(err.Error(), "validation failed, nothing was changed") || !strings.Contains(err.Error(), "banana") {
		t.Errorf("error %v", err)
	}
	sameSnapshot(t, "failed validation", before, h.snapshot())

	// --force keeps a backup of the foreign file.
	os.WriteFile(h.paths.PrometheusConfig, []byte(busyProm), 0o644)
	if err := h.telegram(TelegramOptions{ChatID: "42", Token: testToken, Force: true}); err != nil {
		t.Fatal(err)
	}
	backups, _ := filepath.Glob(h.paths.AlertmanagerConfig + ".dog-backup-*")
	if len(backups) != 1 {
		t.Fatalf("backups %v", backups)
	}
	if b, _ := os.ReadFile(backups[0]); string(b) != foreign {
		t.Errorf("backup holds %q", b)
	}
}

// TestEmail: e-mail beside Telegram in both receivers, the password in a
// 0640 root:prometheus file, validated by amtool; off removes it.
func TestEmail(t *testing.T) {
	h := newHost(t)
	ctx := context.Background()
	if err := Email(ctx, h.env(), EmailOptions{Paths: h.paths, Smarthost: "smtp.example.com:587", From: "a@example.com", To: "b@example.com"}); err == nil || !strings.Contains(err.Error(), "dog notify telegram") {
		t.Errorf("e-mail before Telegram: %v", err)
	}
	if err := h.telegram(TelegramOptions{ChatID: "42", Token: testToken}); err != nil {
		t.Fatal(err)
	}
	if err := Email(ctx, h.env(), EmailOptions{Paths: h.paths, Smarthost: "smtp.example.com:587", To: "b@example.com"}); err == nil || !strings.Contains(err.Error(), "--from") {
		t.Errorf("no --from: %v", err)
	}
	err := Email(ctx, h.env(), EmailOptions{Paths: h.paths, Smarthost: "smtp.example.com:587", From: "dog@example.com", To: "ops@example.com", AuthUsername: "dog", AuthPassword: "pa55word"})
	if err != nil {
		t.Fatalf("%v\n%s", err, h.out.String())
	}
	am, _ := os.ReadFile(h.paths.AlertmanagerConfig)
	if strings.Count(string(am), "email_configs:") != 2 || !strings.Contains(string(am), "smtp_auth_password_file: '"+h.paths.SMTPPasswordFile()+"'") || strings.Contains(string(am), "pa55word") {
		t.Errorf("alertmanager.yml:\n%s", am)
	}
	checkTokenPlaces(t, h.dir, "pa55word")
	var status bytes.Buffer
	Status(ctx, &Env{Out: &status, Msg: MessagesFor("en"), Now: time.Now}, h.paths)
	if !strings.Contains(status.String(), "dog@example.com → ops@example.com (smtp.example.com:587)") {
		t.Errorf("status:\n%s", status.String())
	}
	// Telegram again keeps the e-mail.
	if err := h.telegram(TelegramOptions{ReportEvery: "2h"}); err != nil {
		t.Fatal(err)
	}
	if am, _ := os.ReadFile(h.paths.AlertmanagerConfig); strings.Count(string(am), "email_configs:") != 2 {
		t.Error("dog notify telegram dropped the e-mail")
	}
	if err := Email(ctx, h.env(), EmailOptions{Paths: h.paths, Off: true}); err != nil {
		t.Fatal(err)
	}
	if am, _ := os.ReadFile(h.paths.AlertmanagerConfig); strings.Contains(string(am), "email_configs") || strings.Contains(string(am), "smtp_") {
		t.Errorf("e-mail still there:\n%s", am)
	}
}

// TestStatusBeforeSetup: before dog notify telegram, dog notify status
// names no rule file and no Alertmanager target that is not there; an
// Alertmanager target of the operator's own is "one already in the file".
func TestStatusBeforeSetup(t *testing.T) {
	dir := t.TempDir()
	paths := Paths{PrometheusConfig: filepath.Join(dir, "prometheus.yml"), AlertmanagerConfig: filepath.Join(dir, "alertmanager.yml")}
	status := func(prom string) string {
		t.Helper()
		if err := os.WriteFile(paths.PrometheusConfig, []byte(prom), 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := Status(context.Background(), &Env{Out: &out, Msg: MessagesFor("en"), Now: time.Now}, paths); err == nil {
			t.Error("no error without an alertmanager.yml of dog's")
		}
		return out.String()
	}
	bare := "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['localhost:9100']\n"
	out := status(bare)
	for _, want := range []string{"rules                  none yet (dog notify telegram adds it)", "Alertmanager target    none yet (dog notify telegram adds it)"} {
		if !strings.Contains(out, want) {
			t.Errorf("a bare prometheus.yml: status lacks %q:\n%s", want, out)
		}
	}
	out = status(bare + "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['localhost:9093']\nrule_files:\n  - '" + paths.RulesFile() + "'\n")
	for _, want := range []string{"rules                  " + paths.RulesFile(), "Alertmanager target    (one already in the file)"} {
		if !strings.Contains(out, want) {
			t.Errorf("the operator's own target and rule file: status lacks %q:\n%s", want, out)
		}
	}
}
