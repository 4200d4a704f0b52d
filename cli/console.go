package cli

import (
	"bytes"
	"errors"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/huh"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/filestamp"
	"port-traffic-dog/internal/i18n"
	"port-traffic-dog/internal/notify"
	"port-traffic-dog/internal/units"
)

// The console: `dog` alone on a terminal. A live table of every item (rates
// from successive status reads, period use with a quota bar, state), the
// host and a total, and the operator's actions on the selected item, each
// through the same code as its command (editConfig, the admin API) so the
// checks and messages are the same.

// consoleInterval is how often the console reads the status.
const consoleInterval = 2 * time.Second

// ExpiringSoon is how close an expiry date makes an item "expiring".
const ExpiringSoon = 7 * 24 * time.Hour

// wantsConsole: dog was started with no command (global flags only), on a
// terminal that can draw one.
func wantsConsole(args []string, env *Env) bool {
	if !env.Interactive || env.In == nil || env.Getenv == nil {
		return false
	}
	if t := env.Getenv("TERM"); t == "dumb" || t == "" {
		return false
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--socket" || a == "--config" || a == "--lang":
			i++ // its value
		case strings.HasPrefix(a, "--socket=") || strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "--lang="):
		default:
			return false // a command, --no-menu, --help, …
		}
	}
	return true
}

type screen int

const (
	screenMain screen = iota
	screenForm
	screenConfirm
	screenText
)

// console is the bubbletea model.
type console struct {
	g      *Globals
	env    *Env
	p      *i18n.Printer
	client *adminapi.Client
	style  tableStyle

	st    *adminapi.Status
	err   error
	smp   sampler
	rates map[string]rate
	sel   int // selected item
	top   int // first item shown
	w, h  int

	screen screen
	// form: the open form, and what its values do when submitted.
	form     *huh.Form
	onSubmit func() tea.Cmd
	// confirm: what the confirmation shows and runs.
	title string
	lines []string
	onYes func() tea.Cmd
	// text: the view's own keys and their hint.
	textKeys map[string]func() tea.Cmd
	textHint i18n.Key
	textTop  int
	message  string // the last action's outcome
	// cfgStamp and cfgErr: the config file as last checked, and why it
	// does not load (nil: it does).
	cfgStamp filestamp.Stamp
	cfgErr   error
	failed   bool
	quitting bool
}

type statusMsg struct {
	st  *adminapi.Status
	err error
	at  time.Time
}

type tickMsg struct{}

// doneMsg is the outcome of an action: its output or its error.
type doneMsg struct {
	out string
	err error
}

// textMsg opens a text view (history, a dry-run import).
type textMsg struct {
	title string
	lines []string
	err   error
	// keys are the view's own actions (y imports after a dry run; t and
	// s test and report notifications), hint their line of keys.
	keys map[string]func() tea.Cmd
	hint i18n.Key
}

func runConsole(g *Globals, env *Env) error {
	if _, err := adminapi.NewClient(g.Socket).Status(env.Ctx); errors.Is(err, adminapi.ErrNotRunning) {
		// Nothing to act through: what dog status shows without the
		// enforcer (the kernel's counters, the last checkpoint) says more.
		return (&StatusCmd{}).Run(g, env)
	}
	if !env.Color {
		// NO_COLOR or TERM=dumb: the forms' theme draws with the same
		// renderer.
		lipgloss.SetColorProfile(termenv.Ascii)
	}
	c := newConsole(g, env)
	// View makes the text it shows terminal-safe; bubbletea's own control
	// sequences go to the terminal as they are.
	prog := tea.NewProgram(c, tea.WithInput(env.In), tea.WithOutput(env.raw), tea.WithContext(env.Ctx), tea.WithAltScreen())
	_, err := prog.Run()
	if err != nil && env.Ctx.Err() != nil {
		return nil // Ctrl-C or SIGTERM: a normal way out
	}
	return err
}

func newConsole(g *Globals, env *Env) *console {
	return &console{g: g, env: env, p: env.P, client: adminapi.NewClient(g.Socket),
		style: env.style(), w: 80, h: 24}
}

func (c *console) Init() tea.Cmd { return c.fetch() }

func (c *console) fetch() tea.Cmd {
	return func() tea.Msg {
		st, err := c.client.Status(c.env.Ctx)
		return statusMsg{st: st, err: err, at: time.Now()}
	}
}

