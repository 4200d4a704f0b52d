package cli

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/legacy"
	"port-traffic-dog/internal/legacy/legacytest"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testprom"
	"port-traffic-dog/internal/testutil"
)

const legacyToken = "987654:BBsecretTOKENsecretTOKENsecretTOK" // in testdata/v1.2.5-double.json

const legacyCron = `PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
0 3 * * * /usr/bin/backup.sh
5 0 1 * * /root/port-traffic-dog.sh --reset-port 443 >/dev/null 2>&1  # 端口流量狗自动重置端口443
5 0 20 * * /root/port-traffic-dog.sh --reset-port 8080 >/dev/null 2>&1  # 端口流量狗自动重置端口8080
5 0 5 * * /root/port-traffic-dog.sh --reset-port 9100 >/dev/null 2>&1  # 端口流量狗自动重置端口9100
0 * * * * /root/port-traffic-dog.sh --send-telegram-status >/dev/null 2>&1  # 端口流量狗Telegram通知
`

// legacySetup is a host running port-traffic-dog.sh 1.2.5, upgraded from
// 1.2.4 (port 9100 still has the old undoubled rules), next to our
// enforcer, which already has an item of its own.
type legacySetup struct {
	*host
	from, cron, shortcut string
	// etc holds Prometheus' and Alertmanager's configs (none unless the
	// test writes them: then Prometheus counts as not installed).
	etc string
}

const oursAlready = "timezone: Asia/Shanghai\nports:\n  - ports: \"9000\"\n    remark: ours already\n"

