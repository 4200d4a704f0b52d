package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
)

// TestUpgradeFromLastReleaseKeepsCounters takes over, with this version,
// what the enforcer and exporter of each landed commit left on a host:
// every testdata/upgrade-<commit> directory, written by that commit's own
// binaries with traffic, an exporter scrape and a SIGKILL (GENERATE.md
// there says how; the newest one's generator writes the next). Adding a
// fixture is adding a directory.
//
// With the old table in place (a package upgrade) and without it (an
// upgrade across a reboot); each also with the fixture's times moved back
// past every next reset (resetsDue), as if the host had been down then.
// No counter may fall below what the old exporter served (with the table)
// or the old checkpoint (without: what an old exporter served beyond it
// was never durable); every item keeps its settings, its billing period
// (start, next reset, bases), its block and its history, unless its next
// reset came meanwhile, in which case the reset must have run and be in
// the history with the old period's bytes. Blocked items still drop, the
// others still count.
func TestUpgradeFromLastReleaseKeepsCounters(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "upgrade-*"))
	if err != nil || len(dirs) < 2 {
		t.Fatalf("upgrade fixtures: %v %v", dirs, err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			f := readFixture(t, dir)
			due := f.resetsDue(t)
			for _, tc := range []struct {
				name  string
				f     *fixture
				table bool
			}{
				{"package upgrade", f, true}, {"upgrade across a reboot", f, false},
				{"package upgrade, resets due", due, true}, {"upgrade across a reboot, resets due", due, false},
			} {
				t.Run(tc.name, func(t *testing.T) { upgradeFrom(t, tc.f, tc.table) })
			}
		})
	}
}

// fixture is what an old commit left on a host.
type fixture struct {
	dir    string
	config string
	// served is the old exporter's scrape: every port_traffic_dog_ series.
	served map[string]float64
	// items is the old checkpoint's items and host, by ports ("host").
	items   map[string]state.Item
	history []state.Reset
}

