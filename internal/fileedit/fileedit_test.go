package fileedit

import (
	"os"
	"path/filepath"
	"testing"
)

// TestEditKeepsLinkAndModeAndUndoes: a symlinked config is edited through
// the link (the link stays), its owner bits are kept and the group's and
// others' dropped, and Undo brings back the old content.
func TestEditKeepsLinkAndModeAndUndoes(t *testing.T) {
	dir := t.TempDir()
	target, link := filepath.Join(dir, "real.yml"), filepath.Join(dir, "config.yml")
	if err := os.WriteFile(target, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	e, err := Begin(link, false)
	if err != nil {
		t.Fatal(err)
	}
	if e.Path != target || !e.Existed() || string(e.Old()) != "old\n" {
		t.Fatalf("began %+v (old %q)", e, e.Old())
	}
	if err := e.Write([]byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link is gone: %v %v", fi, err)
	}
	fi, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(link); string(b) != "new\n" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("after the edit: %q mode %v", b, fi.Mode().Perm())
	}
	if err := e.Undo(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(link); string(b) != "old\n" {
		t.Fatalf("after the undo: %q", b)
	}
}

// TestUndoRemovesACreatedFile: an edit that created the file (and its
// directory) takes the file away again; one never written changes nothing.
func TestUndoRemovesACreatedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "etc", "config.yml")
	e, err := Begin(path, true)
	if err != nil {
		t.Fatal(err)
	}
	if e.Existed() {
		t.Fatal("a missing file existed")
	}
	if err := e.Undo(); err != nil {
		t.Fatalf("undo before a write: %v", err)
	}
	if err := e.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	if err := e.Undo(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("the created file is still there: %v", err)
	}
}
