// Package archive is the migration archive of `dog export` and `dog import`:
// one tar.gz holding a manifest, the configuration, a checkpoint of the state
// and the reset history. Reading is defensive: an archive comes from another
// machine, maybe through hands nobody trusts, so everything is checked before
// anything is used, and every byte read is bounded. Nothing in an archive is
// ever executed or written anywhere by this package.
package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/state"
)

// Format is the archive format this version writes and the only one it
// reads. Bump it on any incompatible change; an older dog then refuses a
// newer archive instead of misreading it.
const Format = 1

// Tool names the product in the manifest, so an unrelated tar.gz is told
// apart from an archive of another format version.
const Tool = "port-traffic-dog"

// Entry names, in the order they are written.
const (
	ManifestName = "manifest.json"
	ConfigName   = "config.yaml"
	StateName    = "state.json"
	HistoryName  = "history.jsonl"
)

// How messages about an archive's configuration and state name them (the
// source of a config.Error, the state file's name), apart from this
// host's files.
const (
	ConfigSource = "archive " + ConfigName
	StateSource  = "archive " + StateName
)

// Limits. An archive of 50,000 items with years of history is a few MB; the
// bounds only stop a hostile or broken file from exhausting memory.
const (
	// MaxArchiveSize bounds the compressed file (and the admin request
	// that carries it).
	MaxArchiveSize = 64 << 20
	// MaxTotalSize bounds the decompressed bytes of all entries together,
	// tar headers included: a gzip bomb stops here.
	MaxTotalSize    = 256 << 20
	maxManifestSize = 1 << 20
	maxStateSize    = 128 << 20
	maxHistorySize  = 128 << 20
	maxHistoryLine  = state.MaxLine
)

var maxEntrySize = map[string]int64{
	ManifestName: maxManifestSize,
	ConfigName:   config.MaxFileSize,
	StateName:    maxStateSize,
	HistoryName:  maxHistorySize,
}

// order is the order of the entries in an archive.
var order = []string{ManifestName, ConfigName, StateName, HistoryName}

// FileSum is one entry as the manifest lists it.
type FileSum struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Manifest describes an archive.
type Manifest struct {
	Format      int       `json:"format"`
	Tool        string    `json:"tool"`
	ToolVersion string    `json:"tool_version"`
	Host        string    `json:"host"`
	Created     time.Time `json:"created"`
	// Items and HistoryEntries are for people reading the manifest.
	Items          int       `json:"items"`
	HistoryEntries int       `json:"history_entries"`
	Files          []FileSum `json:"files"`
}

// Contents is a validated archive.
type Contents struct {
	Manifest Manifest
	// Config is the configuration file's exact bytes (comments and all);
	// Parsed is its validated form.
	Config  []byte
	Parsed  *config.Config
	State   *state.State
	History []state.Reset
}

// Input is what Write archives.
type Input struct {
	ToolVersion string
	Host        string
	Created     time.Time
	Config      []byte
	State       *state.State
	History     []state.Reset
}

