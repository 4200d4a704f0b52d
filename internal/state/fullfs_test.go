package state

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"port-traffic-dog/internal/testutil"
)

func historySize(t *testing.T, dir string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, HistoryName))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestFullFileSystem writes checkpoints and history to a real 64 KiB tmpfs
// that is full, or has less room than a write needs (so the kernel takes
// part of it): every write fails with ENOSPC and leaves no trace, the last
// good checkpoint and the history stay loadable as they were, and once
// there is room again the same writes succeed.
func TestFullFileSystem(t *testing.T) {
	dir := testutil.TinyFS(t, 64<<10)
	st := sample()
	if err := Save(dir, st); err != nil {
		t.Fatal(err)
	}
	st.SavedAt = st.SavedAt.Add(time.Second)
	st.Items[0].In.Bytes = 1000
	if err := Save(dir, st); err != nil {
		t.Fatal(err)
	}
	first := Reset{Time: st.SavedAt, ID: "p443", Ports: "443", Reason: ReasonManual, InBytes: 1}
	if err := AppendHistory(dir, first, first); err != nil {
		t.Fatal(err)
	}
	// One page of room once the filler is in: writes bigger than that are
	// taken in part before ENOSPC.
	pad := filepath.Join(dir, "pad")
	if err := os.WriteFile(pad, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	free := testutil.Fill(t, dir)
	want := testutil.DirNames(t, dir)
	size := historySize(t, dir)

	check := func(phase string) {
		t.Helper()
		got, warn, err := Load(dir)
		if err != nil || warn != nil {
			t.Fatalf("%s: the last good checkpoint does not load: %v (warning %v)", phase, err, warn)
		}
		if !got.SavedAt.Equal(st.SavedAt) || got.Items[0].In.Bytes != 1000 {
			t.Fatalf("%s: loaded %v with %d bytes, want the checkpoint of %v", phase, got.SavedAt, got.Items[0].In.Bytes, st.SavedAt)
		}
		if c, err := ReadDurable(dir); err != nil || c.Items[0].In.Bytes != 1000 {
			t.Fatalf("%s: the served checkpoint moved: %+v, %v", phase, c, err)
		}
		if prev, err := ReadFile(filepath.Join(dir, PrevName)); err != nil || prev.Items[0].In.Bytes != 100 {
			t.Fatalf("%s: %s: %v", phase, PrevName, err)
		}
		if h, skipped, err := ReadHistory(dir); err != nil || skipped != 0 || len(h) != 2 {
			t.Fatalf("%s: history: %d entries, %d skipped, %v", phase, len(h), skipped, err)
		}
		if s := historySize(t, dir); s != size {
			t.Fatalf("%s: history is %d bytes, was %d: a failed append left part of itself", phase, s, size)
		}
		if got := testutil.DirNames(t, dir); !slices.Equal(got, want) {
			t.Fatalf("%s: files %v, want %v (a failed write left something)", phase, got, want)
		}
	}
	big := *st
	for i := 0; i < 50; i++ { // ~10 KiB: more than the free page
		big.Items = append(big.Items, Item{ID: "p" + strings.Repeat("9", 150), Remark: strings.Repeat("r", 50)})
	}
	many := make([]Reset, 30) // ~7 KiB
	for i := range many {
		many[i] = Reset{Time: st.SavedAt, ID: "p443", Ports: "443", Remark: strings.Repeat("x", 100), Reason: ReasonManual}
	}
	var free2 func()
	for _, full := range []bool{false, true} {
		phase := "one page free"
		if full {
			os.Remove(pad)
			os.WriteFile(pad, nil, 0o600) // keep the listing the same
			free2 = testutil.Fill(t, dir)
			want = testutil.DirNames(t, dir)
			phase = "full"
		}
		for i := range 5 {
			big.SavedAt = st.SavedAt.Add(time.Duration(i+2) * time.Second)
			err := Save(dir, &big)
			if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), filepath.Join(dir, FileName)) {
				t.Fatalf("%s: save: %v, want ENOSPC naming the file", phase, err)
			}
			check(phase + ", after a failed save")
			err = AppendHistory(dir, many...)
			if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), filepath.Join(dir, HistoryName)) {
				t.Fatalf("%s: append: %v, want ENOSPC naming the file", phase, err)
			}
			check(phase + ", after a failed append")
		}
	}

	free()
	free2()
	os.Remove(pad)
	if err := AppendHistory(dir, many...); err != nil {
		t.Fatalf("append once there is room: %v", err)
	}
	if h, skipped, err := ReadHistory(dir); err != nil || skipped != 0 || len(h) != 2+len(many) {
		t.Fatalf("history after recovery: %d entries, %d skipped, %v", len(h), skipped, err)
	}
	big.SavedAt = st.SavedAt.Add(time.Minute)
	if err := Save(dir, &big); err != nil {
		t.Fatalf("save once there is room: %v", err)
	}
	got, warn, err := Load(dir)
	if err != nil || warn != nil || !got.SavedAt.Equal(big.SavedAt) || len(got.Items) != len(big.Items) {
		t.Fatalf("load after recovery: %v %v", err, warn)
	}
	if prev, err := ReadFile(filepath.Join(dir, PrevName)); err != nil || !prev.SavedAt.Equal(st.SavedAt) {
		t.Fatalf("the previous checkpoint after recovery: %v", err)
	}
}

func TestRemoveStaleTemp(t *testing.T) {
	dir := t.TempDir()
	stale := []string{".state.json.tmp123", ".state.json.tmp", "state.json.prev.tmp", ".meta.json.tmp9", "meta.json.prev.tmp"}
	keep := []string{FileName, PrevName, MetaName, HistoryName, "other.tmp", ".config.yaml.tmp1", "state.json.tmp"}
	for _, n := range append(slices.Clone(stale), keep...) {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600)
	}
	os.Mkdir(filepath.Join(dir, ".state.json.tmpdir"), 0o700) // not a regular file: not ours
	n, err := RemoveStaleTemp(dir)
	if err != nil || n != len(stale) {
		t.Fatalf("removed %d, %v; want %d", n, err, len(stale))
	}
	got := testutil.DirNames(t, dir)
	for _, k := range append(keep, ".state.json.tmpdir") {
		if !slices.Contains(got, k) {
			t.Errorf("%s was removed", k)
		}
	}
	if n, err := RemoveStaleTemp(filepath.Join(dir, "missing")); n != 0 || err != nil {
		t.Errorf("missing dir: %d %v", n, err)
	}
}
