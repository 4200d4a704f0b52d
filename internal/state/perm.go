package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// The enforcer runs as root and writes in its state dir and to its config
// file. If another user could write either (or a directory above them),
// that user could plant a link for root to write through, or feed the
// enforcer counters and settings of their choice. So, as sshd's StrictModes
// does, each is checked before use: every directory on the way owned by
// root (or the enforcer's user) and not writable by others unless sticky
// (like /tmp, where no one can rename another's entries). A state dir or
// config file with loose modes but the right owner is tightened, with a
// note for the log: hosts installed before this check keep starting.

// CheckDir checks dir (which must exist) and the directories above it, and
// tightens dir itself to no group or other write access. It returns what it
// changed, for the log.
func CheckDir(dir string) (notes []string, err error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("state dir %s: %w", dir, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("state dir %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("state dir %s: not a directory", dir)
	}
	if err := ownedByUs(fi, "state dir "+dir); err != nil {
		return nil, err
	}
	if err := checkParents(real, "state dir "+dir); err != nil {
		return nil, err
	}
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		if err := os.Chmod(real, fi.Mode()&(fs.ModePerm|fs.ModeSetgid|fs.ModeSticky)&^0o022); err != nil {
			return nil, fmt.Errorf("state dir %s is writable by others (mode %04o) and could not be tightened: %w", dir, m, err)
		}
		notes = append(notes, fmt.Sprintf("state dir %s was writable by group or others (mode %04o): removed their write access", dir, m))
	}
	return notes, nil
}

// CheckConfigFile checks the config file the enforcer reads (and import
// rewrites) and the directories above it. Group write access stays (an
// admin group may edit the file with dog add); a file anyone may write is
// tightened. A missing file is fine (created later by root).
func CheckConfigFile(path string) (notes []string, err error) {
	real, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		dir, derr := filepath.EvalSymlinks(filepath.Dir(path))
		if derr != nil {
			return nil, nil // reading it fails and says so
		}
		return nil, checkParents(filepath.Join(dir, filepath.Base(path)), "config file "+path)
	}
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	if err := ownedByUs(fi, "config file "+path); err != nil {
		return nil, err
	}
	if err := checkParents(real, "config file "+path); err != nil {
		return nil, err
	}
	if m := fi.Mode().Perm(); m&0o002 != 0 {
		if err := os.Chmod(real, m&^0o002); err != nil {
			return nil, fmt.Errorf("config file %s is writable by anyone (mode %04o) and could not be tightened: %w", path, m, err)
		}
		notes = append(notes, fmt.Sprintf("config file %s was writable by anyone (mode %04o): removed that", path, m))
	}
	return notes, nil
}

func ownedByUs(fi fs.FileInfo, what string) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := uint32(os.Geteuid()); st.Uid != 0 && st.Uid != uid {
		return fmt.Errorf("%s is owned by uid %d, not by root: that user could make the enforcer (root) write or read what they choose; give it to root (chown root) or use another path", what, st.Uid)
	}
	return nil
}

// checkParents checks the directories above path (already free of links).
func checkParents(path, what string) error {
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := ownedByUs(fi, fmt.Sprintf("%s: the directory above it, %s,", what, dir)); err != nil {
			return err
		}
		if m := fi.Mode(); m.Perm()&0o002 != 0 && m&fs.ModeSticky == 0 {
			return fmt.Errorf("%s: the directory above it, %s, is writable by anyone (mode %04o): anyone could replace what the enforcer (root) writes there; use a path whose directories only root may write", what, dir, m.Perm())
		}
		if dir == "/" || dir == "." {
			return nil
		}
	}
}
