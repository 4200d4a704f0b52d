// Package fileedit replaces a file the operator owns (the config) in a way
// that can be taken back: the file a symlink points to is edited and the
// link kept, the owner's mode bits are kept (nothing for anyone else), the
// new content is written atomically (internal/atomicfile), and Undo puts
// the old content back, or removes a file the edit created.
package fileedit

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"port-traffic-dog/internal/atomicfile"
)

// Step is what Begin was doing when it failed.
type Step int

const (
	StepResolve Step = iota // following the path's symlinks
	StepMkdir               // creating the file's directory
	StepRead                // reading the file
)

// StepError is Begin's error: the step that failed (dog words it in the
// operator's language) and the cause.
type StepError struct {
	Step Step
	Err  error
}

func (e *StepError) Error() string {
	return [...]string{"config file", "config dir", "read config"}[e.Step] + ": " + e.Err.Error()
}

func (e *StepError) Unwrap() error { return e.Err }

// Edit is one edit of a file, begun by Begin.
type Edit struct {
	// Path is the file edited: the symlink's target when the path given
	// to Begin is one.
	Path    string
	old     []byte
	existed bool
	mode    os.FileMode
	wrote   bool
}

// Begin reads the file at path as it is now, for Undo. A file that does
// not exist is no error: the edit creates it (and its directory when
// mkdir).
func Begin(path string, mkdir bool) (*Edit, error) {
	target, err := filepath.EvalSymlinks(path) // edit the file a symlink points to, keep the link
	if errors.Is(err, fs.ErrNotExist) {
		target, err = path, nil
	}
	if err != nil {
		return nil, &StepError{StepResolve, err}
	}
	e := &Edit{Path: target, mode: 0o600}
	e.old, err = os.ReadFile(target)
	e.existed = err == nil
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if mkdir {
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return nil, &StepError{StepMkdir, err}
			}
		}
	case err != nil:
		return nil, &StepError{StepRead, err}
	}
	if fi, err := os.Stat(target); err == nil {
		// Owner bits as the operator chose them, nothing for anyone
		// else: remarks often name customers (docs/INSTALL.md).
		e.mode = fi.Mode().Perm() & 0o600
	}
	return e, nil
}

// Existed reports whether the file was there when the edit began.
func (e *Edit) Existed() bool { return e.existed }

// Old is the file's content when the edit began (nil: there was none).
func (e *Edit) Old() []byte { return e.old }

// Write replaces the file's content with data, atomically.
func (e *Edit) Write(data []byte) error {
	if err := atomicfile.WriteFile(e.Path, data, e.mode); err != nil {
		return err
	}
	e.wrote = true
	return nil
}

// Undo puts the file back as it was when the edit began; nothing to do
// when Write was not called.
func (e *Edit) Undo() error {
	if !e.wrote {
		return nil
	}
	if e.existed {
		return atomicfile.WriteFile(e.Path, e.old, e.mode)
	}
	return os.Remove(e.Path)
}
