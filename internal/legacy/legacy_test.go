package legacy

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/legacy/legacytest"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

func load(t *testing.T, name string) *Config {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(data, name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return cfg
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

type want struct {
	billing  config.Billing
	halved   bool
	quota    string
	resetDay int
	rate     string
	in, out  uint64
	billable uint64
	blocked  bool
}

func check(t *testing.T, items []Item, wants map[string]want) {
	t.Helper()
	if len(items) != len(wants) {
		t.Fatalf("%d items, want %d: %+v", len(items), len(wants), items)
	}
	for _, it := range items {
		w, ok := wants[it.Ports]
		if !ok {
			t.Errorf("unexpected item %s", it.Ports)
			continue
		}
		rate := ""
		if it.RateOut > 0 {
			rate = it.RateText()
		}
		quota := ""
		if it.Quota > 0 {
			quota = it.QuotaText()
		}
		got := want{it.Billing, it.Halved, quota, it.ResetDay, rate, it.In.Bytes, it.Out.Bytes, it.Billable, it.Blocked}
		if got != w {
			t.Errorf("%s:\n got %+v\nwant %+v", it.Ports, got, w)
		}
		// Ours bills exactly what the script showed.
		if b := it.Billing.Billable(it.In.Bytes, it.Out.Bytes); it.Legacy.Billing != ModeRelay && b != it.Billable {
			t.Errorf("%s: ours bills %d, the script showed %d", it.Ports, b, it.Billable)
		}
	}
}

// TestFixturesFilesOnly maps each version family's config with only the
// files (no live table): what cannot be told is asked, never guessed.
func TestFixturesFilesOnly(t *testing.T) {
	t.Run("1.0 single and double", func(t *testing.T) {
		cfg := load(t, "v1.0-single.json")
		if _, err := Plan(cfg, Source{}, Options{}); !errors.Is(err, ErrAskDoubled) || !strings.Contains(err.Error(), "port 8443") {
			t.Fatalf("double without a live table must be asked: %v", err)
		}
		items, err := Plan(cfg, Source{}, Options{Doubled: no()})
		if err != nil {
			t.Fatal(err)
		}
		check(t, items, map[string]want{
			"443":  {billing: config.BillingOut, quota: "500GiB", resetDay: 15, rate: "100Mbps"},
			"8443": {billing: config.BillingSum},
		})
		if items[0].Quota != 500<<30 {
			t.Errorf("500G is %d bytes, want 500 × 1024³", items[0].Quota)
		}
		if cfg.Telegram != nil || cfg.WeCom {
			t.Errorf("no notifications were configured: %+v %v", cfg.Telegram, cfg.WeCom)
		}
	})
	t.Run("1.2.3 without billing_mode, counters from traffic_data.json", func(t *testing.T) {
		cfg := load(t, "v1.2.3-no-billing-mode.json")
		backup, err := LoadBackup("testdata", cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := backup["22"]; ok {
			t.Error("a backup entry of a port the config does not list was taken")
		}
		_, err = Plan(cfg, Source{Backup: backup}, Options{})
		if !errors.Is(err, ErrAskDoubled) || !strings.Contains(err.Error(), "port 10000-10100: billing_mode is missing") {
			t.Fatalf("a missing billing_mode must be asked: %v", err)
		}
		items, err := Plan(cfg, Source{Backup: backup}, Options{Doubled: no()})
		if err != nil {
			t.Fatal(err)
		}
		check(t, items, map[string]want{
			// missing before 1.2.5: single, out only
			"10000-10100": {billing: config.BillingOut, quota: "2TiB", in: 1000000, out: 3000000, billable: 3000000},
			"8080":        {billing: config.BillingSum, quota: "100MiB", resetDay: 31, rate: "500Kbps", in: 70000000, out: 40000000, billable: 110000000, blocked: true},
		})
		// Answered yes: 1.2.5, where both are double with doubled rules.
		items, err = Plan(cfg, Source{Backup: backup}, Options{Doubled: yes()})
		if err != nil {
			t.Fatal(err)
		}
		check(t, items, map[string]want{
			"10000-10100": {billing: config.BillingRelay, halved: true, quota: "2TiB", in: 500000, out: 1500000, billable: 4000000},
			"8080":        {billing: config.BillingRelay, halved: true, quota: "100MiB", resetDay: 31, rate: "500Kbps", in: 35000000, out: 20000000, billable: 110000000, blocked: true},
		})
		tg := cfg.Telegram
		if tg == nil || tg.ChatID != "-1001234567890" || tg.ServerName != "hk-relay-1" || tg.Interval != "6h" || tg.Token == "" {
			t.Errorf("telegram: %+v", tg)
		}
		if !cfg.WeCom {
			t.Error("the WeCom robot was not noticed")
		}
	})
	t.Run("1.2.4 relay has no equivalent", func(t *testing.T) {
		cfg := load(t, "v1.2.4-relay.json")
		_, err := Plan(cfg, Source{}, Options{})
		if err == nil || !strings.Contains(err.Error(), "--relay-as") || !strings.Contains(err.Error(), "in + 2 × out") {
			t.Fatalf("relay must stop with the choices: %v", err)
		}
		items, err := Plan(cfg, Source{}, Options{RelayAs: config.BillingSum})
		if err != nil {
			t.Fatal(err)
		}
		check(t, items, map[string]want{"2053": {billing: config.BillingSum, quota: "1TiB", resetDay: 1}})
	})
	t.Run("1.2.5", func(t *testing.T) {
		cfg := load(t, "v1.2.5-double.json")
		items, err := Plan(cfg, Source{}, Options{Doubled: yes()})
		if err != nil {
			t.Fatal(err)
		}
		check(t, items, map[string]want{
			"443":       {billing: config.BillingRelay, halved: true, quota: "1GiB", resetDay: 1, rate: "20Mbps"},
			"5000-5100": {billing: config.BillingOut},
			"8080":      {billing: config.BillingRelay, halved: true, quota: "1MiB", resetDay: 20},
			"9100":      {billing: config.BillingRelay, halved: true, quota: "10GiB", resetDay: 5},
		})
	})
}

func TestHistory(t *testing.T) {
	h, err := LoadHistory("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 || h[0].Port != "443" || h[0].Bytes != 2147483648 || !h[0].Time.Equal(time.Unix(1761955500, 0)) {
		t.Fatalf("history: %+v", h)
	}
	cfg := load(t, "v1.2.5-double.json")
	items, err := Plan(cfg, Source{}, Options{Doubled: yes()})
	if err != nil {
		t.Fatal(err)
	}
	rs := History(h, items)
	if len(rs) != 2 || rs[0].ID != "p443" || rs[0].Reason != ReasonLegacy || rs[1].Ports != "8080" {
		t.Errorf("converted history (port 1234 is no longer monitored): %+v", rs)
	}
}

// TestBadInput: every malformed or hostile config is refused with the key
// named.
func TestBadInput(t *testing.T) {
	good, err := os.ReadFile("testdata/v1.2.5-double.json")
	if err != nil {
		t.Fatal(err)
	}
	g := string(good)
	cases := []struct {
		name, data, want string
	}{
		{"not json", "{", "not valid JSON"},
		{"array", "[]", "want a JSON object"},
		{"no ports", `{"global":{}}`, `no "ports" key`},
		{"two values", `{"ports":{}} {}`, "more than one JSON value"},
		{"ports not an object", `{"ports":[]}`, ".ports: is an array, want an object"},
		{"port out of range", `{"ports":{"70000":{}}}`, `.ports["70000"]: is not a port`},
		{"port zero", `{"ports":{"0":{}}}`, `.ports["0"]: is not a port`},
		{"leading zero", `{"ports":{"0443":{}}}`, `.ports["0443"]: is not a port`},
		{"backwards range", `{"ports":{"200-100":{}}}`, `.ports["200-100"]: is not a port`},
		{"overlap", `{"ports":{"100-200":{},"150":{}}}`, `.ports["150"]: overlaps .ports["100-200"]`},
		{"port entry a string", `{"ports":{"443":"x"}}`, `.ports["443"]: is a string, want an object`},
		{"quota a number", strings.Replace(g, `"monthly_limit": "1GB"`, `"monthly_limit": 1073741824`, 1), `.ports["443"].quota.monthly_limit: is a number, want a string`},
		{"decimal size", strings.Replace(g, `"1GB"`, `"1.5GB"`, 1), `.ports["443"].quota.monthly_limit: "1.5GB" is not a size`},
		{"kilobytes", strings.Replace(g, `"1GB"`, `"100KB"`, 1), `"100KB" is not a size`},
		{"huge size", strings.Replace(g, `"1GB"`, `"99999999999TB"`, 1), "too large"},
		{"reset day 32", strings.Replace(g, `"reset_day": 20`, `"reset_day": 32`, 1), `.ports["8080"].quota.reset_day: is a number 32, want a day of the month 1–31`},
		{"reset day string", strings.Replace(g, `"reset_day": 20`, `"reset_day": "20"`, 1), `.ports["8080"].quota.reset_day: is a string`},
		{"enabled a string", strings.Replace(g, `"enabled": true,
        "rate": "20Mbps"`, `"enabled": "yes",
        "rate": "20Mbps"`, 1), `.ports["443"].bandwidth_limit.enabled: is a string "yes", want true or false`},
		{"byte rate", strings.Replace(g, `"20Mbps"`, `"20MB/s"`, 1), `.ports["443"].bandwidth_limit.rate: "20MB/s" is not a rate`},
		{"unknown mode", strings.Replace(g, `"billing_mode": "single"`, `"billing_mode": "triple"`, 1), `.ports["5000-5100"].billing_mode: "triple" is none of the script's modes`},
		{"remark a number", strings.Replace(g, `"remark": "alice"`, `"remark": 5`, 1), `.ports["443"].remark: is a number, want a string`},
		{"remark with a newline", strings.Replace(g, `"remark": "alice"`, `"remark": "ali\nce"`, 1), `.ports["443"].remark: contains a control character`},
		{"megabyte remark", strings.Replace(g, `"remark": "alice"`, `"remark": "`+strings.Repeat("x", 2<<20)+`"`, 1), "larger than 1048576 bytes"},
		{"long remark", strings.Replace(g, `"remark": "alice"`, `"remark": "`+strings.Repeat("y", 5000)+`"`, 1), `.ports["443"].remark: is a string of 5000 bytes`},
		{"unknown key (1.3+)", strings.Replace(g, `"remark": "alice",`, `"remark": "alice", "expire_date": "2026-12-31", "group": "a",`, 1), `.ports["443"]: unknown key "expire_date", "group"`},
		{"unknown top key", strings.Replace(g, `"global": {`, `"vps_total": {}, "global": {`, 1), `unknown key "vps_total"`},
		{"bad table name", strings.Replace(g, `"table_name": "port_traffic_monitor"`, `"table_name": "x; flush ruleset"`, 1), `.nftables.table_name: "x; flush ruleset" is not a table name`},
		{"ip family", strings.Replace(g, `"family": "inet"`, `"family": "ip"`, 1), `.nftables.family: is "ip"`},
		{"token with a newline", strings.Replace(g, `"987654:BB`, `"98 7654:BB`, 1), ".notifications.telegram.bot_token: contains white space"},
		{"bad interval", strings.Replace(g, `"interval": "1h"`, `"interval": "7h"`, 1), `.notifications.telegram.status_notifications.interval: "7h"`},
		{"bad chat id", strings.Replace(g, `"chat_id": "123456789"`, `"chat_id": "abc"`, 1), `.notifications.telegram.chat_id: "abc" is not a Telegram chat id`},
		{"invalid utf-8", "{\"ports\":{\"443\":{\"remark\":\"\xff\"}}}", "not valid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, ConfigName), []byte(c.data), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadConfig(dir)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error does not say %q:\n%v", c.want, err)
			}
			if strings.Contains(err.Error(), "BBsecret") {
				t.Errorf("the error quotes the bot token: %v", err)
			}
		})
	}
}

