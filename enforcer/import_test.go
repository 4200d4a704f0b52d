package enforcer

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/archive"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// TestImportKeepsThisHostsFlagItems: an item this host adds with --port
// stays configured through an import (withFlags), but the archive has no
// state for it. Its counters and billing period once started over at zero
// (the kernel counter fell, Prometheus saw a reset, the period's use was
// gone); they continue as this host counted them.
func TestImportKeepsThisHostsFlagItems(t *testing.T) {
	r := newRig(t, "ports:\n  - ports: \"443\"\n")
	e := r.enforcer(func(o *Options) { o.PortFlags = []string{"9000:remark=from a flag"} })
	r.tcp(9000, 50_000, 20_000)
	before := r.counter("p9000", layout.In)
	if before.Bytes < 50_000 {
		t.Fatalf("counted %v", before)
	}
	st, err := e.Status()
	if err != nil {
		t.Fatal(err)
	}
	var period string
	for _, it := range st.Items {
		if it.Ports == "9000" {
			period = it.PeriodStart.String()
		}
	}

	if _, err := e.Import(bytes.NewReader(exportOf(t, "ports:\n  - ports: \"443\"\n  - ports: \"80\"\n")), false); err != nil {
		t.Fatal(err)
	}
	if got := r.counter("p9000", layout.In); got.Bytes < before.Bytes {
		t.Errorf("the --port item's counter fell in the import: %v -> %v", before, got)
	}
	st, err = e.Status()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range st.Items {
		if it.Ports == "9000" {
			found = true
			if it.PeriodStart.String() != period || it.In.Bytes < before.Bytes {
				t.Errorf("the --port item after the import: period %s (was %s), in %d (was %d)", it.PeriodStart, period, it.In.Bytes, before.Bytes)
			}
		}
	}
	if !found {
		t.Errorf("the --port item is gone: %+v", st.Items)
	}
}

// TestFailedImportChangesNothing: an import the kernel refuses (the
// table's replace fails) or whose state save fails (state.json cannot be
// replaced) is undone: config file, history, the table's counters and
// blocks, the limits and the state as they were.
func TestFailedImportChangesNothing(t *testing.T) {
	testutil.RequireBinary(t, "tc")
	ours := "interfaces: [" + testnet.Dev + "]\nports:\n  - ports: \"443\"\n    rate_out: 20Mbps\n    rate_in: 30Mbps\n  - ports: \"8080\"\n"
	r := newRig(t, ours)
	e := r.enforcer()
	r.tcp(443, 30_000, 40_000)
	if _, err := e.Reset([]string{"8080"}, false, state.ReasonManual); err != nil {
		t.Fatal(err)
	}
	histPath := filepath.Join(r.dir, "state", state.HistoryName)
	hist, _ := os.ReadFile(histPath)
	classes := r.pair.Server.Run(t, "tc", "class", "show", "dev", testnet.Dev)
	counters := Open(r)
	before, err := e.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	archive := exportOf(t, "ports:\n  - ports: \"443\"\n    rate_out: 5Mbps\n  - ports: \"9443\"\n    quota: 1KB\n")

	check := func(what string) {
		t.Helper()
		if b, _ := os.ReadFile(r.cfg); string(b) != ours {
			t.Errorf("%s: config file changed:\n%s", what, b)
		}
		if b, _ := os.ReadFile(histPath); !bytes.Equal(b, hist) {
			t.Errorf("%s: history changed:\n%s", what, b)
		}
		if got := r.pair.Server.Run(t, "tc", "class", "show", "dev", testnet.Dev); got != classes {
			t.Errorf("%s: classes changed:\n%s\nwant\n%s", what, got, classes)
		}
		got := Open(r)
		for name, c := range counters {
			if got[name].Bytes < c.Bytes {
				t.Errorf("%s: counter %s fell: %v -> %v", what, name, c, got[name])
			}
		}
		if _, ok := got[layout.Counter("p9443", layout.In)]; ok {
			t.Errorf("%s: the archive's item is in the table", what)
		}
		st, err := e.Status()
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Items) != len(before.Items) || st.Items[0].Ports != "443" || st.Items[0].RateOut != before.Items[0].RateOut ||
			!st.Items[1].PeriodStart.Equal(before.Items[1].PeriodStart) {
			t.Errorf("%s: items changed: %+v", what, st.Items)
		}
	}

	e.failApplies(1)
	if _, err := e.Import(bytes.NewReader(archive), false); err == nil || !strings.Contains(err.Error(), "nothing changed") {
		t.Errorf("import refused by the kernel: %v", err)
	}
	check("kernel refused")

	sp := filepath.Join(r.dir, "state", state.FileName)
	if err := os.Rename(sp, sp+".saved"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(sp, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err = e.Import(bytes.NewReader(archive), false)
	os.Remove(sp)
	if rerr := os.Rename(sp+".saved", sp); rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil || !strings.Contains(err.Error(), "nothing changed") {
		t.Errorf("import whose save failed: %v", err)
	}
	check("save failed")
	meta, err := state.ReadMeta(filepath.Join(r.dir, "state", state.MetaName))
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Items) != 2 || meta.Items[1].Ports != "8080" {
		t.Errorf("the exporter's meta file has the undone import's items: %+v", meta.Items)
	}
}

