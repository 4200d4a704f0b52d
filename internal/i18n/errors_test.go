package i18n

import (
	"errors"
	"fmt"
	"go/ast"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"port-traffic-dog/internal/archive"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/configedit"
	"port-traffic-dog/internal/fileedit"
	"port-traffic-dog/internal/legacy"
	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testutil"
	"port-traffic-dog/internal/units"
)

// The packages whose messages dog shows people and translates. The admin
// API answers in English; dog translates what it answers: by its code
// (apiMessages), and the messages it names (decode.go's, the state
// file's, the shaper's about its configuration) by their formats.
var messagePackages = []string{"../config/*.go", "../configedit/*.go", "../portspec/*.go", "../units/*.go",
	"../adminapi/client.go", "../adminapi/decode.go", "../legacy/*.go", "../state/*.go", "../notify/*.go",
	"../archive/archive.go", "../../enforcer/shaper/plan.go", "../../enforcer/shaper/links.go"}

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
		if !known[format.text] && hasWords(format.text) {
			t.Errorf("%s: %q has no Chinese in errorMessages", format.pos, format.text)
		}
	}
}

type sourceFormat struct{ pos, text string }

// hasWords says whether a format has words to translate ("%s: %w" is a
// frame without: what it wraps is translated).
func hasWords(format string) bool {
	return regexp.MustCompile(`[A-Za-z]{2,}`).MatchString(fillVerbs(format, func(int, byte) string { return "" }))
}

// sourceFormats lists the message formats of messagePackages: the format
// of fmt.Errorf, errors.New and the parsers' fail and bad, a validation
// error's Msg, and the legacy report's texts (of type reportText).
func sourceFormats(t *testing.T) []sourceFormat {
	t.Helper()
	var out []sourceFormat
	fset := token.NewFileSet()
	for _, f := range testutil.GoSources(t, fset, messagePackages...) {
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
				var x *ast.Ident
				var name string
				switch fun := n.Fun.(type) {
				case *ast.SelectorExpr:
					x, _ = fun.X.(*ast.Ident)
					name = fun.Sel.Name
				case *ast.Ident:
					name = fun.Name
				}
				if len(n.Args) == 0 {
					return true
				}
				switch {
				case x != nil && x.Name == "fmt" && name == "Errorf", x != nil && x.Name == "errors" && name == "New":
					add(n.Args[0])
				case name == "fail" || name == "bad":
					// The parsers' failures: their format is
					// the literal that reads as one, after the
					// node, item, field or key they name.
					for _, a := range n.Args {
						if l, ok := a.(*ast.BasicLit); ok && strings.ContainsAny(l.Value, " %") {
							add(a)
						}
					}
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
		// The enforcer refusing a config file others could write.
		{errors.New("config file /etc/dog.yaml: the directory above it, /etc, is owned by uid 1000, not by root: that user could make the enforcer (root) write or read what they choose; give it to root (chown root) or use another path"),
			"配置文件 /etc/dog.yaml：它的上级目录 /etc 属于 uid 1000，而不是 root：这个用户能让执行器（root）读写他选择的东西；请把它交给 root（chown root）或换一个路径"},
		// The state file, as dog status reads it without the enforcer.
		{zh.Errorf(StateDirErr, "/var/lib/dog", state.ErrNotExist), "状态目录 /var/lib/dog：没有状态文件"},
		// The script's files (import-legacy), by their parts.
		{&legacy.Error{Path: "/etc/port-traffic-dog/config.json", Key: `.ports["443"].remark`, Msg: "contains a control character"},
			`/etc/port-traffic-dog/config.json：.ports["443"].remark：含有控制字符`},
		{&legacy.Error{Path: "traffic_data.json", Key: "line 3", Msg: "has 2 fields (want unix-time|port|bytes)"},
			"traffic_data.json：第 3 行：有 2 个字段（应为 unix-time|port|bytes）"},
		// A frame no format knows (a path; a message of dog notify's,
		// already Chinese) keeps its text; what it wraps is translated.
		{fmt.Errorf("/etc/prometheus/prometheus.yml: %w", errors.New("line 4: alerting is not a mapping")),
			"/etc/prometheus/prometheus.yml: 第 4 行：alerting 不是映射"},
		{fmt.Errorf("校验失败，没有做任何改动：%w", fmt.Errorf("writing %s: %w", "/etc/x", os.ErrPermission)),
			"校验失败，没有做任何改动：写入 /etc/x：permission denied"},
		// config edits' steps (fileedit).
		{&fileedit.StepError{Step: fileedit.StepMkdir, Err: os.ErrPermission}, "配置目录：permission denied"},
		{errors.New("a message nobody translated"), "a message nobody translated"},
	} {
		if got := zh.Error(c.err); !strings.HasPrefix(got, c.want) {
			t.Errorf("%v\n  got  %q\n  want %q", c.err, got, c.want)
		}
	}
	// How archive's messages name its files.
	for _, name := range []string{archive.ConfigSource, archive.ConfigSource + ":3", archive.StateSource} {
		if got := zh.Message(name); got == name {
			t.Errorf("%q is not translated", name)
		}
	}
	// config edits' steps (fileedit), each.
	for step := fileedit.StepResolve; step <= fileedit.StepRead; step++ {
		if e := (&fileedit.StepError{Step: step, Err: os.ErrPermission}); zh.Error(e) == e.Error() {
			t.Errorf("%q is not translated", e)
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
