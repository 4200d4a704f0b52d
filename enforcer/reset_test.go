package enforcer

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"port-traffic-dog/enforcer/admin"
	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
)

// fakeClock is the enforcer's injected clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func withClock(c *fakeClock) func(*Options) { return func(o *Options) { o.Now = c.Now } }

// serveAdmin serves the enforcer's admin API on its socket until the test
// ends and returns a client for it.
func (r *rig) serveAdmin(e *Enforcer) *adminapi.Client {
	return r.serveAdminWith(e, admin.Options{})
}

func (r *rig) serveAdminWith(e *Enforcer, opts admin.Options) *adminapi.Client {
	r.t.Helper()
	if opts.Logger == nil {
		opts.Logger = r.logger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- admin.Serve(ctx, e, opts) }()
	r.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			r.t.Errorf("admin API: %v", err)
		}
	})
	c := adminapi.NewClient(e.AdminSocket())
	testnet.WaitFor(r.t, 5*time.Second, "the admin socket", func() bool {
		_, err := c.Status(context.Background())
		return err == nil
	})
	return c
}

func (r *rig) history() []state.Reset {
	r.t.Helper()
	h, skipped, err := state.ReadHistory(r.dir + "/state")
	if err != nil || skipped != 0 {
		r.t.Fatalf("read history: %v (%d lines skipped)", err, skipped)
	}
	return h
}

func statusItem(t *testing.T, e *Enforcer, ports string) adminapi.Item {
	t.Helper()
	st, err := e.Status()
	if err != nil {
		t.Fatal(err)
	}
	if ports == "host" {
		return st.Host
	}
	for _, it := range st.Items {
		if it.Ports == ports {
			return it
		}
	}
	t.Fatalf("no item %q in the status", ports)
	return adminapi.Item{}
}

// mustFlow checks that a new connection to srv carries data both ways.
func (s *tcpServer) mustFlow() {
	s.r.t.Helper()
	c, srv := s.mustDial()
	if err := exchange(c, srv, 50_000, 5*time.Second); err != nil {
		s.r.t.Errorf("%s: %v", s.addr, err)
	}
}

