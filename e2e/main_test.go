// Package e2e tests the shipped binaries as an operator runs them: real
// processes in network namespaces, signals, restarts, reboots simulated by a
// flushed ruleset, and Prometheus scraping the real exporter.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// bin holds the binaries built once for the package.
var bin string

func TestMain(m *testing.M) {
	dir, err := testutil.BuildCommands()
	if err != nil {
		fmt.Fprintln(os.Stderr, "building the binaries:", err)
		os.Exit(1)
	}
	bin = dir
	// The daemons run on the real clock, in the host's zone unless a
	// config names one: a run over midnight of a reset day (the 1st by
	// default) or an expiry day had a reset or a block in the middle of
	// what a test checks. In a zone where it is about noon now, no run of
	// this package (minutes) meets a midnight, whatever the date and time
	// CI starts it at.
	os.Setenv("TZ", noonZone(time.Now()))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// noonZone names the whole-hour zone where it is between 12:00 and 13:00 at
// t (Etc/GMT-N is UTC+N).
func noonZone(t time.Time) string {
	switch off := 12 - t.UTC().Hour(); {
	case off > 0:
		return fmt.Sprintf("Etc/GMT-%d", off)
	case off < 0:
		return fmt.Sprintf("Etc/GMT+%d", -off)
	default:
		return "Etc/GMT"
	}
}

// proc is a daemon started inside a namespace.
type proc struct {
	cmd  *exec.Cmd
	out  *testutil.SyncBuffer
	done chan error
}

// start runs a binary inside ns; it is killed at cleanup if still running,
// and its output is logged when the test fails.
func start(t *testing.T, ns *testnet.NS, name string, args ...string) *proc {
	t.Helper()
	return startArgv(t, ns, append([]string{filepath.Join(bin, name)}, args...)...)
}

// startArgv is start for any command line (a shell that sets the umask
// first, say).
func startArgv(t *testing.T, ns *testnet.NS, argv ...string) *proc {
	t.Helper()
	p := &proc{cmd: ns.Command(argv...), out: &testutil.SyncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(argv[0]), p.out)
		}
	})
	return p
}

// stop sends sig and waits for the exit.
func (p *proc) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("no exit 20 s after %v", sig)
		return nil
	}
}

// waitOutput waits for a line containing s in the process output.
func (p *proc) waitOutput(t *testing.T, s string) {
	t.Helper()
	testnet.WaitFor(t, 10*time.Second, fmt.Sprintf("%q in the output", s), func() bool {
		return strings.Contains(p.out.String(), s)
	})
}

// TestNoonZone: for every hour of the day, the zone exists and has it at
// 12:xx.
func TestNoonZone(t *testing.T) {
	for h := range 24 {
		at := time.Date(2026, 12, 31, h, 59, 0, 0, time.UTC)
		loc, err := time.LoadLocation(noonZone(at))
		if err != nil || at.In(loc).Hour() != 12 {
			t.Errorf("%s: %s (%v)", at, noonZone(at), err)
		}
	}
}
