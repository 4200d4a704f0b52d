package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
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

// TestCheckConfigJSON: with --json, an invalid config is a JSON object on
// standard output too, listing every problem by its parts (English in any
// language), with a non-zero exit; a valid one says "valid": true besides
// what it said before.
func TestCheckConfigJSON(t *testing.T) {
	bad := writeConfig(t, "ports:\n  - ports: 80-20\n  - ports: \"443\"\n    quota: 10XB\n")
	out, _, code := checkConfig(t, "zh", "--json", bad)
	var got struct {
		File   string `json:"file"`
		Valid  *bool  `json:"valid"`
		Errors []struct {
			Source, Item, Field, Message string
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 1 {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if got.File != bad || got.Valid == nil || *got.Valid || len(got.Errors) != 2 ||
		got.Errors[0].Source != bad+":2" || got.Errors[0].Item != "80-20" || got.Errors[0].Field != "ports" ||
		got.Errors[0].Message != `range "80-20" is reversed (write 20-80)` ||
		got.Errors[1].Source != bad+":4" || got.Errors[1].Item != "443" || got.Errors[1].Field != "quota" {
		t.Errorf("invalid config:\n%s", out)
	}
	// A file that cannot be read is a problem without a place.
	out, _, code = checkConfig(t, "en", "--json", bad+".none")
	if code != 1 || !strings.Contains(out, `"valid": false`) || !strings.Contains(out, `"message": "read config: open `) {
		t.Errorf("missing file: exit %d\n%s", code, out)
	}
	// --port flags' problems as the file's.
	good := writeConfig(t, "ports:\n  - ports: \"443\"\n    quota: 1TB\n")
	out, _, code = checkConfig(t, "en", "--json", good, "--port", "443")
	if code != 1 || !strings.Contains(out, `"source": "--port #1"`) || !strings.Contains(out, `"field": "ports"`) {
		t.Errorf("bad --port: exit %d\n%s", code, out)
	}

	out, _, code = checkConfig(t, "en", "--json", good)
	var fields map[string]any
	if err := json.Unmarshal([]byte(out), &fields); err != nil || code != 0 {
		t.Fatalf("valid config: exit %d, %v:\n%s", code, err, out)
	}
	want := map[string]any{"file": good, "valid": true, "items": 1.0, "quotas": 1.0, "limits": 0.0, "timezone": "Local"}
	if !reflect.DeepEqual(fields, want) {
		t.Errorf("valid config: %v, want %v", fields, want)
	}
}

// TestCheckConfigExpired: check-config warns of an item already past its
// expiry date (blocked as soon as the enforcer applies it), in both
// languages and in --json.
func TestCheckConfigExpired(t *testing.T) {
	cfg := writeConfig(t, "timezone: UTC\nports:\n  - ports: \"443\"\n    expires: 2020-01-31\n  - ports: \"80\"\n    expires: 2999-01-01\n")
	for lang, want := range map[string]string{
		"en": "warning: " + cfg + `:3: item "443": expired on 2020-01-31`,
		"zh": "警告：" + cfg + `:3：条目 "443"：已于 2020-01-31 到期`,
	} {
		out, errOut, code := checkConfig(t, lang, cfg)
		if code != 0 || out == "" || !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%s: exit %d\n%s%s\nwant %q", lang, code, out, errOut, want)
		}
	}
	out, _, _ := checkConfig(t, "zh", "--json", cfg)
	if !strings.Contains(out, `"warnings": [`+"\n"+`    "`+cfg+`:3: item \"443\": expired on 2020-01-31`) {
		t.Errorf("--json:\n%s", out)
	}
}

// TestCheckConfigDefaultsToTheConfig: without a file, check-config checks
// the one dog and the enforcer use (--config, /etc/port-traffic-dog/config.yaml
// by default), as an operator who just edited it expects.
func TestCheckConfigDefaultsToTheConfig(t *testing.T) {
	good := writeConfig(t, "ports:\n  - ports: \"443\"\n")
	bad := writeConfig(t, "ports:\n  - ports: 80-20\n")
	run := func(config string) (string, string, int) {
		var out, errb bytes.Buffer
		code := Main([]string{"--lang", "en", "--config", config, "check-config"},
			Env{Out: &out, Err: &errb, Now: time.Now, Ctx: context.Background()})
		return out.String(), errb.String(), code
	}
	if out, errOut, code := run(good); code != 0 || !strings.HasPrefix(out, good+": OK: 1 item") {
		t.Errorf("a valid --config: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := run(bad); code != 1 || !strings.Contains(errOut, bad+`:2: item "80-20"`) {
		t.Errorf("an invalid --config: exit %d\n%s%s", code, out, errOut)
	}
}
