package legacy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Backup is one port's entry of traffic_data.json: the counters the script
// saved on exit (bytes as its counters held them, doubled in 1.2.5's double
// mode).
type Backup struct {
	In, Out uint64
	Time    string // backup_time as written
}

// LoadBackup reads dir/traffic_data.json; a missing file is no backup.
// Entries of ports the config does not list are ignored (the script drops
// them too).
func LoadBackup(dir string, cfg *Config) (map[string]Backup, error) {
	path := filepath.Join(dir, TrafficDataName)
	data, err := ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]Backup{}, nil
	}
	if err != nil {
		return nil, err
	}
	p := &parser{path: path}
	var top json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, p.fail("", "is not valid JSON: %v", err)
	}
	o, err := p.obj(top, "")
	if err != nil {
		return nil, err
	}
	out := map[string]Backup{}
	for _, pt := range cfg.Ports {
		raw, ok := o[pt.Key]
		if !ok {
			continue
		}
		k := fmt.Sprintf("[%q]", pt.Key)
		e, err := p.obj(raw, k, "input", "output", "backup_time")
		if err != nil {
			return nil, err
		}
		var b Backup
		for name, dst := range map[string]*uint64{"input": &b.In, "output": &b.Out} {
			v, ok := e[name]
			if !ok || isNull(v) {
				continue
			}
			n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return nil, p.fail(k+"."+name, "is %s %s, want a byte count", kind(v), clip(v))
			}
			*dst = n
		}
		if b.Time, _, err = p.str(e, k, "backup_time"); err != nil {
			return nil, err
		}
		out[pt.Key] = b
	}
	return out, nil
}

// HistoryEntry is one line of reset_history.log: "unix-time|port|bytes",
// the billable total the script showed before a reset.
type HistoryEntry struct {
	Time  time.Time
	Port  string
	Bytes uint64
}

// LoadHistory reads dir/reset_history.log; a missing file is no history.
func LoadHistory(dir string) ([]HistoryEntry, error) {
	path := filepath.Join(dir, HistoryLogName)
	data, err := ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []HistoryEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; sc.Scan(); line++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" {
			continue
		}
		f := strings.Split(l, "|")
		bad := func(why string) error {
			return &Error{Path: path, Key: "line " + strconv.Itoa(line), Msg: why + " (want unix-time|port|bytes)"}
		}
		if len(f) != 3 {
			return nil, bad(fmt.Sprintf("has %d fields", len(f)))
		}
		ts, err1 := strconv.ParseInt(f[0], 10, 64)
		n, err2 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || ts <= 0 || err2 != nil {
			return nil, bad("has a bad time or byte count")
		}
		if _, _, ok := parsePortKey(f[1]); !ok {
			return nil, bad(fmt.Sprintf("names port %q", f[1]))
		}
		out = append(out, HistoryEntry{Time: time.Unix(ts, 0).UTC(), Port: f[1], Bytes: n})
	}
	return out, sc.Err()
}
