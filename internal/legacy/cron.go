package legacy

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"port-traffic-dog/internal/atomicfile"
)

// Crontab is root's crontab, where the script keeps its resets, reports and
// snapshot jobs.
type Crontab struct {
	// File, when set, is read and written directly instead of through the
	// crontab command (tests, or a spool file given by the operator).
	File string
}

// Read returns the crontab's text ("" when there is none).
func (c Crontab) Read() (string, error) {
	if c.File != "" {
		b, err := os.ReadFile(c.File)
		if errors.Is(err, os.ErrNotExist) {
			return "", nil
		}
		return string(b), err
	}
	if _, err := exec.LookPath("crontab"); err != nil {
		return "", nil // no cron installed: no lines to remove
	}
	var out, errb bytes.Buffer
	cmd := exec.Command("crontab", "-l")
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if strings.Contains(errb.String(), "no crontab") {
			return "", nil
		}
		return "", fmt.Errorf("crontab -l: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Write replaces the crontab's text.
func (c Crontab) Write(text string) error {
	if c.File != "" {
		mode := os.FileMode(0o600)
		if fi, err := os.Stat(c.File); err == nil {
			mode = fi.Mode().Perm()
		}
		return atomicfile.WriteFile(c.File, []byte(text), mode)
	}
	var errb bytes.Buffer
	cmd := exec.Command("crontab", "-")
	cmd.Stdin, cmd.Stderr = strings.NewReader(text), &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("crontab -: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	return nil
}

// cronMarkers are the comments the script puts on its lines (狗 since 1.2,
// 犬 in 1.0.x) and its snapshot cleanup job's.
var cronMarkers = []string{"端口流量狗", "端口流量犬", "清理过期快照"}

// SplitCron separates the script's lines (its jobs: resets, status
// reports, snapshots, any @reboot line running it) from the rest, which is
// kept as it is, the PATH line the script added included.
func SplitCron(text string) (keep, legacy []string) {
	for _, l := range strings.SplitAfter(text, "\n") {
		if l == "" {
			continue
		}
		t := strings.TrimSpace(l)
		isJob := t != "" && !strings.HasPrefix(t, "#") && !strings.Contains(strings.SplitN(t, " ", 2)[0], "=")
		mine := false
		for _, m := range cronMarkers {
			if strings.Contains(t, m) {
				mine = true
			}
		}
		// Unmarked lines: those running the script's file. Not any line
		// naming port-traffic-dog: this tool's own dirs are named so.
		if isJob && (mine || strings.Contains(t, "port-traffic-dog.sh")) {
			legacy = append(legacy, strings.TrimRight(l, "\n"))
			continue
		}
		keep = append(keep, l)
	}
	return keep, legacy
}
