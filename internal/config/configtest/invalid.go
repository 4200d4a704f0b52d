// Package configtest is the corpus of invalid configurations: every
// field's wrong type, range and format, YAML anchor and alias bombs,
// documents that nest too deep, huge and non-UTF-8 files, duplicate keys.
// The config package checks that each yields its specific message; the
// enforcer checks that each leaves the kernel untouched. It imports
// nothing of the product, so both can use it.
package configtest

import "strings"

// Case is one invalid configuration file and a part of the message it must
// be refused with.
type Case struct {
	Name, YAML, Want string
	// Several: the file has more than one problem, each reported.
	Several bool
}

// HugeSize is one byte over config.MaxFileSize (config's tests check the
// two stay in step).
const HugeSize = 32<<20 + 1

func item(body string) string { return "ports:\n  - ports: \"443\"\n" + body }

// laughs is the "billion laughs" alias bomb: nine levels of nine aliases,
// 387,420,489 strings once expanded. The parser never expands it.
func laughs(tail string) string {
	s := "x:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	prev := "a"
	for _, l := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		s += "  " + l + ": &" + l + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+", ", 9), ", ") + "]\n"
		prev = l
	}
	return s + tail
}

// Invalid returns the corpus.
func Invalid() []Case {
	return []Case{
		{"unknown top key", "state_dri: /x\n", `bad.yaml:1: state_dri: unknown key (did you mean "state_dir"?)`, false},
		{"unknown item key", item("    qouta: 1GB\n"), `bad.yaml:3: item "443": qouta: unknown key (did you mean "quota"?)`, false},
		{"unknown far key", "zzzzzz: 1\n", `zzzzzz: unknown key (known keys: state_dir`, false},
		{"port zero", "ports:\n  - ports: \"0\"\n", `bad.yaml:2: item "0": ports: port 0 is outside 1-65535`, false},
		{"port too big", "ports:\n  - ports: \"70000\"\n", `outside 1-65535`, false},
		{"reversed", "ports:\n  - ports: 200-100\n", `bad.yaml:2: item "200-100": ports: range "200-100" is reversed`, false},
		{"not a port", "ports:\n  - ports: https\n", `"https" is not a port number`, false},
		{"empty ports", "ports:\n  - ports: \"\"\n", `empty ports spec`, false},
		{"missing ports", "ports:\n  - remark: x\n", `bad.yaml:2: ports: every item needs`, false},
		{"overlap", "ports:\n  - ports: 100-200\n  - ports: \"150\"\n", `bad.yaml:3: item "150": ports: overlaps item "100-200" (bad.yaml:2) on port 150`, false},
		{"overlap group", "ports:\n  - ports: \"80,443\"\n  - ports: 400-500\n", `overlaps item "80,443"`, false},
		{"duplicate", "ports:\n  - ports: \"443\"\n  - ports: \"443\"\n", `bad.yaml:3: item "443": ports: duplicate item: "443" is already defined at bad.yaml:2`, false},
		{"duplicate reordered group", "ports:\n  - ports: \"1,2\"\n  - ports: \"2,1\"\n", `duplicate item`, false},
		{"overlap inside group", "ports:\n  - ports: \"80,80\"\n", `overlap`, false},
		{"bad duration", "checkpoint_interval: soon\n", `bad.yaml:1: checkpoint_interval: "soon" is not a duration`, false},
		{"duration too small", "checkpoint_interval: 1ms\n", `outside 1s-1h`, false},
		{"duration too large", "checkpoint_interval: 2h\n", `outside 1s-1h`, false},
		{"bad timezone", "timezone: Mars/Olympus\n", `bad.yaml:1: timezone: unknown time zone "Mars/Olympus"`, false},
		{"relative state dir", "state_dir: var/lib\n", `state_dir: "var/lib" must be an absolute path`, false},
		{"relative socket", "admin_socket: x.sock\n", `admin_socket: "x.sock" must be an absolute path`, false},
		{"bool type", "count_loopback: maybe\n", `count_loopback: expected true or false, found "maybe"`, false},
		{"state_dir list", "state_dir: [a]\n", `state_dir: expected a single value, found a list`, false},
		{"ports not list", "ports: 443\n", `ports: expected a list, found "443"`, false},
		{"item not mapping", "ports:\n  - 443\n", `expected a mapping`, false},
		{"top not mapping", "- a\n", `expected a mapping`, false},
		{"duplicate key", "timezone: UTC\ntimezone: UTC\n", `bad.yaml:2: timezone: duplicate key (first set at line 1)`, false},
		{"duplicate item key", item("    remark: a\n    remark: b\n"), `item "443": remark: duplicate key`, false},
		{"protocol", item("    protocols: [tcp, sctp]\n"), `bad.yaml:3: item "443": protocols: unknown protocol "sctp"`, false},
		{"protocol twice", item("    protocols: [tcp, tcp]\n"), `tcp is listed twice`, false},
		{"protocols empty", item("    protocols: []\n"), `protocols: empty`, false},
		{"quota unit", item("    quota: 5XB\n"), `bad.yaml:3: item "443": quota: invalid size "5XB": unknown unit "XB"`, false},
		{"quota negative", item("    quota: -5GB\n"), `quota: invalid size "-5GB"`, false},
		{"quota zero", item("    quota: 0\n"), `quota: must be greater than zero`, false},
		{"quota ambiguous", item("    quota: 5G\n"), `ambiguous`, false},
		{"quota list", item("    quota: [1]\n"), `quota: expected a single value, found a list`, false},
		{"billing", item("    billing: both\n"), `billing: unknown billing mode "both"`, false},
		{"reset day 32", item("    reset_day: 32\n"), `reset_day: "32" is not a day of the month`, false},
		{"reset day negative", item("    reset_day: -1\n"), `reset_day: "-1" is not a day`, false},
		{"reset day text", item("    reset_day: first\n"), `reset_day: "first" is not a day`, false},
		{"expires", item("    expires: next year\n"), `bad.yaml:3: item "443": expires: "next year" is not a date`, false},
		{"expires bad day", item("    expires: 2026-02-30\n"), `expires: "2026-02-30" is not a date`, false},
		{"rate unit", item("    rate: 100MB/s\n"), `rate: invalid rate "100MB/s": rates are in bits per second`, false},
		{"rate zero", item("    rate: 0Mbps\n"), `must be greater than zero`, false},
		{"rate negative", item("    rate_in: -5Mbps\n"), `rate_in: invalid rate "-5Mbps"`, false},
		{"rate no unit", item("    rate_out: 100\n"), `rate_out: invalid rate "100": missing unit`, false},
		{"burst without rate", item("    burst: 64KB\n"), `burst: burst needs a rate`, false},
		{"burst zero", item("    rate: 1Mbps\n    burst: 0\n"), `burst: must be greater than zero`, false},
		{"remark control", item("    remark: \"a\\nb\"\n"), `remark: contains a control character`, false},
		{"remark long", item("    remark: " + strings.Repeat("x", 201) + "\n"), `remark: longer than 200`, false},
		{"exempt quota", "ports:\n  - ports: 20-30\n    quota: 1GB\n", `item "20-30": quota: port 22 is exempt`, false},
		{"exempt bad", "exempt: [0]\n", `exempt: port 0 is outside`, false},
		{"exempt expires", "ports:\n  - ports: \"22\"\n    expires: 2027-01-01\n", `item "22": expires: port 22 is exempt`, false},
		{"interface name", "interfaces: [\"eth 0\"]\n", `interfaces: "eth 0" is not an interface name`, false},
		{"interface long", "interfaces: [abcdefghijklmnopq]\n", `is not an interface name`, false},
		{"host without quota", "host:\n  billing: sum\n", `item "host": quota: the host block needs a quota`, false},
		{"host negative quota", "host:\n  quota: -1TB\n", `bad.yaml:2: item "host": quota: invalid size "-1TB"`, false},
		{"host billing", "host:\n  quota: 1TB\n  billing: x\n", `bad.yaml:3: item "host": billing: unknown billing mode`, false},
		{"host unknown", "host:\n  quota: 1TB\n  reset: 1\n", `item "host": reset: unknown key (did you mean "reset_day"?)`, false},
		{"yaml syntax", "ports: [\n", `bad.yaml: `, false},
		{"tab indent", "ports:\n\t- ports: 1\n", `bad.yaml: `, false},
		{"non utf8", "ports:\n  - ports: \"1\"\n    remark: \xff\xfe\n", `bad.yaml:3: file is not valid UTF-8`, false},
		{"null value", "timezone:\n", `timezone: expected a single value, found nothing`, false},
		{"alias bomb", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n", `unknown key`, true},
		{"alias bomb in protocols", "x: &a [tcp, tcp, tcp, tcp]\nports:\n  - ports: \"1\"\n    protocols: [*a, *a, *a]\n", `protocols: expected a single value, found a list`, true},
		{"merge of scalar", "ports:\n  - <<: 5\n    ports: \"1\"\n", `expected a mapping`, false},
		// Wrong types of every kind of field.
		{"exempt mapping", "exempt: {a: 1}\n", `bad.yaml:1: exempt: expected a list, found a mapping`, false},
		{"interfaces scalar", "interfaces: eth0\n", `bad.yaml:1: interfaces: expected a list, found "eth0"`, false},
		{"host list", "host: [1]\n", `bad.yaml:1: item "host": host: expected a mapping (key: value lines), found a list`, false},
		{"ports mapping", "ports: {a: 1}\n", `bad.yaml:1: ports: expected a list, found a mapping`, false},
		{"protocols mapping", item("    protocols: {tcp: 1}\n"), `bad.yaml:3: item "443": protocols: expected a single value, found a mapping`, false},
		{"remark list", item("    remark: [a]\n"), `bad.yaml:3: item "443": remark: expected a single value, found a list`, false},
		{"rate_in list", item("    rate_in: [1Mbps]\n"), `bad.yaml:3: item "443": rate_in: expected a single value, found a list`, false},
		{"quota bool", item("    quota: true\n"), `bad.yaml:3: item "443": quota: invalid size "true": no number`, false},
		{"reset day float", item("    reset_day: 1.5\n"), `item "443": reset_day: "1.5" is not a day of the month`, false},
		{"expires number", item("    expires: 20261231\n"), `item "443": expires: "20261231" is not a date (want YYYY-MM-DD)`, false},
		{"count_loopback number", "count_loopback: 1\n", `count_loopback: expected true or false, found "1"`, false},
		{"count_forwarded value", "count_forwarded: sometimes\n", `bad.yaml:1: count_forwarded: "sometimes" is not auto, true or false`, false},
		{"count_forwarded list", "count_forwarded: [auto]\n", `bad.yaml:1: count_forwarded: expected a single value, found a list`, false},
		{"ports float", "ports:\n  - ports: 1.5\n", `bad.yaml:2: item "1.5": ports: "1.5" is not a port number`, false},
		{"item null", "ports:\n  - \n", `bad.yaml:2: ports: expected a mapping (key: value lines), found nothing`, false},
		{"top scalar", "hello\n", `bad.yaml:1: expected a mapping (key: value lines), found "hello"`, false},
		{"binary tag", "ports: !!binary AAAA\n", `bad.yaml:1: ports: expected a list, found "AAAA"`, false},
		{"admin_group list", "admin_group: [a]\n", `bad.yaml:1: admin_group: expected a single value, found a list`, false},
		// Ranges and formats.
		{"quota overflow", item("    quota: 99999999999999999999PiB\n"), `quota: invalid size "99999999999999999999PiB": too large`, false},
		{"rate exponent", item("    rate: 1e30Tbps\n"), `rate: invalid rate "1e30Tbps"`, false},
		{"expires year", item("    expires: 99999-01-01\n"), `expires: "99999-01-01" is not a date`, false},
		{"host reset day", "host:\n  quota: 1TB\n  reset_day: 40\n", `bad.yaml:3: item "host": reset_day: "40" is not a day of the month`, false},
		{"negative interval", "checkpoint_interval: -1s\n", `checkpoint_interval: -1s is outside 1s-1h`, false},
		{"empty group member", "ports:\n  - ports: \"80,,81\"\n", `ports spec "80,,81" has an empty member`, false},
		{"exempt overlap", "exempt: [22, 20-30]\n", `exempt: ports spec "22,20-30" lists 20-30 and 22, which overlap`, false},
		{"timezone path", "timezone: ../../etc/passwd\n", `timezone: unknown time zone "../../etc/passwd"`, false},
		{"admin_group name", "admin_group: \"a b\"\n", `bad.yaml:1: admin_group: "a b" is not a group name or gid`, false},
		{"admin_socket too long", "admin_socket: /" + strings.Repeat("s", 120) + "\n", `admin_socket: "/sss`, false},
		{"state_dir control", "state_dir: \"/var/\\0lib\"\n", `state_dir: "/var/\x00lib" contains a control character`, false},
		{"remark bidi override", item("    remark: \"alice\\u202E 0001\"\n"), `remark: contains a bidirectional control character (U+202E)`, false},
		{"remark long CJK", item("    remark: " + strings.Repeat("阿", 201) + "\n"), `remark: longer than 200 characters`, false},
		// Duplicate keys at every level.
		{"duplicate host key", "host:\n  quota: 1TB\n  quota: 2TB\n", `bad.yaml:3: item "host": quota: duplicate key (first set at line 2)`, false},
		{"duplicate ports key", "ports: []\nports: []\n", `bad.yaml:2: ports: duplicate key (first set at line 1)`, false},
		// YAML structure: bombs, depth, documents, anchors, encodings, size.
		{"billion laughs", laughs(""), `x: unknown key`, false},
		{"billion laughs as ports", laughs("ports: *i\n"), `ports: expected a mapping`, true},
		{"billion laughs as exempt", laughs("exempt: *i\n"), `exempt: expected a single value, found a list`, true},
		{"billion laughs merged", laughs("ports:\n  - <<: *i\n    ports: \"1\"\n"), `expected a mapping`, true},
		{"deep nesting", "ports: " + strings.Repeat("[", 20000) + "\n", `bad.yaml: exceeded max depth of 10000`, false},
		{"unknown anchor", "ports: *x\n", `bad.yaml: unknown anchor 'x' referenced`, false},
		{"two documents", "ports: []\n---\nports:\n  - ports: \"443\"\n", `bad.yaml:3: a second YAML document starts here`, false},
		{"UTF-16", "\xff\xfep\x00o\x00r\x00t\x00s\x00:\x00 \x00[\x00]\x00\n\x00", `bad.yaml:1: file is not valid UTF-8`, false},
		{"NUL byte", "ports: []\x00\n", `bad.yaml: control characters are not allowed`, false},
		{"non UTF-8 key", "\xffkey: 1\n", `bad.yaml:1: file is not valid UTF-8`, false},
		{"huge file", "ports:\n" + strings.Repeat("#", HugeSize), `larger than the 32 MiB limit`, false},
	}
}
