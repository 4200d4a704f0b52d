package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/archive"
	"port-traffic-dog/internal/archive/archivetest"
	"port-traffic-dog/internal/legacy"
	"port-traffic-dog/internal/state"
)

// answer is what a fake enforcer answers on one path.
type answer struct {
	status int
	body   string
}

// fakeRoutes is an enforcer answering each path (without its query) as
// routes say, any other as routes[""] says (404 without it); it returns
// the socket.
func fakeRoutes(t *testing.T, routes map[string]answer) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		a, ok := routes[r.URL.Path]
		if !ok {
			a, ok = routes[""]
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sock
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// errAnswer is the enforcer's answer of err.
func errAnswer(t *testing.T, err error) answer {
	return answer{http.StatusUnprocessableEntity, jsonOf(t, adminapi.ErrorOf(err))}
}

// What Chinese output may hold in ASCII: what dog prints as it is (paths,
// quoted values, commands, flags, keys, numbers and units) and the words
// of the operating system and of Go's libraries (an errno's text, a JSON
// decoder's complaint), which stay the detail of a Chinese frame.
var (
	verbatimRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|` + "`[^`]*`" + `|[\x21-\x7e]*/[\x21-\x7e]*|(^|[^\x21-\x7e])--?[a-z][a-z0-9.-]*|` +
		`\bdog [a-z-]+|\bsystemctl [a-z]+ [a-z-]+|U\+[0-9A-F]{4,6}|\b[A-Za-z0-9]+_[A-Za-z0-9_]+\b|\d{4}-\d\d-\d\dT[0-9:+-]+`)
	libraryRE = regexp.MustCompile(`\b(json|gzip): [^（）：\n]*`)
	wordRE    = regexp.MustCompile(`[A-Za-z][A-Za-z0-9_.+-]*`)
	// allowedWords are names and values a Chinese message says as they
	// are: programs, files, keys and config values, units, the OS's op of
	// a path error, entries of the hostile archives (sda pipe install.sh)
	// and the script's names and values in import-legacy's report.
	allowedWords = strings.Fields(`dog dog-enforcer port-traffic-dog port-traffic-dog.sh sudo tc
		config.yaml state.json manifest.json history.jsonl quota remark ports host Local tcp+udp sum
		API sha256 gzip FIFO MiB GiB TiB uid gid root nftables open
		sda pipe install.sh json qdisc cron single out`)
)

// osWords are the operating system's error texts.
func osWords() []string {
	var out []string
	for e := syscall.Errno(1); e < 134; e++ {
		out = append(out, e.Error())
	}
	// The longest first: "no such file or directory" before "file".
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return append(out, "unexpected EOF", "EOF")
}

// englishIn lists the English words of s that are no name, key, value or
// detail of the OS or a library: text that was not translated.
func englishIn(s string, osText []string) []string {
	for _, w := range osText {
		s = strings.ReplaceAll(s, w, " ")
	}
	s = libraryRE.ReplaceAllString(s, " ")
	s = verbatimRE.ReplaceAllString(s, " ")
	var out []string
	for _, w := range wordRE.FindAllString(s, -1) {
		if len(w) > 1 && !slices.Contains(allowedWords, w) {
			out = append(out, w)
		}
	}
	return out
}

func TestEnglishIn(t *testing.T) {
	osText := osWords()
	for s, want := range map[string]string{
		"dog: 状态目录 /var/lib/dog：no state file":                                "no state file",
		"dog: 读取 /x：open /x: no such file or directory":                       "",
		`dog: 无效的归档：config.yaml：是符号链接（指向 "/etc/shadow"）；归档里只能有普通文件`:           "",
		"dog: 无效的归档：config.yaml：checksum mismatch (sha256 differs)":           "checksum mismatch differs",
		"dog: 执行器未运行（用 `systemctl start dog-enforcer` 启动它）；--state-dir 12MiB": "",
	} {
		if got := strings.Join(englishIn(s, osText), " "); got != want {
			t.Errorf("%q: %q, want %q", s, got, want)
		}
	}
}

// TestNoEnglishInChinese runs dog's error paths (a bad state file, bad
// archives, what the enforcer refuses with, config edits that fail, dog
// notify's and import-legacy's bad files) under --lang zh and fails when
// their output holds English text that is not a name, value or OS
// detail: a message that does not go through the catalog.
func TestNoEnglishInChinese(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	none := filepath.Join(dir, "none.sock")
	write("legacy3/traffic_data.json", `{"443":{"input":5,"output":6,"backup_time":"2026-11-14T08:00:00+08:00"}}`)
	cfg := write("config.yaml", "ports:\n  - ports: \"443\"\n")
	hidden := write("hidden.yaml", "ports:\n  - ports: \"443\"\n    remark: \"a\u200bb\"\n")
	broken := write("broken.yaml", "ports:\n"+strings.Repeat("  - ports: \"443\"\n    reset_day: 40\n    quota: 0\n", 30))
	var buf bytes.Buffer
	if err := archive.Write(&buf, archive.Input{ToolVersion: "1", Host: "old", Created: time.Now(), Config: []byte("ports:\n  - ports: \"443\"\n"),
		State: &state.State{SavedAt: time.Now(), Items: []state.Item{{ID: "p443", Ports: "443", Billing: "sum", In: state.Counter{Bytes: 5}}}}}); err != nil {
		t.Fatal(err)
	}
	valid := buf.Bytes()
	good := write("good.tar.gz", string(valid))

	type run struct {
		name string
		args []string
	}
	runs := []run{
		{"status, no state file", []string{"--socket", none, "status", "--state-dir", dir}},
		{"status, damaged state file", []string{"--socket", none, "status", "--state-dir", filepath.Dir(write("bad/state.json", `{"format":1}`))}},
		{"status, state dir is a file", []string{"--socket", none, "status", "--state-dir", cfg}},
		{"import, no file", []string{"--socket", none, "import", filepath.Join(dir, "nothing.tar.gz")}},
		{"check-config, no file", []string{"check-config", filepath.Join(dir, "nothing.yaml")}},
		{"check-config, a warning", []string{"check-config", hidden}},
		{"check-config, every problem, the rest counted", []string{"check-config", broken}},
		{"check-config, an expired item", []string{"check-config", write("expired.yaml", "ports:\n  - ports: \"443\"\n    expires: 2020-01-31\n")}},
		{"add, config dir a file", []string{"--socket", none, "--config", filepath.Join(cfg, "x.yaml"), "add", "80"}},
		{"notify status, unclosed block", []string{"notify", "status", "--alertmanager-config", filepath.Join(dir, "am.yml"),
			"--prometheus-config", write("prom.yml", "global: {}\n# BEGIN port-traffic-dog:scrape\n")}},
		{"import-legacy, unknown key", []string{"--socket", none, "import-legacy", "--from",
			filepath.Dir(write("legacy/config.json", `{"ports":{},"moon":1}`))}},
		{"import-legacy, bad remark", []string{"--socket", none, "import-legacy", "--from",
			filepath.Dir(write("legacy2/config.json", `{"ports":{"443":{"remark":"a\u0007"}}}`))}},
		{"import-legacy, the report of a copy", []string{"--socket", none, "import-legacy", "--dry-run", "--from",
			filepath.Dir(write("legacy3/config.json", `{"ports":{"443":{"billing_mode":"single"},"80":{"billing_mode":"single"}}}`))}},
	}
	for _, c := range archivetest.Hostile(valid) {
		name := strings.NewReplacer(" ", "-", "'", "").Replace(c.Name)
		runs = append(runs, run{"import, " + c.Name, []string{"--socket", none, "import", write(name+".tar.gz", string(c.Data))}})
	}

	// What the enforcer answers: every code (its cause the OS's words),
	// a refused archive, an import's notes.
	cause := &os.PathError{Op: "write", Path: "/var/lib/port-traffic-dog/state.json", Err: syscall.EIO}
	for _, code := range adminapi.Codes() {
		f := adminapi.Format(code)
		var args []string
		for range strings.Count(f, "%s") + strings.Count(f, "%q") {
			args = append(args, "/x")
		}
		var err error = adminapi.NewError(code, nil, args...)
		if strings.Contains(f, "%w") {
			err = adminapi.NewError(code, cause, args...)
		}
		sock := fakeRoutes(t, map[string]answer{adminapi.PathReset: errAnswer(t, err)})
		runs = append(runs, run{"enforcer: " + string(code), []string{"--socket", sock, "reset", "443"}})
	}
	refused := &archive.Error{Entry: archive.StateName, Kind: archive.KindStateInvalid, Err: errors.Join(errors.New("state file x is damaged: checksum mismatch"))}
	notes := &adminapi.ImportResponse{SourceHost: "10.0.0.1", SourceVersion: "1.0", Items: 1}
	notes.AddNote(adminapi.CodeNoteKeptPath, "state_dir", "/a", "/b")
	notes.AddNote(adminapi.CodeNoteConfigWarning, `/etc/c.yaml:3: item "443": remark contains U+200B, an invisible character that can reorder or hide text; remove it (dog set 443 --remark ...)`)
	runs = append(runs,
		run{"import, the enforcer refuses the archive", []string{"--socket", fakeRoutes(t, map[string]answer{adminapi.PathImport: errAnswer(t, refused)}), "import", good}},
		run{"import, notes", []string{"--socket", fakeRoutes(t, map[string]answer{adminapi.PathImport: {http.StatusOK, jsonOf(t, notes)}}), "import", good}},
		run{"export, the config unreadable", []string{"--socket", fakeRoutes(t, map[string]answer{adminapi.PathStatus: {http.StatusOK, jsonOf(t, adminapi.Status{Config: filepath.Join(dir, "gone.yaml")})}}),
			"export", filepath.Join(dir, "out.tar.gz")}},
		run{"export, the checkpoint fails", []string{"--socket", fakeRoutes(t, map[string]answer{
			adminapi.PathStatus:     {http.StatusOK, jsonOf(t, adminapi.Status{Config: cfg})},
			adminapi.PathCheckpoint: errAnswer(t, adminapi.NewError(adminapi.CodeCheckpoint, cause))}),
			"export", filepath.Join(dir, "out.tar.gz")}},
	)

	// What the tables show: every state an item can be in, the history's
	// reasons and dog's own remarks.
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	item := adminapi.Item{Ports: "443", Remark: "客户甲", Protocols: "tcp+udp", Billing: "sum", Quota: 1 << 30, ResetDay: 1,
		RateIn: 1e6, RateOut: 2e6, Expires: t0.AddDate(1, 0, 0), PeriodIn: 5 << 20, PeriodOut: 7 << 20, Billable: 12 << 20,
		PeriodStart: t0, NextReset: t0.AddDate(0, 1, 0)}
	blocked, expired, never := item, item, item
	blocked.Ports, blocked.Blocked = "80", "quota"
	expired.Ports, expired.Blocked, expired.RateIn = "8080", "expired", 0
	never.Ports, never.ResetDay, never.Quota, never.RateOut = "5000-5100", 0, 0, 0
	status := adminapi.Status{Version: "1.0", Time: t0.AddDate(0, 0, 5), Timezone: "Asia/Shanghai", Items: []adminapi.Item{item, blocked, expired, never},
		Host: adminapi.Item{Ports: "host", Billing: "sum", Quota: 1 << 40, PeriodStart: t0}, LastCheckpoint: t0.AddDate(0, 0, 5)}
	history := adminapi.HistoryResponse{Resets: []state.Reset{
		{Time: t0, Ports: "443", Remark: "客户甲", Reason: state.ReasonAuto},
		{Time: t0, Ports: "443", Reason: state.ReasonManual},
		{Time: t0, Ports: "host", Remark: "imported from 10.0.0.1 (exported 2026-03-01 00:00 UTC)", Reason: state.ReasonImport},
		{Time: t0, Ports: "443", Remark: "port-traffic-dog.sh reset (billable total as it showed)", Reason: legacy.ReasonLegacy},
	}}
	tables := fakeRoutes(t, map[string]answer{adminapi.PathStatus: {http.StatusOK, jsonOf(t, status)},
		adminapi.PathHistory: {http.StatusOK, jsonOf(t, history)}})
	runs = append(runs, run{"status", []string{"--socket", tables, "status"}}, run{"history", []string{"--socket", tables, "history"}})

	osText := osWords()
	for _, r := range runs {
		var out, errb bytes.Buffer
		code := Main(append([]string{"--lang", "zh"}, r.args...), Env{Out: &out, Err: &errb, Now: time.Now, Ctx: context.Background()})
		got := out.String() + errb.String()
		if got == "" {
			t.Errorf("%s: no output (exit %d)", r.name, code)
		}
		if words := englishIn(got, osText); len(words) > 0 {
			t.Errorf("%s: English %q in\n%s", r.name, words, got)
		} else {
			t.Logf("%s:\n%s", r.name, got)
		}
	}
}
