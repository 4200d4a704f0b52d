package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfirmations: dog rm asks on a terminal and does nothing unless
// the answer is yes; without a terminal it refuses unless --yes. The same
// for reset --all (which reaches no enforcer here: it must stop before).
func TestConfirmations(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	const two = "ports:\n  - ports: \"443\"\n  - ports: \"8080\"\n"
	if err := os.WriteFile(cfg, []byte(two), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(interactive bool, answer string, args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := Main(append([]string{"--socket", filepath.Join(dir, "none.sock"), "--config", cfg}, args...),
			Env{Out: &out, Err: &errb, Now: time.Now, Ctx: context.Background(), In: strings.NewReader(answer), Interactive: interactive})
		return out.String(), errb.String(), code
	}
	unchanged := func(what string) {
		t.Helper()
		if b, _ := os.ReadFile(cfg); string(b) != two {
			t.Fatalf("%s changed the config:\n%s", what, b)
		}
	}
	_, errOut, code := run(false, "y\n", "rm", "443")
	if code != 1 || !strings.Contains(errOut, "dog rm 443 needs a confirmation and there is no terminal to ask on: add --yes") {
		t.Errorf("rm without a terminal: exit %d: %s", code, errOut)
	}
	unchanged("rm without a terminal")
	_, errOut, code = run(false, "", "reset", "--all")
	if code != 1 || !strings.Contains(errOut, "add --yes") {
		t.Errorf("reset --all without a terminal: exit %d: %s", code, errOut)
	}
	for _, answer := range []string{"n\n", "\n", "", "nope\n"} {
		out, errOut, code := run(true, answer, "rm", "443")
		if code != 1 || !strings.Contains(out, "Remove 443 from the config and drop its counters? [y/N] ") || !strings.Contains(errOut, "cancelled, nothing changed") {
			t.Errorf("rm answered %q: exit %d:\n%s%s", answer, code, out, errOut)
		}
		unchanged("rm answered " + answer)
	}
	out, errOut, code := run(true, "y\n", "--lang", "zh", "rm", "8080")
	if code != 0 || !strings.Contains(out, "从配置中删除 8080 并丢弃它的计数器？ [y/N] ") || !strings.Contains(out, "已删除 8080") {
		t.Errorf("rm answered y: exit %d:\n%s%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(cfg); string(b) != "ports:\n  - ports: \"443\"\n" {
		t.Errorf("config after rm:\n%s", b)
	}
	out, errOut, code = run(false, "", "rm", "--yes", "443")
	if code != 0 || strings.Contains(out, "[y/N]") {
		t.Errorf("rm --yes: exit %d:\n%s%s", code, out, errOut)
	}
}