func (c *console) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch m := msg.(type) {
	case tea.WindowSizeMsg:
		c.w, c.h = m.Width, m.Height
		c.style.width = m.Width
		if c.form != nil {
			c.form = c.form.WithWidth(min(m.Width, 100))
		}
	case statusMsg:
		c.err = m.err
		if m.err == nil {
			c.st = m.st
			c.rates = c.smp.sample(m.st, m.at)
			c.style.rates = c.rates
			c.sel = min(c.sel, max(len(c.st.Items)-1, 0))
			c.checkConfig()
		}
		// One read at a time: the next starts an interval after this one.
		return c, tea.Tick(consoleInterval, func(time.Time) tea.Msg { return tickMsg{} })
	case tickMsg:
		return c, c.fetch()
	case doneMsg:
		c.screen, c.form = screenMain, nil
		c.failed = m.err != nil
		title := i18n.ConsoleDoneTitle
		if m.err != nil {
			c.message, title = "dog: "+c.p.Error(m.err), i18n.ConsoleErrorTitle
		} else {
			c.message = strings.TrimSpace(m.out)
		}
		if len(c.messageLines(c.message)) > 2 {
			// The two message lines would cut it, and its end is what
			// names the value and says what to do (a warning, the next
			// step).
			c.screen, c.title, c.lines, c.textTop, c.textKeys = screenText, c.p.Sprintf(title), strings.Split(c.message, "\n"), 0, nil
		}
		return c, c.fetch()
	case confirmMsg:
		c.screen, c.title, c.lines, c.onYes = screenConfirm, m.title, m.lines, m.yes
		return c, nil
	case textMsg:
		if m.err != nil {
			return c.Update(doneMsg{err: m.err})
		}
		c.screen, c.title, c.lines, c.textTop, c.textKeys, c.textHint = screenText, m.title, m.lines, 0, m.keys, m.hint
		return c, nil
	case tea.KeyMsg:
		if m.String() == "ctrl+c" {
			c.quitting = true
			return c, tea.Quit
		}
		switch c.screen {
		case screenMain:
			return c.mainKey(m)
		case screenConfirm:
			return c.confirmKey(m)
		case screenText:
			return c.textKey(m)
		}
	}
	if c.screen == screenForm && c.form != nil {
		if k, ok := msg.(tea.KeyMsg); ok && k.String() == "esc" {
			c.screen, c.form = screenMain, nil
			c.message, c.failed = c.p.Sprintf(i18n.Cancelled), false
			return c, nil
		}
		f, cmd := c.form.Update(msg)
		if f, ok := f.(*huh.Form); ok {
			c.form = f
		}
		switch c.form.State {
		case huh.StateCompleted:
			c.form = nil
			c.screen = screenMain
			return c, c.onSubmit()
		case huh.StateAborted:
			c.screen, c.form = screenMain, nil
			return c, nil
		}
		return c, cmd
	}
	return c, nil
}

// selected is the item under the cursor, if any.
func (c *console) selected() (adminapi.Item, bool) {
	if c.st == nil || c.sel >= len(c.st.Items) {
		return adminapi.Item{}, false
	}
	return c.st.Items[c.sel], true
}

func (c *console) mainKey(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	n := 0
	if c.st != nil {
		n = len(c.st.Items)
	}
	page := c.listRows()
	it, ok := c.selected()
	switch k.String() {
	case "q":
		c.quitting = true
		return c, tea.Quit
	case "esc":
		// Esc is "back" everywhere else: here it dismisses the last
		// outcome rather than quit (a second Esc after a form that
		// already closed would otherwise leave the console).
		c.message, c.failed = "", false
	case "up", "k":
		c.sel = max(c.sel-1, 0)
	case "down", "j":
		c.sel = max(min(c.sel+1, n-1), 0)
	case "pgup":
		c.sel = max(c.sel-page, 0)
	case "pgdown", " ":
		c.sel = max(min(c.sel+page, n-1), 0)
	case "home", "g":
		c.sel = 0
	case "end", "G":
		c.sel = max(n-1, 0)
	case "a":
		return c.openItemForm("", fieldsAll)
	case "e":
		if ok {
			return c.openItemForm(it.Ports, fieldsAll)
		}
	case "l":
		if ok {
			return c.openItemForm(it.Ports, fieldsLimits)
		}
	case "x":
		if ok {
			return c.openItemForm(it.Ports, fieldsExpiry)
		}
	case "d", "delete":
		if ok {
			return c.confirmRemove(it)
		}
	case "r":
		if ok {
			return c.confirmReset(it)
		}
	case "h":
		return c, c.history(it.Ports, ok)
	case "o":
		return c.openPathForm(true)
	case "i":
		return c.openPathForm(false)
	case "n":
		return c, c.notifications()
	}
	return c, nil
}

