// Status, History and Checkpoint: the admin API (enforcer/admin) asks them;
// Reset, Reload and Import live in reset.go, reload.go and import.go.

package enforcer

import (
	"slices"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/state"
)

// Status returns every item with counters fresh from the kernel.
func (e *Enforcer) Status() (*adminapi.Status, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if objs, err := e.nft.ReadObjects(); err == nil {
		e.takeCounters(objs)
	}
	now := e.opts.Now()
	st := &adminapi.Status{Version: e.opts.Version, Time: now, Timezone: e.cfg.Timezone, Config: e.opts.ConfigPath,
		LastCheckpoint: e.lastCheckpoint, Stats: e.stats, Host: e.statusItem(e.host)}
	for _, it := range e.items {
		st.Items = append(st.Items, e.statusItem(it))
	}
	return st, nil
}

// statusItem is an item's status; merge keeps its state's settings those of
// the config. Expired as applied: the status says what the kernel does.
func (e *Enforcer) statusItem(it *item) adminapi.Item {
	return adminapi.ItemOf(&it.st, it.expired)
}

// Timezone is the config's time zone.
func (e *Enforcer) Timezone() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg.Timezone
}

// History returns the reset history, of the given items (any spelling of
// their ports) or all.
func (e *Enforcer) History(ports []string) ([]state.Reset, error) {
	// A set: a request may name thousands of items, and each is looked
	// up for every entry of the history.
	ids := make(map[string]bool, len(ports))
	for _, p := range ports {
		id, err := config.IDOf(p)
		if err != nil {
			return nil, err
		}
		ids[id] = true
	}
	// The files are opened under the lock, together with the resets a
	// full disk did not take yet, so a flush cannot move an entry between
	// the two meanwhile; they are read outside it: a long history does not
	// hold up the loop, resets and status.
	e.mu.Lock()
	files, err := state.OpenHistory(e.cfg.StateDir)
	pending := slices.Clone(e.unrecorded)
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var keep func(*state.Reset) bool
	if len(ids) > 0 {
		keep = func(r *state.Reset) bool { return ids[r.ID] }
	}
	out, skipped, err := files.Read(keep)
	if err != nil {
		return nil, err
	}
	if skipped > 0 {
		e.log.Warn("history has unreadable lines (torn by a crash?)", "skipped", skipped)
	}
	for i := range pending {
		if keep == nil || keep(&pending[i]) {
			out = append(out, pending[i])
		}
	}
	return out, nil
}

// Checkpoint reads the kernel and writes the state now, returning it.
func (e *Enforcer) Checkpoint() (*state.State, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.checkpointLocked(true); err != nil {
		return nil, err
	}
	return e.snapshot(), nil
}
