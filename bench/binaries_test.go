package bench

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// commands are the shipped binaries, built once per run of the package.
var commands testutil.Commands

func TestMain(m *testing.M) {
	code := m.Run()
	commands.Remove()
	os.Exit(code)
}

// binary returns the path of a freshly built cmd/<name>.
func binary(b testing.TB, name string) string {
	b.Helper()
	return filepath.Join(commands.Dir(b), name)
}

// daemon is a shipped binary running inside a namespace. `ip netns exec`
// enters the namespace and execs the program, so the process id is the
// daemon's own.
type daemon struct {
	cmd    *exec.Cmd
	out    *testutil.SyncBuffer
	exited chan struct{} // closed when the process has exited
}

func (d *daemon) running() bool {
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// startDaemon starts bin with args in ns, with extra environment; it is
// stopped (SIGTERM, then SIGKILL) at cleanup.
func startDaemon(b testing.TB, ns *testnet.NS, env []string, bin string, args ...string) *daemon {
	b.Helper()
	d := &daemon{cmd: ns.Command(append([]string{bin}, args...)...), out: &testutil.SyncBuffer{}, exited: make(chan struct{})}
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", bin, err)
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	b.Cleanup(func() { d.stop(b) })
	return d
}

func (d *daemon) stop(b testing.TB) {
	if !d.running() {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.kill()
		b.Errorf("%s did not stop on SIGTERM within 30 s", d.cmd.Path)
	}
}

func (d *daemon) kill() {
	d.cmd.Process.Kill()
	<-d.exited
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// notifySocket listens for sd_notify datagrams (what systemd's Type=notify
// waits for). The returned function waits for READY=1.
func notifySocket(b testing.TB) (env string, ready func(timeout time.Duration, d *daemon) time.Time) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return "NOTIFY_SOCKET=" + path, func(timeout time.Duration, d *daemon) time.Time {
		b.Helper()
		buf := make([]byte, 4096)
		conn.SetReadDeadline(time.Now().Add(timeout))
		for {
			n, err := conn.Read(buf)
			if err != nil {
				b.Fatalf("no READY=1 from the daemon: %v\n%s", err, d.out)
			}
			if strings.Contains(string(buf[:n]), "READY=1") {
				return time.Now()
			}
		}
	}
}

// procStatus returns a /proc/<pid>/status field in kB (VmRSS, VmHWM).
func procStatus(b testing.TB, pid int, field string) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			f := strings.Fields(v)
			n, _ := strconv.ParseFloat(f[0], 64)
			return n
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// cpuTime returns the process's user + system CPU time so far.
func cpuTime(b testing.TB, pid int) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name (field 2) may hold spaces; fields after it are fixed.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseUint(f[12], 10, 64) // field 15
	return time.Duration(utime+stime) * time.Second / time.Duration(clockTicks())
}

var clkTck = sync.OnceValue(func() int {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if n, perr := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && perr == nil && n > 0 {
		return n
	}
	return 100 // USER_HZ on every Linux architecture this runs on
})

func clockTicks() int { return clkTck() }
