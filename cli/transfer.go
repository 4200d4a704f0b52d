package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/common/version"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/archive"
	"port-traffic-dog/internal/i18n"
	"port-traffic-dog/internal/units"
)

// ExportCmd writes a migration archive.
type ExportCmd struct {
	File  string `arg:"" help:"The archive to write (tar.gz), or - for standard output." placeholder:"FILE"`
	Force bool   `name:"force" help:"Overwrite FILE if it exists."`
}

func (c *ExportCmd) Run(g *Globals, env *Env) error {
	client := adminapi.NewClient(g.Socket)
	st, err := client.Status(env.Ctx)
	if errors.Is(err, adminapi.ErrNotRunning) {
		return env.P.Errorf(i18n.ExportNeedsEnforcer, err)
	}
	if err != nil {
		return err
	}
	if st.Config == "" {
		return env.P.Errorf(i18n.ExportNoConfig)
	}
	cfg, err := os.ReadFile(st.Config)
	if err != nil {
		return env.P.Errorf(i18n.ExportReadConfig, err)
	}
	cp, err := client.Checkpoint(env.Ctx)
	var coded *adminapi.CodedError
	switch {
	case errors.As(err, &coded) && coded.Code == adminapi.CodeCheckpoint:
		return err // it says "checkpoint" itself
	case err != nil:
		return env.P.Errorf(i18n.CheckpointErr, err)
	}
	hist, err := client.History(env.Ctx, nil)
	if err != nil {
		return env.P.Errorf(i18n.ExportHistory, err)
	}
	host, _ := os.Hostname()
	tool := version.Version
	if tool == "" {
		tool = "dev" // a build without -ldflags (go test, go run)
	}
	var buf bytes.Buffer
	if err := archive.Write(&buf, archive.Input{ToolVersion: tool, Host: host, Created: env.Now(),
		Config: cfg, State: cp.State, History: hist.Resets}); err != nil {
		return err
	}
	if c.File == "-" {
		if _, err := env.raw.Write(buf.Bytes()); err != nil { // the archive, not text
			return env.P.Errorf(i18n.WriteFileErr, c.File, err)
		}
		return nil
	}
	if err := writeNew(env.P, c.File, buf.Bytes(), c.Force); err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	where := c.File
	if abs, err := filepath.Abs(c.File); err == nil {
		where = abs // the console does not show the directory it runs in
	}
	env.P.Fprintln(env.Out, i18n.Exported,
		env.P.Count(len(cp.State.Items), i18n.ItemsOne, i18n.ItemsMany), env.P.Count(len(hist.Resets), i18n.HistoryOne, i18n.HistoryMany), host, where,
		units.FormatBytes(uint64(buf.Len())), hex.EncodeToString(sum[:]))
	env.P.Fprintln(env.Out, i18n.ExportedNext,
		cp.State.SavedAt.In(zone(cp.State.Timezone)).Format("2006-01-02 15:04:05"), filepath.Base(c.File))
	return nil
}

// writeNew writes a private file (the archive names customers) atomically,
// refusing to overwrite unless force.
func writeNew(p *i18n.Printer, path string, data []byte, force bool) error {
	if _, err := os.Lstat(path); err == nil && !force {
		return p.Errorf(i18n.FileExists, path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return p.Errorf(i18n.WriteFileErr, path, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return p.Errorf(i18n.WriteFileErr, path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return p.Errorf(i18n.WriteFileErr, path, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return p.Errorf(i18n.WriteFileErr, path, err)
	}
	if err := tmp.Close(); err != nil {
		return p.Errorf(i18n.WriteFileErr, path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return p.Errorf(i18n.WriteFileErr, path, err)
	}
	return nil
}

// ImportCmd continues from an archive.
type ImportCmd struct {
	File   string `arg:"" help:"An archive written by dog export, or - for standard input." placeholder:"FILE"`
	DryRun bool   `name:"dry-run" help:"Validate the archive (and, if the enforcer runs, that it fits this host) and show what it holds; change nothing."`
	JSON   bool   `name:"json" help:"Print the result as JSON."`
}

func (c *ImportCmd) Run(g *Globals, env *Env) error {
	var r io.Reader
	if c.File == "-" {
		r = os.Stdin
	} else {
		f, err := os.Open(c.File)
		if err != nil {
			return env.P.Errorf(i18n.ReadFileErr, c.File, err)
		}
		defer func() { _ = f.Close() }()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, archive.MaxArchiveSize+1))
	if err != nil {
		return env.P.Errorf(i18n.ReadFileErr, c.File, err)
	}
	// Validate here first: the message is the same as the enforcer's, and
	// a dry run works without it.
	a, err := archive.Read(bytes.NewReader(data))
	if err != nil {
		return env.P.Errorf(i18n.EditFailed, c.File, err)
	}
	resp, err := adminapi.NewClient(g.Socket).Import(env.Ctx, data, c.DryRun)
	switch {
	case errors.Is(err, adminapi.ErrNotRunning) && c.DryRun:
		resp = &adminapi.ImportResponse{DryRun: true, SourceHost: a.Manifest.Host, Exported: a.Manifest.Created,
			SourceVersion: a.Manifest.ToolVersion, Items: len(a.Parsed.Items), HistoryEntries: len(a.History),
			Notes: []string{env.P.Sprintf(i18n.ImportOnlyArchive)}}
	case errors.Is(err, adminapi.ErrNotRunning):
		return env.P.Errorf(i18n.ImportNeedsEnforcer, err)
	case err != nil:
		return env.P.Errorf(i18n.ImportRefused, err)
	}
	if c.JSON {
		return writeJSON(env.Out, resp)
	}
	verb := i18n.Imported
	if resp.DryRun {
		verb = i18n.ImportDryRun
	}
	env.P.Fprintln(env.Out, verb, env.P.Count(resp.Items, i18n.ItemsOne, i18n.ItemsMany),
		env.P.Count(resp.HistoryEntries, i18n.HistoryOne, i18n.HistoryMany), resp.SourceHost,
		resp.Exported.In(zone(a.State.Timezone)).Format("2006-01-02 15:04:05"), resp.SourceVersion)
	for i, n := range resp.Notes {
		var coded *adminapi.Note
		if len(resp.NoteCodes) == len(resp.Notes) { // else an enforcer from before codes
			coded = &resp.NoteCodes[i]
		}
		env.P.Fprintln(env.Out, i18n.ImportNote, env.P.APINote(coded, n))
	}
	for _, rs := range resp.Resets {
		env.P.Fprintln(env.Out, i18n.ImportReset, rs.Ports,
			units.FormatBytes(rs.InBytes), units.FormatBytes(rs.OutBytes))
	}
	if resp.DryRun {
		env.P.Fprintln(env.Out, i18n.ImportDryRunDone, a.State.SavedAt.In(zone(a.State.Timezone)).Format(time.DateTime))
	}
	return nil
}
