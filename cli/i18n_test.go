package cli

import (
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestTextGoesThroughCatalog fails when dog's code prints or returns text
// for people (a string literal with words in a fmt print or error call)
// that does not come from the i18n catalog, where it would have no Chinese.
func TestTextGoesThroughCatalog(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	words := regexp.MustCompile(`[A-Za-z]{2,}`)
	verbs := regexp.MustCompile(`%[-+# 0-9.\[\]]*[a-zA-Z]`)
	printers := map[string]bool{"fmt.Fprintf": true, "fmt.Fprintln": true, "fmt.Fprint": true, "fmt.Printf": true,
		"fmt.Println": true, "fmt.Errorf": true, "fmt.Sprintf": true, "errors.New": true}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok || !printers[pkg.Name+"."+sel.Sel.Name] {
				return true
			}
			var lits []*ast.BasicLit
			var collect func(e ast.Expr)
			collect = func(e ast.Expr) {
				switch e := e.(type) {
				case *ast.BasicLit:
					if e.Kind == token.STRING {
						lits = append(lits, e)
					}
				case *ast.BinaryExpr:
					collect(e.X)
					collect(e.Y)
				}
			}
			for _, a := range call.Args {
				collect(a)
			}
			for _, l := range lits {
				s, _ := strconv.Unquote(l.Value)
				s = strings.ReplaceAll(verbs.ReplaceAllString(s, ""), "dog:", "") // the program's name prefixes errors
				if words.MatchString(s) {
					t.Errorf("%s: %s prints %s: put the text in internal/i18n's catalog", fset.Position(l.Pos()), pkg.Name+"."+sel.Sel.Name, l.Value)
				}
			}
			return true
		})
	}
}

// TestLanguageChoice runs commands that need no enforcer in both
// languages, chosen by --lang or the locale.
func TestLanguageChoice(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("ports:\n  - ports: \"443\"\n    quota: 1TB\n  - ports: \"8080\"\n    rate: 10Mbps\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("ports:\n  - ports: \"443\"\n    quota: lots\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(getenv func(string) string, args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := Main(append([]string{"--socket", filepath.Join(dir, "none.sock")}, args...),
			Env{Out: &out, Err: &errb, Now: time.Now, Ctx: context.Background(), Getenv: getenv})
		return out.String(), errb.String(), code
	}
	for _, c := range []struct {
		getenv     func(string) string
		args       []string
		out, err   string
		wantStatus int
	}{
		{nil, []string{"check-config", cfg}, cfg + ": OK: 2 items (1 with a quota, 1 with a bandwidth limit), time zone Local\n", "", 0},
		{locale("zh_CN.UTF-8"), []string{"check-config", cfg}, cfg + "：正确：2 个条目（1 个有配额，1 个有带宽限制），时区 Local\n", "", 0},
		{locale("zh_CN.UTF-8"), []string{"--lang", "en", "check-config", cfg}, cfg + ": OK: 2 items (1 with a quota, 1 with a bandwidth limit), time zone Local\n", "", 0},
		{nil, []string{"--lang", "zh", "reset"}, "", "dog: 请指定要重置的条目，或使用 --all\n", 1},
		{nil, []string{"--lang", "zh", "check-config", bad}, "", "dog: " + bad + ":3：条目 \"443\"：quota：无效的大小 \"lots\"：没有数字\n", 1},
		{nil, []string{"check-config", bad}, "", "dog: " + bad + ":3: item \"443\": quota: invalid size \"lots\": no number\n", 1},
		{locale("zh_CN.UTF-8"), []string{"--config", cfg, "add", "440-450"}, "", "dog: 此修改会使配置无效，未做任何修改：\n  " + cfg +
			":6：条目 \"440-450\"：ports：与条目 \"443\"（" + cfg + ":2）在端口 443 上重叠：一个端口只能属于一个条目\n", 1},
		{locale("en_US.UTF-8"), []string{"reset"}, "", "dog: name the items to reset, or --all\n", 1},
	} {
		out, errOut, code := run(c.getenv, c.args...)
		if out != c.out || errOut != c.err || code != c.wantStatus {
			t.Errorf("dog %v: exit %d\n%q\n%q\nwant exit %d\n%q\n%q", c.args, code, out, errOut, c.wantStatus, c.out, c.err)
		}
	}
	// JSON stays English whatever the language.
	en, _, _ := run(nil, "check-config", "--json", cfg)
	zh, _, _ := run(nil, "--lang", "zh", "check-config", "--json", cfg)
	if en != zh {
		t.Errorf("JSON differs by language:\n%s\n%s", en, zh)
	}
}
