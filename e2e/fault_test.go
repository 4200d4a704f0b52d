package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// LongEnv makes the fault tests run their long versions (docs/RELIABILITY.md).
const LongEnv = "DOG_LONG"

// iterations is n for CI, long with DOG_LONG=1, or what the named
// variable says.
func iterations(t *testing.T, env string, n, long int) int {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		i, err := strconv.Atoi(v)
		if err != nil || i < 1 {
			t.Fatalf("%s=%q: want a positive number", env, v)
		}
		return i
	}
	if os.Getenv(LongEnv) == "1" {
		return long
	}
	return n
}

// seeded returns a random source whose seed is logged (and can be given
// back with DOG_FAULT_SEED) so a failing sequence of faults can be replayed.
func seeded(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("DOG_FAULT_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("DOG_FAULT_SEED=%q: %v", v, err)
		}
		seed = s
	}
	t.Logf("fault sequence seed %d (DOG_FAULT_SEED=%d replays it)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed))
}

// settled is kernelIn once the counter held still for 300 ms: the last
// packets of a transfer that just ended (FIN, ACK) are counted. 50 ms was
// not enough on a loaded machine: one ACK (52 bytes) arrived after it.
func (h *host) settled(id string) (state.Counter, bool) {
	c, ok := h.kernelIn(id)
	still := 0
	for range 60 {
		time.Sleep(50 * time.Millisecond)
		again, ok2 := h.kernelIn(id)
		if again == c && ok2 == ok {
			if still++; still == 6 {
				break
			}
			continue
		}
		c, ok, still = again, ok2, 0
	}
	return c, ok
}

// kernelIn is the in counter of an item, and whether the table exists.
func (h *host) kernelIn(id string) (state.Counter, bool) {
	objs, err := nftread.Read(h.pair.Server.Fd(), layout.Table)
	if err != nil {
		return state.Counter{}, false
	}
	return objs.Counters[layout.Counter(id, layout.In)], true
}

func itemOf(st *state.State, id string) (state.Item, bool) {
	if st == nil {
		return state.Item{}, false
	}
	for _, it := range st.Items {
		if it.ID == id {
			return it, true
		}
	}
	return state.Item{}, false
}

// trafficGate runs a steady stream of TCP transfers to port from the
// client namespace until the test ends. Lock pauses it (waiting for the
// transfer in flight), Unlock lets it go on.
type trafficGate struct {
	sync.Mutex
	failed atomic.Int64
}

func (h *host) steadyTraffic(port uint16, chunk int64) *trafficGate {
	g := &trafficGate{}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			// TryLock: a test that fails while it holds the gate must
			// not leave this loop, and its cleanup, waiting forever.
			if !g.TryLock() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if _, err := h.pair.TCP(testnet.ServerIP4, port, chunk, 0, 5*time.Second); err != nil {
				g.failed.Add(1)
			}
			g.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()
	h.t.Cleanup(func() { close(stop); <-done })
	return g
}

func (h *host) enforcerArgs() []string {
	return []string{"--config.file", h.cfg, "--state-dir", filepath.Join(h.dir, "state"), "--admin-socket", filepath.Join(h.dir, "admin.sock")}
}

