package notify

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var verb = regexp.MustCompile(`%(?:\[[0-9]+\])?[-+# 0-9.]*[a-zA-Z%]`)

// verbs returns a format's verbs in argument order (explicit indexes, as
// the Chinese texts use to reorder, are resolved).
func verbs(f string) []string {
	var out []string
	next := 1
	idx := regexp.MustCompile(`^%\[([0-9]+)\]`)
	byArg := map[int]string{}
	for _, v := range verb.FindAllString(f, -1) {
		if v == "%%" {
			continue
		}
		n := next
		if m := idx.FindStringSubmatch(v); m != nil {
			n = int(m[1][0] - '0')
		}
		byArg[n] = v[len(v)-1:]
		next = n + 1
	}
	for i := 1; i <= len(byArg); i++ {
		out = append(out, byArg[i])
	}
	return out
}

// TestMessagesTranslated: every text exists in both languages with the same
// arguments, so a translation cannot drop or swap a value.
func TestMessagesTranslated(t *testing.T) {
	if MessagesFor("zh_CN.UTF-8") != &chinese || MessagesFor("C") != &english || MessagesFor("") != &english {
		t.Fatal("MessagesFor picks the wrong language")
	}
	en, zh := reflect.ValueOf(english), reflect.ValueOf(chinese)
	for i := 0; i < en.NumField(); i++ {
		name := en.Type().Field(i).Name
		e, z := en.Field(i).String(), zh.Field(i).String()
		if e == "" || z == "" {
			t.Errorf("%s: empty in one language", name)
			continue
		}
		if ve, vz := verbs(e), verbs(z); !slices.Equal(ve, vz) {
			t.Errorf("%s: arguments %v in English, %v in Chinese", name, ve, vz)
		}
		// The product is 端口流量狗 in Chinese, as dog itself says.
		if strings.Contains(z, "Port Traffic Dog") {
			t.Errorf("%s: the English product name in Chinese: %q", name, z)
		}
	}
}
