package testutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TinyFS mounts a tmpfs of size bytes on a fresh directory and returns
// the directory. It is unmounted (lazily, so a process still holding a
// file in it cannot keep the mount alive) and removed at cleanup, also
// when the test fails. The test needs root.
func TinyFS(t testing.TB, size int) string {
	t.Helper()
	RequireRoot(t)
	base, err := os.MkdirTemp("", "dog-tinyfs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	dir := filepath.Join(base, "fs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Fatalf("mount a %d-byte tmpfs on %s: %v", size, dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// Fill writes a filler file in dir until the file system is full and
// returns a function that deletes it again. Pages freed later (a temporary
// file removed after a failed write) are not re-filled: the caller's
// writes fail the same way each time since they remove what they wrote.
func Fill(t testing.TB, dir string) (free func()) {
	t.Helper()
	f, err := os.CreateTemp(dir, "filler")
	if err != nil {
		t.Fatal(err)
	}
	path := f.Name()
	buf := make([]byte, 4096)
	for {
		if _, err = f.Write(buf); err != nil {
			break
		}
	}
	if !errors.Is(err, syscall.ENOSPC) {
		f.Close()
		t.Fatalf("filling %s: %v, want ENOSPC", dir, err)
	}
	// The last page may be partly free: top it up byte by byte.
	for {
		if _, err = f.Write(buf[:1]); err != nil {
			break
		}
	}
	f.Close()
	freed := false
	free = func() {
		if !freed {
			freed = true
			os.Remove(path)
		}
	}
	t.Cleanup(free)
	return free
}
