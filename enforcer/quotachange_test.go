package enforcer

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// quotas returns the item's quota objects in the kernel.
func (r *rig) quotas(id string) map[string]nftread.Quota {
	r.t.Helper()
	objs, err := nftConn(r.pair.Server.Fd()).ReadObjects()
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]nftread.Quota{}
	for name, q := range objs.Quotas {
		if owner, ok := layout.QuotaOwner(name); ok && owner == id {
			out[name] = q
		}
	}
	return out
}

// reload writes a new config and reloads it, as SIGHUP does.
func (r *rig) reload(e *Enforcer, config string) {
	r.t.Helper()
	r.writeConfig(config)
	if err := e.Reload(); err != nil {
		r.t.Fatalf("reload: %v", err)
	}
}

// TestQuotaChangeKeepsPeriod: editing an item's quota or billing mode keeps
// its period use; a quota raised above the use unblocks at once, one
// lowered below it blocks at once.
func TestQuotaChangeKeepsPeriod(t *testing.T) {
	cfg := func(quota int, billing string) string {
		return quotaConfig(fmt.Sprintf("    quota: %dB\n    billing: %s", quota, billing))
	}
	r := newRig(t, cfg(300_000, "sum"))
	r.oneSegmentPerPacket()
	e := r.enforcer()
	r.run(e)
	r.tcp(443, 40_000, 80_000)
	r.quiesce("p443")
	srv := r.serve(443)
	use := statusItem(t, e, "443")
	pin, pout := use.PeriodIn, use.PeriodOut
	period := func(when string) {
		t.Helper()
		it := statusItem(t, e, "443")
		if it.PeriodIn != pin || it.PeriodOut != pout || !it.PeriodStart.Equal(use.PeriodStart) {
			t.Errorf("%s: period in %d out %d from %s, want in %d out %d from %s", when,
				it.PeriodIn, it.PeriodOut, it.PeriodStart, pin, pout, use.PeriodStart)
		}
	}
	// consumed checks what the kernel quota objects hold.
	consumed := func(when string, want map[string]uint64) {
		t.Helper()
		got := map[string]uint64{}
		for name, q := range r.quotas("p443") {
			got[name] = q.Consumed
			if want[name] != 0 && q.Limit == 0 {
				t.Errorf("%s: quota %s has no limit", when, name)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: kernel quotas consumed %v, want %v", when, got, want)
		}
	}
	consumed("start", map[string]uint64{"p443_q0_sum": pin + pout})

	r.reload(e, cfg(600_000, "sum"))
	period("quota raised")
	consumed("quota raised", map[string]uint64{"p443_q0_sum": pin + pout})
	if q := r.quotas("p443")["p443_q0_sum"]; q.Limit != 600_000 {
		t.Errorf("quota limit %d after the raise", q.Limit)
	}

	r.reload(e, cfg(600_000, "max"))
	period("billing max")
	consumed("billing max", map[string]uint64{"p443_q1_max_in": pin, "p443_q1_max_out": pout})

	r.reload(e, cfg(600_000, "out"))
	period("billing out")
	consumed("billing out", map[string]uint64{"p443_q2_out": pout})

	// Lowered below the use: blocked as soon as the reload returns.
	r.reload(e, cfg(int(pout)-1000, "out"))
	period("quota lowered")
	if b := statusItem(t, e, "443").Blocked; b != "quota" {
		t.Errorf("quota lowered below the use: blocked %q", b)
	}
	if _, _, err := srv.dial(300 * time.Millisecond); err == nil {
		t.Error("quota lowered below the use: a new connection was opened")
	}
	// A restart does not lift that block either.
	r.reload(e, cfg(int(pout)-1000, "out"))
	if b := statusItem(t, e, "443").Blocked; b != "quota" {
		t.Errorf("reload without a change: blocked %q", b)
	}

	// Raised above the use: unblocked as soon as the reload returns, and
	// what the period may still use is the new quota minus the use.
	const raised = 300_000
	r.reload(e, cfg(raised, "out"))
	period("quota raised again")
	if b := statusItem(t, e, "443").Blocked; b != "" {
		t.Errorf("quota raised above the use: blocked %q", b)
	}
	srv.mustFlow()
	r.exhaust(e, srv, "443", "p443", layout.Out)
	within1Segment(t, "raised quota", statusItem(t, e, "443").PeriodOut, raised)

	// A billing mode under which the use is below the quota unblocks too.
	it := statusItem(t, e, "443")
	r.reload(e, cfg(raised, "in"))
	if b := statusItem(t, e, "443").Blocked; it.PeriodIn < raised && b != "" {
		t.Errorf("billing in with %d bytes in of %d: blocked %q", it.PeriodIn, raised, b)
	}
	srv.mustFlow()
}

// TestBadConfigChangesNothing: a config that does not validate is refused
// by New and by Reload (and by the file watcher), and the kernel table stays
// exactly as it was.
func TestBadConfigChangesNothing(t *testing.T) {
	testutil.RequireBinary(t, "nft")
	good := `host:
  quota: 10GB
ports:
  - ports: "443"
    quota: 1GB
    billing: max
    reset_day: 15
    expires: 2099-01-01
  - ports: "8080"
`
	r := newRig(t, good)
	e := r.enforcer()
	// The table as nft lists it, without counter values and quota use:
	// stray packets of the fresh link (IPv6 multicast reports) may still
	// move the host counters.
	counts, used := regexp.MustCompile(`packets \d+ bytes \d+`), regexp.MustCompile(` used \d+ [a-z]*bytes`)
	table := func() string {
		out := r.pair.Server.Run(t, "nft", "list", "table", "inet", layout.Table)
		return used.ReplaceAllString(counts.ReplaceAllString(out, "packets … bytes …"), "")
	}
	want := table()
	item := func(opts string) string { return "ports:\n  - ports: \"443\"\n" + opts }
	for _, tc := range []struct{ name, config, want string }{
		{"negative quota", item("    quota: -5GB\n"), `config.yaml:3: item "443": quota: invalid size "-5GB"`},
		{"unparsable quota", item("    quota: lots\n"), `config.yaml:3: item "443": quota: invalid size "lots"`},
		{"reset day 32", item("    reset_day: 32\n"), `config.yaml:3: item "443": reset_day: "32" is not a day of the month`},
		{"reset day -1", item("    reset_day: -1\n"), `config.yaml:3: item "443": reset_day: "-1" is not a day`},
		{"billing mode", item("    billing: both\n"), `config.yaml:3: item "443": billing: unknown billing mode "both"`},
		{"expiry", item("    expires: end of 2026\n"), `config.yaml:3: item "443": expires: "end of 2026" is not a date`},
		{"expiry day", item("    expires: 2026-02-30\n"), `expires: "2026-02-30" is not a date`},
		{"quota on exempt port", "ports:\n  - ports: \"22\"\n    quota: 1GB\n", `config.yaml:2: item "22": quota: port 22 is exempt`},
		{"host quota", "host:\n  quota: -1TB\n", `config.yaml:2: item "host": quota: invalid size "-1TB"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r.writeConfig(tc.config)
			err := e.Reload()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("reload: error %v, want one containing %q", err, tc.want)
			} else if strings.Contains(err.Error(), "\n") {
				t.Errorf("reload: more than one error for one problem:\n%v", err)
			}
			if _, err := New(Options{ConfigPath: r.cfg, NetNS: r.pair.Server.Fd(), Logger: r.logger(),
				StateDir: filepath.Join(r.dir, "state"), AdminSocket: filepath.Join(r.dir, "admin.sock")}); err == nil ||
				!strings.Contains(err.Error(), tc.want) {
				t.Errorf("new: error %v, want one containing %q", err, tc.want)
			}
			if got := table(); got != want {
				t.Errorf("the table changed:\n%s\nwas:\n%s", got, want)
			}
		})
	}

	// The running enforcer's file watcher refuses a bad edit the same way,
	// and still applies the next good one.
	r.writeConfig(good)
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	r.run(e)
	errs := func() uint64 { st, _ := e.Status(); return st.Stats.ReconcileErrors }
	before := errs()
	r.writeConfig(item("    billing: both\n"))
	testnet.WaitFor(t, 5*time.Second, "the watcher to see the bad file", func() bool { return errs() > before })
	if got := table(); got != want {
		t.Errorf("a bad file changed the table:\n%s\nwas:\n%s", got, want)
	}
	r.writeConfig(strings.Replace(good, "quota: 1GB", "quota: 2GB", 1))
	applied := regexp.MustCompile(`quota p443_q0_max_in \{\s*over 1953125 kbytes`) // 2 GB
	for deadline := time.Now().Add(5 * time.Second); !applied.MatchString(table()); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the watcher did not apply the good file:\n%s", table())
		}
	}
	if _, err := os.Stat(filepath.Join(r.dir, "state", "history.jsonl")); err == nil {
		t.Error("a config change wrote reset history")
	}
}

// TestReloadStartsNewQuotasFromCurrentCounters: a reload reads the counters
// of the items it changes (one by one, or in one dump when there are many),
// not a dump of all of them. An item given a new billing mode gets quota
// objects that start from its counters as the kernel holds them now, with
// the traffic no checkpoint or status read has seen.
func TestReloadStartsNewQuotasFromCurrentCounters(t *testing.T) {
	for _, others := range []int{0, maxCounterLookups} {
		t.Run(fmt.Sprintf("changed=%d", others+1), func(t *testing.T) {
			cfg := func(billing string) string {
				var b strings.Builder
				b.WriteString(quotaConfig("    quota: 10MB\n    billing: " + billing))
				for i := range others {
					fmt.Fprintf(&b, "  - ports: \"%d\"\n    quota: 1GB\n    billing: %s\n", 20000+i, billing)
				}
				return b.String()
			}
			r := newRig(t, cfg("sum"))
			e := r.enforcer()
			r.run(e)
			r.tcp(443, 40_000, 80_000)
			r.tcp(8080, 20_000, 20_000)
			r.quiesce("p443")
			r.quiesce("p8080")
			in, out := r.counters("p443")
			if in < 40_000 || out < 80_000 {
				t.Fatalf("counted in %d out %d", in, out)
			}
			r.reload(e, cfg("max"))
			got := map[string]uint64{}
			for name, q := range r.quotas("p443") {
				got[name] = q.Consumed
			}
			if want := map[string]uint64{"p443_q1_max_in": in, "p443_q1_max_out": out}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("new quota objects consumed %v, want the counters now: %v", got, want)
			}
			// The unchanged item kept its kernel counters.
			if in8, out8 := r.counters("p8080"); in8 < 20_000 || out8 < 20_000 {
				t.Errorf("the unchanged item's counters went to in %d out %d", in8, out8)
			}
		})
	}
}
