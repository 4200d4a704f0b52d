package enforcer

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"port-traffic-dog/enforcer/nft"
	"port-traffic-dog/internal/billing"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/state"
)

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// tick runs what is due by the clock: resets, expiry, the retry of an
// out-of-sync kernel, and a cheap check that the table still exists.
func (e *Enforcer) tick() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.synced {
		if e.retryDue() {
			e.retryLocked()
		}
		return
	}
	now := e.opts.Now()
	due := false
	for _, it := range e.all() {
		if expiredAt(it, now) != it.expired || e.schedule(it).Due(now) {
			due = true
		}
	}
	if due {
		objs, err := e.nft.ReadObjects()
		if err != nil {
			e.repairLocked(err)
			return
		}
		e.takeCounters(objs)
		e.record(e.runDueResets(now))
		for _, it := range e.items {
			if !it.expired && expiredAt(it, now) {
				e.log.Warn("item expired: blocked", "port", it.cfg.Ports, "remark", it.cfg.Remark)
			}
		}
		e.reconcile(syncDiff)
		e.save()
		return
	}
	if _, err := e.nft.ReadHostCounters(); errors.Is(err, nft.ErrNoTable) {
		e.repairLocked(err)
		return
	}
	e.tickShaper()
	e.followForwarding()
}

// runDueResets resets every item whose reset is due, returning the history
// entries to record once the new state is applied.
func (e *Enforcer) runDueResets(now time.Time) []state.Reset {
	var out []state.Reset
	for _, it := range e.all() {
		s := e.schedule(it)
		if !s.Due(now) {
			continue
		}
		out = append(out, e.resetItem(it, state.ReasonAuto, now))
		it.st.NextReset = s.Advance(now, e.cfg.Location).Next
		e.log.Info("billing period reset", "port", it.cfg.Ports, "remark", it.cfg.Remark,
			"next_reset", it.st.NextReset.Format(time.DateOnly))
	}
	return out
}

func (e *Enforcer) schedule(it *item) billing.Schedule {
	return billing.Schedule{ResetDay: it.st.ResetDay, Next: it.st.NextReset}
}

// resetItem ends the item's billing period at now: the period's bytes go to
// the history entry, the period restarts from the current counters (which
// are never reset), and the quota starts over with fresh objects.
func (e *Enforcer) resetItem(it *item, reason string, now time.Time) state.Reset {
	pin, pout := it.st.PeriodIn().Bytes, it.st.PeriodOut().Bytes
	r := state.Reset{Time: now.UTC(), ID: it.st.ID, Ports: it.cfg.Ports, Remark: it.cfg.Remark, Reason: reason,
		PeriodStart: it.st.PeriodStart.UTC(), InBytes: pin, OutBytes: pout, Billing: string(it.cfg.Billing),
		Billable: it.cfg.Billing.Billable(pin, pout), Quota: it.cfg.Quota}
	it.st.BaseIn, it.st.BaseOut = it.st.In, it.st.Out
	it.st.PeriodStart = now
	it.st.QuotaGen++
	it.st.QuotaBlocked = false
	return r
}

// record appends resets to the history. A reset is in the state from the
// moment it is decided, the kernel following (reconcile retries until it
// does). Entries the file does not take (a full disk) are kept and retried
// at every state save, so a reset that happened is never missing from the
// history once the disk recovers.
func (e *Enforcer) record(resets []state.Reset) {
	e.unrecorded = append(e.unrecorded, resets...)
	e.flushHistory()
}

// rotateHistory bounds the history file's size (state.RotateHistory).
func (e *Enforcer) rotateHistory() {
	if rotated, err := state.RotateHistory(e.cfg.StateDir, state.MaxHistorySize); err != nil {
		e.log.Error("rotating the reset history failed", "err", err)
	} else if rotated {
		e.log.Info("reset history rotated", "kept", state.RotatedName)
	}
}

// flushHistory appends the resets not yet in the history file.
func (e *Enforcer) flushHistory() {
	if len(e.unrecorded) == 0 {
		return
	}
	if err := state.AppendHistory(e.cfg.StateDir, e.unrecorded...); err != nil {
		e.log.Error("writing reset history failed; keeping the entries and retrying at the next checkpoint",
			"err", err, "entries", len(e.unrecorded))
		return
	}
	e.unrecorded = nil
}

// checkQuotas marks items whose quota ran out. The kernel already drops the
// exhausted direction; blocking the item turns that into a block of both
// directions until the next reset.
func (e *Enforcer) checkQuotas(objs *nftread.Objects) bool {
	// Depleted quota objects by owner: one pass over the kernel's quotas,
	// not one per item.
	depleted := map[string][]string{}
	if objs != nil {
		for name, q := range objs.Quotas {
			if owner, ok := layout.QuotaOwner(name); ok && q.Depleted() {
				depleted[owner] = append(depleted[owner], name)
			}
		}
	}
	changed := false
	for _, it := range e.all() {
		if it.cfg.Quota == 0 || it.st.QuotaBlocked {
			continue
		}
		over := it.cfg.Billing.Billable(it.st.PeriodIn().Bytes, it.st.PeriodOut().Bytes) >= it.cfg.Quota
		for _, name := range depleted[it.st.ID] {
			if isGen(name, it.st.ID, it.st.QuotaGen) {
				over = true
			}
		}
		if over {
			it.st.QuotaBlocked = true
			changed = true
			e.log.Warn("quota exhausted: blocked until the next reset", "port", it.cfg.Ports, "remark", it.cfg.Remark,
				"quota", it.cfg.Quota, "billing", it.cfg.Billing)
		}
	}
	return changed
}