func TestManualResetUnblocksAndRecords(t *testing.T) {
	const q = 300_000
	r := newRig(t, quotaConfig("    quota: 300000B\n    billing: sum\n    remark: alice"))
	r.oneSegmentPerPacket()
	e := r.enforcer()
	r.run(e)
	api := r.serveAdmin(e)
	ctx := context.Background()
	start := statusItem(t, e, "443").PeriodStart
	srv := r.serve(443)
	r.exhaust(e, srv, "443", "p443", layout.Out)

	in, out := r.counters("p443")
	before := r.now()
	resp, err := api.Reset(ctx, adminapi.ResetRequest{Ports: []string{"443"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Resets) != 1 {
		t.Fatalf("reset answered %+v", resp.Resets)
	}
	got := resp.Resets[0]
	want := state.Reset{Time: got.Time, ID: "p443", Ports: "443", Remark: "alice", Reason: state.ReasonManual,
		PeriodStart: start.UTC(), InBytes: in, OutBytes: out, Billable: in + out, Billing: "sum", Quota: q}
	if got != want {
		t.Errorf("history entry\n got %+v\nwant %+v", got, want)
	}
	if got.Time.Before(before) || got.Time.After(r.now()) {
		t.Errorf("reset time %s, want about %s", got.Time, before)
	}
	if h := r.history(); len(h) != 1 || h[0] != got {
		t.Errorf("history file: %+v", h)
	}
	if h, err := api.History(ctx, []string{"443"}); err != nil || len(h.Resets) != 1 || h.Resets[0] != got {
		t.Errorf("history over the API: %+v, %v", h, err)
	}
	if h, err := api.History(ctx, []string{"8080"}); err != nil || len(h.Resets) != 0 {
		t.Errorf("history of 8080: %+v, %v", h, err)
	}

	// Unblocked at once, with a whole quota again: the next block comes
	// after another full quota of traffic.
	if b := blocked(t, e, "443"); b != "" {
		t.Errorf("after the reset: blocked %q", b)
	}
	it := statusItem(t, e, "443")
	if it.PeriodIn != 0 || it.PeriodOut != 0 || it.Billable != 0 || !it.PeriodStart.Equal(got.Time) {
		t.Errorf("period after the reset: %+v", it)
	}
	srv.mustFlow()
	r.exhaust(e, srv, "443", "p443", layout.Out)
	in2, out2 := r.counters("p443")
	within1Segment(t, "after the reset", in2-in+out2-out, q)

	// Unknown items are refused, changing nothing; --all resets every item
	// and the host.
	if _, err := api.Reset(ctx, adminapi.ResetRequest{Ports: []string{"9999"}}); err == nil || !strings.Contains(err.Error(), `no item "9999"`) {
		t.Errorf("reset of an unknown item: %v", err)
	}
	if b := blocked(t, e, "443"); b != "quota" {
		t.Errorf("a refused reset unblocked 443: %q", b)
	}
	all, err := api.Reset(ctx, adminapi.ResetRequest{All: true})
	if err != nil {
		t.Fatal(err)
	}
	var ports []string
	for _, r := range all.Resets {
		ports = append(ports, r.Ports)
	}
	if strings.Join(ports, " ") != "443 8080 host" {
		t.Errorf("reset --all reset %v", ports)
	}
	if n := len(r.history()); n != 4 {
		t.Errorf("%d history entries, want 4", n)
	}
	srv.mustFlow()
}

// TestRestartAndRebootKeepQuotaUse: a process restart in the middle of a
// period keeps the quota use and the block (the kernel keeps them); a reboot
// (the ruleset flushed, then a start) restores both from the checkpoint.
func TestRestartAndRebootKeepQuotaUse(t *testing.T) {
	const q = 300_000
	r := newRig(t, `checkpoint_interval: 1h
ports:
  - ports: "443"
    quota: 300000B
    billing: out
  - ports: "8443"
    quota: 300000B
    billing: sum
`)
	r.oneSegmentPerPacket()
	e := r.enforcer()
	stop := r.run(e)
	r.tcp(443, 0, 100_000)
	r.quiesce("p443")
	blockedSrv := r.serve(8443)
	r.exhaust(e, blockedSrv, "8443", "p8443", layout.In)

	// Restart: stop (final checkpoint), start again on the live table.
	stop()
	use := statusItem(t, e, "443").PeriodOut
	e = r.enforcer()
	stop = r.run(e)
	if got := statusItem(t, e, "443").PeriodOut; got != use {
		t.Errorf("restart: period out %d, was %d", got, use)
	}
	if b := blocked(t, e, "8443"); b != "quota" {
		t.Errorf("restart: 8443 blocked %q", b)
	}
	c, s := blockedSrv.mustDialOrNil()
	if c != nil {
		r.assertBlocked(blockedSrv, "p8443", c, s)
	}
	r.tcp(443, 0, 100_000)
	r.quiesce("p443")

	// Reboot: the table is gone; the start restores counters, quota use and
	// block from the last checkpoint.
	stop()
	use = statusItem(t, e, "443").PeriodOut
	r.pair.Server.Run(t, "nft", "flush", "ruleset")
	e = r.enforcer()
	r.run(e)
	if got := statusItem(t, e, "443").PeriodOut; got != use {
		t.Errorf("reboot: period out %d, was %d", got, use)
	}
	if b := blocked(t, e, "8443"); b != "quota" {
		t.Errorf("reboot: 8443 blocked %q", b)
	}
	if _, _, err := blockedSrv.dial(300 * time.Millisecond); err == nil {
		t.Error("reboot: 8443 accepts connections")
	}
	// The restored quota object carries the period's use: what gets through
	// in the whole period, across the restart and the reboot, is the quota.
	srv := r.serve(443)
	r.exhaust(e, srv, "443", "p443", layout.Out)
	_, out := r.counters("p443")
	within1Segment(t, "period across restart and reboot", out, q)
}

// mustDialOrNil returns a connection if the item still accepts one (a test
// failure then), or nil.
func (s *tcpServer) mustDialOrNil() (client, server net.Conn) {
	s.r.t.Helper()
	c, srv, err := s.dial(300 * time.Millisecond)
	if err == nil {
		s.r.t.Errorf("%s: a blocked item accepted a connection", s.addr)
		return c, srv
	}
	return nil, nil
}

// TestAutomaticResetOnTheResetDay: with an injected clock, the reset runs
// at 00:00 of the reset day in the configured zone, once, whatever the clock
// does afterwards; a reset missed while the host was down runs once at
// start-up.
func TestAutomaticResetOnTheResetDay(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Date(2026, 3, 31, 23, 59, 0, 0, sh)}
	r := newRig(t, `checkpoint_interval: 1h
timezone: Asia/Shanghai
ports:
  - ports: "443"
    quota: 300000B
    billing: sum
    reset_day: 1
  - ports: "8080"
    reset_day: 0
`)
	r.oneSegmentPerPacket()
	e := r.enforcer(withClock(clk))
	stop := r.run(e)
	start := clk.Now()
	aprilFirst := time.Date(2026, 4, 1, 0, 0, 0, 0, sh)
	if it := statusItem(t, e, "443"); !it.NextReset.Equal(aprilFirst) || !it.PeriodStart.Equal(start) {
		t.Fatalf("schedule: period from %s, next reset %s", it.PeriodStart, it.NextReset)
	}
	if it := statusItem(t, e, "8080"); !it.NextReset.IsZero() {
		t.Errorf("reset_day 0 has a next reset: %s", it.NextReset)
	}
	srv := r.serve(443)
	r.exhaust(e, srv, "443", "p443", layout.Out)
	in, out := r.counters("p443")

	// One second before midnight in Shanghai nothing happens (16:00 UTC is
	// the reset, not 00:00 UTC).
	clk.Set(aprilFirst.Add(-time.Second))
	settle()
	if h := r.history(); len(h) != 0 {
		t.Fatalf("reset before the reset day: %+v", h)
	}
	clk.Set(aprilFirst)
	testnet.WaitFor(t, 5*time.Second, "the automatic reset", func() bool { return len(r.history()) == 1 })
	h := r.history()[0]
	if h.Reason != state.ReasonAuto || !h.Time.Equal(aprilFirst) || !h.PeriodStart.Equal(start) ||
		h.InBytes != in || h.OutBytes != out || h.Billable != in+out || h.Ports != "443" {
		t.Errorf("history entry %+v (counters in %d out %d)", h, in, out)
	}
	mayFirst := time.Date(2026, 5, 1, 0, 0, 0, 0, sh)
	if it := statusItem(t, e, "443"); it.Blocked != "" || !it.PeriodStart.Equal(aprilFirst) || !it.NextReset.Equal(mayFirst) || it.PeriodIn+it.PeriodOut != 0 {
		t.Errorf("after the reset: %+v", it)
	}
	srv.mustFlow()

	// NTP steps the clock back over the reset and forward again: no second
	// reset.
	clk.Set(aprilFirst.Add(-30 * time.Second))
	settle()
	clk.Set(aprilFirst.Add(30 * time.Second))
	settle()
	if n := len(r.history()); n != 1 {
		t.Errorf("%d resets after the clock stepped back and forth, want 1", n)
	}

	// Blocked again, then the host is down over two reset days (May 1 and
	// June 1) and a reboot: one reset at start-up, reason auto, unblocked.
	r.exhaust(e, srv, "443", "p443", layout.Out)
	stop()
	r.pair.Server.Run(t, "nft", "flush", "ruleset")
	back := time.Date(2026, 6, 8, 9, 30, 0, 0, sh)
	clk.Set(back)
	e = r.enforcer(withClock(clk))
	stop = r.run(e)
	all := r.history()
	if len(all) != 2 || all[1].Reason != state.ReasonAuto || !all[1].Time.Equal(back) || !all[1].PeriodStart.Equal(aprilFirst) {
		t.Fatalf("history after a missed reset: %+v", all)
	}
	julyFirst := time.Date(2026, 7, 1, 0, 0, 0, 0, sh)
	if it := statusItem(t, e, "443"); it.Blocked != "" || !it.NextReset.Equal(julyFirst) || !it.PeriodStart.Equal(back) {
		t.Errorf("after the missed reset: %+v", it)
	}
	srv.mustFlow()
	settle()
	// A restart right after does not reset again.
	stop()
	e = r.enforcer(withClock(clk))
	r.run(e)
	settle()
	if n := len(r.history()); n != 2 {
		t.Errorf("%d history entries after another restart, want 2", n)
	}
}

// TestManualResetAtTheResetInstant: a `dog reset` at the very instant the
// automatic reset falls due (00:00:00 of the reset day, before the loop's
// next tick) replaces it, as one a moment later does: the next reset moves
// a month on, and the loop does not follow with a second, empty one.
func TestManualResetAtTheResetInstant(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 12, 31, 12, 0, 0, 0, time.UTC)}
	r := newRig(t, "checkpoint_interval: 1h\ntimezone: UTC\nports:\n  - ports: \"443\"\n")
	e := r.enforcer(withClock(clk))
	newYear := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	clk.Set(newYear)
	if _, err := e.Reset([]string{"443"}, false, state.ReasonManual); err != nil {
		t.Fatal(err)
	}
	e.tick()
	if h := r.history(); len(h) != 1 || h[0].Reason != state.ReasonManual {
		t.Errorf("history: %+v, want the one manual reset", h)
	}
	if it := statusItem(t, e, "443"); !it.PeriodStart.Equal(newYear) || !it.NextReset.Equal(newYear.AddDate(0, 1, 0)) {
		t.Errorf("after the reset: period from %s, next reset %s", it.PeriodStart, it.NextReset)
	}
}

