package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"port-traffic-dog/internal/testutil"
)

func content(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWriteFileKeepsPrev: the first write creates the file with the mode
// asked for (whatever the umask), a second replaces it and keeps the old
// content as .prev, and no temporary file is left.
func TestWriteFileKeepsPrev(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.yml")
	if err := WriteFile(path, []byte("one"), 0o640); err != nil {
		t.Fatal(err)
	}
	if got := testutil.DirNames(t, dir); !slices.Equal(got, []string{"f.yml"}) {
		t.Fatalf("files after the first write: %v", got)
	}
	if err := WriteFile(path, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := testutil.DirNames(t, dir); !slices.Equal(got, []string{"f.yml", "f.yml.prev"}) {
		t.Fatalf("files after the second write: %v", got)
	}
	if c, p := content(t, path), content(t, path+PrevSuffix); c != "two" || p != "one" {
		t.Fatalf("file %q, prev %q; want two, one", c, p)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

// TestFailedWriteLeavesNothing: content that fails to write leaves the old
// file, no .prev and no temporary file, and the error names the file.
func TestFailedWriteLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(path, 0o600, func(f *os.File) error {
		if _, err := f.Write([]byte("half")); err != nil {
			t.Fatal(err)
		}
		return boom
	})
	if !errors.Is(err, boom) || err.Error() != "write "+path+": boom" {
		t.Fatalf("error %v, want one wrapping boom and naming the file", err)
	}
	if got := testutil.DirNames(t, dir); !slices.Equal(got, []string{"f"}) || content(t, path) != "old" {
		t.Fatalf("after a failed write: files %v, content %q", got, content(t, path))
	}
}

// TestLinkReplaces: Link moves a name from one file to another (the same
// file, not a copy) and leaves no temporary link.
func TestLinkReplaces(t *testing.T) {
	dir := t.TempDir()
	a, b, name := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "pub")
	for _, p := range []string{a, b} {
		if err := os.WriteFile(p, []byte(p), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, target := range []string{a, b} {
		if err := Link(target, name); err != nil {
			t.Fatal(err)
		}
		x, _ := os.Stat(target)
		y, err := os.Stat(name)
		if err != nil || !os.SameFile(x, y) {
			t.Fatalf("%s does not name %s: %v", name, target, err)
		}
	}
	if got := testutil.DirNames(t, dir); !slices.Equal(got, []string{"a", "b", "pub"}) {
		t.Fatalf("files %v", got)
	}
	if err := Link(filepath.Join(dir, "missing"), name); err == nil {
		t.Fatal("linked a missing file")
	}
}

// TestRemoveStale: the temporary files of the files named, and nothing
// else (not another file's, not a directory, not the files themselves).
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	stale := []string{".a.json.tmp123", ".a.json.tmp", "a.json.prev.tmp", ".b.tmp9", "b.prev.tmp", "a.json.pub.tmp"}
	keep := []string{"a.json", "a.json.prev", "a.json.pub", "b", "a.json.tmp", "other.tmp", ".c.tmp1", "c.prev.tmp", ".a.json.pub.tmp1", "a.json.pub.prev.tmp"}
	for _, n := range append(slices.Clone(stale), keep...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, ".a.json.tmpdir"), 0o700); err != nil { // not a regular file: not ours
		t.Fatal(err)
	}
	n, err := RemoveStale(dir, []string{"a.json", "b"}, []string{"a.json.pub"})
	if err != nil || n != len(stale) {
		t.Fatalf("removed %d, %v; want %d", n, err, len(stale))
	}
	want := append(slices.Clone(keep), ".a.json.tmpdir")
	slices.Sort(want)
	if got := testutil.DirNames(t, dir); !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	if n, err := RemoveStale(filepath.Join(dir, "missing"), []string{"a.json"}, nil); n != 0 || err != nil {
		t.Errorf("missing dir: %d %v", n, err)
	}
}

// TestRemoveStaleTakesAnInterruptedWrite: the temporary file of a write in
// flight is what RemoveStale removes, so a crash at that point leaves
// nothing behind after the next start; and the write, its file gone, fails
// instead of publishing nothing.
func TestRemoveStaleTakesAnInterruptedWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	err := Write(path, 0o600, func(f *os.File) error {
		if n, err := RemoveStale(dir, []string{"state"}, nil); n != 1 || err != nil {
			t.Errorf("removed %d (%v) with %s in flight, want it", n, err, filepath.Base(f.Name()))
		}
		return nil
	})
	if err == nil {
		t.Fatal("a write whose temporary file was removed succeeded")
	}
	if got := testutil.DirNames(t, dir); len(got) != 0 {
		t.Fatalf("left %v", got)
	}
}
