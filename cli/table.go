package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	"port-traffic-dog/internal/adminapi"
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

func layoutFor(st *adminapi.Status, width int) columns {
	c := columns{ports: len("PORTS"), used: 8, state: len("blocked: quota"), bar: 10}
	for _, it := range append([]adminapi.Item{st.Host}, st.Items...) {
		c.ports = max(c.ports, len(it.Ports))
	}
	c.ports = min(c.ports, 17) // longer groups get a line of their own
	switch {
	case width < 66:
		c.bar = 0
	case width < 76:
		c.bar = 5
	}
	// bar, "100%", " of " (" " when narrow), "1023 GiB"
	c.quota = len("100% of 1023 GiB")
	if c.bar > 0 {
		c.quota += c.bar + 1
	} else {
		c.quota = len("100% 1023 GiB")
	}
	fixed := c.ports + c.used + c.quota + c.state + 4*len(gap)
	c.remark = min(max(width-fixed, 6), 32)
	return c
}

// renderStatus draws the status table: one line per item with its use, a
// quota bar and its state, and an indented line (or more) with the details.
func renderStatus(w io.Writer, st *adminapi.Status, live bool, s tableStyle) error {
	width := s.width
	if width <= 0 {
		width = 80
	}
	loc := time.Local
	if st.Timezone != "" {
		if l, err := time.LoadLocation(st.Timezone); err == nil {
			loc = l
		}
	}
	cond := s.cond()
	col := layoutFor(st, width)
	var b strings.Builder

	when := st.Time.In(loc).Format("2006-01-02 15:04 MST")
	if st.Timezone != "" && st.Timezone != "Local" {
		when = st.Time.In(loc).Format("2006-01-02 15:04 ") + st.Timezone // "CST" says little
	}
	head := []string{"Port Traffic Dog", when}
	head = append(head, plural(len(st.Items), "item"))
	if live {
		if st.Version != "" {
			head = append(head, "enforcer "+st.Version)
		}
	} else {
		head = append(head, "ENFORCER NOT RUNNING")
	}
	if !st.LastCheckpoint.IsZero() {
		head = append(head, "checkpoint "+st.LastCheckpoint.In(loc).Format("15:04:05"))
	}
	for _, l := range wrapJoin(head, s.sep(), width, "", cond) {
		b.WriteString(s.paint(ansiBold, l) + "\n")
	}
	b.WriteString("\n")

	hdr := cond.FillRight("PORTS", col.ports) + gap + cond.FillRight("REMARK", col.remark) + gap +
		padLeft("USED", col.used) + gap + cond.FillRight("QUOTA", col.quota) + gap + "STATE"
	b.WriteString(s.paint(ansiBold, hdr) + "\n")

	for _, it := range st.Items {
		s.row(&b, it, col, loc, width, cond)
	}
	host := st.Host
	if host.Remark == "" {
		host.Remark = "(whole host)"
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
	remark = cond.Truncate(remark, col.remark, "…")
	line := cond.FillRight(ports, col.ports) + gap + cond.FillRight(remark, col.remark) + gap +
		padLeft(units.FormatBytes(it.Billable), col.used) + gap + s.quotaCell(it, col, cond) + gap + s.state(it)
	b.WriteString(strings.TrimRight(line, " ") + "\n")
	for _, l := range wrapJoin(s.details(it, loc), s.sep(), width, "  ", cond) {
		b.WriteString(s.paint(ansiDim, l) + "\n")
	}
}

func (s tableStyle) quotaCell(it adminapi.Item, col columns, cond *runewidth.Condition) string {
	if it.Quota == 0 {
		return cond.FillRight("no quota", col.quota)
	}
	pct := float64(it.Billable) / float64(it.Quota) * 100
	of := " of "
	if col.bar == 0 {
		of = " " // narrow: every column counts
	}
	text := fmt.Sprintf("%3.0f%%%s%s", pct, of, units.FormatBytes(it.Quota))
	if pct > 0 && pct < 1 {
		text = fmt.Sprintf(" <1%%%s%s", of, units.FormatBytes(it.Quota))
	}
	color := ansiGreen
	switch {
	case pct >= 95:
		color = ansiRed
	case pct >= 80:
		color = ansiYellow
	}
	cell := cond.FillRight(text, col.quota-col.bar-1)
	if col.bar == 0 {
		return cond.FillRight(text, col.quota)
	}
	filled := min(int(pct/100*float64(col.bar)+0.5), col.bar)
	if it.Billable > 0 && filled == 0 {
		filled = 1 // some use shows, however little
	}
	full, empty := "█", "░"
	if s.eastAsian {
		full, empty = "#", "-"
	}
	bar := s.paint(color, strings.Repeat(full, filled)) + s.paint(ansiDim, strings.Repeat(empty, col.bar-filled))
	return bar + " " + cell
}

func (s tableStyle) state(it adminapi.Item) string {
	switch it.Blocked {
	case "":
		return s.paint(ansiGreen, "ok")
	case "expired":
		return s.paint(ansiYellow, "expired")
	default:
		return s.paint(ansiRed, "blocked: "+it.Blocked)
	}
}

func (s tableStyle) details(it adminapi.Item, loc *time.Location) []string {
	var d []string
	d = append(d, fmt.Sprintf("in %s, out %s", units.FormatBytes(it.PeriodIn), units.FormatBytes(it.PeriodOut)))
	if it.Protocols != "" {
		d = append(d, it.Protocols+", billing "+it.Billing)
	}
	if it.ResetDay == 0 {
		d = append(d, "never resets (since "+it.PeriodStart.In(loc).Format("2006-01-02")+")")
	} else {
		reset := fmt.Sprintf("resets on day %d", it.ResetDay)
		if !it.NextReset.IsZero() {
			reset += ", next " + it.NextReset.In(loc).Format("2006-01-02")
		}
		d = append(d, reset)
	}
	switch {
	case it.RateIn > 0 && it.RateIn == it.RateOut:
		d = append(d, "rate "+units.FormatRate(it.RateIn))
	case it.RateIn > 0 || it.RateOut > 0:
		var r []string
		if it.RateIn > 0 {
			r = append(r, "in "+units.FormatRate(it.RateIn))
		}
		if it.RateOut > 0 {
			r = append(r, "out "+units.FormatRate(it.RateOut))
		}
		d = append(d, "rate "+strings.Join(r, ", "))
	}
	if !it.Expires.IsZero() {
		d = append(d, "expires "+it.Expires.In(loc).Format("2006-01-02"))
	}
	return d
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

func padLeft(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return strings.Repeat(" ", n-len(s)) + s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(word, "y"))
	}
	return fmt.Sprintf("%d %ss", n, word)
}
