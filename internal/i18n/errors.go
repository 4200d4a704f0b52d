package i18n

import (
	"regexp"
	"strings"
	"sync"

	"port-traffic-dog/internal/config"
)

// Error is err's message for people in the printer's language. dog's
// packages (config, configedit, portspec, units, adminapi) write English,
// which the daemons' logs keep; dog translates their messages here, by
// their format strings (errorMessages), keeping files, lines, items, keys
// and values as they are. A message it does not know stays English.
func (p *Printer) Error(err error) string {
	if err == nil {
		return ""
	}
	if p.lang == EN {
		return err.Error()
	}
	if l, ok := err.(*localized); ok { //nolint:errorlint // the top-level error only: a wrapped one keeps its context
		return l.msg
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var parts []string
		for _, e := range j.Unwrap() {
			parts = append(parts, p.Error(e))
		}
		return strings.Join(parts, "\n")
	}
	if ce, ok := err.(*config.Error); ok { //nolint:errorlint // as above
		var b strings.Builder
		if ce.Source != "" {
			b.WriteString(ce.Source + "：")
		}
		if ce.Item != "" {
			b.WriteString(p.Sprintf(ItemPrefix, ce.Item))
		}
		if ce.Field != "" {
			b.WriteString(ce.Field + "：")
		}
		b.WriteString(translateMessage(ce.Msg))
		return b.String()
	}
	return translateMessage(err.Error())
}

// errorPattern is one English message format as a regexp, and its Chinese.
type errorPattern struct {
	re *regexp.Regexp
	zh string
}

var (
	patternsOnce sync.Once
	patterns     []errorPattern
)

// verbGroup is what each verb of a format matches in a message.
var verbGroup = map[byte]string{
	'q': `("(?:[^"\\]|\\.)*")`,
	'd': `(-?\d+)`,
	'U': `(U\+[0-9A-F]{4,6})`,
	's': `(.+?)`,
	'v': `(.+?)`,
	'w': `(.+?)`,
}

// formatRegexp turns a format string into a regexp matching its output.
func formatRegexp(format string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	for i := 0; i < len(format); i++ {
		if format[i] == '%' && i+1 < len(format) {
			i++
			if format[i] == '%' {
				b.WriteString("%")
				continue
			}
			b.WriteString(verbGroup[format[i]])
			continue
		}
		b.WriteString(regexp.QuoteMeta(format[i : i+1]))
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

func compiled() []errorPattern {
	patternsOnce.Do(func() {
		for _, m := range errorMessages {
			patterns = append(patterns, errorPattern{re: formatRegexp(m.en), zh: m.zh})
		}
	})
	return patterns
}

// translateMessage translates one message; what a verb matched is
// translated too when it is a message itself (%s, %v, %w: a wrapped error,
// "a list"), while quoted values and numbers stay.
func translateMessage(msg string) string {
	for _, p := range compiled() {
		m := p.re.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		args := m[1:]
		return fillVerbs(p.zh, func(i int, verb byte) string {
			if i >= len(args) {
				return ""
			}
			if verb == 's' || verb == 'v' || verb == 'w' {
				return translateMessage(args[i])
			}
			return args[i]
		})
	}
	return msg
}

var fillRE = regexp.MustCompile(`%(\[(\d+)\])?([a-zA-Z%])`)

// fillVerbs replaces the verbs of format (%[n]x reorders) with arg(i, verb).
func fillVerbs(format string, arg func(i int, verb byte) string) string {
	next := 0
	return fillRE.ReplaceAllStringFunc(format, func(v string) string {
		m := fillRE.FindStringSubmatch(v)
		if m[3] == "%" {
			return "%"
		}
		if m[2] != "" {
			next = int(m[2][0]-'0') - 1
			if len(m[2]) > 1 {
				next = (int(m[2][0]-'0')*10 + int(m[2][1]-'0')) - 1
			}
		}
		s := arg(next, m[3][0])
		next++
		return s
	})
}
