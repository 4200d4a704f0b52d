package e2e

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

type host struct {
	t    *testing.T
	pair *testnet.Pair
	dir  string
	cfg  string
}

func newHost(t *testing.T, config string) *host {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "nft")
	h := &host{t: t, pair: testnet.NewPair(t), dir: t.TempDir()}
	h.cfg = filepath.Join(h.dir, "config.yaml")
	if err := os.WriteFile(h.cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *host) enforcer(args ...string) *proc {
	h.t.Helper()
	p := start(h.t, h.pair.Server, "dog-enforcer", append([]string{"--config.file", h.cfg,
		"--state-dir", filepath.Join(h.dir, "state"), "--admin-socket", filepath.Join(h.dir, "admin.sock")}, args...)...)
	p.waitOutput(h.t, "table applied")
	// The admin API comes up right after: wait for it too, so that a test
	// that talks to it next does not race its start.
	sock := filepath.Join(h.dir, "admin.sock")
	testnet.WaitFor(h.t, 10*time.Second, "the admin socket", func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return p
}

func (h *host) counter(id string, d layout.Direction) state.Counter {
	h.t.Helper()
	objs, err := nftread.Read(h.pair.Server.Fd(), layout.Table)
	if err != nil {
		h.t.Fatalf("read counters: %v", err)
	}
	return objs.Counters[layout.Counter(id, d)]
}

func (h *host) checkpointed(id string) state.Counter {
	h.t.Helper()
	st, err := state.ReadFile(filepath.Join(h.dir, "state", state.FileName))
	if err != nil {
		h.t.Fatal(err)
	}
	for _, it := range st.Items {
		if it.ID == id {
			return it.In
		}
	}
	h.t.Fatalf("%s not in the state file", id)
	return state.Counter{}
}

func (h *host) traffic(port uint16, n int64) {
	h.t.Helper()
	if _, err := h.pair.TCP(testnet.ServerIP4, port, n, n, 10*time.Second); err != nil {
		h.t.Fatal(err)
	}
}

func TestSIGTERMRestartKeepsEveryByte(t *testing.T) {
	h := newHost(t, "ports:\n  - ports: \"443\"\n")
	e := h.enforcer()
	h.traffic(443, 200_000)
	if err := e.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if !strings.Contains(e.out.String(), "final checkpoint written") {
		t.Error("no final checkpoint on SIGTERM")
	}
	// The table stays while the daemon is down, so this traffic counts too.
	h.traffic(443, 100_000)
	before := h.counter("p443", layout.In)
	h.enforcer()
	if after := h.counter("p443", layout.In); after != before {
		t.Errorf("restart: %v -> %v", before, after)
	}
}

func TestRebootRestoresCheckpoint(t *testing.T) {
	h := newHost(t, "ports:\n  - ports: \"443\"\n")
	e := h.enforcer()
	h.traffic(443, 300_000)
	want := h.counter("p443", layout.In)
	if err := e.stop(t, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	h.pair.Server.Run(t, "nft", "flush", "ruleset") // what a reboot leaves
	h.enforcer()
	if got := h.counter("p443", layout.In); got != want {
		t.Errorf("after flush + start: %v, want the final checkpoint %v", got, want)
	}
}

// TestSIGKILLLosesAtMostOneInterval: the enforcer dies without a final
// checkpoint while traffic flows, then the host "reboots". What comes back
// is the last periodic checkpoint: at most one interval behind.
func TestSIGKILLLosesAtMostOneInterval(t *testing.T) {
	h := newHost(t, "checkpoint_interval: 1s\nports:\n  - ports: \"443\"\n")
	e := h.enforcer()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // a steady ~1 MB/s
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			h.pair.TCP(testnet.ServerIP4, 443, 100_000, 0, 5*time.Second)
			time.Sleep(100 * time.Millisecond)
		}
	}()
	time.Sleep(3500 * time.Millisecond)
	atKill := h.counter("p443", layout.In)
	e.stop(t, syscall.SIGKILL)
	close(stop)
	<-done
	h.pair.Server.Run(t, "nft", "flush", "ruleset")
	saved := h.checkpointed("p443")
	h.enforcer()
	got := h.counter("p443", layout.In)
	if got != saved {
		t.Errorf("restored %v, the checkpoint says %v", got, saved)
	}
	// ~1 MB/s for one 1 s interval; allow the interval plus scheduling slack.
	if lost := int64(atKill.Bytes) - int64(got.Bytes); lost > 1_600_000 {
		t.Errorf("lost %d bytes: more than one checkpoint interval", lost)
	}
	if got.Bytes == 0 {
		t.Error("nothing restored")
	}
}

