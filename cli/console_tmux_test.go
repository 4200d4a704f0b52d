package cli

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// commands are the built dog, dog-enforcer and dog-exporter, for the
// tests that run dog as a program (in tmux).
var commands testutil.Commands

// tmux is one tmux server of the test's own (its socket in the test's
// temporary directory), with one 80×24 window.
type tmux struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T, env []string, argv ...string) *tmux {
	t.Helper()
	testutil.RequireBinary(t, "tmux")
	x := &tmux{t: t, socket: filepath.Join(t.TempDir(), "tmux.sock")}
	t.Cleanup(func() { exec.Command("tmux", "-S", x.socket, "kill-server").Run() })
	cmd := append([]string{"env"}, env...)
	cmd = append(cmd, argv...)
	// -u: UTF-8 whatever the locale (zh_CN.UTF-8 may not be generated
	// on the test host; dog reads LANG itself). remain-on-exit keeps the
	// pane (and its exit status) when dog quits.
	x.run("-f", "/dev/null", "-u", "new-session", "-d", "-s", "dog", "-x", "80", "-y", "24", shellJoin(cmd))
	x.run("set-option", "-t", "dog", "remain-on-exit", "on")
	return x
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

func (x *tmux) run(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", x.socket}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// keys types each key as a person would: one at a time (a form moves to
// its next field between two keys).
func (x *tmux) keys(keys ...string) {
	x.t.Helper()
	for _, k := range keys {
		x.run("send-keys", "-t", "dog", k)
		time.Sleep(150 * time.Millisecond)
	}
}

// text types a value, one character at a time.
func (x *tmux) text(s string) {
	x.t.Helper()
	for _, r := range s {
		x.run("send-keys", "-t", "dog", "-l", string(r))
		time.Sleep(30 * time.Millisecond)
	}
}

func (x *tmux) screen() string {
	x.t.Helper()
	return x.run("capture-pane", "-p", "-t", "dog")
}

// waitFor waits until the screen matches re and returns the match.
func (x *tmux) waitFor(what string, re *regexp.Regexp, timeout time.Duration) []string {
	x.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := x.screen()
		if m := re.FindStringSubmatch(s); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("%s: not on the screen after %v:\n%s", what, timeout, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// consoleWords are what the tmux test looks for, per language.
type consoleWords struct {
	lang, locale                        string
	state, added, periodSince, resetMsg string
}

// TestConsoleInTmux drives the console as an operator would, in tmux at
// 80×24 against a real enforcer in a network namespace: add an item
// through the form, watch it count with a live rate while iperf3 runs, and
// reset it through the confirmation. Once in English, once in Chinese.
func TestConsoleInTmux(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "iperf3")
	for _, w := range []consoleWords{
		{lang: "en", locale: "C.UTF-8", state: "STATE", added: "added 5201 in ", periodSince: "5201 (iperf): period since", resetMsg: "reset 5201 (iperf): period since"},
		{lang: "zh", locale: "zh_CN.UTF-8", state: "状态", added: "已添加 5201", periodSince: "5201 (iperf)：自 ", resetMsg: "已重置 5201 (iperf)：自 "},
	} {
		t.Run(w.lang, func(t *testing.T) { consoleInTmux(t, w) })
	}
}

func consoleInTmux(t *testing.T, w consoleWords) {
	h := newHost(t, "timezone: UTC\nports:\n  - ports: \"443\"\n    remark: alice\n    quota: 10GiB\n")
	h.start()
	dog := filepath.Join(commands.Dir(t), "dog")
	x := newTmux(t, []string{"LANG=" + w.locale, "TERM=xterm-256color", "NO_COLOR=1"}, dog, "--socket", h.sock, "--config", h.config)
	x.waitFor("the main screen", regexp.MustCompile(`(?m)^> 443 +alice`), 10*time.Second)

	// Add 5201 through the form: ports, remark, quota, then enter through
	// the other fields (left empty) to the preview of the config change.
	x.keys("a")
	x.text("5201")
	x.keys("Enter")
	x.text("iperf")
	x.keys("Enter")
	x.text("5GiB")
	for range 8 {
		x.keys("Enter")
	}
	x.waitFor("the preview", regexp.MustCompile(`\+   - ports: "5201"\n\+     remark: iperf\n\+     quota: 5GiB`), 5*time.Second)
	x.keys("y")
	x.waitFor("the add's outcome", regexp.MustCompile(regexp.QuoteMeta(w.added)), 10*time.Second)

	// Traffic to 5201 (an upload: the item's "in"): the row shows a rate.
	h.pair.Server.Start(t, "iperf3", "-s", "-p", "5201")
	time.Sleep(300 * time.Millisecond)
	client := h.pair.Client.Start(t, "iperf3", "-c", testnet.ServerIP4.String(), "-p", "5201", "-t", "60", "-b", "50M")
	rate := regexp.MustCompile(`(?m)^[> ] 5201 +iperf +([0-9.]+[KMG]?) +([0-9.]+[KMG]?) +([0-9.]+ [KMG]?i?B) `)
	var m []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		m = x.waitFor("5201's row with rates", rate, 10*time.Second)
		if m[1] != "0" && m[3] != "0 B" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no live rate for 5201:\n%s", x.screen())
		}
		time.Sleep(500 * time.Millisecond)
	}
	main := x.screen()
	// NO_COLOR=1: not one color on the screen (tmux shows the attributes
	// of every cell with -e).
	if attrs := x.run("capture-pane", "-p", "-e", "-t", "dog"); regexp.MustCompile(`\x1b\[[0-9;]*(3[0-9]|4[0-9]|9[0-7])[;m]`).MatchString(attrs) {
		t.Errorf("colors with NO_COLOR set:\n%q", attrs)
	}
	client.Process.Kill()
	client.Wait()
	t.Logf("5201 in %s bit/s, out %s bit/s, used %s", m[1], m[2], m[3])
	checkColumns(t, main, w.state)

	// Reset it: select it, r, the confirmation shows the period, y.
	x.keys("j")
	x.waitFor("5201 selected", regexp.MustCompile(`(?m)^> 5201 `), 5*time.Second)
	x.keys("r")
	x.waitFor("the reset confirmation", regexp.MustCompile(regexp.QuoteMeta(w.periodSince)), 5*time.Second)
	confirm := x.screen()
	x.keys("y")
	x.waitFor("the reset's outcome", regexp.MustCompile(regexp.QuoteMeta(w.resetMsg)), 10*time.Second)
	hist, err := adminapi.NewClient(h.sock).History(context.Background(), []string{"5201"})
	if err != nil || len(hist.Resets) != 1 || hist.Resets[0].Reason != "manual" || hist.Resets[0].InBytes == 0 {
		t.Fatalf("history of 5201 after the reset: %+v, %v", hist, err)
	}
	if testing.Verbose() {
		t.Logf("the main screen with iperf3 running:\n%s\nthe reset confirmation:\n%s", main, confirm)
	}

	// q quits: the pane dies (dog closed the terminal) and, when tmux has
	// reaped it in time to say, with status 0 (a busy machine can leave
	// the status unknown for a while; a crash or a signal still shows).
	x.keys("q")
	deadline = time.Now().Add(15 * time.Second)
	for strings.TrimSpace(x.run("display-message", "-p", "-t", "dog", "#{pane_dead}")) != "1" {
		if time.Now().After(deadline) {
			t.Fatalf("dog did not quit on q:\n%s", x.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if st := strings.TrimSpace(x.run("display-message", "-p", "-t", "dog", "#{pane_dead_status}/#{pane_dead_signal}")); st != "0/" && st != "/" {
		t.Errorf("dog quit with status/signal %q", st)
	}
}

// checkColumns checks the table as the terminal drew it: on every item
// line the state starts in the column of the STATE title (CJK counted two
// columns wide, as tmux draws it).
func checkColumns(t *testing.T, screen, title string) {
	t.Helper()
	cond := runewidth.NewCondition()
	cond.EastAsianWidth = false
	lines := strings.Split(screen, "\n")
	col := -1
	for _, l := range lines {
		if i := strings.Index(l, title); i >= 0 && col < 0 {
			col = cond.StringWidth(l[:i])
			continue
		}
		if col < 0 || !regexp.MustCompile(`^[> ] \S`).MatchString(l) {
			continue
		}
		if cond.StringWidth(l) <= col {
			continue // the total line has no state
		}
		prefix := cond.Truncate(l, col, "")
		if cond.StringWidth(prefix) != col || !strings.HasSuffix(prefix, " ") {
			t.Errorf("state column misaligned (title at column %d):\n%q", col, l)
		}
	}
	if col < 0 {
		t.Errorf("no %s title on the screen:\n%s", title, screen)
	}
}
