package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/i18n"
	"port-traffic-dog/internal/state"
)

// consoleStatus is a status as the enforcer would send it, at t, with the
// counters grown by step bytes a second since fixedNow.
func consoleStatus(at time.Time, step uint64) *adminapi.Status {
	secs := uint64(at.Sub(fixedNow) / time.Second)
	c := func(base uint64, mult uint64) state.Counter { return state.Counter{Bytes: base + secs*step*mult} }
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	next := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	st := &adminapi.Status{Version: "1.0.0", Time: at, Timezone: "UTC", Items: []adminapi.Item{
		{Ports: "443", ID: "p443", Remark: "alice 阿里巴巴 香港中转 premium", Protocols: "tcp+udp", Billing: "sum", Quota: 500 << 30,
			ResetDay: 1, In: c(120<<30, 1), Out: c(80<<30, 3), PeriodIn: 120 << 30, PeriodOut: 80 << 30, Billable: 200 << 30,
			PeriodStart: start, NextReset: next},
		{Ports: "5000-5100", ID: "p5000-5100", Remark: "bob", Protocols: "tcp+udp", Billing: "out", Quota: 100 << 30, ResetDay: 15,
			RateIn: 20e6, RateOut: 20e6, In: c(10<<30, 0), Out: c(99<<30, 0), PeriodIn: 10 << 30, PeriodOut: 99 << 30, Billable: 99 << 30,
			PeriodStart: start, NextReset: next},
		{Ports: "8080", ID: "p8080", Remark: "carol", Protocols: "tcp", Billing: "sum", Quota: 1 << 30, ResetDay: 1,
			In: c(1<<29, 0), Out: c(1<<29, 0), PeriodIn: 1 << 29, PeriodOut: 1 << 29, Billable: 1 << 30, Blocked: "quota",
			PeriodStart: start, NextReset: next},
		{Ports: "443,9000-9100", ID: "p443_9000-9100", Remark: "dave", Protocols: "tcp+udp", Billing: "sum", ResetDay: 0,
			Expires: time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC), In: c(5<<20, 1<<4), Out: c(1<<20, 1),
			PeriodIn: 5 << 20, PeriodOut: 1 << 20, Billable: 6 << 20, PeriodStart: start},
	}}
	st.Host = adminapi.Item{Ports: "host", ID: "host", Protocols: "tcp+udp", Billing: "sum", In: c(200<<30, 2), Out: c(200<<30, 4),
		PeriodIn: 200 << 30, PeriodOut: 200 << 30, Billable: 400 << 30, PeriodStart: start}
	return st
}

// press sends keys to the console as bubbletea would, running the
// commands they return (a form moves to its next field through one);
// timers (cursor blink, the refresh tick) are dropped.
func press(c *console, keys ...string) {
	for _, k := range keys {
		_, cmd := c.Update(key(k))
		run(c, cmd)
	}
}

func run(c *console, cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	got := make(chan tea.Msg, 1)
	go func() { got <- cmd() }()
	select {
	case msg := <-got:
		switch m := msg.(type) {
		case nil:
		case tea.BatchMsg:
			for _, cmd := range m {
				run(c, cmd)
			}
		case statusMsg, tickMsg:
			// no enforcer in these tests: the fixture's status stays
		default:
			_, next := c.Update(m)
			run(c, next)
		}
	case <-time.After(200 * time.Millisecond): // a timer (cursor blink 530 ms, refresh 2 s), or a very busy machine
	}
}

