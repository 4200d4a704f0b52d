package i18n

import (
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/archive"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/legacy"
)

// Error is err's message for people in the printer's language. dog's
// packages (config, configedit, portspec, units, state, notify, legacy,
// adminapi) write English, which the daemons' logs keep; dog translates
// their messages here, by their format strings (errorMessages), keeping
// files, lines, items, keys and values as they are; the enforcer's errors
// by their admin API code (apiMessages), a configuration's problems, a
// refused archive and a bad legacy file by their parts. A frame it does
// not know keeps its text, and what it wraps is translated; a message it
// does not know stays English.
func (p *Printer) Error(err error) string {
	if err == nil {
		return ""
	}
	if p.lang == EN {
		return err.Error()
	}
	// The error itself, not one it wraps: a wrapping error's own words
	// would be lost.
	switch e := err.(type) { //nolint:errorlint // as above
	case *localized:
		return e.msg
	case interface{ Unwrap() []error }:
		var parts []string
		for _, e := range e.Unwrap() {
			parts = append(parts, p.Error(e))
		}
		return strings.Join(parts, "\n")
	case *adminapi.CodedError:
		return p.apiError(e)
	case *archive.Error:
		return p.archiveError(e.Entry, e.Kind, e.Args, e.Err, e.Error())
	case *config.Error:
		var b strings.Builder
		if e.Source != "" {
			b.WriteString(translateMessage(e.Source) + "：")
		}
		if e.Item != "" {
			b.WriteString(p.Sprintf(ItemPrefix, e.Item))
		}
		if e.Field != "" {
			b.WriteString(e.Field + "：")
		}
		b.WriteString(translateMessage(e.Msg))
		return b.String()
	case *legacy.Error:
		s := e.Path + "："
		if e.Key != "" {
			s += translateMessage(e.Key) + "："
		}
		return s + translateMessage(e.Msg)
	}
	msg := err.Error()
	if t, ok := dogMessages.translate(msg); ok {
		return t
	}
	// A frame no format knows (a path before a message, a message of
	// dog notify's already in Chinese): kept, what it wraps translated.
	if inner := errors.Unwrap(err); inner != nil {
		if frame, ok := strings.CutSuffix(msg, inner.Error()); ok {
			return frame + p.Error(inner)
		}
	}
	return msg
}

// errorPattern is one English message format as a regexp, and its Chinese.
type errorPattern struct {
	re     *regexp.Regexp
	en, zh string
	// nested says, per argument, whether the English verb is %s or %w:
	// what it matched is a message to translate too.
	nested []bool
}

// patternList is a list of English message formats and their Chinese,
// compiled to regexps on first use and tried the most specific first (the
// most text besides its verbs): "%w in %s" must not take "the in counter
// is carried too: …", which has a format of its own.
type patternList struct {
	once     sync.Once
	formats  []struct{ en, zh string }
	patterns []errorPattern
}

func (l *patternList) compiled() []errorPattern {
	l.once.Do(func() {
		for _, m := range l.formats {
			p := errorPattern{re: formatRegexp(m.en), en: m.en, zh: m.zh}
			fillVerbs(m.en, func(_ int, verb byte) string {
				p.nested = append(p.nested, verb == 's' || verb == 'w')
				return ""
			})
			l.patterns = append(l.patterns, p)
		}
		slices.SortStableFunc(l.patterns, func(a, b errorPattern) int { return literalLen(b.en) - literalLen(a.en) })
	})
	return l.patterns
}

// dogMessages are the messages of dog's packages (errorMessages).
var dogMessages = &patternList{formats: errorMessages}

// verbGroup is what each verb of a format matches in a message.
var verbGroup = map[byte]string{
	'q': `("(?:[^"\\]|\\.)*")`,
	'd': `(-?\d+)`,
	'U': `(U\+[0-9A-F]{4,6})`,
	's': `(.+?)`,
	'v': `(.+?)`,
	'w': `(.+?)`,
	'T': `(.+?)`,
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

// translateMessage translates one message of dog's packages; one no
// format matches stays as it is.
func translateMessage(msg string) string {
	t, _ := dogMessages.translate(msg)
	return t
}

// translate translates msg by the first format of l it matches; what a
// verb matched is translated too when it is a message itself (%s, %w: a
// wrapped error, "a list"), while quoted values, numbers and what %v
// matched (another library's error, e.g. Go's time package's) stay. ok
// reports a match; a message no format matches is returned as it is.
func (l *patternList) translate(msg string) (out string, ok bool) {
	for _, p := range l.compiled() {
		m := p.re.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		args := m[1:]
		return fillVerbs(p.zh, func(i int, _ byte) string {
			if i >= len(args) {
				return ""
			}
			if p.nested[i] {
				t, _ := l.translate(args[i])
				return t
			}
			return args[i]
		}), true
	}
	return msg, false
}

// literalLen is the length of format's text besides its verbs.
func literalLen(format string) int {
	return len(fillVerbs(format, func(int, byte) string { return "" }))
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
