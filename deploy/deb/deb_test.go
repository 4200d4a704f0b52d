// Package deb_test builds the Debian packages with `make deb` and checks
// them: lintian, their file lists and modes, and a real install, upgrade,
// remove and purge with dpkg on this machine (CI's throwaway one), with and
// without a legacy port-traffic-dog.sh installation present.
package deb_test

import (
	"bufio"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"port-traffic-dog/internal/testnet"
	tu "port-traffic-dog/internal/testutil"
)

// The versions the test builds: sorting below any real release, and
// recognisable, so that a leftover of an interrupted run is told apart
// from an operator's install.
const (
	v1     = "0.0~dogtest1"
	v2     = "0.0~dogtest2"
	marker = "~dogtest"
	pkg    = "port-traffic-dog"
)

var repoRoot = func() string { d, _ := filepath.Abs("../.."); return d }()

// built holds the packages, built once per test binary: cross-compiling
// takes minutes on a small machine.
var built struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// debs returns the directory holding v1 for amd64 and arm64 and v2 for
// amd64 (the upgrade), built with the Makefile's target.
func debs(t *testing.T) string {
	t.Helper()
	tu.RequireBinary(t, "make")
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "dog-deb-")
		if built.err != nil {
			return
		}
		for _, args := range [][]string{
			{"deb", "VERSION=" + v1, "DIST=" + built.dir},
			{"deb", "VERSION=" + v2, "DEB_ARCH=amd64", "DIST=" + built.dir},
		} {
			cmd := exec.Command("make", append([]string{"-C", repoRoot}, args...)...)
			if out, err := cmd.CombinedOutput(); err != nil {
				built.err = fmt.Errorf("make %v: %w\n%s", args, err, out)
				return
			}
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

func debPath(t *testing.T, version, arch string) string {
	return filepath.Join(debs(t), fmt.Sprintf("%s_%s_%s.deb", pkg, version, arch))
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// entry is one line of dpkg-deb --contents.
type entry struct{ mode, owner string }

func contents(t *testing.T, deb string) map[string]entry {
	t.Helper()
	got := map[string]entry{}
	sc := bufio.NewScanner(strings.NewReader(run(t, "dpkg-deb", "--contents", deb)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			t.Fatalf("dpkg-deb --contents: unexpected line %q", sc.Text())
		}
		got[strings.TrimSuffix(strings.TrimPrefix(f[len(f)-1], "."), "/")] = entry{mode: f[0], owner: f[1]}
	}
	return got
}

// wantContents is the package's file list: the fixed part, plus what the
// tree holds for operators to copy (alerts, dashboards, Prometheus examples,
// docs), which the list follows as those directories grow.
func wantContents(t *testing.T) map[string]string {
	t.Helper()
	want := map[string]string{
		"/etc/port-traffic-dog":                           "drwxr-x---",
		"/etc/port-traffic-dog/config.yaml":               "-rw-------",
		"/usr/bin/dog":                                    "-rwxr-xr-x",
		"/usr/bin/dog-enforcer":                           "-rwxr-xr-x",
		"/usr/bin/dog-exporter":                           "-rwxr-xr-x",
		"/lib/systemd/system/dog-enforcer.service":        "-rw-r--r--",
		"/lib/systemd/system/dog-exporter.service":        "-rw-r--r--",
		"/usr/lib/sysusers.d/port-traffic-dog.conf":       "-rw-r--r--",
		"/usr/share/doc/port-traffic-dog/README.md":       "-rw-r--r--",
		"/usr/share/doc/port-traffic-dog/README.zh-CN.md": "-rw-r--r--",
		"/usr/share/doc/port-traffic-dog/copyright":       "-rw-r--r--",
		"/usr/share/doc/port-traffic-dog/changelog.gz":    "-rw-r--r--",
		"/usr/share/lintian/overrides/port-traffic-dog":   "-rw-r--r--",
	}
	docs, _ := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if len(docs) == 0 {
		t.Fatal("no docs/*.md in the tree")
	}
	for _, d := range docs {
		want["/usr/share/doc/port-traffic-dog/docs/"+filepath.Base(d)] = "-rw-r--r--"
	}
	for dir, dst := range map[string]string{"alerts": "alerts", "dashboards": "dashboards", "deploy/prometheus": "prometheus"} {
		filepath.WalkDir(filepath.Join(repoRoot, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") || strings.HasPrefix(d.Name(), ".") {
				return err
			}
			rel, _ := filepath.Rel(filepath.Join(repoRoot, dir), p)
			want["/usr/share/port-traffic-dog/"+dst+"/"+rel] = "-rw-r--r--"
			return nil
		})
	}
	for _, must := range []string{"alerts/rules.yml", "alerts/alertmanager.yml", "dashboards/port-traffic-dog-overview.json"} {
		if _, ok := want["/usr/share/port-traffic-dog/"+must]; !ok {
			t.Fatalf("%s missing from the tree", must)
		}
	}
	// Every parent directory: 0755 root, the config's excepted.
	for p := range want {
		for d := filepath.Dir(p); d != "/"; d = filepath.Dir(d) {
			if _, ok := want[d]; !ok {
				want[d] = "drwxr-xr-x"
			}
		}
	}
	return want
}

func TestPackageContents(t *testing.T) {
	tu.RequireBinary(t, "dpkg-deb")
	want := wantContents(t)
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			deb := debPath(t, v1, arch)
			got := contents(t, deb)
			for p, mode := range want {
				if e, ok := got[p]; !ok {
					t.Errorf("missing %s", p)
				} else if e.mode != mode || e.owner != "root/root" {
					t.Errorf("%s: %s %s, want %s root/root", p, e.mode, e.owner, mode)
				}
			}
			for p := range got {
				if _, ok := want[p]; !ok {
					t.Errorf("unexpected %s", p)
				}
			}

			field := func(name string) string {
				return strings.TrimSpace(run(t, "dpkg-deb", "--field", deb, name))
			}
			for name, want := range map[string]string{
				"Package": pkg, "Version": v1, "Architecture": arch,
				"Depends": "nftables, iproute2", "Suggests": "prometheus, prometheus-alertmanager", "Recommends": "",
			} {
				if got := field(name); got != want {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
			if got := run(t, "dpkg-deb", "--info", deb, "conffiles"); got != "/etc/port-traffic-dog/config.yaml\n" {
				t.Errorf("conffiles: %q", got)
			}

			// The binaries are for the package's architecture, position
			// independent and need no shared library (CGO off).
			x := t.TempDir()
			run(t, "dpkg-deb", "--extract", deb, x)
			machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
			for _, c := range []string{"dog", "dog-enforcer", "dog-exporter"} {
				f, err := elf.Open(filepath.Join(x, "usr/bin", c))
				if err != nil {
					t.Fatal(err)
				}
				libs, _ := f.ImportedLibraries()
				if f.Machine != machine || f.Type != elf.ET_DYN || len(libs) != 0 {
					t.Errorf("%s: machine %v, type %v, libraries %v; want %v, ET_DYN (PIE), none", c, f.Machine, f.Type, libs, machine)
				}
				f.Close()
			}
			unit, _ := os.ReadFile(filepath.Join(x, "lib/systemd/system/dog-enforcer.service"))
			if !strings.Contains(string(unit), "ExecStart=/usr/bin/dog-enforcer --config.file=/etc/port-traffic-dog/config.yaml") ||
				strings.Contains(string(unit), "DIR@") {
				t.Errorf("enforcer unit not filled in:\n%s", unit)
			}
			cr, _ := os.ReadFile(filepath.Join(x, "usr/share/doc", pkg, "copyright"))
			for _, mod := range []string{"Module: github.com/google/nftables ", "Module: Go standard library go1.", "/usr/share/common-licenses/Apache-2.0"} {
				if !strings.Contains(string(cr), mod) {
					t.Errorf("copyright lacks %q", mod)
				}
			}
		})
	}
}

