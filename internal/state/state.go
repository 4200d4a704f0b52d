// Package state is the enforcer's durable state: the last checkpoint of every
// kernel counter and quota, billing periods and what the enforcer applied, in
// one file written atomically; and the append-only reset history. The
// exporter reads the same file for what the kernel cannot tell it (remarks,
// period baselines, reset dates).
package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"port-traffic-dog/internal/atomicfile"
)

const (
	FileName = "state.json"
	// PrevName keeps the checkpoint before the current one, so a file
	// damaged after it was written still leaves a good one to start from.
	PrevName = FileName + atomicfile.PrevSuffix
	// Format is bumped on incompatible changes; a newer format is refused.
	Format = 1
	// MaxFileSize bounds what Load reads.
	MaxFileSize = 256 << 20
)

// Counter is a kernel counter's value.
type Counter struct {
	Bytes   uint64 `json:"bytes"`
	Packets uint64 `json:"packets"`
}

// Sub returns c - base, clamped at zero per field so a restore from an older
// checkpoint never shows negative period use.
func (c Counter) Sub(base Counter) Counter {
	var d Counter
	if c.Bytes > base.Bytes {
		d.Bytes = c.Bytes - base.Bytes
	}
	if c.Packets > base.Packets {
		d.Packets = c.Packets - base.Packets
	}
	return d
}

// Item is one item's state: what was applied, the counters as of SavedAt and
// its billing period.
type Item struct {
	ID        string `json:"id"`
	Ports     string `json:"ports"`
	Remark    string `json:"remark,omitempty"`
	Protocols string `json:"protocols"`
	Billing   string `json:"billing"`
	Quota     uint64 `json:"quota,omitempty"`
	ResetDay  int    `json:"reset_day"`
	// Expires is 00:00 of the expiry day in the configured zone.
	Expires time.Time `json:"expires,omitzero"`
	RateIn  uint64    `json:"rate_in,omitempty"`
	RateOut uint64    `json:"rate_out,omitempty"`
	// ClassMinor is the tc class minor the item's limits use; stable for the
	// item's lifetime so a reload never collides two items' classes.
	ClassMinor uint16 `json:"class_minor,omitempty"`

	In  Counter `json:"in"`
	Out Counter `json:"out"`
	// QuotaGen numbers the item's kernel quota objects. A new generation
	// (fresh objects whose consumed bytes are derived from the counters)
	// replaces the old one at every reset, unblock or billing-mode change,
	// since the kernel cannot set a live quota's consumed bytes.
	QuotaGen uint32 `json:"quota_gen,omitempty"`

	PeriodStart time.Time `json:"period_start"`
	BaseIn      Counter   `json:"base_in"`
	BaseOut     Counter   `json:"base_out"`
	NextReset   time.Time `json:"next_reset,omitzero"`
	// QuotaBlocked is set once the quota is exhausted and cleared by a reset
	// or a quota raised above the use.
	QuotaBlocked bool `json:"quota_blocked,omitempty"`
}

// ExpiredAt reports whether the item's expiry has come at now.
func (it *Item) ExpiredAt(now time.Time) bool {
	return !it.Expires.IsZero() && !now.Before(it.Expires)
}

// PeriodIn and PeriodOut are the bytes of the current period.
func (it *Item) PeriodIn() Counter  { return it.In.Sub(it.BaseIn) }
func (it *Item) PeriodOut() Counter { return it.Out.Sub(it.BaseOut) }

// Stats are the enforcer's health counters, published through the exporter.
type Stats struct {
	ReconcileErrors  uint64 `json:"reconcile_errors"`
	Repairs          uint64 `json:"repairs"`
	CheckpointErrors uint64 `json:"checkpoint_errors"`
	// OutOfSync is set while the kernel does not match the enforcer's
	// desired state (an apply failed, a retry is pending).
	OutOfSync bool `json:"out_of_sync,omitempty"`
}

// State is the content of the state file.
type State struct {
	SavedAt time.Time `json:"saved_at"`
	// BootID is the kernel's boot id when saved: a different one on start
	// means the host rebooted since.
	BootID   string `json:"boot_id,omitempty"`
	Timezone string `json:"timezone,omitempty"`
	Host     *Item  `json:"host,omitempty"`
	Items    []Item `json:"items"`
	Stats    Stats  `json:"stats"`
	// Shaper is what the tc shaper set up (nil: nothing).
	Shaper *Shaper `json:"shaper,omitempty"`
}

