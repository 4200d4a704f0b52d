package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// RemoveStaleTemp removes what WriteFileAtomic leaves behind when the
// process dies in the middle of a write (SIGKILL, power loss): the
// temporary files of the state and meta files and the half-made links of
// their .prev rotation. None of them is ever read; without this they would
// pile up, one per crash. Call it before the first write, when no write can
// be in flight.
func RemoveStaleTemp(dir string) (removed int, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("state dir %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !staleTemp(e.Name()) {
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

func staleTemp(name string) bool {
	for _, base := range []string{FileName, MetaName} {
		if strings.HasPrefix(name, "."+base+".tmp") || name == base+".prev.tmp" {
			return true
		}
	}
	return name == DurableName+".tmp"
}
