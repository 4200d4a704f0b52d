package notify

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Tools are the programs of the Debian packages dog uses; it installs none.
type Tools struct {
	Promtool, Amtool, Alertmanager string
}

// findTools looks the programs up in PATH and names the packages of those
// missing.
func findTools(m *Messages) (Tools, error) {
	var t Tools
	var missing []string
	look := func(dst *string, pkg string, names ...string) {
		for _, n := range names {
			if p, err := exec.LookPath(n); err == nil {
				*dst = p
				return
			}
		}
		for _, p := range missing {
			if p == pkg {
				return
			}
		}
		missing = append(missing, pkg)
	}
	look(&t.Promtool, "prometheus", "promtool")
	look(&t.Amtool, "prometheus-alertmanager", "amtool")
	look(&t.Alertmanager, "prometheus-alertmanager", "prometheus-alertmanager", "alertmanager")
	if len(missing) > 0 {
		return t, kindError{fmt.Sprintf(m.MissingPackages, strings.Join(missing, " ")), ErrNotInstalled}
	}
	return t, nil
}

var reVersion = regexp.MustCompile(`version ([0-9]+)\.([0-9]+)\.`)

// alertmanagerVersion returns the installed Alertmanager's major and minor
// version.
func alertmanagerVersion(ctx context.Context, bin string) (int, int, error) {
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("%s --version: %w: %s", bin, err, bytes.TrimSpace(out))
	}
	m := reVersion.FindSubmatch(out)
	if m == nil {
		return 0, 0, fmt.Errorf("%s --version: no version in %q", bin, firstLine(out))
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	return major, minor, nil
}

func firstLine(b []byte) string {
	l, _, _ := strings.Cut(string(b), "\n")
	return l
}

// check runs a validator; its output (which names files and lines, never
// the token: the token is in no argument) is part of the error.
func check(ctx context.Context, bin string, args ...string) error {
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// file is one file dog writes.
type file struct {
	path string
	data []byte
	mode fs.FileMode
	uid  int // -1 keeps the owner of the file it replaces (root if new)
	gid  int
}

// unchanged: the file is there with these bytes, mode and owner.
func (f file) unchanged() bool {
	b, err := os.ReadFile(f.path)
	if err != nil || !bytes.Equal(b, f.data) {
		return false
	}
	fi, err := os.Stat(f.path)
	if err != nil || fi.Mode().Perm() != f.mode {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return !ok || ((f.uid < 0 || int(st.Uid) == f.uid) && (f.gid < 0 || int(st.Gid) == f.gid))
}

// write replaces the file atomically: a temporary file in the same
// directory, created with the final mode (so a secret is never readable
// by others, not even for a moment), owned, synced, renamed.
func (f file) write() error {
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	uid, gid := f.uid, f.gid
	if fi, err := os.Stat(f.path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if uid < 0 {
				uid = int(st.Uid)
			}
			if gid < 0 {
				gid = int(st.Gid)
			}
		}
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".dog-*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(f.mode); err != nil {
		return err
	}
	if uid >= 0 || gid >= 0 {
		if err := tmp.Chown(uid, gid); err != nil {
			return err
		}
	}
	if _, err := tmp.Write(f.data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return err
	}
	done = true
	return nil
}

// prometheusGID is the group Alertmanager and Prometheus run as on Debian;
// the files holding secrets are 0640 root:prometheus.
func prometheusGID(m *Messages) (int, error) {
	g, err := user.LookupGroup("prometheus")
	if err != nil {
		return 0, kindError{m.NoPrometheusGroup, ErrNotInstalled}
	}
	return strconv.Atoi(g.Gid)
}

// backup copies path beside itself (mode 0600: it may hold a secret) and
// returns the copy's name.
func backup(path string, data []byte, now time.Time) (string, error) {
	name := path + ".dog-backup-" + now.UTC().Format("20060102T150405Z")
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return "", err
	}
	return name, f.Close()
}

// units are the Debian services that read the two files.
var units = []string{"prometheus", "prometheus-alertmanager"}

// systemdRuns: systemd is PID 1 (the documented test is this directory).
func systemdRuns() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// reload makes the running services read the new files: systemctl reload
// where systemd runs them, otherwise it says what to do.
func reload(ctx context.Context, e *Env) error {
	m := e.Msg
	if !systemdRuns() {
		fmt.Fprintln(e.Out, m.NoSystemd)
		return nil
	}
	var failed []string
	for _, u := range units {
		if exec.CommandContext(ctx, "systemctl", "is-active", "--quiet", u).Run() != nil {
			fmt.Fprintf(e.Out, m.UnitInactive+"\n", u, u)
			continue
		}
		if out, err := exec.CommandContext(ctx, "systemctl", "reload", u).CombinedOutput(); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v: %s", u, err, bytes.TrimSpace(out)))
			continue
		}
		fmt.Fprintf(e.Out, m.Reloaded+"\n", u)
	}
	if len(failed) > 0 {
		return fmt.Errorf("systemctl reload: %s", strings.Join(failed, "; "))
	}
	return nil
}
