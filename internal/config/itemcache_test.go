package config

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"port-traffic-dog/internal/config/configtest"
)

// manyItems is a config of n items in the layout the enforcer's users and
// dog's editing commands write.
func manyItems(n int) string {
	var b strings.Builder
	b.WriteString("# relays\ntimezone: UTC\nexempt: [22]\nports:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - ports: \"%d\"\n    remark: \"customer %d <&>\"\n", 10000+2*i, i)
		if i%3 == 0 {
			fmt.Fprintf(&b, "    quota: %dGB\n    billing: relay\n", i+1)
		}
		if i%7 == 0 {
			b.WriteString("    # a comment inside an item\n\n")
		}
	}
	b.WriteString("count_loopback: false\n")
	return b.String()
}

// sameAsParse parses text through c and checks the result, or the error,
// is exactly what Parse gives.
func sameAsParse(t *testing.T, c *ItemCache, text string) *Config {
	t.Helper()
	want, wantErr := Parse([]byte(text), "c.yaml")
	got, gotErr := c.Parse([]byte(text), "c.yaml")
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("error differs from Parse for\n%s\ncache: %v\nParse: %v", text, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("result differs from Parse for\n%s\ncache: %+v\nParse: %+v", text, got, want)
	}
	return got
}

// TestItemCacheDecodesOnlyChanges: after the first parse, a file with one
// item changed, added, moved or removed is decoded from the cache (the
// fast path is taken) and the result equals a full parse, down to every
// item's line.
func TestItemCacheDecodesOnlyChanges(t *testing.T) {
	base := manyItems(40)
	edits := map[string]string{
		"unchanged":          base,
		"one quota":          strings.Replace(base, "quota: 4GB", "quota: 5GB", 1),
		"insert at the top":  strings.Replace(base, "ports:\n", "ports:\n  - ports: 9\n    remark: new\n", 1),
		"remove one":         strings.Replace(base, "  - ports: \"10002\"\n    remark: \"customer 1 <&>\"\n", "", 1),
		"header change":      strings.Replace(base, "timezone: UTC", "timezone: Asia/Shanghai", 1),
		"list at column 0":   strings.ReplaceAll(strings.ReplaceAll(base, "\n    ", "\n  "), "\n  - ", "\n- "),
		"leading ---":        "---\n" + base,
		"comment on the key": strings.Replace(base, "ports:\n", "ports:   # customers\n", 1),
		"list ends the file": strings.TrimSuffix(base, "count_loopback: false\n"),
	}
	for name, text := range edits {
		t.Run(name, func(t *testing.T) {
			var c ItemCache
			sameAsParse(t, &c, base)
			if len(c.index) != 40 {
				t.Fatalf("the first parse cached %d items, want 40", len(c.index))
			}
			if name == "list at column 0" || name == "leading ---" {
				sameAsParse(t, &c, text) // most entries changed: a full parse that learns them
			}
			list, ok := splitList([]byte(text))
			if !ok {
				t.Fatal("the split refused a plain block list")
			}
			want, err := Parse([]byte(text), "c.yaml")
			if err != nil {
				t.Fatal(err)
			}
			got, ok := c.parseChanged([]byte(text), list, "c.yaml")
			if !ok {
				t.Fatal("the cache was not used")
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("cache: %+v\nParse: %+v", got, want)
			}
			if len(c.index) != len(want.Items) {
				t.Errorf("the cache holds %d entries for %d items", len(c.index), len(want.Items))
			}
		})
	}
}

