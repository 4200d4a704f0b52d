package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"port-traffic-dog/internal/testnet"
	tu "port-traffic-dog/internal/testutil"
)

// TestQuickStart runs the README's first command as an operator trying the
// product on a fresh host would: its make targets are the ones the README
// names, `make run` builds and then runs deploy/run-local.sh on the example
// config, and that script, with this test's binaries in bin/, starts both
// daemons, serves metrics on port 9730, answers `dog status` with the
// example's items and stops both daemons on Ctrl-C. It runs in a network
// namespace and a mount namespace of its own (the example's state dir and
// admin socket are under /var/lib and /run, which get a tmpfs each), so the
// host's table and files are not touched.
func TestQuickStart(t *testing.T) {
	tu.RequireRoot(t)
	for _, b := range []string{"make", "unshare", "nsenter", "nft", "pgrep"} {
		tu.RequireBinary(t, b)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "```sh\n")
	if !ok {
		t.Fatal("README.md: no sh block")
	}
	first, _, _ := strings.Cut(block, "\n")
	command, _, _ := strings.Cut(first, "#")
	if got := strings.Join(strings.Fields(command), " "); got != "sudo make deps run" {
		t.Fatalf("README.md's first command is %q; this test runs `sudo make deps run`: change one with the other", got)
	}
	// deps installs the daemons' packages (the CI host has them: not run
	// here); run builds, then runs the script.
	dry := func(target string) string {
		out, err := exec.Command("make", "-s", "-n", "-C", "..", target).CombinedOutput()
		if err != nil {
			t.Fatalf("make -n %s: %v\n%s", target, err, out)
		}
		return string(out)
	}
	if out := dry("deps"); !strings.Contains(out, "apt-get install") || !strings.Contains(out, "nftables") || !strings.Contains(out, "iproute2") {
		t.Errorf("make deps does not install nftables and iproute2:\n%s", out)
	}
	run := dry("run")
	if !strings.Contains(run, " build ") || !strings.Contains(run, "-o bin/ ./cmd/...") || !strings.HasSuffix(strings.TrimSpace(run), "deploy/run-local.sh deploy/config.example.yaml") {
		t.Fatalf("make run is not `go build -o bin/ ./cmd/...` then `deploy/run-local.sh deploy/config.example.yaml`:\n%s", run)
	}

	// The checkout as make run leaves it: bin/ built, the script and the
	// example config in deploy/.
	root := t.TempDir()
	for _, d := range []string{"bin", "deploy"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bins := binaries(t)
	for _, f := range [][2]string{
		{filepath.Join(bins, "dog"), "bin/dog"},
		{filepath.Join(bins, "dog-enforcer"), "bin/dog-enforcer"},
		{filepath.Join(bins, "dog-exporter"), "bin/dog-exporter"},
		{"run-local.sh", "deploy/run-local.sh"},
		{"config.example.yaml", "deploy/config.example.yaml"},
	} {
		copyFile(t, f[0], filepath.Join(root, f[1]))
	}

	ns := testnet.NewNS(t, "q")
	cmd := ns.Command("unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
		`mount -t tmpfs tmpfs /var/lib && mount -t tmpfs tmpfs /run && exec "$0" deploy/config.example.yaml`,
		filepath.Join(root, "deploy", "run-local.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "LC_ALL=")
	// Read by the cleanup while exec's goroutine may still write it (the
	// script not gone 10 s after its kill).
	var out tu.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// The script and both daemons are in the process group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
		if t.Failed() {
			t.Logf("make run's output:\n%s", out.String())
		}
	})

	// The exporter may answer before the enforcer has made the table.
	scrape(t, ns, 9730, "port_traffic_dog_up 1", `port_traffic_dog_bytes_total{direction="in",port="22"}`,
		`port_traffic_dog_bytes_total{direction="in",port="80,443"}`)
	var status string
	testnet.WaitFor(t, 10*time.Second, "dog status", func() bool {
		// In the script's mount namespace, where the admin socket is.
		c := exec.Command("nsenter", "-t", strconv.Itoa(cmd.Process.Pid), "-m", "-n", filepath.Join(root, "bin", "dog"), "status")
		c.Env = cmd.Env
		b, err := c.CombinedOutput()
		status = string(b)
		return err == nil
	})
	for _, want := range []string{"ssh", "web", "80,443"} {
		if !strings.Contains(status, want) {
			t.Errorf("dog status does not show %q:\n%s", want, status)
		}
	}
	if tbl := ns.Nft("list", "table", "inet", "port_traffic_dog"); !strings.Contains(tbl, "table inet port_traffic_dog") {
		t.Errorf("no table in the namespace:\n%s", tbl)
	}

	// Ctrl-C: the terminal sends SIGINT to the foreground process group.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		t.Fatal("make run's script and daemons still running 15 s after Ctrl-C")
	}
	if left, _ := exec.Command("pgrep", "-f", root).Output(); len(left) > 0 {
		t.Errorf("processes left after Ctrl-C: %s", left)
	}
	if strings.Contains(out.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", out.String())
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}
