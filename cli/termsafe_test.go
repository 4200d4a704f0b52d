package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTermSafeEscapes(t *testing.T) {
	for in, want := range map[string]string{
		"plain 阿里 ✓\n\tok":                "plain 阿里 ✓\n\tok",
		"a\x1b]0;pwned\x07b":              `a\u001b]0;pwned\u0007b`,
		"\x1b[2J\x1b[8mhidden":            `\u001b[2J\u001b[8mhidden`,
		"c1 \u009b31m":                    `c1 \u009b31m`,
		"bad \x9b byte":                   `bad \x9b byte`,
		"rtl \u202e344 \u200f \u2028":     `rtl \u202e344 \u200f \u2028`,
		"tag \U000E0041":                  `tag \udb40\udc41`,
		ansiBold + "own" + ansiReset + "": ansiBold + "own" + ansiReset,
		"cr\rover":                        `cr\u000dover`,
	} {
		var b bytes.Buffer
		if _, err := (termSafe{&b}).Write([]byte(in)); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("%q: got %q, want %q", in, b.String(), want)
		}
	}
	// In JSON output the escapes mean the same characters.
	var b bytes.Buffer
	if err := writeJSON(termSafe{&b}, map[string]string{"r": "x\u202ey\U000E0041\u009b"}); err != nil {
		t.Fatal(err)
	}
	var back map[string]string
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back["r"] != "x\u202ey\U000E0041\u009b" {
		t.Errorf("JSON through termSafe: %q → %q, %v", b.String(), back["r"], err)
	}
}

// TestHistoryCannotDriveTheTerminal: a history line with ESC sequences (an
// archive imported by an older version wrote them unchecked) reaches the
// terminal escaped, in the table and in JSON.
func TestHistoryCannotDriveTheTerminal(t *testing.T) {
	h := newHost(t, "ports:\n  - ports: \"443\"\n    remark: alice\n")
	if err := os.MkdirAll(h.state, 0o700); err != nil {
		t.Fatal(err)
	}
	line := `{"time":"2026-01-01T00:00:00Z","id":"p443","ports":"443\u001b[2J","remark":"\u001b]0;pwned\u0007\u202e","reason":"auto","period_start":"2025-12-01T00:00:00Z","in_bytes":1,"out_bytes":1,"billable_bytes":2,"billing":"sum"}` + "\n"
	if err := os.WriteFile(filepath.Join(h.state, "history.jsonl"), []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	h.start()
	for _, args := range [][]string{{"history"}, {"history", "--json"}} {
		out := h.ok(args...)
		if strings.ContainsAny(out, "\x1b\x07\u202e") {
			t.Errorf("dog %v wrote control characters: %q", args, out)
		}
		if !strings.Contains(out, `\u001b]0;pwned`) {
			t.Errorf("dog %v: the remark is not shown escaped: %q", args, out)
		}
	}
}
