package legacy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// DefaultShortcut is where every version installs its `dog` shortcut.
const DefaultShortcut = "/usr/local/bin/dog"

// IsScript reports whether path is the script's shortcut: a symlink to a
// file named like the script, or a shell script that is the script or runs
// it (`exec bash "/root/port-traffic-dog.sh" "$@"`). Our own dog, a Go
// binary, never is. deploy/legacy-detect.sh applies the same rule.
func IsScript(path string) (bool, error) { return isScript(path, true) }

// wrapperExec is the line of the shortcut the script writes.
var wrapperExec = regexp.MustCompile(`(?m)^exec bash "([^"]+)" "\$@"$`)

func isScript(path string, follow bool) (bool, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return false, nil
		}
		return false, err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(path)
		if err != nil {
			return false, err
		}
		return strings.Contains(filepath.Base(target), "port-traffic-dog"), nil
	}
	if !fi.Mode().IsRegular() {
		return false, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer func() { _ = f.Close() }()
	head := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if !bytes.HasPrefix(head, []byte("#!")) {
		return false, nil
	}
	for _, m := range []string{"port-traffic-dog", "端口流量狗", "端口流量犬"} {
		if bytes.Contains(head, []byte(m)) {
			return true, nil
		}
	}
	// The shortcut of a script saved under another name runs it.
	if m := wrapperExec.FindSubmatch(head); m != nil && follow {
		return isScript(string(m[1]), false)
	}
	return false, nil
}

// BackupDir writes a tar.gz of dir's regular files (symlinks and special
// files are left out) to a new 0600 file next to dir, outside it (the
// script's uninstaller deletes dir): it holds the bot token and customers'
// remarks.
func BackupDir(dir string, now time.Time) (string, error) {
	dir, err := filepath.Abs(dir) // "." would name the backup "..legacy-backup-…"
	if err != nil {
		return "", err
	}
	path := fmt.Sprintf("%s.legacy-backup-%s.tar.gz", dir, now.UTC().Format("20060102T150405Z"))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", fmt.Errorf("back up %s: %w", dir, err)
	}
	fail := func(err error) (string, error) {
		_ = f.Close()
		_ = os.Remove(path)
		return "", fmt.Errorf("back up %s: %w", dir, err)
	}
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	err = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(filepath.Dir(dir), p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: int64(fi.Mode().Perm()), Size: int64(len(data)), ModTime: fi.ModTime()}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		return fail(err)
	}
	if err := tw.Close(); err != nil {
		return fail(err)
	}
	if err := zw.Close(); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return "", err
	}
	return path, nil
}

// RetireConfig renames dir/config.json so that neither the script nor a
// second import finds it, and makes it private.
func RetireConfig(dir string, now time.Time) (string, error) {
	to := filepath.Join(dir, ConfigName+".migrated-"+now.UTC().Format("20060102T150405Z"))
	if err := os.Rename(filepath.Join(dir, ConfigName), to); err != nil {
		return "", fmt.Errorf("rename the legacy config: %w", err)
	}
	// The script wrote it 0644, with the bot token in it.
	if err := os.Chmod(to, 0o600); err != nil {
		return to, fmt.Errorf("make %s private: %w", to, err)
	}
	return to, nil
}

// Retired lists the configs an earlier import renamed.
func Retired(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, ConfigName+".migrated-*"))
	return m
}
