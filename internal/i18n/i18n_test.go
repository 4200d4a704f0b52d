package i18n

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestCatalog fails when a message lacks its English or Chinese text, when
// two messages share an English text (it is the catalog key, so one would
// shadow the other), or when a translation's verbs do not take the same
// arguments as the English.
func TestCatalog(t *testing.T) {
	seen := map[string]Key{}
	for k := range numKeys {
		m := messages[k]
		if m.en == "" || m.zh == "" {
			t.Errorf("message %d (%q): missing English or Chinese text", k, m.en)
			continue
		}
		if prev, ok := seen[m.en]; ok {
			t.Errorf("messages %d and %d are both %q", prev, k, m.en)
		}
		seen[m.en] = k
		if en, zh := verbs(m.en), verbs(m.zh); !slices.Equal(en, zh) {
			t.Errorf("message %d: %q takes %v, its translation %q takes %v", k, m.en, en, m.zh, zh)
		}
	}
}

var verbRE = regexp.MustCompile(`%(\[(\d+)\])?[-+# 0]*\d*(\.\d+)?([a-zA-Z%])`)

// verbs lists, per argument (1-based), the verb that formats it.
func verbs(format string) []string {
	var args []string
	next := 1
	for _, m := range verbRE.FindAllStringSubmatch(format, -1) {
		if m[4] == "%" {
			continue
		}
		if m[2] != "" {
			next, _ = strconv.Atoi(m[2])
		}
		for len(args) < next {
			args = append(args, "")
		}
		args[next-1] = m[4]
		next++
	}
	return args
}

func TestVerbs(t *testing.T) {
	// The checker itself must see a swapped or missing argument.
	if slices.Equal(verbs("%s of %d"), verbs("%[2]d / %[1]s")) == false {
		t.Error("reordered arguments are the same arguments")
	}
	if slices.Equal(verbs("%s of %d"), verbs("%d / %s")) {
		t.Error("swapped verbs not seen")
	}
	if slices.Equal(verbs("%s of %s"), verbs("%s")) {
		t.Error("a missing argument not seen")
	}
}

func TestDetect(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, c := range []struct {
		flag string
		env  func(string) string
		want Lang
	}{
		{"", nil, EN},
		{"", env(), EN},
		{"", env("LANG", "zh_CN.UTF-8"), ZH},
		{"", env("LANG", "zh_TW.Big5"), ZH},
		{"", env("LANG", "zh"), ZH},
		{"", env("LANG", "en_US.UTF-8"), EN},
		{"", env("LANG", "C.UTF-8"), EN},
		{"", env("LANG", "POSIX"), EN},
		{"", env("LANG", "zh_CN.UTF-8", "LC_MESSAGES", "C"), EN},
		{"", env("LANG", "en_US.UTF-8", "LC_MESSAGES", "zh_CN.UTF-8"), ZH},
		{"", env("LANG", "zh_CN.UTF-8", "LC_MESSAGES", "zh_CN.UTF-8", "LC_ALL", "en_GB.UTF-8"), EN},
		{"", env("LC_ALL", "zh_SG.UTF-8@euro"), ZH},
		{"en", env("LC_ALL", "zh_CN.UTF-8"), EN},
		{"zh", env("LANG", "C"), ZH},
		{"ZH", nil, ZH},
	} {
		got, err := Detect(c.flag, c.env)
		if err != nil || got != c.want {
			t.Errorf("Detect(%q, LC_ALL=%q LC_MESSAGES=%q LANG=%q) = %v, %v; want %v", c.flag, get(c.env, "LC_ALL"), get(c.env, "LC_MESSAGES"), get(c.env, "LANG"), got, err, c.want)
		}
	}
	if _, err := Detect("fr", nil); err == nil {
		t.Error("--lang fr accepted")
	}
}

func TestPrinter(t *testing.T) {
	en, zh := New(EN), New(ZH)
	if got := en.Sprintf(EditApplied, "added 443", "/etc/dog.yaml", en.Count(3, ItemsOne, ItemsMany)); got != "added 443 in /etc/dog.yaml (3 items); the enforcer applied it" {
		t.Errorf("en: %q", got)
	}
	if got := zh.Sprintf(EditApplied, zh.Sprintf(EditAdded, "443"), "/etc/dog.yaml", zh.Count(1, ItemsOne, ItemsMany)); got != "/etc/dog.yaml 中已添加 443（1 个条目）；执行器已应用" {
		t.Errorf("zh: %q", got)
	}
	var b strings.Builder
	zh.Fprintln(&b, EditAdded, "443")
	zh.Fprintf(&b, EditRemoved, "80")
	if b.String() != "已添加 443\n已删除 80" {
		t.Errorf("zh Fprintln, Fprintf: %q", b.String())
	}
	base := errors.New("boom")
	err := zh.Errorf(EditRefused, base)
	if !errors.Is(err, base) || err.Error() != "执行器拒绝了此修改，文件已恢复原样：boom" {
		t.Errorf("Errorf: %v (wraps: %v)", err, errors.Is(err, base))
	}
	if got := fmt.Sprint(en.Count(1, HistoryOne, HistoryMany)); got != "1 history entry" {
		t.Errorf("count: %q", got)
	}
}

func get(env func(string) string, k string) string {
	if env == nil {
		return ""
	}
	return env(k)
}
