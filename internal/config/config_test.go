package config

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

const full = `# example
state_dir: /tmp/dog-state
admin_socket: /tmp/dog.sock
checkpoint_interval: 5s
timezone: Asia/Shanghai
count_loopback: true
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
	if cfg.StateDir != "/tmp/dog-state" || cfg.CheckpointInterval != 5*time.Second || !cfg.CountLoopback {
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
		a.Protocols != TCP|UDP || a.ID() != "p443" || a.Source != "full.yaml:14" {
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
		cfg.CheckpointInterval != 10*time.Second || cfg.Location != time.Local || cfg.Host != nil {
		t.Errorf("defaults wrong: %+v", cfg)
	}
	if _, err := Parse(nil, "empty.yaml"); err != nil {
		t.Errorf("empty file: %v", err)
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

// TestInvalid is the corpus of bad configs: each must fail with a message
// that names the place (file:line), the item and the field.
func TestInvalid(t *testing.T) {
	item := func(body string) string { return "ports:\n  - ports: \"443\"\n" + body }
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown top key", "state_dri: /x\n", `bad.yaml:1: state_dri: unknown key (did you mean "state_dir"?)`},
		{"unknown item key", item("    qouta: 1GB\n"), `bad.yaml:3: item "443": qouta: unknown key (did you mean "quota"?)`},
		{"unknown far key", "zzzzzz: 1\n", `zzzzzz: unknown key (known keys: state_dir`},
		{"port zero", "ports:\n  - ports: \"0\"\n", `bad.yaml:2: item "0": ports: port 0 is outside 1-65535`},
		{"port too big", "ports:\n  - ports: \"70000\"\n", `outside 1-65535`},
		{"reversed", "ports:\n  - ports: 200-100\n", `bad.yaml:2: item "200-100": ports: range "200-100" is reversed`},
		{"not a port", "ports:\n  - ports: https\n", `"https" is not a port number`},
		{"empty ports", "ports:\n  - ports: \"\"\n", `empty ports spec`},
		{"missing ports", "ports:\n  - remark: x\n", `bad.yaml:2: ports: every item needs`},
		{"overlap", "ports:\n  - ports: 100-200\n  - ports: \"150\"\n", `bad.yaml:3: item "150": ports: overlaps item "100-200" (bad.yaml:2) on port 150`},
		{"overlap group", "ports:\n  - ports: \"80,443\"\n  - ports: 400-500\n", `overlaps item "80,443"`},
		{"duplicate", "ports:\n  - ports: \"443\"\n  - ports: \"443\"\n", `bad.yaml:3: item "443": ports: duplicate item: "443" is already defined at bad.yaml:2`},
		{"duplicate reordered group", "ports:\n  - ports: \"1,2\"\n  - ports: \"2,1\"\n", `duplicate item`},
		{"overlap inside group", "ports:\n  - ports: \"80,80\"\n", `overlap`},
		{"bad duration", "checkpoint_interval: soon\n", `bad.yaml:1: checkpoint_interval: "soon" is not a duration`},
		{"duration too small", "checkpoint_interval: 1ms\n", `outside 1s-1h`},
		{"duration too large", "checkpoint_interval: 2h\n", `outside 1s-1h`},
		{"bad timezone", "timezone: Mars/Olympus\n", `bad.yaml:1: timezone: unknown time zone "Mars/Olympus"`},
		{"relative state dir", "state_dir: var/lib\n", `state_dir: "var/lib" must be an absolute path`},
		{"relative socket", "admin_socket: x.sock\n", `admin_socket: "x.sock" must be an absolute path`},
		{"bool type", "count_loopback: maybe\n", `count_loopback: expected true or false, found "maybe"`},
		{"state_dir list", "state_dir: [a]\n", `state_dir: expected a single value, found a list`},
		{"ports not list", "ports: 443\n", `ports: expected a list, found "443"`},
		{"item not mapping", "ports:\n  - 443\n", `expected a mapping`},
		{"top not mapping", "- a\n", `expected a mapping`},
		{"duplicate key", "timezone: UTC\ntimezone: UTC\n", `bad.yaml:2: timezone: duplicate key (first set at line 1)`},
		{"duplicate item key", item("    remark: a\n    remark: b\n"), `item "443": remark: duplicate key`},
		{"protocol", item("    protocols: [tcp, sctp]\n"), `bad.yaml:3: item "443": protocols: unknown protocol "sctp"`},
		{"protocol twice", item("    protocols: [tcp, tcp]\n"), `tcp is listed twice`},
		{"protocols empty", item("    protocols: []\n"), `protocols: empty`},
		{"quota unit", item("    quota: 5XB\n"), `bad.yaml:3: item "443": quota: invalid size "5XB": unknown unit "XB"`},
		{"quota negative", item("    quota: -5GB\n"), `quota: invalid size "-5GB"`},
		{"quota zero", item("    quota: 0\n"), `quota: must be greater than zero`},
		{"quota ambiguous", item("    quota: 5G\n"), `ambiguous`},
		{"quota list", item("    quota: [1]\n"), `quota: expected a single value, found a list`},
		{"billing", item("    billing: both\n"), `billing: unknown billing mode "both"`},
		{"reset day 32", item("    reset_day: 32\n"), `reset_day: "32" is not a day of the month`},
		{"reset day negative", item("    reset_day: -1\n"), `reset_day: "-1" is not a day`},
		{"reset day text", item("    reset_day: first\n"), `reset_day: "first" is not a day`},
		{"expires", item("    expires: next year\n"), `bad.yaml:3: item "443": expires: "next year" is not a date`},
		{"expires bad day", item("    expires: 2026-02-30\n"), `expires: "2026-02-30" is not a date`},
		{"rate unit", item("    rate: 100MB/s\n"), `rate: invalid rate "100MB/s": rates are in bits per second`},
		{"rate zero", item("    rate: 0Mbps\n"), `must be greater than zero`},
		{"rate negative", item("    rate_in: -5Mbps\n"), `rate_in: invalid rate "-5Mbps"`},
		{"rate no unit", item("    rate_out: 100\n"), `rate_out: invalid rate "100": missing unit`},
		{"burst without rate", item("    burst: 64KB\n"), `burst: burst needs a rate`},
		{"burst zero", item("    rate: 1Mbps\n    burst: 0\n"), `burst: must be greater than zero`},
		{"remark control", item("    remark: \"a\\nb\"\n"), `remark: contains a control character`},
		{"remark long", item("    remark: " + strings.Repeat("x", 201) + "\n"), `remark: longer than 200`},
		{"exempt quota", "ports:\n  - ports: 20-30\n    quota: 1GB\n", `item "20-30": quota: port 22 is exempt`},
		{"exempt bad", "exempt: [0]\n", `exempt: port 0 is outside`},
		{"exempt expires", "ports:\n  - ports: \"22\"\n    expires: 2027-01-01\n", `item "22": expires: port 22 is exempt`},
		{"interface name", "interfaces: [\"eth 0\"]\n", `interfaces: "eth 0" is not an interface name`},
		{"interface long", "interfaces: [abcdefghijklmnopq]\n", `is not an interface name`},
		{"host without quota", "host:\n  billing: sum\n", `item "host": quota: the host block needs a quota`},
		{"host negative quota", "host:\n  quota: -1TB\n", `bad.yaml:2: item "host": quota: invalid size "-1TB"`},
		{"host billing", "host:\n  quota: 1TB\n  billing: x\n", `bad.yaml:3: item "host": billing: unknown billing mode`},
		{"host unknown", "host:\n  quota: 1TB\n  reset: 1\n", `item "host": reset: unknown key (did you mean "reset_day"?)`},
		{"yaml syntax", "ports: [\n", `bad.yaml: `},
		{"tab indent", "ports:\n\t- ports: 1\n", `bad.yaml: `},
		{"non utf8", "ports:\n  - ports: \"1\"\n    remark: \xff\xfe\n", `bad.yaml:3: file is not valid UTF-8`},
		{"null value", "timezone:\n", `timezone: expected a single value, found nothing`},
		{"alias bomb", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n", `unknown key`},
		{"alias bomb in protocols", "x: &a [tcp, tcp, tcp, tcp]\nports:\n  - ports: \"1\"\n    protocols: [*a, *a, *a]\n", `protocols: expected a single value, found a list`},
		{"merge of scalar", "ports:\n  - <<: 5\n    ports: \"1\"\n", `expected a mapping`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "bad.yaml")
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.yaml)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tc.want)
			}
			// One problem, one error: no follow-up errors of the same cause
			// (the alias bombs have several problems).
			if !strings.HasPrefix(tc.name, "alias bomb") && strings.Contains(err.Error(), "\n") {
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
	back.Source, it.Source = "", ""
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

func itoa(n int) string {
	return strings.TrimLeft(strings.Replace(time.Duration(n).String(), "ns", "", 1), " ")
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
