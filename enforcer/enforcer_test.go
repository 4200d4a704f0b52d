package enforcer

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

type rig struct {
	t    *testing.T
	pair *testnet.Pair
	dir  string
	cfg  string
	now  func() time.Time // the enforcers' clock, unless a test gives its own
}

// rigEpoch is where a rig's clock starts: the 5th, between 00:00 on the 5th
// and 02:00 on the 6th in every zone, so days from any reset day the tests
// use (1, 10, 15, 20, 31) and from any DST change. On the real clock a test
// that ran over a reset day's midnight (the host's zone by default) had a
// reset in the middle of what it checks.
var rigEpoch = time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC)

func newRig(t *testing.T, config string) *rig {
	t.Helper()
	r := &rig{t: t, pair: testnet.NewPair(t), dir: t.TempDir(), now: testutil.RunningClock(rigEpoch)}
	r.cfg = filepath.Join(r.dir, "config.yaml")
	r.writeConfig(config)
	return r
}

func (r *rig) writeConfig(body string) {
	r.t.Helper()
	if err := os.WriteFile(r.cfg, []byte(body), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// enforcer starts an enforcer in the server namespace, as a restart would.
func (r *rig) enforcer(opts ...func(*Options)) *Enforcer {
	r.t.Helper()
	o := Options{ConfigPath: r.cfg, NetNS: r.pair.Server.Fd(), Logger: r.logger(), Now: r.now,
		StateDir: filepath.Join(r.dir, "state"), AdminSocket: filepath.Join(r.dir, "admin.sock"),
		TickInterval: 50 * time.Millisecond, ConfigPollInterval: 100 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	e, err := New(o)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		r.t.Fatal(err)
	}
	return e
}

// run runs the enforcer's loop until the test ends (or stop is called).
func (r *rig) run(e *Enforcer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			r.t.Errorf("enforcer: %v", err)
		}
	}
	r.t.Cleanup(stop)
	return stop
}

func (r *rig) counter(id string, d layout.Direction) state.Counter {
	r.t.Helper()
	e := Open(r)
	return e[layout.Counter(id, d)]
}

// Open reads the kernel counters of the rig's server namespace.
func Open(r *rig) map[string]state.Counter {
	r.t.Helper()
	c := nftConn(r.pair.Server.Fd())
	objs, err := c.ReadObjects()
	if err != nil {
		r.t.Fatalf("read counters: %v\n%s", err, r.pair.Server.Nft("list", "ruleset"))
	}
	return objs.Counters
}

func (r *rig) tcp(port uint16, up, down int64) {
	r.t.Helper()
	if _, err := r.pair.TCP(testnet.ServerIP4, port, up, down, 10*time.Second); err != nil {
		r.t.Fatalf("transfer to %d: %v", port, err)
	}
}

func TestRestartKeepsCountersAndFlushRestoresCheckpoint(t *testing.T) {
	r := newRig(t, `ports:
  - ports: "443"
    remark: alice
  - ports: 5000-5100
`)
	e := r.enforcer()
	r.tcp(443, 100_000, 300_000)
	in := r.counter("p443", layout.In)
	if in.Bytes < 100_000 {
		t.Fatalf("counted %d bytes in", in.Bytes)
	}
	if _, err := e.Checkpoint(); err != nil {
		t.Fatal(err)
	}

	// Process restart: the kernel still has the table, its values win, even
	// over a checkpoint that is older.
	r.tcp(443, 50_000, 0)
	after := r.counter("p443", layout.In)
	e2 := r.enforcer()
	if got := r.counter("p443", layout.In); got != after {
		t.Errorf("restart changed the counter: %v -> %v", after, got)
	}
	if _, err := e2.Checkpoint(); err != nil {
		t.Fatal(err)
	}

	// Reboot simulation: the ruleset is flushed; the next start restores the
	// checkpoint exactly.
	r.pair.Server.Run(t, "nft", "flush", "ruleset")
	r.enforcer()
	if got := r.counter("p443", layout.In); got != after {
		t.Errorf("after flush + start: %v, want checkpointed %v", got, after)
	}
}

func TestRepairsFlushWhileRunning(t *testing.T) {
	r := newRig(t, "ports:\n  - ports: \"8080\"\n")
	e := r.enforcer()
	r.run(e)
	r.tcp(8080, 10_000, 10_000)
	if _, err := e.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	want := r.counter("p8080", layout.In)
	r.pair.Server.Run(t, "nft", "flush", "ruleset")
	start := time.Now()
	testnet.WaitFor(t, 5*time.Second, "the table to be restored", func() bool {
		out, _ := r.pair.Server.Output("nft", "list", "counter", "inet", layout.Table, "p8080_in")
		return strings.Contains(out, "bytes")
	})
	t.Logf("repaired after %s", time.Since(start))
	if got := r.counter("p8080", layout.In); got != want {
		t.Errorf("restored %v, want %v", got, want)
	}
	r.tcp(8080, 1000, 0)
	if got := r.counter("p8080", layout.In); got.Bytes <= want.Bytes {
		t.Errorf("not counting after repair: %v", got)
	}
}