func TestSymlinksRefused(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte(`{"ports":{}}`), 0o600)
	for _, name := range []string{ConfigName, TrafficDataName, HistoryLogName} {
		os.Remove(filepath.Join(dir, ConfigName))
		if name != ConfigName {
			os.WriteFile(filepath.Join(dir, ConfigName), []byte(`{"ports":{"443":{}}}`), 0o600)
		}
		if err := os.Symlink(secret, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(dir)
		if err == nil {
			if _, err = LoadBackup(dir, cfg); err == nil {
				_, err = LoadHistory(dir)
			}
		}
		if err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("%s as a symlink: %v", name, err)
		}
		os.Remove(filepath.Join(dir, name))
	}
	os.Remove(filepath.Join(dir, ConfigName))
	if _, err := LoadConfig(dir); !errors.Is(err, ErrNoConfig) {
		t.Errorf("an empty dir: %v", err)
	}
}

func TestBadBackupAndHistory(t *testing.T) {
	cfg := load(t, "v1.2.5-double.json")
	for _, c := range []struct{ name, file, data, want string }{
		{"negative counter", TrafficDataName, `{"443":{"input":-5,"output":1}}`, `["443"].input: is a number -5, want a byte count`},
		{"counter a string", TrafficDataName, `{"443":{"input":"5","output":1}}`, `["443"].input: is a string`},
		{"unknown field", TrafficDataName, `{"443":{"input":5,"evil":1}}`, `unknown key "evil"`},
		{"short history line", HistoryLogName, "1763000000|443\n", "line 1: has 2 fields"},
		{"history port", HistoryLogName, "1763000000|443|5\n1763000000|99999|5\n", `line 2: names port "99999"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, c.file), []byte(c.data), 0o600)
			_, err := LoadBackup(dir, cfg)
			if err == nil {
				_, err = LoadHistory(dir)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error does not say %q: %v", c.want, err)
			}
		})
	}
}

func TestSizes(t *testing.T) {
	for in, want := range map[string]uint64{"500GB": 500 << 30, "500gb": 500 << 30, "2T": 2 << 40, "100M": 100 << 20, "1tb": 1 << 40} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("%s: %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0GB", "1.5G", "5", "5KB", "GB", "-1G", "9223372036854775807M"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSplitCron(t *testing.T) {
	cron := `PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
0 3 * * * /usr/bin/backup.sh
5 0 1 * * /root/port-traffic-dog.sh --reset-port 443 >/dev/null 2>&1  # 端口流量狗自动重置端口443
0 * * * * /root/port-traffic-dog.sh --send-telegram-status >/dev/null 2>&1  # 端口流量狗Telegram通知
0 0 15 * * /usr/local/bin/port-traffic-dog.sh --reset-port 8443 >/dev/null 2>&1  # 端口流量犬自动重置端口8443
@reboot /usr/local/bin/port-traffic-dog.sh --check-deps
# a comment about port-traffic-dog
0 1 * * * find /etc/port-traffic-dog/snapshots -mtime +30 -delete  # 每日1点清理过期快照
0 4 * * * /usr/local/bin/dog export -o /var/lib/port-traffic-dog/backup.tar.gz
30 4 * * * cp /etc/port-traffic-dog/config.yaml /root/config.yaml.bak
`
	keep, old := SplitCron(cron)
	// The new tool's own jobs (its dirs are named port-traffic-dog too) stay.
	if got := strings.Join(keep, ""); got != "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n0 3 * * * /usr/bin/backup.sh\n# a comment about port-traffic-dog\n"+
		"0 4 * * * /usr/local/bin/dog export -o /var/lib/port-traffic-dog/backup.tar.gz\n30 4 * * * cp /etc/port-traffic-dog/config.yaml /root/config.yaml.bak\n" {
		t.Errorf("kept:\n%s", got)
	}
	if len(old) != 5 {
		t.Errorf("removed %d lines: %q", len(old), old)
	}
}

func TestIsScript(t *testing.T) {
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "dog")
	os.WriteFile(wrapper, []byte("#!/bin/bash\nexec bash \"/root/port-traffic-dog.sh\" \"$@\"\n"), 0o755)
	link := filepath.Join(dir, "dog-link")
	os.Symlink("/usr/local/bin/port-traffic-dog.sh", link)
	ours := filepath.Join(dir, "ours")
	os.WriteFile(ours, []byte("\x7fELF port-traffic-dog/cli"), 0o755)
	other := filepath.Join(dir, "other")
	os.WriteFile(other, []byte("#!/bin/sh\necho woof\n"), 0o755)
	renamed := filepath.Join(dir, "traffic.sh")
	os.WriteFile(renamed, []byte("#!/bin/bash\nreadonly SCRIPT_NAME=\"端口流量狗\"\n"), 0o755)
	wrapsRenamed := filepath.Join(dir, "dog2")
	os.WriteFile(wrapsRenamed, []byte("#!/bin/bash\nexec bash \""+renamed+"\" \"$@\"\n"), 0o755)
	wrapsOther := filepath.Join(dir, "dog3")
	os.WriteFile(wrapsOther, []byte("#!/bin/bash\nexec bash \""+other+"\" \"$@\"\n"), 0o755)
	for path, want := range map[string]bool{wrapper: true, link: true, ours: false, other: false, filepath.Join(dir, "none"): false,
		wrapsRenamed: true, wrapsOther: false} {
		if got, err := IsScript(path); err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", filepath.Base(path), got, err, want)
		}
	}
}

// TestLiveDoubling reads tables built in a namespace exactly as each
// version builds them and tells doubled rules from single ones.
func TestLiveDoubling(t *testing.T) {
	testutil.RequireBinary(t, "nft")
	ns := testnet.NewNS(t, "legacy")
	ports := []legacytest.Port{
		{Key: "443", Version: "1.2.5", Mode: "double", InBytes: 2000, InPackets: 20, OutBytes: 6000, OutPackets: 40, Quota: 1 << 30, QuotaUsed: 8000},
		{Key: "5000-5100", Version: "1.2.5", Mode: "single", OutBytes: 700, OutPackets: 7},
		{Key: "8080", Version: "1.2.4", Mode: "double", InBytes: 100, OutBytes: 300, Quota: 1 << 20, QuotaUsed: 1 << 20},
		{Key: "9000", Version: "1.0", Mode: "single", InBytes: 10, OutBytes: 30},
		{Key: "2053", Version: "1.2.4", Mode: "relay", InBytes: 10, OutBytes: 30, Quota: 1 << 40},
		{Key: "2096", Version: "1.2.4.3", Mode: "relay", InBytes: 10, OutBytes: 30, Quota: 1 << 40},
		{Key: "7000", Version: "1.2.4"}, // billing_mode missing in a 1.2.4 config: single
	}
	file := filepath.Join(t.TempDir(), "legacy.nft")
	os.WriteFile(file, []byte(legacytest.Table(DefaultTable, ports)), 0o600)
	ns.Run(t, "nft", "-f", file)

	tab, err := ReadTable(ns.Fd(), DefaultTable)
	if err != nil {
		t.Fatal(err)
	}
	for counter, want := range map[string]int{"port_443_in": 2, "port_443_out": 2, "port_5000_5100_out": 1, "port_5000_5100_in": 0,
		"port_8080_in": 1, "port_9000_out": 1, "port_2053_out": 1} {
		if got, err := tab.Doubling(counter); err != nil || got != want {
			t.Errorf("%s: doubling %d %v, want %d (refs %v)", counter, got, err, want, tab.Refs[counter])
		}
	}
	cfg, err := ParseConfig([]byte(`{"ports":{
		"443":{"billing_mode":"double","quota":{"enabled":true,"monthly_limit":"1G","reset_day":1}},
		"5000-5100":{"billing_mode":"single"},
		"8080":{"billing_mode":"double","quota":{"enabled":true,"monthly_limit":"1M","reset_day":1}},
		"9000":{"billing_mode":"single"},
		"2053":{"billing_mode":"relay","quota":{"enabled":true,"monthly_limit":"1T","reset_day":1}},
		"2096":{"billing_mode":"relay","quota":{"enabled":true,"monthly_limit":"1T","reset_day":1}},
		"7000":{}}}`), "config.json")
	if err != nil {
		t.Fatal(err)
	}
	// 1.2.4's relay (in + 2 × out) must be chosen; 1.2.4.3's is ours.
	if _, err := Plan(cfg, Source{Table: tab}, Options{}); err == nil || !strings.Contains(err.Error(), "port 2053: billing_mode relay bills in + 2 × out (1.2.4)") || strings.Contains(err.Error(), "2096") {
		t.Errorf("relay without --relay-as: %v", err)
	}
	items, err := Plan(cfg, Source{Table: tab}, Options{RelayAs: config.BillingRelay})
	if err != nil {
		t.Fatal(err)
	}
	check(t, items, map[string]want{
		"443":       {billing: config.BillingRelay, halved: true, quota: "1GiB", resetDay: 1, in: 1000, out: 3000, billable: 8000},
		"5000-5100": {billing: config.BillingOut, out: 700, billable: 700},
		"8080":      {billing: config.BillingSum, quota: "1MiB", resetDay: 1, in: 100, out: 300, billable: 400, blocked: true},
		"9000":      {billing: config.BillingOut, in: 10, out: 30, billable: 30},
		"2053":      {billing: config.BillingRelay, quota: "1TiB", resetDay: 1, in: 10, out: 30, billable: 70},
		"2096":      {billing: config.BillingRelay, quota: "1TiB", resetDay: 1, in: 10, out: 30, billable: 80},
		"7000":      {billing: config.BillingOut},
	})
	if items[0].In.Packets != 10 || items[0].Out.Packets != 20 {
		t.Errorf("packets not halved: %+v %+v", items[0].In, items[0].Out)
	}

	// Rules of a shape no version builds: asked, and --doubled answers.
	ns.Run(t, "nft", "add", "rule", "inet", DefaultTable, "input", "tcp", "dport", "9000", "counter", "name", "port_9000_in")
	if tab, err = ReadTable(ns.Fd(), DefaultTable); err != nil {
		t.Fatal(err)
	}
	if _, err := Plan(cfg, Source{Table: tab}, Options{RelayAs: config.BillingRelay}); err == nil || !strings.Contains(err.Error(), "port 9000: ") || !strings.Contains(err.Error(), "pass --doubled") {
		t.Errorf("an odd rule shape: %v", err)
	}
	if _, err := Plan(cfg, Source{Table: tab}, Options{RelayAs: config.BillingRelay, Doubled: no()}); err != nil {
		t.Errorf("--doubled no does not answer an odd shape: %v", err)
	}

	if err := DeleteTable(ns.Fd(), DefaultTable); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTable(ns.Fd(), DefaultTable); !errors.Is(err, ErrNoTable) {
		t.Errorf("after delete: %v", err)
	}
}

// TestBackupAndRetire: the backup is a private tar.gz of the directory's
// plain files, outside it; the retired config is private too.
func TestBackupAndRetire(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "port-traffic-dog")
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	os.WriteFile(filepath.Join(dir, ConfigName), []byte(`{"ports":{}}`), 0o644)
	os.WriteFile(filepath.Join(dir, "logs", "traffic.log"), []byte("x\n"), 0o644)
	os.Symlink("/etc/shadow", filepath.Join(dir, "evil"))
	now := time.Date(2026, 11, 15, 2, 0, 0, 0, time.UTC)
	path, err := BackupDir(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(path) != parent || !strings.HasSuffix(path, ".legacy-backup-20261115T020000Z.tar.gz") {
		t.Errorf("backup at %s", path)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup mode: %v %v", fi, err)
	}
	out, err := exec.Command("tar", "-tzf", path).CombinedOutput()
	if err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	if got := strings.Fields(string(out)); len(got) != 2 || !strings.Contains(string(out), "port-traffic-dog/config.json") || strings.Contains(string(out), "evil") {
		t.Errorf("backup holds %q", got)
	}
	if _, err := BackupDir(dir, now); err == nil {
		t.Error("a second backup overwrote the first")
	}
	retired, err := RetireConfig(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(retired); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("retired config: %v %v", fi, err)
	}
	if got := Retired(dir); len(got) != 1 || got[0] != retired {
		t.Errorf("Retired: %v", got)
	}
}

// TestDescribeOverQuota: a port whose use (from its counters) is over its
// quota while the script's quota object had not run out is blocked by the
// import; the report says so, as it does for a port the script blocked.
func TestDescribeOverQuota(t *testing.T) {
	it := Item{Ports: "443", Quota: 1 << 30, Billable: 8_000_000_000, Billing: config.BillingRelay}
	if d := strings.Join(it.Describe(), "\n"); !it.OverQuota() || !strings.Contains(d, "blocked:  from the migration on: the use is over the quota") {
		t.Errorf("over its quota, not depleted in the script:\n%s", d)
	}
	it.Billable = 1 << 29
	if d := strings.Join(it.Describe(), "\n"); it.OverQuota() || strings.Contains(d, "blocked:") {
		t.Errorf("under its quota:\n%s", d)
	}
}
