package cli

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"github.com/mattn/go-runewidth"

	"port-traffic-dog/internal/i18n"
)

// TestHelpTranslated walks dog's command model and fails when a help text
// of the application, a command, a flag or an argument has no Chinese in
// the catalog.
func TestHelpTranslated(t *testing.T) {
	var c CLI
	parser, err := newParser(&c, &Env{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	check := func(where, text string) {
		if text == "" {
			return
		}
		n++
		if !i18n.HasHelp(text) {
			t.Errorf("%s: %q has no Chinese in internal/i18n/help.go", where, text)
		}
	}
	var walk func(node *kong.Node)
	walk = func(node *kong.Node) {
		where := node.FullPath()
		check(where, node.Help)
		check(where+" (detail)", node.Detail)
		for _, f := range node.Flags {
			check(where+" --"+f.Name, f.Help)
		}
		for _, a := range node.Positional {
			check(where+" <"+a.Name+">", a.Help)
		}
		for _, child := range node.Children {
			walk(child)
		}
	}
	walk(parser.Model.Node)
	// The walk must reach every command: the commands, the global flags
	// and kong's --help are more than 80 texts.
	if n < 80 {
		t.Errorf("only %d help texts found: is the walk broken?", n)
	}
}

// TestHelp keeps dog --help and dog add --help in English and Chinese, at
// 80 columns, and checks what a review of them would: no line wider than
// 80 columns (a Chinese character takes two), and every help text of a
// flag or argument starting at its section's column.
func TestHelp(t *testing.T) {
	for _, c := range []struct {
		golden string
		args   []string
		env    func(string) string
	}{
		{"help-en.golden", []string{"--help"}, nil},
		{"help-zh.golden", []string{"--help"}, locale("zh_CN.UTF-8")},
		{"help-add-en.golden", []string{"add", "--help"}, locale("en_US.UTF-8")},
		{"help-add-zh.golden", []string{"--lang", "zh", "add", "--help"}, nil},
		{"help-import-legacy-zh.golden", []string{"--lang=zh", "import-legacy", "--help"}, nil},
	} {
		var out, errb bytes.Buffer
		code := Main(c.args, Env{Out: &out, Err: &errb, Now: time.Now, Ctx: context.Background(), Getenv: c.env})
		if code != 0 || errb.Len() > 0 {
			t.Errorf("dog %v: exit %d, stderr %q", c.args, code, errb.String())
		}
		golden(t, c.golden, out.String())
		for _, bad := range helpLayout(out.String(), 80) {
			t.Errorf("%s: %s", c.golden, bad)
		}
	}
}

// helpRow is a row of a flags or arguments section: the flag or argument,
// four spaces or more, its help.
var helpRow = regexp.MustCompile(`^( +)(-\S.*?|<.*?>|\[<.*?>.*?\])( {4,})(\S.*)$`)

// helpLayout lists what is wrong with the layout of a help text: lines
// wider than width, help texts of a section that do not start at one
// column, next lines of a help text that do not start where it does.
func helpLayout(text string, width int) []string {
	var bad []string
	col := 0 // where the help texts of this section start
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if w := runewidth.StringWidth(line); w > width {
			bad = append(bad, fmt.Sprintf("line %d is %d columns wide: %q", i+1, w, line))
		}
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		switch {
		case line == "": // between commands, or flags of two levels
		case indent == 0: // a heading or a paragraph: a new section
			col = 0
		case helpRow.MatchString(line):
			m := helpRow.FindStringSubmatch(line)
			c := runewidth.StringWidth(m[1] + m[2] + m[3])
			if col != 0 && c != col {
				bad = append(bad, fmt.Sprintf("line %d: help starts at column %d, above at %d: %q", i+1, c, col, line))
			}
			col = c
		case col != 0 && !strings.HasPrefix(trimmed, "-"):
			if indent != col {
				bad = append(bad, fmt.Sprintf("line %d: continues at column %d, its help starts at %d: %q", i+1, indent, col, line))
			}
		}
	}
	return bad
}

// TestHelpLayoutCheck: the check sees what it is for.
func TestHelpLayoutCheck(t *testing.T) {
	good := "Flags:\n  -h, --help     帮助。\n      --x=Y      很长的说明\n                 第二行。\n"
	if bad := helpLayout(good, 80); len(bad) > 0 {
		t.Errorf("good layout: %v", bad)
	}
	for _, text := range []string{
		"Flags:\n  -h, --help     帮助。\n      --x=Y     错一列。\n",
		"Flags:\n  -h, --help     很长的说明\n                第二行错一列。\n",
		"Flags:\n  -h, --help     " + strings.Repeat("宽", 33) + "\n",
	} {
		if bad := helpLayout(text, 80); len(bad) != 1 {
			t.Errorf("%q: %v", text, bad)
		}
	}
}

// TestParseErrors: each kind of command-line error kong reports, in
// Chinese, with the flags, arguments and values as they were; in English
// as kong words it. Exit status 2 either way.
func TestParseErrors(t *testing.T) {
	for _, c := range []struct {
		args   []string
		en, zh string
	}{
		{[]string{"--bogus"}, "unknown flag --bogus", "未知的选项 --bogus"},
		{[]string{"reset", "--al"}, `unknown flag --al, did you mean "--all"?`, `未知的选项 --al；是不是想用 "--all"？`},
		{[]string{"-x"}, `unknown flag -x, did you mean one of "-h", "-w"?`, `未知的选项 -x；是不是想用其中之一："-h", "-w"？`},
		{[]string{"check-config", "a.yaml", "b.yaml"}, "unexpected argument b.yaml", "多余的参数 b.yaml"},
		{[]string{"notify", "telegrm"}, `unexpected argument telegrm, did you mean "telegram"?`, `多余的参数 telegrm；是不是想用 "telegram"？`},
		{[]string{"rm"}, `expected "<ports>"`, `缺少 "<ports>"`},
		{[]string{"notify"}, `expected one of "telegram", "test", "report", "status", "email"`, `缺少以下之一："telegram", "test", "report", "status", "email"`},
		{[]string{"--lang", "fr"}, `--lang must be one of "en","zh","" but got "fr"`, `--lang 必须是 "en","zh","" 之一，实际是 "fr"`},
		{[]string{"status", "--interval", "soon"}, `--interval: expected duration but got "soon": time: invalid duration "soon"`,
			`--interval：需要时长（例如 2s、1m），实际是 "soon"：time: invalid duration "soon"`},
		{[]string{"status", "--json=maybe"}, `--json: bool value must be true, 1, yes, false, 0 or no but got "maybe"`,
			`--json：布尔值必须是 true、1、yes、false、0 或 no，实际是 "maybe"`},
		{[]string{"add", "443", "--remark"}, `--remark: expected string value but got "EOL" (<EOL>)`, `--remark：需要 string 类型的值，实际是 "EOL"（<EOL>）`},
		{[]string{"--config", "--socket", "x"}, `--config: expected string value but got "--socket" (long flag); perhaps try --config="--socket"?`,
			`--config：需要 string 类型的值，实际是 "--socket"（long flag）；是不是想写 --config="--socket"？`},
		{[]string{"--watch", "history"}, `flag --watch applies to the default command "status", not "history"`, `选项 --watch 属于默认命令 "status"，不属于 "history"`},
	} {
		for _, lc := range []struct{ locale, want string }{{"en_US.UTF-8", c.en}, {"zh_CN.UTF-8", c.zh}} {
			var out, errb bytes.Buffer
			code := Main(c.args, Env{Out: &out, Err: &errb, Now: time.Now, Ctx: context.Background(), Getenv: locale(lc.locale)})
			if want := "dog: " + lc.want + "\n"; code != 2 || out.Len() > 0 || errb.String() != want {
				t.Errorf("LANG=%s dog %v: exit %d, stdout %q\nstderr %q\nwant   %q", lc.locale, c.args, code, out.String(), errb.String(), want)
			}
		}
	}
}

func TestLangFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"status"}, ""},
		{[]string{"--lang", "zh", "add", "--help"}, "zh"},
		{[]string{"add", "--lang=zh", "--help"}, "zh"},
		{[]string{"--lang", "zh", "--lang", "en"}, "en"},
		{[]string{"--lang"}, ""},
		{[]string{"add", "--", "--lang", "zh"}, ""},
	} {
		if got := langFlag(c.args); got != c.want {
			t.Errorf("langFlag(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}