// TestArchiveCannotBlockTheHost: the host entry of an archive's state is
// the whole host's counters and period. merge once kept its expiry,
// which no enforcer writes (the host has none in a config): an archive
// whose host entry had one in the past blocked every port of this host
// but the exempt ones (ssh): every service it runs, counted or not. The
// host entry's expiry, remark and rates are the config's (none), as every
// item's are.
func TestArchiveCannotBlockTheHost(t *testing.T) {
	r := newRig(t, "ports:\n  - ports: \"443\"\n")
	e := r.enforcer()
	past := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	err := archive.Write(&b, archive.Input{ToolVersion: "test", Host: "old-vps", Created: time.Now(),
		Config: []byte("ports:\n  - ports: \"443\"\n"), State: &state.State{SavedAt: time.Now(),
			Host: &state.Item{ID: layout.HostID, Ports: "host", Expires: past, Remark: "\x1b]0;owned\x07", RateIn: 1000}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Import(&b, false); err != nil {
		t.Fatal(err)
	}
	st, err := e.Status()
	if err != nil {
		t.Fatal(err)
	}
	if h := st.Host; h.Blocked != "" || !h.Expires.IsZero() || h.Remark != "" || h.RateIn != 0 {
		t.Errorf("the archive's host entry is in force: %+v", h)
	}
	if _, err := r.pair.TCP(testnet.ServerIP4, 8080, 1000, 1000, 3*time.Second); err != nil {
		t.Errorf("the host blocks traffic after the import: %v", err)
	}
}

// TestFailedImportKeepsUnrecordedResets: resets a full disk kept from the
// history (record) are written by the next state save. An import whose
// state save failed wrote them with its own entries, and its undo cut the
// history back to its size before the import: they were lost. They are
// kept for the next save now.
func TestFailedImportKeepsUnrecordedResets(t *testing.T) {
	r := newRig(t, "ports:\n  - ports: \"443\"\n")
	e := r.enforcer()
	dir := filepath.Join(r.dir, "state")
	hp, sp := filepath.Join(dir, state.HistoryName), filepath.Join(dir, state.FileName)
	blockWith := func(path string) (restore func()) {
		t.Helper()
		if err := os.Rename(path, path+".saved"); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := os.Mkdir(path, 0o700); err != nil {
			t.Fatal(err)
		}
		return func() {
			os.Remove(path)
			if err := os.Rename(path+".saved", path); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
	}
	restore := blockWith(hp) // the history cannot take the reset
	if _, err := e.Reset([]string{"443"}, false, state.ReasonManual); err != nil {
		t.Logf("reset: %v", err)
	}
	restore()
	restore = blockWith(sp) // the import's state save fails
	_, err := e.Import(bytes.NewReader(exportOf(t, "ports:\n  - ports: \"80\"\n")), false)
	restore()
	if err == nil {
		t.Fatal("the import did not fail")
	}
	if _, err := e.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if h := r.history(); len(h) != 1 || h[0].Ports != "443" || h[0].Reason != state.ReasonManual {
		t.Errorf("history after the failed import: %+v", h)
	}
}

// TestImportTwiceAddsHistoryOnce: the history entries of an archive that
// this host's history holds already (an archive imported twice, or this
// host's own put back) are not added again, where they billed their
// periods twice; the answer says how many were skipped, the dry run too.
func TestImportTwiceAddsHistoryOnce(t *testing.T) {
	r := newRig(t, "ports:\n  - ports: \"443\"\n")
	e := r.enforcer()
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	hist := []state.Reset{
		{Time: start.AddDate(0, 1, 0), ID: "p443", Ports: "443", Reason: state.ReasonAuto, PeriodStart: start, InBytes: 10, OutBytes: 20},
		{Time: start.AddDate(0, 2, 0), ID: "p443", Ports: "443", Reason: state.ReasonAuto, PeriodStart: start.AddDate(0, 1, 0), InBytes: 30, OutBytes: 40},
	}
	var b bytes.Buffer
	if err := archive.Write(&b, archive.Input{ToolVersion: "test", Host: "old-vps", Created: time.Now(),
		Config: []byte("ports:\n  - ports: \"443\"\n"), State: &state.State{SavedAt: time.Now()}, History: hist}); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		t.Helper()
		n := 0
		for _, h := range r.history() {
			if h.ID == "p443" {
				n++
			}
		}
		return n
	}
	for i, want := range []int{2, 0} {
		dry, err := e.Import(bytes.NewReader(b.Bytes()), true)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := e.Import(bytes.NewReader(b.Bytes()), false)
		if err != nil {
			t.Fatal(err)
		}
		if dry.HistoryEntries != want || resp.HistoryEntries != want {
			t.Errorf("import %d: %d entries taken (dry run %d), want %d", i+1, resp.HistoryEntries, dry.HistoryEntries, want)
		}
		if noted := strings.Contains(strings.Join(resp.Notes, "\n"), "2 of the archive's history entries are in this host's history already"); noted != (want == 0) {
			t.Errorf("import %d: notes %q", i+1, resp.Notes)
		}
		if n := count(); n != 2 {
			t.Errorf("after import %d: %d entries of 443 in the history, want 2", i+1, n)
		}
	}
}

// TestImportNotesLimitsThatCannotApply: an archive from a host whose
// shaped interface this host lacks is imported (the config moves as it
// is), and the answer says its limits cannot apply here until the config
// is fixed, the dry run too; an archive whose limits fit says nothing.
func TestImportNotesLimitsThatCannotApply(t *testing.T) {
	r := newRig(t, "ports:\n  - ports: \"443\"\n")
	e := r.enforcer()
	const note = "the archive's bandwidth limits cannot apply on this host"
	for _, c := range []struct {
		cfg   string
		noted bool
	}{
		{"interfaces: [dognosuch0]\nports:\n  - ports: \"443\"\n    rate: 10Mbps\n", true},
		{"interfaces: [" + testnet.Dev + "]\nports:\n  - ports: \"443\"\n    rate: 10Mbps\n", false},
		{"interfaces: [dognosuch0]\nports:\n  - ports: \"443\"\n", false}, // no limits: no interface needed
	} {
		for _, dry := range []bool{true, false} {
			resp, err := e.Import(bytes.NewReader(exportOf(t, c.cfg)), dry)
			if err != nil {
				t.Fatalf("%q (dry run %v): %v", c.cfg, dry, err)
			}
			notes := strings.Join(resp.Notes, "\n")
			if strings.Contains(notes, note) != c.noted || c.noted && !strings.Contains(notes, "dognosuch0") {
				t.Errorf("%q (dry run %v): notes %q", c.cfg, dry, notes)
			}
		}
	}
}

// TestResetBeforeAnImportNotTakenOver: this host's own archive put back
// after a `dog reset` gives the item the period that reset ended again, and
// the history holds that reset after the state's save. The restart must not
// take it over as a reset the state missed: the import replaced the states,
// and a reset recorded before it is not theirs.
func TestResetBeforeAnImportNotTakenOver(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	cfg := "timezone: UTC\nports:\n  - ports: \"443\"\n    reset_day: 15\n"
	r := newRig(t, cfg)
	e := r.enforcer(withClock(clk))
	r.tcp(443, 50_000, 20_000)
	r.quiesce("p443")
	if _, err := e.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	exported, err := state.ReadFile(filepath.Join(r.dir, "state", state.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := archive.Write(&b, archive.Input{ToolVersion: "test", Host: "this-vps", Created: clk.Now(),
		Config: []byte(cfg), State: exported}); err != nil {
		t.Fatal(err)
	}
	clk.Set(clk.Now().Add(time.Minute))
	if _, err := e.Reset([]string{"443"}, false, state.ReasonManual); err != nil {
		t.Fatal(err)
	}
	clk.Set(clk.Now().Add(time.Minute))
	if _, err := e.Import(&b, false); err != nil {
		t.Fatal(err)
	}
	imported := statusItem(t, e, "443")
	if !imported.PeriodStart.Equal(exported.Items[0].PeriodStart) {
		t.Fatalf("the import made the period start %s, want the archive's %s", imported.PeriodStart, exported.Items[0].PeriodStart)
	}

	clk.Set(clk.Now().Add(time.Minute))
	e = r.enforcer(withClock(clk))
	if it := statusItem(t, e, "443"); !it.PeriodStart.Equal(imported.PeriodStart) || it.PeriodIn != imported.PeriodIn {
		t.Errorf("after the restart: period from %s with %d bytes in, want the import's %s with %d", it.PeriodStart, it.PeriodIn,
			imported.PeriodStart, imported.PeriodIn)
	}
}