func TestFlushWhileRunningIsRepaired(t *testing.T) {
	h := newHost(t, "checkpoint_interval: 1s\nports:\n  - ports: \"443\"\n")
	e := h.enforcer()
	h.traffic(443, 100_000)
	time.Sleep(1500 * time.Millisecond) // a checkpoint
	h.pair.Server.Run(t, "nft", "flush", "ruleset")
	begin := time.Now()
	testnet.WaitFor(t, 5*time.Second, "the repair", func() bool {
		_, err := nftread.Read(h.pair.Server.Fd(), layout.Table)
		return err == nil
	})
	t.Logf("repaired in %s", time.Since(begin))
	e.waitOutput(t, "table repaired")
	if got := h.counter("p443", layout.In); got.Bytes < 100_000 {
		t.Errorf("repaired counter %v lost the checkpoint", got)
	}
}

var counters = regexp.MustCompile(`packets \d+ bytes \d+`)

func TestBadConfigAppliesNothing(t *testing.T) {
	h := newHost(t, "ports:\n  - ports: \"443\"\n    remark: running\n")
	e := h.enforcer()
	// Counter values move on their own (IPv6 multicast reports of the fresh
	// link): compare the table's structure.
	before := counters.ReplaceAllString(h.pair.Server.Nft("list", "table", "inet", layout.Table), "")
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown key", "ports:\n  - ports: \"443\"\n    qouta: 1GB\n", `:3: item "443": qouta: unknown key (did you mean "quota"?)`},
		{"port out of range", "ports:\n  - ports: \"70000\"\n", `:2: item "70000": ports: port 70000 is outside 1-65535`},
		{"reversed range", "ports:\n  - ports: 200-100\n", `:2: item "200-100": ports: range "200-100" is reversed`},
		{"overlap", "ports:\n  - ports: 100-200\n  - ports: \"150\"\n", `:3: item "150": ports: overlaps item "100-200"`},
		{"duplicate", "ports:\n  - ports: \"443\"\n  - ports: \"443\"\n", `:3: item "443": ports: duplicate item`},
		{"bad duration", "checkpoint_interval: often\nports:\n  - ports: \"443\"\n", `:1: checkpoint_interval: "often" is not a duration`},
		{"bad time zone", "timezone: Moon/Base\n", `:1: timezone: unknown time zone "Moon/Base"`},
	} {
		bad := filepath.Join(h.dir, "bad.yaml")
		os.WriteFile(bad, []byte(tc.yaml), 0o600)
		out, err := h.pair.Server.Output(filepath.Join(bin, "dog-enforcer"), "--config.file", bad,
			"--state-dir", filepath.Join(h.dir, "state2"), "--admin-socket", filepath.Join(h.dir, "a2.sock"))
		if err == nil {
			t.Errorf("%s: dog-enforcer accepted the config", tc.name)
		}
		if !strings.Contains(out, bad+tc.want) {
			t.Errorf("%s: message %q does not contain %q", tc.name, out, bad+tc.want)
		}
		// The same file given to the running enforcer (SIGHUP) changes nothing.
		os.WriteFile(h.cfg, []byte(tc.yaml), 0o600)
		e.cmd.Process.Signal(syscall.SIGHUP)
		e.waitOutput(t, strings.ReplaceAll(tc.want, `"`, `\"`)) // logfmt escapes quotes
	}
	if after := counters.ReplaceAllString(h.pair.Server.Nft("list", "table", "inet", layout.Table), ""); after != before {
		t.Errorf("the kernel table changed:\n%s\n---\n%s", before, after)
	}
}
