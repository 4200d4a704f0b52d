package state

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
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
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("append history: %w", err)
	}
	defer f.Close()
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
			return fmt.Errorf("append history %s: %w; removing the partial entries failed too: %v", path, err, terr)
		}
		return fmt.Errorf("append history %s: %w", path, err)
	}
	return nil
}

// ReadHistory returns every entry of dir's history, oldest first. Lines that
// do not parse (a torn last line after a crash) are skipped and counted.
func ReadHistory(dir string) (entries []Reset, skipped int, err error) {
	f, err := os.Open(filepath.Join(dir, HistoryName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read history: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e Reset
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.ID == "" {
			skipped++
			continue
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return entries, skipped, fmt.Errorf("read history: %w", err)
	}
	return entries, skipped, nil
}