func (c *console) confirmKey(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch strings.ToLower(k.String()) {
	case "y":
		c.screen = screenMain
		c.message, c.failed = c.p.Sprintf(i18n.Working), false
		return c, c.onYes()
	case "n", "esc", "q":
		c.screen = screenMain
		c.message, c.failed = c.p.Sprintf(i18n.Cancelled), false
	}
	return c, nil
}

func (c *console) textKey(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	page := max(c.h-4, 1)
	if act, ok := c.textKeys[k.String()]; ok {
		c.screen = screenMain
		c.message, c.failed = c.p.Sprintf(i18n.Working), false
		return c, act()
	}
	switch k.String() {
	case "q", "esc", "n":
		c.screen = screenMain
	case "up", "k":
		c.textTop = max(c.textTop-1, 0)
	case "down", "j":
		c.textTop = max(min(c.textTop+1, len(c.wrapAll(c.lines))-page), 0)
	case "pgup":
		c.textTop = max(c.textTop-page, 0)
	case "pgdown", " ":
		c.textTop = max(min(c.textTop+page, len(c.wrapAll(c.lines))-page), 0)
	}
	return c, nil
}

// capture runs a command's code with its output kept for the message line.
func (c *console) capture(run func(env *Env) error) tea.Cmd {
	return func() tea.Msg {
		var out bytes.Buffer
		env := *c.env
		env.Out, env.Err, env.raw, env.Interactive, env.Width, env.Color = &out, &out, &out, false, 0, false
		err := run(&env)
		return doneMsg{out: out.String(), err: err}
	}
}

func (c *console) confirmReset(it adminapi.Item) (tea.Model, tea.Cmd) {
	c.screen = screenConfirm
	c.title = c.p.Sprintf(i18n.ConsoleResetTitle, it.Ports)
	c.lines = []string{periodLine(c.p, it, statusLocation(c.st)), "", c.p.Sprintf(i18n.ConsoleResetWhat)}
	ports := it.Ports
	c.onYes = func() tea.Cmd {
		return c.capture(func(env *Env) error {
			return (&ResetCmd{Ports: []string{ports}}).Run(c.g, env)
		})
	}
	return c, nil
}

func (c *console) history(ports string, one bool) tea.Cmd {
	return func() tea.Msg {
		var filter []string
		title := c.p.Sprintf(i18n.ConsoleHistoryAll)
		if one {
			filter = []string{ports}
			title = c.p.Sprintf(i18n.ConsoleHistoryOf, ports)
		}
		resp, err := c.client.History(c.env.Ctx, filter)
		if err != nil {
			return textMsg{err: err}
		}
		if len(resp.Resets) == 0 {
			return textMsg{title: title, lines: []string{c.p.Sprintf(i18n.NoResets)}}
		}
		var b strings.Builder
		s := c.style
		s.color = false
		renderHistory(&b, resp.Resets, zone(resp.Timezone), s)
		return textMsg{title: title, lines: strings.Split(strings.TrimRight(b.String(), "\n"), "\n")}
	}
}

// View draws the current screen in at most c.h lines of c.w columns.
func (c *console) View() string {
	if c.quitting {
		return ""
	}
	var lines []string
	switch c.screen {
	case screenForm:
		if c.form != nil {
			lines = append([]string{c.bold(c.title), ""}, strings.Split(c.form.View(), "\n")...)
			lines = append(lines, "", c.dim(c.p.Sprintf(i18n.ConsoleFormKeys)))
		}
	case screenConfirm:
		lines = append([]string{c.bold(c.title), ""}, c.wrapAll(c.lines)...)
		lines = append(lines, "", c.bold(c.p.Sprintf(i18n.ConsoleConfirmKeys)))
	case screenText:
		page := max(c.h-4, 1)
		// Wrapped, not cut: an error's end is often what says what to do.
		all := c.wrapAll(c.lines)
		body := all[min(c.textTop, len(all)):]
		if len(body) > page {
			body = body[:page]
		}
		lines = append([]string{c.bold(c.title), ""}, body...)
		keys := c.p.Sprintf(i18n.ConsoleTextKeys)
		if c.textKeys != nil {
			keys = c.p.Sprintf(c.textHint)
		}
		lines = append(lines, "", c.dim(keys))
	default:
		lines = c.mainView()
	}
	if len(lines) > c.h {
		lines = lines[:c.h]
	}
	for i, l := range lines {
		if c.screen != screenForm {
			// What the enforcer, the config and the history say (remarks,
			// errors) cannot drive the terminal; the form draws only what
			// the operator types.
			l = termSafeString(l)
		}
		// Nothing may wrap (a long path, an error): the screen would scroll.
		lines[i] = ansi.Truncate(l, c.w, "")
	}
	return strings.Join(lines, "\n")
}

