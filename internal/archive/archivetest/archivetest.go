// Package archivetest builds hostile and broken migration archives for tests:
// the archive reader's own tests, the fuzz seed corpus, and the import tests
// that check a refused archive leaves the host as it was.
package archivetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"port-traffic-dog/internal/archive"
)

// Entry is one tar entry to write as it is.
type Entry struct {
	Hdr  tar.Header
	Data []byte
	// Declared, when set, is the size the header claims whatever Data
	// holds: a huge entry without the bytes to build it.
	Declared int64
}

// Build writes entries into a tar.gz, headers untouched.
func Build(entries []Entry) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := e.Hdr
		if (h.Typeflag == tar.TypeReg || h.Typeflag == 0) && e.Declared == 0 {
			h.Size = int64(len(e.Data))
		}
		if e.Declared > 0 {
			h.Size = e.Declared
		}
		if h.Mode == 0 {
			h.Mode = 0o600
		}
		if err := tw.WriteHeader(&h); err != nil {
			panic(fmt.Sprintf("archivetest: %s: %v", h.Name, err))
		}
		if len(e.Data) > 0 {
			tw.Write(e.Data)
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// Entries unpacks a (valid) archive into its entries, so a test can alter
// one and rebuild.
func Entries(tgz []byte) []Entry {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		panic(err)
	}
	tr := tar.NewReader(zr)
	var out []Entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			panic(err)
		}
		data, _ := io.ReadAll(tr)
		out = append(out, Entry{Hdr: *h, Data: data})
	}
}

// Reg is a regular file entry.
func Reg(name string, data []byte) Entry {
	return Entry{Hdr: tar.Header{Typeflag: tar.TypeReg, Name: name}, Data: data}
}

// WithManifest rebuilds the manifest of entries so checksums and sizes match
// the (altered) files, with change applied to it: a hostile archive that
// passes the checksum test and must fail on its content.
func WithManifest(entries []Entry, change func(*archive.Manifest)) []Entry {
	var m archive.Manifest
	var out []Entry
	for _, e := range entries {
		if e.Hdr.Name == archive.ManifestName {
			json.Unmarshal(e.Data, &m)
			continue
		}
		out = append(out, e)
	}
	m.Files = nil
	for _, e := range out {
		if e.Hdr.Typeflag != tar.TypeReg {
			continue
		}
		s := sha256.Sum256(e.Data)
		m.Files = append(m.Files, archive.FileSum{Name: e.Hdr.Name, Size: int64(len(e.Data)), SHA256: hex.EncodeToString(s[:])})
	}
	if change != nil {
		change(&m)
	}
	mb, _ := json.Marshal(m)
	return append([]Entry{Reg(archive.ManifestName, mb)}, out...)
}

func replace(entries []Entry, name string, e Entry) []Entry {
	out := make([]Entry, len(entries))
	for i, x := range entries {
		if x.Hdr.Name == name {
			x = e
		}
		out[i] = x
	}
	return out
}

// Case is a hostile archive and a fragment of the message it must be
// refused with.
type Case struct {
	Name, Want string
	Data       []byte
}

