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
	maxHistoryLine  = 1 << 20
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

// Error is why an archive was refused.
type Error struct {
	Entry string // the entry concerned, when there is one
	Msg   string
	Err   error // a read error behind it (the request body's limit), if any
}

func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	if e.Entry != "" {
		return fmt.Sprintf("invalid archive: %s: %s", e.Entry, e.Msg)
	}
	return "invalid archive: " + e.Msg
}

func invalid(entry, format string, args ...any) error {
	return &Error{Entry: entry, Msg: fmt.Sprintf(format, args...)}
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
			return nil, invalid("", "larger than the %d MiB limit", maxCompressed>>20)
		}
		return nil, invalid("", "not a gzip-compressed archive (%v)", err)
	}
	defer func() { _ = zr.Close() }()
	zr.Multistream(false) // one gzip member; anything after it is refused below
	raw := &countingReader{r: zr, max: maxTotal}
	tr := tar.NewReader(raw)
	got := map[string]*entry{}
	wrap := func(entry string, err error) error {
		switch {
		case errors.Is(err, errTooLarge) && compressed.n > compressed.max:
			return invalid("", "larger than the %d MiB limit", maxCompressed>>20)
		case errors.Is(err, errTooLarge):
			return invalid("", "expands to more than %d MiB", maxTotal>>20)
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
			return invalid(entry, "truncated (the file ends in the middle)")
		}
		return &Error{Entry: entry, Msg: err.Error(), Err: err}
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
			return nil, invalid(name, "appears twice in the archive")
		}
		limit := maxEntrySize[name]
		if hdr.Size > limit {
			return nil, invalid(name, "%d bytes is larger than the %d MiB limit", hdr.Size, limit>>20)
		}
		e, err := readEntry(name, io.LimitReader(tr, hdr.Size))
		if err != nil {
			return nil, wrap(name, err)
		}
		if e.size != hdr.Size {
			return nil, invalid(name, "truncated (the file ends in the middle)")
		}
		got[name] = e
	}
	// Drain the gzip stream so a truncated trailer (a cut-off download) is
	// noticed even though the tar end marker was read.
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return nil, wrap("", err)
	}
	if _, err := br.ReadByte(); err == nil {
		return nil, invalid("", "unexpected data after the end of the archive")
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
		return "", invalid("", "an entry has no name")
	case strings.HasPrefix(name, "/"):
		return "", invalid(name, "absolute path; an archive holds only %s", strings.Join(order, ", "))
	case hasDotDot(name):
		return "", invalid(name, "path with \"..\" (path traversal); an archive holds only %s", strings.Join(order, ", "))
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // TypeRegA is what old tars write for regular files
	case tar.TypeSymlink:
		return "", invalid(name, "is a symbolic link (to %q); archives hold regular files only", hdr.Linkname)
	case tar.TypeLink:
		return "", invalid(name, "is a hard link (to %q); archives hold regular files only", hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return "", invalid(name, "is a device node; archives hold regular files only")
	case tar.TypeFifo:
		return "", invalid(name, "is a FIFO; archives hold regular files only")
	case tar.TypeDir:
		return "", invalid(name, "is a directory; archives hold regular files only")
	default:
		return "", invalid(name, "has entry type %q; archives hold regular files only", hdr.Typeflag)
	}
	if _, known := maxEntrySize[name]; !known {
		return "", invalid(name, "unexpected file; an archive holds only %s", strings.Join(order, ", "))
	}
	if hdr.Size < 0 {
		return "", invalid(name, "negative size")
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
		return nil, invalid(ManifestName, "missing: this is not a dog export archive")
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(me.data))
	if err := dec.Decode(&m); err != nil {
		return nil, invalid(ManifestName, "not valid JSON: %v", err)
	}
	if m.Tool != Tool {
		return nil, invalid(ManifestName, "made by %q, not by %s", m.Tool, Tool)
	}
	if m.Format != Format {
		if m.Format > Format {
			return nil, invalid(ManifestName, "archive format %d is newer than this dog reads (format %d): upgrade dog on this host", m.Format, Format)
		}
		return nil, invalid(ManifestName, "unknown archive format %d (this dog reads format %d)", m.Format, Format)
	}
	if err := checkManifestText(m); err != nil {
		return nil, err
	}
	listed := map[string]FileSum{}
	for _, f := range m.Files {
		if _, dup := listed[f.Name]; dup {
			return nil, invalid(ManifestName, "lists %s twice", f.Name)
		}
		if _, known := maxEntrySize[f.Name]; !known || f.Name == ManifestName {
			return nil, invalid(ManifestName, "lists unexpected file %q", f.Name)
		}
		listed[f.Name] = f
	}
	for _, name := range order[1:] {
		f, inManifest := listed[name]
		e, inArchive := files[name]
		switch {
		case !inManifest:
			return nil, invalid(ManifestName, "does not list %s", name)
		case !inArchive:
			return nil, invalid(name, "missing from the archive (the manifest lists it)")
		case f.Size != e.size:
			return nil, invalid(name, "is %d bytes, the manifest says %d: the archive is damaged", e.size, f.Size)
		case e.sha256 != strings.ToLower(f.SHA256):
			return nil, invalid(name, "checksum mismatch (sha256 differs from the manifest): the archive is damaged or was altered")
		}
	}
	c := &Contents{Manifest: m, Config: files[ConfigName].data}
	var err error
	if c.Parsed, err = config.Parse(c.Config, "archive "+ConfigName); err != nil {
		return nil, invalid(ConfigName, "does not validate: %v", err)
	}
	if c.State, err = state.Decode(files[StateName].data, "archive "+StateName); err != nil {
		return nil, invalid(StateName, "%v", err)
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
			return invalid(StateName, "item %d has no valid id", i+1)
		}
		if seen[it.ID] {
			return invalid(StateName, "item %s appears twice", it.ID)
		}
		seen[it.ID] = true
	}
	if st.Host != nil && st.Host.ID != "host" {
		return invalid(StateName, "the host entry has id %q", st.Host.ID)
	}
	return nil
}

// parseHistory reads history lines as they come: blank lines cost nothing.
// A bad entry is returned as bad (and reading goes on, for the checksum);
// err is a read error.
func parseHistory(r io.Reader) (out []state.Reset, bad, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxHistoryLine)
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
			bad = invalid(HistoryName, "line %d: %v", line, err)
			continue
		}
		if r.ID == "" || r.Time.IsZero() {
			bad = invalid(HistoryName, "line %d: an entry needs id and time", line)
			continue
		}
		if err := checkHistoryText(r); err != nil {
			bad = invalid(HistoryName, "line %d: %v", line, err)
			continue
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, invalid(HistoryName, "line %d: %v", line+1, err), nil
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
			return invalid(ManifestName, "%s is longer than %d bytes", f.name, f.max)
		}
		if err := config.CheckText(f.v); err != nil {
			return invalid(ManifestName, "%s %q: %v", f.name, f.v, err)
		}
	}
	return nil
}

// checkHistoryText: history entries are shown by dog history, so their
// text follows the rule of remarks.
func checkHistoryText(r state.Reset) error {
	for _, f := range []struct{ name, v string }{{"id", r.ID}, {"ports", r.Ports}, {"remark", r.Remark},
		{"reason", r.Reason}, {"billing", r.Billing}} {
		if len(f.v) > 4*config.MaxRemarkLen+256 {
			return fmt.Errorf("%s is too long", f.name)
		}
		if err := config.CheckText(f.v); err != nil {
			return fmt.Errorf("%s %q: %w", f.name, f.v, err)
		}
	}
	return nil
}
