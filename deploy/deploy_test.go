// Package deploy_test checks the install: deploy/install.sh into a scratch
// root, the systemd units (systemd-analyze verify and the hardening they
// must keep), and the permission design that lets the exporter run as an
// unprivileged user with CAP_NET_ADMIN alone.
package deploy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"port-traffic-dog/enforcer"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
	tu "port-traffic-dog/internal/testutil"
)

// commands are dog, dog-enforcer and dog-exporter, built once, into a
// directory any user can read (the exporter test runs one as nobody).
var commands tu.Commands

func binaries(t *testing.T) string {
	t.Helper()
	return commands.Dir(t)
}

func TestMain(m *testing.M) {
	code := m.Run()
	commands.Remove()
	os.Exit(code)
}

func script(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("./install.sh", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("install.sh %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestInstallIntoScratchRoot(t *testing.T) {
	root := t.TempDir()
	env := []string{"DESTDIR=" + root, "PREFIX=/usr/local", "BINSRC=" + binaries(t)}
	script(t, env, "install")

	for path, want := range map[string]os.FileMode{
		"/usr/local/bin/dog":                              0o755,
		"/usr/local/bin/dog-enforcer":                     0o755,
		"/usr/local/bin/dog-exporter":                     0o755,
		"/etc/systemd/system/dog-enforcer.service":        0o644,
		"/etc/systemd/system/dog-exporter.service":        0o644,
		"/etc/port-traffic-dog":                           os.ModeDir | 0o750,
		"/etc/port-traffic-dog/config.yaml":               0o600,
		"/var/lib/port-traffic-dog":                       os.ModeDir | os.ModeSetgid | 0o750,
		"/usr/local/share/doc/port-traffic-dog/README.md": 0o644,
	} {
		if got := mode(t, root+path); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
	unit, _ := os.ReadFile(root + "/etc/systemd/system/dog-enforcer.service")
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/dog-enforcer --config.file=/etc/port-traffic-dog/config.yaml") ||
		strings.Contains(string(unit), "@BINDIR@") {
		t.Errorf("unit not filled in:\n%s", unit)
	}
	// The installed binaries work and the example config validates.
	out, err := exec.Command(root+"/usr/local/bin/dog", "check-config", root+"/etc/port-traffic-dog/config.yaml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Errorf("dog check-config on the installed example: %v\n%s", err, out)
	}

	// A second install keeps the operator's config.
	os.WriteFile(root+"/etc/port-traffic-dog/config.yaml", []byte("ports: []\n"), 0o600)
	if out := script(t, env, "install"); !strings.Contains(out, "kept the existing") {
		t.Errorf("reinstall: %s", out)
	}
	if b, _ := os.ReadFile(root + "/etc/port-traffic-dog/config.yaml"); string(b) != "ports: []\n" {
		t.Errorf("reinstall overwrote the config: %s", b)
	}

	t.Run("systemd-analyze verify", func(t *testing.T) {
		sa, err := exec.LookPath("systemd-analyze")
		if err != nil {
			t.Skip("systemd-analyze is not installed: unit files not verified")
		}
		// verify resolves everything inside --root: give the scratch root
		// the system's targets and the kill(1) of ExecReload, as a real
		// root has them.
		targets, _ := filepath.Glob("/usr/lib/systemd/system/*.target")
		kill, kerr := exec.LookPath("kill")
		if len(targets) == 0 || kerr != nil {
			t.Skip("no systemd targets or kill(1) on this machine to verify against")
		}
		os.MkdirAll(root+"/usr/lib/systemd/system", 0o755)
		os.MkdirAll(root+"/usr/bin", 0o755)
		os.Symlink("usr/bin", root+"/bin")
		for _, f := range append(targets, kill) {
			dst := root + "/usr/lib/systemd/system/" + filepath.Base(f)
			if f == kill {
				dst = root + "/usr/bin/kill"
			}
			if b, err := os.ReadFile(f); err == nil {
				os.WriteFile(dst, b, 0o755)
			}
		}
		cmd := exec.Command(sa, "verify", "--root="+root,
			"/etc/systemd/system/dog-enforcer.service", "/etc/systemd/system/dog-exporter.service")
		out, err := cmd.CombinedOutput()
		if err != nil && strings.Contains(string(out), "Failed to") && !strings.Contains(string(out), "dog-") {
			t.Skipf("systemd-analyze cannot run here: %v\n%s", err, out)
		}
		// verify exits 0 on many problems and only prints them: any output
		// about our units is a failure.
		if err != nil || strings.Contains(string(out), "dog-") {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	})

	// Uninstall keeps config and state; PURGE=1 removes them.
	script(t, env, "uninstall")
	for _, gone := range []string{"/usr/local/bin/dog-enforcer", "/etc/systemd/system/dog-enforcer.service", "/usr/local/share/doc/port-traffic-dog"} {
		if _, err := os.Stat(root + gone); err == nil {
			t.Errorf("uninstall left %s", gone)
		}
	}
	for _, kept := range []string{"/etc/port-traffic-dog/config.yaml", "/var/lib/port-traffic-dog"} {
		if _, err := os.Stat(root + kept); err != nil {
			t.Errorf("uninstall removed %s: %v", kept, err)
		}
	}
	script(t, append(env, "PURGE=1"), "uninstall")
	for _, gone := range []string{"/etc/port-traffic-dog", "/var/lib/port-traffic-dog"} {
		if _, err := os.Stat(root + gone); err == nil {
			t.Errorf("PURGE=1 left %s", gone)
		}
	}
}

// unitKeys reads a unit file's key=value lines (all values of a key).
func unitKeys(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			keys[k] = append(keys[k], v)
		}
	}
	return keys
}

// TestUnitHardening pins the hardening docs/INSTALL.md documents, so a
// later edit cannot drop it unnoticed.
func TestUnitHardening(t *testing.T) {
	common := map[string]string{
		"CapabilityBoundingSet": "CAP_NET_ADMIN", "AmbientCapabilities": "CAP_NET_ADMIN", "NoNewPrivileges": "yes",
		"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "PrivateDevices": "yes",
		"ProtectKernelModules": "yes", "ProtectKernelTunables": "yes", "ProtectControlGroups": "yes",
		"RestrictNamespaces": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
		"MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native", "SystemCallFilter": "@system-service",
		"Restart": "on-failure",
	}
	for unit, extra := range map[string]map[string]string{
		"dog-enforcer.service": {"Before": "network-pre.target shutdown.target", "Wants": "network-pre.target",
			"Type": "notify", "RestrictAddressFamilies": "AF_UNIX AF_NETLINK", "RuntimeDirectory": "port-traffic-dog",
			"ReadWritePaths": "/var/lib/port-traffic-dog -/etc/port-traffic-dog", "DefaultDependencies": "no"},
		"dog-exporter.service": {"User": "port-traffic-dog", "Group": "port-traffic-dog",
			"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK"},
	} {
		keys := unitKeys(t, filepath.Join("systemd", unit))
		for k, want := range common {
			extra[k] = want
		}
		for k, want := range extra {
			found := false
			for _, v := range keys[k] {
				found = found || v == want
			}
			if !found {
				t.Errorf("%s: %s=%s missing (have %q)", unit, k, want, keys[k])
			}
		}
	}
}

// TestExporterNeedsOnlyNetAdmin runs the real dog-exporter as nobody with
// CAP_NET_ADMIN as its only capability, next to an enforcer whose state dir
// is laid out as install.sh lays it out (2750, the exporter's group): it
// reads the kernel table and the state. Without the capability it cannot
// read the table; outside the group it cannot read the state.
func TestExporterNeedsOnlyNetAdmin(t *testing.T) {
	tu.RequireRoot(t)
	tu.RequireBinary(t, "setpriv")
	bins := binaries(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no nobody user: %v", err)
	}
	nogroup, err := user.LookupGroup("nogroup")
	if err != nil {
		if nogroup, err = user.LookupGroup("nobody"); err != nil {
			t.Skipf("no nogroup group: %v", err)
		}
	}
	gid, _ := strconv.Atoi(nogroup.Gid)
	pair := testnet.NewPair(t)

	// Not t.TempDir: its parents are 0700, and nobody has to reach the dir.
	dir, err := os.MkdirTemp("", "dog-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	stateDir := filepath.Join(dir, "state")
	if err := os.Mkdir(stateDir, 0o750); err != nil {
		t.Fatal(err)
	}
	os.Chown(stateDir, 0, gid)
	os.Chmod(stateDir, os.ModeSetgid|0o750) // as install.sh: 2750, so files inherit the group
	cfg := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfg, []byte("ports:\n  - ports: \"443\"\n    remark: alice\n    quota: 1GiB\n"), 0o600)

	e, err := enforcer.New(enforcer.Options{ConfigPath: cfg, NetNS: pair.Server.Fd(), StateDir: stateDir,
		AdminSocket: filepath.Join(dir, "admin.sock"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := pair.TCP(testnet.ServerIP4, 443, 20_000, 20_000, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Reset([]string{"443"}, false, state.ReasonManual); err != nil { // writes the history
		t.Fatal(err)
	}
	if _, err := e.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	// The enforcer creates its files with the modes the design needs.
	for name, want := range map[string]os.FileMode{state.FileName: 0o640, state.MetaName: 0o640, state.HistoryName: 0o600} {
		fi, err := os.Stat(filepath.Join(stateDir, name))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != want || int(st.Gid) != gid {
			t.Errorf("%s: mode %v gid %d, want %v gid %d", name, fi.Mode().Perm(), st.Gid, want, gid)
		}
	}

	exporter := func(port int, setpriv ...string) string {
		args := append([]string{"setpriv", "--reuid=" + nobody.Uid}, setpriv...)
		args = append(args, bins+"/dog-exporter", fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--state-dir="+stateDir)
		pair.Server.Start(t, args...)
		return scrape(t, pair.Server, port)
	}
	// As the unit runs it: nobody, the state's group, CAP_NET_ADMIN only.
	out := exporter(9730, "--regid="+nogroup.Gid, "--clear-groups", "--inh-caps=+net_admin", "--ambient-caps=+net_admin")
	for _, want := range []string{"port_traffic_dog_up 1", `remark="alice"`, `port_traffic_dog_bytes_total{direction="in",port="443"}`} {
		if !strings.Contains(out, want) {
			t.Errorf("unprivileged exporter: no %s in\n%s", want, out)
		}
	}
	if !strings.Contains(out, `port_traffic_dog_quota_bytes{port="443"} 1073741824`) {
		t.Errorf("unprivileged exporter did not read the state")
	}
	// Without the capability: the kernel table is out of reach.
	if out := exporter(9731, "--regid="+nogroup.Gid, "--clear-groups", "--inh-caps=-all"); !strings.Contains(out, "port_traffic_dog_up 0") {
		t.Errorf("exporter without CAP_NET_ADMIN read the table:\n%s", out)
	}
	// Outside the group: counters, but not the state (remarks, quotas).
	out = exporter(9732, "--regid=54321", "--clear-groups", "--inh-caps=+net_admin", "--ambient-caps=+net_admin")
	if strings.Contains(out, `remark="alice"`) || !strings.Contains(out, "port_traffic_dog_up 1") {
		t.Errorf("exporter outside the group:\n%s", out)
	}
}

// scrape fetches /metrics from a server listening inside ns, retrying while
// it starts and until the body has every one of wants (a daemon's first
// scrape may come before the enforcer has applied the table).
func scrape(t *testing.T, ns *testnet.NS, port int, wants ...string) string {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (c net.Conn, err error) {
			err = ns.Do(func() error {
				var d net.Dialer
				c, err = d.DialContext(ctx, network, addr)
				return err
			})
			return c, err
		}}}
	var body string
	var missing []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		missing = wants
		if resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port)); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				body, missing = string(b), nil
				for _, w := range wants {
					if !strings.Contains(body, w) {
						missing = append(missing, w)
					}
				}
				if len(missing) == 0 {
					return body
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the exporter on port %d: after 10 s, no %q in the last answer:\n%s", port, missing, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