// TestItemCacheRefusesWhatItCannotSplit: texts where decoding entries alone
// could differ from the whole file give Parse's result, through the full
// parse.
func TestItemCacheRefusesWhatItCannotSplit(t *testing.T) {
	base := manyItems(10)
	cases := map[string]string{
		// A quoted value running over the `ports:` line: with the list
		// emptied it would still be a valid path, and the entries not items.
		"quoted scalar swallows the list": "state_dir: \"/var/lib\nports:\n  - ports: 443\n\"\n",
		// An entry merging another's anchor: when the anchor's entry goes,
		// the alias must fail as in a full parse.
		"alias to a removed entry": strings.Replace(base, "ports:\n", "ports:\n  - ports: 9\n    <<: *shared\n", 1),
		"anchors across entries":   strings.Replace(base, "ports:\n", "ports:\n  - &shared {ports: 7, quota: 1GB}\n  - <<: *shared\n    ports: 8\n", 1),
		"second ports key":         base + "ports:\n  - ports: 1\n",
		"spaced ports key":         base + "ports :\n  - ports: 1\n",
		"quoted ports key":         strings.Replace(base, "ports:\n", "\"ports\":\n", 1),
		"flow list":                "ports: [{ports: 1}, {ports: 2}]\n",
		"tab":                      strings.Replace(base, "remark:", "remark:\t", 1),
		"crlf":                     strings.ReplaceAll(base, "\n", "\r\n"),
		"line separator":           strings.Replace(base, "# relays", "# relays\u2028more", 1),
		"line separator in item":   strings.Replace(base, "\"customer 2 <&>\"", "\"customer\u20282\"", 1),
		"next line in item":        strings.Replace(base, "\"customer 2 <&>\"", "\"customer\u00852\"", 1),
		"second document":          base + "---\nports:\n  - ports: 1\n",
		"directive":                "%YAML 1.2\n---\n" + base,
		"duplicate item":           base + "ports:\n  - ports: \"10000\"\n",
		"duplicate entry":          strings.Replace(base, "ports:\n", "ports:\n  - ports: \"10000\"\n    remark: \"customer 0 <&>\"\n", 1),
		"overlap":                  strings.Replace(base, "ports:\n", "ports:\n  - ports: 10000-10001\n", 1),
		"entry line less indented": strings.Replace(base, "    remark: \"customer 3", " remark: \"customer 3", 1),
		"unterminated quote":       strings.Replace(base, "\"customer 4 <&>\"", "\"customer 4", 1),
		"open flow list":           strings.Replace(base, "remark: \"customer 4 <&>\"", "protocols: [tcp,", 1),
		"entry without item":       strings.Replace(base, "ports:\n", "ports:\n  - \n", 1),
		"scalar entry":             strings.Replace(base, "ports:\n", "ports:\n  - 443\n", 1),
		"bad value in entry":       strings.Replace(base, "quota: 4GB", "quota: 4XB", 1),
		"unknown key in entry":     strings.Replace(base, "quota: 4GB", "qouta: 4GB", 1),
		"nested list":              strings.Replace(base, "ports:\n", "ports:\n  - - ports: 1\n", 1),
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			var c ItemCache
			sameAsParse(t, &c, base)
			sameAsParse(t, &c, text)
			sameAsParse(t, &c, base) // and back: nothing stale is served
		})
	}
	var c ItemCache
	sameAsParse(t, &c, base)
	for _, tc := range configtest.Invalid() {
		sameAsParse(t, &c, tc.YAML)
	}
	// Refused by size or encoding, however few entries changed.
	huge := base + "# " + strings.Repeat("x", MaxFileSize) + "\n"
	sameAsParse(t, &c, huge)
	sameAsParse(t, &c, strings.Replace(base, "customer 3", "customer \xff", 1))
}

// TestItemCacheSequences: files in turn through one cache, each result
// checked against Parse. The cases are what review found: a quoted value in
// the last entry that the parser lets run on past the list at column 0, and
// line breaks the YAML scanner knows and the split does not.
func TestItemCacheSequences(t *testing.T) {
	for name, files := range map[string][]string{
		"quoted value runs past the list": {
			"ports:\n  - ports: 1\n    remark: \"a\ncount_loopback: true # \"\n",
			"ports:\n  - ports: 1\n    remark: \"a\ncount_loopback: false # \"\n",
			"ports:\n  - ports: 1\n    remark: \"a\ncount_loopback: true # \u202e\"\n",
		},
		"single-quoted value runs past the list": {
			"ports:\n  - ports: 1\n    remark: 'a\ntimezone: UTC # '\n",
			"ports:\n  - ports: 1\n    remark: 'a\ntimezone: Asia/Shanghai # '\n",
		},
		"key after a line separator": {
			"ports:\n  - ports: 1\u2028count_loopback: true\n",
			"ports:\n  - ports: 1\u2028count_loopback: true\n",
			"ports:\n  - ports: 1\u2028count_loopback: true\ncount_loopback: false\n",
		},
		"next line in a comment": {
			"ports:\n  - ports: 1\n  - ports: 2\n    remark: x\n",
			"ports:\n  - ports: 1\n    # a\u0085    # b\n  - ports: 2\n    remark: x\n",
		},
		"paragraph separator removed": {
			"ports:\n  - ports: 1\n    # a\u2029    # b\n  - ports: 2\n    remark: x\n",
			"ports:\n  - ports: 1\n  - ports: 2\n    remark: x\n",
		},
	} {
		t.Run(name, func(t *testing.T) {
			var c ItemCache
			for _, f := range files {
				sameAsParse(t, &c, f)
			}
		})
	}
}

