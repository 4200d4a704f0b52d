package state

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

var tailT0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// minute is the entry recorded i minutes after tailT0.
func minute(i int) Reset {
	return Reset{Time: tailT0.Add(time.Duration(i) * time.Minute), ID: "p443", Ports: "443", Reason: ReasonManual,
		PeriodStart: tailT0.Add(time.Duration(i-1) * time.Minute), InBytes: uint64(i)}
}

// writeHistory writes name in dir: the entries of minutes, one a line,
// with raw lines (damage) put in before the entry of the minute given.
func writeHistory(t *testing.T, dir, name string, minutes []int, raw map[int]string) {
	t.Helper()
	var b strings.Builder
	for _, m := range minutes {
		b.WriteString(raw[m])
		line, err := json.Marshal(minute(m))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func minutesOf(entries []Reset) []int {
	var out []int
	for _, e := range entries {
		out = append(out, int(e.Time.Sub(tailT0)/time.Minute))
	}
	return out
}

func span(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// TestHistoryTail: the tail reader returns the entries recorded since the
// bound, oldest first, and reads nothing before the first older entry from
// the end (damage there is never seen); a torn last line is skipped and
// counted, as Read does.
func TestHistoryTail(t *testing.T) {
	dir := t.TempDir()
	// Damage in the old part: counted only by a reader that went there.
	writeHistory(t, dir, HistoryName, span(0, 9), map[int]string{3: "not json\n"})
	for _, c := range []struct {
		since   int
		want    []int
		skipped int
	}{
		{6, span(6, 9), 0},
		{10, nil, 0},
		{-5, span(0, 9), 1},
	} {
		got, skipped, err := ReadHistoryTail(dir, minute(c.since).Time, nil)
		if err != nil || !slices.Equal(minutesOf(got), c.want) || skipped != c.skipped {
			t.Errorf("since minute %d: minutes %v, %d skipped, %v; want %v, %d skipped", c.since, minutesOf(got), skipped, err, c.want, c.skipped)
		}
	}
	got, _, _ := ReadHistoryTail(dir, minute(6).Time, nil)
	if got[0] != minute(6) {
		t.Errorf("entry read back as %+v, want %+v", got[0], minute(6))
	}
	// keep picks entries; those it drops do not end the read.
	got, _, err := ReadHistoryTail(dir, minute(5).Time, func(r *Reset) bool { return r.InBytes%2 == 0 })
	if err != nil || !slices.Equal(minutesOf(got), []int{6, 8}) {
		t.Errorf("kept: minutes %v, %v", minutesOf(got), err)
	}

	// A crash tore the last line.
	f, err := os.OpenFile(filepath.Join(dir, HistoryName), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"time":"2026-03-01T00:10:00Z","id":"p4`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, skipped, err := ReadHistoryTail(dir, minute(8).Time, nil)
	if err != nil || !slices.Equal(minutesOf(got), span(8, 9)) || skipped != 1 {
		t.Errorf("after a torn last line: minutes %v, %d skipped, %v", minutesOf(got), skipped, err)
	}
	// The next append starts a fresh line; the torn one stays skipped.
	if err := AppendHistory(dir, minute(11)); err != nil {
		t.Fatal(err)
	}
	got, skipped, err = ReadHistoryTail(dir, minute(9).Time, nil)
	if err != nil || !slices.Equal(minutesOf(got), []int{9, 11}) || skipped != 1 {
		t.Errorf("after an append to a torn line: minutes %v, %d skipped, %v", minutesOf(got), skipped, err)
	}
}

// TestHistoryTailRotated: the rotated file is read only when the bound
// reaches past the current file's start; a missing or empty current file
// (just rotated) leaves the rotated one to read; no history is no entries.
func TestHistoryTailRotated(t *testing.T) {
	dir := t.TempDir()
	if got, skipped, err := ReadHistoryTail(dir, tailT0, nil); got != nil || skipped != 0 || err != nil {
		t.Errorf("no history: %v, %d skipped, %v", got, skipped, err)
	}
	writeHistory(t, dir, RotatedName, span(0, 4), map[int]string{4: "garbage\n"})
	writeHistory(t, dir, HistoryName, span(5, 9), nil)
	for _, c := range []struct {
		since   int
		want    []int
		skipped int
	}{
		{7, span(7, 9), 0},
		{5, span(5, 9), 0}, // all of the current file, and the rotated one's last entry ends it
		{3, span(3, 9), 1},
		{-1, span(0, 9), 1},
	} {
		got, skipped, err := ReadHistoryTail(dir, minute(c.since).Time, nil)
		if err != nil || !slices.Equal(minutesOf(got), c.want) || skipped != c.skipped {
			t.Errorf("since minute %d: minutes %v, %d skipped, %v; want %v, %d skipped", c.since, minutesOf(got), skipped, err, c.want, c.skipped)
		}
	}
	// The rotated file is opened only when needed: one that would be
	// refused (a planted link) does not fail a read the current file ends.
	rotated := filepath.Join(dir, RotatedName)
	if err := os.Rename(rotated, rotated+".real"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(rotated+".real", rotated); err != nil {
		t.Fatal(err)
	}
	if got, _, err := ReadHistoryTail(dir, minute(7).Time, nil); err != nil || !slices.Equal(minutesOf(got), span(7, 9)) {
		t.Errorf("with a link for the rotated file, within the current one: %v, %v", minutesOf(got), err)
	}
	if _, _, err := ReadHistoryTail(dir, minute(3).Time, nil); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("a link for the rotated file, needed: %v", err)
	}
	if err := os.Rename(rotated+".real", rotated); err != nil {
		t.Fatal(err)
	}

	for name, current := range map[string]func() error{
		"empty":   func() error { return os.WriteFile(filepath.Join(dir, HistoryName), nil, 0o600) },
		"missing": func() error { return os.Remove(filepath.Join(dir, HistoryName)) },
	} {
		if err := current(); err != nil {
			t.Fatal(err)
		}
		got, skipped, err := ReadHistoryTail(dir, minute(2).Time, nil)
		if err != nil || !slices.Equal(minutesOf(got), span(2, 4)) || skipped != 1 {
			t.Errorf("current file %s: minutes %v, %d skipped, %v", name, minutesOf(got), skipped, err)
		}
	}
}

// TestHistoryTailLongLines: lines longer than the chunks the file is read
// in are joined across them; one longer than MaxLine is skipped and
// counted, as Read skips it, and the entries on both sides of it are read.
func TestHistoryTailLongLines(t *testing.T) {
	dir := t.TempDir()
	long := minute(1)
	long.Remark = strings.Repeat("长", 3*tailChunk/2) // 4.5 chunks of UTF-8
	if err := AppendHistory(dir, minute(0), long, minute(2)); err != nil {
		t.Fatal(err)
	}
	got, _, err := ReadHistoryTail(dir, minute(0).Time, nil)
	if err != nil || !slices.Equal(minutesOf(got), span(0, 2)) || got[1].Remark != long.Remark {
		t.Fatalf("long line: minutes %v, %v", minutesOf(got), err)
	}
	long.Remark = strings.Repeat("x", MaxLine)
	if err := AppendHistory(dir, long, minute(3)); err != nil {
		t.Fatal(err)
	}
	got, skipped, err := ReadHistoryTail(dir, minute(0).Time, nil)
	if err != nil || !slices.Equal(minutesOf(got), []int{0, 1, 2, 3}) || skipped != 1 {
		t.Errorf("a line over %d bytes: minutes %v, %d skipped, %v", MaxLine, minutesOf(got), skipped, err)
	}
}

// TestLongHistoryLineIsSkipped: a line longer than MaxLine (a reset of a
// group whose ports spec is padded to megabytes, or an archived entry that
// re-encoding made longer) costs that entry, not the whole history: dog
// history, export and import once failed on it ("token too long"), from
// either end of the file and in the first line too.
func TestLongHistoryLineIsSkipped(t *testing.T) {
	long := minute(1)
	long.Ports = strings.Repeat("<", 200_000) // JSON writes each as \u003c
	for name, entries := range map[string][]Reset{
		"middle": {minute(0), long, minute(2)},
		"first":  {long, minute(2)},
		"last":   {minute(0), long},
	} {
		dir := t.TempDir()
		if err := AppendHistory(dir, entries...); err != nil {
			t.Fatal(err)
		}
		var want []int
		for _, e := range entries {
			if e.Ports != long.Ports {
				want = append(want, minutesOf([]Reset{e})...)
			}
		}
		got, skipped, err := ReadHistory(dir)
		if err != nil || !slices.Equal(minutesOf(got), want) || skipped != 1 {
			t.Errorf("%s: Read: minutes %v, %d skipped, %v; want %v, 1 skipped", name, minutesOf(got), skipped, err, want)
		}
		got, skipped, err = ReadHistoryTail(dir, minute(0).Time, nil)
		if err != nil || !slices.Equal(minutesOf(got), want) || skipped != 1 {
			t.Errorf("%s: ReadHistoryTail: minutes %v, %d skipped, %v; want %v, 1 skipped", name, minutesOf(got), skipped, err, want)
		}
	}
}

// TestHistoryTailReadsOnlyTheTail: behind the entries since the bound lies
// a long history (here 8 MB); reading the tail costs a few KB of memory,
// not the file.
func TestHistoryTailReadsOnlyTheTail(t *testing.T) {
	dir := t.TempDir()
	line, _ := json.Marshal(minute(0))
	old := make([]byte, 0, 8<<20)
	for len(old) < 8<<20-len(line) {
		old = append(append(old, line...), '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, HistoryName), old, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := AppendHistory(dir, minute(10), minute(11), minute(12)); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, skipped, err := ReadHistoryTail(dir, minute(5).Time, nil)
	runtime.ReadMemStats(&after)
	if err != nil || skipped != 0 || !slices.Equal(minutesOf(got), span(10, 12)) {
		t.Fatalf("minutes %v, %d skipped, %v", minutesOf(got), skipped, err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d bytes", alloc)
	if alloc > 64<<10 {
		t.Errorf("reading 3 entries of the tail of an 8 MB history allocated %d bytes", alloc)
	}
}

// FuzzHistoryLines: both line readers hand over the lines a plain split
// finds, those longer than the bound as nil, whatever the bytes and
// wherever the reads' chunks cut them (small chunks and bounds here, so
// that lines cross chunks and pass the bound often).
func FuzzHistoryLines(f *testing.F) {
	f.Add([]byte("a\nbb\n\nccc"), uint8(3), uint8(2))
	f.Add([]byte("\n\n0123456789abcdef0123\nx\n"), uint8(4), uint8(16))
	f.Add([]byte("0123456789abcdef0123456789"), uint8(5), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, chunk, max uint8) {
		c, m := int(chunk%32)+1, int(max%40)
		var want []string
		for _, l := range strings.SplitAfter(string(data), "\n") {
			if l == "" {
				continue
			}
			l = strings.TrimSuffix(l, "\n")
			if len(l) > m {
				l = "<long>"
			}
			want = append(want, l)
		}
		show := func(l []byte) string {
			if l == nil {
				return "<long>"
			}
			return string(l)
		}
		var fwd []string
		if err := linesForward(bytes.NewReader(data), 16, m, func(l []byte) { fwd = append(fwd, show(l)) }); err != nil {
			t.Fatal(err)
		}
		var back []string
		if err := linesBackward(bytes.NewReader(data), int64(len(data)), c, m, func(l []byte) bool {
			back = append(back, show(l))
			return true
		}); err != nil {
			t.Fatal(err)
		}
		slices.Reverse(back)
		if !slices.Equal(fwd, want) || !slices.Equal(back, want) {
			t.Fatalf("chunk %d, max %d, %q:\n forward  %q\n backward %q\n want     %q", c, m, data, fwd, back, want)
		}
	})
}
