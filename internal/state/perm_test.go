package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/testutil"
)

// TestPlantedLinksAreNotFollowed: a link planted in the state dir (by a
// user who could write it before the dir checks) makes root neither append
// to nor read the file it names.
func TestPlantedLinksAreNotFollowed(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "root-only")
	if err := os.WriteFile(target, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{HistoryName, FileName, PrevName} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	err := AppendHistory(dir, Reset{Time: time.Now(), ID: "p443", Ports: "443", Reason: ReasonManual})
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("append through a link: %v", err)
	}
	if _, _, err := ReadHistory(dir); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("history read through a link: %v", err)
	}
	if _, _, err := Load(dir); err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("state read through a link: %v", err)
	}
	if b, _ := os.ReadFile(target); string(b) != "secret\n" {
		t.Errorf("the link's target changed: %q", b)
	}
}

// TestDirChecks: a state dir (or config) another user owns, or under a
// directory anyone may write, is refused; a root-owned one with loose modes
// is tightened (hosts installed before the check keep starting).
func TestDirChecks(t *testing.T) {
	testutil.RequireRoot(t)
	base := t.TempDir()
	mk := func(name string, mode os.FileMode, uid int) string {
		p := filepath.Join(base, name)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, -1); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	loose := mk("loose", 0o777|os.ModeSetgid, 0)
	notes, err := CheckDir(loose)
	if err != nil || len(notes) != 1 {
		t.Errorf("root-owned 2777: %v %q", err, notes)
	}
	if fi, _ := os.Stat(loose); fi.Mode().Perm() != 0o755 || fi.Mode()&os.ModeSetgid == 0 {
		t.Errorf("tightened to %v, want 2755", fi.Mode())
	}
	deploy := mk("deploy", 0o750|os.ModeSetgid, 0) // as the units create it
	if notes, err := CheckDir(deploy); err != nil || len(notes) != 0 {
		t.Errorf("2750 root: %v %q", err, notes)
	}
	if _, err := CheckDir(mk("theirs", 0o700, 65534)); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("owned by nobody: %v", err)
	}
	open := mk("open", 0o777, 0)
	under := mk("open/state", 0o700, 0)
	if _, err := CheckDir(under); err == nil || !strings.Contains(err.Error(), "writable by anyone") {
		t.Errorf("under a world-writable dir: %v", err)
	}
	os.Chmod(open, 0o777|os.ModeSticky) // sticky, as /tmp: no one renames root's entries
	if _, err := CheckDir(under); err != nil {
		t.Errorf("under a sticky dir: %v", err)
	}

	cfg := filepath.Join(deploy, "config.yaml")
	os.WriteFile(cfg, nil, 0o666)
	os.Chmod(cfg, 0o666)
	if notes, err := CheckConfigFile(cfg); err != nil || len(notes) != 1 {
		t.Errorf("config 0666: %v %q", err, notes)
	}
	if fi, _ := os.Stat(cfg); fi.Mode().Perm() != 0o664 {
		t.Errorf("config tightened to %v, want 0664 (the admin group may write it)", fi.Mode())
	}
	os.Chown(cfg, 65534, -1)
	if _, err := CheckConfigFile(cfg); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("config owned by nobody: %v", err)
	}
}

// TestHistoryRotation: past its bound the history moves aside once (the
// older rotation goes), and reading returns both files, oldest first.
func TestHistoryRotation(t *testing.T) {
	dir := t.TempDir()
	add := func(n int) {
		for i := range n {
			if err := AppendHistory(dir, Reset{Time: time.Unix(int64(i), 0), ID: "p443", Ports: "443", Reason: ReasonManual}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(10)
	if rotated, err := RotateHistory(dir, 1<<20); rotated || err != nil {
		t.Fatalf("rotated a small history: %v", err)
	}
	if rotated, err := RotateHistory(dir, 100); !rotated || err != nil {
		t.Fatalf("did not rotate: %v", err)
	}
	add(3)
	h, _, err := ReadHistory(dir)
	if err != nil || len(h) != 13 || h[10].Time.Unix() != 0 || h[9].Time.Unix() != 9 {
		t.Fatalf("after one rotation: %d entries, %v", len(h), err)
	}
	if rotated, _ := RotateHistory(dir, 100); !rotated {
		t.Fatal("no second rotation")
	}
	if h, _, _ := ReadHistory(dir); len(h) != 3 {
		t.Errorf("after two rotations: %d entries, want the last 3", len(h))
	}
}
