package enforcer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"port-traffic-dog/enforcer/nft"
	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/billing"
	"port-traffic-dog/internal/filestamp"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/state"
)

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
		_ = e.reconcile(syncDiff) // a failure is retried by the loop
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
		if !e.schedule(it).Due(now) {
			continue
		}
		out = append(out, e.resetItem(it, state.ReasonAuto, now))
		e.log.Info("billing period reset", "port", it.cfg.Ports, "remark", it.cfg.Remark,
			"next_reset", it.st.NextReset.Format(time.DateOnly))
	}
	return out
}

// adoptMargin is how far before the loaded state's save adoptRecordedResets
// looks for resets the state missed. Such a reset was recorded after that
// save, so only a clock stepped back in between dates it earlier; and that
// in between is short: every reset saves at once, and checkpoints run every
// checkpoint_interval (10 s by default), so it spans more only while saves
// fail. NTP steps are seconds; an hour covers them with room. The margin
// costs reading the resets recorded in it, nothing on most starts and a
// few MB at most (a mass reset of 10,000 items within the hour before the
// save); it cannot cause a false take-over, which the period match rules
// out.
const adoptMargin = time.Hour

// adoptRecordedResets takes over the resets, automatic or manual, that the
// history holds but the loaded state (saved at savedAt) does not: the
// enforcer died after recording a reset and before the state file took it
// (a kill during the apply or the save, or a save refused by a full disk).
// Run again, an automatic reset would be recorded twice, the period's bytes
// in both entries; a manual one would be lost to the state, the period it
// ended continuing (a repeated `dog reset` billing it twice); either way the
// bytes since the reset would be in neither period. The state becomes what
// the recorded reset made it. Such a reset was recorded after savedAt, at
// the end of the history, so only that tail is read. Only a start needs
// this: while the enforcer runs, its state is ahead of the history.
func (e *Enforcer) adoptRecordedResets(savedAt time.Time) {
	if savedAt.IsZero() {
		return // no state: every period starts now, after any entry
	}
	byID := map[string]*item{}
	for _, it := range e.all() {
		byID[it.st.ID] = it
	}
	recorded, _, err := state.ReadHistoryTail(e.cfg.StateDir, savedAt.Add(-adoptMargin), func(r *state.Reset) bool {
		return r.Reason == state.ReasonImport || byID[r.ID] != nil
	})
	if err != nil {
		// What was read is the newest part: a reset in it that ended
		// the state's period is still one to take over.
		e.log.Warn("reading the reset history for resets the state missed failed", "err", err)
	}
	// An import replaced the states: a reset recorded before it is not
	// theirs to take over (its own resets are in the state it saved).
	for i := len(recorded) - 1; i >= 0; i-- {
		if recorded[i].Reason == state.ReasonImport {
			recorded = recorded[i+1:]
			break
		}
	}
	// Oldest first: of resets the state missed one after the other, each
	// ends the period the one before began.
	for _, r := range recorded {
		it := byID[r.ID]
		switch {
		case r.Reason != state.ReasonAuto && r.Reason != state.ReasonManual:
			continue
		case !r.PeriodStart.Equal(it.st.PeriodStart) || !r.Time.After(r.PeriodStart):
			// Not the reset that ended the state's period. One at the
			// instant the period began (two resets within one reading
			// of a coarse clock) may be the state's own start.
			continue
		case r.Reason == state.ReasonAuto && r.Time.Before(it.st.NextReset):
			continue // before the state's next reset: not one its schedule ran
		}
		// The period's bytes as recorded; never above the counters (a
		// restore from a checkpoint older than the reset). Periods are
		// billed in bytes; the history keeps no packets.
		it.st.BaseIn.Bytes = min(it.st.BaseIn.Bytes+r.InBytes, it.st.In.Bytes)
		it.st.BaseOut.Bytes = min(it.st.BaseOut.Bytes+r.OutBytes, it.st.Out.Bytes)
		e.beginPeriod(it, r.Reason, r.Time)
		e.log.Warn("billing period reset found in the history but not in the state (the enforcer stopped before saving it): taken over",
			"port", it.cfg.Ports, "reason", r.Reason, "reset_at", r.Time.Format(time.RFC3339),
			"next_reset", it.st.NextReset.Format(time.DateOnly))
	}
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
	e.beginPeriod(it, reason, now)
	return r
}

