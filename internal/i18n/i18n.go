// Package i18n is the language of what dog prints for people: the message
// catalog (English and Chinese) and the choice of language from --lang or
// the locale. JSON output, the admin API and the daemons' logs stay
// English and do not use it.
package i18n

import (
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

// Lang is a language dog speaks.
type Lang string

const (
	EN Lang = "en"
	ZH Lang = "zh"
)

// Langs lists the languages, for flags and tests.
var Langs = []Lang{EN, ZH}

// Detect picks the language: flag ("en" or "zh") when given, else the
// locale (LC_ALL, then LC_MESSAGES, then LANG, the first one set, as
// POSIX orders them): zh_CN.UTF-8, zh_TW, zh → Chinese, anything else
// English.
func Detect(flag string, getenv func(string) string) (Lang, error) {
	switch strings.ToLower(flag) {
	case "en":
		return EN, nil
	case "zh":
		return ZH, nil
	case "":
	default:
		return EN, fmt.Errorf("--lang %q: en or zh", flag)
	}
	if getenv == nil {
		return EN, nil
	}
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if loc := getenv(v); loc != "" {
			return fromLocale(loc), nil
		}
	}
	return EN, nil
}

func fromLocale(loc string) Lang {
	// zh_CN.UTF-8@variant → zh-CN
	if i := strings.IndexAny(loc, ".@"); i >= 0 {
		loc = loc[:i]
	}
	tag, err := language.Parse(strings.ReplaceAll(loc, "_", "-"))
	if err != nil {
		return EN
	}
	if base, _ := tag.Base(); base.String() == "zh" {
		return ZH
	}
	return EN
}

func (l Lang) tag() language.Tag {
	if l == ZH {
		return language.SimplifiedChinese
	}
	return language.English
}

// Printer formats catalog messages in one language.
type Printer struct {
	lang Lang
	p    *message.Printer
}

// New returns the printer of lang.
func New(lang Lang) *Printer {
	b := catalog.NewBuilder(catalog.Fallback(language.English))
	for k, m := range messages {
		// The English text is the key: English needs no entry.
		if err := b.SetString(language.SimplifiedChinese, m.en, m.zh); err != nil {
			panic(fmt.Sprintf("i18n: message %d: %v", k, err)) // a catalog bug, caught by the tests
		}
	}
	return &Printer{lang: lang, p: message.NewPrinter(lang.tag(), message.Catalog(b))}
}

// Lang is the printer's language.
func (p *Printer) Lang() Lang { return p.lang }

// Sprintf formats message k with args.
// An error among args is shown in the printer's language (Error).
func (p *Printer) Sprintf(k Key, args ...any) string {
	return p.p.Sprintf(messages[k].en, p.errorArgs(args)...)
}

// Fprintf writes message k formatted with args to w.
func (p *Printer) Fprintf(w io.Writer, k Key, args ...any) {
	p.p.Fprintf(w, messages[k].en, p.errorArgs(args)...)
}

func (p *Printer) errorArgs(args []any) []any {
	out := args
	for i, a := range args {
		if err, ok := a.(error); ok {
			if &out[0] == &args[0] {
				out = append([]any(nil), args...)
			}
			out[i] = p.Error(err)
		}
	}
	return out
}

// Message translates one message of dog's packages (as Error does for an
// error's), e.g. a config check's message without its place.
func (p *Printer) Message(msg string) string {
	if p.lang == EN {
		return msg
	}
	return translateMessage(msg)
}

// Fprintln writes message k formatted with args and a newline to w.
func (p *Printer) Fprintln(w io.Writer, k Key, args ...any) {
	_, _ = io.WriteString(w, p.Sprintf(k, args...)+"\n") // text for the terminal, as fmt.Fprintln
}

// Errorf is fmt.Errorf in the printer's language: the message is
// translated, the last error among args stays wrapped (errors.Is works).
func (p *Printer) Errorf(k Key, args ...any) error {
	e := &localized{msg: p.Sprintf(k, args...)}
	for _, a := range args {
		if err, ok := a.(error); ok {
			e.wrapped = err
		}
	}
	return e
}

type localized struct {
	msg     string
	wrapped error
}

func (e *localized) Error() string { return e.msg }
func (e *localized) Unwrap() error { return e.wrapped }

// Count is "1 item" / "3 items" (in Chinese "3 个条目"): one is the
// message for exactly one, many a message with one %d.
func (p *Printer) Count(n int, one, many Key) string {
	if n == 1 {
		return p.Sprintf(one)
	}
	return p.Sprintf(many, n)
}