func key(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "backspace":
		return tea.KeyMsg{Type: tea.KeyBackspace}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// newTestConsole is a console of 80×24 that has read two statuses two
// seconds apart (so it shows rates), with a config file of its own.
func newTestConsole(t *testing.T, lang i18n.Lang, eastAsian bool) (*console, string) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("ports:\n  - ports: \"443\"\n    remark: alice\n    quota: 500GiB\n  - ports: 5000-5100\n    rate: 20Mbps\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := &Env{P: i18n.New(lang), Ctx: context.Background(), Now: func() time.Time { return fixedNow }, EastAsian: eastAsian, Width: 80}
	c := newConsole(&Globals{Config: cfg, Socket: filepath.Join(dir, "none.sock")}, env)
	c.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	c.Update(statusMsg{st: consoleStatus(fixedNow, 1<<20), at: fixedNow})
	at := fixedNow.Add(2 * time.Second)
	c.Update(statusMsg{st: consoleStatus(at, 1<<20), at: at})
	return c, cfg
}

// screenFits checks a screen is at most 24 lines of 80 columns.
func screenFits(t *testing.T, name, v string, eastAsian bool) {
	t.Helper()
	if n := strings.Count(strings.TrimSuffix(v, "\n"), "\n") + 1; n > 24 {
		t.Errorf("%s: %d lines", name, n)
	}
	fitsOn(t, v, 80, eastAsian)
}

// TestConsoleScreens keeps golden captures of the console's main screens
// at 80×24 in both languages (the CJK ones measured as a CJK terminal
// draws them).
func TestConsoleScreens(t *testing.T) {
	for _, lc := range []struct {
		lang      i18n.Lang
		eastAsian bool
	}{{i18n.EN, false}, {i18n.ZH, true}} {
		t.Run(string(lc.lang), func(t *testing.T) {
			shot := func(name string, c *console) {
				t.Helper()
				v := strings.ReplaceAll(c.View()+"\n", filepath.Dir(c.g.Config), "$DIR")
				screenFits(t, name, v, lc.eastAsian)
				golden(t, "console-"+name+"-"+string(lc.lang)+".golden", v)
			}
			c, _ := newTestConsole(t, lc.lang, lc.eastAsian)
			shot("main", c)

			// The add form, with a refused value and check-config's message.
			press(c, "a", "7", "0", "0", "0", "enter", "c", "a", "r", "o", "l", "enter", "l", "o", "t", "s", "enter")
			shot("add", c)
			press(c, "esc")

			// Reset confirmation of the second item.
			press(c, "down", "r")
			shot("reset", c)
			press(c, "n")

			// Remove: the period and the config change.
			press(c, "up", "d")
			shot("remove", c)
		})
	}
}

// TestWantsConsole: the console opens for dog alone (global flags
// allowed) on a terminal; a command, --no-menu, a pipe or TERM=dumb gets
// the plain status.
func TestWantsConsole(t *testing.T) {
	term := func(v string) func(string) string {
		return func(k string) string {
			if k == "TERM" {
				return v
			}
			return ""
		}
	}
	tty := Env{Interactive: true, In: strings.NewReader(""), Getenv: term("xterm-256color")}
	for _, c := range []struct {
		args []string
		env  Env
		want bool
	}{
		{nil, tty, true},
		{[]string{"--lang", "zh", "--socket=/run/x.sock", "--config", "/etc/x.yaml"}, tty, true},
		{[]string{"--no-menu"}, tty, false},
		{[]string{"status"}, tty, false},
		{[]string{"--lang", "zh", "history"}, tty, false},
		{[]string{"--help"}, tty, false},
		{nil, Env{Interactive: false, In: strings.NewReader(""), Getenv: term("xterm")}, false},
		{nil, Env{Interactive: true, In: strings.NewReader(""), Getenv: term("dumb")}, false},
		{nil, Env{Interactive: true, In: strings.NewReader(""), Getenv: term("")}, false},
	} {
		if got := wantsConsole(c.args, &c.env); got != c.want {
			t.Errorf("dog %v (interactive %v, TERM=%q): console %v, want %v", c.args, c.env.Interactive, c.env.Getenv("TERM"), got, c.want)
		}
	}
}

// TestConsoleWithoutEnforcer: with nothing to act through, dog alone on a
// terminal shows what dog status shows without the enforcer instead of an
// empty console.
func TestConsoleWithoutEnforcer(t *testing.T) {
	dir := t.TempDir()
	var out, errb strings.Builder
	Main([]string{"--socket", filepath.Join(dir, "none.sock"), "--config", filepath.Join(dir, "none.yaml")},
		Env{Out: &out, Err: &errb, Ctx: context.Background(), Now: time.Now, Interactive: true, In: strings.NewReader("q"),
			Getenv: func(k string) string {
				if k == "TERM" {
					return "xterm-256color"
				}
				return ""
			}})
	if strings.Contains(out.String(), "\x1b[?1049h") || !strings.Contains(errb.String(), "the enforcer is not running") {
		t.Errorf("stdout %q\nstderr %q", out.String(), errb.String())
	}
}

// TestConsoleEdit changes an item through its form: the form starts from
// the values as written, only the changed key is written (after the
// preview's y), through the same code as dog set.
func TestConsoleEdit(t *testing.T) {
	c, cfg := newTestConsole(t, i18n.EN, false)
	press(c, "e") // 443: remark alice, quota 500GiB
	v := c.View()
	if !strings.Contains(v, "Change 443") || !strings.Contains(v, "alice") {
		t.Fatalf("edit form:\n%s", v)
	}
	press(c, "enter") // remark kept
	for range len("500GiB") {
		press(c, "backspace")
	}
	press(c, "6", "0", "0", "G", "i", "B")
	for range 8 {
		press(c, "enter")
	}
	v = c.View()
	if !strings.Contains(v, "-     quota: 500GiB\n+     quota: 600GiB") {
		t.Fatalf("preview:\n%s", v)
	}
	press(c, "y")
	b, _ := os.ReadFile(cfg)
	if want := "ports:\n  - ports: \"443\"\n    remark: alice\n    quota: 600GiB\n  - ports: 5000-5100\n    rate: 20Mbps\n"; string(b) != want {
		t.Fatalf("config after the edit:\n%s", b)
	}
	if v := c.View(); !strings.Contains(v, "changed 443 in") || !strings.Contains(v, "enforcer is not running: the change applies when it starts") {
		t.Errorf("after the edit:\n%s", v)
	}
}

// TestConsoleNotify: n shows dog notify status, with t and s to test and
// report.
func TestConsoleNotify(t *testing.T) {
	c, _ := newTestConsole(t, i18n.EN, false)
	press(c, "n")
	if v := c.View(); !strings.Contains(v, "Notifications (dog notify status") || !strings.Contains(v, "t send a test message · s send the status report now") {
		t.Fatalf("notifications:\n%s", v)
	}
	press(c, "esc")
	if v := c.View(); !strings.Contains(v, "n notify") {
		t.Errorf("esc did not go back:\n%s", v)
	}
}

// TestConsoleHeadBlocked: the number of blocked items is what the head
// line is read for; at 80 columns it stays on screen with a long enforcer
// version (a package built from a commit: 0.0~git<date>.<hash>).
func TestConsoleHeadBlocked(t *testing.T) {
	for _, lc := range []struct {
		lang i18n.Lang
		want string
	}{{i18n.EN, "1 blocked"}, {i18n.ZH, "1 个阻断"}} {
		c, _ := newTestConsole(t, lc.lang, lc.lang == i18n.ZH)
		st := consoleStatus(fixedNow.Add(2*time.Second), 1<<20)
		st.Version = "0.0~git20261205.7b67b21"
		c.Update(statusMsg{st: st, at: fixedNow.Add(2 * time.Second)})
		if head, _, _ := strings.Cut(c.View(), "\n"); !strings.Contains(head, lc.want) {
			t.Errorf("%s: head %q does not say %q", lc.lang, head, lc.want)
		}
	}
}

// TestConsoleSmallUse: a use that rounds to 0 % but is not says "<1%" in
// the console as in status, next to the bar's one cell.
func TestConsoleSmallUse(t *testing.T) {
	c, _ := newTestConsole(t, i18n.EN, false)
	st := consoleStatus(fixedNow.Add(2*time.Second), 1<<20)
	st.Items[0].Billable = 1 << 30 // of 500 GiB: 0.2 %
	c.Update(statusMsg{st: st, at: fixedNow.Add(2 * time.Second)})
	for _, l := range strings.Split(c.View(), "\n") {
		if strings.Contains(l, "alice") {
			if !strings.Contains(l, "<1%") || strings.Contains(l, " 0%") {
				t.Errorf("443's row: %q", l)
			}
			return
		}
	}
	t.Errorf("no row for 443:\n%s", c.View())
}

// TestConsoleTextWraps: a text screen wraps a long line (an error whose
// end says what to do) instead of cutting it at the screen's edge.
func TestConsoleTextWraps(t *testing.T) {
	c, _ := newTestConsole(t, i18n.EN, false)
	c.Update(textMsg{title: "Notifications", lines: []string{"dog: " + strings.Repeat("the configuration is not there ", 4) + "run `dog notify telegram` first"}})
	v := c.View()
	if !strings.Contains(strings.Join(strings.Fields(v), " "), "run `dog notify telegram` first") {
		t.Errorf("the line's end is cut:\n%s", v)
	}
	screenFits(t, "text", v, false)
}

// TestConsoleAnyWidth: the main screen draws at every terminal width an
// operator's window may have, in both languages, and no line runs past
// it. Below 71 columns the quota bar has no room: an item with some use
// once asked for a bar cell there and the console crashed.
func TestConsoleAnyWidth(t *testing.T) {
	for _, lc := range []struct {
		lang      i18n.Lang
		eastAsian bool
	}{{i18n.EN, false}, {i18n.ZH, true}} {
		c, _ := newTestConsole(t, lc.lang, lc.eastAsian)
		for w := 40; w <= 200; w++ {
			c.Update(tea.WindowSizeMsg{Width: w, Height: 24})
			fitsOn(t, c.View(), w, lc.eastAsian)
		}
	}
}

// TestConsoleLongError: an action's error longer than the two message
// lines (a refused edit names the file, the item, the key and then what to
// do) opens in full on a screen of its own; esc goes back to the table.
func TestConsoleLongError(t *testing.T) {
	for _, lc := range []struct {
		lang      i18n.Lang
		eastAsian bool
		end       string
	}{{i18n.EN, false, "a port can belong to one item only"}, {i18n.ZH, true, "一个端口只能属于一个条目"}} {
		c, _ := newTestConsole(t, lc.lang, lc.eastAsian)
		err := c.p.Errorf(i18n.EditInvalid, &config.Error{Source: "/etc/port-traffic-dog/config.yaml:39", Item: "5050", Field: "ports",
			Msg: `overlaps item "5000-5100" (/etc/port-traffic-dog/config.yaml:22) on port 5050: a port can belong to one item only`})
		c.Update(doneMsg{err: err})
		v := c.View()
		if !strings.Contains(strings.Join(strings.Fields(v), ""), strings.Join(strings.Fields(lc.end), "")) {
			t.Errorf("%s: the error's end is cut:\n%s", lc.lang, v)
		}
		screenFits(t, "error", v, lc.eastAsian)
		press(c, "esc")
		if v := c.View(); !strings.Contains(v, "5000-5100") || !strings.Contains(v, c.p.Sprintf(i18n.ColState)) {
			t.Errorf("%s: esc did not go back to the table:\n%s", lc.lang, v)
		}
	}
	// A long outcome too (an export's checksum and next step, an added
	// item's warning).
	c, _ := newTestConsole(t, i18n.EN, false)
	long := "added 7001 in /etc/port-traffic-dog/config.yaml (5 items); the enforcer applied it\n" +
		`warning: /etc/port-traffic-dog/config.yaml:4: item "7001": expired on 2025-11-15, so its traffic is blocked; if it should not be, change or remove the date (dog set 7001 --expires ...)`
	c.Update(doneMsg{out: long})
	if v := c.View(); !strings.HasPrefix(v, "Done") || !strings.Contains(strings.Join(strings.Fields(v), " "), "(dog set 7001 --expires ...)") {
		t.Errorf("a long outcome:\n%s", v)
	}
	// A short error stays on the main screen's message lines.
	c, _ = newTestConsole(t, i18n.EN, false)
	c.Update(doneMsg{err: c.p.Errorf(i18n.NotConfigured, "9999")})
	if v := c.View(); !strings.Contains(v, `dog: "9999" is not configured`) || !strings.Contains(v, "a add") {
		t.Errorf("a short error:\n%s", v)
	}
}

// TestConsoleAddTakenPorts: ports another item counts are refused at the
// ports field, with the item and the port, before the rest of the form is
// filled in.
func TestConsoleAddTakenPorts(t *testing.T) {
	for _, lc := range []struct {
		lang        i18n.Lang
		taken, same string
	}{{i18n.EN, `overlaps item "5000-5100" on port 5050`, `"8080" is already an item`},
		{i18n.ZH, `与条目 "5000-5100" 在端口 5050 上重叠`, `"8080" 已经是一个条目`}} {
		c, _ := newTestConsole(t, lc.lang, lc.lang == i18n.ZH)
		press(c, "a", "5", "0", "5", "0", "enter")
		if v := c.View(); !strings.Contains(v, lc.taken) || !strings.Contains(v, c.p.Sprintf(i18n.HintRemark)) {
			t.Errorf("%s: 5050 taken by 5000-5100:\n%s", lc.lang, v)
		}
		press(c, "backspace", "backspace", "backspace", "backspace", "8", "0", "8", "0", "enter")
		if v := c.View(); !strings.Contains(v, lc.same) {
			t.Errorf("%s: 8080 exists:\n%s", lc.lang, v)
		}
		press(c, "backspace", "1", "enter")
		if v := c.View(); strings.Contains(v, lc.same) || strings.Contains(v, lc.taken) {
			t.Errorf("%s: 8081 is free:\n%s", lc.lang, v)
		}
	}
}

// TestConsoleDetailsInFull: the selection's details take the rows the
// table leaves free, so an item with a limit and an expiry date shows the
// date at 80 columns (cut after two lines before); a full table keeps two.
func TestConsoleDetailsInFull(t *testing.T) {
	c, _ := newTestConsole(t, i18n.EN, false)
	st := consoleStatus(fixedNow.Add(4*time.Second), 1<<20)
	st.Items[0].RateIn, st.Items[0].RateOut = 100e6, 100e6
	st.Items[0].Expires = time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	c.Update(statusMsg{st: st, at: fixedNow.Add(4 * time.Second)})
	v := c.View()
	if !strings.Contains(v, "expires 2026-12-31") || !strings.Contains(v, "rate 100 Mbit/s") {
		t.Errorf("443's limit and expiry are not on the screen:\n%s", v)
	}
	screenFits(t, "details", v, false)
	// A table that fills the screen leaves the details their two lines.
	for i := range 20 {
		st.Items = append(st.Items, adminapi.Item{Ports: fmt.Sprint(20000 + i), ID: fmt.Sprint("p", 20000+i), ResetDay: 1})
	}
	c.Update(statusMsg{st: st, at: fixedNow.Add(6 * time.Second)})
	v = c.View()
	screenFits(t, "full table", v, false)
	if !strings.Contains(v, "q quit") || !strings.Contains(v, "> 443 ") {
		t.Errorf("a full table:\n%s", v)
	}
}

// TestConsoleWidePorts: on a wide terminal a long group shows in full in
// the ports column, which an 80-column screen cuts.
func TestConsoleWidePorts(t *testing.T) {
	c, _ := newTestConsole(t, i18n.EN, false)
	if v := c.View(); !strings.Contains(v, "443,9000-9~") {
		t.Errorf("80 columns: the group is not cut as expected:\n%s", v)
	}
	c.Update(tea.WindowSizeMsg{Width: 160, Height: 24})
	v := c.View()
	if !strings.Contains(v, "  443,9000-9100 ") || !strings.Contains(v, "alice 阿里巴巴 香港中转 premium") {
		t.Errorf("160 columns: the group or the remark is cut:\n%s", v)
	}
	fitsOn(t, v, 160, false)
	checkColumns(t, v, "STATE")
}

// TestConsoleEscStays: Esc on the main screen clears the last outcome and
// stays (it is back or cancel on every other screen, and a second Esc
// after a form that closed quit the console); q quits.
func TestConsoleEscStays(t *testing.T) {
	c, _ := newTestConsole(t, i18n.EN, false)
	c.Update(doneMsg{err: c.p.Errorf(i18n.NotConfigured, "9999")})
	_, cmd := c.Update(key("esc"))
	if c.quitting || cmd != nil {
		t.Fatal("esc on the main screen quit the console")
	}
	if v := c.View(); strings.Contains(v, "9999") || !strings.Contains(v, "q quit") {
		t.Errorf("esc did not clear the outcome:\n%s", v)
	}
	if c.Update(key("q")); !c.quitting {
		t.Error("q did not quit")
	}
}

// TestConsoleWrapKeepsSizes: a wrapped line never parts a size from its
// unit ("in 120" on one line, "GiB" on the next), in either language.
func TestConsoleWrapKeepsSizes(t *testing.T) {
	unitFirst := regexp.MustCompile(`(?m)^(B|KiB|MiB|GiB|TiB|PiB)\b`)
	for _, lang := range []i18n.Lang{i18n.EN, i18n.ZH} {
		c, _ := newTestConsole(t, lang, lang == i18n.ZH)
		press(c, "d")
		remove := c.View()
		press(c, "n", "down", "r")
		reset := c.View()
		for name, v := range map[string]string{"remove": remove, "reset": reset} {
			if unitFirst.MatchString(v) {
				t.Errorf("%s, %s: a line starts with a unit:\n%s", lang, name, v)
			}
		}
	}
}

// TestConfirmWraps: dog reset --all's list of periods is wrapped to the
// terminal, each line indented, a size kept with its unit (the terminal
// cut "1.86 GiB" into "1." and "86 GiB").
func TestConfirmWraps(t *testing.T) {
	var out bytes.Buffer
	env := &Env{Out: &out, P: i18n.New(i18n.ZH), Width: 80, Interactive: true, In: strings.NewReader("n\n")}
	st := consoleStatus(fixedNow, 0)
	var show []string
	for _, it := range st.Items {
		show = append(show, periodLine(env.P, it, time.UTC))
	}
	confirm(env, "dog reset --all", show, "?")
	cond := tableStyle{}.cond()
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if cond.StringWidth(l) > 80 || !strings.HasPrefix(l, "  ") && !strings.Contains(l, "[y/N]") {
			t.Errorf("a line wider than 80 columns or not indented: %q", l)
		}
	}
	if strings.Contains(out.String(), "\n  GiB") || !strings.Contains(out.String(), "200 GiB") {
		t.Errorf("a size parted from its unit:\n%s", out.String())
	}
}