// Write writes an archive. The config must validate: an archive that import
// would refuse is not written at all.
func Write(w io.Writer, in Input) error {
	if _, err := config.Parse(in.Config, ConfigName); err != nil {
		return fmt.Errorf("archive: the configuration does not validate: %w", err)
	}
	if in.State == nil {
		return errors.New("archive: no state to archive")
	}
	stateBytes, err := state.Encode(in.State)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	var hist bytes.Buffer
	for _, r := range in.History {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("archive: history: %w", err)
		}
		hist.Write(b)
		hist.WriteByte('\n')
	}
	files := map[string][]byte{ConfigName: in.Config, StateName: stateBytes, HistoryName: hist.Bytes()}
	m := Manifest{Format: Format, Tool: Tool, ToolVersion: in.ToolVersion, Host: in.Host, Created: in.Created.UTC(),
		Items: len(in.State.Items), HistoryEntries: len(in.History)}
	for _, name := range order[1:] {
		m.Files = append(m.Files, sum(name, files[name]))
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("archive: manifest: %w", err)
	}
	files[ManifestName] = append(mb, '\n')

	zw := gzip.NewWriter(w)
	tw := tar.NewWriter(zw)
	for _, name := range order {
		data := files[name]
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600, Size: int64(len(data)),
			ModTime: m.Created, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("archive: %s: %w", name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("archive: %s: %w", name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	return nil
}

func sum(name string, data []byte) FileSum {
	s := sha256.Sum256(data)
	return FileSum{Name: name, Size: int64(len(data)), SHA256: hex.EncodeToString(s[:])}
}

// Error is why an archive was refused: its kind and the values its
// message names, so that dog says it in the operator's language and the
// admin API passes it on by its parts; Error is the English.
type Error struct {
	Entry string // the entry concerned, when there is one
	Kind  Kind
	Args  []string // the values the kind's message names, in order
	Err   error    // the cause, its message's last verb (%w), if any
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	if e.Entry != "" {
		return "invalid archive: " + e.Entry + ": " + e.Msg()
	}
	return "invalid archive: " + e.Msg()
}

// Msg is the message without "invalid archive" and the entry.
func (e *Error) Msg() string {
	args := make([]any, 0, len(e.Args)+1)
	for _, a := range e.Args {
		args = append(args, a)
	}
	if e.Err != nil {
		args = append(args, e.Err)
	}
	return fmt.Errorf(kindFormats[e.Kind], args...).Error()
}

// Kind names why an archive was refused. Kinds travel in the admin API's
// errors (an import the enforcer refuses): add new ones, never rename or
// reuse one.
type Kind string

// The kinds and, in kindFormats, their English.
const (
	KindTooLarge        Kind = "too_large"
	KindExpands         Kind = "expands"
	KindNotGzip         Kind = "not_gzip"
	KindTruncated       Kind = "truncated"
	KindRead            Kind = "read"
	KindTrailingData    Kind = "trailing_data"
	KindNoName          Kind = "no_name"
	KindAbsolutePath    Kind = "absolute_path"
	KindPathTraversal   Kind = "path_traversal"
	KindSymlink         Kind = "symlink"
	KindHardLink        Kind = "hard_link"
	KindDevice          Kind = "device"
	KindFIFO            Kind = "fifo"
	KindDirectory       Kind = "directory"
	KindEntryType       Kind = "entry_type"
	KindUnexpectedFile  Kind = "unexpected_file"
	KindNegativeSize    Kind = "negative_size"
	KindDuplicate       Kind = "duplicate"
	KindEntryTooLarge   Kind = "entry_too_large"
	KindNoManifest      Kind = "no_manifest"
	KindManifestJSON    Kind = "manifest_json"
	KindOtherTool       Kind = "other_tool"
	KindNewerFormat     Kind = "newer_format"
	KindUnknownFormat   Kind = "unknown_format"
	KindTextTooLong     Kind = "text_too_long"
	KindBadText         Kind = "bad_text"
	KindListedTwice     Kind = "listed_twice"
	KindListsUnexpected Kind = "lists_unexpected"
	KindNotListed       Kind = "not_listed"
	KindMissing         Kind = "missing"
	KindSizeMismatch    Kind = "size_mismatch"
	KindChecksum        Kind = "checksum"
	KindConfigInvalid   Kind = "config_invalid"
	KindStateInvalid    Kind = "state_invalid"
	KindItemNoID        Kind = "item_no_id"
	KindItemTwice       Kind = "item_twice"
	KindHostID          Kind = "host_id"
	KindHistoryLine     Kind = "history_line"
	KindHistoryNoID     Kind = "history_no_id"
	KindHistoryTooLong  Kind = "history_too_long"
	KindHistoryText     Kind = "history_text"
)

// kindFormats are the English of the kinds: an error's Args fill the
// verbs in order (all strings), its cause the last (%w).
var kindFormats = map[Kind]string{
	KindTooLarge:        "larger than the %s MiB limit",
	KindExpands:         "expands to more than %s MiB",
	KindNotGzip:         "not a gzip-compressed archive (%w)",
	KindTruncated:       "truncated (the file ends in the middle)",
	KindRead:            "%w",
	KindTrailingData:    "unexpected data after the end of the archive",
	KindNoName:          "an entry has no name",
	KindAbsolutePath:    "absolute path; an archive holds only %s",
	KindPathTraversal:   `path with ".." (path traversal); an archive holds only %s`,
	KindSymlink:         "is a symbolic link (to %q); archives hold regular files only",
	KindHardLink:        "is a hard link (to %q); archives hold regular files only",
	KindDevice:          "is a device node; archives hold regular files only",
	KindFIFO:            "is a FIFO; archives hold regular files only",
	KindDirectory:       "is a directory; archives hold regular files only",
	KindEntryType:       "has entry type %s; archives hold regular files only",
	KindUnexpectedFile:  "unexpected file; an archive holds only %s",
	KindNegativeSize:    "negative size",
	KindDuplicate:       "appears twice in the archive",
	KindEntryTooLarge:   "%s bytes is larger than the %s MiB limit",
	KindNoManifest:      "missing: this is not a dog export archive",
	KindManifestJSON:    "not valid JSON: %w",
	KindOtherTool:       "made by %q, not by %s",
	KindNewerFormat:     "archive format %s is newer than this dog reads (format %s): upgrade dog on this host",
	KindUnknownFormat:   "unknown archive format %s (this dog reads format %s)",
	KindTextTooLong:     "%s is longer than %s bytes",
	KindBadText:         "%s %q: %w",
	KindListedTwice:     "lists %s twice",
	KindListsUnexpected: "lists unexpected file %q",
	KindNotListed:       "does not list %s",
	KindMissing:         "missing from the archive (the manifest lists it)",
	KindSizeMismatch:    "is %s bytes, the manifest says %s: the archive is damaged",
	KindChecksum:        "checksum mismatch (sha256 differs from the manifest): the archive is damaged or was altered",
	KindConfigInvalid:   "does not validate: %w",
	KindStateInvalid:    "%w",
	KindItemNoID:        "item %s has no valid id",
	KindItemTwice:       "item %s appears twice",
	KindHostID:          "the host entry has id %q",
	KindHistoryLine:     "line %s: %w",
	KindHistoryNoID:     "line %s: an entry needs id and time",
	KindHistoryTooLong:  "line %s: %s is too long",
	KindHistoryText:     "line %s: %s %q: %w",
}

// Kinds lists the kinds.
func Kinds() []Kind { return slices.Sorted(maps.Keys(kindFormats)) }

// KindFormat is the English of kind ("" for a kind unknown here).
func KindFormat(kind Kind) string { return kindFormats[kind] }

// invalid is the error of kind about entry ("" for the archive), naming
// args (numbers as decimal text).
func invalid(entry string, kind Kind, args ...any) error {
	return invalidBy(entry, kind, nil, args...)
}

// invalidBy is invalid with a cause.
func invalidBy(entry string, kind Kind, cause error, args ...any) error {
	e := &Error{Entry: entry, Kind: kind, Err: cause}
	for _, a := range args {
		e.Args = append(e.Args, fmt.Sprint(a))
	}
	return e
}

// countingReader fails once more than max bytes were read through it.
type countingReader struct {
	r   io.Reader
	n   int64
	max int64
}

var errTooLarge = errors.New("too large")

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n > c.max {
		return 0, errTooLarge
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		return n, errTooLarge
	}
	return n, err
}

// Read reads and validates a whole archive: structure, manifest, checksums,
// sizes, the configuration (as the enforcer validates it), the state file
// and every history entry. It returns nothing unless everything is valid.
func Read(r io.Reader) (*Contents, error) {
	return read(r, MaxArchiveSize, MaxTotalSize)
}

func read(r io.Reader, maxCompressed, maxTotal int64) (*Contents, error) {
	compressed := &countingReader{r: r, max: maxCompressed}
	// gzip reads through a ByteReader it is given as it is, so whatever
	// follows the gzip member stays here to be noticed.
	br := bufio.NewReader(compressed)
	zr, err := gzip.NewReader(br)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, invalid("", KindTooLarge, maxCompressed>>20)
		}
		return nil, invalidBy("", KindNotGzip, err)
	}
	defer func() { _ = zr.Close() }()
	zr.Multistream(false) // one gzip member; anything after it is refused below
	raw := &countingReader{r: zr, max: maxTotal}
	tr := tar.NewReader(raw)
	got := map[string]*entry{}
	wrap := func(entry string, err error) error {
		switch {
		case errors.Is(err, errTooLarge) && compressed.n > compressed.max:
			return invalid("", KindTooLarge, maxCompressed>>20)
		case errors.Is(err, errTooLarge):
			return invalid("", KindExpands, maxTotal>>20)
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			return invalid(entry, KindTruncated)
		}
		return invalidBy(entry, KindRead, err)
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, wrap("", err)
		}
		name, err := checkHeader(hdr)
		if err != nil {
			return nil, err
		}
		if _, dup := got[name]; dup {
			return nil, invalid(name, KindDuplicate)
		}
		limit := maxEntrySize[name]
		if hdr.Size > limit {
			return nil, invalid(name, KindEntryTooLarge, hdr.Size, limit>>20)
		}
		e, err := readEntry(name, io.LimitReader(tr, hdr.Size))
		if err != nil {
			return nil, wrap(name, err)
		}
		if e.size != hdr.Size {
			return nil, invalid(name, KindTruncated)
		}
		got[name] = e
	}
	// Drain the gzip stream so a truncated trailer (a cut-off download) is
	// noticed even though the tar end marker was read.
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return nil, wrap("", err)
	}
	if _, err := br.ReadByte(); err == nil {
		return nil, invalid("", KindTrailingData)
	}
	return parse(got)
}