// settle lets the enforcer's loop tick a few times (every 50 ms in tests).
func settle() { time.Sleep(300 * time.Millisecond) }

// TestExpiry: an item is blocked both ways from 00:00 of its expiry day in
// the configured zone; a reset does not lift it.
func TestExpiry(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	expiry := time.Date(2026, 4, 1, 0, 0, 0, 0, sh)
	clk := &fakeClock{t: expiry.Add(-time.Second)}
	r := newRig(t, `timezone: Asia/Shanghai
ports:
  - ports: "443"
    expires: 2026-04-01
  - ports: "8080"
`)
	e := r.enforcer(withClock(clk))
	r.run(e)
	srv := r.serve(443)
	c, s := srv.mustDial()
	if err := exchange(c, s, 10_000, 5*time.Second); err != nil {
		t.Fatalf("before the expiry: %v", err)
	}
	if it := statusItem(t, e, "443"); it.Blocked != "" || !it.Expires.Equal(expiry) {
		t.Errorf("before the expiry: %+v", it)
	}
	clk.Set(expiry)
	testnet.WaitFor(t, 5*time.Second, "443 to expire", func() bool { return blocked(t, e, "443") == "expired" })
	r.assertBlocked(srv, "p443", c, s)
	r.tcp(8080, 50_000, 50_000)
	if _, err := e.Reset([]string{"443"}, false, state.ReasonManual); err != nil {
		t.Fatal(err)
	}
	if b := blocked(t, e, "443"); b != "expired" {
		t.Errorf("after a reset: blocked %q", b)
	}
	if _, _, err := srv.dial(300 * time.Millisecond); err == nil {
		t.Error("an expired item accepted a connection after a reset")
	}
}

