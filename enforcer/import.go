package enforcer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"port-traffic-dog/enforcer/shaper"
	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/archive"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/configedit"
	"port-traffic-dog/internal/fileedit"
	"port-traffic-dog/internal/filestamp"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/state"
)

// Import makes this host continue where the host that exported the archive
// stopped: its configuration file, its counters (re-created in the kernel
// with the archived values: the fresh counters of this host do not win
// here), billing periods, quota use and block state, and its reset history
// (appended to this host's, less the entries it holds already, with a
// record of the import).
//
// The archive is validated completely before anything changes. The steps
// that follow (config file, history, kernel table, shaper, state file) are
// undone in reverse if one fails, so a failed import leaves the host as it
// was. Nothing in an archive is executed.
func (e *Enforcer) Import(r io.Reader, dryRun bool) (*adminapi.ImportResponse, error) {
	if !e.importing.TryLock() {
		return nil, ErrImportBusy
	}
	defer e.importing.Unlock()
	defer e.liftMemoryLimit()()
	c, err := archive.Read(r)
	if err != nil {
		return nil, err
	}
	if e.opts.ConfigPath == "" {
		return nil, adminapi.NewError(adminapi.CodeNoConfigFile, nil)
	}
	e.mu.Lock()
	ours := *e.cfg
	e.mu.Unlock()
	history := e.newHistory(ours.StateDir, c.History)
	resp := &adminapi.ImportResponse{DryRun: dryRun, SourceHost: c.Manifest.Host, Exported: c.Manifest.Created,
		SourceVersion: c.Manifest.ToolVersion, HistoryEntries: len(history)}
	if known := len(c.History) - len(history); known > 0 {
		resp.AddNote(adminapi.CodeNoteHistoryKnown, strconv.Itoa(known))
	}
	text, err := e.localPaths(c.Config, &ours, resp)
	if err != nil {
		return nil, err
	}
	cfg, err := e.parseConfig(text)
	if err != nil {
		return nil, adminapi.NewError(adminapi.CodeArchiveConfig, err)
	}
	// Whatever the edit did, the paths in force are this host's, as a
	// reload keeps them: an archive never chooses where root writes.
	if cfg.StateDir != ours.StateDir || cfg.AdminSocket != ours.AdminSocket {
		return nil, adminapi.NewError(adminapi.CodeArchivePaths, nil, cfg.StateDir, cfg.AdminSocket, ours.StateDir, ours.AdminSocket)
	}
	for _, w := range cfg.Warnings(e.opts.Now()) {
		resp.AddNote(adminapi.CodeNoteConfigWarning, w)
	}
	resp.Items = len(cfg.Items)
	if err := e.shape.s.Check(archiveLimits(cfg)); err != nil {
		// Imported all the same: the config moves to this host as it is,
		// and the operator fixes it here; until then the enforcer retries.
		resp.AddNote(adminapi.CodeNoteLimitsHere, err.Error())
	}
	if dryRun {
		return resp, nil
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	configFile, err := fileedit.Begin(e.opts.ConfigPath, false)
	if err != nil {
		return nil, adminapi.NewError(adminapi.CodeImportFailed, err)
	}
	histPath := filepath.Join(e.cfg.StateDir, state.HistoryName)
	var histSize int64 = -1
	if fi, err := os.Lstat(histPath); err == nil {
		histSize = fi.Size()
	}
	if objs, err := e.nft.ReadObjects(); err == nil {
		e.takeCounters(objs) // so an undo restores the counters as they are now
	}
	oldCfg, oldItems, oldHost, oldStamp := e.cfg, e.items, e.host, e.configStamp
	unrecorded := e.unrecorded // a failed save may have flushed them, and the undo cuts them off
	now := e.opts.Now()

	var appended, tried, replaced bool
	undo := func(cause error) error {
		errs := []error{cause}
		e.cfg, e.items, e.host = oldCfg, oldItems, oldHost
		if tried {
			// A table the archive replaced gets the counters as read
			// before the import back; one it did not is checked as is.
			mode := syncFull
			if replaced {
				mode = syncReplace
			}
			e.pending = syncDiff // the archive's replace is not wanted any more
			if err := e.reconcile(mode); err != nil {
				errs = append(errs, adminapi.NewError(adminapi.CodeUndoTable, err))
			}
		}
		if replaced {
			// The failed save may have written the exporter's meta file
			// (saved beside the state file) with the archive's items.
			if err := e.saveMeta(e.snapshot()); err != nil {
				e.log.Error("putting the meta file back after a failed import failed; the next checkpoint retries", "err", err)
			}
		}
		if appended {
			if err := truncateHistory(histPath, histSize); err != nil {
				errs = append(errs, adminapi.NewError(adminapi.CodeUndoHistory, err))
			} else {
				e.unrecorded = unrecorded
			}
		}
		if err := configFile.Undo(); err != nil {
			errs = append(errs, adminapi.NewError(adminapi.CodeUndoConfig, err))
		}
		e.configStamp = oldStamp
		if len(errs) == 1 {
			return adminapi.NewError(adminapi.CodeImportFailed, cause)
		}
		return adminapi.NewError(adminapi.CodeImportNotUndone, errors.Join(errs...))
	}

	e.cfg = cfg
	// The archive's states win; an item it has none for (this host's
	// --port items, which stay) keeps this host's, as a reload would.
	saved := statesByID(c.State.Items)
	for _, it := range oldItems {
		if _, ok := saved[it.st.ID]; !ok {
			saved[it.st.ID] = &it.st
		}
	}
	e.items, e.host = e.merge(cfg, saved, c.State.Host, now)
	resets := e.runDueResets(now) // periods that ended between export and import
	e.checkQuotas(nil)

	if err := configFile.Write(text); err != nil {
		return nil, undo(adminapi.NewError(adminapi.CodeWriteConfig, err))
	}
	e.configStamp, _ = filestamp.Of(e.opts.ConfigPath)

	record := state.Reset{Time: now.UTC(), ID: layout.HostID, Ports: config.HostPort, Reason: state.ReasonImport,
		Remark:      fmt.Sprintf("imported from %s (exported %s)", c.Manifest.Host, c.Manifest.Created.UTC().Format("2006-01-02 15:04 UTC")),
		PeriodStart: e.host.st.PeriodStart.UTC(), Billing: string(e.host.cfg.Billing), Quota: e.host.cfg.Quota}
	entries := append(append(append([]state.Reset(nil), history...), resets...), record)
	if err := state.AppendHistory(e.cfg.StateDir, entries...); err != nil {
		return nil, undo(err)
	}
	appended = true

	tried = true
	if err := e.reconcile(syncReplace); err != nil && e.pending == syncReplace {
		return nil, undo(err) // the table kept this host's counters
	}
	replaced = true // a limits failure is left to the retries
	if err := e.saveLocked(); err != nil {
		return nil, undo(err)
	}
	resp.Resets = resets
	e.log.Info("imported", "from", c.Manifest.Host, "exported", c.Manifest.Created, "items", len(e.items),
		"history_entries", len(history), "resets", len(resets))
	return resp, nil
}

// archiveLimits are the limits of an archive's config, each item with a
// class minor of its own, as the shaper checks them.
func archiveLimits(cfg *config.Config) shaper.Desired {
	d := shaper.Desired{Interfaces: cfg.Interfaces}
	for i := range cfg.Items {
		if it := &cfg.Items[i]; it.RateIn > 0 || it.RateOut > 0 {
			d.Items = append(d.Items, limitOf(it, uint16(len(d.Items)+1)))
		}
	}
	return d
}

// newHistory is the archive's history less the entries this host's history
// in dir holds already: an archive of this host (put back after a mistake)
// or one imported twice would otherwise bill their periods twice in it. An
// entry is known by its time, item, reason and period. A history that
// cannot be read leaves the archive's whole (logged): the import itself
// reports what else fails there.
func (e *Enforcer) newHistory(dir string, archived []state.Reset) []state.Reset {
	if len(archived) == 0 {
		return nil
	}
	type key struct {
		at, start  int64
		id, reason string
	}
	keyOf := func(r *state.Reset) key { return key{r.Time.UnixNano(), r.PeriodStart.UnixNano(), r.ID, r.Reason} }
	want := make(map[key]bool, len(archived))
	for i := range archived {
		want[keyOf(&archived[i])] = true
	}
	have := map[key]bool{}
	h, err := state.OpenHistory(dir)
	if err == nil {
		_, _, err = h.Read(func(r *state.Reset) bool {
			if k := keyOf(r); want[k] {
				have[k] = true
			}
			return false
		})
	}
	if err != nil {
		e.log.Warn("reading this host's history to skip the archive's entries it holds failed; taking them all", "err", err)
		return archived
	}
	out := make([]state.Reset, 0, len(archived))
	for i := range archived {
		if !have[keyOf(&archived[i])] {
			out = append(out, archived[i])
		}
	}
	return out
}

// ErrImportBusy: another import (or dry run) is at work.
var ErrImportBusy = adminapi.ErrImportBusy

// localPaths keeps this host's state_dir and admin_socket (ours) in the
// imported configuration: they are where this enforcer keeps the state it
// is about to write and where dog finds it, whatever the old host used.
// Import checks the result again. What it kept is noted in resp.
func (e *Enforcer) localPaths(text []byte, ours *config.Config, resp *adminapi.ImportResponse) ([]byte, error) {
	imported, err := config.Parse(text, archive.ConfigSource)
	if err != nil {
		return nil, adminapi.NewError(adminapi.CodeArchiveConfig, err)
	}
	for _, p := range []struct {
		key, theirs, ours string
		overridden        bool
	}{
		{"state_dir", imported.StateDir, ours.StateDir, e.opts.StateDir != ""},
		{"admin_socket", imported.AdminSocket, ours.AdminSocket, e.opts.AdminSocket != ""},
	} {
		if p.overridden || p.theirs == p.ours {
			continue
		}
		if text, err = configedit.SetTop(text, p.key, p.ours); err != nil {
			return nil, adminapi.NewError(adminapi.CodeKeepLocal, err, p.key)
		}
		resp.AddNote(adminapi.CodeNoteKeptPath, p.key, p.ours, p.theirs)
	}
	return text, nil
}

// parseConfig validates config text as loadConfig validates the file.
func (e *Enforcer) parseConfig(text []byte) (*config.Config, error) {
	cfg, err := config.Parse(text, e.opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	return e.withFlags(cfg)
}

func truncateHistory(path string, size int64) error {
	if size < 0 {
		return os.Remove(path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOFOLLOW, 0) // never a link's target
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	return f.Truncate(size)
}
