package enforcer

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"

	"port-traffic-dog/enforcer/shaper"
	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/state"
)

// shaping is the enforcer's side of the tc shaper: it turns the items into
// the shaper's desired state, assigns class minors, and applies limits as
// part of every reconcile (reconcile.go), which also retries them.
type shaping struct {
	s *shaper.Shaper
	// applied is the desired state last applied without error (nil: none);
	// attempted the last one tried.
	applied, attempted *shaper.Desired
	// failed is the error of the last attempt, logged once per message.
	failed string
}

func newShaping(netns int, log *slog.Logger) shaping {
	return shaping{s: shaper.New(netns, log)}
}

// assignClasses gives class minors to limited items that have none, when a
// configuration is taken (merge). A minor, once given, stays with the item
// (state.Item.ClassMinor) across reloads and restarts; a new one is never
// one that another item holds or that is still applied in the kernel.
func (e *Enforcer) assignClasses(items []*item) {
	used := e.shape.s.Minors()
	taken := map[uint16]bool{}
	for _, it := range items {
		if m := it.st.ClassMinor; m != 0 {
			if taken[m] { // two items claim one minor (an edited state file): the later yields
				it.st.ClassMinor = 0
				continue
			}
			taken[m] = true
		}
	}
	next := uint16(1)
	for _, it := range items {
		if it.cfg.RateIn == 0 && it.cfg.RateOut == 0 || it.st.ClassMinor != 0 {
			continue
		}
		for taken[next] || used[next] {
			next++
		}
		if next == 0xffff {
			e.log.Error("no tc class left for the item; it is not limited", "port", it.cfg.Ports)
			continue
		}
		it.st.ClassMinor = next
		taken[next] = true
	}
}

// desiredLimits is the shaper's desired state for the items. It only reads:
// items with limits but no class (none was left) are not limited.
func (e *Enforcer) desiredLimits() shaper.Desired {
	d := shaper.Desired{Interfaces: e.cfg.Interfaces}
	for _, it := range e.items {
		if it.cfg.RateIn == 0 && it.cfg.RateOut == 0 || it.st.ClassMinor == 0 {
			continue
		}
		d.Items = append(d.Items, limitOf(it.cfg, it.st.ClassMinor))
	}
	return d
}

// limitOf is an item's limits as the shaper takes them, in HTB class minor.
func limitOf(it *config.Item, minor uint16) shaper.Item {
	return shaper.Item{Ports: it.Ports, Spec: it.Spec, Protocols: it.Protocols,
		Minor: minor, RateIn: it.RateIn, RateOut: it.RateOut, Burst: it.Burst}
}

// applyLimits brings the tc side to d, before the nftables table is
// built: the egress classes the out chains point to then exist. On a
// failure the shaper keeps what it had, counting and quotas go on, and the
// reconcile that called it is retried.
func (e *Enforcer) applyLimits(d shaper.Desired) error {
	if e.shape.skip(d) {
		return nil
	}
	e.shape.attempted = &d
	if err := e.shape.s.Apply(d); err != nil {
		e.shape.applied = nil
		if msg := err.Error(); msg != e.shape.failed {
			e.shape.failed = msg
			e.log.Error("bandwidth limits not applied; counting and quotas are not affected", "err", err)
		}
		return adminapi.NewError(adminapi.CodeBandwidthLimits, err)
	}
	if e.shape.failed != "" {
		e.log.Info("bandwidth limits applied")
	}
	e.shape.applied, e.shape.failed = &d, ""
	return nil
}

// skip reports that d is applied already, or that there is nothing to do:
// no limits configured and none to take over from a previous run.
func (sh *shaping) skip(d shaper.Desired) bool {
	if sh.applied != nil {
		return reflect.DeepEqual(*sh.applied, d)
	}
	return sh.attempted == nil && !limited(d) && sh.s.State() == nil
}

// failedBefore reports that d is what failed last time.
func (sh *shaping) failedBefore(d shaper.Desired) bool {
	return sh.applied == nil && sh.attempted != nil && reflect.DeepEqual(*sh.attempted, d)
}

func limited(d shaper.Desired) bool {
	for _, it := range d.Items {
		if it.RateIn > 0 || it.RateOut > 0 {
			return true
		}
	}
	return false
}

// reloadShaper is Reload's strict apply: changed limits must apply, or the
// reload is refused with nothing changed (the shaper changes nothing on bad
// input or a missing kernel feature). Limits the reload does not change are
// not its business: if they failed before, the control loop retries them.
func (e *Enforcer) reloadShaper() error {
	d := e.desiredLimits()
	if e.shape.skip(d) || e.shape.failedBefore(d) {
		return nil
	}
	e.shape.attempted = &d
	if err := e.shape.s.Apply(d); err != nil {
		e.stats.ReconcileErrors++
		// Bad input changed nothing, but a kernel refusal part-way left
		// some classes changed: what was applied is not known any more.
		e.shape.applied = nil
		return adminapi.NewError(adminapi.CodeBandwidthLimits, err)
	}
	e.shape.applied, e.shape.failed = &d, ""
	return nil
}

// shapeClassOut is the egress class an item's out chain classifies into: its
// priority, when the class is in place on the shaped interfaces.
func (e *Enforcer) shapeClassOut(it *item) uint32 {
	if it.cfg.RateOut == 0 || it.st.ClassMinor == 0 || !e.shape.s.Egress(it.st.ClassMinor) {
		return 0
	}
	return shaper.ClassID(it.st.ClassMinor)
}

// tickShaper is the control loop's cheap tc check while the kernel is in
// sync: qdiscs another tool removed are put back (a repair); a repair that
// fails leaves the kernel out of sync, for the reconcile retries.
func (e *Enforcer) tickShaper() {
	if e.shape.applied == nil {
		return
	}
	what, err := e.shape.s.Verify()
	if what == "" && err == nil {
		return
	}
	if err != nil {
		e.shape.applied, e.shape.failed = nil, err.Error()
		e.outOfSync(fmt.Errorf("repairing the bandwidth limits (%s): %w", what, err), syncDiff)
		return
	}
	e.stats.Repairs++
	e.dirty = true
	e.log.Warn("bandwidth limits repaired", "broken", what)
}

// cleanupShaper removes the shaper's qdiscs, filters and IFB devices, with
// the root qdiscs they replaced put back as the state file recorded them.
func (e *Enforcer) cleanupShaper() error {
	var saved *state.Shaper
	st, _, err := state.Load(e.cfg.StateDir)
	switch {
	case err == nil:
		saved = st.Shaper
	case !errors.Is(err, state.ErrNotExist):
		e.log.Warn("no readable state file: default root qdiscs come back instead of recorded ones", "err", err)
	}
	if err := shaper.Cleanup(e.opts.NetNS, saved, e.log); err != nil {
		return fmt.Errorf("remove the tc shaper: %w", err)
	}
	e.log.Info("removed the tc shaper's qdiscs, filters and IFB devices")
	return nil
}
