package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/common/version"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/archive"
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
		return fmt.Errorf("%w: export takes a fresh checkpoint through the enforcer; start it first", err)
	}
	if err != nil {
		return err
	}
	if st.Config == "" {
		return errors.New("the enforcer runs on --port flags only, without a config file to export; move the items to a config file first")
	}
	cfg, err := os.ReadFile(st.Config)
	if err != nil {
		return fmt.Errorf("read the enforcer's config: %w", err)
	}
	cp, err := client.Checkpoint(env.Ctx)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	hist, err := client.History(env.Ctx, nil)
	if err != nil {
		return fmt.Errorf("history: %w", err)
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
		_, err := env.raw.Write(buf.Bytes()) // the archive, not text
		return err
	}
	if err := writeNew(c.File, buf.Bytes(), c.Force); err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	fmt.Fprintf(env.Out, "exported %s, %s and the config of %s to %s (%s, sha256 %s)\n",
		plural(len(cp.State.Items), "item"), plural(len(hist.Resets), "history entry"), host, c.File,
		units.FormatBytes(uint64(buf.Len())), hex.EncodeToString(sum[:]))
	fmt.Fprintf(env.Out, "counters as of %s; on the new host: dog import %s\n",
		cp.State.SavedAt.Local().Format("2006-01-02 15:04:05"), filepath.Base(c.File))
	return nil
}

// writeNew writes a private file (the archive names customers) atomically,
// refusing to overwrite unless force.
func writeNew(path string, data []byte, force bool) error {
	if _, err := os.Lstat(path); err == nil && !force {
		return fmt.Errorf("%s exists (use --force to overwrite)", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
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
			return err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, archive.MaxArchiveSize+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", c.File, err)
	}
	// Validate here first: the message is the same as the enforcer's, and
	// a dry run works without it.
	a, err := archive.Read(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: %w (nothing changed)", c.File, err)
	}
	resp, err := adminapi.NewClient(g.Socket).Import(env.Ctx, data, c.DryRun)
	switch {
	case errors.Is(err, adminapi.ErrNotRunning) && c.DryRun:
		resp = &adminapi.ImportResponse{DryRun: true, SourceHost: a.Manifest.Host, Exported: a.Manifest.Created,
			SourceVersion: a.Manifest.ToolVersion, Items: len(a.Parsed.Items), HistoryEntries: len(a.History),
			Notes: []string{"the enforcer is not running: only the archive itself was checked"}}
	case errors.Is(err, adminapi.ErrNotRunning):
		return fmt.Errorf("%w: import re-creates the kernel counters with the archive's values, so the enforcer must run (systemctl start dog-enforcer); nothing changed", err)
	case err != nil:
		return fmt.Errorf("import refused, nothing changed: %w", err)
	}
	if c.JSON {
		return writeJSON(env.Out, resp)
	}
	verb := "imported"
	if resp.DryRun {
		verb = "dry run: the archive is valid; an import would take"
	}
	fmt.Fprintf(env.Out, "%s %s and %s from %s (exported %s by dog %s)\n", verb, plural(resp.Items, "item"),
		plural(resp.HistoryEntries, "history entry"), resp.SourceHost,
		resp.Exported.Local().Format("2006-01-02 15:04:05"), resp.SourceVersion)
	for _, n := range resp.Notes {
		fmt.Fprintln(env.Out, "note: "+n)
	}
	for _, rs := range resp.Resets {
		fmt.Fprintf(env.Out, "reset %s: its period ended after the export (in %s, out %s)\n", rs.Ports,
			units.FormatBytes(rs.InBytes), units.FormatBytes(rs.OutBytes))
	}
	if resp.DryRun {
		fmt.Fprintf(env.Out, "counters as of %s; nothing changed\n", a.State.SavedAt.Local().Format(time.DateTime))
	}
	return nil
}