// TestLintian: no error, no warning, and no override that matches nothing
// (every override in deploy/deb/lintian-overrides must still be needed).
func TestLintian(t *testing.T) {
	lintian := tu.RequireBinary(t, "lintian")
	amd, arm := debPath(t, v1, "amd64"), debPath(t, v1, "arm64")
	out, err := exec.Command(lintian, "--fail-on", "error,warning", "--info", "--no-tag-display-limit", amd, arm).CombinedOutput()
	var bad []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "E:") || strings.HasPrefix(l, "W:") ||
			strings.Contains(l, "unused-override") || strings.Contains(l, "mismatched-override") {
			bad = append(bad, l)
		}
	}
	if err != nil || len(bad) > 0 {
		t.Errorf("lintian: %v\n%s\n(full output:\n%s)", err, strings.Join(bad, "\n"), out)
	}
}

// host describes what of ours is on this machine, so the install test
// never destroys an operator's installation.
func refuseIfInstalled(t *testing.T) {
	t.Helper()
	out, _ := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Version}", pkg).Output()
	if f := strings.Fields(string(out)); len(f) == 2 && f[0] != "un" {
		if !strings.Contains(f[1], marker) {
			t.Fatalf("refusing to run: %s %s is installed here (status %s); this test installs and purges the package", pkg, f[1], f[0])
		}
		// A leftover of an interrupted run of this test.
		run(t, "dpkg", "--purge", pkg)
	}
	for _, p := range []string{"/etc/port-traffic-dog/config.yaml", "/var/lib/port-traffic-dog", "/usr/local/bin/dog-enforcer",
		"/etc/systemd/system/dog-enforcer.service", "/usr/local/bin/dog"} {
		if _, err := os.Lstat(p); err == nil {
			t.Fatalf("refusing to run: %s exists (an installation from source or the legacy script); this test installs and purges %s", p, pkg)
		}
	}
	if _, err := os.Lstat("/etc/port-traffic-dog"); err == nil {
		t.Fatalf("refusing to run: /etc/port-traffic-dog exists")
	}
}