func (c *console) wrapAll(ls []string) []string {
	var out []string
	cond := c.style.cond()
	for _, l := range ls {
		if cond.StringWidth(l) <= c.w {
			out = append(out, l)
			continue
		}
		out = append(out, wrapJoin(joinUnits(strings.Split(l, " ")), " ", c.w, "", cond)...)
	}
	return out
}

func (c *console) bold(s string) string { return c.style.paint(ansiBold, s) }

// termSafeString is s as termSafe writes it.
func termSafeString(s string) string {
	var b strings.Builder
	_, _ = termSafe{&b}.Write([]byte(s)) // a strings.Builder takes every write
	return b.String()
}

func (c *console) dim(s string) string { return c.style.paint(ansiDim, s) }

// listRows is how many item lines fit: the screen less the header, the
// column titles, host and total, the details of the selection (2), the
// message (2) and the keys (2).
func (c *console) listRows() int { return max(c.h-10, 1) }

// consoleCols are the widths of the main table.
type consoleCols struct{ ports, remark, rate, used, bar, pct, state int }

func (c *console) cols() consoleCols {
	cond := c.style.cond()
	k := consoleCols{ports: 11, rate: 7, used: 9, bar: 10, pct: 4}
	for _, s := range []i18n.Key{i18n.StateOK, i18n.ConsoleStateBlocked, i18n.StateExpired,
		i18n.ConsoleStateExpiring, i18n.ConsoleStateLimited, i18n.ColState} {
		k.state = max(k.state, cond.StringWidth(c.p.Sprintf(s)))
	}
	for _, s := range []i18n.Key{i18n.ConsoleColIn, i18n.ConsoleColOut} {
		k.rate = max(k.rate, cond.StringWidth(c.p.Sprintf(s)))
	}
	if c.w < 76 {
		k.bar = max(c.w-70, 0)
	}
	// The ports column is as wide as its longest entry up to 11, the
	// remark takes the rest up to 32; a wide screen's room beyond that
	// shows longer groups and then longer remarks in full.
	wantPorts, wantRemark := cond.StringWidth(c.p.Sprintf(i18n.ColPorts)), 0
	if c.st != nil {
		for _, it := range append([]adminapi.Item{c.st.Host}, c.st.Items...) {
			wantPorts = max(wantPorts, cond.StringWidth(it.Ports))
			wantRemark = max(wantRemark, cond.StringWidth(it.Remark))
		}
	}
	room := c.w - (2 + 2*k.rate + k.used + k.bar + k.pct + k.state + 7)
	k.ports = min(wantPorts, k.ports)
	k.remark = min(max(room-k.ports, 4), 32)
	if extra := room - k.ports - k.remark; extra > 0 {
		grow := min(extra, max(wantPorts-k.ports, 0))
		k.ports += grow
		k.remark += min(extra-grow, max(wantRemark-k.remark, 0))
	}
	return k
}

