package state

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"port-traffic-dog/internal/atomicfile"
)

// HistoryName is the reset history: one JSON object a line, appended and
// fsynced per reset, so a crash can at worst tear the last line (skipped).
const HistoryName = "history.jsonl"

// Reset reasons.
const (
	ReasonAuto   = "auto"
	ReasonManual = "manual"
	ReasonImport = "import"
)

// Reset is one history entry: a billing period that ended.
type Reset struct {
	Time        time.Time `json:"time"`
	ID          string    `json:"id"`
	Ports       string    `json:"ports"`
	Remark      string    `json:"remark,omitempty"`
	Reason      string    `json:"reason"`
	PeriodStart time.Time `json:"period_start"`
	InBytes     uint64    `json:"in_bytes"`
	OutBytes    uint64    `json:"out_bytes"`
	Billable    uint64    `json:"billable_bytes"`
	Billing     string    `json:"billing"`
	Quota       uint64    `json:"quota,omitempty"`
}

// AppendHistory appends entries to dir's history durably.
func AppendHistory(dir string, entries ...Reset) error {
	if len(entries) == 0 {
		return nil
	}
	path := filepath.Join(dir, HistoryName)
	// O_NOFOLLOW: a link planted in a state dir others could write would
	// have root append to the file it names.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("append history: %w", linkRefused(err))
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("append history %s: %w", path, err)
	}
	size := fi.Size()
	w := bufio.NewWriter(f)
	// A crash can leave a torn last line; start on a fresh line so the torn
	// one does not swallow this entry.
	if size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err == nil && last[0] != '\n' {
			w.WriteByte('\n')
		}
	}
	for _, e := range entries {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("append history: %w", err)
		}
		w.Write(b)
		w.WriteByte('\n')
	}
	err = w.Flush()
	if err == nil {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("fsync: %w", err)
		}
	}
	if err != nil {
		// All or nothing: a full disk can take part of the entries. Cut
		// them off again (truncating frees space, so it works when writing
		// did not), so the caller can retry them without duplicates.
		if terr := f.Truncate(size); terr != nil {
			return fmt.Errorf("append history %s: %w; removing the partial entries failed too: %w", path, err, terr)
		}
		return fmt.Errorf("append history %s: %w", path, err)
	}
	return nil
}

// RotatedName is the history before the last rotation.
const RotatedName = HistoryName + ".1"

// MaxHistorySize is where the history file is rotated: at ~300 bytes an
// entry, the two files keep the last 100,000 resets or more (eight years of
// monthly resets of 1,000 items), and their sum fits an export archive.
const MaxHistorySize = 32 << 20

// RotateHistory moves dir's history to RotatedName (replacing the one
// before) once it is larger than max, so the history's disk use is bounded
// whoever asks for resets. Call it where no append can be undone by a
// truncation (not during an import).
func RotateHistory(dir string, max int64) (rotated bool, err error) {
	path := filepath.Join(dir, HistoryName)
	fi, err := os.Lstat(path)
	if err != nil || fi.Size() <= max || !fi.Mode().IsRegular() {
		return false, nil
	}
	if err := os.Rename(path, filepath.Join(dir, RotatedName)); err != nil {
		return false, fmt.Errorf("rotate history: %w", err)
	}
	return true, atomicfile.SyncDir(dir)
}

// HistoryFiles is the history (rotated file first) as it stood when
// OpenHistory opened it: entries appended later are not read. Open it
// where appends are excluded (the enforcer's lock) and read it anywhere.
type HistoryFiles struct {
	files []*os.File
	sizes []int64
}

// OpenHistory opens dir's history files.
func OpenHistory(dir string) (*HistoryFiles, error) {
	h := &HistoryFiles{}
	for _, name := range []string{RotatedName, HistoryName} {
		f, size, err := openHistoryFile(dir, name)
		if err != nil {
			h.Close()
			return nil, err
		}
		if f != nil {
			h.files, h.sizes = append(h.files, f), append(h.sizes, size)
		}
	}
	return h, nil
}

// openHistoryFile opens one history file and takes its size; a missing file
// is nil.
func openHistoryFile(dir, name string) (*os.File, int64, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err == nil {
		var fi os.FileInfo
		if fi, err = f.Stat(); err == nil {
			return f, fi.Size(), nil
		}
		_ = f.Close()
	}
	return nil, 0, fmt.Errorf("read history: %w", linkRefused(err))
}

// Close closes the files.
func (h *HistoryFiles) Close() {
	for _, f := range h.files {
		_ = f.Close()
	}
}

// Read returns the entries keep takes (all for nil), oldest first, and
// closes the files. Lines that do not parse (a torn last line after a
// crash) or are longer than MaxLine are skipped and counted: one entry
// never makes the whole history unreadable.
func (h *HistoryFiles) Read(keep func(*Reset) bool) (entries []Reset, skipped int, err error) {
	defer h.Close()
	for i, f := range h.files {
		err := linesForward(io.NewSectionReader(f, 0, h.sizes[i]), 64<<10, MaxLine, func(line []byte) {
			var e Reset
			if line == nil || json.Unmarshal(line, &e) != nil || e.ID == "" {
				skipped++
				return
			}
			if keep == nil || keep(&e) {
				entries = append(entries, e)
			}
		})
		if err != nil {
			return entries, skipped, fmt.Errorf("read history %s: %w", f.Name(), err)
		}
	}
	return entries, skipped, nil
}