// TestSIGKILLAtRandomMoments kills the real dog-enforcer with SIGKILL at
// random moments — during start-up, between checkpoints, in the middle of
// one — while traffic flows and checkpoints are written every second, and
// on some iterations also flushes the ruleset (what a reboot leaves).
// Every time: the state loads (never through the fallback: the current
// file is never damaged), checkpoints never go backwards, the restart
// restores exactly the kernel's counters (process restart) or exactly the
// last checkpoint (table gone), and the last checkpoint was at most one
// interval (plus scheduling slack) old, so at most one interval of bytes is
// lost. 10 iterations in CI; DOG_LONG=1 runs 200, DOG_SIGKILL_ITERATIONS=n n.
func TestSIGKILLAtRandomMoments(t *testing.T) {
	n := iterations(t, "DOG_SIGKILL_ITERATIONS", 10, 200)
	rng := seeded(t)
	const interval = time.Second
	const slack = 2 * time.Second // a busy 2-core machine delays the checkpoint ticker
	h := newHost(t, "checkpoint_interval: 1s\nports:\n  - ports: \"443\"\n")
	stateDir := filepath.Join(h.dir, "state")
	traffic := h.steadyTraffic(443, 100_000)
	traffic.Lock() // paused except while an enforcer runs

	var (
		prevCP             *state.State
		prevStop           state.Counter
		prevTable, flushed bool
		maxLost            uint64
		maxAge             time.Duration
		early, flushes     int
		flowBytes          uint64 // traffic counted while an enforcer ran, for the rate
		flowTime           time.Duration
	)
	for i := range n {
		var restored uint64
		var flowing time.Time
		p := start(t, h.pair.Server, "dog-enforcer", h.enforcerArgs()...)
		runStart := time.Now()
		isEarly := i > 0 && rng.IntN(4) == 0
		if isEarly {
			// Killed during start-up: while reading the state, applying
			// the table, or writing the first checkpoint.
			early++
			traffic.Unlock()
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		} else {
			p.waitOutput(t, "table applied")
			want := uint64(0)
			switch {
			case i == 0:
			case flushed || !prevTable:
				if it, ok := itemOf(prevCP, "p443"); ok {
					want = it.In.Bytes
				}
			default:
				want = prevStop.Bytes
			}
			got, ok := h.kernelIn("p443")
			if !ok || got.Bytes != want {
				t.Fatalf("iteration %d: after the restart the kernel counts %d bytes (table %v), want %d (flushed %v, table at the kill %v)",
					i, got.Bytes, ok, want, flushed, prevTable)
			}
			restored = got.Bytes
			// Start-up ends with a checkpoint: from here on one is never
			// older than an interval.
			testnet.WaitFor(t, 10*time.Second, "the start-up checkpoint", func() bool {
				st, err := state.ReadFile(filepath.Join(stateDir, state.FileName))
				return err == nil && !st.SavedAt.Before(runStart.Truncate(time.Second))
			})
			traffic.Unlock()
			flowing = time.Now()
			time.Sleep(time.Duration(rng.IntN(5000)) * time.Millisecond)
		}
		killAt := time.Now()
		p.stop(t, syscall.SIGKILL)
		traffic.Lock()
		atStop, table := h.settled("p443")
		if !flowing.IsZero() && table {
			flowBytes += atStop.Bytes - restored
			flowTime += time.Since(flowing)
		}

		st, warn, err := state.Load(stateDir)
		switch {
		case errors.Is(err, state.ErrNotExist) && prevCP == nil:
		case err != nil:
			t.Fatalf("iteration %d: the state does not load after SIGKILL: %v", i, err)
		case warn != nil:
			t.Fatalf("iteration %d: the current state file was damaged by SIGKILL (fell back): %v", i, warn)
		}
		cp, _ := itemOf(st, "p443")
		if prev, ok := itemOf(prevCP, "p443"); ok {
			if cp.In.Bytes < prev.In.Bytes || st.SavedAt.Before(prevCP.SavedAt) {
				t.Fatalf("iteration %d: the checkpoint went backwards: %d bytes at %s after %d bytes at %s",
					i, cp.In.Bytes, st.SavedAt, prev.In.Bytes, prevCP.SavedAt)
			}
		}
		if table && cp.In.Bytes > atStop.Bytes {
			t.Fatalf("iteration %d: the checkpoint (%d) is ahead of the kernel (%d)", i, cp.In.Bytes, atStop.Bytes)
		}
		if !isEarly && st != nil {
			age := killAt.Sub(st.SavedAt)
			maxAge = max(maxAge, age)
			if age > interval+slack && atStop != cp.In {
				t.Fatalf("iteration %d: killed %s after the last checkpoint (interval %s) with %d bytes not in it",
					i, age.Round(time.Millisecond), interval, atStop.Bytes-cp.In.Bytes)
			}
		}
		flushed = rng.IntN(3) == 0
		if flushed {
			flushes++
			h.pair.Server.Run(t, "nft", "flush", "ruleset")
			if table {
				maxLost = max(maxLost, atStop.Bytes-cp.In.Bytes)
			}
		}
		prevCP, prevStop, prevTable = st, atStop, table
		if st == nil {
			prevCP = nil
		}
	}
	// The last restart is checked like the others.
	h.enforcer()
	want := prevStop.Bytes
	if flushed || !prevTable {
		it, _ := itemOf(prevCP, "p443")
		want = it.In.Bytes
	}
	if got, _ := h.kernelIn("p443"); got.Bytes != want {
		t.Fatalf("final restart: %d bytes, want %d", got.Bytes, want)
	}
	traffic.Unlock()
	stale, _ := filepath.Glob(filepath.Join(stateDir, ".*.tmp*"))
	if len(stale) > 2 {
		t.Errorf("%d temporary files pile up in the state dir: %v", len(stale), stale)
	}
	rate := float64(flowBytes) / flowTime.Seconds()
	t.Logf("%d kills (%d during start-up), %d with the ruleset flushed; checkpoint age at a kill up to %s; "+
		"at most %d bytes lost with the table (%.2f s of this traffic at %.1f MB/s); %d transfers failed",
		n, early, flushes, maxAge.Round(time.Millisecond), maxLost, float64(maxLost)/rate, rate/1e6, traffic.failed.Load())
}

