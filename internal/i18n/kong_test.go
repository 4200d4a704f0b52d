package i18n

import (
	"errors"
	"go/ast"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"port-traffic-dog/internal/testutil"
)

// TestKongMessages fails when a kong format dog translates is not in the
// source of the kong dog builds with (a kong that rewords it would leave
// the message English), or when a translation's verbs differ from its
// English.
func TestKongMessages(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/alecthomas/kong").Output()
	if err != nil {
		t.Fatalf("finding kong's source: %v", err)
	}
	files := testutil.GoSources(t, token.NewFileSet(), filepath.Join(strings.TrimSpace(string(out)), "*.go"))
	literals := map[string]bool{}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if l, ok := n.(*ast.BasicLit); ok && l.Kind == token.STRING {
				s, _ := strconv.Unquote(l.Value)
				literals[s] = true
			}
			return true
		})
	}
	if len(literals) < 100 {
		t.Fatalf("only %d strings in kong's source (%d files): is the scan broken?", len(literals), len(files))
	}
	for _, m := range kongMessages.formats {
		if !literals[m.en] {
			t.Errorf("%q is not in kong's source", m.en)
		}
		if a, b := verbs(strings.ReplaceAll(m.en, "%w", "%v")), verbs(m.zh); !slices.Equal(a, b) {
			t.Errorf("%q takes %v, its translation %q takes %v", m.en, a, m.zh, b)
		}
	}
}

func TestParseError(t *testing.T) {
	err := errors.New(`--interval: expected duration but got "x": time: invalid duration "x"`)
	// What %v matched is another library's: it stays as it is.
	if got := New(ZH).ParseError(err); got != `--interval：需要时长（例如 2s、1m），实际是 "x"：time: invalid duration "x"` {
		t.Errorf("zh: %q", got)
	}
	if got := New(EN).ParseError(err); got != err.Error() {
		t.Errorf("en: %q", got)
	}
	if got := New(ZH).ParseError(errors.New("a message kong may add one day")); got != "a message kong may add one day" {
		t.Errorf("unknown message: %q", got)
	}
}
