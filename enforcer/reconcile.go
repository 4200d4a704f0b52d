package enforcer

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"port-traffic-dog/enforcer/nft"
	"port-traffic-dog/enforcer/ruleset"
	"port-traffic-dog/internal/adminapi"
)

// syncMode is how reconcile brings the nftables table to the desired state.
type syncMode int

const (
	// syncDiff sends the difference to the table applied last.
	syncDiff syncMode = iota
	// syncFull checks every object and re-creates what is missing; the
	// kernel's counters win where they exist (a restart, a repair).
	syncFull
	// syncReplace re-creates the table with the state's counters: the
	// kernel's do not win (an import adopting another host's counters).
	syncReplace
)

// Retry pacing after a failed apply: about a second, doubling up to half a
// minute, so a transient netlink error (ENOBUFS, EBUSY, a racing nft) is
// fixed within seconds and a lasting one costs little.
const (
	retryFirst = time.Second
	retryMax   = 30 * time.Second
)

// reconcile makes the kernel match the desired state: the bandwidth
// limits (tc) first, so the classes the out chains point to exist, then
// the nftables table in one transaction, then the egress classes no out
// chain points to any more are deleted. It is the one way a change
// reaches the kernel: start, reload, reset, quota exhausted, expiry,
// import, repair and the shaper's retries all change the items' state and
// call it. The desired state is computed from that state without changing
// it (input, desiredLimits).
//
// A failure leaves the state as the desired one and the kernel marked out
// of sync: the control loop retries with backoff until it holds
// (retryLocked), and port_traffic_dog_enforcer_synced reads 0 meanwhile.
// Each failure counts in the reconcile errors.
func (e *Enforcer) reconcile(mode syncMode) error {
	if !e.synced {
		mode = max(mode, e.pending) // what the failed attempts needed
	}
	if tableDone, err := e.push(mode); err != nil {
		if tableDone { // only the limits are left to retry
			mode = syncDiff
		}
		e.outOfSync(err, mode)
		return err
	}
	if e.failures > 0 {
		e.log.Info("kernel in sync with the desired state again", "failed_attempts", e.failures)
	}
	e.synced, e.failures, e.pending, e.stats.OutOfSync = true, 0, syncDiff, false
	return nil
}

// outOfSync records a failed reconcile and schedules the retry.
func (e *Enforcer) outOfSync(err error, mode syncMode) {
	e.stats.ReconcileErrors++
	e.stats.OutOfSync = true
	e.synced = false
	e.pending = max(e.pending, mode)
	e.failures++
	wait := retryFirst << min(e.failures-1, 5)
	wait = min(wait, retryMax)
	e.retryAt = time.Now().Add(wait)
	e.dirty = true
	e.log.Error("applying the desired state failed; retrying", "err", err, "attempt", e.failures, "retry_in", wait)
}

// push computes the desired kernel state and applies it. tableDone reports
// that the nftables part held (an error is then the limits').
func (e *Enforcer) push(mode syncMode) (tableDone bool, err error) {
	now := e.opts.Now()
	limitsErr := e.applyLimits(e.desiredLimits())
	// A full sync may have to re-create any object, so every fragment is
	// built afresh with today's counters; reused fragments carry the values
	// they were built with.
	prev := e.applied
	if mode != syncDiff {
		prev = nil
	}
	rs := ruleset.Build(e.input(now), prev)
	if e.applyFault != nil {
		err = e.applyFault()
	}
	switch {
	case err != nil:
	case mode == syncReplace:
		err = e.nft.Replace(rs)
	case mode == syncFull || e.applied == nil:
		err = e.nft.Sync(rs)
		// A full sync's batch is the daemon's largest allocation (~100 MB
		// of messages and buffers at 10,000 items, ~15 MB live after).
		// Without this the runtime keeps the pages until a later GC
		// lowers its goal (minutes on an idle host): give them back once
		// the state save that follows is done.
		time.AfterFunc(time.Second, debug.FreeOSMemory)
	default:
		err = e.nft.Apply(ruleset.Compare(e.applied, rs), rs)
	}
	if err != nil {
		return false, errors.Join(adminapi.NewError(adminapi.CodeNftables, err), limitsErr)
	}
	e.applied = rs
	e.dirty = true
	// No out chain gives the egress classes the limits dropped any more.
	if err := e.shape.s.Prune(); err != nil {
		limitsErr = errors.Join(limitsErr, adminapi.NewError(adminapi.CodeBandwidthLimits, err))
	}
	for _, it := range e.all() {
		it.expired = expiredAt(it, now) // as applied
	}
	return true, limitsErr
}

// retryDue reports that the kernel is out of sync and the next attempt is
// due.
func (e *Enforcer) retryDue() bool {
	return !e.synced && !time.Now().Before(e.retryAt)
}

// retryLocked is the control loop's attempt to bring an out-of-sync kernel
// to the desired state: with fresh counters (new quota objects start from
// them, exhausted quotas are seen), resets and expiry that came due
// meanwhile, and the strongest sync any failed attempt wanted.
func (e *Enforcer) retryLocked() {
	mode := e.pending
	objs, err := e.nft.ReadObjects()
	switch {
	case err == nil:
		e.takeCounters(objs)
		e.checkQuotas(objs)
	case errors.Is(err, nft.ErrNoTable):
		mode = max(mode, syncFull) // rebuilt from the state's counters
	default:
		e.outOfSync(fmt.Errorf("read nftables: %w", err), mode)
		return
	}
	e.record(e.runDueResets(e.opts.Now()))
	_ = e.reconcile(mode) // a failure is retried by the loop
	// The new state, or that the kernel is still out of sync.
	e.save()
}

// save writes the state, logging a failure: the next checkpoint retries.
func (e *Enforcer) save() {
	if err := e.saveLocked(); err != nil {
		e.log.Error("saving state failed", "err", err)
	}
}
