package filestamp

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func stamp(t *testing.T, path string) Stamp {
	t.Helper()
	s, err := Of(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStampSeesEveryChange: the same file stamps equal; a change of size,
// of modification time alone, or of inode alone (a same-sized file of the
// same time renamed over it, as an atomic write does) stamps differently.
func TestStampSeesEveryChange(t *testing.T) {
	dir := t.TempDir()
	path, other := filepath.Join(dir, "f"), filepath.Join(dir, "g")
	at := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
	write := func(p, content string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	write(path, "abc")
	before := stamp(t, path)
	if again := stamp(t, path); again != before {
		t.Fatalf("unchanged file: %+v then %+v", before, again)
	}

	write(path, "abcd")
	if s := stamp(t, path); s == before {
		t.Error("a changed size went unseen")
	}
	write(path, "abc")
	if s := stamp(t, path); s != before {
		t.Fatalf("the same inode, size and time stamp differently: %+v, %+v", before, s)
	}

	at = at.Add(time.Nanosecond)
	write(path, "xyz")
	if s := stamp(t, path); s == before {
		t.Error("a changed modification time went unseen")
	}
	at = at.Add(-time.Nanosecond)
	write(path, "abc")

	write(other, "abc")
	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	if s := stamp(t, path); s == before {
		t.Error("a file renamed over it (another inode) went unseen")
	}
}

// TestStampOfMissingAndUnreadable: a missing file is the zero Stamp with
// fs.ErrNotExist; one that cannot be stat'ed for another reason returns
// the error and a stamp unlike both a missing and a present file.
func TestStampOfMissingAndUnreadable(t *testing.T) {
	dir := t.TempDir()
	missing, err := Of(filepath.Join(dir, "missing"))
	if !errors.Is(err, fs.ErrNotExist) || missing != (Stamp{}) {
		t.Fatalf("missing file: %+v, %v", missing, err)
	}
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// Below a regular file: ENOTDIR, a failure other than absence (and
	// one that holds for root too, unlike a permission).
	failed, err := Of(filepath.Join(file, "x"))
	if !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("stat below a file: %v, want ENOTDIR", err)
	}
	if failed == missing || failed == stamp(t, file) {
		t.Fatalf("a failed stat stamps like a missing or a present file: %+v", failed)
	}
}
