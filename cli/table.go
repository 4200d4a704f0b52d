package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/mattn/go-runewidth"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/i18n"
	"port-traffic-dog/internal/legacy"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/units"
)

// tableStyle is how the status table is drawn.
type tableStyle struct {
	color bool
	width int // columns; 0 = 80
	// eastAsian: the terminal draws East Asian "ambiguous" characters (░ █
	// · …) two columns wide, as CJK locales do; the table then sticks to
	// ASCII for its own marks so the columns stay aligned. CJK remarks are
	// measured as two columns either way.
	eastAsian bool
	p         *i18n.Printer
	// rates, by item ID, are shown when set (the live views).
	rates map[string]rate
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

func (s tableStyle) paint(code, text string) string {
	if !s.color || text == "" {
		return text
	}
	return code + text + ansiReset
}

func (s tableStyle) cond() *runewidth.Condition {
	c := runewidth.NewCondition()
	c.EastAsianWidth = s.eastAsian
	return c
}

func (s tableStyle) sep() string {
	if s.eastAsian {
		return " | "
	}
	return " · "
}

// columns of the first line of an item.
type columns struct {
	ports, remark, used, quota, state, bar int
}

const gap = "  "

func (s tableStyle) layoutFor(st *adminapi.Status, width int) columns {
	cond := s.cond()
	c := columns{ports: cond.StringWidth(s.p.Sprintf(i18n.ColPorts)), bar: 10,
		used:  max(8, cond.StringWidth(s.p.Sprintf(i18n.ColUsed))),
		state: max(cond.StringWidth(s.p.Sprintf(i18n.StateBlockedQuota)), cond.StringWidth(s.p.Sprintf(i18n.ColState)))}
	// As wide as the entries that fit in 17 columns: longer groups get a
	// line of their own, and the remark the room no entry uses.
	for _, it := range append([]adminapi.Item{st.Host}, st.Items...) {
		if len(it.Ports) <= 17 {
			c.ports = max(c.ports, len(it.Ports))
		}
	}
	switch {
	case width < 66:
		c.bar = 0
	case width < 76:
		c.bar = 5
	}
	// bar, "100%", " of " (" " when narrow), "1023 GiB"
	c.quota = max(cond.StringWidth(s.p.Sprintf(i18n.QuotaOf, "100%", "1023 GiB")), cond.StringWidth(s.p.Sprintf(i18n.NoQuota)))
	if c.bar > 0 {
		c.quota += c.bar + 1
	} else {
		c.quota = max(len("100% 1023 GiB"), cond.StringWidth(s.p.Sprintf(i18n.NoQuota)))
	}
	fixed := c.ports + c.used + c.quota + c.state + 4*len(gap)
	c.remark = min(max(width-fixed, 6), 32)
	// Too narrow for a long port column: narrow it (longer ports get a
	// line of their own) rather than run past the terminal.
	if over := fixed + c.remark - width; over > 0 {
		c.ports = max(c.ports-over, len("PORTS"))
	}
	return c
}

// renderStatus draws the status table: one line per item with its use, a
// quota bar and its state, and an indented line (or more) with the details.
func renderStatus(w io.Writer, st *adminapi.Status, live bool, s tableStyle) error {
	width := s.width
	if width <= 0 {
		width = 80
	}
	loc := statusLocation(st)
	cond := s.cond()
	col := s.layoutFor(st, width)
	var b strings.Builder

	when := st.Time.In(loc).Format("2006-01-02 15:04 MST")
	if st.Timezone != "" && st.Timezone != "Local" {
		when = st.Time.In(loc).Format("2006-01-02 15:04 ") + st.Timezone // "CST" says little
	}
	head := []string{s.p.Sprintf(i18n.ProductName), when}
	head = append(head, s.p.Count(len(st.Items), i18n.ItemsOne, i18n.ItemsMany))
	if live {
		if st.Version != "" {
			head = append(head, s.p.Sprintf(i18n.HeadEnforcer, st.Version))
		}
	} else {
		head = append(head, s.p.Sprintf(i18n.HeadNotRunning))
	}
	if !st.LastCheckpoint.IsZero() {
		head = append(head, s.p.Sprintf(i18n.HeadCheckpoint, st.LastCheckpoint.In(loc).Format("15:04:05")))
	}
	for _, l := range wrapJoin(head, s.sep(), width, "", cond) {
		b.WriteString(s.paint(ansiBold, l) + "\n")
	}
	b.WriteString("\n")

	hdr := cond.FillRight(s.p.Sprintf(i18n.ColPorts), col.ports) + gap + cond.FillRight(s.p.Sprintf(i18n.ColRemark), col.remark) + gap +
		cond.FillLeft(s.p.Sprintf(i18n.ColUsed), col.used) + gap + cond.FillRight(s.p.Sprintf(i18n.ColQuota), col.quota) + gap + s.p.Sprintf(i18n.ColState)
	b.WriteString(s.paint(ansiBold, hdr) + "\n")

	for _, it := range st.Items {
		s.row(&b, it, col, loc, width, cond)
	}
	host := st.Host
	if host.Remark == "" {
		host.Remark = s.p.Sprintf(i18n.WholeHost)
	}
	s.row(&b, host, col, loc, width, cond)
	_, err := io.WriteString(w, b.String())
	return err
}

func (s tableStyle) row(b *strings.Builder, it adminapi.Item, col columns, loc *time.Location, width int, cond *runewidth.Condition) {
	ports := it.Ports
	if len(ports) > col.ports {
		b.WriteString(ports + "\n")
		ports = ""
	}
	remark := it.Remark
	if remark == "" {
		remark = "-"
	}
	details := s.details(it, loc)
	// A remark cut to its column is in the details whole: it names the
	// customer, whom an operator looks for (dog status | grep).
	if cut := cond.Truncate(remark, col.remark, "…"); cut != remark {
		details = append([]string{s.p.Sprintf(i18n.RemarkInFull, remark)}, details...)
		remark = cut
	}
	line := cond.FillRight(ports, col.ports) + gap + cond.FillRight(remark, col.remark) + gap +
		cond.FillLeft(units.FormatBytes(it.Billable), col.used) + gap + s.quotaCell(it, col, cond) + gap + s.state(it)
	b.WriteString(strings.TrimRight(line, " ") + "\n")
	for _, l := range wrapJoin(details, s.sep(), width, "  ", cond) {
		b.WriteString(s.paint(ansiDim, l) + "\n")
	}
}

// usePercent is the share of the quota used, "<1%" for a use that rounds
// to 0 but is not (the bar shows it as a cell).
func usePercent(billable, quota uint64) string {
	pct := float64(billable) / float64(quota) * 100
	if pct > 0 && pct < 1 {
		return "<1%"
	}
	return fmt.Sprintf("%.0f%%", pct)
}

func (s tableStyle) quotaCell(it adminapi.Item, col columns, cond *runewidth.Condition) string {
	if it.Quota == 0 {
		return cond.FillRight(s.p.Sprintf(i18n.NoQuota), col.quota)
	}
	p := cond.FillLeft(usePercent(it.Billable, it.Quota), 4)
	text := s.p.Sprintf(i18n.QuotaOf, p, units.FormatBytes(it.Quota))
	if col.bar == 0 {
		text = p + " " + units.FormatBytes(it.Quota) // narrow: every column counts
	}
	cell := cond.FillRight(text, col.quota-col.bar-1)
	if col.bar == 0 {
		return cond.FillRight(text, col.quota)
	}
	return s.quotaBar(it.Billable, it.Quota, col.bar) + " " + cell
}

// quotaBar is used against quota in width cells, green, yellow from 80 %,
// red from 95 %.
func (s tableStyle) quotaBar(used, quota uint64, width int) string {
	frac := float64(used) / float64(quota)
	filled := min(int(frac*float64(width)+0.5), width)
	if used > 0 && filled == 0 && width > 0 {
		filled = 1 // some use shows, however little (where there is a cell)
	}
	full, empty := "█", "░"
	if s.eastAsian {
		full, empty = "#", "-"
	}
	color := ansiGreen
	switch {
	case frac >= 0.95:
		color = ansiRed
	case frac >= 0.8:
		color = ansiYellow
	}
	return s.paint(color, strings.Repeat(full, filled)) + s.paint(ansiDim, strings.Repeat(empty, width-filled))
}

func (s tableStyle) state(it adminapi.Item) string {
	switch it.Blocked {
	case "":
		return s.paint(ansiGreen, s.p.Sprintf(i18n.StateOK))
	case "expired":
		return s.paint(ansiYellow, s.p.Sprintf(i18n.StateExpired))
	case "quota":
		return s.paint(ansiRed, s.p.Sprintf(i18n.StateBlockedQuota))
	default:
		return s.paint(ansiRed, s.p.Sprintf(i18n.StateBlocked, it.Blocked))
	}
}

func (s tableStyle) details(it adminapi.Item, loc *time.Location) []string {
	var d []string
	if r, ok := s.rates[it.ID]; ok {
		d = append(d, s.p.Sprintf(i18n.NowRates, units.FormatRate(r.in), units.FormatRate(r.out)))
	}
	d = append(d, s.p.Sprintf(i18n.InOut, units.FormatBytes(it.PeriodIn), units.FormatBytes(it.PeriodOut)))
	if it.Protocols != "" {
		d = append(d, s.p.Sprintf(i18n.ProtocolsBilling, it.Protocols, it.Billing))
	}
	if it.ResetDay == 0 {
		d = append(d, s.p.Sprintf(i18n.NeverResets, it.PeriodStart.In(loc).Format("2006-01-02")))
	} else if it.NextReset.IsZero() {
		d = append(d, s.p.Sprintf(i18n.ResetsOnDay, it.ResetDay))
	} else {
		d = append(d, s.p.Sprintf(i18n.ResetsOnDayNext, it.ResetDay, it.NextReset.In(loc).Format("2006-01-02")))
	}
	if r := s.limits(it); r != "" {
		d = append(d, r)
	}
	if !it.Expires.IsZero() {
		d = append(d, s.p.Sprintf(i18n.ExpiresOn, it.Expires.In(loc).Format("2006-01-02")))
	}
	return d
}

// limits is the item's bandwidth limit, "" for none.
func (s tableStyle) limits(it adminapi.Item) string {
	switch {
	case it.RateIn > 0 && it.RateIn == it.RateOut:
		return s.p.Sprintf(i18n.RateBoth, units.FormatRate(it.RateIn))
	case it.RateIn > 0 && it.RateOut > 0:
		return s.p.Sprintf(i18n.RateInOut, units.FormatRate(it.RateIn), units.FormatRate(it.RateOut))
	case it.RateIn > 0:
		return s.p.Sprintf(i18n.RateIn, units.FormatRate(it.RateIn))
	case it.RateOut > 0:
		return s.p.Sprintf(i18n.RateOut, units.FormatRate(it.RateOut))
	}
	return ""
}

// wrapJoin joins parts with sep into lines no wider than width (each
// starting with indent); a part is never split.
func wrapJoin(parts []string, sep string, width int, indent string, cond *runewidth.Condition) []string {
	var lines []string
	cur := ""
	for _, p := range parts {
		switch {
		case cur == "":
			cur = indent + p
		case cond.StringWidth(cur+sep+p) > width:
			lines = append(lines, cur)
			cur = indent + p
		default:
			cur += sep + p
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// joinUnits joins each word that starts with a unit to the number before
// it ("120", "GiB," → "120 GiB,"), so that wrapping at the spaces never
// parts a size from its unit.
func joinUnits(words []string) []string {
	names := units.FormatNames()
	var out []string
	for _, w := range words {
		if n := len(out); n > 0 && endsWithDigit(out[n-1]) && startsWithUnit(w, names) {
			out[n-1] += " " + w
			continue
		}
		out = append(out, w)
	}
	return out
}

func endsWithDigit(w string) bool { return w != "" && w[len(w)-1] >= '0' && w[len(w)-1] <= '9' }

// startsWithUnit: w is one of the unit names, or one followed by
// punctuation ("GiB，出").
func startsWithUnit(w string, names []string) bool {
	for _, u := range names {
		if rest, ok := strings.CutPrefix(w, u); ok && (rest == "" || !unicode.IsLetter([]rune(rest)[0])) {
			return true
		}
	}
	return false
}

// statusLocation is the enforcer's time zone, in which periods and
// resets are shown.
func statusLocation(st *adminapi.Status) *time.Location {
	if st == nil {
		return time.Local
	}
	return zone(st.Timezone)
}

// zone is the enforcer's time zone by name; an older enforcer's answer
// without one, or a name this host's zone database lacks, is the local
// zone.
func zone(name string) *time.Location {
	if name != "" {
		if l, err := time.LoadLocation(name); err == nil {
			return l
		}
	}
	return time.Local
}

// historyWidth is the width of renderHistory's one-line layout (with
// a ports column of 16).
const historyWidth = 100

// renderHistory draws the reset history, its times in loc (the enforcer's
// zone, as status shows periods): one line per reset, or, on a terminal
// narrower than that line, two: what was reset, then its bytes, so that no
// column falls off the screen.
func renderHistory(w io.Writer, resets []state.Reset, loc *time.Location, s tableStyle) {
	cond := s.cond()
	l, r := cond.FillRight, cond.FillLeft
	remarkCol := func(t string) string { return l(cond.Truncate(t, 20, "…"), 20) }
	// The ports column fits the longest group, so the columns after it
	// stay aligned.
	pw := 16
	for _, rs := range resets {
		pw = max(pw, cond.StringWidth(rs.Ports))
	}
	narrow := s.width > 0 && s.width < historyWidth+pw-16
	line := func(cells ...string) {
		if narrow {
			fmt.Fprintln(w, strings.TrimRight(strings.Join([]string{l(cells[0], 16), l(cells[1], pw), l(cells[3], 6), cells[2]}, "  "), " "))
			return
		}
		fmt.Fprintln(w, strings.Join([]string{l(cells[0], 16), l(cells[1], pw), remarkCol(cells[2]), l(cells[3], 6),
			r(cells[4], 10), r(cells[5], 10), r(cells[6], 10)}, "  "))
	}
	line(s.p.Sprintf(i18n.ColTime), s.p.Sprintf(i18n.ColPorts), s.p.Sprintf(i18n.ColRemark), s.p.Sprintf(i18n.ColReason),
		s.p.Sprintf(i18n.ColIn), s.p.Sprintf(i18n.ColOut), s.p.Sprintf(i18n.ColBillable))
	for _, rs := range resets {
		remark := rs.Remark
		if rs.Reason == state.ReasonImport || rs.Reason == legacy.ReasonLegacy {
			remark = s.p.Message(remark) // dog's words (enforcer.Import, legacy.History), not the operator's
		}
		in, out, billable := units.FormatBytes(rs.InBytes), units.FormatBytes(rs.OutBytes), units.FormatBytes(rs.Billable)
		if narrow {
			remark = cond.Truncate(remark, max(s.width-16-pw-6-3*2, 8), "…")
		}
		line(rs.Time.In(loc).Format("2006-01-02 15:04"), rs.Ports, remark, s.reason(rs.Reason), in, out, billable)
		if narrow {
			fmt.Fprintln(w, "  "+s.p.Sprintf(i18n.HistoryBytes, in, out, billable))
		}
	}
}

func (s tableStyle) reason(r string) string {
	switch r {
	case state.ReasonAuto:
		return s.p.Sprintf(i18n.ReasonAuto)
	case state.ReasonManual:
		return s.p.Sprintf(i18n.ReasonManual)
	case state.ReasonImport:
		return s.p.Sprintf(i18n.ReasonImport)
	case legacy.ReasonLegacy:
		return s.p.Sprintf(i18n.ReasonLegacy)
	}
	return r
}