// entry is what reading one archive entry keeps: its size and checksum,
// and only the bytes worth keeping. Each entry is read as a stream (the
// history a line at a time, the state without JSON's blank space), so a
// padded archive within the size limits costs the memory of what it
// holds, not of its size.
type entry struct {
	size    int64
	sha256  string
	data    []byte        // manifest, config, state (compacted)
	history []state.Reset // history.jsonl, parsed
	err     error         // the content was bad: reported once the checksums passed
}

func readEntry(name string, r io.Reader) (*entry, error) {
	e := &entry{}
	h := sha256.New()
	counted := &countingReader{r: io.TeeReader(r, h), max: 1<<63 - 1}
	var err error
	switch name {
	case HistoryName:
		e.history, e.err, err = parseHistory(counted)
	case StateName:
		var c compactJSON
		_, err = io.Copy(&c, counted)
		e.data = c.out
	default:
		e.data, err = io.ReadAll(counted)
	}
	if err != nil {
		return nil, err
	}
	// Whatever the parser left unread counts too.
	if _, err := io.Copy(io.Discard, counted); err != nil {
		return nil, err
	}
	e.size, e.sha256 = counted.n, hex.EncodeToString(h.Sum(nil))
	return e, nil
}

// compactJSON keeps JSON text without the blank space between tokens
// (which means nothing): the state file as the enforcer writes it has
// none, so all it drops is padding.
type compactJSON struct {
	out        []byte
	inStr, esc bool
}

