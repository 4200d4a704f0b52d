package enforcer

import (
	"errors"
	"strings"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/state"
)

// Reload re-reads the config file (and flags) and applies the difference.
// An invalid config changes nothing and is returned.
func (e *Enforcer) Reload() error {
	defer e.liftMemoryLimit()()
	e.mu.Lock()
	defer e.mu.Unlock()
	cfg, stamp, err := e.loadConfig()
	e.configStamp = stamp // an invalid file is reported once, not every poll
	if err != nil {
		e.stats.ReconcileErrors++
		return err
	}
	e.keepRestartOnly(cfg)
	current := make(map[string]*state.Item, len(e.items))
	for _, it := range e.items {
		current[it.st.ID] = &it.st
	}
	e.refreshChanged(cfg, current)
	oldCfg, oldItems, oldHost := e.cfg, e.items, e.host
	host := e.host.st
	e.cfg = cfg
	e.items, e.host = e.merge(cfg, current, &host, e.opts.Now())
	// Limits the shaper cannot plan (a missing interface, a rate above
	// the link speed) are bad input: refused with nothing changed.
	if err := e.reloadShaper(); err != nil {
		e.cfg, e.items, e.host = oldCfg, oldItems, oldHost
		_ = e.reconcile(syncDiff) // the limits in force back where a refusal part-way changed them; a failure is retried
		return adminapi.NewError(adminapi.CodeConfigNotApplied, err)
	}
	if oldCfg.CheckpointInterval != cfg.CheckpointInterval {
		select {
		case e.intervalChanged <- struct{}{}:
		default: // Run has one to read already
		}
	}
	// From here the new configuration is the desired state; a kernel that
	// does not take it now is retried until it does.
	applyErr := e.reconcile(syncDiff)
	if e.adminWatch != nil {
		e.adminWatch(cfg.AdminGroup)
	}
	e.log.Info("configuration reloaded", "items", len(e.items), "synced", e.synced)
	if err := e.saveLocked(); err != nil {
		return errors.Join(pendingErr(adminapi.CodeReloadPending, applyErr), err)
	}
	return pendingErr(adminapi.CodeReloadPending, applyErr)
}

// pendingErr tells the caller of an accepted change (a reload, a reset)
// that the kernel did not take it yet: it stays the desired state and the
// control loop retries until it holds, so repeating the request is not
// needed.
func pendingErr(code adminapi.Code, err error) error {
	if err == nil {
		return nil
	}
	return adminapi.NewError(code, err)
}

// keepRestartOnly keeps the settings a running enforcer cannot change in
// cfg as they are, naming in the log those the file changed.
func (e *Enforcer) keepRestartOnly(cfg *config.Config) {
	var changed []string
	for _, s := range []struct {
		key       string
		now, then *string
	}{
		{"state_dir", &cfg.StateDir, &e.cfg.StateDir},
		{"admin_socket", &cfg.AdminSocket, &e.cfg.AdminSocket},
	} {
		if *s.now != *s.then {
			changed = append(changed, s.key)
			*s.now = *s.then
		}
	}
	if len(changed) > 0 {
		e.log.Warn("a reload cannot change these settings; they take effect at the next restart",
			"settings", strings.Join(changed, ","))
	}
}

// maxCounterLookups is where reading items' counters one by one stops
// being cheaper than one dump of all of them (~30 ms at 10,000 items).
const maxCounterLookups = 200

// refreshChanged reads the current counters of the items (current, by id)
// whose quota settings cfg changes: their new quota objects start from them,
// and carry decides blocks by them. The other items keep the values of the
// last read, which their state and fragments were built from; the next
// checkpoint reads them all. At 10,000 items this spares a reload the full
// dump.
func (e *Enforcer) refreshChanged(cfg *config.Config, current map[string]*state.Item) {
	var ids []string
	for i := range cfg.Items {
		c := &cfg.Items[i]
		if st, ok := current[c.ID()]; ok && (st.Quota != c.Quota || st.Billing != string(c.Billing) || st.ResetDay != c.ResetDay) {
			ids = append(ids, st.ID)
		}
	}
	host := false
	if h, o := cfg.Host, e.cfg.Host; (h == nil) != (o == nil) || (h != nil && (h.Quota != o.Quota || h.Billing != o.Billing || h.ResetDay != o.ResetDay)) {
		ids, host = append(ids, layout.HostID), true
	}
	var objs *nftread.Objects
	var err error
	switch {
	case len(ids) == 0:
		return
	case len(ids) > maxCounterLookups || host:
		// The host's counters read alone would pass for all of them: a
		// checkpoint skips the dump while the host's did not move since
		// the last save (checkpointLocked), and would keep the other
		// items' older values until the host moves again.
		objs, err = e.nft.ReadObjects()
	default:
		objs, err = e.nft.ReadCounters(ids)
	}
	if err != nil {
		// The apply that follows fails the same way, or the tick repairs.
		e.log.Warn("reading counters for a reload failed", "err", err)
		return
	}
	e.takeCounters(objs)
}
