package enforcer

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

func TestCheckpointDelayIsOnTheGrid(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	const iv = 10 * time.Second
	for _, tc := range []struct {
		name     string
		savedAt  time.Time
		now      time.Time
		interval time.Duration
		want     time.Duration
	}{
		{"first start", time.Time{}, t0, iv, iv},
		{"restart 3 s after a checkpoint", t0, t0.Add(3 * time.Second), iv, 7 * time.Second},
		{"restart 37 s after a checkpoint", t0, t0.Add(37 * time.Second), iv, 3 * time.Second},
		{"restart on a grid point", t0, t0.Add(20 * time.Second), iv, iv},
		{"clock stepped back", t0, t0.Add(-time.Hour), iv, iv},
	} {
		if got := checkpointDelay(tc.savedAt, tc.now, tc.interval); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestCheckpointScheduleSurvivesPowerLosses: a start that restores the
// counters from the checkpoint (the table gone: a power loss) schedules the
// next periodic checkpoint on the grid anchored at the loaded checkpoint's
// time, at most an interval after it, not a whole interval after the
// start. So in a crash loop that kills the daemon within an interval of
// each start, a checkpoint still comes whenever two runs together outlive
// an interval.
func TestCheckpointScheduleSurvivesPowerLosses(t *testing.T) {
	testutil.RequireBinary(t, "nft")
	r := newRig(t, "checkpoint_interval: 1m\nports:\n  - ports: \"443\"\n")
	t0 := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: t0}
	r.enforcer(withClock(clk))
	last := t0 // the last save: each start ends with one
	for i, after := range []time.Duration{37 * time.Second, 71 * time.Second, 3 * time.Second} {
		r.pair.Server.Run(t, "nft", "flush", "ruleset")
		now := last.Add(after)
		clk.Set(now)
		e := r.enforcer(withClock(clk))
		if want := time.Minute - after%time.Minute; e.firstCheckpoint != want {
			t.Errorf("start %d, %s after the checkpoint: first periodic checkpoint in %s, want %s", i, after, e.firstCheckpoint, want)
		}
		last = now
	}
}

// TestReloadedCheckpointIntervalTakesEffect: checkpoint_interval changed in
// the file applies at the reload, counted from the last checkpoint; what a
// reload cannot change is named in the log.
func TestReloadedCheckpointIntervalTakesEffect(t *testing.T) {
	testutil.RequireBinary(t, "nft")
	r := newRig(t, "checkpoint_interval: 1h\nports:\n  - ports: \"443\"\n")
	sock := func(name string) string { return "admin_socket: " + filepath.Join(r.dir, name) + "\n" }
	r.writeConfig(sock("a.sock") + "checkpoint_interval: 1h\nports:\n  - ports: \"443\"\n")
	var log testutil.SyncBuffer
	e := r.enforcer(func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&log, nil))
		o.AdminSocket = "" // the file's, which a reload cannot change
	})
	r.run(e)
	saved := func() uint64 {
		st, err := state.ReadFile(filepath.Join(r.dir, "state", state.FileName))
		if err != nil {
			t.Fatal(err)
		}
		return st.Items[0].In.Bytes
	}
	r.writeConfig(sock("b.sock") + "checkpoint_interval: 1s\nports:\n  - ports: \"443\"\n")
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	r.tcp(443, 100_000, 0)
	testnet.WaitFor(t, 5*time.Second, "a periodic checkpoint at the reloaded interval", func() bool { return saved() >= 100_000 })
	if !strings.Contains(log.String(), `msg="a reload cannot change these settings; they take effect at the next restart" settings=admin_socket`) {
		t.Errorf("the log does not name admin_socket as needing a restart:\n%s", log.String())
	}
	if e.AdminSocket() != filepath.Join(r.dir, "a.sock") {
		t.Errorf("the reload moved the admin socket to %s", e.AdminSocket())
	}
}