func (c *compactJSON) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if !c.inStr {
			i := 0
			for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r') {
				i++
			}
			if i == len(p) {
				break
			}
			p = p[i:]
		}
		// Copy up to the next blank outside a string.
		i := 0
		for ; i < len(p); i++ {
			b := p[i]
			if c.inStr {
				switch {
				case c.esc:
					c.esc = false
				case b == '\\':
					c.esc = true
				case b == '"':
					c.inStr = false
				}
				continue
			}
			if b == '"' {
				c.inStr = true
			} else if b == ' ' || b == '\t' || b == '\n' || b == '\r' {
				break
			}
		}
		c.out = append(c.out, p[:i]...)
		p = p[i:]
	}
	return n, nil
}

// checkHeader allows exactly the four known regular files and explains
// anything else.
func checkHeader(hdr *tar.Header) (string, error) {
	name := hdr.Name
	switch {
	case name == "":
		return "", invalid("", KindNoName)
	case strings.HasPrefix(name, "/"):
		return "", invalid(name, KindAbsolutePath, strings.Join(order, ", "))
	case hasDotDot(name):
		return "", invalid(name, KindPathTraversal, strings.Join(order, ", "))
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // TypeRegA is what old tars write for regular files
	case tar.TypeSymlink:
		return "", invalid(name, KindSymlink, hdr.Linkname)
	case tar.TypeLink:
		return "", invalid(name, KindHardLink, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return "", invalid(name, KindDevice)
	case tar.TypeFifo:
		return "", invalid(name, KindFIFO)
	case tar.TypeDir:
		return "", invalid(name, KindDirectory)
	default:
		return "", invalid(name, KindEntryType, fmt.Sprintf("%q", hdr.Typeflag))
	}
	if _, known := maxEntrySize[name]; !known {
		return "", invalid(name, KindUnexpectedFile, strings.Join(order, ", "))
	}
	if hdr.Size < 0 {
		return "", invalid(name, KindNegativeSize)
	}
	return name, nil
}

func hasDotDot(name string) bool {
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return true
		}
	}
	return false
}

