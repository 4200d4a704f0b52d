package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/exporter"
	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/archive"
	"port-traffic-dog/internal/archive/archivetest"
	"port-traffic-dog/internal/configedit"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
)

// oldHostConfig's expiry date is far ahead: the enforcers run on fixedNow,
// but the exporter that series scrapes reads the real clock, and both
// hosts' scrapes must agree on whether 8080 has expired.
const oldHostConfig = `# relay-1, moving to a new VPS
timezone: Asia/Shanghai
ports:
  - ports: "443"
    remark: alice
    quota: 1GiB
    billing: max
  - ports: 5000-5100
    remark: bob
    reset_day: 20
  - ports: "8080"
    remark: carol (used up)
    quota: 50KB
    billing: in
    expires: 2099-06-30
host:
  quota: 10TB
  reset_day: 1
`

// series scrapes the exporter of h and returns its per-item series
// ("name{labels} value" lines that carry a port label), sorted.
func (h *host) series() []string {
	h.t.Helper()
	x := exporter.New(h.pair.Server.Fd(), h.state, logger())
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	if err := x.Write(context.Background(), bw, nil); err != nil {
		h.t.Fatal(err)
	}
	bw.Flush()
	var out []string
	for _, l := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(l, "port_traffic_dog_") && strings.Contains(l, `port="`) {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

func (h *host) history() []state.Reset {
	h.t.Helper()
	var r adminapi.HistoryResponse
	if err := json.Unmarshal([]byte(h.ok("history", "--json")), &r); err != nil {
		h.t.Fatal(err)
	}
	return r.Resets
}

func (h *host) tcp(port uint16, up, down int64) {
	h.t.Helper()
	if _, err := h.pair.TCP(testnet.ServerIP4, port, up, down, 10*time.Second); err != nil {
		h.t.Fatalf("tcp to %d: %v", port, err)
	}
}

// TestExportImportContinuesExactly moves a host with traffic, a blocked
// item and history to a fresh one whose table already counts: afterwards
// the exporter of the new host shows every counter, period, quota use,
// block and reset date the old one showed, and the history continues.
func TestExportImportContinuesExactly(t *testing.T) {
	old := newHost(t, oldHostConfig)
	old.quiet()
	old.start()
	old.tcp(443, 300_000, 1_200_000)
	old.tcp(5000, 50_000, 20_000)
	old.ok("reset", "5000-5100")
	old.tcp(5100, 70_000, 10_000)
	old.pair.UDP(testnet.ServerIP4, 8080, 100, 1000, 0, 2*time.Second) // runs out of quota
	testnet.WaitFor(t, 5*time.Second, "8080 to be blocked", func() bool {
		return strings.Contains(old.ok("status", "--json"), `"blocked": "quota"`)
	})
	file := filepath.Join(old.dir, "relay-1.tgz")
	out := old.ok("export", file)
	if !strings.Contains(out, "exported 3 items, 1 history entry") {
		t.Errorf("export: %s", out)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("archive: %v %v", fi, err)
	}
	old.fails("exists", "export", file)
	// A name without a directory (what the console offers) is said with
	// the directory it went to: the console does not show its own.
	t.Chdir(old.dir)
	if out := old.ok("export", "relative.tgz"); !strings.Contains(out, " to "+filepath.Join(old.dir, "relative.tgz")+" (") {
		t.Errorf("export to a relative name does not say where it went: %s", out)
	}
	want := old.series()
	wantHist := old.history()
	data, _ := os.ReadFile(file)

	// The new host already runs, counts and has its own history: none of
	// that may survive the import, except the history, which continues.
	fresh := newHost(t, "ports:\n  - ports: \"443\"\n    remark: placeholder\n")
	fresh.flags = []string{"9000:remark=from a flag"}
	fresh.quiet()
	fresh.start()
	fresh.udp(443, 50, 100, 10)
	fresh.ok("reset", "443")
	freshHist := fresh.history()

	out = fresh.ok("import", "--dry-run", file)
	if !strings.Contains(out, "dry run") || fresh.readConfig() != "ports:\n  - ports: \"443\"\n    remark: placeholder\n" {
		t.Fatalf("dry run changed something: %s", out)
	}
	out = fresh.ok("import", file)
	if !strings.Contains(out, "imported 4 items and 1 history entry") { // + the --port item of the new host
		t.Errorf("import: %s", out)
	}
	if got := fresh.readConfig(); got != oldHostConfig {
		t.Errorf("config not imported byte for byte:\n%s", got)
	}
	got := fresh.series()
	gotOld := got[:0:0]
	for _, l := range got {
		if !strings.Contains(l, `port="9000"`) {
			gotOld = append(gotOld, l)
		}
	}
	if !reflect.DeepEqual(gotOld, want) {
		t.Errorf("the new host does not continue where the old one stopped:\n--- old\n%s\n--- new\n%s",
			strings.Join(want, "\n"), strings.Join(gotOld, "\n"))
	}
	for _, must := range []string{`port_traffic_dog_blocked{port="8080",reason="quota"} 1`, `port_traffic_dog_quota_used_bytes{port="443"}`} {
		if !strings.Contains(strings.Join(want, "\n"), must) {
			t.Errorf("the comparison misses %s", must)
		}
	}
	hist := fresh.history()
	if n := len(freshHist) + len(wantHist) + 1; len(hist) != n {
		t.Fatalf("history has %d entries, want %d: %+v", len(hist), n, hist)
	}
	if !reflect.DeepEqual(hist[len(freshHist):len(freshHist)+len(wantHist)], wantHist) {
		t.Errorf("imported history differs:\n%+v\n%+v", hist[len(freshHist):], wantHist)
	}
	if last := hist[len(hist)-1]; last.Reason != state.ReasonImport || !strings.Contains(last.Remark, "imported from") {
		t.Errorf("import not recorded: %+v", last)
	}
	// Counting goes on from the imported values.
	before := fresh.counters()["p443_in"]
	fresh.tcp(443, 10_000, 0)
	if after := fresh.counters()["p443_in"]; after.Bytes < before.Bytes+10_000 {
		t.Errorf("not counting after the import: %v -> %v", before, after)
	}

	t.Run("hostile archives change nothing", func(t *testing.T) {
		hostileArchives(t, fresh, data)
	})
}

// hostileArchives feeds every kind of bad archive to dog import and,
// bypassing dog's own check, straight to the enforcer: each is refused with
// its reason, and the host's config, history, state and kernel counters
// stay as they were.
func hostileArchives(t *testing.T, h *host, valid []byte) {
	cfgBefore := h.readConfig()
	histBefore, _ := os.ReadFile(filepath.Join(h.state, state.HistoryName))
	countersBefore := h.counters()
	client := adminapi.NewClient(h.sock)
	stateBefore := checkpoint(t, client) // as checkpoints write it, with today's counters

	cases := archivetest.Hostile(valid)
	// Valid as an archive, but its config overlaps the new host's --port
	// item: only the enforcer can tell.
	es := archivetest.Entries(valid)
	for i, e := range es {
		if e.Hdr.Name == archive.ConfigName {
			clash, err := configedit.AddItem(e.Data, "8999-9001", nil)
			if err != nil {
				t.Fatal(err)
			}
			es[i] = archivetest.Reg(archive.ConfigName, clash)
		}
	}
	cases = append(cases, archivetest.Case{Name: "config clashes with this host", Want: "overlaps", Data: archivetest.Build(archivetest.WithManifest(es, nil))})

	for _, c := range cases {
		path := filepath.Join(h.dir, "hostile.tgz")
		if err := os.WriteFile(path, c.Data, 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := h.dog(Env{}, "import", path)
		if code == 0 {
			t.Errorf("%s: imported:\n%s", c.Name, out)
			continue
		}
		if !strings.Contains(errOut, c.Want) || !strings.Contains(errOut, "nothing changed") {
			t.Errorf("%s: dog says %q, want %q and that nothing changed", c.Name, errOut, c.Want)
		}
		if _, err := client.Import(context.Background(), c.Data, false); err == nil || !strings.Contains(err.Error(), c.Want) {
			t.Errorf("%s: the enforcer answered %v, want %q", c.Name, err, c.Want)
		}
	}
	// A valid archive whose import fails half-way (the history cannot be
	// appended: it is a directory now) is undone: the config written first
	// is put back.
	es = archivetest.Entries(valid)
	for i, e := range es {
		if e.Hdr.Name == archive.ConfigName {
			other, err := configedit.AddItem(e.Data, "7000", nil)
			if err != nil {
				t.Fatal(err)
			}
			es[i] = archivetest.Reg(archive.ConfigName, other)
		}
	}
	hp := filepath.Join(h.state, state.HistoryName)
	if err := os.Rename(hp, hp+".saved"); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(hp, 0o700)
	_, err := client.Import(context.Background(), archivetest.Build(archivetest.WithManifest(es, nil)), false)
	os.Remove(hp)
	if rerr := os.Rename(hp+".saved", hp); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil || !strings.Contains(err.Error(), "nothing changed") {
		t.Errorf("half-way failure: %v", err)
	}

	if got := h.readConfig(); got != cfgBefore {
		t.Errorf("config changed:\n%s", got)
	}
	if got, _ := os.ReadFile(filepath.Join(h.state, state.HistoryName)); !bytes.Equal(got, histBefore) {
		t.Errorf("history changed:\n%s", got)
	}
	if got := h.counters(); !reflect.DeepEqual(got, countersBefore) {
		t.Errorf("kernel counters changed:\n%v\n%v", countersBefore, got)
	}
	if got := checkpoint(t, client); !reflect.DeepEqual(got, stateBefore) {
		t.Errorf("state changed:\n%+v\n%+v", stateBefore, got)
	}
}

func checkpoint(t *testing.T, c *adminapi.Client) []state.Item {
	t.Helper()
	r, err := c.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return append(r.State.Items, *r.State.Host)
}