// isGen reports whether a quota object belongs to the item's current
// generation (older generations are deleted by the apply that replaced them).
func isGen(name, id string, gen uint32) bool {
	return strings.HasPrefix(name, layout.Quota(id, gen, "", ""))
}

// checkpointLocked reads the kernel's counters and writes the state. When
// the host's counters did not move and nothing else changed, the (at 10,000
// items ~100 ms) dump is skipped: an idle host costs nothing.
func (e *Enforcer) checkpointLocked(force bool) error {
	e.rotateHistory()
	if !force && !e.dirty {
		host, err := e.nft.ReadHostCounters()
		if err == nil && host == e.lastHost {
			return nil
		}
	}
	objs, err := e.nft.ReadObjects()
	if err != nil {
		e.repairLocked(err)
		if errors.Is(err, nft.ErrNoTable) {
			return e.saveLocked()
		}
		return err
	}
	e.takeCounters(objs)
	if e.checkQuotas(objs) && e.synced {
		e.reconcile(syncDiff) // a failure is retried by the loop
	}
	return e.saveLocked()
}

// onEvent reacts to the nftables monitor.
func (e *Enforcer) onEvent(ev nft.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch ev {
	case nft.EventQuota:
		objs, err := e.nft.ReadObjects()
		if err != nil {
			e.repairLocked(err)
			return
		}
		e.takeCounters(objs)
		if e.checkQuotas(objs) {
			if e.synced { // else the pending retry takes the block along
				e.reconcile(syncDiff)
			}
			e.save()
		}
	case nft.EventChanged, nft.EventLost:
		e.repairLocked(errors.New("another process changed the table"))
	}
}

// repairLocked restores the table after another tool changed or deleted
// it: counters still in the kernel keep their values, missing ones come back
// from the last checkpoint.
func (e *Enforcer) repairLocked(cause error) {
	if objs, err := e.nft.ReadObjects(); err == nil {
		e.takeCounters(objs)
	} else if !errors.Is(err, nft.ErrNoTable) {
		e.outOfSync(fmt.Errorf("read nftables: %w", err), syncFull)
		return
	}
	if err := e.reconcile(syncFull); err != nil {
		e.log.Error("repairing the table failed; retrying", "err", err, "cause", cause)
		return
	}
	e.stats.Repairs++
	e.log.Warn("table repaired", "cause", cause, "counters_from_checkpoint", e.lastCheckpoint.Format(time.RFC3339))
	e.save()
}

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
		return fmt.Errorf("config not applied, nothing changed: %w", err)
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
		return errors.Join(pendingErr("configuration", applyErr), err)
	}
	return pendingErr("configuration", applyErr)
}

// pendingErr tells the caller of an accepted change (a reload, a reset)
// that the kernel did not take it yet: it stays the desired state and the
// control loop retries until it holds, so repeating the request is not
// needed.
func pendingErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s accepted, but the kernel did not take it yet (%w); the enforcer retries until it does (metric port_traffic_dog_enforcer_synced), do not repeat it", what, err)
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
	if h, o := cfg.Host, e.cfg.Host; (h == nil) != (o == nil) || (h != nil && (h.Quota != o.Quota || h.Billing != o.Billing || h.ResetDay != o.ResetDay)) {
		ids = append(ids, layout.HostID)
	}
	var objs *nftread.Objects
	var err error
	switch {
	case len(ids) == 0:
		return
	case len(ids) > maxCounterLookups:
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

// Reset ends the billing period of the given items (by ports spec) or all,
// now, recording reason in the history.
func (e *Enforcer) Reset(ports []string, all bool, reason string) ([]state.Reset, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var targets []*item
	if all {
		targets = e.all()
	} else {
		// Each item once, however often (and however spelt) it is named:
		// a request naming one port 65,536 times is one reset.
		seen := make(map[*item]bool, len(ports))
		for _, p := range ports {
			it, err := e.find(p)
			if err != nil {
				return nil, err
			}
			if !seen[it] {
				seen[it] = true
				targets = append(targets, it)
			}
		}
	}
	if len(targets) == 0 {
		return nil, errors.New("nothing to reset: name items by their ports, or use --all")
	}
	objs, err := e.nft.ReadObjects()
	if err != nil {
		return nil, fmt.Errorf("read counters: %w", err)
	}
	e.takeCounters(objs)
	now := e.opts.Now()
	var resets []state.Reset
	for _, it := range targets {
		resets = append(resets, e.resetItem(it, reason, now))
		if it.st.NextReset.Before(now) && it.st.ResetDay != 0 {
			it.st.NextReset = billing.NextReset(now, it.st.ResetDay, e.cfg.Location)
		}
	}
	e.record(resets)
	for _, r := range resets {
		e.log.Info("billing period reset", "port", r.Ports, "reason", reason, "in", r.InBytes, "out", r.OutBytes)
	}
	applyErr := e.reconcile(syncDiff)
	if err := e.saveLocked(); err != nil {
		if applyErr == nil {
			return resets, fmt.Errorf("the reset is in force in the kernel, but saving it failed (retried at every checkpoint): %w", err)
		}
		return resets, errors.Join(pendingErr("the reset", applyErr),
			fmt.Errorf("saving it failed too (retried at every checkpoint): %w", err))
	}
	return resets, pendingErr("the reset", applyErr)
}

// find returns the item of a ports spec, however it is spelled.
func (e *Enforcer) find(ports string) (*item, error) {
	id, err := config.IDOf(ports)
	if err != nil {
		return nil, err
	}
	if id == e.host.st.ID {
		return e.host, nil
	}
	for _, it := range e.items {
		if it.st.ID == id {
			return it, nil
		}
	}
	return nil, fmt.Errorf("no item %q is configured", ports)
}