// envelope carries a checksum of the exact state bytes, so a damaged file is
// refused instead of loaded with wrong numbers.
type envelope struct {
	Format int             `json:"format"`
	SHA256 string          `json:"sha256"`
	State  json.RawMessage `json:"state"`
}

// FileMode is the state file's mode: readable by the state dir's group
// (the exporter's, see deploy/systemd) and by no one else. Remarks can name
// customers; the dir (0750, or 0700 when the enforcer creates it) is what
// keeps other users out, and history and config stay 0600.
const FileMode = 0o640

// DurableName is the checkpoint the exporter serves the counters from: a
// hard link to the state file, made only once the state file's data and its
// directory entry are on disk (fsync of the file, rename, fsync of the
// directory). A power loss restores the state file, which is this
// checkpoint or a newer one, so a counter served from it is never undercut
// by a restore, and Prometheus never sees it fall. A power loss may lose the
// link's own update; it then names an older checkpoint, which is smaller
// still. The link costs no data: it shares the state file's blocks.
const DurableName = "state.json.durable"

// Save writes the state to dir atomically: a reader sees the old file or the
// new one, never a mix, and after a crash at any point the previous good
// checkpoint is still there. Once the new file is durable it is published as
// DurableName.
func Save(dir string, st *State) error {
	path := filepath.Join(dir, FileName)
	if err := writeEncoded(path, st); err != nil {
		return err
	}
	return atomicfile.Link(path, filepath.Join(dir, DurableName))
}

// SaveMeta writes the meta file to dir atomically, as Save does the state.
func SaveMeta(dir string, m *Meta) error {
	return writeEncoded(filepath.Join(dir, MetaName), m)
}