// crashPoint checkpoints e and returns crash, which puts that checkpoint
// back as the state file: what a restart finds when the saves after it
// were lost (a kill before them, a full disk).
func (r *rig) crashPoint(e *Enforcer) (crash func()) {
	r.t.Helper()
	if _, err := e.Checkpoint(); err != nil {
		r.t.Fatal(err)
	}
	path := filepath.Join(r.dir, "state", state.FileName)
	before, err := os.ReadFile(path)
	if err != nil {
		r.t.Fatal(err)
	}
	return func() {
		r.t.Helper()
		if err := os.WriteFile(path, before, state.FileMode); err != nil {
			r.t.Fatal(err)
		}
	}
}

// TestResetNotRepeatedAfterACrashBeforeItsSave: the enforcer dies after an
// automatic reset reached the history but before the state file took it
// (a SIGKILL during the apply or the save, or a save refused by a full
// disk). The restart finds the reset due again by the old state file: the
// history keeps one entry for the period, the state continues the period
// that reset started (its bytes since then in it), and the next reset is a
// month away.
func TestResetNotRepeatedAfterACrashBeforeItsSave(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 3, 31, 23, 59, 0, 0, time.UTC)}
	r := newRig(t, `checkpoint_interval: 1h
timezone: UTC
ports:
  - ports: "443"
    quota: 100MB
    reset_day: 1
`)
	e := r.enforcer(withClock(clk))
	start := clk.Now()
	r.tcp(443, 200_000, 100_000)
	r.quiesce("p443")
	crash := r.crashPoint(e)
	in, out := r.counters("p443")

	aprilFirst := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	clk.Set(aprilFirst)
	e.tick()
	if h := r.history(); len(h) != 1 || !h[0].PeriodStart.Equal(start) || h[0].InBytes != in || h[0].OutBytes != out {
		t.Fatalf("history after the reset: %+v (counters in %d out %d)", h, in, out)
	}
	r.tcp(443, 50_000, 20_000) // the new period's
	r.quiesce("p443")
	in2, out2 := r.counters("p443")

	crash() // the state file is the one before the reset
	clk.Set(aprilFirst.Add(5 * time.Second))
	e = r.enforcer(withClock(clk))
	if h := r.history(); len(h) != 1 {
		t.Errorf("the reset was recorded %d times: %+v", len(h), h)
	}
	it := statusItem(t, e, "443")
	mayFirst := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	if !it.PeriodStart.Equal(aprilFirst) || !it.NextReset.Equal(mayFirst) ||
		it.PeriodIn != in2-in || it.PeriodOut != out2-out {
		t.Errorf("after the restart: period from %s (want %s), next reset %s (want %s), period in %d out %d (want %d %d)",
			it.PeriodStart, aprilFirst, it.NextReset, mayFirst, it.PeriodIn, it.PeriodOut, in2-in, out2-out)
	}
}