func (c *console) mainView() []string {
	cond := c.style.cond()
	k := c.cols()
	var lines []string
	loc := statusLocation(c.st)
	head := []string{c.p.Sprintf(i18n.ProductName)}
	if c.st != nil {
		head = append(head, c.st.Time.In(loc).Format("2006-01-02 15:04:05"),
			c.p.Count(len(c.st.Items), i18n.ItemsOne, i18n.ItemsMany))
		blocked := 0
		for _, it := range c.st.Items {
			if it.Blocked != "" {
				blocked++
			}
		}
		if blocked > 0 {
			head = append(head, c.style.paint(ansiRed, c.p.Sprintf(i18n.ConsoleNBlocked, blocked)))
		}
		// The version last: a narrow screen cuts it, not the blocked count.
		if c.st.Version != "" {
			head = append(head, c.p.Sprintf(i18n.HeadEnforcer, c.st.Version))
		}
	}
	lines = append(lines, c.bold(cond.Truncate(strings.Join(head, c.style.sep()), c.w, "")))
	row := func(cursor, ports, remark, in, out, used, bar, pct, state string) string {
		l := cursor + cond.FillRight(cond.Truncate(ports, k.ports, "~"), k.ports) + " " +
			cond.FillRight(cond.Truncate(remark, k.remark, "~"), k.remark) + " " +
			cond.FillLeft(in, k.rate) + " " + cond.FillLeft(out, k.rate) + " " + cond.FillLeft(used, k.used) + " "
		if k.bar > 0 {
			l += bar + " "
		}
		return strings.TrimRight(l+cond.FillLeft(pct, k.pct)+" "+state, " ")
	}
	lines = append(lines, c.bold(row("  ", c.p.Sprintf(i18n.ColPorts), c.p.Sprintf(i18n.ColRemark), c.p.Sprintf(i18n.ConsoleColIn),
		c.p.Sprintf(i18n.ConsoleColOut), c.p.Sprintf(i18n.ColUsed), cond.FillRight(c.p.Sprintf(i18n.ColQuota), k.bar), "", c.p.Sprintf(i18n.ColState))))
	rows := c.listRows()
	pad := 0 // the table's blank rows
	if c.st == nil {
		for range rows + 2 {
			lines = append(lines, "")
		}
	} else {
		// Keep the selection on screen.
		if c.sel < c.top {
			c.top = c.sel
		}
		if c.sel >= c.top+rows {
			c.top = c.sel - rows + 1
		}
		c.top = max(min(c.top, len(c.st.Items)-rows), 0)
		itemLine := func(cursor string, it adminapi.Item) string {
			in, out := "", ""
			if r, ok := c.rates[it.ID]; ok {
				in, out = compactRate(r.in), compactRate(r.out)
			}
			bar, pct := c.bar(it, k.bar)
			return row(cursor, it.Ports, it.Remark, in, out, units.FormatBytes(it.Billable), bar, pct, c.state(it))
		}
		for i := c.top; i < c.top+rows; i++ {
			if i >= len(c.st.Items) {
				pad++
				continue
			}
			cursor := "  "
			if i == c.sel {
				cursor = "> "
			}
			l := itemLine(cursor, c.st.Items[i])
			if i == c.sel {
				l = c.style.paint(ansiBold, l)
			}
			lines = append(lines, l)
		}
		host := c.st.Host
		if host.Remark == "" {
			host.Remark = c.p.Sprintf(i18n.WholeHost)
		}
		lines = append(lines, itemLine("  ", host))
		lines = append(lines, c.bold(c.totalLine(row)))
	}
	// The selection's details: two lines, and the rows a short table
	// leaves free when they need more (limits and expiry come last).
	var details []string
	if it, ok := c.selected(); ok {
		details = wrapJoin(append([]string{it.Ports}, c.style.details(it, loc)...), c.style.sep(), c.w, "", cond)
	} else if c.st != nil {
		details = []string{c.p.Sprintf(i18n.ConsoleNoItems)}
	}
	more := min(max(len(details)-2, 0), pad)
	for range pad - more {
		lines = append(lines, "")
	}
	for i := range 2 + more {
		if i < len(details) {
			lines = append(lines, c.dim(details[i]))
		} else {
			lines = append(lines, "")
		}
	}
	msg := c.message
	switch {
	case c.err != nil:
		msg, c.failed = "dog: "+c.p.Error(c.err), true
	case msg == "" && c.cfgErr != nil:
		msg, c.failed = c.p.Sprintf(i18n.ConsoleConfigInvalid, c.st.Config), true
	case msg == "" && c.st != nil:
		msg = c.p.Sprintf(i18n.ConsoleRefresh, consoleInterval)
	}
	// Two lines: an outcome names a file, an error its place and value
	// (a longer error has a screen of its own first).
	msgLines := c.messageLines(msg)
	if len(msgLines) > 2 {
		msgLines = []string{msgLines[0], cond.Truncate(strings.Join(msgLines[1:], " "), c.w, "~")}
	}
	for len(msgLines) < 2 {
		msgLines = append(msgLines, "")
	}
	for _, l := range msgLines {
		if c.failed {
			l = c.style.paint(ansiRed, l)
		}
		lines = append(lines, l)
	}
	for _, l := range wrapJoin(strings.Split(c.p.Sprintf(i18n.ConsoleKeys), "  "), "  ", c.w, "", cond) {
		lines = append(lines, c.dim(l))
	}
	return lines
}