// parse checks the manifest against the entries and decodes them.
func parse(files map[string]*entry) (*Contents, error) {
	me, ok := files[ManifestName]
	if !ok {
		return nil, invalid(ManifestName, KindNoManifest)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(me.data))
	if err := dec.Decode(&m); err != nil {
		return nil, invalidBy(ManifestName, KindManifestJSON, err)
	}
	if m.Tool != Tool {
		return nil, invalid(ManifestName, KindOtherTool, m.Tool, Tool)
	}
	if m.Format != Format {
		if m.Format > Format {
			return nil, invalid(ManifestName, KindNewerFormat, m.Format, Format)
		}
		return nil, invalid(ManifestName, KindUnknownFormat, m.Format, Format)
	}
	if err := checkManifestText(m); err != nil {
		return nil, err
	}
	listed := map[string]FileSum{}
	for _, f := range m.Files {
		if _, dup := listed[f.Name]; dup {
			return nil, invalid(ManifestName, KindListedTwice, f.Name)
		}
		if _, known := maxEntrySize[f.Name]; !known || f.Name == ManifestName {
			return nil, invalid(ManifestName, KindListsUnexpected, f.Name)
		}
		listed[f.Name] = f
	}
	for _, name := range order[1:] {
		f, inManifest := listed[name]
		e, inArchive := files[name]
		switch {
		case !inManifest:
			return nil, invalid(ManifestName, KindNotListed, name)
		case !inArchive:
			return nil, invalid(name, KindMissing)
		case f.Size != e.size:
			return nil, invalid(name, KindSizeMismatch, e.size, f.Size)
		case e.sha256 != strings.ToLower(f.SHA256):
			return nil, invalid(name, KindChecksum)
		}
	}
	c := &Contents{Manifest: m, Config: files[ConfigName].data}
	var err error
	if c.Parsed, err = config.Parse(c.Config, ConfigSource); err != nil {
		return nil, invalidBy(ConfigName, KindConfigInvalid, err)
	}
	if c.State, err = state.Decode(files[StateName].data, StateSource); err != nil {
		return nil, invalidBy(StateName, KindStateInvalid, err)
	}
	if err := checkState(c.State); err != nil {
		return nil, err
	}
	if err := files[HistoryName].err; err != nil {
		return nil, err
	}
	c.History = files[HistoryName].history
	return c, nil
}