// TestManualResetNotLostInACrashBeforeItsSave: the enforcer dies after a
// `dog reset` reached the history but before the state file took it. The
// restart takes the reset over from the history: the state is what the
// reset made it (the new period from the reset's time, its bytes since then
// in it, the billing calendar as the reset left it), one history entry for
// the period, nothing taken over again at the next restart, and a repeated
// `dog reset` bills only the new period. Here the reset is of an item whose
// automatic reset was overdue (the manual one replaces it, and moves its
// next reset) and of the whole host, whose next reset it leaves.
func TestManualResetNotLostInACrashBeforeItsSave(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	r := newRig(t, `checkpoint_interval: 1h
timezone: UTC
host:
  quota: 1GB
  reset_day: 20
ports:
  - ports: "443"
    quota: 100MB
    reset_day: 15
`)
	e := r.enforcer(withClock(clk))
	r.tcp(443, 200_000, 100_000)
	r.quiesce("p443")
	crash := r.crashPoint(e)

	resetAt := time.Date(2026, 3, 16, 8, 0, 0, 0, time.UTC) // 443's reset of the 15th not run yet
	clk.Set(resetAt)
	if _, err := e.Reset([]string{"443", "host"}, false, state.ReasonManual); err != nil {
		t.Fatal(err)
	}
	// What the lost save held: the state the reset made.
	saved, err := state.ReadFile(filepath.Join(r.dir, "state", state.FileName))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]state.Item{layout.HostID: *saved.Host}
	for _, it := range saved.Items {
		want[it.ID] = it
	}
	aprilFifteenth, marchTwentieth := time.Date(2026, 4, 15, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC)
	if p, h := want["p443"], want[layout.HostID]; !p.PeriodStart.Equal(resetAt) || !p.NextReset.Equal(aprilFifteenth) ||
		!h.PeriodStart.Equal(resetAt) || !h.NextReset.Equal(marchTwentieth) {
		t.Fatalf("the reset made 443 %s → %s, the host %s → %s", p.PeriodStart, p.NextReset, h.PeriodStart, h.NextReset)
	}
	in, out := want["p443"].BaseIn.Bytes, want["p443"].BaseOut.Bytes
	r.tcp(443, 50_000, 20_000) // the new period's
	r.quiesce("p443")
	in2, out2 := r.counters("p443")

	crash() // the state file is the one before the reset
	// stateOf is what a restart made of the items' billing periods.
	stateOf := func(e *Enforcer) map[string]state.Item {
		e.mu.Lock()
		defer e.mu.Unlock()
		m := map[string]state.Item{}
		for _, it := range e.all() {
			m[it.st.ID] = it.st
		}
		return m
	}
	for restart := 1; restart <= 2; restart++ {
		clk.Set(resetAt.Add(time.Duration(restart) * 5 * time.Second))
		e = r.enforcer(withClock(clk))
		if h := r.history(); len(h) != 2 {
			t.Errorf("restart %d: %d history entries, want the reset's 2: %+v", restart, len(h), h)
		}
		got := stateOf(e)
		for id, w := range want {
			g := got[id]
			if !g.PeriodStart.Equal(w.PeriodStart) || !g.NextReset.Equal(w.NextReset) || g.QuotaGen != w.QuotaGen ||
				g.BaseIn.Bytes != w.BaseIn.Bytes || g.BaseOut.Bytes != w.BaseOut.Bytes || g.QuotaBlocked {
				t.Errorf("restart %d: %s period from %s, next reset %s, quota generation %d, bases %d/%d, blocked %v; the reset made it %s, %s, %d, %d/%d",
					restart, id, g.PeriodStart, g.NextReset, g.QuotaGen, g.BaseIn.Bytes, g.BaseOut.Bytes, g.QuotaBlocked,
					w.PeriodStart, w.NextReset, w.QuotaGen, w.BaseIn.Bytes, w.BaseOut.Bytes)
			}
		}
		if it := statusItem(t, e, "443"); it.PeriodIn != in2-in || it.PeriodOut != out2-out {
			t.Errorf("restart %d: period in %d out %d, want %d %d", restart, it.PeriodIn, it.PeriodOut, in2-in, out2-out)
		}
	}
	// `dog reset` again: the new period, not the one the first reset ended.
	again, err := e.Reset([]string{"443"}, false, state.ReasonManual)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || !again[0].PeriodStart.Equal(resetAt) || again[0].InBytes != in2-in || again[0].OutBytes != out2-out {
		t.Errorf("the repeated reset recorded %+v, want the period from %s with %d/%d bytes", again, resetAt, in2-in, out2-out)
	}
}