// writeEncoded writes Encode(v) to path atomically without holding the
// encoding in memory (at 10,000 items ~4 MB, made at every checkpoint,
// which set the daemon's garbage collection goal): the envelope's head is
// written with a blank checksum, the body streamed through the hash, and
// the head written again with the checksum before the file is synced.
func writeEncoded(path string, v any) error {
	return atomicfile.Write(path, FileMode, func(f *os.File) error {
		headLen := len(envelopeHead(nil)) + hex.EncodedLen(sha256.Size) + len(envelopeTail)
		if _, err := f.Write(make([]byte, headLen)); err != nil {
			return err
		}
		h := sha256.New()
		w := io.MultiWriter(f, h)
		buf, err := appendBody(make([]byte, 0, 2*streamChunk), v, func(b []byte) ([]byte, error) {
			_, err := w.Write(b)
			return b[:0], err
		})
		if err != nil {
			return fmt.Errorf("encode state: %w", err)
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		if _, err := f.Write([]byte{'}'}); err != nil {
			return err
		}
		head := envelopeHead(make([]byte, 0, headLen))
		head = hex.AppendEncode(head, h.Sum(nil))
		_, err = f.WriteAt(append(head, envelopeTail...), 0)
		return err
	})
}

// envelopeHead appends the head of the envelope as json.Marshal writes it:
// head, checksum, tail, body, "}".
func envelopeHead(b []byte) []byte {
	b = append(b, `{"format":`...)
	b = strconv.AppendInt(b, Format, 10)
	return append(b, `,"sha256":"`...)
}

const envelopeTail = `","state":`

// Encode returns the bytes of a state (or meta) file: the checksummed
// envelope, as Save writes them and Decode reads them.
func Encode(v any) ([]byte, error) {
	// The envelope as json.Marshal writes it, without re-validating and
	// copying the (already compact) body a second time: the body is
	// written after room for the head, which is filled in once the
	// checksum is known.
	head := envelopeHead(nil)
	n := len(head) + hex.EncodedLen(sha256.Size) + len(envelopeTail)
	data, err := appendBody(make([]byte, n), v, nil)
	if err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	sum := sha256.Sum256(data[n:])
	copy(data, head)
	hex.Encode(data[len(head):], sum[:])
	copy(data[n-len(envelopeTail):], envelopeTail)
	return append(data, '}'), nil
}

// MetaName is the exporter's view of the state: every item's settings and
// billing period without the counters (the exporter reads those from the
// kernel). The enforcer rewrites it only when it changes — a config change,
// a reset, a block — so the exporter parses 10,000 items rarely, not at
// every checkpoint.
const MetaName = "meta.json"

// Meta is the content of the meta file. Items carry no counters.
type Meta struct {
	Timezone string `json:"timezone,omitempty"`
	Host     *Item  `json:"host,omitempty"`
	Items    []Item `json:"items"`
	Stats    Stats  `json:"stats"`

	// Shaper tells the exporter where to read the shaper's class statistics.
	Shaper *Shaper `json:"shaper,omitempty"`
}

// ReadMeta reads and verifies a meta file.
func ReadMeta(path string) (*Meta, error) { return readDecoded[Meta](path) }

// readDecoded reads, verifies and decodes a file written by writeEncoded
// into a T (a State, a Meta, or a part of either).
func readDecoded[T any](path string) (*T, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	var v T
	if err := decodeInto(data, path, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// ErrNotExist is returned by Load when the directory holds no state yet
// (first start).
var ErrNotExist = errors.New("no state file")

// Load reads the newest good state from dir. A damaged current file falls
// back to the previous checkpoint; when both are damaged it fails with a
// message naming the files, never silently starting from zero. warn is set
// when the fallback was used.
func Load(dir string) (st *State, warn error, err error) {
	path := filepath.Join(dir, FileName)
	st, err = ReadFile(path)
	if err == nil {
		return st, nil, nil
	}
	cur := err
	prevPath := filepath.Join(dir, PrevName)
	prev, perr := ReadFile(prevPath)
	switch {
	case perr == nil:
		return prev, fmt.Errorf("%w; using the previous checkpoint %s saved at %s", cur, prevPath, prev.SavedAt.Format(time.RFC3339)), nil
	case errors.Is(cur, fs.ErrNotExist) && errors.Is(perr, fs.ErrNotExist):
		return nil, nil, ErrNotExist
	case errors.Is(perr, fs.ErrNotExist):
		return nil, nil, fmt.Errorf("%w (no previous checkpoint to fall back to; move the file away to start from zero)", cur)
	default:
		return nil, nil, fmt.Errorf("%w; previous checkpoint unusable too: %w (move both away to start from zero)", cur, perr)
	}
}

// splitEnvelope takes the envelope apart without a JSON pass over the body
// when it is laid out as Encode writes it (a file written otherwise takes
// the general decoder): at 10,000 items that pass was a third of a load.
func splitEnvelope(data []byte) (envelope, bool) {
	head := envelopeHead(nil)
	n := len(head) + hex.EncodedLen(sha256.Size) + len(envelopeTail)
	if len(data) < n+2 || !bytes.HasPrefix(data, head) || string(data[n-len(envelopeTail):n]) != envelopeTail ||
		data[len(data)-1] != '}' {
		return envelope{}, false
	}
	return envelope{Format: Format, SHA256: string(data[len(head) : n-len(envelopeTail)]), State: data[n : len(data)-1]}, true
}

// ReadFile reads and verifies one state file.
func ReadFile(path string) (*State, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	return Decode(data, path)
}

func readLimited(path string) ([]byte, error) {
	// O_NOFOLLOW: a link to /etc/shadow is not a state file.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, linkRefused(err))
	}
	defer func() { _ = f.Close() }()
	var buf bytes.Buffer
	if fi, err := f.Stat(); err == nil && fi.Size() < MaxFileSize {
		buf.Grow(int(fi.Size()) + bytes.MinRead) // one allocation, not a doubling series
	}
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxFileSize+1)); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return buf.Bytes(), nil
}

// Decode verifies and decodes state file bytes; name is used in errors.
func Decode(data []byte, name string) (*State, error) {
	var st State
	if err := decodeInto(data, name, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func decodeInto(data []byte, name string, v any) error {
	if len(data) > MaxFileSize {
		return fmt.Errorf("state file %s is larger than %d MiB", name, MaxFileSize>>20)
	}
	env, ok := splitEnvelope(data)
	if !ok {
		if err := json.Unmarshal(data, &env); err != nil {
			return fmt.Errorf("state file %s is damaged or truncated: %w", name, err)
		}
	}
	if env.Format != Format {
		return fmt.Errorf("state file %s has format %d; this version reads format %d", name, env.Format, Format)
	}
	sum := sha256.Sum256(env.State)
	if hex.EncodeToString(sum[:]) != env.SHA256 {
		return fmt.Errorf("state file %s is damaged: checksum mismatch", name)
	}
	if err := json.Unmarshal(env.State, v); err != nil {
		return fmt.Errorf("state file %s: %w", name, err)
	}
	return nil
}
