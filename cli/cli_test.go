package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"

	"port-traffic-dog/enforcer"
	"port-traffic-dog/enforcer/admin"
	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/i18n"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from this run")

func TestMain(m *testing.M) {
	// dog prints history times in the local zone: pin it for the goldens.
	time.Local = time.UTC
	code := m.Run()
	commands.Remove()
	os.Exit(code)
}

// fixedNow is the clock of the golden tests: the enforcer and dog both see
// it, so every date in the output is stable.
var fixedNow = time.Date(2026, 11, 15, 2, 0, 0, 0, time.UTC) // 10:00 in Asia/Shanghai

// host is one "machine": a namespace pair (the server side is the host), a
// config file, a state dir and an enforcer serving its admin socket.
type host struct {
	t      *testing.T
	pair   *testnet.Pair
	dir    string
	config string
	sock   string
	state  string
	flags  []string
	e      *enforcer.Enforcer
	stop   func()
}

func newHost(t *testing.T, config string) *host {
	t.Helper()
	h := &host{t: t, pair: testnet.NewPair(t), dir: t.TempDir()}
	h.config = filepath.Join(h.dir, "config.yaml")
	h.sock = filepath.Join(h.dir, "admin.sock")
	h.state = filepath.Join(h.dir, "state")
	if err := os.WriteFile(h.config, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return h
}

// quiet waits until the new links stop sending on their own (IPv6
// multicast listener reports go out for about two seconds after an address
// is added), so the host counters in the goldens hold only the test's
// traffic.
func (h *host) quiet() {
	h.t.Helper()
	last, since := uint64(0), time.Now()
	testnet.WaitFor(h.t, 10*time.Second, "the links to fall silent", func() bool {
		s := h.pair.Server.Stats(h.t, testnet.Dev)
		if n := s.TxPackets + s.RxPackets; n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) > 1200*time.Millisecond
	})
}

func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// start starts the enforcer (as a process start would) with its loop and
// admin socket, until the test ends or h.stop is called.
func (h *host) start() {
	h.t.Helper()
	e, err := enforcer.New(enforcer.Options{ConfigPath: h.config, PortFlags: h.flags, NetNS: h.pair.Server.Fd(),
		Logger: logger(), Version: "test", Now: func() time.Time { return fixedNow },
		StateDir: h.state, AdminSocket: h.sock, TickInterval: 50 * time.Millisecond, ConfigPollInterval: 100 * time.Millisecond})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone, adminDone := make(chan error, 1), make(chan error, 1)
	go func() { runDone <- e.Run(ctx) }()
	go func() { adminDone <- admin.Serve(ctx, e, admin.Options{Logger: logger()}) }()
	testnet.WaitFor(h.t, 5*time.Second, "the admin socket", func() bool {
		_, err := os.Stat(h.sock)
		return err == nil
	})
	stopped := false
	h.e = e
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-runDone; err != nil {
			h.t.Errorf("enforcer: %v", err)
		}
		if err := <-adminDone; err != nil {
			h.t.Errorf("admin: %v", err)
		}
	}
	h.t.Cleanup(h.stop)
}

// dog runs the CLI against this host and returns stdout, stderr and the
// exit code.
func (h *host) dog(env Env, args ...string) (string, string, int) {
	h.t.Helper()
	var out, errb bytes.Buffer
	env.Out, env.Err, env.Ctx, env.NetNS = &out, &errb, context.Background(), h.pair.Server.Fd()
	if env.Now == nil {
		env.Now = func() time.Time { return fixedNow }
	}
	code := Main(append([]string{"--socket", h.sock, "--config", h.config}, args...), env)
	return out.String(), errb.String(), code
}

