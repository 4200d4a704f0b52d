// Package atomicfile replaces files so that a reader, or a restart after a
// crash or power loss, finds the old content or the new, never a mix:
// write a temporary file, fsync it, rename it over the old one, fsync the
// directory. It also removes the temporary files a crash leaves behind.
//
// The temporary names are part of the installed-host contract: a start
// removes those of earlier releases, so they stay as they are.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// PrevSuffix names the file before the last WriteFile: <path>.prev, a hard
// link to the old content, kept so a file damaged after it was written
// still leaves a good one.
const PrevSuffix = ".prev"

// writeTemp is what the temporary file of WriteFile(…/base) is named
// after, with a random tail.
func writeTemp(base string) string { return "." + base + ".tmp" }

// linkTemp is the temporary link Link makes on the way to name.
func linkTemp(name string) string { return name + ".tmp" }

// WriteFile replaces path with data: temp file, fsync, keep the old
// file as <path>.prev (hard link), rename, fsync the directory.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// Write is WriteFile with the content written by fill, for content too
// large to hold in memory at once.
func Write(path string, perm os.FileMode, fill func(*os.File) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, writeTemp(filepath.Base(path))+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	cleanup := func() { _ = tmp.Close(); _ = os.Remove(tmp.Name()) }
	if err := tmp.Chmod(perm); err != nil {
		cleanup()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fill(tmp); err != nil {
		cleanup()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		cleanup()
		return fmt.Errorf("write %s: fsync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := os.Stat(path); err == nil {
		_ = Link(path, path+PrevSuffix) // best effort: the new file matters
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("write %s: fsync dir: %w", path, err)
	}
	return nil
}

// Link points name at the file path names now (a hard link), atomically:
// a reader finds the old target or the new one, never none.
func Link(path, name string) error {
	tmp := linkTemp(name)
	_ = os.Remove(tmp)
	if err := os.Link(path, tmp); err != nil {
		return fmt.Errorf("publish %s: %w", name, err)
	}
	if err := os.Rename(tmp, name); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("publish %s: %w", name, err)
	}
	return nil
}

// SyncDir fsyncs a directory, so that the entries renamed or created in it
// survive a power loss.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer func() { _ = d.Close() }()
	return d.Sync()
}

// RemoveStale removes from dir what a process that died in the middle of
// WriteFile or Link (SIGKILL, power loss) left behind: the temporary files
// of WriteFile for the files named written, with the half-made links of
// their .prev rotation, and the temporary links of Link for the names
// linked. None of them is ever read; without this they would pile up, one
// per crash. Call it when no write to those files can be in flight. A
// missing dir has nothing to remove.
func RemoveStale(dir string, written, linked []string) (removed int, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	stale := func(name string) bool {
		for _, base := range written {
			if strings.HasPrefix(name, writeTemp(base)) || name == linkTemp(base+PrevSuffix) {
				return true
			}
		}
		for _, l := range linked {
			if name == linkTemp(l) {
				return true
			}
		}
		return false
	}
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !stale(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}