// linesForward calls line for every line of r, the first first, without
// its newline, reading bufSize bytes at a time. A line longer than max is
// handed over as nil, so memory stays at max however long a line is. line
// must not keep the slice.
func linesForward(r io.Reader, bufSize, max int, line func([]byte)) error {
	br := bufio.NewReaderSize(r, bufSize)
	var long []byte // the start of a line longer than the reader's buffer
	tooLong := false
	for {
		part, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if tooLong = tooLong || len(long)+len(part) > max; !tooLong {
				long = append(long, part...)
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		part = bytes.TrimSuffix(part, []byte{'\n'})
		switch {
		case len(part) == 0 && len(long) == 0 && !tooLong && err != nil:
			// The end of the file, after a newline: no line.
		case tooLong || len(long)+len(part) > max:
			line(nil)
		case len(long) > 0:
			line(append(long, part...))
		default:
			line(part)
		}
		long, tooLong = long[:0], false
		if err != nil {
			return nil
		}
	}
}

// MaxLine is the longest history line read; an entry is ~300 bytes. A
// longer one is skipped, as a torn one is.
const MaxLine = 1 << 20

// ReadHistoryTail returns the entries keep takes (all for nil) of the end of
// dir's history, oldest first: it reads the history backwards from its end
// and stops at the first entry older than since, reading the rotated file
// only when since reaches past the current file's start. The history is
// appended in time order, so what was recorded since a recent moment costs
// a few KB to find, not the whole history (up to 2 × MaxHistorySize).
// Entries appended out of order (an import's archived ones, or a clock
// stepped back by more than the caller allows for) end the read there.
// Lines that do not parse (a torn line after a crash) or are longer than
// MaxLine are skipped and counted, as Read does. On an error the entries
// read until then, the newest, are returned with it. Call it where appends
// are excluded (the enforcer's lock).
func ReadHistoryTail(dir string, since time.Time, keep func(*Reset) bool) (entries []Reset, skipped int, err error) {
	defer func() { slices.Reverse(entries) }() // read newest first
	for _, name := range []string{HistoryName, RotatedName} {
		f, size, err := openHistoryFile(dir, name)
		if err != nil {
			return entries, skipped, err
		}
		if f == nil {
			continue
		}
		older := false
		rerr := linesBackward(f, size, tailChunk, MaxLine, func(line []byte) bool {
			var e Reset
			if line == nil || json.Unmarshal(line, &e) != nil || e.ID == "" {
				skipped++
				return true
			}
			if e.Time.Before(since) {
				older = true
				return false
			}
			if keep == nil || keep(&e) {
				entries = append(entries, e)
			}
			return true
		})
		_ = f.Close()
		if rerr != nil || older {
			if rerr != nil {
				rerr = fmt.Errorf("read history %s: %w", f.Name(), rerr)
			}
			return entries, skipped, rerr
		}
	}
	return entries, skipped, nil
}

// tailChunk is what linesBackward reads at a time: a normal start needs the
// last few entries only.
const tailChunk = 16 << 10

// linesBackward calls line for every line of f's first size bytes, the last
// first, until it returns false, reading chunk bytes at a time. A line
// longer than max is handed over as nil. line must not keep the slice.
// Memory stays at a chunk and max, however long the file and its lines.
func linesBackward(f io.ReaderAt, size int64, chunk, max int, line func([]byte) bool) error {
	var buf, head []byte // head: the start of the file to the first newline read, not yet complete
	tooLong := false     // head was longer than max: dropped, its line skipped
	for end := size; end > 0; {
		n := min(int64(chunk), end)
		start := end - n
		buf = slices.Grow(buf[:0], int(n)+len(head))[:int(n)+len(head)]
		if _, err := f.ReadAt(buf[:n], start); err != nil {
			return err
		}
		copy(buf[n:], head)
		// Complete lines are the ones after a newline in buf (the last
		// one, when the file ends with a newline, is empty and no line).
		tail := len(buf)
		if end == size && buf[tail-1] == '\n' {
			tail--
		}
		for {
			i := bytes.LastIndexByte(buf[:tail], '\n')
			if i < 0 {
				break
			}
			l := buf[i+1 : tail]
			if tooLong || len(l) > max {
				l = nil
			}
			tooLong = false
			if !line(l) {
				return nil
			}
			tail = i
		}
		if tooLong = tooLong || tail > max; tooLong {
			head = head[:0]
		} else {
			head = append(head[:0], buf[:tail]...)
		}
		end = start
	}
	switch {
	case tooLong:
		line(nil) // the first line
	case size > 0:
		if head == nil {
			head = []byte{} // an empty line, not a long one
		}
		line(head)
	}
	return nil
}

// ReadHistory returns every entry of dir's history, oldest first. Lines
// that do not parse (a torn last line after a crash) are skipped and
// counted.
func ReadHistory(dir string) (entries []Reset, skipped int, err error) {
	h, err := OpenHistory(dir)
	if err != nil {
		return nil, 0, err
	}
	return h.Read(nil)
}

// linkRefused explains the error of an O_NOFOLLOW open of a link.
func linkRefused(err error) error {
	if errors.Is(err, syscall.ELOOP) {
		return fmt.Errorf("%w (a symbolic link where the enforcer keeps a file of its own: refused, never followed)", err)
	}
	return err
}