// Hostile derives every kind of bad archive from a valid one.
func Hostile(valid []byte) []Case {
	es := Entries(valid)
	file := func(name string) []byte {
		for _, e := range es {
			if e.Hdr.Name == name {
				return e.Data
			}
		}
		panic("archivetest: no " + name)
	}
	cfg := file(archive.ConfigName)
	truncated := valid[:len(valid)*2/3]
	// Same size, one byte changed: only the checksum can tell.
	altered := bytes.Clone(cfg)
	altered[len(altered)-1] ^= 0x20
	badSum := Build(replace(es, archive.ConfigName, Reg(archive.ConfigName, altered)))
	return []Case{
		{"path traversal", `"..`, Build(append(es, Reg("../../etc/cron.d/evil", []byte("* * * * * root sh\n"))))},
		{"path traversal in a dir", `"..`, Build(append(es, Reg("x/../../config.yaml", []byte("a"))))},
		{"absolute path", "absolute path", Build(append(es, Reg("/etc/port-traffic-dog/config.yaml", cfg)))},
		{"symlink", "symbolic link", Build(replace(es, archive.ConfigName,
			Entry{Hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: archive.ConfigName, Linkname: "/etc/shadow"}}))},
		{"hard link", "hard link", Build(replace(es, archive.ConfigName,
			Entry{Hdr: tar.Header{Typeflag: tar.TypeLink, Name: archive.ConfigName, Linkname: "/etc/shadow"}}))},
		{"device node", "device node", Build(append(es,
			Entry{Hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "sda", Devmajor: 8}}))},
		{"char device", "device node", Build(replace(es, archive.HistoryName,
			Entry{Hdr: tar.Header{Typeflag: tar.TypeChar, Name: archive.HistoryName, Devmajor: 1, Devminor: 3}}))},
		{"fifo", "FIFO", Build(append(es, Entry{Hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "pipe"}}))},
		{"directory", "directory", Build(append([]Entry{{Hdr: tar.Header{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755}}}, es...))},
		{"unexpected file", "unexpected file", Build(append(es, Reg("install.sh", []byte("#!/bin/sh\nrm -rf /\n"))))},
		{"duplicate entry", "appears twice", Build(append(es, Reg(archive.ConfigName, cfg)))},
		{"truncated", "truncated", truncated},
		{"not gzip", "not a gzip", []byte("PK\x03\x04 this is a zip file")},
		{"empty", "not a gzip", nil},
		{"wrong checksum", "checksum mismatch", badSum},
		{"size mismatch", "the manifest says", Build(WithManifest(es, func(m *archive.Manifest) { m.Files[0].Size++ }))},
		{"missing manifest", "missing", Build(es[1:])},
		{"missing state", "does not list", Build(WithManifest(removeEntry(es, archive.StateName), nil))},
		{"huge file", "larger than", Build(replace(es, archive.HistoryName,
			Entry{Hdr: tar.Header{Typeflag: tar.TypeReg, Name: archive.HistoryName}, Data: []byte("{}\n"), Declared: 1 << 40}))},
		{"unknown format version", "newer than this dog", Build(WithManifest(es, func(m *archive.Manifest) { m.Format = 99 }))},
		{"other tool", "not by", Build(WithManifest(es, func(m *archive.Manifest) { m.Tool = "something-else" }))},
		{"invalid config inside", "does not validate", Build(WithManifest(
			replace(es, archive.ConfigName, Reg(archive.ConfigName, []byte("ports:\n  - ports: \"443\"\n    quota: lots\n"))), nil))},
		{"damaged state inside", archive.StateName, Build(WithManifest(
			replace(es, archive.StateName, Reg(archive.StateName, []byte(strings.Replace(string(file(archive.StateName)), `"bytes":`, `"bytes": 1`, 1)))), nil))},
		{"bad history line", "line 1", Build(WithManifest(
			replace(es, archive.HistoryName, Reg(archive.HistoryName, []byte("{\"id\": 5}\n"))), nil))},
		{"terminal escape in the manifest's host", "control character", Build(WithManifest(es, func(m *archive.Manifest) {
			m.Host = "relay\x1b]0;pwned\x07\x1b[2J"
		}))},
		{"terminal escape in the manifest's version", "control character", Build(WithManifest(es, func(m *archive.Manifest) {
			m.ToolVersion = "1.0\u009b31m"
		}))},
		{"terminal escape in a history remark", "line 2: remark", Build(WithManifest(replace(es, archive.HistoryName,
			Reg(archive.HistoryName, []byte(`{"time":"2026-01-01T00:00:00Z","id":"p443","ports":"443","reason":"auto","period_start":"2025-12-01T00:00:00Z","in_bytes":1,"out_bytes":1,"billable_bytes":2,"billing":"sum"}`+
				"\n"+`{"time":"2026-01-01T00:00:00Z","id":"p443","ports":"443","remark":"\u001b[8mhidden","reason":"auto","period_start":"2025-12-01T00:00:00Z","in_bytes":1,"out_bytes":1,"billable_bytes":2,"billing":"sum"}`+"\n"))), nil))},
		// 200 KB here; the history writes each < as \u003c, 1.2 MB: a
		// line every reader of it skips (it once made dog history,
		// export and import fail on this host until two rotations).
		{"history entry longer than a line once written", "line 1: ports is too long", Build(WithManifest(replace(es, archive.HistoryName,
			Reg(archive.HistoryName, []byte(`{"time":"2026-01-01T00:00:00Z","id":"p443","ports":"`+strings.Repeat("<", 200_000)+`","reason":"auto","period_start":"2025-12-01T00:00:00Z","in_bytes":1,"out_bytes":1,"billable_bytes":2,"billing":"sum"}`+"\n"))), nil))},
		{"bidi override in history ports", "bidirectional", Build(WithManifest(replace(es, archive.HistoryName,
			Reg(archive.HistoryName, []byte(`{"time":"2026-01-01T00:00:00Z","id":"p443","ports":"\u202e344","reason":"auto","period_start":"2025-12-01T00:00:00Z","in_bytes":1,"out_bytes":1,"billable_bytes":2,"billing":"sum"}`+"\n"))), nil))},
	}
}

func removeEntry(es []Entry, name string) []Entry {
	var out []Entry
	for _, e := range es {
		if e.Hdr.Name != name {
			out = append(out, e)
		}
	}
	return out
}
