package cli

import (
	"io"
	"strconv"
	"strings"

	"github.com/alecthomas/kong"
	"github.com/mattn/go-runewidth"

	"port-traffic-dog/internal/i18n"
)

// helpPrinter prints dog --help and dog CMD --help: kong's default layout
// (usage, description, arguments, flags, commands), with every heading and
// help text in the language of env.P (the help texts from the catalog,
// by their English), wrapped by display width: a Chinese character takes
// two columns and Chinese has no spaces to break a line at, which kong's
// own printer (go/doc's wrapping, by runes at spaces) does not know.
func helpPrinter(env *Env) kong.HelpPrinter {
	return func(_ kong.HelpOptions, ctx *kong.Context) error {
		h := &helpText{p: env.P, cond: runewidth.NewCondition()}
		h.cond.EastAsianWidth = env.EastAsian
		width := env.helpWidth()
		app := ctx.Model
		if cmd := ctx.Selected(); cmd != nil {
			h.line("", h.p.Sprintf(i18n.HelpUsage, app.Name+" "+cmd.Summary()))
			h.node(cmd, width)
		} else {
			h.line("", h.p.Sprintf(i18n.HelpUsage, app.Name+app.Summary()))
			h.node(app.Node, width)
			if len(app.Leaves(true)) > 0 && app.HelpFlag != nil {
				h.line("", "")
				h.line("", h.p.Sprintf(i18n.HelpMoreCommand, app.Name))
			}
		}
		_, err := io.WriteString(ctx.Stdout, h.b.String())
		return err
	}
}

// helpWidth is the width help is wrapped to: $COLUMNS, as kong reads it,
// else the terminal's, else 80.
func (env *Env) helpWidth() int {
	if env.Getenv != nil {
		if n, err := strconv.Atoi(env.Getenv("COLUMNS")); err == nil && n > 0 {
			return n
		}
	}
	if env.Width > 0 {
		return env.Width
	}
	return 80
}

type helpText struct {
	p    *i18n.Printer
	cond *runewidth.Condition
	b    strings.Builder
}

func (h *helpText) line(indent, s string) {
	h.b.WriteString(strings.TrimRight(indent+s, " "))
	h.b.WriteByte('\n')
}

func (h *helpText) wrap(indent, text string, width int) {
	for _, l := range wrapText(text, width, h.cond) {
		h.line(indent, l)
	}
}

// node prints a command's (or the application's) help, arguments, flags
// and subcommands, as kong's printNodeDetail does.
func (h *helpText) node(n *kong.Node, width int) {
	for _, text := range []string{n.Help, n.Detail} {
		if text != "" {
			h.line("", "")
			h.wrap("", h.p.Help(text), width)
		}
	}
	if len(n.Positional) > 0 {
		h.line("", "")
		h.line("", h.p.Sprintf(i18n.HelpArguments))
		var rows [][2]string
		for _, arg := range n.Positional {
			rows = append(rows, [2]string{arg.Summary(), h.p.Help(arg.Help)})
		}
		h.columns("  ", rows, width-2)
	}
	if levels := n.AllFlags(true); len(levels) > 0 {
		h.line("", "")
		h.line("", h.p.Sprintf(i18n.HelpFlags))
		h.columns("  ", h.flagRows(levels), width-2)
	}
	if cmds := n.Leaves(true); len(cmds) > 0 {
		h.line("", "")
		h.line("", h.p.Sprintf(i18n.HelpCommands))
		for i, c := range cmds {
			h.line("  ", c.Summary())
			if c.Help != "" {
				h.wrap("    ", h.p.Help(c.Help), width-4)
			}
			if i != len(cmds)-1 {
				h.line("", "")
			}
		}
	}
}