// machine prepares the install test: root, dpkg, nothing of ours present;
// at the end the package is purged and a user the test made is deleted.
func machine(t *testing.T) {
	t.Helper()
	tu.RequireRoot(t)
	tu.RequireBinary(t, "dpkg", "dpkg-query")
	refuseIfInstalled(t)
	_, userErr := user.Lookup(pkg)
	t.Cleanup(func() {
		exec.Command("dpkg", "--purge", pkg).Run()
		if userErr != nil {
			exec.Command("userdel", pkg).Run()
			exec.Command("groupdel", pkg).Run()
		}
	})
}

func dpkg(t *testing.T, args ...string) string {
	t.Helper()
	return run(t, "dpkg", append([]string{"--force-confdef", "--force-confold"}, args...)...)
}

type stat struct {
	mode       fs.FileMode
	uid, gid   uint32
	content    string
	modifiedAt time.Time
}

func statOf(t *testing.T, path string) stat {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	s := stat{mode: fi.Mode(), uid: st.Uid, gid: st.Gid, modifiedAt: fi.ModTime()}
	if fi.Mode().IsRegular() {
		b, _ := os.ReadFile(path)
		s.content = string(b)
	}
	return s
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// packageFiles lists the package's regular files and its own directories
// (not the shared ones such as /usr/bin).
func packageFiles(t *testing.T, deb string) []string {
	var own []string
	for p, e := range contents(t, deb) {
		if !strings.HasPrefix(e.mode, "d") || strings.Contains(p, pkg) {
			own = append(own, p)
		}
	}
	sort.Strings(own)
	return own
}

// TestInstallUpgradeRemovePurge installs the amd64 package with dpkg, runs
// the installed enforcer in a network namespace to make real state,
// upgrades to v2, removes (inside that namespace, so the prerm's cleanup of
// the table is seen) and purges.
func TestInstallUpgradeRemovePurge(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("installs the amd64 package")
	}
	machine(t)
	old, upgrade := debPath(t, v1, "amd64"), debPath(t, v2, "amd64")

	out := dpkg(t, "--install", old)
	if !strings.Contains(out, "nothing is enabled or started") || !strings.Contains(out, "systemctl enable --now dog-enforcer dog-exporter") {
		t.Errorf("first install did not print the next commands:\n%s", out)
	}
	if strings.Contains(out, "import-legacy") {
		t.Errorf("first install reported a legacy installation on a machine without one:\n%s", out)
	}
	u, err := user.Lookup(pkg)
	if err != nil {
		t.Fatalf("user %s not created: %v", pkg, err)
	}
	g, err := user.LookupGroup(pkg)
	if err != nil {
		t.Fatalf("group %s not created: %v", pkg, err)
	}
	if u.HomeDir != "/nonexistent" || u.Gid != g.Gid || exists("/nonexistent") {
		t.Errorf("user: %+v (group %s)", u, g.Gid)
	}
	var gid uint32
	fmt.Sscan(g.Gid, &gid)
	for path, want := range map[string]stat{
		"/etc/port-traffic-dog":             {mode: fs.ModeDir | 0o750},
		"/etc/port-traffic-dog/config.yaml": {mode: 0o600},
		"/var/lib/port-traffic-dog":         {mode: fs.ModeDir | fs.ModeSetgid | 0o750, gid: gid},
		"/usr/bin/dog-enforcer":             {mode: 0o755},
	} {
		if got := statOf(t, path); got.mode != want.mode || got.uid != 0 || got.gid != want.gid {
			t.Errorf("%s: %v %d:%d, want %v 0:%d", path, got.mode, got.uid, got.gid, want.mode, want.gid)
		}
	}
	for _, c := range []string{"dog", "dog-enforcer", "dog-exporter"} {
		if out := run(t, "/usr/bin/"+c, "--version"); !strings.Contains(out, v1) {
			t.Errorf("%s --version: %s", c, out)
		}
	}
	if out := run(t, "/usr/bin/dog", "check-config", "/etc/port-traffic-dog/config.yaml"); !strings.Contains(out, "OK") {
		t.Errorf("dog check-config on the shipped config: %s", out)
	}
	verifyUnits(t)

	// Real state: the installed enforcer, in a namespace of its own, on
	// the installed config, stopped by SIGTERM (its final checkpoint).
	ns := testnet.NewNS(t, "deb")
	sock := filepath.Join(t.TempDir(), "enforcer.sock")
	enf := ns.Start(t, "/usr/bin/dog-enforcer", "--config.file=/etc/port-traffic-dog/config.yaml", "--admin-socket="+sock)
	waitFor(t, "the enforcer's table", func() bool {
		_, err := ns.Output("nft", "list", "table", "inet", "port_traffic_dog")
		return err == nil
	})
	enf.Process.Signal(syscall.SIGTERM)
	if err := enf.Wait(); err != nil {
		t.Fatalf("enforcer: %v", err)
	}
	if !exists("/var/lib/port-traffic-dog/state.json") {
		t.Fatal("the enforcer wrote no state.json on SIGTERM")
	}
	stateFiles, _ := filepath.Glob("/var/lib/port-traffic-dog/*")
	state := map[string]stat{"/var/lib/port-traffic-dog": statOf(t, "/var/lib/port-traffic-dog")}
	for _, f := range stateFiles {
		state[f] = statOf(t, f)
	}

	// The operator edits the config; an upgrade keeps it and the state.
	edited := statOf(t, "/etc/port-traffic-dog/config.yaml").content + "# edited by the operator\n"
	if err := os.WriteFile("/etc/port-traffic-dog/config.yaml", []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	out = dpkg(t, "--install", upgrade)
	if got := strings.TrimSpace(run(t, "dpkg-query", "-W", "-f", "${Version}", pkg)); got != v2 {
		t.Errorf("after the upgrade: version %s", got)
	}
	if out := run(t, "/usr/bin/dog", "--version"); !strings.Contains(out, v2) {
		t.Errorf("dog --version after the upgrade: %s", out)
	}
	if got := statOf(t, "/etc/port-traffic-dog/config.yaml"); got.content != edited || got.mode != 0o600 {
		t.Errorf("upgrade changed the edited config: %v\n%s\n(dpkg said:\n%s)", got.mode, got.content, out)
	}
	checkKept := func(when string) {
		t.Helper()
		for path, want := range state {
			if got := statOf(t, path); got.mode != want.mode || got.gid != want.gid || got.content != want.content {
				t.Errorf("%s: %s changed: %v gid %d (was %v gid %d), content equal: %v", when, path, got.mode, got.gid, want.mode, want.gid, got.content == want.content)
			}
		}
		if got := statOf(t, "/etc/port-traffic-dog/config.yaml"); got.content != edited {
			t.Errorf("%s: the config changed:\n%s", when, got.content)
		}
	}
	checkKept("upgrade")

	// Remove, run in the namespace: the prerm's dog-enforcer --cleanup
	// removes the table the enforcer left there (it stays in the kernel
	// when the daemon stops, so counting goes on across restarts). nsenter,
	// not ip netns exec: that one also makes a mount namespace, in which
	// ischroot(1) takes the machine for a chroot.
	removed, err := exec.Command("nsenter", "--net=/run/netns/"+ns.Name, "dpkg", "--remove", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg --remove: %v\n%s", err, removed)
	}
	if out, err := ns.Output("nft", "list", "table", "inet", "port_traffic_dog"); err == nil {
		t.Errorf("remove left the enforcer's table:\n%s\n(dpkg said:\n%s)", out, removed)
	}
	for _, gone := range []string{"/usr/bin/dog-enforcer", "/lib/systemd/system/dog-enforcer.service", "/usr/share/port-traffic-dog"} {
		if exists(gone) {
			t.Errorf("remove left %s", gone)
		}
	}
	checkKept("remove")

	// What dog import-legacy leaves beside the config: the bot token, its
	// .prev from a second run and a crashed write's temporary file (the
	// token's copies once outlived the purge, and kept the dir).
	for _, name := range []string{"telegram-bot-token", "telegram-bot-token.prev", ".telegram-bot-token.tmp123"} {
		path := filepath.Join("/etc/port-traffic-dog", name)
		if err := os.WriteFile(path, []byte("123:secret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(path); os.Remove(filepath.Dir(path)) }) // when purge did not
	}
	dpkg(t, "--purge", pkg)
	for _, p := range append(packageFiles(t, old), "/var/lib/port-traffic-dog", "/run/port-traffic-dog", "/etc/port-traffic-dog") {
		if exists(p) {
			t.Errorf("purge left %s", p)
		}
	}
	if st, _ := exec.Command("dpkg-query", "-W", "-f", "${db:Status-Abbrev}", pkg).Output(); strings.TrimSpace(string(st)) != "un" && len(st) > 0 {
		t.Errorf("dpkg still knows the package after purge: %q", st)
	}
	if _, err := user.Lookup(pkg); err != nil {
		t.Errorf("purge removed the system user (Debian's packages keep theirs): %v", err)
	}
}

// verifyUnits runs systemd-analyze verify on the installed units: it reads
// the unit files and every path they name from this machine's root, with no
// systemd running.
func verifyUnits(t *testing.T) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: units not verified")
		return
	}
	out, err := exec.Command(sa, "verify", "/lib/systemd/system/dog-enforcer.service", "/lib/systemd/system/dog-exporter.service").CombinedOutput()
	// verify exits 0 on many problems and only prints them: any output
	// about our units is a failure.
	if err != nil || strings.Contains(string(out), "dog-") {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestLegacyGuard installs next to a legacy port-traffic-dog.sh: its
// config.json in the shared /etc/port-traffic-dog and its bash script as
// /usr/local/bin/dog. The package says to run dog import-legacy, and
// neither the install nor the purge touches a legacy file.
func TestLegacyGuard(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("installs the amd64 package")
	}
	machine(t)
	deb := debPath(t, v1, "amd64")
	legacy := map[string]string{
		"/etc/port-traffic-dog/config.json": `{"global":{"billing_mode":"double"},"ports":{"443":{"remark":"alice"}}}` + "\n",
		"/usr/local/bin/dog":                "#!/bin/bash\n# 端口流量狗 port-traffic-dog.sh v1.2.5\necho legacy\n",
	}
	if err := os.MkdirAll("/etc/port-traffic-dog", 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for p := range legacy {
			os.Remove(p)
		}
		os.Remove("/etc/port-traffic-dog")
	})
	for p, c := range legacy {
		mode := fs.FileMode(0o644)
		if strings.HasPrefix(c, "#!") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(c), mode); err != nil {
			t.Fatal(err)
		}
	}
	before := map[string]stat{}
	for p := range legacy {
		before[p] = statOf(t, p)
	}
	checkUntouched := func(when string) {
		t.Helper()
		for p, want := range before {
			if got := statOf(t, p); got != want {
				t.Errorf("%s touched the legacy %s: %+v, was %+v", when, p, got, want)
			}
		}
	}

	out := dpkg(t, "--install", deb)
	for _, want := range []string{"port-traffic-dog.sh", "its config /etc/port-traffic-dog/config.json", "its shortcut /usr/local/bin/dog",
		"sudo /usr/bin/dog import-legacy", "Nothing was enabled or started", "旧版"} {
		if !strings.Contains(out, want) {
			t.Errorf("install next to the legacy script does not say %q:\n%s", want, out)
		}
	}
	// The migration starts the enforcer before the import; the plain
	// first-install steps (enable both now) must not be offered.
	if strings.Contains(out, "installed; nothing is enabled") || !strings.Contains(out, "counts beside the script until the import") {
		t.Errorf("install next to the legacy script offers the plain first-install steps:\n%s", out)
	}
	t.Logf("dpkg --install next to the legacy script:\n%s", out)
	checkUntouched("install")

	out = dpkg(t, "--purge", pkg)
	if !strings.Contains(out, "kept /etc/port-traffic-dog: it holds files that are not ours: config.json") {
		t.Errorf("purge did not say why it kept /etc/port-traffic-dog:\n%s", out)
	}
	checkUntouched("purge")
	if exists("/etc/port-traffic-dog/config.yaml") || exists("/var/lib/port-traffic-dog") {
		t.Error("purge next to the legacy script left our config or state")
	}
}
