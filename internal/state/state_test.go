package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sample() *State {
	return &State{
		SavedAt: time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC),
		BootID:  "b1",
		Items: []Item{{ID: "p443", Ports: "443", Remark: "阿里 <x>", Protocols: "tcp+udp", Billing: "sum",
			Quota: 1 << 30, ResetDay: 1, In: Counter{100, 2}, Out: Counter{300, 3}, BaseIn: Counter{40, 1}, QuotaGen: 3}},
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := Load(dir); !errors.Is(err, ErrNotExist) {
		t.Fatalf("empty dir: %v", err)
	}
	st := sample()
	if err := Save(dir, st); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(dir, FileName))
	if fi.Mode().Perm() != FileMode {
		t.Errorf("mode %v", fi.Mode())
	}
	got, warn, err := Load(dir)
	if err != nil || warn != nil {
		t.Fatal(err, warn)
	}
	if got.Items[0].Remark != "阿里 <x>" || got.Items[0].PeriodIn().Bytes != 60 || got.Items[0].QuotaGen != 3 {
		t.Errorf("round trip: %+v", got.Items[0])
	}
	// A second save keeps the first as .prev.
	st.Items[0].In.Bytes = 200
	if err := Save(dir, st); err != nil {
		t.Fatal(err)
	}
	prev, err := ReadFile(filepath.Join(dir, PrevName))
	if err != nil || prev.Items[0].In.Bytes != 100 {
		t.Fatalf("prev: %v %+v", err, prev)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), "tmp") {
			t.Errorf("temp file left: %s", e.Name())
		}
	}
}

func TestDamagedFallsBack(t *testing.T) {
	dir := t.TempDir()
	st := sample()
	Save(dir, st)
	st.Items[0].In.Bytes = 999
	Save(dir, st)
	path := filepath.Join(dir, FileName)
	data, _ := os.ReadFile(path)

	for name, damaged := range map[string][]byte{
		"truncated": data[:len(data)/2],
		"bit flip":  []byte(strings.Replace(string(data), "999", "998", 1)),
		"empty":     nil,
		"format":    []byte(strings.Replace(string(data), `"format":1`, `"format":7`, 1)),
	} {
		os.WriteFile(path, damaged, 0o600)
		got, warn, err := Load(dir)
		if err != nil || warn == nil || got.Items[0].In.Bytes != 100 {
			t.Errorf("%s: got %v warn %v err %v", name, got, warn, err)
			continue
		}
		if !strings.Contains(warn.Error(), path) || !strings.Contains(warn.Error(), PrevName) {
			t.Errorf("%s: warning does not name the files: %v", name, warn)
		}
	}
	// Both damaged: refuse, naming the file.
	os.WriteFile(path, data[:10], 0o600)
	os.WriteFile(filepath.Join(dir, PrevName), data[:10], 0o600)
	if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("both damaged: %v", err)
	}
	os.Remove(filepath.Join(dir, PrevName))
	if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no previous checkpoint") {
		t.Fatalf("damaged without prev: %v", err)
	}
}

func TestHistory(t *testing.T) {
	dir := t.TempDir()
	e := Reset{Time: time.Now().UTC(), ID: "p443", Ports: "443", Reason: ReasonManual, InBytes: 5}
	if err := AppendHistory(dir, e, e); err != nil {
		t.Fatal(err)
	}
	// A torn line, as after a crash mid-append, then a good one.
	f, _ := os.OpenFile(filepath.Join(dir, HistoryName), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"2026-`)
	f.Close()
	AppendHistory(dir, e)
	got, skipped, err := ReadHistory(dir)
	if err != nil || len(got) != 3 || skipped != 1 {
		t.Fatalf("history: %d entries, %d skipped, %v", len(got), skipped, err)
	}
}

// TestDurablePublished: every save publishes the checkpoint it wrote as
// the served one, the same file (a link, no copy), with the counters only
// decoded back; a leftover link of an interrupted publish is stale temp.
func TestDurablePublished(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadDurable(dir); err == nil {
		t.Fatal("a durable checkpoint before any save")
	}
	st := sample()
	st.Host = &Item{ID: "host", Ports: "host", In: Counter{7, 1}, Out: Counter{9, 2}}
	for _, in := range []uint64{100, 250} {
		st.Items[0].In.Bytes = in
		if err := Save(dir, st); err != nil {
			t.Fatal(err)
		}
		c, err := ReadDurable(dir)
		if err != nil {
			t.Fatal(err)
		}
		want := ItemCounters{ID: "p443", Ports: "443", In: Counter{in, 2}, Out: Counter{300, 3}}
		if len(c.Items) != 1 || c.Items[0] != want || c.Host == nil || c.Host.Out != (Counter{9, 2}) || !c.SavedAt.Equal(st.SavedAt) {
			t.Fatalf("durable counters %+v, want %+v", c, want)
		}
		a, _ := os.Stat(filepath.Join(dir, FileName))
		b, _ := os.Stat(filepath.Join(dir, DurableName))
		if !os.SameFile(a, b) {
			t.Error("the durable checkpoint is not the state file")
		}
	}
	os.WriteFile(filepath.Join(dir, DurableName+".tmp"), nil, 0o600)
	if n, err := RemoveStaleTemp(dir); n != 1 || err != nil {
		t.Errorf("stale publish link: removed %d, %v", n, err)
	}
}