// TestItemCacheRandomEdits applies random line edits, the kind an operator
// or a broken tool makes, to a config and checks every result against Parse.
func TestItemCacheRandomEdits(t *testing.T) {
	tokens := []string{"", " ", "  ", "- ", "#", "---", "&a ", "*a", "<<: *a", "\"", "'", "[", "]", "{", "|",
		"ports:", "ports: 1", "quota: 1GB", "remark: x", "- ports: 99", "  - ports: 98", "    quota: 2GB", "...", ": "}
	rng := rand.New(rand.NewPCG(1, 2))
	var c ItemCache
	lines := strings.SplitAfter(manyItems(12), "\n")
	valid, broken := 0, 0
	for i := 0; i < 3000; i++ {
		next := append([]string(nil), lines...)
		at := rng.IntN(len(next))
		switch rng.IntN(7) {
		case 0:
			next = append(next[:at], next[at+1:]...)
		case 1:
			next = append(next[:at], append([]string{next[rng.IntN(len(next))]}, next[at:]...)...)
		case 2:
			tok := tokens[rng.IntN(len(tokens))]
			pos := rng.IntN(len(next[at]) + 1)
			next[at] = next[at][:pos] + tok + next[at][pos:]
		case 3:
			next = append(next[:at], append([]string{strings.Repeat(" ", rng.IntN(5)) + tokens[rng.IntN(len(tokens))] + "\n"}, next[at:]...)...)
		case 4:
			j := rng.IntN(len(next))
			next[at], next[j] = next[j], next[at]
		case 5: // a new item where an item starts
			if strings.HasPrefix(next[at], "  - ") {
				next = append(next[:at], append([]string{fmt.Sprintf("  - ports: %d\n", 1000+i), "    remark: new\n"}, next[at:]...)...)
			}
		case 6: // another quota
			if strings.Contains(next[at], "quota: ") {
				next[at] = fmt.Sprintf("    quota: %dMB\n", i+1)
			}
		}
		text := strings.Join(next, "")
		cfg := sameAsParse(t, &c, text)
		if cfg != nil {
			valid++
		}
		switch {
		case cfg != nil: // edits pile up on valid files
			lines, broken = next, 0
		case rng.IntN(8) == 0: // and sometimes on a broken one
			lines, broken = next, broken+1
		}
		if len(lines) < 5 || broken > 3 {
			lines, broken = strings.SplitAfter(manyItems(12), "\n"), 0
		}
	}
	t.Logf("%d of 3000 edited files valid, %d parsed from the cache", valid, c.fast)
	if c.fast < 500 {
		t.Errorf("only %d of 3000 edits reached the cache; the test does not exercise it", c.fast)
	}
}

// FuzzItemCache parses a file, then the file with one edit (a cut and an
// insertion at one place, as an operator's edit), through one cache, and
// checks the second result against Parse.
func FuzzItemCache(f *testing.F) {
	base := manyItems(5)
	f.Add([]byte(base), uint16(strings.Index(base, "1GB")), uint16(1), []byte("2"))
	f.Add([]byte(base), uint16(0), uint16(0), []byte("state_dir: \"/var/lib\n"))
	f.Add([]byte("ports:\n  - &a {ports: 1}\n  - <<: *a\n    ports: 2\n"), uint16(9), uint16(19), []byte(""))
	f.Fuzz(func(t *testing.T, first []byte, at, cut uint16, insert []byte) {
		a := min(int(at), len(first))
		b := min(a+int(cut), len(first))
		second := append(append(append([]byte(nil), first[:a]...), insert...), first[b:]...)
		var c ItemCache
		c.Parse(first, "c.yaml") //nolint:errcheck // only warms the cache
		sameAsParse(t, &c, string(second))
	})
}

func BenchmarkItemCacheOneChange(b *testing.B) {
	base := manyItems(10000)
	changed := strings.Replace(base, "quota: 4GB", "quota: 5GB", 1)
	var c ItemCache
	if _, err := c.Parse([]byte(base), "c.yaml"); err != nil {
		b.Fatal(err)
	}
	texts := [][]byte{[]byte(changed), []byte(base)}
	for i := 0; b.Loop(); i++ {
		if _, err := c.Parse(texts[i%2], "c.yaml"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse10000(b *testing.B) {
	text := []byte(manyItems(10000))
	for b.Loop() {
		if _, err := Parse(text, "c.yaml"); err != nil {
			b.Fatal(err)
		}
	}
}
