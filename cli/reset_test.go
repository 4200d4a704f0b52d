package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/enforcer"
	"port-traffic-dog/enforcer/admin"
	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// dog runs the CLI and returns its exit code and output.
func dog(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, Env{Out: &out, Err: &errb, Now: time.Now, Ctx: context.Background()})
	return code, out.String(), errb.String()
}

// TestDogResetAndHistory runs `dog reset` and `dog history` against a real
// enforcer's socket, with an item blocked by real traffic in a namespace.
func TestDogResetAndHistory(t *testing.T) {
	p := testnet.NewPair(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(`timezone: Asia/Kathmandu
ports:
  - ports: "443"
    remark: alice
    quota: 300000B
  - ports: "8080"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "admin.sock")
	// Not the real clock: a run over midnight of the 1st in Kathmandu had
	// an automatic reset besides dog's.
	now := testutil.RunningClock(fixedNow)
	e, err := enforcer.New(enforcer.Options{ConfigPath: cfg, NetNS: p.Server.Fd(), AdminSocket: sock, Now: now,
		StateDir: filepath.Join(dir, "state"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- e.Run(ctx) }()
	go func() {
		done <- admin.Serve(ctx, e, admin.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	})
	api := adminapi.NewClient(sock)
	item := func() adminapi.Item {
		t.Helper()
		st, err := api.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return st.Items[0]
	}
	testnet.WaitFor(t, 5*time.Second, "the admin socket", func() bool {
		_, err := api.Status(context.Background())
		return err == nil
	})

	// Use the quota up with a download.
	addr := netip.AddrPortFrom(testnet.ServerIP4, 443).String()
	var ln net.Listener
	if err := p.Server.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return }); err != nil {
		t.Fatal(err)
	}
	var c net.Conn
	if err := p.Client.Do(func() (err error) { c, err = net.Dial("tcp", addr); return }); err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, c)
	go io.Copy(s, zeros{})
	testnet.WaitFor(t, 5*time.Second, "443 to be blocked", func() bool { return item().Blocked == "quota" })
	// Reset, not close: a closed socket would retransmit its unsent data
	// into the next period once the item is unblocked.
	for _, conn := range []net.Conn{c, s} {
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}
	used := item()

	code, out, errOut := dog(t, "--socket", sock, "reset", "443")
	if code != 0 {
		t.Fatalf("dog reset 443: exit %d: %s", code, errOut)
	}
	if !regexp.MustCompile(`^reset 443 \(alice\): period since \d{4}-\d\d-\d\d \d\d:\d\d: in .+, out .+, billable .+\n$`).MatchString(out) {
		t.Errorf("dog reset printed %q", out)
	}
	if it := item(); it.Blocked != "" || it.PeriodIn+it.PeriodOut != 0 {
		t.Errorf("after dog reset: %+v", it)
	}
	if _, err := p.TCP(testnet.ServerIP4, 443, 50_000, 50_000, 5*time.Second); err != nil {
		t.Errorf("443 after dog reset: %v", err)
	}

	code, out, errOut = dog(t, "--socket", sock, "history", "--json", "443")
	if code != 0 {
		t.Fatalf("dog history: exit %d: %s", code, errOut)
	}
	var h adminapi.HistoryResponse
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("dog history --json: %v\n%s", err, out)
	}
	if len(h.Resets) != 1 {
		t.Fatalf("history: %+v", h.Resets)
	}
	if h.Timezone != "Asia/Kathmandu" { // dog shows the times in it
		t.Errorf("history's time zone %q, want the config's Asia/Kathmandu", h.Timezone)
	}
	r := h.Resets[0]
	if r.Reason != state.ReasonManual || r.Ports != "443" || r.Remark != "alice" || r.InBytes != used.PeriodIn ||
		r.OutBytes != used.PeriodOut || r.Billable != used.Billable || r.Billing != "sum" || r.Quota != 300_000 ||
		!r.PeriodStart.Equal(used.PeriodStart) || now().Sub(r.Time) > time.Minute {
		t.Errorf("history entry %+v, status before the reset %+v", r, used)
	}
	code, out, _ = dog(t, "--socket", sock, "history")
	if code != 0 || !strings.Contains(out, "manual") || !strings.Contains(out, "alice") {
		t.Errorf("dog history: exit %d:\n%s", code, out)
	}
	if code, _, errOut := dog(t, "--socket", sock, "reset", "9999"); code != 1 || !strings.Contains(errOut, `no item "9999"`) {
		t.Errorf("dog reset 9999: exit %d: %s", code, errOut)
	}
	// The enforcer's English, in Chinese by its code.
	if code, _, errOut := dog(t, "--lang", "zh", "--socket", sock, "reset", "9999"); code != 1 || errOut != "dog: 没有配置条目 \"9999\"\n" {
		t.Errorf("dog --lang zh reset 9999: exit %d: %s", code, errOut)
	}
	if code, _, errOut := dog(t, "--socket", sock, "reset"); code == 0 || !strings.Contains(errOut, "--all") {
		t.Errorf("dog reset without items: exit %d: %s", code, errOut)
	}
}

// TestDogSaysWhenTheEnforcerIsNotRunning: no socket, no daemon: a clear
// message, not a connection error.
func TestDogSaysWhenTheEnforcerIsNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "enforcer.sock")
	for _, args := range [][]string{{"reset", "443"}, {"reset", "--all", "--yes"}, {"history"}, {"history", "443"}} {
		code, out, errOut := dog(t, append([]string{"--socket", sock}, args...)...)
		if code != 1 || out != "" || !strings.Contains(errOut, "the enforcer is not running") || !strings.Contains(errOut, sock) {
			t.Errorf("dog %v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}
