package i18n

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/configedit"
	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/units"
)

// The packages whose messages dog shows people and translates. The admin
// API answers in English; dog translates what it answers: by its code
// (apiErrors), and what a bad request's error names (decode.go) as
// messages.
var messagePackages = []string{"../config/*.go", "../configedit/*.go", "../portspec/*.go", "../units/*.go", "../adminapi/client.go", "../adminapi/decode.go", "../legacy/*.go"}

// TestErrorMessages fails when one of those packages has a message format
// that errorMessages does not translate, or a translation whose verbs
// differ from its English.
func TestErrorMessages(t *testing.T) {
	known := map[string]bool{}
	for _, m := range errorMessages {
		if known[m.en] {
			t.Errorf("%q is twice in errorMessages", m.en)
		}
		known[m.en] = true
		en := strings.ReplaceAll(m.en, "%w", "%v")
		if a, b := verbs(en), verbs(m.zh); !slices.Equal(a, b) {
			t.Errorf("%q takes %v, its translation %q takes %v", m.en, a, m.zh, b)
		}
	}
	for _, format := range sourceFormats(t) {
		if !known[format.text] {
			t.Errorf("%s: %q has no Chinese in errorMessages", format.pos, format.text)
		}
	}
}

type sourceFormat struct{ pos, text string }

// sourceFormats lists the message formats of messagePackages: the format
// of fmt.Errorf, errors.New and the config decoder's fail, a validation
// error's Msg, and the legacy report's texts (of type reportText).
func sourceFormats(t *testing.T) []sourceFormat {
	t.Helper()
	var out []sourceFormat
	fset := token.NewFileSet()
	for _, glob := range messagePackages {
		files, _ := filepath.Glob(glob)
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			add := func(e ast.Expr) {
				if l, ok := e.(*ast.BasicLit); ok && l.Kind == token.STRING {
					s, _ := strconv.Unquote(l.Value)
					if s != "%s" && s != "%v" && s != "" {
						out = append(out, sourceFormat{fset.Position(l.Pos()).String(), s})
					}
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					sel, ok := n.Fun.(*ast.SelectorExpr)
					if !ok || len(n.Args) == 0 {
						return true
					}
					x, _ := sel.X.(*ast.Ident)
					switch {
					case x != nil && x.Name == "fmt" && sel.Sel.Name == "Errorf", x != nil && x.Name == "errors" && sel.Sel.Name == "New":
						add(n.Args[0])
					case sel.Sel.Name == "fail" && len(n.Args) >= 4:
						add(n.Args[3])
					}
				case *ast.ValueSpec:
					// legacy's texts of its report.
					if id, ok := n.Type.(*ast.Ident); ok && id.Name == "reportText" {
						for _, v := range n.Values {
							add(v)
						}
					}
				case *ast.KeyValueExpr:
					if id, ok := n.Key.(*ast.Ident); ok && id.Name == "Msg" {
						add(n.Value)
						if c, ok := n.Value.(*ast.CallExpr); ok && len(c.Args) > 0 {
							add(c.Args[0])
						}
					}
				}
				return true
			})
		}
	}
	if len(out) < 50 {
		t.Fatalf("only %d formats found: is the scan broken?", len(out))
	}
	return out
}

// TestErrorTranslation translates real errors of those packages.
func TestErrorTranslation(t *testing.T) {
	zh := New(ZH)
	_, sizeErr := units.ParseBytes("lots")
	_, specErr := portspec.Parse("80-20")
	_, editErr := configedit.SetFields([]byte("ports:\n  - ports: \"443\"\n"), "9999", []configedit.Field{{Key: "remark", Value: "x"}})
	_, cfgErr := config.Parse([]byte("ports:\n  - ports: \"443\"\n    quota: 5XB\n  - ports: \"80\"\n    billing: both\n"), "c.yaml")
	for _, c := range []struct {
		err  error
		want string
	}{
		{sizeErr, `无效的大小 "lots"：没有数字`},
		{specErr, `范围 "80-20" 写反了（应写成 20-80）`},
		{editErr, `没有这个条目："9999" 没有配置`},
		{cfgErr, "c.yaml:3：条目 \"443\"：quota：无效的大小 \"5XB\"：未知单位 \"XB\"（请用 B、KB、MB、GB、TB、KiB、MiB、GiB、TiB）\n" +
			"c.yaml:5：条目 \"80\"：billing：未知的计费方式 \"both\"（out、in、sum、max 或 relay）"},
		{zh.Errorf(EditInvalid, cfgErr), "此修改会使配置无效，未做任何修改：\n  c.yaml:3：条目 \"443\"：quota："},
		{fmt.Errorf("read config: %w", errors.New("something we do not know")), "读取配置：something we do not know"},
		{errors.New("a message nobody translated"), "a message nobody translated"},
	} {
		if got := zh.Error(c.err); !strings.HasPrefix(got, c.want) {
			t.Errorf("%v\n  got  %q\n  want %q", c.err, got, c.want)
		}
	}
	// import-legacy's report lines, nested messages translated too.
	if got := zh.Message("quota:    1GB = 1073741824 bytes → quota: 1GiB"); got != "配额：    1GB = 1073741824 字节 → quota: 1GiB" {
		t.Errorf("report line: %q", got)
	}
	// The script's billing as the report names it.
	if got := zh.Message("billing:  missing, so double in 1.2.5, every rule twice: (in + out) × 2 → relay"); got != "计费：    未设置，1.2.5 中即 double，每条规则计两次：(入 + 出) × 2 → relay" {
		t.Errorf("billing line: %q", got)
	}
	if got := New(EN).Error(sizeErr); got != sizeErr.Error() {
		t.Errorf("English changed: %q", got)
	}
}