func readFixture(t *testing.T, dir string) *fixture {
	t.Helper()
	f := &fixture{dir: dir, items: map[string]state.Item{}}
	cfg, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f.config = string(cfg)
	body, err := os.ReadFile(filepath.Join(dir, "scrape.txt"))
	if err != nil {
		t.Fatal(err)
	}
	f.served = servedSeries(string(body))
	// Decoded here, not by state.Load: these are the bytes an old version
	// wrote, whatever format this one writes; the field names are the
	// installed hosts' contract.
	data, err := os.ReadFile(filepath.Join(dir, "state", state.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var env struct{ State state.State }
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	for _, it := range withHost(&env.State) {
		f.items[it.Ports] = it
	}
	for _, it := range f.items {
		if it.PeriodStart.IsZero() || it.NextReset.IsZero() != (it.ResetDay == 0) {
			t.Fatalf("%s: item %s has no billing period (start %s, reset day %d, next reset %s)", dir, it.Ports, it.PeriodStart, it.ResetDay, it.NextReset)
		}
	}
	f.history = historyOf(t, filepath.Join(dir, "state", state.HistoryName))
	return f
}

// resetsDue returns the fixture as it would be had the host not run this
// version until after every item's next reset: every time in its state
// files but the expiry dates (config settings), and the reset times the
// old exporter served, moved back by whole days past the last next reset. A fixture is written days before its
// items' resets, so without this the upgrade's resets would first be
// tested in the month after, by whichever run came then.
func (f *fixture) resetsDue(t *testing.T) *fixture {
	t.Helper()
	last := time.Now()
	for _, it := range f.items {
		if it.NextReset.After(last) {
			last = it.NextReset
		}
	}
	shift := time.Until(last).Truncate(24*time.Hour) + 48*time.Hour
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	files, err := os.ReadDir(filepath.Join(f.dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"config.yaml", "scrape.txt", "table.nft"}
	for _, e := range files {
		names = append(names, filepath.Join("state", e.Name()))
	}
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(f.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Dir(name) == "state" {
			b = shiftFile(t, b, -shift)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	g := readFixture(t, dir)
	for name, v := range g.served {
		if strings.Contains(name, "_reset_timestamp_seconds{") {
			g.served[name] = v - shift.Seconds()
		}
	}
	for _, it := range g.items {
		if !it.NextReset.IsZero() && it.NextReset.After(time.Now()) {
			t.Fatalf("item %s: next reset %s after the shift by %s", it.Ports, it.NextReset, shift)
		}
	}
	return g
}

// jsonTime is a field holding a time as encoding/json writes one.
var jsonTime = regexp.MustCompile(`"([a-z_]+)":"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2}))"`)

// shiftFile moves every time but an expiry date in a state file (its
// checksum made anew) or a history file by d.
func shiftFile(t *testing.T, b []byte, d time.Duration) []byte {
	t.Helper()
	shift := func(b []byte) []byte {
		return jsonTime.ReplaceAllFunc(b, func(field []byte) []byte {
			m := jsonTime.FindSubmatch(field)
			tm, err := time.Parse(time.RFC3339Nano, string(m[2]))
			if err != nil {
				t.Fatalf("%s: %v", field, err)
			}
			if string(m[1]) == "expires" || tm.Year() < 1900 { // a zero time stays zero
				return field
			}
			return fmt.Appendf(nil, `"%s":"%s"`, m[1], tm.Add(d).Format(time.RFC3339Nano))
		})
	}
	if !bytes.HasPrefix(b, []byte(`{"format":`)) {
		return shift(b)
	}
	var env struct {
		Format int             `json:"format"`
		State  json.RawMessage `json:"state"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	body := shift(env.State)
	sum := sha256.Sum256(body)
	return fmt.Appendf(nil, `{"format":%d,"sha256":"%x","state":%s}`, env.Format, sum, body)
}

// withHost is a state's items and its host (whose ports are "host").
func withHost(st *state.State) []state.Item {
	if st.Host == nil {
		return st.Items
	}
	return append(slices.Clip(st.Items), *st.Host)
}

// servedSeries maps every port_traffic_dog_ series of a scrape to its value.
func servedSeries(body string) map[string]float64 {
	m := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if name, v, ok := strings.Cut(line, " "); ok && strings.HasPrefix(name, "port_traffic_dog_") {
			m[name], _ = strconv.ParseFloat(v, 64)
		}
	}
	return m
}

// historyOf reads a history file (one reset a line); a missing one is empty.
func historyOf(t *testing.T, path string) []state.Reset {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []state.Reset
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r state.Reset
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, r)
	}
	return out
}

// upgradeFrom puts the fixture's state dir, and its table if table, on a
// new host and checks what this version takes over.
func upgradeFrom(t *testing.T, f *fixture, table bool) {
	h := newHost(t, f.config)
	dir := filepath.Join(h.dir, "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	files, err := os.ReadDir(filepath.Join(f.dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range files {
		b, err := os.ReadFile(filepath.Join(f.dir, "state", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if table {
		h.pair.Server.Run(t, "nft", "-f", filepath.Join(f.dir, "table.nft"))
	}
	takeOver(t, h, f, table)
}

// takeOver starts this version's enforcer and exporter on a host that has
// the fixture's state dir (and its table, if table) and checks what they
// took over.
func takeOver(t *testing.T, h *host, f *fixture, table bool) {
	dir := filepath.Join(h.dir, "state")
	metrics := "http://" + testnet.ServerIP4.String() + ":9730/metrics"
	// The package restarts both daemons, the exporter possibly first:
	// what it serves from the old files alone is never below what the old
	// exporter served (or Prometheus takes a reset).
	start(t, h.pair.Server, "dog-exporter", "--web.listen-address", testnet.ServerIP4.String()+":9730", "--state-dir", dir)
	_, early := scrape(t, h.pair.Client.HTTPClient(), metrics, "", "")
	for name, now := range servedSeries(early) {
		if was, ok := f.served[name]; ok && strings.Contains(name, "_total{") && now < was {
			t.Errorf("%s: %v from the new exporter before the enforcer's start, was %v", name, now, was)
		}
	}
	began := time.Now()
	h.enforcer()
	_, body := scrape(t, h.pair.Client.HTTPClient(), metrics, "", "")
	st, err := state.ReadFile(filepath.Join(dir, state.FileName))
	if err != nil {
		t.Fatal(err)
	}
	out, err := h.pair.Server.Output(filepath.Join(bin, "dog"), "--socket", filepath.Join(h.dir, "admin.sock"), "history", "--json")
	if err != nil {
		t.Fatalf("dog history: %v\n%s", err, out)
	}
	var hist adminapi.HistoryResponse
	if err := json.Unmarshal([]byte(out), &hist); err != nil {
		t.Fatalf("dog history: %v\n%s", err, out)
	}
	ended := time.Now()

	now := map[string]state.Item{}
	for _, it := range withHost(st) {
		now[it.Ports] = it
	}
	objs, err := nftread.Read(h.pair.Server.Fd(), layout.Table)
	if err != nil {
		t.Fatal(err)
	}
	reset := map[string]bool{} // ports whose period the upgrade ended (a reset came due)
	for ports, was := range f.items {
		is, ok := now[ports]
		if !ok {
			t.Errorf("item %s: gone after the upgrade", ports)
			continue
		}
		if reset[ports] = checkItem(t, was, is, began, ended, hist.Resets); !reset[ports] {
			checkQuotaUse(t, objs, was, is)
		}
	}
	checkHistoryKept(t, f.history, hist.Resets)
	checkServed(t, f, servedSeries(body), table, reset)
	checkEnforced(t, h, st, ended)
}

// checkItem compares an item after the upgrade (is) with the old
// checkpoint's (was) and reports whether its period was reset, which is
// right only for a reset due by the time the enforcer started (and then
// required). resets is the history after the upgrade.
func checkItem(t *testing.T, was, is state.Item, began, ended time.Time, resets []state.Reset) (wasReset bool) {
	p := was.Ports
	type setting struct {
		name     string
		was, now any
	}
	for _, s := range []setting{
		{"remark", was.Remark, is.Remark}, {"protocols", was.Protocols, is.Protocols},
		{"billing", was.Billing, is.Billing}, {"quota", was.Quota, is.Quota},
		{"reset_day", was.ResetDay, is.ResetDay}, {"expires", was.Expires.UTC().String(), is.Expires.UTC().String()},
		{"rate_in", was.RateIn, is.RateIn}, {"rate_out", was.RateOut, is.RateOut},
	} {
		if s.was != s.now {
			t.Errorf("item %s: %s %v after the upgrade, was %v", p, s.name, s.now, s.was)
		}
	}
	for _, c := range []struct {
		dir      string
		was, now state.Counter
	}{{"in", was.In, is.In}, {"out", was.Out, is.Out}} {
		if c.now.Bytes < c.was.Bytes || c.now.Packets < c.was.Packets {
			t.Errorf("item %s: counter %s %+v after the upgrade, below the old checkpoint's %+v", p, c.dir, c.now, c.was)
		}
	}
	due := !was.NextReset.IsZero() && !was.NextReset.After(began)
	wasReset = !is.PeriodStart.Equal(was.PeriodStart)
	switch {
	case !wasReset && due:
		t.Errorf("item %s: its reset was due at %s and did not run (period start %s)", p, was.NextReset, is.PeriodStart)
	case !wasReset:
		if !is.NextReset.Equal(was.NextReset) {
			t.Errorf("item %s: next reset %s after the upgrade, was %s", p, is.NextReset, was.NextReset)
		}
		if is.BaseIn != was.BaseIn || is.BaseOut != was.BaseOut {
			t.Errorf("item %s: period bases %+v %+v after the upgrade, were %+v %+v", p, is.BaseIn, is.BaseOut, was.BaseIn, was.BaseOut)
		}
		if is.QuotaBlocked != was.QuotaBlocked {
			t.Errorf("item %s: quota blocked %v after the upgrade, was %v", p, is.QuotaBlocked, was.QuotaBlocked)
		}
	case was.NextReset.IsZero() || was.NextReset.After(ended):
		t.Errorf("item %s: period start moved from %s to %s, and no reset was due (next %s)", p, was.PeriodStart, is.PeriodStart, was.NextReset)
	default:
		// The reset that came due while the host ran the old version
		// (or was down): the old period is in the history, whole.
		i := slices.IndexFunc(resets, func(r state.Reset) bool {
			return r.Ports == p && r.Reason == state.ReasonAuto && r.PeriodStart.Equal(was.PeriodStart)
		})
		if i < 0 {
			t.Errorf("item %s: period reset at the upgrade with no history entry for the period from %s", p, was.PeriodStart)
			break
		}
		if r := resets[i]; r.InBytes < was.PeriodIn().Bytes || r.OutBytes < was.PeriodOut().Bytes {
			t.Errorf("item %s: history entry %+v lost bytes of the period (checkpoint: %d in, %d out)", p, r, was.PeriodIn().Bytes, was.PeriodOut().Bytes)
		}
		if is.QuotaBlocked || !is.NextReset.After(is.PeriodStart) {
			t.Errorf("item %s: after its reset: blocked %v, next reset %s", p, is.QuotaBlocked, is.NextReset)
		}
	}
	return wasReset
}

// checkQuotaUse checks that the kernel quota objects of an item whose
// period went on have consumed at least the period's use in the old
// checkpoint: objects made anew from zero would grant the quota again.
func checkQuotaUse(t *testing.T, objs *nftread.Objects, was, is state.Item) {
	if is.Quota == 0 {
		return
	}
	pin, pout := was.PeriodIn().Bytes, was.PeriodOut().Bytes
	found := false
	for name, q := range objs.Quotas {
		if id, ok := layout.QuotaOwner(name); !ok || id != is.ID {
			continue
		}
		found = true
		use := pin + pout // sum, and relay's one quota of half the bytes
		switch {
		case is.Billing == "in" || strings.HasSuffix(name, "_in"):
			use = pin
		case is.Billing == "out" || strings.HasSuffix(name, "_out"):
			use = pout
		}
		if q.Consumed < min(use, q.Limit) {
			t.Errorf("item %s: quota %s consumed %d B after the upgrade, the period had used %d B", is.Ports, name, q.Consumed, use)
		}
	}
	if !found && !is.QuotaBlocked {
		t.Errorf("item %s: no quota object after the upgrade", is.Ports)
	}
}

// checkHistoryKept reports every old history entry missing after the upgrade.
func checkHistoryKept(t *testing.T, was, now []state.Reset) {
	kept := map[string]bool{}
	for _, r := range now {
		b, _ := json.Marshal(r)
		kept[string(b)] = true
	}
	for _, r := range was {
		if b, _ := json.Marshal(r); !kept[string(b)] {
			t.Errorf("history entry lost or changed by the upgrade: %s", b)
		}
	}
}

// checkServed compares the new exporter's series with the old one's: every
// series is still served; a counter never lower than the old exporter
// served (table in place) or the old checkpoint held; a setting and, for an
// item whose period went on, the period's series the same.
func checkServed(t *testing.T, f *fixture, got map[string]float64, table bool, reset map[string]bool) {
	for name, was := range f.served {
		family, _, _ := strings.Cut(strings.TrimPrefix(name, "port_traffic_dog_"), "{")
		_, port, hasPort := strings.Cut(name, `port="`)
		port, _, _ = strings.Cut(port, `"`)
		now, ok := got[name]
		switch {
		case !hasPort:
			// The enforcer's health counters are counters too.
			if (family == "items" && now != was) || (strings.HasSuffix(family, "_total") && now < was) {
				t.Errorf("%s: %v after the upgrade, was %v", name, now, was)
			}
			continue
		case !ok:
			t.Errorf("%s: no longer served", name)
			continue
		}
		it := f.items[port]
		var floor float64
		switch family {
		case "bytes_total", "packets_total":
			floor = was
			if !table {
				floor = float64(directed(name, it.In, it.Out, strings.HasPrefix(family, "packets")))
			}
		case "period_bytes":
			floor = was
			if !table {
				floor = float64(directed(name, it.PeriodIn(), it.PeriodOut(), false))
			}
			if reset[port] {
				continue
			}
		case "blocked", "last_reset_timestamp_seconds", "next_reset_timestamp_seconds":
			if reset[port] {
				continue
			}
			fallthrough
		case "info", "quota_bytes", "expiry_timestamp_seconds", "rate_limit_bytes_per_second":
			// A reset time moved by resetsDue may round to another float.
			if now != was && !(strings.HasSuffix(family, "_reset_timestamp_seconds") && math.Abs(now-was) < 1e-3) {
				t.Errorf("%s: %v after the upgrade, was %v", name, now, was)
			}
			continue
		default:
			// Derived (quota_used_bytes) or counted outside the table and
			// the state (the shaper's tc statistics, rebuilt here where a
			// package upgrade keeps them): served is enough.
			continue
		}
		if now < floor {
			t.Errorf("%s: %v after the upgrade, was %v", name, now, floor)
		}
	}
}

// directed is the in or out counter a series names, in bytes or packets.
func directed(series string, in, out state.Counter, packets bool) uint64 {
	c := in
	if strings.Contains(series, `direction="out"`) {
		c = out
	}
	if packets {
		return c.Packets
	}
	return c.Bytes
}

// checkEnforced sends traffic to the first port of every item: an item
// blocked by its quota or expiry drops it, any other counts it.
func checkEnforced(t *testing.T, h *host, st *state.State, now time.Time) {
	for _, it := range st.Items {
		spec, err := portspec.Parse(it.Ports)
		if err != nil {
			t.Fatal(err)
		}
		port := spec[0].Lo
		blocked := it.QuotaBlocked || it.ExpiredAt(now)
		before := h.counter(it.ID, layout.In)
		// Traffic that must pass gets time for a loaded machine; traffic
		// that must not waits out its whole timeout.
		wait := 5 * time.Second
		if blocked {
			wait = time.Second
		}
		var passed bool
		if it.Protocols == "udp" {
			got, _, err := h.pair.UDP(testnet.ServerIP4, port, 10, 1000, 0, wait)
			passed = err == nil && got == 10
		} else {
			_, err := h.pair.TCP(testnet.ServerIP4, port, 20_000, 0, wait)
			passed = err == nil
		}
		after := h.counter(it.ID, layout.In)
		switch {
		case blocked && passed:
			t.Errorf("item %s: blocked (quota %v, expired %v), its traffic passes after the upgrade", it.Ports, it.QuotaBlocked, it.ExpiredAt(now))
		case !blocked && !passed:
			t.Errorf("item %s: its traffic does not pass after the upgrade", it.Ports)
		case !blocked && after.Bytes < before.Bytes+10_000:
			t.Errorf("item %s: counter in %d -> %d after 10,000 B or more passed: not counting after the upgrade", it.Ports, before.Bytes, after.Bytes)
		}
	}
}