func newLegacySetup(t *testing.T, ours string) *legacySetup {
	testutil.RequireBinary(t, "nft", "tc")
	h := newHost(t, ours)
	s := &legacySetup{host: h, from: filepath.Join(h.dir, "port-traffic-dog"), cron: filepath.Join(h.dir, "spool", "root"), shortcut: filepath.Join(h.dir, "dog"), etc: filepath.Join(h.dir, "etc")}
	if err := os.MkdirAll(s.from, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile("../internal/legacy/testdata/v1.2.5-double.json")
	if err != nil {
		t.Fatal(err)
	}
	// 443 was reset on 3 November (in this period), port 1234 was removed.
	files := map[string]string{
		legacy.ConfigName:      string(cfg),
		legacy.HistoryLogName:  "1793635500|443|2147483648\n1700000000|1234|5\n",
		legacy.TrafficDataName: `{"443":{"input":1,"output":1,"backup_time":"2026-11-01T00:00:00+08:00"}}`,
	}
	for name, data := range files {
		// As the script writes them: 0644, the bot token included.
		if err := os.WriteFile(filepath.Join(s.from, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Dir(s.cron), 0o700)
	os.WriteFile(s.cron, []byte(legacyCron), 0o600)
	os.WriteFile(s.shortcut, []byte("#!/bin/bash\nexec bash \"/root/port-traffic-dog.sh\" \"$@\"\n"), 0o755)

	ports := []legacytest.Port{
		{Key: "443", Version: "1.2.5", Mode: "double", InBytes: 2_000_000, InPackets: 2000, OutBytes: 6_000_000, OutPackets: 4000, Quota: 1 << 30, QuotaUsed: 8_000_000},
		{Key: "5000-5100", Version: "1.2.5", Mode: "single", OutBytes: 700_000, OutPackets: 700},
		// billing_mode missing in 1.2.5: double; used up its 1M quota.
		{Key: "8080", Version: "1.2.5", Mode: "double", InBytes: 600_000, InPackets: 600, OutBytes: 448_576, OutPackets: 400, Quota: 1 << 20, QuotaUsed: 1 << 20},
		{Key: "9100", Version: "1.2.4", Mode: "double", InBytes: 1000, InPackets: 10, OutBytes: 3000, OutPackets: 20, Quota: 10 << 30, QuotaUsed: 4000},
	}
	nft := filepath.Join(h.dir, "legacy.nft")
	os.WriteFile(nft, []byte(legacytest.Table(legacy.DefaultTable, ports)), 0o600)
	h.pair.Server.Run(t, "nft", "-f", nft)
	// The script shapes the default route's interface.
	h.pair.Server.Run(t, "ip", "route", "add", "default", "via", testnet.ClientIP4.String(), "dev", testnet.Dev)
	for _, cmd := range legacytest.TC(testnet.Dev, 443, "20mbit") {
		h.pair.Server.Run(t, cmd...)
	}
	return s
}

func (s *legacySetup) importLegacy(args ...string) (string, string, int) {
	return s.dog(Env{}, append([]string{"import-legacy", "--from", s.from, "--crontab", s.cron, "--shortcut", s.shortcut,
		"--prometheus-config", filepath.Join(s.etc, "prometheus.yml"), "--alertmanager-config", filepath.Join(s.etc, "alertmanager.yml")}, args...)...)
}

// TestImportLegacy migrates a live script installation end to end: every
// setting and counter carried (halved where the script doubled them), the
// script's table, qdisc, cron lines and shortcut gone, ours counting
// byte-exact, the used-up port still blocked, and a second run has nothing
// to do.
func TestImportLegacy(t *testing.T) {
	s := newLegacySetup(t, oursAlready)
	s.start()
	before := s.readConfig()

	out, errOut, code := s.importLegacy("--dry-run")
	if code != 0 {
		t.Fatalf("dry run: %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"its table inet port_traffic_monitor is live here",
		"billing:  double, every rule twice (1.2.5): (in + out) × 2 → relay",
		"counters: in 2000000, out 6000000 bytes → in 1000000, out 3000000 (halved",
		"quota:    1GB = 1073741824 bytes → quota: 1GiB",
		"rate:     20Mbps → rate_out: 20Mbps",
		"billing:  double, rules once (1.0–1.2.4): in + out → sum",
		"billing:  missing, so double in 1.2.5, every rule twice: (in + out) × 2 → relay",
		"blocked:  yes",
		"billing:  single (out only) → out",
		"the HTB root 1: on veth0 (1 class, 4 filters)",
		"5 0 20 * * /root/port-traffic-dog.sh --reset-port 8080",
		"telegram: chat 123456789",
		"prometheus.yml does not exist: install the package prometheus",
		"the dog notify telegram command is printed",
		"dry run: nothing changed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, legacyToken) {
		t.Error("the report shows the bot token")
	}
	// In Chinese, the script's billing modes too.
	out, errOut, code = s.importLegacy("--dry-run", "--lang", "zh")
	for _, want := range []string{
		"计费：    double，每条规则计两次（1.2.5）：(入 + 出) × 2 → relay",
		"计费：    double，每条规则计一次（1.0–1.2.4）：入 + 出 → sum",
		"计费：    single（只计出站） → out",
		"试运行：未做任何修改",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("the Chinese report (exit %d) does not say %q:\n%s%s", code, want, out, errOut)
		}
	}
	if _, _, code := s.importLegacy(); code == 0 {
		t.Error("without a terminal and without --yes it migrated")
	}
	if s.readConfig() != before {
		t.Fatal("the dry run or the unconfirmed run changed the config")
	}
	if _, err := legacy.ReadTable(s.pair.Server.Fd(), legacy.DefaultTable); err != nil {
		t.Fatalf("the legacy table is gone before the migration: %v", err)
	}

	// The script's rules count real traffic until the migration: 9100's
	// (1.2.4, once) take 10 datagrams of 100 bytes answered with 50.
	s.udp(9100, 10, 100, 50)
	out, errOut, code = s.importLegacy("--yes")
	if code != 0 {
		t.Fatalf("import-legacy: %d\n%s%s", code, out, errOut)
	}
	t.Logf("%s", out)
	if strings.Contains(out+errOut, legacyToken) {
		t.Error("the output shows the bot token")
	}

	// Settings.
	cfg, err := config.Load(s.config)
	if err != nil {
		t.Fatal(err)
	}
	type setting struct {
		remark   string
		billing  config.Billing
		quota    uint64
		resetDay int
		rateOut  uint64
	}
	wantCfg := map[string]setting{
		"9000":      {remark: "ours already", billing: config.BillingSum, resetDay: 1},
		"443":       {"alice", config.BillingRelay, 1 << 30, 1, 20_000_000},
		"5000-5100": {"bob", config.BillingOut, 0, 0, 0},
		"8080":      {"carol 用完了", config.BillingRelay, 1 << 20, 20, 0},
		"9100":      {"added before the 1.2.5 upgrade", config.BillingSum, 10 << 30, 5, 0},
	}
	if len(cfg.Items) != len(wantCfg) {
		t.Errorf("%d items:\n%s", len(cfg.Items), s.readConfig())
	}
	for _, it := range cfg.Items {
		got := setting{it.Remark, it.Billing, it.Quota, it.ResetDay, it.RateOut}
		if got != wantCfg[it.Ports] {
			t.Errorf("%s: %+v, want %+v", it.Ports, got, wantCfg[it.Ports])
		}
	}

	// Counters, exactly (halved where doubled).
	counters := s.counters()
	for name, want := range map[string]state.Counter{
		"p443_in": {Bytes: 1_000_000, Packets: 1000}, "p443_out": {Bytes: 3_000_000, Packets: 2000},
		"p5000-5100_in": {}, "p5000-5100_out": {Bytes: 700_000, Packets: 700},
		"p8080_in": {Bytes: 300_000, Packets: 300}, "p8080_out": {Bytes: 224_288, Packets: 200},
		"p9100_in": {Bytes: 1000 + 10*128, Packets: 10 + 10}, "p9100_out": {Bytes: 3000 + 10*78, Packets: 20 + 10},
	} {
		if got := counters[name]; got != want {
			t.Errorf("counter %s: %+v, want %+v", name, got, want)
		}
	}
	st, err := adminapi.NewClient(s.sock).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byPorts := map[string]adminapi.Item{}
	for _, it := range st.Items {
		byPorts[it.Ports] = it
	}
	if it := byPorts["443"]; it.Billable != 8_000_000 || !it.PeriodStart.Equal(time.Unix(1793635500, 0)) {
		t.Errorf("443: billable %d (the script showed 8000000), period from %s (its last reset)", it.Billable, it.PeriodStart)
	}
	if it := byPorts["8080"]; it.Blocked != "quota" || it.Billable != 1_048_576 {
		t.Errorf("8080 was blocked by the script's quota: %+v", it)
	}
	if it := byPorts["9100"]; it.Billable != 4000+10*128+10*78 {
		t.Errorf("9100: billable %d, want %d", it.Billable, 4000+10*128+10*78)
	}

	// The script's setup is gone, ours is in place.
	if _, err := legacy.ReadTable(s.pair.Server.Fd(), legacy.DefaultTable); !errors.Is(err, legacy.ErrNoTable) {
		t.Errorf("the legacy table is still there: %v", err)
	}
	if sh, err := legacy.FindShaping(s.pair.Server.Fd()); err != nil || len(sh) != 0 {
		t.Errorf("the legacy qdisc is still there: %+v %v", sh, err)
	}
	if q := s.pair.Server.Run(t, "tc", "qdisc", "show", "dev", testnet.Dev); !strings.Contains(q, "htb 7d0:") {
		t.Errorf("our shaper did not take over the 443 limit:\n%s", q)
	}
	if b, _ := os.ReadFile(s.cron); string(b) != "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n0 3 * * * /usr/bin/backup.sh\n" {
		t.Errorf("crontab:\n%s", b)
	}
	if _, err := os.Lstat(s.shortcut); !os.IsNotExist(err) {
		t.Errorf("the script's shortcut is still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.from, legacy.ConfigName)); !os.IsNotExist(err) {
		t.Errorf("config.json not renamed: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(s.from, legacy.ConfigName+".migrated-*")); len(m) != 1 || fileMode(t, m[0]) != 0o600 {
		t.Errorf("the renamed config (it holds the bot token) must be 0600: %v", m)
	}
	backups, _ := filepath.Glob(s.from + ".legacy-backup-*.tar.gz")
	if len(backups) != 1 {
		t.Fatalf("backups: %v", backups)
	}
	if fi, err := os.Stat(backups[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup: %v %v", fi, err)
	}
	tokenFile := filepath.Join(s.dir, "telegram-bot-token")
	if b, err := os.ReadFile(tokenFile); err != nil || strings.TrimSpace(string(b)) != legacyToken {
		t.Errorf("token file: %q %v", b, err)
	}
	if fi, err := os.Stat(tokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode: %v %v", fi, err)
	}
	if !strings.Contains(out, "telegram: not set up with dog notify here") {
		t.Errorf("the output does not say why the Telegram settings were not set up:\n%s", out)
	}
	if want := "dog notify telegram --chat-id=123456789 --token-file " + tokenFile + " --server-name 'sg relay' --report-every 1h --message-lang zh"; !strings.Contains(out, want) {
		t.Errorf("the notify command is missing (%s):\n%s", want, out)
	}
	hist := s.history()
	var legacyEntries int
	for _, r := range hist {
		if r.Reason == legacy.ReasonLegacy {
			legacyEntries++
			if r.Ports != "443" || r.Billable != 2147483648 {
				t.Errorf("legacy history entry: %+v", r)
			}
		}
	}
	if legacyEntries != 1 {
		t.Errorf("history: %+v", hist)
	}

	// New traffic, counted by ours, byte-exact; the used-up port stays
	// blocked.
	s.udp(5000, 10, 100, 50)
	c := s.counters()
	if in, out := c["p5000-5100_in"].Bytes, c["p5000-5100_out"].Bytes; in != 10*128 || out != 700_000+10*78 {
		t.Errorf("5000: in %d, out %d after 10 datagrams of 100 answered with 50: want %d, %d", in, out, 10*128, 700_000+10*78)
	}
	if got, _, _ := s.pair.UDP(testnet.ServerIP4, 8080, 5, 100, 10, 2*time.Second); got != 0 {
		t.Errorf("8080 received %d datagrams: not blocked", got)
	}

	out, errOut, code = s.importLegacy("--yes")
	if code != 0 || !strings.Contains(out, "nothing to import") || strings.Contains(out, "still loaded") {
		t.Errorf("second run: %d\n%s%s", code, out, errOut)
	}
	// A table left behind without its config is pointed out.
	nft := filepath.Join(s.dir, "legacy.nft")
	s.pair.Server.Run(t, "nft", "-f", nft)
	if out, _, _ := s.importLegacy(); !strings.Contains(out, "its table inet port_traffic_monitor is still loaded") {
		t.Errorf("an orphaned legacy table is not reported:\n%s", out)
	}
}

// legacyIntact checks that the script's setup is exactly as it was.
func (s *legacySetup) legacyIntact(t *testing.T) {
	t.Helper()
	tab, err := legacy.ReadTable(s.pair.Server.Fd(), legacy.DefaultTable)
	if err != nil {
		t.Fatalf("the legacy table: %v", err)
	}
	if c := tab.Counters["port_443_in"]; c.Bytes != 2_000_000 {
		t.Errorf("the legacy counters changed: %+v", c)
	}
	if sh, err := legacy.FindShaping(s.pair.Server.Fd()); err != nil || len(sh) != 1 {
		t.Errorf("the legacy qdisc: %+v %v", sh, err)
	}
	if b, _ := os.ReadFile(s.cron); string(b) != legacyCron {
		t.Errorf("crontab changed:\n%s", b)
	}
	for _, p := range []string{s.shortcut, filepath.Join(s.from, legacy.ConfigName)} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestImportLegacyRefusals: a port that overlaps one of ours, a mode with
// no equivalent and a stopped enforcer each stop the migration with the
// reason, and leave both setups exactly as they were.
func TestImportLegacyRefusals(t *testing.T) {
	ours := "ports:\n  - ports: 400-500\n    remark: ours\n"
	s := newLegacySetup(t, ours)

	_, errOut, code := s.importLegacy("--yes")
	if code == 0 || !strings.Contains(errOut, "the enforcer is not running") {
		t.Errorf("without the enforcer: %d %s", code, errOut)
	}
	s.start()
	_, errOut, code = s.importLegacy("--yes")
	if code == 0 || !strings.Contains(errOut, "overlap") || !strings.Contains(errOut, "nothing changed") {
		t.Errorf("overlapping our 400-500: %d %s", code, errOut)
	}
	if s.readConfig() != ours {
		t.Errorf("config changed:\n%s", s.readConfig())
	}
	s.legacyIntact(t)

	// The script's relay mode: the choices are named, nothing guessed.
	cfgPath := filepath.Join(s.from, legacy.ConfigName)
	b, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, []byte(strings.Replace(string(b), `"billing_mode": "single"`, `"billing_mode": "relay"`, 1)), 0o600)
	out, errOut, code := s.importLegacy("--yes")
	if code == 0 || !strings.Contains(errOut, "port 5000-5100: billing_mode relay") || !strings.Contains(errOut, "--relay-as") {
		t.Errorf("relay: %d\n%s%s", code, out, errOut)
	}
	os.WriteFile(cfgPath, b, 0o600)
	s.legacyIntact(t)
	if n, _ := filepath.Glob(s.from + ".legacy-backup-*"); len(n) != 0 {
		t.Errorf("a refused run wrote a backup: %v", n)
	}

	// A failure after the enforcer took the ports (the crontab cannot be
	// written) undoes the import: both setups run as before.
	ours = "ports:\n  - ports: \"9000\"\n"
	os.WriteFile(s.config, []byte(ours), 0o600)
	if err := adminapi.NewClient(s.sock).Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.udp(9000, 10, 100, 0)
	want := s.counters()["p9000_in"]
	testutil.RequireBinary(t, "chattr")
	spool := filepath.Dir(s.cron)
	if out, err := exec.Command("chattr", "+i", spool).CombinedOutput(); err != nil {
		t.Skipf("chattr +i is not supported here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", spool).Run() })
	out, errOut, code = s.importLegacy("--yes")
	exec.Command("chattr", "-i", spool).Run()
	if code == 0 || !strings.Contains(errOut, "the import was undone") {
		t.Fatalf("a crontab that cannot be written: %d\n%s%s", code, out, errOut)
	}
	if s.readConfig() != ours {
		t.Errorf("config not restored:\n%s", s.readConfig())
	}
	if got := s.counters(); got["p9000_in"] != want || got["p443_in"] != (state.Counter{}) {
		t.Errorf("our counters after the undo: %+v, want p9000_in %+v", got, want)
	}
	s.legacyIntact(t)
}

// TestImportLegacyFromCopy imports a copy of another host's directory
// (1.2.3, no live table here): the doubling must be answered, counters come
// from traffic_data.json, and nothing of a script running here is touched.
func TestImportLegacyFromCopy(t *testing.T) {
	testutil.RequireBinary(t, "nft")
	h := newHost(t, "ports: []\n")
	h.pair.Server.Run(t, "ip", "route", "add", "default", "via", testnet.ClientIP4.String(), "dev", testnet.Dev)
	from := filepath.Join(h.dir, "copy")
	os.MkdirAll(from, 0o700)
	for src, dst := range map[string]string{"v1.2.3-no-billing-mode.json": legacy.ConfigName, "traffic_data.json": legacy.TrafficDataName} {
		b, err := os.ReadFile("../internal/legacy/testdata/" + src)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(from, dst), b, 0o600)
	}
	// A script of this host, with other ports, whose table has the same name.
	nft := filepath.Join(h.dir, "other.nft")
	os.WriteFile(nft, []byte(legacytest.Table(legacy.DefaultTable, []legacytest.Port{{Key: "7000", Version: "1.2.5", Mode: "single", OutBytes: 5}})), 0o600)
	h.pair.Server.Run(t, "nft", "-f", nft)
	cron := filepath.Join(h.dir, "crontab")
	os.WriteFile(cron, []byte(legacyCron), 0o600)
	// Prometheus with an alertmanager.yml of the operator's, which dog
	// notify telegram refuses to replace without --force.
	promCfg, amCfg := filepath.Join(h.dir, "prometheus.yml"), filepath.Join(h.dir, "alertmanager.yml")
	os.WriteFile(promCfg, []byte(operatorProm), 0o644)
	const foreignAM = "route:\n  receiver: ops\nreceivers:\n  - name: ops\n"
	os.WriteFile(amCfg, []byte(foreignAM), 0o644)
	run := func(args ...string) (string, string, int) {
		return h.dog(Env{}, append([]string{"import-legacy", "--from", from, "--crontab", cron, "--shortcut", filepath.Join(h.dir, "none"),
			"--prometheus-config", promCfg, "--alertmanager-config", amCfg}, args...)...)
	}

	out, errOut, code := run("--dry-run")
	if code == 0 || !strings.Contains(errOut, "--doubled yes (1.2.5) or --doubled no (1.0–1.2.4)") {
		t.Fatalf("the doubling must be asked: %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "is not this config's") {
		t.Errorf("the unrelated table is not reported: %s", errOut)
	}
	out, errOut, code = run("--dry-run", "--doubled", "no")
	if code != 0 || !strings.Contains(out, "wecom: cannot be carried") || !strings.Contains(out, "the enforcer is not running") ||
		!strings.Contains(out, "dog notify telegram refuses: "+amCfg+" was not written by dog: add --force") || !strings.Contains(out, "(for import-legacy: --force-alertmanager)") || !strings.Contains(out, "exits non-zero") {
		t.Errorf("dry run without the enforcer: %d\n%s%s", code, out, errOut)
	}
	h.start()
	// The refusal fails the run, not the migration: the ports are ours,
	// the command is printed, the operator's files are untouched.
	out, errOut, code = run("--yes", "--doubled", "no")
	if code == 0 || !strings.Contains(errOut, "the ports are migrated, but the script's Telegram settings were not carried") ||
		!strings.Contains(out, "telegram: dog notify telegram did not set it up: "+amCfg+" was not written by dog") ||
		!strings.Contains(out, "done: dog status shows the ports") {
		t.Fatalf("%d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "123456:AAExample") {
		t.Error("the output shows the bot token")
	}
	if b, _ := os.ReadFile(amCfg); string(b) != foreignAM {
		t.Errorf("the operator's alertmanager.yml changed:\n%s", b)
	}
	if b, _ := os.ReadFile(promCfg); string(b) != operatorProm {
		t.Errorf("prometheus.yml changed:\n%s", b)
	}
	c := h.counters()
	for name, want := range map[string]uint64{"p10000-10100_in": 1_000_000, "p10000-10100_out": 3_000_000, "p8080_in": 70_000_000, "p8080_out": 40_000_000} {
		if c[name].Bytes != want {
			t.Errorf("%s: %d, want %d", name, c[name].Bytes, want)
		}
	}
	st, err := adminapi.NewClient(h.sock).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range st.Items {
		if it.Ports == "8080" && (it.Blocked != "quota" || it.RateOut != 500_000 || it.Billing != "sum") {
			t.Errorf("8080: %+v", it)
		}
	}
	if _, err := legacy.ReadTable(h.pair.Server.Fd(), legacy.DefaultTable); err != nil {
		t.Errorf("the table of this host's script was touched: %v", err)
	}
	if b, _ := os.ReadFile(cron); string(b) != legacyCron {
		t.Errorf("crontab touched:\n%s", b)
	}
	if !strings.Contains(out, "--chat-id=-1001234567890") || !strings.Contains(out, "--report-every 6h") {
		t.Errorf("notify command:\n%s", out)
	}
}

const operatorProm = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['localhost:9100']\n"

// TestImportLegacyNotify carries the script's Telegram settings into
// Prometheus' and Alertmanager's configs as dog notify telegram writes
// them: the chat id and the token (0640 root:prometheus, in no output),
// the server name and the report interval, with no token file or command
// left to run.
func TestImportLegacyNotify(t *testing.T) {
	testutil.RequireBinary(t, "prometheus")
	testutil.RequireBinary(t, "promtool")
	testutil.RequireBinary(t, "amtool")
	testutil.RequireBinary(t, "prometheus-alertmanager", "alertmanager")
	g, err := user.LookupGroup("prometheus")
	if err != nil {
		t.Skip("no group prometheus (package prometheus not installed)")
	}
	s := newLegacySetup(t, oursAlready)
	s.start()
	promCfg, amCfg := filepath.Join(s.etc, "prometheus.yml"), filepath.Join(s.etc, "alertmanager.yml")
	os.MkdirAll(s.etc, 0o755)
	os.WriteFile(promCfg, []byte(operatorProm), 0o644)
	const foreignAM = "route:\n  receiver: ops\nreceivers:\n  - name: ops\n"
	os.WriteFile(amCfg, []byte(foreignAM), 0o644)

	out, errOut, code := s.importLegacy("--dry-run", "--force-alertmanager")
	if code != 0 || !strings.Contains(out, "status report every 1h: set up after the migration as dog notify telegram does, in "+amCfg) {
		t.Errorf("dry run: %d\n%s%s", code, out, errOut)
	}
	// The script took an @channel name, Alertmanager does not.
	cfgPath := filepath.Join(s.from, legacy.ConfigName)
	b, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, []byte(strings.Replace(string(b), `"chat_id": "123456789"`, `"chat_id": "@sgrelay"`, 1)), 0o644)
	out, errOut, code = s.importLegacy("--dry-run", "--force-alertmanager")
	if code != 0 || !strings.Contains(out, "not set up here: --chat-id \"@sgrelay\": Alertmanager accepts only numeric chat ids") {
		t.Errorf("dry run, chat @sgrelay: %d\n%s%s", code, out, errOut)
	}
	// Turned off in the script: not turned on by the migration.
	os.WriteFile(cfgPath, []byte(strings.Replace(string(b), "\"telegram\": {\n      \"enabled\": true", "\"telegram\": {\n      \"enabled\": false", 1)), 0o644)
	out, errOut, code = s.importLegacy("--dry-run", "--force-alertmanager")
	if code != 0 || !strings.Contains(out, "not set up here: they are disabled in the script") {
		t.Errorf("dry run, telegram disabled: %d\n%s%s", code, out, errOut)
	}
	os.WriteFile(cfgPath, b, 0o644)

	// In Chinese, as the script's users read it: each step line starts
	// with its number, in order (the limits' step once came out as
	// "<file> 中6. 已添加带宽限制").
	out, errOut, code = s.importLegacy("--yes", "--force-alertmanager", "--lang", "zh")
	if code != 0 {
		t.Fatalf("import-legacy: %d\n%s%s", code, out, errOut)
	}
	t.Logf("%s", out)
	var steps []string
	for _, l := range strings.Split(out, "\n") {
		if m := regexp.MustCompile(`^(\d)\. `).FindStringSubmatch(l); m != nil {
			steps = append(steps, m[1])
		} else if regexp.MustCompile(`\S\d\. `).MatchString(l) {
			t.Errorf("a step number inside a line: %q", l)
		}
	}
	if got := strings.Join(steps, ""); got != "1234567" {
		t.Errorf("steps %s, want 1234567:\n%s", got, out)
	}
	if !strings.Contains(out, "6. 已在 "+s.config+" 中添加带宽限制（") {
		t.Errorf("the limits' step:\n%s", out)
	}
	if strings.Contains(out+errOut, legacyToken) {
		t.Error("the output shows the bot token")
	}
	if strings.Contains(out, "dog notify telegram --chat-id") {
		t.Errorf("a command to run is printed after the setup:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "telegram-bot-token")); !os.IsNotExist(err) {
		t.Errorf("a token file of the fallback was written: %v", err)
	}
	am, err := os.ReadFile(amCfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"chat_id: 123456789", "group_interval: 1h       # status_interval", "dog.telegram.zh"} {
		if !strings.Contains(string(am), want) {
			t.Errorf("alertmanager.yml lacks %q:\n%s", want, am)
		}
	}
	// Alertmanager 0.26 reads the token from a file, older ones from
	// alertmanager.yml: either way 0640 root:prometheus.
	tokenIn := amCfg
	if !strings.Contains(string(am), "bot_token: '"+legacyToken+"'") {
		tokenIn = filepath.Join(s.etc, "telegram_bot_token")
	}
	if b, err := os.ReadFile(tokenIn); err != nil || !strings.Contains(string(b), legacyToken) {
		t.Errorf("the token is not in %s: %v", tokenIn, err)
	}
	if fi, err := os.Stat(tokenIn); err != nil || fi.Mode().Perm() != 0o640 || strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Gid)) != g.Gid {
		t.Errorf("%s: %v %v, want 0640 root:prometheus", tokenIn, fi.Mode(), err)
	}
	if backups, _ := filepath.Glob(amCfg + ".dog-backup-*"); len(backups) != 1 {
		t.Errorf("the operator's alertmanager.yml replaced without a backup: %v", backups)
	}
	prom, _ := os.ReadFile(promCfg)
	if !strings.Contains(string(prom), "job_name: node") {
		t.Errorf("the operator's scrape job is lost:\n%s", prom)
	}
	// The real servers run on the files as written: Alertmanager starts,
	// Prometheus scrapes dog-exporter as the script's server name.
	testprom.StartAlertmanagerFile(t, amCfg, "")
	p := testprom.StartPrometheusFile(t, promCfg)
	var instances []string
	// The targets show once the scrape manager has read the config.
	for deadline := time.Now().Add(30 * time.Second); len(instances) == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		targets, err := p.Targets(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range targets {
			if tg.ScrapePool == "port-traffic-dog" {
				instances = append(instances, tg.Labels["instance"])
			}
		}
	}
	if len(instances) != 1 || instances[0] != "sg relay" {
		t.Errorf("dog-exporter's targets are instances %q, want the script's server name \"sg relay\"", instances)
	}

	out, errOut, code = s.importLegacy("--yes", "--force-alertmanager")
	if code != 0 || !strings.Contains(out, "nothing to import") {
		t.Errorf("second run: %d\n%s%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(amCfg); string(b) != string(am) {
		t.Error("the second run changed alertmanager.yml")
	}
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestImportLegacyOnePort: the report counts the script's ports in words
// that agree with the number ("1 port", not "1 ports").
func TestImportLegacyOnePort(t *testing.T) {
	h := newHost(t, "")
	from := filepath.Join(h.dir, "copy")
	os.MkdirAll(from, 0o755)
	cfg, err := os.ReadFile("../internal/legacy/testdata/v1.2.4-relay.json")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(from, legacy.ConfigName), cfg, 0o644)
	for lang, want := range map[string]string{"en": "\n1 port:\n", "zh": "\n1 个端口：\n"} {
		out, errOut, code := h.dog(Env{}, "--lang", lang, "import-legacy", "--from", from, "--dry-run", "--relay-as", "relay",
			"--crontab", filepath.Join(h.dir, "crontab"), "--shortcut", filepath.Join(h.dir, "none"),
			"--prometheus-config", filepath.Join(h.dir, "prometheus.yml"), "--alertmanager-config", filepath.Join(h.dir, "alertmanager.yml"))
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("%s: exit %d, the report does not say %q:\n%s%s", lang, code, want, out, errOut)
		}
	}
}
