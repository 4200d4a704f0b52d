package archive_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/archive"
	"port-traffic-dog/internal/archive/archivetest"
	"port-traffic-dog/internal/state"
)

const sampleConfig = `# the operator's comments survive an export
timezone: Asia/Shanghai
ports:
  - ports: "443"
    remark: 阿里 alice
    quota: 500GiB
  - ports: 5000-5100
`

func sampleInput() archive.Input {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	return archive.Input{
		ToolVersion: "1.2.3", Host: "old-vps", Created: time.Date(2026, 3, 14, 6, 0, 0, 0, time.UTC),
		Config: []byte(sampleConfig),
		State: &state.State{SavedAt: t0.Add(time.Hour), Timezone: "Asia/Shanghai",
			Items: []state.Item{{ID: "p443", Ports: "443", Billing: "sum", Quota: 500 << 30, ResetDay: 1,
				In: state.Counter{Bytes: 1000, Packets: 10}, Out: state.Counter{Bytes: 5000, Packets: 20},
				BaseIn: state.Counter{Bytes: 100, Packets: 1}, PeriodStart: t0, QuotaGen: 2}},
			Host: &state.Item{ID: "host", Ports: "host", Billing: "sum", In: state.Counter{Bytes: 9999, Packets: 99}}},
		History: []state.Reset{{Time: t0, ID: "p443", Ports: "443", Reason: state.ReasonAuto, PeriodStart: t0.AddDate(0, -1, 0),
			InBytes: 7, OutBytes: 8, Billable: 15, Billing: "sum"}},
	}
}

func valid(t testing.TB) []byte {
	var buf bytes.Buffer
	if err := archive.Write(&buf, sampleInput()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	in := sampleInput()
	c, err := archive.Read(bytes.NewReader(valid(t)))
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Config) != sampleConfig {
		t.Errorf("config not byte-for-byte:\n%s", c.Config)
	}
	if !reflect.DeepEqual(c.State, in.State) {
		t.Errorf("state:\n got %+v\nwant %+v", c.State, in.State)
	}
	if !reflect.DeepEqual(c.History, in.History) {
		t.Errorf("history: %+v", c.History)
	}
	m := c.Manifest
	if m.Format != archive.Format || m.Host != "old-vps" || m.ToolVersion != "1.2.3" || !m.Created.Equal(in.Created) ||
		m.Items != 1 || m.HistoryEntries != 1 || len(m.Files) != 3 {
		t.Errorf("manifest: %+v", m)
	}
	if len(c.Parsed.Items) != 2 || c.Parsed.Timezone != "Asia/Shanghai" {
		t.Errorf("parsed config: %+v", c.Parsed)
	}
}

func TestWriteRefusesInvalidConfig(t *testing.T) {
	in := sampleInput()
	in.Config = []byte("ports:\n  - ports: 0\n")
	if err := archive.Write(&bytes.Buffer{}, in); err == nil {
		t.Fatal("wrote an archive with an invalid config")
	}
}

// TestLongGroupHistoryImports: a group of many single ports is a valid item
// (a ports spec has no length limit but the config file's), and its resets
// are history entries with that spec. Such an archive once failed import
// ("ports is too long"): the bound meant for remarks was applied to ports.
func TestLongGroupHistoryImports(t *testing.T) {
	var members []string
	for p := 10001; p < 10400; p += 2 {
		members = append(members, strconv.Itoa(p))
	}
	ports := strings.Join(members, ",") // 200 ports, 1199 bytes
	in := sampleInput()
	in.Config = []byte(sampleConfig + "  - ports: \"" + ports + "\"\n    remark: many\n")
	t0 := in.History[0].Time
	in.History = append(in.History, state.Reset{Time: t0, ID: "g0", Ports: ports, Remark: "many", Reason: state.ReasonManual,
		PeriodStart: t0.AddDate(0, -1, 0), Billing: "sum"})
	var buf bytes.Buffer
	if err := archive.Write(&buf, in); err != nil {
		t.Fatal(err)
	}
	c, err := archive.Read(&buf)
	if err != nil {
		t.Fatalf("an archive of a valid host is refused: %v", err)
	}
	if len(c.History) != 2 || c.History[1].Ports != ports {
		t.Errorf("history: %+v", c.History)
	}
}

// TestHistoryLineAtTheBound: an entry this host's history holds (a line
// of up to state.MaxLine bytes, its newline not counted) is one an archive
// carries; one byte longer is refused, as every history reader skips it.
// The archive's reader once counted the newline in its bound: a dog
// export of such a history did not import.
func TestHistoryLineAtTheBound(t *testing.T) {
	in := sampleInput()
	e := in.History[0]
	e.Ports = ""
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, extra := range []int{0, 1} {
		e.Ports = strings.Repeat("1", state.MaxLine-len(b)+extra)
		in.History = []state.Reset{e}
		var buf bytes.Buffer
		if err := archive.Write(&buf, in); err != nil {
			t.Fatal(err)
		}
		_, err := archive.Read(&buf)
		if extra == 0 && err != nil {
			t.Errorf("a history line of %d bytes: %v", state.MaxLine, err)
		}
		if extra == 1 && (err == nil || !strings.Contains(err.Error(), "too long")) {
			t.Errorf("a history line of %d bytes: %v, want too long", state.MaxLine+1, err)
		}
	}
}

