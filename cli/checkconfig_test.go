package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// checkConfig runs dog check-config with args in lang ("" for English)
// and returns its output and exit code.
func checkConfig(t *testing.T, lang string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"--lang", lang, "check-config"}, args...),
		Env{Out: &out, Err: &errb, Now: time.Now, Ctx: context.Background()})
	return out.String(), errb.String(), code
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCheckConfigEveryProblem: one run of check-config lists every problem
// of a file (here three, which took three runs), in the file's order, in
// both languages; a file broken everywhere lists the first ones and counts
// the rest.
func TestCheckConfigEveryProblem(t *testing.T) {
	cfg := writeConfig(t, "ports:\n  - ports: 80-20\n  - ports: \"443\"\n    quota: 10XB\n  - ports: \"443\"\n")
	for _, c := range []struct{ lang, want string }{
		{"en", "dog: " + cfg + `:2: item "80-20": ports: range "80-20" is reversed (write 20-80)` + "\n" +
			cfg + `:4: item "443": quota: invalid size "10XB": unknown unit "XB" (use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)` + "\n" +
			cfg + `:5: item "443": ports: duplicate item: "443" is already defined at ` + cfg + ":3\n"},
		{"zh", "dog: " + cfg + `:2：条目 "80-20"：ports：范围 "80-20" 写反了（应写成 20-80）` + "\n" +
			cfg + `:4：条目 "443"：quota：无效的大小 "10XB"：未知单位 "XB"（请用 B、KB、MB、GB、TB、KiB、MiB、GiB、TiB）` + "\n" +
			cfg + `:5：条目 "443"：ports：条目重复："443" 已在 ` + cfg + ":3 定义\n"},
	} {
		out, errOut, code := checkConfig(t, c.lang, cfg)
		if out != "" || errOut != c.want || code != 1 {
			t.Errorf("%s: exit %d\n%q\n%q\nwant\n%q", c.lang, code, out, errOut, c.want)
		}
	}

	var b strings.Builder
	b.WriteString("ports:\n")
	for p := 1; p <= 1000; p++ {
		fmt.Fprintf(&b, "  - ports: \"%d\"\n    billing: both\n", p)
	}
	many := writeConfig(t, b.String())
	_, errOut, code := checkConfig(t, "en", many)
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	if code != 1 || len(lines) != 51 || lines[50] != many+": and 950 more problems" {
		t.Errorf("exit %d, %d lines, last %q", code, len(lines), lines[len(lines)-1])
	}
}