// checkConfig checks the config file the enforcer reads when it has
// changed since the last check (a read every refresh would cost a config
// of 10,000 items a parse every 2 s).
func (c *console) checkConfig() {
	if c.st.Config == "" {
		return
	}
	stamp, _ := filestamp.Of(c.st.Config)
	if stamp == c.cfgStamp {
		return
	}
	c.cfgStamp, c.cfgErr = stamp, configInvalid(c.st.Config)
}

// messageLines is msg wrapped to the screen's width.
func (c *console) messageLines(msg string) []string {
	cond := c.style.cond()
	var out []string
	for _, l := range wrapJoin(joinUnits(strings.Fields(msg)), " ", c.w, "", cond) {
		// A word wider than the screen (a path, Chinese without spaces)
		// is cut where the screen ends.
		out = append(out, strings.Split(cond.Wrap(l, c.w), "\n")...)
	}
	return out
}

// totalLine sums every item (the host is already a total of its own).
func (c *console) totalLine(row func(cursor, ports, remark, in, out, used, bar, pct, state string) string) string {
	var in, out, used uint64
	for _, it := range c.st.Items {
		r := c.rates[it.ID]
		in, out, used = in+r.in, out+r.out, used+it.Billable
	}
	rin, rout := "", ""
	if len(c.rates) > 0 {
		rin, rout = compactRate(in), compactRate(out)
	}
	return row("  ", c.p.Sprintf(i18n.ConsoleTotal), c.p.Count(len(c.st.Items), i18n.ItemsOne, i18n.ItemsMany),
		rin, rout, units.FormatBytes(used), "", "", "")
}

// bar is the quota bar and percentage of an item ("" without a quota).
func (c *console) bar(it adminapi.Item, width int) (string, string) {
	if it.Quota == 0 {
		return strings.Repeat(" ", width), "-"
	}
	return c.style.quotaBar(it.Billable, it.Quota, width), usePercent(it.Billable, it.Quota)
}

// state is the one word the table has room for: blocked, expired,
// expiring (within a week), limited (a bandwidth limit), ok.
func (c *console) state(it adminapi.Item) string {
	var now time.Time
	if c.st != nil {
		now = c.st.Time
	}
	switch {
	case it.Blocked == "quota":
		return c.style.paint(ansiRed, c.p.Sprintf(i18n.ConsoleStateBlocked))
	case it.Blocked != "":
		return c.style.paint(ansiYellow, c.p.Sprintf(i18n.StateExpired))
	case !it.Expires.IsZero() && it.Expires.Sub(now) < ExpiringSoon:
		return c.style.paint(ansiYellow, c.p.Sprintf(i18n.ConsoleStateExpiring))
	case it.RateIn > 0 || it.RateOut > 0:
		return c.p.Sprintf(i18n.ConsoleStateLimited)
	}
	return c.style.paint(ansiGreen, c.p.Sprintf(i18n.StateOK))
}

// compactRate is bits per second in at most 6 columns: 0, 980K, 12.3M, 1.05G.
func compactRate(bps uint64) string {
	s := units.FormatRate(bps)
	s = strings.TrimSuffix(s, "bit/s")
	return strings.ReplaceAll(s, " ", "")
}

// notifications shows what dog notify status shows; t sends a test
// message, s the status report now. Setting them up (the bot token) stays
// with dog notify telegram, which reads the token without echo.
func (c *console) notifications() tea.Cmd {
	paths := notifyPaths{PrometheusConfig: notify.DefaultPrometheusConfig, AlertmanagerConfig: notify.DefaultAlertmanagerConfig}
	status := c.capture(func(env *Env) error { return (&NotifyStatusCmd{notifyPaths: paths}).Run(c.g, env) })
	return func() tea.Msg {
		d := status().(doneMsg)
		lines := strings.Split(strings.TrimRight(d.out, "\n"), "\n")
		if d.err != nil {
			lines = append(lines, "dog: "+c.p.Error(d.err))
		}
		return textMsg{title: c.p.Sprintf(i18n.ConsoleNotifyTitle), lines: lines, hint: i18n.ConsoleNotifyKeys,
			keys: map[string]func() tea.Cmd{
				"t": func() tea.Cmd {
					return c.capture(func(env *Env) error { return (&NotifyTestCmd{notifyPaths: paths}).Run(c.g, env) })
				},
				"s": func() tea.Cmd {
					return c.capture(func(env *Env) error {
						return (&NotifyReportCmd{notifyPaths: paths, PrometheusURL: "http://127.0.0.1:9090"}).Run(c.g, env)
					})
				},
			}}
	}
}
