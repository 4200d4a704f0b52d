package config

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/config/configtest"
)

const full = `# example
state_dir: /tmp/dog-state
admin_socket: /tmp/dog.sock
checkpoint_interval: 5s
timezone: Asia/Shanghai
count_loopback: true
count_forwarded: "false"
exempt: [22, "2222-2223"]
interfaces: [eth0]
host:
  quota: 2TB
  billing: max
  reset_day: 15
defaults: &defaults
ports:
  - ports: "443"
    remark: "alice <vip> & co 阿里"
    protocols: [tcp, udp]
    quota: 500GiB
    billing: sum
    reset_day: 31
    expires: 2026-12-31
    rate: 100Mbps
    rate_in: 20Mbps
    burst: 256KB
  - ports: 5000-5100
    protocols: [udp]
  - ports: "8443,9000-9010"
    billing: relay
    quota: 1TB
`

func TestParseFull(t *testing.T) {
	// "defaults" is not a key: drop that line for the valid case.
	cfg, err := Parse([]byte(strings.Replace(full, "defaults: &defaults\n", "", 1)), "full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "/tmp/dog-state" || cfg.CheckpointInterval != 5*time.Second || !cfg.CountLoopback ||
		cfg.CountForwarded != ForwardedFalse {
		t.Errorf("top-level fields wrong: %+v", cfg)
	}
	if cfg.Location.String() != "Asia/Shanghai" || cfg.Exempt.String() != "22,2222-2223" {
		t.Errorf("timezone/exempt wrong: %v %v", cfg.Location, cfg.Exempt)
	}
	if cfg.Host == nil || cfg.Host.Quota != 2e12 || cfg.Host.Billing != BillingMax || cfg.Host.ResetDay != 15 {
		t.Errorf("host wrong: %+v", cfg.Host)
	}
	if len(cfg.Items) != 3 {
		t.Fatalf("got %d items", len(cfg.Items))
	}
	a := cfg.Items[0]
	if a.Remark != "alice <vip> & co 阿里" || a.Quota != 500<<30 || a.ResetDay != 31 ||
		a.Expires != (Date{2026, 12, 31}) || a.RateIn != 20e6 || a.RateOut != 100e6 || a.Burst != 256000 ||
		a.Protocols != TCP|UDP || a.ID() != "p443" || a.Source() != "full.yaml:15" {
		t.Errorf("item 0 wrong: %+v", a)
	}
	b := cfg.Items[1]
	if b.Ports != "5000-5100" || b.Protocols != UDP || b.Billing != BillingSum || b.ResetDay != 1 || b.Quota != 0 {
		t.Errorf("item 1 wrong: %+v", b)
	}
	if c := cfg.Items[2]; c.ID() != "p8443_9000-9010" || c.Billing != BillingRelay {
		t.Errorf("item 2 wrong: %+v %s", c, c.ID())
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Parse([]byte("ports:\n  - ports: 80\n"), "d.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != DefaultStateDir || cfg.AdminSocket != DefaultAdminSocket || cfg.Exempt.String() != "22" ||
		cfg.CheckpointInterval != 10*time.Second || cfg.Location != time.Local || cfg.Host != nil ||
		cfg.CountForwarded != ForwardedAuto {
		t.Errorf("defaults wrong: %+v", cfg)
	}
	if _, err := Parse(nil, "empty.yaml"); err != nil {
		t.Errorf("empty file: %v", err)
	}
}

func TestCountForwarded(t *testing.T) {
	for _, tc := range []struct {
		yaml           string
		want           CountForwarded
		idle, forwards bool // Enabled on a host that does not / does forward
	}{
		{"", ForwardedAuto, false, true},
		{"count_forwarded: auto\n", ForwardedAuto, false, true},
		{"count_forwarded: true\n", ForwardedTrue, true, true},
		{"count_forwarded: false\n", ForwardedFalse, false, false},
	} {
		cfg, err := Parse([]byte(tc.yaml), "f.yaml")
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		c := cfg.CountForwarded
		if c != tc.want || c.Enabled(false) != tc.idle || c.Enabled(true) != tc.forwards {
			t.Errorf("%q: %q, enabled %v/%v, want %q, %v/%v", tc.yaml, c, c.Enabled(false), c.Enabled(true), tc.want, tc.idle, tc.forwards)
		}
	}
}

func TestMergeKeys(t *testing.T) {
	cfg, err := Parse([]byte(`
ports:
  - &base {ports: "80", quota: 1GB, billing: max}
  - <<: *base
    ports: "81"
    billing: out
`), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if it := cfg.Items[1]; it.Quota != 1e9 || it.Billing != BillingOut || it.Ports != "81" {
		t.Errorf("merged item wrong: %+v", it)
	}
}

// TestInvalid runs the corpus of bad configs (configtest): each must fail
// with a message that names the place (file:line), the item and the field.
// The enforcer's tests run the same corpus against a live kernel table.
func TestInvalid(t *testing.T) {
	if configtest.HugeSize != MaxFileSize+1 {
		t.Fatalf("configtest.HugeSize %d is not MaxFileSize+1 (%d)", configtest.HugeSize, MaxFileSize+1)
	}
	cases := configtest.Invalid()
	if len(cases) < 40 {
		t.Fatalf("the corpus has %d cases, want at least 40", len(cases))
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.Name] {
			t.Errorf("case %q twice", tc.Name)
		}
		seen[tc.Name] = true
		t.Run(tc.Name, func(t *testing.T) {
			_, err := Parse([]byte(tc.YAML), "bad.yaml")
			if err == nil {
				t.Fatalf("accepted:\n%.500s", tc.YAML)
			}
			if !strings.Contains(err.Error(), tc.Want) {
				t.Fatalf("error %.500q\ndoes not contain %q", err, tc.Want)
			}
			// One problem, one error: no follow-up errors of the same cause.
			if !tc.Several && strings.Contains(err.Error(), "\n") {
				t.Errorf("more than one error:\n%v", err)
			}
		})
	}
}

func TestHugeFile(t *testing.T) {
	data := []byte("ports:\n" + strings.Repeat("#", MaxFileSize))
	if _, err := Parse(data, "huge.yaml"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("huge file: %v", err)
	}
}

func TestPortFlag(t *testing.T) {
	it, err := ParsePortFlag("5000-5100:remark=bob%3A%20vip:quota=1TiB:billing=max:rate=50Mbps:rate_out=80Mbps:protocols=tcp:reset_day=0:expires=2027-01-31", "--port #1")
	if err != nil {
		t.Fatal(err)
	}
	if it.Remark != "bob: vip" || it.Quota != 1<<40 || it.Billing != BillingMax || it.RateIn != 50e6 ||
		it.RateOut != 80e6 || it.Protocols != TCP || it.ResetDay != 0 || it.Expires != (Date{2027, 1, 31}) {
		t.Errorf("flag item wrong: %+v", it)
	}
	back, err := ParsePortFlag(FormatPortFlag(&it), "x")
	if err != nil {
		t.Fatal(err)
	}
	back.source, it.source, back.line, it.line = "", "", 0, 0
	if back.Ports != it.Ports || back.Remark != it.Remark || back.Quota != it.Quota || back.RateOut != it.RateOut ||
		back.Expires != it.Expires || back.ResetDay != it.ResetDay || back.Protocols != it.Protocols {
		t.Errorf("round trip: %+v != %+v", back, it)
	}
	for in, want := range map[string]string{
		"443:qouta=1GB":           `--port #1: item "443": qouta: unknown option (did you mean "quota"?)`,
		"443:remark":              `option "remark" is not key=value`,
		"443:quota=1GB:quota=2GB": `quota: given twice`,
		"443:quota=lots":          `--port #1: item "443": quota: invalid size "lots"`,
		"0":                       `port 0 is outside`,
		"443:remark=%zz":          `bad %-escape`,
		"443:ports=80":            `unknown option`,
	} {
		if _, err := ParsePortFlag(in, "--port #1"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePortFlag(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestWithPortFlags(t *testing.T) {
	cfg, err := Parse([]byte("ports:\n  - ports: 100-200\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.WithPortFlags([]string{"150"}); err == nil || !strings.Contains(err.Error(), `--port #1: item "150": ports: overlaps item "100-200" (c.yaml:2)`) {
		t.Errorf("overlap with file item: %v", err)
	}
	out, err := cfg.WithPortFlags([]string{"443", "8443:remark=x"})
	if err != nil || len(out.Items) != 3 || len(cfg.Items) != 1 {
		t.Errorf("merge: %v, %d items (original %d)", err, len(out.Items), len(cfg.Items))
	}
}

func TestLongGroupID(t *testing.T) {
	var ports []string
	for p := 1000; p < 1100; p += 2 {
		ports = append(ports, strconv.Itoa(p))
	}
	cfg, err := Parse([]byte("ports:\n  - ports: \""+strings.Join(ports, ",")+"\"\n"), "g.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if id := cfg.Items[0].ID(); len(id) > 120 || id[0] != 'g' {
		t.Errorf("long group id %q", id)
	}
}

func TestBillable(t *testing.T) {
	for b, want := range map[Billing]uint64{BillingOut: 30, BillingIn: 10, BillingSum: 40, BillingMax: 30, BillingRelay: 80} {
		if got := b.Billable(10, 30); got != want {
			t.Errorf("%s: %d, want %d", b, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(full))
	f.Add([]byte("ports:\n  - ports: 80\n"))
	f.Add([]byte("a: &a [x]\nb: [*a, *a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "fuzz.yaml")
		if err != nil {
			return
		}
		for _, it := range cfg.Items {
			if len(it.Spec) == 0 || it.ID() == "" {
				t.Fatalf("accepted item without ports: %+v", it)
			}
		}
	})
}

func FuzzPortFlag(f *testing.F) {
	f.Add("443")
	f.Add("5000-5100:remark=bob%3A:quota=1TiB:billing=max:rate=50Mbps")
	f.Add("1:expires=2026-01-01:burst=1KB:rate_in=1Kbps")
	f.Fuzz(func(t *testing.T, s string) {
		it, err := ParsePortFlag(s, "fuzz")
		if err != nil {
			return
		}
		back, err := ParsePortFlag(FormatPortFlag(&it), "fuzz")
		if err != nil {
			t.Fatalf("FormatPortFlag(%q) = %q does not parse: %v", s, FormatPortFlag(&it), err)
		}
		if back.Remark != it.Remark || back.Spec.String() != it.Spec.String() || back.Quota != it.Quota ||
			back.RateIn != it.RateIn || back.RateOut != it.RateOut || back.Burst != it.Burst {
			t.Fatalf("round trip of %q changed the item: %+v -> %+v", s, it, back)
		}
	})
}

// TestHiddenCharactersInRemarks: characters that reorder or hide text are
// refused in new remarks, but a config that has them still loads (an
// upgrade never stops an enforcer), with a warning naming the item.
func TestHiddenCharactersInRemarks(t *testing.T) {
	for _, r := range []string{"\u2028", "\u2029", "\u200e", "\u200f", "\u061c", "\u00ad", "\ufeff", "\U000E0041", "\u200b"} {
		if err := CheckNewRemark("a" + r + "b"); err == nil {
			t.Errorf("new remark with %U accepted", []rune(r)[0])
		}
		cfg, err := Parse([]byte("ports:\n  - ports: \"443\"\n    remark: \"a"+r+"b\"\n"), "c.yaml")
		if err != nil {
			t.Errorf("existing remark with %U: %v", []rune(r)[0], err)
			continue
		}
		if w := cfg.Warnings(time.Now()); len(w) != 1 || !strings.Contains(w[0], `c.yaml:2: item "443": remark contains`) {
			t.Errorf("warnings for %U: %q", []rune(r)[0], w)
		}
	}
	for _, ok := range []string{"阿里 alice", "👩\u200d💻 dev", "می\u200cخواهم"} { // ZWJ and ZWNJ stay
		if err := CheckNewRemark(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	if err := CheckNewRemark("a\u202eb"); err == nil {
		t.Error("bidi override accepted")
	}
}

// TestEveryError: one Parse reports every problem it finds, in file order:
// each field of an item (not only its first error), and the overlaps among
// the items whose ports parsed, even when other items or fields are wrong.
func TestEveryError(t *testing.T) {
	_, err := Parse([]byte(`timezone: Mars/Olympus
ports:
  - ports: 80-20
  - ports: "443"
    quota: 10XB
    billing: both
    qouta: 1GB
  - ports: "443"
  - ports: 1000-2000
    reset_day: 40
  - ports: "1500"
exempt: [22]
`), "c.yaml")
	if err == nil {
		t.Fatal("accepted")
	}
	want := []string{
		`c.yaml:1: timezone: unknown time zone "Mars/Olympus"`,
		`c.yaml:3: item "80-20": ports: range "80-20" is reversed`,
		`c.yaml:5: item "443": quota: invalid size "10XB"`,
		`c.yaml:6: item "443": billing: unknown billing mode "both"`,
		`c.yaml:7: item "443": qouta: unknown key (did you mean "quota"?)`,
		`c.yaml:8: item "443": ports: duplicate item: "443" is already defined at c.yaml:4`,
		`c.yaml:10: item "1000-2000": reset_day: "40" is not a day of the month`,
		`c.yaml:11: item "1500": ports: overlaps item "1000-2000" (c.yaml:9) on port 1500`,
	}
	errorsAre(t, err, want)
}

// TestEveryOverlap: each item that shares a port with an item defined
// before it is reported (naming the first item that holds each port it
// shares), however the ranges nest: the second item lies inside the first,
// and the third holds both.
func TestEveryOverlap(t *testing.T) {
	_, err := Parse([]byte(`ports:
  - ports: 50-60
  - ports: 55-58
  - ports: 1-100
  - ports: "57"
  - ports: "2,3"
    quota: 1GB
exempt: ["3"]
`), "c.yaml")
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		`c.yaml:3: item "55-58": ports: overlaps item "50-60" (c.yaml:2) on port 55-58`,
		`c.yaml:4: item "1-100": ports: overlaps item "50-60" (c.yaml:2) on port 50-60`,
		`c.yaml:5: item "57": ports: overlaps item "50-60" (c.yaml:2) on port 57`,
		`c.yaml:6: item "2,3": quota: port 3 is exempt`,
		`c.yaml:6: item "2,3": ports: overlaps item "1-100" (c.yaml:4) on port 2`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
}

// TestErrorCap: a file broken in every item reports the first MaxErrors
// problems and counts the rest, so a terminal or a log is not flooded.
func TestErrorCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("ports:\n")
	for p := 1; p <= 10000; p++ {
		fmt.Fprintf(&b, "  - ports: \"%d\"\n    quota: lots\n", p)
	}
	_, err := Parse([]byte(b.String()), "c.yaml")
	if err == nil {
		t.Fatal("accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != MaxErrors+1 || !strings.HasPrefix(lines[0], `c.yaml:3: item "1": quota:`) ||
		lines[MaxErrors] != fmt.Sprintf("c.yaml: and %d more problems", 10000-MaxErrors) {
		t.Errorf("%d lines, first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}
}

// TestPortFlagEveryError: a --port flag's problems are all reported, as a
// file item's, and the flags' overlaps among themselves too.
func TestPortFlagEveryError(t *testing.T) {
	cfg, err := Parse([]byte("ports:\n  - ports: 100-200\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.WithPortFlags([]string{"150:quota=lots:billing=both", "300:qouta=1", "300"})
	want := []string{
		`--port #1: item "150": quota: invalid size "lots"`,
		`--port #1: item "150": billing: unknown billing mode "both"`,
		`--port #2: item "300": qouta: unknown option`,
		`--port #1: item "150": ports: overlaps item "100-200" (c.yaml:2) on port 150`,
		`--port #3: item "300": ports: duplicate item: "300" is already defined at --port #2`,
	}
	if err == nil {
		t.Fatal("accepted")
	}
	errorsAre(t, err, want)
}

// TestExpiredWarning: an item whose expiry date has come is valid (it is
// blocked), but a warning names it and the date, from 00:00 of that day in
// the config's time zone.
func TestExpiredWarning(t *testing.T) {
	cfg, err := Parse([]byte("timezone: Asia/Shanghai\nports:\n  - ports: \"443\"\n    expires: 2026-03-01\n  - ports: \"80\"\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	midnight := time.Date(2026, 3, 1, 0, 0, 0, 0, cfg.Location)
	if w := cfg.Warnings(midnight.Add(-time.Second)); len(w) != 0 {
		t.Errorf("before the date: %q", w)
	}
	for _, now := range []time.Time{midnight, midnight.AddDate(1, 0, 0)} {
		w := cfg.Warnings(now)
		if len(w) != 1 || !strings.HasPrefix(w[0], `c.yaml:3: item "443": expired on 2026-03-01`) {
			t.Errorf("at %v: %q", now, w)
		}
	}
}

// TestExpiryWhereMidnightIsSkipped: where DST starts at midnight, 00:00 of
// the expiry day does not exist; the item expires at the first minute of
// that day, not in the evening before (time.Date's answer in these zones,
// which blocked the item an hour early and had dog status show the day
// before as its expiry date).
func TestExpiryWhereMidnightIsSkipped(t *testing.T) {
	for _, c := range []struct {
		zone string
		day  Date
	}{
		{"America/Santiago", Date{2026, time.September, 6}},
		{"America/Havana", Date{2026, time.March, 8}},
		{"Asia/Beirut", Date{2026, time.March, 29}},
		{"Asia/Shanghai", Date{2027, time.January, 1}},
	} {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		at := c.day.In(loc)
		if y, m, d := at.In(loc).Date(); (Date{y, m, d}) != c.day {
			t.Errorf("%s %s: expires at %s, on another day", c.zone, c.day, at.In(loc))
		}
		if y, m, d := at.Add(-time.Minute).In(loc).Date(); (Date{y, m, d}) == c.day {
			t.Errorf("%s %s: expires at %s, after the day began", c.zone, c.day, at.In(loc))
		}
		cfg, err := Parse([]byte("timezone: "+c.zone+"\nports:\n  - ports: \"443\"\n    expires: "+c.day.String()+"\n"), "c.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if w := cfg.Warnings(at.Add(-time.Second)); len(w) != 0 {
			t.Errorf("%s %s: expired a second before the day: %q", c.zone, c.day, w)
		}
		if w := cfg.Warnings(at); len(w) != 1 {
			t.Errorf("%s %s: not expired at the day's start: %q", c.zone, c.day, w)
		}
	}
}

// errorsAre checks err lists exactly the problems want, in order, each
// line starting with its want.
func errorsAre(t *testing.T, err error, want []string) {
	t.Helper()
	got := strings.Split(err.Error(), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(got), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("error %d: %q\nwant %q...", i, got[i], want[i])
		}
	}
}

// TestBillingOfTheScript: the shell script's billing modes are not ours;
// someone who carries them over by hand is told what they become.
func TestBillingOfTheScript(t *testing.T) {
	for _, mode := range []string{"single", "double"} {
		_, err := Parse([]byte("ports:\n  - ports: \"443\"\n    billing: "+mode+"\n"), "c.yaml")
		if err == nil || !strings.Contains(err.Error(), `billing: unknown billing mode "`+mode+`" (out, in, sum, max or relay): the shell script's single is out, its double is sum (before 1.2.5) or relay (1.2.5)`) {
			t.Errorf("billing %s: %v", mode, err)
		}
	}
}