// TestResetsInARowTakenOver: two resets the state missed (the saves of
// both lost: a full disk, then a crash) are taken over in turn, the second
// ending the period the first began, so the state continues the period of
// the last one.
func TestResetsInARowTakenOver(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)}
	r := newRig(t, "checkpoint_interval: 1h\ntimezone: UTC\nports:\n  - ports: \"443\"\n")
	e := r.enforcer(withClock(clk))
	crash := r.crashPoint(e)
	var at [2]time.Time
	var in, out uint64
	for i := range at {
		r.tcp(443, 50_000, 20_000)
		r.quiesce("p443")
		at[i] = clk.Now().Add(time.Minute)
		clk.Set(at[i])
		if _, err := e.Reset([]string{"443"}, false, state.ReasonManual); err != nil {
			t.Fatal(err)
		}
		in, out = r.counters("p443")
	}
	r.tcp(443, 30_000, 10_000)
	r.quiesce("p443")
	in2, out2 := r.counters("p443")

	crash()
	clk.Set(at[1].Add(5 * time.Second))
	e = r.enforcer(withClock(clk))
	if h := r.history(); len(h) != 2 || !h[1].PeriodStart.Equal(at[0]) {
		t.Errorf("history: %+v", h)
	}
	if it := statusItem(t, e, "443"); !it.PeriodStart.Equal(at[1]) || it.PeriodIn != in2-in || it.PeriodOut != out2-out {
		t.Errorf("after the restart: period from %s (want %s), in %d out %d (want %d %d)", it.PeriodStart, at[1],
			it.PeriodIn, it.PeriodOut, in2-in, out2-out)
	}
}

// TestResetOfAPortOfARange: a port of a range or group item is not an
// item; the refusal names the item it belongs to, and resets nothing.
func TestResetOfAPortOfARange(t *testing.T) {
	r := newRig(t, "ports:\n  - ports: \"5000-5100\"\n  - ports: \"443,8443\"\n")
	e := r.enforcer()
	r.run(e)
	for _, c := range []struct{ ports, port, item string }{{"5005", "5005", "5000-5100"}, {"8443", "8443", "443,8443"}} {
		_, err := e.Reset([]string{c.ports}, false, state.ReasonManual)
		var ce *adminapi.CodedError
		if !errors.As(err, &ce) || ce.Code != adminapi.CodeInItem || !slices.Equal(ce.Args, []string{c.ports, c.port, c.item}) {
			t.Errorf("reset %s: %v (%+v)", c.ports, err, ce)
		}
	}
	if h := r.history(); len(h) != 0 {
		t.Errorf("history after refused resets: %+v", h)
	}
	if _, err := e.Reset([]string{"9999"}, false, state.ReasonManual); err == nil || !strings.Contains(err.Error(), `no item "9999" is configured`) {
		t.Errorf("reset 9999: %v", err)
	}
}
