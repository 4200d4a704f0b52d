// Package filestamp tells whether a file changed without reading it: a
// stamp of its size, modification time and inode, compared with ==. A file
// replaced by a rename (an atomic write, a new link) has another inode even
// when its size and time match; one rewritten in place has another time.
package filestamp

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// Stamp identifies one version of a file. The zero Stamp is a file that
// does not exist.
type Stamp struct {
	mod  int64 // modification time, ns since the epoch
	size int64
	ino  uint64
	// failed is set when the file could not be stat'ed for another reason
	// than its absence: a stamp of its own, so the file becoming readable
	// again is a change too.
	failed bool
}

// Of stamps the file at path, and returns os.Stat's error (a missing file
// is fs.ErrNotExist, with the zero Stamp).
func Of(path string) (Stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Stamp{failed: !errors.Is(err, fs.ErrNotExist)}, err
	}
	s := Stamp{mod: fi.ModTime().UnixNano(), size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s, nil
}