// TestCorruptStateOnStart: a damaged state file is refused with a message
// naming it; a good previous checkpoint is used instead (and said so);
// when both are bad the enforcer exits non-zero and touches nothing: it
// never starts from zero on its own.
func TestCorruptStateOnStart(t *testing.T) {
	h := newHost(t, "checkpoint_interval: 1h\nports:\n  - ports: \"443\"\n")
	stateDir := filepath.Join(h.dir, "state")
	cur, prev := filepath.Join(stateDir, state.FileName), filepath.Join(stateDir, state.PrevName)
	e := h.enforcer()
	h.traffic(443, 200_000)
	// This checkpoint becomes .prev at the final one below.
	if _, err := adminapi.NewClient(filepath.Join(h.dir, "admin.sock")).Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.traffic(443, 100_000)
	if err := e.stop(t, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(cur)
	goodPrev, _ := os.ReadFile(prev)
	prevSt, err := state.ReadFile(prev)
	if err != nil {
		t.Fatal(err)
	}
	prevIn, _ := itemOf(prevSt, "p443")
	curSt, _ := state.ReadFile(cur)
	curIn, _ := itemOf(curSt, "p443")
	if prevIn.In.Bytes >= curIn.In.Bytes || prevIn.In.Bytes < 200_000 {
		t.Fatalf("setup: .prev has %d bytes, the current file %d", prevIn.In.Bytes, curIn.In.Bytes)
	}

	// The current file truncated, .prev good: start from .prev, say so.
	os.WriteFile(cur, good[:len(good)/2], 0o640)
	h.pair.Server.Run(t, "nft", "flush", "ruleset")
	e = h.enforcer()
	for _, want := range []string{"state file damaged, using the previous checkpoint", cur, prev, "is damaged or truncated"} {
		if !strings.Contains(e.out.String(), want) {
			t.Errorf("start with a truncated state file: no %q in\n%s", want, e.out)
		}
	}
	if got, _ := h.kernelIn("p443"); got != prevIn.In {
		t.Errorf("restored %v, want the previous checkpoint's %v", got, prevIn.In)
	}
	if err := e.stop(t, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	good, _ = os.ReadFile(cur)
	goodPrev, _ = os.ReadFile(prev)

	flip := bytes.Clone(good)
	if i := bytes.Index(flip, []byte(`"bytes":`)); i > 0 {
		flip[i+8] ^= 1 // a digit of a counter: valid JSON, wrong checksum
	}
	damage := map[string]func(path string, orig []byte){
		"empty":     func(p string, _ []byte) { os.WriteFile(p, nil, 0o640) },
		"truncated": func(p string, b []byte) { os.WriteFile(p, b[:len(b)-7], 0o640) },
		"bit flip":  func(p string, _ []byte) { os.WriteFile(p, flip, 0o640) },
		"garbage":   func(p string, _ []byte) { os.WriteFile(p, []byte("\x00\xff\x13garbage\n"), 0o640) },
		"format 99": func(p string, b []byte) {
			os.WriteFile(p, bytes.Replace(b, []byte(`"format":1`), []byte(`"format":99`), 1), 0o640)
		},
		"directory":  func(p string, _ []byte) { os.Remove(p); os.Mkdir(p, 0o700) },
		"wrong type": func(p string, _ []byte) { os.WriteFile(p, mustEncode(t, map[string]any{"items": "x"}), 0o640) },
	}
	restore := func() {
		for _, p := range []string{cur, prev} {
			os.RemoveAll(p)
		}
		os.WriteFile(cur, good, 0o640)
		os.WriteFile(prev, goodPrev, 0o640)
	}
	refused := func(what string, names ...string) {
		t.Helper()
		out, err := h.pair.Server.Output(append([]string{filepath.Join(bin, "dog-enforcer")}, h.enforcerArgs()...)...)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 {
			t.Errorf("%s: dog-enforcer started (%v):\n%s", what, err, out)
			return
		}
		for _, n := range names {
			if !strings.Contains(out, n) {
				t.Errorf("%s: the message does not name %s:\n%s", what, n, out)
			}
		}
		if strings.Contains(out, "table applied") {
			t.Errorf("%s: applied a table:\n%s", what, out)
		}
	}
	// Counter values move on their own (IPv6 multicast reports of the
	// fresh link): compare the ruleset's structure.
	kernel := func() string { return counters.ReplaceAllString(h.pair.Server.Nft("list", "ruleset"), "") }
	for name, hurt := range damage {
		for _, prevCase := range []string{"missing", "also damaged"} {
			restore()
			hurt(cur, good)
			names := []string{cur}
			if prevCase == "missing" {
				os.Remove(prev)
			} else {
				damage["truncated"](prev, goodPrev)
				names = append(names, prev)
			}
			// Once with the table in the kernel (a process restart), once
			// without (a reboot): either way nothing is applied.
			before := kernel()
			refused(fmt.Sprintf("%s, previous %s, table present", name, prevCase), names...)
			if after := kernel(); after != before || !strings.Contains(before, layout.Table) {
				t.Errorf("%s, previous %s: the kernel changed:\n%s\n---\n%s", name, prevCase, before, after)
			}
			h.pair.Server.Run(t, "nft", "flush", "ruleset")
			refused(fmt.Sprintf("%s, previous %s, no table", name, prevCase), names...)
			if rs := kernel(); strings.Contains(rs, layout.Table) {
				t.Errorf("%s, previous %s: a table was created:\n%s", name, prevCase, rs)
			}
			// Put the table back the way a good start does.
			restore()
			h.enforcer().stop(t, syscall.SIGTERM)
			good, _ = os.ReadFile(cur)
			goodPrev, _ = os.ReadFile(prev)
		}
	}
	// With the damaged files moved away, as the message says, it starts
	// from zero: the operator's decision, not the program's.
	os.Rename(cur, cur+".bad")
	os.Rename(prev, prev+".bad")
	h.pair.Server.Run(t, "nft", "flush", "ruleset")
	h.enforcer()
	if got, _ := h.kernelIn("p443"); got.Bytes != 0 {
		t.Errorf("fresh start: %d bytes", got.Bytes)
	}
}

func mustEncode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := state.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStateDirOnFullDisk runs the enforcer with its state dir on a 64 KiB
// tmpfs and fills it. Checkpoints fail and are retried, the failures are
// logged with the cause; the kernel goes on counting and enforcing (a quota
// runs out and blocks; a manual reset takes effect); at no moment does a
// reader of the state dir find a file it cannot load. When space is back
// the next checkpoint succeeds, the reset is in the history exactly once,
// and the exporter reports the failed checkpoints.
func TestStateDirOnFullDisk(t *testing.T) {
	stateDir := testutil.TinyFS(t, 64<<10)
	h := newHost(t, "checkpoint_interval: 1s\nports:\n  - ports: \"443\"\n  - ports: \"8080\"\n    quota: 300000B\n    billing: in\n")
	args := []string{"--config.file", h.cfg, "--state-dir", stateDir, "--admin-socket", filepath.Join(h.dir, "admin.sock")}
	e := start(t, h.pair.Server, "dog-enforcer", args...)
	e.waitOutput(t, "table applied")
	start(t, h.pair.Server, "dog-exporter", "--web.listen-address", "127.0.0.1:9735", "--state-dir", stateDir)
	h.traffic(443, 100_000)
	testnet.WaitFor(t, 10*time.Second, "a checkpoint with the traffic", func() bool {
		st, err := state.ReadFile(filepath.Join(stateDir, state.FileName))
		it, _ := itemOf(st, "p443")
		return err == nil && it.In.Bytes >= 100_000
	})

	// A reader that loads everything in the state dir, all the time.
	var readerErrs []string
	var rmu sync.Mutex
	stopReader := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stopReader:
				return
			case <-time.After(10 * time.Millisecond):
			}
			var errs []string
			if _, warn, err := state.Load(stateDir); err != nil || warn != nil {
				errs = append(errs, fmt.Sprintf("state: %v %v", err, warn))
			}
			if _, err := state.ReadMeta(filepath.Join(stateDir, state.MetaName)); err != nil {
				errs = append(errs, fmt.Sprintf("meta: %v", err))
			}
			if _, skipped, err := state.ReadHistory(stateDir); err != nil || skipped > 0 {
				errs = append(errs, fmt.Sprintf("history: %v, %d lines skipped", err, skipped))
			}
			if len(errs) > 0 {
				rmu.Lock()
				readerErrs = append(readerErrs, errs...)
				rmu.Unlock()
			}
		}
	}()
	defer func() {
		close(stopReader)
		<-readerDone
		for _, e := range readerErrs {
			t.Errorf("a reader found a damaged file: %s", e)
		}
	}()

	const failLine = "checkpoint failed; counting and enforcement go on in the kernel, retrying"
	// A checkpoint in flight while the disk fills up frees a page when it
	// rotates its .prev, and the next one fits: fill again until they fail.
	var frees []func()
	for attempt := 0; !strings.Contains(e.out.String(), failLine); attempt++ {
		if attempt == 5 {
			t.Fatalf("no checkpoint failed on a full disk:\n%s", e.out)
		}
		frees = append(frees, testutil.Fill(t, stateDir))
		h.traffic(443, 20_000) // an idle host skips its checkpoints
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) && !strings.Contains(e.out.String(), failLine) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	free := func() {
		for _, f := range frees {
			f()
		}
	}
	fullAt := time.Now()
	before443, _ := h.kernelIn("p443")
	h.traffic(443, 200_000)
	if !strings.Contains(e.out.String(), "no space left on device") || !strings.Contains(e.out.String(), filepath.Join(stateDir, state.FileName)) {
		t.Errorf("the failure does not say why or which file:\n%s", e.out)
	}
	// Counting goes on in the kernel.
	if now, _ := h.kernelIn("p443"); now.Bytes < before443.Bytes+200_000 {
		t.Errorf("443 counted %d bytes while the disk was full, want ≥ 200000", now.Bytes-before443.Bytes)
	}
	// Enforcing goes on: the quota runs out and the item is blocked.
	h.pair.TCP(testnet.ServerIP4, 8080, 600_000, 0, 3*time.Second)
	e.waitOutput(t, "quota exhausted: blocked")
	if _, err := h.pair.TCP(testnet.ServerIP4, 8080, 10_000, 0, time.Second); err == nil {
		t.Error("8080 still passes traffic after its quota ran out")
	}
	// A manual reset takes effect; saving it has to wait.
	out, err := h.pair.Server.Output(filepath.Join(bin, "dog"), "--socket", filepath.Join(h.dir, "admin.sock"), "reset", "443")
	if err == nil || !strings.Contains(out, "the reset is in force in the kernel, but saving it failed") {
		t.Errorf("dog reset on a full disk: %v\n%s", err, out)
	}
	testnet.WaitFor(t, 10*time.Second, "three failed checkpoints", func() bool { return strings.Count(e.out.String(), failLine) >= 3 })
	if strings.Count(e.out.String(), "writing reset history failed") == 0 {
		t.Error("the history append did not fail on a full disk?")
	}
	if hist, _, _ := state.ReadHistory(stateDir); len(hist) != 0 {
		t.Errorf("history written on a full disk: %+v", hist)
	}

	free()
	freedAt := time.Now()
	testnet.WaitFor(t, 10*time.Second, "a checkpoint once there is room", func() bool {
		st, err := state.ReadFile(filepath.Join(stateDir, state.FileName))
		return err == nil && st.SavedAt.After(freedAt)
	})
	failures := strings.Count(e.out.String(), failLine)
	t.Logf("the disk was full for %s: %d checkpoints failed", freedAt.Sub(fullAt).Round(100*time.Millisecond), failures)
	hist, skipped, err := state.ReadHistory(stateDir)
	if err != nil || skipped != 0 || len(hist) != 1 || hist[0].ID != "p443" || hist[0].Reason != state.ReasonManual || hist[0].InBytes < 300_000 {
		t.Errorf("history after recovery: %+v (%d skipped, %v), want the one manual reset of 443", hist, skipped, err)
	}
	st, _ := state.ReadFile(filepath.Join(stateDir, state.FileName))
	if it, _ := itemOf(st, "p8080"); !it.QuotaBlocked {
		t.Errorf("8080 not blocked in the state after recovery: %+v", it)
	}
	if it, _ := itemOf(st, "p443"); it.PeriodIn().Bytes >= 100_000 || it.BaseIn.Bytes < 300_000 {
		t.Errorf("443's reset is not in the state after recovery: %+v", it)
	}
	client := nsClient(h.pair.Server, nil, false)
	var body string
	testnet.WaitFor(t, 10*time.Second, "the exporter to show the failed checkpoints", func() bool {
		resp, err := client.Get("http://127.0.0.1:9735/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b := new(bytes.Buffer)
		b.ReadFrom(resp.Body)
		body = b.String()
		return value(body, "port_traffic_dog_enforcer_checkpoint_errors_total") >= float64(failures)
	})
	if v := value(body, `port_traffic_dog_blocked{port="8080",reason="quota"}`); v != 1 {
		t.Errorf("exporter: 8080 blocked = %v", v)
	}
	if ts := value(body, "port_traffic_dog_checkpoint_timestamp_seconds"); ts < float64(freedAt.Unix()) {
		t.Errorf("exporter: last checkpoint at %v, before the disk had room again (%d)", ts, freedAt.Unix())
	}
	if left, _ := filepath.Glob(filepath.Join(stateDir, ".*.tmp*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestRepairsAreTimelyAndCounted breaks the enforcer's kernel setup the ways
// other tools do — deleting its table, flushing the ruleset, replacing the
// root qdisc, deleting the IFB device — and checks each is repaired within
// 5 s, with the counters of the last checkpoint, logged, and counted in
// port_traffic_dog_enforcer_repairs_total as the exporter shows it.
func TestRepairsAreTimelyAndCounted(t *testing.T) {
	testutil.RequireBinary(t, "tc")
	h := newHost(t, "checkpoint_interval: 1s\ninterfaces: [veth0]\nports:\n  - ports: \"443\"\n  - ports: \"8080\"\n    rate: 10Mbps\n")
	e := h.enforcer()
	start(t, h.pair.Server, "dog-exporter", "--web.listen-address", "127.0.0.1:9736", "--state-dir", filepath.Join(h.dir, "state"))
	api := adminapi.NewClient(filepath.Join(h.dir, "admin.sock"))
	ifb := func() string {
		f := strings.Fields(h.pair.Server.Run(t, "ip", "-o", "link", "show", "type", "ifb")) // "5: dogifb2: <…"
		if len(f) < 2 {
			return ""
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		return name
	}
	rootIsHTB := func() bool {
		out, _ := h.pair.Server.Output("tc", "qdisc", "show", "dev", "veth0", "root")
		return strings.Contains(out, "qdisc htb 7d0:")
	}
	testnet.WaitFor(t, 5*time.Second, "the shaper", func() bool { return rootIsHTB() && ifb() != "" })
	repairLines := func() int {
		return strings.Count(e.out.String(), "table repaired") + strings.Count(e.out.String(), "bandwidth limits repaired")
	}
	tableBack := func() bool {
		objs, err := nftread.Read(h.pair.Server.Fd(), layout.Table)
		if err != nil {
			return false
		}
		_, ok := objs.Counters[layout.Counter("p443", layout.In)]
		return ok
	}
	for _, fault := range []struct {
		name     string
		args     func() []string
		table    bool // the counters are gone with it
		repaired func() bool
		line     string
	}{
		{"nft delete table", func() []string { return []string{"nft", "delete", "table", "inet", layout.Table} }, true, tableBack, "table repaired"},
		{"nft flush ruleset", func() []string { return []string{"nft", "flush", "ruleset"} }, true, tableBack, "table repaired"},
		{"tc qdisc replace root", func() []string { return []string{"tc", "qdisc", "replace", "dev", "veth0", "root", "pfifo"} }, false, rootIsHTB, "bandwidth limits repaired"},
		{"ip link del ifb", func() []string { return []string{"ip", "link", "del", ifb()} }, false,
			func() bool { return ifb() != "" && rootIsHTB() }, "bandwidth limits repaired"},
	} {
		h.traffic(443, 50_000)
		cp, err := api.Checkpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		saved, _ := itemOf(cp.State, "p443")
		linesBefore := strings.Count(e.out.String(), fault.line)
		h.pair.Server.Run(t, fault.args()...)
		broke := time.Now()
		testnet.WaitFor(t, 5*time.Second, fault.name+" repaired", fault.repaired)
		took := time.Since(broke)
		testnet.WaitFor(t, 5*time.Second, fault.name+": the repair in the log", func() bool {
			return strings.Count(e.out.String(), fault.line) > linesBefore
		})
		got, _ := h.kernelIn("p443")
		if got != saved.In {
			t.Errorf("%s: 443 counts %v after the repair, the last checkpoint had %v", fault.name, got, saved.In)
		}
		t.Logf("%s: repaired in %s", fault.name, took.Round(time.Millisecond))
		if _, err := h.pair.TCP(testnet.ServerIP4, 443, 10_000, 10_000, 5*time.Second); err != nil {
			t.Errorf("%s: traffic after the repair: %v", fault.name, err)
		}
	}
	// The exporter shows every repair the log shows.
	client := nsClient(h.pair.Server, nil, false)
	var got float64
	testnet.WaitFor(t, 10*time.Second, "the repairs in the exporter", func() bool {
		resp, err := client.Get("http://127.0.0.1:9736/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b := new(bytes.Buffer)
		b.ReadFrom(resp.Body)
		got = value(b.String(), "port_traffic_dog_enforcer_repairs_total")
		return got == float64(repairLines()) && got >= 4
	})
	t.Logf("port_traffic_dog_enforcer_repairs_total %v", got)
}