func TestHostileArchivesAreRefused(t *testing.T) {
	for _, c := range archivetest.Hostile(valid(t)) {
		t.Run(c.Name, func(t *testing.T) {
			got, err := archive.Read(bytes.NewReader(c.Data))
			if err == nil {
				t.Fatalf("accepted: %+v", got.Manifest)
			}
			var ae *archive.Error
			if !errors.As(err, &ae) {
				t.Errorf("error is not an *archive.Error: %T %v", err, err)
			}
			if !strings.Contains(err.Error(), c.Want) {
				t.Errorf("message %q does not say %q", err, c.Want)
			}
			t.Log(err)
		})
	}
}

// A gzip bomb whose entries each stay under their limit but expand past the
// total is stopped by the decompressed-bytes bound, long before memory runs
// out. (Bounds scaled down: the code path is the same as at 256 MiB.)
func TestDecompressedTotalIsBounded(t *testing.T) {
	es := archivetest.Entries(valid(t))
	for i, e := range es {
		if e.Hdr.Name == archive.HistoryName {
			es[i] = archivetest.Reg(archive.HistoryName, bytes.Repeat([]byte{'\n'}, 3<<20))
		}
	}
	_, err := archive.ReadLimited(bytes.NewReader(archivetest.Build(es)), archive.MaxArchiveSize, 2<<20)
	if err == nil || !strings.Contains(err.Error(), "expands to more than 2 MiB") {
		t.Fatalf("got %v", err)
	}
}

func TestCompressedSizeIsBounded(t *testing.T) {
	// Incompressible bytes: the compressed stream passes its bound while the
	// entry is still under its own.
	noise := make([]byte, 3<<20)
	rand.NewChaCha8([32]byte{1}).Read(noise)
	es := archivetest.Entries(valid(t))
	for i, e := range es {
		if e.Hdr.Name == archive.HistoryName {
			es[i] = archivetest.Reg(archive.HistoryName, noise)
		}
	}
	_, err := archive.ReadLimited(bytes.NewReader(archivetest.Build(es)), 2<<20, archive.MaxTotalSize)
	if err == nil || !strings.Contains(err.Error(), "larger than the 2 MiB limit") {
		t.Fatalf("got %v", err)
	}
}

func TestTrailingDataIsRefused(t *testing.T) {
	_, err := archive.Read(bytes.NewReader(append(valid(t), "#!/bin/sh\n"...)))
	if err == nil || !strings.Contains(err.Error(), "after the end") {
		t.Fatalf("got %v", err)
	}
}

// FuzzReadArchive: whatever the bytes, Read returns an archive or an
// *archive.Error, never panics, and what it accepts has everything checked.
func FuzzReadArchive(f *testing.F) {
	v := valid(f)
	f.Add(v)
	for _, c := range archivetest.Hostile(v) {
		if len(c.Data) < 1<<20 {
			f.Add(c.Data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := archive.Read(bytes.NewReader(data))
		if err != nil {
			var ae *archive.Error
			if !errors.As(err, &ae) {
				t.Fatalf("not an *archive.Error: %T %v", err, err)
			}
			return
		}
		if c.Parsed == nil || c.State == nil || c.Manifest.Format != archive.Format {
			t.Fatalf("accepted an unchecked archive: %+v", c.Manifest)
		}
	})
}

// TestPaddingCostsNoMemory: an archive within the size limits whose state
// is padded with blank space and whose history with empty lines (32 MiB
// here; a 240 KB file padded so once made one dry-run import peak at
// 479 MB, six in parallel at 2.18 GB) is read as a stream: what it
// allocates stays near what it holds.
func TestPaddingCostsNoMemory(t *testing.T) {
	const pad = 16 << 20
	es := archivetest.Entries(valid(t))
	for i, e := range es {
		switch e.Hdr.Name {
		case archive.StateName: // blank space between the envelope's tokens
			padded := append([]byte{'{'}, bytes.Repeat([]byte{' '}, pad)...)
			es[i] = archivetest.Reg(archive.StateName, append(padded, e.Data[1:]...))
		case archive.HistoryName:
			es[i] = archivetest.Reg(archive.HistoryName, append(bytes.Repeat([]byte{'\n'}, pad), e.Data...))
		}
	}
	data := archivetest.Build(archivetest.WithManifest(es, nil))
	t.Logf("archive: %d KB holding %d MiB of padding", len(data)>>10, 2*pad>>20)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c, err := archive.Read(bytes.NewReader(data))
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.History) != len(sampleInput().History) {
		t.Errorf("history: %d entries, want %d", len(c.History), len(sampleInput().History))
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB reading it", alloc>>10)
	if alloc > 8<<20 {
		t.Errorf("reading allocated %d MiB; the padding is %d MiB and the content a few KB", alloc>>20, 2*pad>>20)
	}
}