// flagRows are the flags of each level (the application's, then the
// command's), a blank row between levels, as kong's writeFlags makes them.
func (h *helpText) flagRows(levels [][]*kong.Flag) [][2]string {
	haveShort := false
	for _, level := range levels {
		for _, f := range level {
			haveShort = haveShort || f.Short != 0
		}
	}
	var rows [][2]string
	for i, level := range levels {
		if i > 0 {
			rows = append(rows, [2]string{"", ""})
		}
		for _, f := range level {
			if !f.Hidden {
				rows = append(rows, [2]string{flagSpelling(f, haveShort), h.p.Help(f.Help)})
			}
		}
	}
	return rows
}

// flagSpelling is "-y, --yes", "    --config=PATH", "--[no-]color": kong's
// formatFlag.
func flagSpelling(f *kong.Flag, haveShort bool) string {
	var b strings.Builder
	switch {
	case f.Short != 0:
		b.WriteString("-" + string(f.Short) + ", ")
	case haveShort:
		b.WriteString("    ")
	}
	name := f.Name
	switch {
	case f.IsBool() && f.Tag.Negatable == "_": // kong's tag for --no-NAME
		name = "[no-]" + name
	case f.IsBool() && f.Tag.Negatable != "":
		name += "/" + f.Tag.Negatable
	}
	b.WriteString("--" + name)
	if !f.IsBool() && !f.IsCounter() {
		b.WriteString("=" + f.FormatPlaceHolder())
	}
	return b.String()
}

// columns prints rows of two columns as kong's writeTwoColumns: the left
// column as wide as its widest entry up to 37.5% of the width (at least
// 30), four spaces, the right column wrapped to what is left; a left entry
// too wide for the column has its text on the lines below.
func (h *helpText) columns(indent string, rows [][2]string, width int) {
	const padding = 4
	maxLeft := max(375*width/1000, 30)
	left := 0
	for _, r := range rows {
		if w := h.cond.StringWidth(r[0]); w > left && w < maxLeft {
			left = w
		}
	}
	offset := strings.Repeat(" ", left+padding)
	for _, r := range rows {
		lines := wrapText(r[1], width-left-padding, h.cond)
		if w := h.cond.StringWidth(r[0]); w < maxLeft {
			first := ""
			if len(lines) > 0 {
				first, lines = lines[0], lines[1:]
			}
			h.line(indent, r[0]+strings.Repeat(" ", left-w+padding)+first)
		} else {
			h.line(indent, r[0])
		}
		for _, l := range lines {
			h.line(indent, offset+l)
		}
	}
}

// wrapText breaks text into lines of at most width columns, greedily: at
// spaces, and between two characters of which one is wide (Chinese has no
// spaces), though never before closing punctuation or after opening. A
// word wider than width has a line of its own.
func wrapText(text string, width int, cond *runewidth.Condition) []string {
	var lines []string
	var line strings.Builder
	used := 0
	for _, word := range strings.Fields(text) {
		for i, piece := range breakWide(word, cond) {
			w := cond.StringWidth(piece)
			space := 0
			if i == 0 && used > 0 {
				space = 1 // the space between words
			}
			if used > 0 && used+space+w > width {
				lines = append(lines, line.String())
				line.Reset()
				used, space = 0, 0
			}
			if space > 0 {
				line.WriteByte(' ')
			}
			line.WriteString(piece)
			used += space + w
		}
	}
	if used > 0 {
		lines = append(lines, line.String())
	}
	return lines
}

// breakWide splits a word where a line may break inside it: next to a
// wide character.
func breakWide(word string, cond *runewidth.Condition) []string {
	var pieces []string
	start := 0
	var prev rune = -1
	for i, r := range word {
		if prev >= 0 && (cond.RuneWidth(prev) == 2 || cond.RuneWidth(r) == 2) &&
			!strings.ContainsRune(noBreakBefore, r) && !strings.ContainsRune(noBreakAfter, prev) {
			pieces = append(pieces, word[start:i])
			start = i
		}
		prev = r
	}
	return append(pieces, word[start:])
}

// Punctuation a line must not start with, or end with.
const (
	noBreakBefore = "，。、；：？！）」』”’》〉,.;:?!)]}"
	noBreakAfter  = "（「『“‘《〈([{"
)
