package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"go/ast"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/testutil"
)

// TestTextGoesThroughCatalog fails when dog's code prints or returns text
// for people (a string literal with words in a fmt print or error call,
// or a sentence anywhere else: a warning returned, a suffix appended)
// that does not come from the i18n catalog, where it would have no Chinese.
func TestTextGoesThroughCatalog(t *testing.T) {
	words := regexp.MustCompile(`[A-Za-z]{2,}`)
	sentence := regexp.MustCompile(`[A-Za-z]{2,} [A-Za-z]{2,}`)
	verbs := regexp.MustCompile(`%[-+# 0-9.\[\]]*[a-zA-Z]`)
	printers := map[string]bool{"fmt.Fprintf": true, "fmt.Fprintln": true, "fmt.Fprint": true, "fmt.Printf": true,
		"fmt.Println": true, "fmt.Errorf": true, "fmt.Sprintf": true, "errors.New": true}
	fset := token.NewFileSet()
	for _, f := range testutil.GoSources(t, fset, "*.go") {
		// Sentences outside the print calls, but in struct tags (kong's
		// help, translated by TestHelpTranslated's catalog), kong's
		// description (the same), dog's commands and the host name of
		// import-legacy's archive (data for the history, as the
		// enforcer's records are).
		notText := map[*ast.BasicLit]bool{}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Field:
				notText[n.Tag] = true
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Description" {
					for _, a := range n.Args {
						if l, ok := a.(*ast.BasicLit); ok {
							notText[l] = true
						}
					}
				}
			case *ast.BasicLit:
				s, _ := strconv.Unquote(n.Value)
				if n.Kind == token.STRING && !notText[n] && !strings.HasPrefix(s, "dog ") && !strings.HasPrefix(s, "port-traffic-dog.sh ") && sentence.MatchString(s) {
					t.Errorf("%s: %s is text for people: put it in internal/i18n's catalog", fset.Position(n.Pos()), n.Value)
				}
			}
			return true
		})
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

// fakeEnforcer answers every request on a unix socket with status and
// body, as an enforcer of any version might; it returns the socket.
func fakeEnforcer(t *testing.T, status int, body string) string {
	return fakeRoutes(t, map[string]answer{"": {status, body}})
}

// TestEnforcerErrors: what the enforcer answers (in English, as the API
// does) dog says in Chinese by the error's code, with the values it names;
// an answer without a code (an older enforcer) or with one dog does not
// know (a newer one) keeps its English text.
func TestEnforcerErrors(t *testing.T) {
	answer := func(err error) string {
		b, jerr := json.Marshal(adminapi.ErrorOf(err))
		if jerr != nil {
			t.Fatal(jerr)
		}
		return string(b)
	}
	overlap := &config.Error{Source: "/etc/dog.yaml:4", Item: "8080", Field: "ports",
		Msg: `overlaps item "8000-9000" (--port #1) on port 8080: a port can belong to one item only`}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	for _, c := range []struct {
		status int
		body   string
		args   []string
		en, zh string
	}{
		{http.StatusUnprocessableEntity, answer(adminapi.NewError(adminapi.CodeNoSuchItem, nil, "9999")), []string{"reset", "9999"},
			`no item "9999" is configured`, `没有配置条目 "9999"`},
		{http.StatusUnprocessableEntity, answer(adminapi.NewError(adminapi.CodeInItem, nil, "5005", "5005", "5000-5100")), []string{"reset", "5005"},
			`no item "5005" is configured; port 5005 belongs to item "5000-5100" (name an item by all its ports)`,
			`没有配置条目 "5005"；端口 5005 属于条目 "5000-5100"（请用条目的全部端口来指定它）`},
		{http.StatusForbidden, answer(adminapi.NewError(adminapi.CodeForbiddenRoot, nil, "1000")), []string{"history"},
			"permission denied: the admin API is for root only; you are uid 1000", "拒绝访问：管理 API 只对 root 开放；你的 uid 是 1000"},
		{http.StatusBadRequest, answer(adminapi.NewError(adminapi.CodeBadRequest, errors.New(`ports[0]: range "80-20" is reversed (write 20-80)`))), []string{"reset", "80-20"},
			`bad request: ports[0]: range "80-20" is reversed (write 20-80)`, `请求无效：ports[0]：范围 "80-20" 写反了（应写成 20-80）`},
		// The enforcer refuses an edit for a config error of the --port
		// flags it merges: said by its parts, as check-config says it.
		{http.StatusUnprocessableEntity, answer(errors.Join(overlap)), []string{"--config", cfg, "add", "8080"},
			"the enforcer refused the change, the file is back as it was: " + overlap.Error(),
			`执行器拒绝了此修改，文件已恢复原样：/etc/dog.yaml:4：条目 "8080"：ports：与条目 "8000-9000"（--port #1）在端口 8080 上重叠：一个端口只能属于一个条目`},
		// An enforcer without codes, one with a code dog does not know, or
		// with args its message does not take: the English as sent.
		{http.StatusUnprocessableEntity, `{"error":"no item \"9999\" is configured"}`, []string{"reset", "9999"},
			`no item "9999" is configured`, `no item "9999" is configured`},
		{http.StatusUnprocessableEntity, `{"error":"the moon is full","code":"moon_full"}`, []string{"reset", "443"},
			"the moon is full", "the moon is full"},
		{http.StatusUnprocessableEntity, `{"error":"no item \"1\" is configured, nor \"2\"","code":"no_such_item","args":["1","2"]}`, []string{"reset", "1"},
			`no item "1" is configured, nor "2"`, `no item "1" is configured, nor "2"`},
	} {
		sock := fakeEnforcer(t, c.status, c.body)
		for _, lc := range []struct{ lang, want string }{{"en", c.en}, {"zh", c.zh}} {
			if err := os.WriteFile(cfg, []byte("ports:\n  - ports: \"443\"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			code := Main(append([]string{"--lang", lc.lang, "--socket", sock}, c.args...), Env{Out: &out, Err: &errb, Now: time.Now, Ctx: context.Background()})
			if want := "dog: " + lc.want + "\n"; code != 1 || errb.String() != want {
				t.Errorf("dog --lang %s %v: exit %d\n%q\nwant\n%q", lc.lang, c.args, code, errb.String(), want)
			}
		}
	}
}