// beginPeriod starts the item's billing period at at after a reset for
// reason, its bases set: a quota of a new generation (a fresh kernel
// object), no quota block, and the next reset moved as that reset moves
// it. An automatic reset advances the schedule past the reset that was
// due; any other leaves the billing calendar alone, unless its next reset
// is due (a reset the loop has not run yet, which this one replaces; due
// from its instant on, as the loop sees it).
func (e *Enforcer) beginPeriod(it *item, reason string, at time.Time) {
	it.st.PeriodStart = at
	it.st.QuotaGen++
	it.st.QuotaBlocked = false
	switch {
	case reason == state.ReasonAuto:
		it.st.NextReset = e.schedule(it).Advance(at, e.cfg.Location).Next
	case e.schedule(it).Due(at):
		it.st.NextReset = billing.NextReset(at, it.st.ResetDay, e.cfg.Location)
	}
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
		return adminapi.NewError(adminapi.CodeReadCounters, err)
	}
	e.takeCounters(objs)
	if e.checkQuotas(objs) && e.synced {
		_ = e.reconcile(syncDiff) // a failure is retried by the loop
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
				_ = e.reconcile(syncDiff) // a failure is retried by the loop
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

// Run runs the control loop until ctx ends, then writes a final checkpoint.
// The table stays in place: counting and blocking go on in the kernel while
// the daemon is stopped.
func (e *Enforcer) Run(ctx context.Context) error {
	events := make(chan nft.Event, 1)
	monCtx, stopMon := context.WithCancel(ctx)
	defer stopMon()
	go func() {
		if err := e.nft.Monitor(monCtx, events); err != nil {
			e.log.Warn("nftables monitor stopped; relying on periodic checks", "err", err)
		}
	}()
	tick := time.NewTicker(e.opts.TickInterval)
	defer tick.Stop()
	var interval time.Duration
	e.mu.Lock() // a reload may replace e.cfg meanwhile
	cp := time.NewTimer(e.firstCheckpoint)
	e.mu.Unlock()
	defer cp.Stop()
	lastCp := time.Now()
	cfgPoll := time.NewTicker(e.opts.ConfigPollInterval)
	defer cfgPoll.Stop()
	var settling filestamp.Stamp // a changed config file, waiting to hold still
	for {
		select {
		case <-ctx.Done():
			e.mu.Lock()
			err := e.checkpointLocked(true)
			e.mu.Unlock()
			if err != nil {
				return fmt.Errorf("final checkpoint: %w", err)
			}
			e.log.Info("stopped; final checkpoint written")
			return nil
		case <-tick.C:
			e.tick()
		case <-cp.C:
			e.mu.Lock()
			if err := e.checkpointLocked(false); err != nil {
				e.log.Error("checkpoint failed; counting and enforcement go on in the kernel, retrying", "err", err)
			}
			interval = e.cfg.CheckpointInterval
			e.mu.Unlock()
			lastCp = time.Now()
			cp.Reset(interval)
		case <-e.intervalChanged:
			// The new interval counts from the last periodic checkpoint:
			// a shorter one may make it due at once.
			e.mu.Lock()
			interval = e.cfg.CheckpointInterval
			e.mu.Unlock()
			cp.Stop()
			cp.Reset(max(0, interval-time.Since(lastCp)))
		case ev := <-events:
			e.onEvent(ev)
		case <-cfgPoll.C:
			if e.opts.ConfigPath == "" {
				continue
			}
			// Reload a changed file only once it held still for a poll
			// interval: an editor that truncates and rewrites in place
			// shows an empty file for a moment, and an empty file is a
			// valid config without items: it would drop every item and
			// its billing period.
			now, _ := filestamp.Of(e.opts.ConfigPath) // an unreadable file stamps as such; Reload reports it
			if now == e.currentStamp() || now != settling {
				settling = now
				continue
			}
			if err := e.Reload(); err != nil {
				e.log.Error("config file changed but is invalid; keeping the applied configuration", "err", err)
			}
		}
	}
}

func (e *Enforcer) currentStamp() filestamp.Stamp {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.configStamp
}
