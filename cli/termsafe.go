package cli

import (
	"bytes"
	"fmt"
	"io"
	"unicode/utf16"
	"unicode/utf8"

	"port-traffic-dog/internal/config"
)

// termSafe is how dog writes to the terminal: text that reaches it from
// elsewhere (remarks, an archive's host, history entries, the enforcer's
// errors) cannot drive the terminal. Control characters other than
// newline and tab, C1 controls, bytes that are not UTF-8, bidi controls and
// the invisible characters config.Hidden names are written as visible
// escapes (\x1b, \u202e); so are ESC sequences, except the few colour codes
// dog's own table uses. In JSON output the same escapes are valid JSON
// string escapes for the same characters.
type termSafe struct{ w io.Writer }

// ownSGR are the escape sequences dog writes itself (table.go).
var ownSGR = [][]byte{[]byte(ansiReset), []byte(ansiBold), []byte(ansiDim), []byte(ansiRed), []byte(ansiGreen), []byte(ansiYellow)}

func (t termSafe) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); {
		if p[i] == 0x1b {
			if n := ownSGRAt(p[i:]); n > 0 {
				out = append(out, p[i:i+n]...)
				i += n
				continue
			}
		}
		r, n := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			out = fmt.Appendf(out, `\x%02x`, p[i])
		case r == '\n' || r == '\t':
			out = append(out, p[i])
		case r < 0x20 || r == 0x7f:
			out = fmt.Appendf(out, `\u%04x`, r)
		case r >= 0x80 && r <= 0x9f, config.CheckText(string(r)) != nil:
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			if _, hidden := config.Hidden(string(r)); hidden {
				if r > 0xffff { // as JSON spells it: a UTF-16 surrogate pair
					hi, lo := utf16.EncodeRune(r)
					out = fmt.Appendf(out, `\u%04x\u%04x`, hi, lo)
				} else {
					out = fmt.Appendf(out, `\u%04x`, r)
				}
			} else {
				out = append(out, p[i:i+n]...)
			}
		}
		i += n
	}
	if _, err := t.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func ownSGRAt(p []byte) int {
	for _, s := range ownSGR {
		if bytes.HasPrefix(p, s) {
			return len(s)
		}
	}
	return 0
}
