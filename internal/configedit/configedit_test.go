package configedit

import (
	"errors"
	"strings"
	"testing"

	"port-traffic-dog/internal/config"
)

const commented = `# Port Traffic Dog — production relays
# (edited by hand and by dog; keep the comments)
state_dir: /var/lib/port-traffic-dog   # checkpoints
timezone: Asia/Shanghai

exempt: [22]

ports:
  # web, billed together
  - ports: "80,443"
    remark: web   # the main site
    quota: 2TB

  # alice's relay: contract #12
  - ports: 10000-10100
    remark: 阿里 alice
    protocols:
      - tcp
    # she pays for sum billing
    billing: sum
    quota: 500GiB

  - ports: "8080"      # bob
    remark: 'bob: test'

# whole host budget from the provider
host:
  quota: 10TB
`

func mustParse(t *testing.T, b []byte) *config.Config {
	t.Helper()
	c, err := config.Parse(b, "edited")
	if err != nil {
		t.Fatalf("edited config does not validate: %v\n%s", err, b)
	}
	return c
}

func check(t *testing.T, got []byte, want string) {
	t.Helper()
	mustParse(t, got)
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestAddAppendsAfterTheLastItem(t *testing.T) {
	got, err := AddItem([]byte(commented), "5000-5100", []Field{{"remark", "carol: vip #1"}, {"quota", "1TiB"}, {"rate", ""}, {"protocols", "udp"}})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(commented, "    remark: 'bob: test'\n", "    remark: 'bob: test'\n"+
		"  - ports: \"5000-5100\"\n    remark: 'carol: vip #1'\n    quota: 1TiB\n    protocols: [udp]\n", 1)
	check(t, got, want)
	c := mustParse(t, got)
	if it := c.Items[3]; it.Remark != "carol: vip #1" || it.Quota != 1<<40 || it.Protocols != config.UDP {
		t.Errorf("added item: %+v", it)
	}
	if _, err := AddItem(got, "5000-5100", nil); !errors.Is(err, ErrExists) {
		t.Errorf("adding twice: %v", err)
	}
	// Any spelling of an existing group is the same item.
	if _, err := AddItem(got, "443, 80", nil); !errors.Is(err, ErrExists) {
		t.Errorf("adding a respelt group: %v", err)
	}
}

func TestAddToFilesWithoutItems(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"empty":      {"", "ports:\n  - ports: \"443\"\n"},
		"no list":    {"# hi\ntimezone: UTC\n", "# hi\ntimezone: UTC\n\nports:\n  - ports: \"443\"\n"},
		"null list":  {"ports:   # none yet\ntimezone: UTC\n", "ports: # none yet\n  - ports: \"443\"\ntimezone: UTC\n"},
		"empty flow": {"ports: []\n", "ports:\n  - ports: \"443\"\n"},
		"no newline": {"timezone: UTC", "timezone: UTC\n\nports:\n  - ports: \"443\"\n"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := AddItem([]byte(tc.in), "443", nil)
			if err != nil {
				t.Fatal(err)
			}
			check(t, got, tc.want)
		})
	}
}

func TestSetChangesOnlyTheKeysLines(t *testing.T) {
	got, err := SetFields([]byte(commented), "10000-10100", []Field{
		{"quota", "600GiB"},       // a plain line
		{"protocols", "tcp,udp"},  // a block list becomes one line
		{"remark", ""},            // removed
		{"reset_day", "15"},       // added after the item's last line
		{"expires", "2027-01-01"}, // added
	})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(commented, `  - ports: 10000-10100
    remark: 阿里 alice
    protocols:
      - tcp
    # she pays for sum billing
    billing: sum
    quota: 500GiB
`, `  - ports: 10000-10100
    protocols: [tcp, udp]
    # she pays for sum billing
    billing: sum
    quota: 600GiB
    reset_day: 15
    expires: 2027-01-01
`, 1)
	check(t, got, want)
	// A trailing comment on the value's line stays.
	got, err = SetFields([]byte(commented), "443,80", []Field{{"remark", "web & api"}})
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, strings.Replace(commented, "    remark: web   # the main site", "    remark: web & api  # the main site", 1))
	if _, err := SetFields([]byte(commented), "9999", []Field{{"quota", "1GB"}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("set on a missing item: %v", err)
	}
	// A port of a range, or one port of a group: the error names the item.
	for _, c := range []struct{ ports, want string }{
		{"10050", `"10050" is not configured; port 10050 belongs to item "10000-10100"`},
		{"80", `"80" is not configured; port 80 belongs to item "80,443"`},
	} {
		_, err := SetFields([]byte(commented), c.ports, []Field{{"quota", "1GB"}})
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("set on %s: %v", c.ports, err)
		}
		if _, err := RemoveItem([]byte(commented), c.ports); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("rm %s: %v", c.ports, err)
		}
	}
	if _, err := SetFields([]byte(commented), "8080", []Field{{"ports", "8081"}}); err == nil {
		t.Error("changing ports was accepted")
	}
}

func TestRemoveKeepsTheRest(t *testing.T) {
	got, err := RemoveItem([]byte(commented), "10000-10100")
	if err != nil {
		t.Fatal(err)
	}
	// The item's head comment and one blank line go with it.
	want := strings.Replace(commented, `  # alice's relay: contract #12
  - ports: 10000-10100
    remark: 阿里 alice
    protocols:
      - tcp
    # she pays for sum billing
    billing: sum
    quota: 500GiB

`, "", 1)
	check(t, got, want)

	got, err = RemoveItem([]byte(commented), "8080")
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, strings.Replace(commented, "  - ports: \"8080\"      # bob\n    remark: 'bob: test'\n\n", "", 1))

	one := "ports:  # the list\n  - ports: \"443\"\n    remark: x\ntimezone: UTC\n"
	got, err = RemoveItem([]byte(one), "443")
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, "ports: [] # the list\ntimezone: UTC\n")
}