// ok runs dog and fails the test unless it succeeds.
func (h *host) ok(args ...string) string {
	h.t.Helper()
	out, errOut, code := h.dog(Env{}, args...)
	if code != 0 {
		h.t.Fatalf("dog %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// fails runs dog and fails the test unless it fails saying want.
func (h *host) fails(want string, args ...string) {
	h.t.Helper()
	out, errOut, code := h.dog(Env{}, args...)
	if code == 0 {
		h.t.Fatalf("dog %s succeeded:\n%s", strings.Join(args, " "), out)
	}
	if !strings.Contains(errOut, want) {
		h.t.Errorf("dog %s: message does not say %q:\n%s", strings.Join(args, " "), want, errOut)
	}
}

func (h *host) readConfig() string {
	h.t.Helper()
	b, err := os.ReadFile(h.config)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

func (h *host) counters() map[string]state.Counter {
	h.t.Helper()
	objs, err := nftread.Read(h.pair.Server.Fd(), layout.Table)
	if err != nil {
		h.t.Fatalf("read counters: %v\n%s", err, h.pair.Server.Nft("list", "ruleset"))
	}
	return objs.Counters
}

// udp sends n datagrams of size bytes to port, each answered with reply
// bytes: exact byte counts (n × (size+28) in), unlike TCP's.
func (h *host) udp(port uint16, n, size, reply int) {
	h.t.Helper()
	if _, _, err := h.pair.UDP(testnet.ServerIP4, port, n, size, reply, 10*time.Second); err != nil {
		h.t.Fatalf("udp to %d: %v", port, err)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	testutil.Golden(t, name, got, *update)
}

const tourConfig = `# Port Traffic Dog on relay-1
# (comments and layout must survive every dog edit)
timezone: Asia/Shanghai
exempt: [22]

ports:
  # alice: monthly contract
  - ports: "443"
    remark: alice 阿里巴巴 香港中转 premium relay line   # long remark, CJK
    quota: 10MiB
    billing: sum

  - ports: 5000-5100    # bob's range
    remark: bob
    reset_day: 15
`

// TestCLITour is the operator's tour: add → traffic → status (golden
// table and JSON), set/rm keep the other items' counters, reset and
// history, invalid edits change nothing, status with the enforcer down.
func TestCLITour(t *testing.T) {
	h := newHost(t, tourConfig)
	h.quiet()
	h.start()

	// add: the new item is appended; every other byte stays.
	out := h.ok("add", "8080", "--remark", "carol: test", "--quota", "200KB", "--billing", "in", "--expires", "2027-01-01")
	if !strings.Contains(out, "the enforcer applied it") {
		t.Errorf("add: %s", out)
	}
	added := tourConfig + "  - ports: \"8080\"\n    remark: 'carol: test'\n    quota: 200KB\n    billing: in\n    expires: 2027-01-01\n"
	if got := h.readConfig(); got != added {
		t.Fatalf("config after add:\n%s\nwant:\n%s", got, added)
	}
	if fi, _ := os.Stat(h.config); fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode %v after the edit", fi.Mode())
	}

	// Traffic with exact sizes. 8080's 200 KB quota (billing in) runs out
	// after 194 datagrams: the kernel drops the rest and the item is blocked.
	h.udp(443, 1000, 1000, 500)
	h.udp(5000, 200, 472, 0)
	h.udp(5100, 100, 972, 0)
	h.pair.UDP(testnet.ServerIP4, 8080, 300, 1000, 0, 3*time.Second) // partly dropped: that is the point
	testnet.WaitFor(t, 5*time.Second, "8080 to be blocked", func() bool {
		return strings.Contains(h.ok("status", "--json"), `"blocked": "quota"`)
	})

	fits(t, h.ok("status"), 80)
	golden(t, "status.golden", h.ok("status"))
	// Chinese, chosen by the locale as on a zh_CN host whose terminal
	// draws ambiguous characters two columns wide.
	zh, _, _ := h.dog(Env{EastAsian: true, Getenv: locale("zh_CN.UTF-8")}, "status")
	fitsOn(t, zh, 80, true)
	golden(t, "status-zh.golden", zh)
	// The enforcer's health counters depend on its monitor's timing, not
	// on the CLI: masked.
	js := strings.ReplaceAll(h.ok("status", "--json"), h.dir, "$DIR")
	js = regexp.MustCompile(`"(repairs|reconcile_errors)": \d+`).ReplaceAllString(js, `"$1": N`)
	golden(t, "status.json.golden", js)
	// `dog` alone is `dog status`.
	if a, b := h.ok(), h.ok("status"); a != b {
		t.Errorf("dog and dog status differ:\n%s\n%s", a, b)
	}
	colorOut, _, _ := h.dog(Env{Color: true, Width: 60})
	fits(t, colorOut, 60)
	golden(t, "status-narrow-color.golden", colorOut)
	wide, _, _ := h.dog(Env{Width: 120})
	golden(t, "status-wide.golden", wide)

	// set: only 443's quota line changes; no item's counters move.
	before := h.counters()
	h.ok("set", "443", "--quota", "20MiB", "--rate-out", "none")
	if got, want := h.readConfig(), strings.Replace(added, "    quota: 10MiB\n", "    quota: 20MiB\n", 1); got != want {
		t.Fatalf("config after set:\n%s", got)
	}
	after := h.counters()
	for _, id := range []string{"p443", "p5000-5100", "p8080"} {
		for _, d := range layout.Directions {
			if k := layout.Counter(id, d); before[k] != after[k] {
				t.Errorf("set changed %s: %v -> %v", k, before[k], after[k])
			}
		}
	}

	// rm: the item's lines go, the others keep their counters.
	h.ok("rm", "--yes", "5000-5100")
	wantCfg := strings.Replace(strings.Replace(added, "    quota: 10MiB\n", "    quota: 20MiB\n", 1),
		"  - ports: 5000-5100    # bob's range\n    remark: bob\n    reset_day: 15\n", "", 1)
	if got := h.readConfig(); got != wantCfg {
		t.Fatalf("config after rm:\n%s\nwant:\n%s", got, wantCfg)
	}
	after2 := h.counters()
	if _, ok := after2["p5000-5100_in"]; ok {
		t.Error("removed item still has counters")
	}
	for _, k := range []string{"p443_in", "p443_out", "p8080_in"} {
		if after2[k] != before[k] {
			t.Errorf("rm changed %s: %v -> %v", k, before[k], after2[k])
		}
	}

	// Invalid edits change nothing, and say why.
	cfgBefore := h.readConfig()
	h.fails("already configured", "add", "443")
	h.fails("quota", "add", "9000", "--quota", "lots")
	h.fails("reset_day", "set", "8080", "--reset-day", "40")
	h.fails("overlaps", "add", "8000-8100")
	h.fails("not configured", "set", "9999", "--remark", "x")
	h.fails("not configured", "rm", "-y", "9999")
	if got := h.readConfig(); got != cfgBefore {
		t.Fatalf("a refused edit changed the file:\n%s", got)
	}

	// reset --all on a terminal shows every period it would close.
	out, errOut, code := h.dog(Env{Interactive: true, In: strings.NewReader("n\n")}, "reset", "--all")
	if code != 1 || !strings.Contains(out, "  8080 (carol: test): period since 2026-11-15 10:00: in 195 KiB, out 0 B, billable 195 KiB of 195 KiB\n") ||
		!strings.Contains(out, "  host: period since") || !strings.Contains(errOut, "cancelled") {
		t.Errorf("reset --all answered n: exit %d\n%s%s", code, out, errOut)
	}

	// reset and history.
	out = h.ok("reset", "8080")
	if !strings.Contains(out, "reset 8080 (carol: test)") {
		t.Errorf("reset: %s", out)
	}
	golden(t, "history.golden", h.ok("history"))
	zh, _, _ = h.dog(Env{}, "--lang", "zh", "history")
	golden(t, "history-zh.golden", zh)
	golden(t, "history.json.golden", h.ok("history", "--json"))
	// On a terminal narrower than its line, each reset takes two lines and
	// nothing falls off the screen.
	for _, lang := range []string{"en", "zh"} {
		narrow, _, _ := h.dog(Env{Width: 80}, "--lang", lang, "history")
		golden(t, "history-80-"+lang+".golden", narrow)
		for _, l := range strings.Split(narrow, "\n") {
			if runewidth.StringWidth(l) > 80 {
				t.Errorf("history at 80 columns (%s): a line of %d columns: %q", lang, runewidth.StringWidth(l), l)
			}
		}
	}
	if st := h.ok("status", "--json"); strings.Contains(st, `"blocked": "quota"`) {
		t.Errorf("8080 still blocked after the reset:\n%s", st)
	}

	// Enforcer down: dog says so and shows the kernel's counters with the
	// last checkpoint's periods.
	h.stop()
	h.udp(443, 10, 72, 0) // the kernel keeps counting
	out, errOut, code = h.dog(Env{}, "status", "--state-dir", h.state)
	if code != 0 || !strings.Contains(errOut, "not running") || !strings.Contains(errOut, "live counters") {
		t.Fatalf("status with the enforcer down: exit %d\n%s%s", code, out, errOut)
	}
	golden(t, "status-offline.golden", out)
	h.fails("not running", "export", filepath.Join(h.dir, "x.tgz"))
	// An edit with the enforcer down is written and applies at its start.
	out = h.ok("set", "8080", "--remark", "carol")
	if !strings.Contains(out, "applies when it starts") {
		t.Errorf("set with the enforcer down: %s", out)
	}
}

func TestStatusWithoutEnforcerOrState(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := Main([]string{"--socket", filepath.Join(dir, "none.sock"), "--config", filepath.Join(dir, "none.yaml"),
		"status", "--state-dir", dir}, Env{Out: &out, Err: &errb, Now: time.Now, Ctx: context.Background()})
	if code == 0 || !strings.Contains(errb.String(), adminapi.ErrNotRunning.Error()) || !strings.Contains(errb.String(), "no state file") {
		t.Fatalf("exit %d: %s%s", code, out.String(), errb.String())
	}
}

// fits checks that every line of a table is at most width columns wide on
// a terminal (colors do not count, CJK counts two).
func fits(t *testing.T, out string, width int) {
	t.Helper()
	fitsOn(t, out, width, false)
}

// fitsOn is fits on a terminal that draws ambiguous characters two
// columns wide (eastAsian) or one.
func fitsOn(t *testing.T, out string, width int, eastAsian bool) {
	t.Helper()
	ansi := regexp.MustCompile("\x1b\\[[0-9;]*m")
	for _, l := range strings.Split(out, "\n") {
		if w := (tableStyle{eastAsian: eastAsian}).cond().StringWidth(ansi.ReplaceAllString(l, "")); w > width {
			t.Errorf("line is %d columns, more than %d: %q", w, width, l)
		}
	}
}

// TestCheckConfigWarnsForwardedUncounted: count_forwarded: false is valid,
// but on a host that forwards check-config warns that forwarded traffic goes
// uncounted and unblocked; on one that does not, and with auto, it does not.
func TestCheckConfigWarnsForwardedUncounted(t *testing.T) {
	h := newHost(t, "count_forwarded: false\nports:\n  - ports: \"443\"\n")
	check := func(what string, wantWarning bool) {
		t.Helper()
		out, errOut, code := h.dog(Env{}, "check-config", h.config)
		if code != 0 || !strings.Contains(out, "OK") {
			t.Fatalf("%s: exit %d\n%s%s", what, code, out, errOut)
		}
		if got := strings.Contains(errOut, "warning: count_forwarded is false, but this host forwards"); got != wantWarning {
			t.Errorf("%s: warning %v, want %v:\n%s", what, got, wantWarning, errOut)
		}
		js, _, _ := h.dog(Env{}, "check-config", "--json", h.config)
		if got := strings.Contains(js, `"warnings"`); got != wantWarning {
			t.Errorf("%s: --json warnings %v, want %v:\n%s", what, got, wantWarning, js)
		}
	}
	check("false, not forwarding", false)
	h.pair.Server.Run(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	check("false, forwarding", true)
	if err := os.WriteFile(h.config, []byte("count_forwarded: auto\nports:\n  - ports: \"443\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	check("auto, forwarding", false)
}

// locale is the environment of a host whose LANG is lang.
func locale(lang string) func(string) string {
	return func(k string) string {
		if k == "LANG" {
			return lang
		}
		return ""
	}
}

// TestAddWarnsExpired: an item added (or set) with an expiry date that has
// come is valid and blocked at once, which an operator who typed the wrong
// year should hear of, as check-config says; a warning the file had
// before the edit is not repeated.
func TestAddWarnsExpired(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("timezone: UTC\nports:\n  - ports: \"443\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dog := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		code := Main(append([]string{"--socket", filepath.Join(dir, "none.sock"), "--config", cfg}, args...),
			Env{Out: &out, Err: &errb, Now: func() time.Time { return fixedNow }, Ctx: context.Background()})
		if code != 0 {
			t.Fatalf("dog %v: exit %d\n%s%s", args, code, out.String(), errb.String())
		}
		return errb.String()
	}
	if got := dog("add", "7001", "--expires", "2025-11-15"); !strings.Contains(got, `warning: `+cfg+`:4: item "7001": expired on 2025-11-15, so its traffic is blocked`) {
		t.Errorf("add of an expired item: %q", got)
	}
	if got := dog("--lang", "zh", "set", "443", "--expires", "2026-11-15"); !strings.Contains(got, `警告：`+cfg+`:3：条目 "443"：已于 2026-11-15 到期`) || strings.Contains(got, "7001") {
		t.Errorf("set of an expiry date that came today: %q", got)
	}
	if got := dog("add", "7002", "--expires", "2027-01-01"); got != "" {
		t.Errorf("an edit that adds no warning: %q", got)
	}
}

// TestStatusSaysConfigInvalid: a hand edit of the config file that does
// not validate leaves the enforcer on what it applied last; dog status
// (and the console) say so, with the problem, instead of showing the old
// settings as if the edit were in force.
func TestStatusSaysConfigInvalid(t *testing.T) {
	h := newHost(t, "ports:\n  - ports: \"443\"\n    billing: max\n")
	h.start()
	if _, errOut, _ := h.dog(Env{}, "status"); strings.Contains(errOut, "does not validate") {
		t.Fatalf("a valid config: %s", errOut)
	}
	if err := os.WriteFile(h.config, []byte("ports:\n  - ports: \"443\"\n    billing: maximum\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := h.dog(Env{}, "--lang", "zh", "status")
	if code != 0 || !strings.Contains(errOut, "警告："+h.config+" 校验不通过，执行器保持上次应用的配置") ||
		!strings.Contains(errOut, `billing：未知的计费方式 "maximum"`) || !strings.Contains(out, "计费 max") {
		t.Errorf("status with an invalid config: exit %d\n%s%s", code, out, errOut)
	}

	c, _ := newTestConsole(t, i18n.EN, false)
	st := consoleStatus(fixedNow.Add(4*time.Second), 1<<20)
	st.Config = h.config
	c.Update(statusMsg{st: st, at: fixedNow.Add(4 * time.Second)})
	if v := c.View(); !strings.Contains(strings.Join(strings.Fields(v), " "), h.config+" does not validate: the enforcer keeps what it applied last") {
		t.Errorf("the console does not say the config is invalid:\n%s", v)
	}
}