// checkState rejects states no enforcer could have written.
func checkState(st *state.State) error {
	seen := map[string]bool{}
	for i, it := range st.Items {
		if it.ID == "" || it.ID == "host" {
			return invalid(StateName, KindItemNoID, i+1)
		}
		if seen[it.ID] {
			return invalid(StateName, KindItemTwice, it.ID)
		}
		seen[it.ID] = true
	}
	if st.Host != nil && st.Host.ID != "host" {
		return invalid(StateName, KindHostID, st.Host.ID)
	}
	return nil
}

// parseHistory reads history lines as they come: blank lines cost nothing.
// A bad entry is returned as bad (and reading goes on, for the checksum);
// err is a read error.
func parseHistory(r io.Reader) (out []state.Reset, bad, err error) {
	sc := bufio.NewScanner(r)
	// +1: the scanner's bound holds the newline too; a line is bounded
	// without it, as this host's history reads it.
	sc.Buffer(make([]byte, 64<<10), maxHistoryLine+1)
	line := 0
	for sc.Scan() {
		line++
		if bad != nil || len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r state.Reset
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			bad = invalidBy(HistoryName, KindHistoryLine, err, line)
			continue
		}
		if r.ID == "" || r.Time.IsZero() {
			bad = invalid(HistoryName, KindHistoryNoID, line)
			continue
		}
		if err := checkHistoryText(line, r); err != nil {
			bad = err
			continue
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, invalidBy(HistoryName, KindHistoryLine, err, line+1), nil
		}
		return nil, nil, err
	}
	if bad != nil {
		out = nil
	}
	return out, bad, nil
}

// checkManifestText: the manifest's host and version are shown by dog
// import and written into this host's history, so they follow the rule of
// remarks.
func checkManifestText(m Manifest) error {
	for _, f := range []struct {
		name, v string
		max     int
	}{{"host", m.Host, 255}, {"tool_version", m.ToolVersion, 64}} {
		if len(f.v) > f.max {
			return invalid(ManifestName, KindTextTooLong, f.name, f.max)
		}
		if err := config.CheckText(f.v); err != nil {
			return invalidBy(ManifestName, KindBadText, err, f.name, f.v)
		}
	}
	return nil
}

// checkHistoryText: history entries are shown by dog history, so their
// text follows the rule of remarks. Ports are bounded by the line only: a
// group's spec has no length limit in a config either (only the file's),
// and its resets carry it. The line is the entry as this host's history
// writes it, where JSON spells <, >, & and U+2028/2029 in six bytes each:
// an entry that grows past state.MaxLine there would be skipped by every
// reader of the history, so it is refused here instead.
func checkHistoryText(line int, r state.Reset) error {
	const maxText = 4*config.MaxRemarkLen + 256
	fields := []struct {
		name, v string
		max     int
	}{{"id", r.ID, maxText}, {"ports", r.Ports, maxHistoryLine}, {"remark", r.Remark, maxText},
		{"reason", r.Reason, maxText}, {"billing", r.Billing, maxText}}
	for _, f := range fields {
		if len(f.v) > f.max {
			return invalid(HistoryName, KindHistoryTooLong, line, f.name)
		}
		if err := config.CheckText(f.v); err != nil {
			return invalidBy(HistoryName, KindHistoryText, err, line, f.name, f.v)
		}
	}
	if b, _ := json.Marshal(r); len(b) > state.MaxLine { // a Reset always encodes
		longest, size := "", 0
		for _, f := range fields {
			if b, _ := json.Marshal(f.v); len(b) > size {
				longest, size = f.name, len(b)
			}
		}
		return invalid(HistoryName, KindHistoryTooLong, line, longest)
	}
	return nil
}