func TestSetTop(t *testing.T) {
	got, err := SetTop([]byte(commented), "state_dir", "/srv/dog")
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, strings.Replace(commented, "state_dir: /var/lib/port-traffic-dog   # checkpoints", "state_dir: /srv/dog  # checkpoints", 1))
	got, err = SetTop([]byte(commented), "admin_socket", "/run/x.sock")
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, strings.Replace(commented, "state_dir:", "admin_socket: /run/x.sock\nstate_dir:", 1))
}

func TestRefusesWhatItCannotEditSafely(t *testing.T) {
	for name, src := range map[string]string{
		"flow list":  "ports: [{ports: \"443\"}]\n",
		"merge key":  "d: &d {quota: 1GB}\nports:\n  - <<: *d\n    ports: \"443\"\n",
		"bare CR":    "#\r#\rports:\n  - ports: \"443\"\n",
		"LS":         "ports:\n  - ports: \"443\"\n    remark: \"a\u2028b\"\n",
		"flow top":   "{ports: [{ports: \"443\"}]}\n",
		"BOM":        "\uFEFFports:\n  - ports: \"443\"\n",
		"flow item":  "ports:\n  - {ports: \"443\", quota: 1GB}\n",
		"not a list": "ports: 443\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := SetFields([]byte(src), "443", []Field{{"quota", "2GB"}}); err == nil {
				t.Error("edited")
			} else {
				t.Log(err)
			}
		})
	}
}

// TestHiddenLineBreaks: YAML also ends lines at CR, NEL, LS and PS. An
// archive's config built on that once made Import's "keep this host's
// state_dir" edit another line than state_dir's, so the archive chose
// root's state dir (and SetTop panicked on some such files). Every edit
// refuses them, saying where; none panics.
func TestHiddenLineBreaks(t *testing.T) {
	evil := "#\r#\r#\r#\r#\r#\rstate_dir: /tmp/x/evil\nadmin_socket: /run/port-traffic-dog/enforcer.sock\n" +
		"ports:\n  - ports: \"443\"\n    remark: \"a\n      b\"\n"
	ls := "ports:\n  - ports: \"443\"\n    remark: \"a\u2028b\"\n"
	nel := "timezone: UTC\nports: [] # \u0085state_dir: /tmp/x\n"
	for name, edit := range map[string]func(string) ([]byte, error){
		"SetTop":     func(s string) ([]byte, error) { return SetTop([]byte(s), "state_dir", "/var/lib/port-traffic-dog") },
		"SetFields":  func(s string) ([]byte, error) { return SetFields([]byte(s), "443", []Field{{"quota", "1GB"}}) },
		"AddItem":    func(s string) ([]byte, error) { return AddItem([]byte(s), "80", nil) },
		"RemoveItem": func(s string) ([]byte, error) { return RemoveItem([]byte(s), "443") },
	} {
		for src, want := range map[string]string{evil: "line 1: contains CR", ls: "line 3: contains U+2028", nel: "line 2: contains U+0085"} {
			out, err := edit(src)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s on %q: %v, want an error with %q\n%s", name, src, err, want, out)
			}
		}
	}
}

// TestWindowsLineEnds: a file edited on Windows keeps its CRLF line ends,
// the added lines get them too, and nothing else changes.
func TestWindowsLineEnds(t *testing.T) {
	src := strings.ReplaceAll(commented, "\n", "\r\n")
	got, err := SetFields([]byte(src), "8080", []Field{{"quota", "5GB"}})
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(commented, "    remark: 'bob: test'\n", "    remark: 'bob: test'\n    quota: 5GB\n", 1)
	check(t, got, strings.ReplaceAll(want, "\n", "\r\n"))
	got, err = SetTop([]byte(src), "state_dir", "/srv/dog")
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, strings.ReplaceAll(strings.Replace(commented, "state_dir: /var/lib/port-traffic-dog   # checkpoints", "state_dir: /srv/dog  # checkpoints", 1), "\n", "\r\n"))
}

// TestEditsChangeOnlyWhatTheySay: layouts the line editor would get wrong
// are refused, not mangled: a flow-style file (whose items an edit once
// dropped silently), a value continued on the next line, an indented
// document.
func TestEditsChangeOnlyWhatTheySay(t *testing.T) {
	for name, src := range map[string]string{
		"flow mapping":     "{state_dir: /a, ports: [{ports: \"443\"}]}\n",
		"continued plain":  "state_dir: /a\n  /b\nports: []\n",
		"continued quoted": "state_dir: \"/a\n  #b\"\nports: []\n",
	} {
		if out, err := SetTop([]byte(src), "state_dir", "/srv/dog"); err == nil {
			t.Errorf("%s: edited:\n%s", name, out)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	// An indented document keeps its indentation.
	got, err := SetTop([]byte("  timezone: UTC\n  ports: []\n"), "state_dir", "/srv/dog")
	if err != nil {
		t.Fatal(err)
	}
	check(t, got, "  state_dir: /srv/dog\n  timezone: UTC\n  ports: []\n")
}
