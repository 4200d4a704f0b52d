package enforcer

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"port-traffic-dog/enforcer/shaper"
	"port-traffic-dog/internal/state"
)

// shaping is the enforcer's side of the tc shaper: it turns the items into
// the shaper's desired state, assigns class minors, applies limits together
// with the nftables table, and retries or repairs from the control loop.
type shaping struct {
	s *shaper.Shaper
	// applied is the desired state last applied without error (nil: none);
	// attempted the last one tried.
	applied, attempted *shaper.Desired
	// failed is the error of the last attempt, logged once per message.
	failed  string
	retryAt time.Time
}

// shaperRetryTicks paces new attempts after a failed apply (an interface
// that is not there yet, a kernel refusing a class) or repair: every 30
// ticks, 30 s by default.
const shaperRetryTicks = 30

func newShaping(netns int, log *slog.Logger) shaping {
	return shaping{s: shaper.New(netns, log)}
}

// desired assigns class minors to limited items that have none and returns
// the shaper's desired state. A minor, once given, stays with the item
// (state.Item.ClassMinor) across reloads and restarts; a new one is never
// one that another item holds or that is still applied in the kernel.
func (e *Enforcer) desired() shaper.Desired {
	used := e.shape.s.Minors()
	taken := map[uint16]bool{}
	for _, it := range e.items {
		if m := it.st.ClassMinor; m != 0 {
			if taken[m] { // two items claim one minor (an edited state file): the later yields
				it.st.ClassMinor = 0
				continue
			}
			taken[m] = true
		}
	}
	next := uint16(1)
	d := shaper.Desired{Interfaces: e.cfg.Interfaces}
	for _, it := range e.items {
		if it.cfg.RateIn == 0 && it.cfg.RateOut == 0 {
			continue
		}
		if it.st.ClassMinor == 0 {
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
		d.Items = append(d.Items, shaper.Item{Ports: it.cfg.Ports, Spec: it.cfg.Spec, Protocols: it.cfg.Protocols,
			Minor: it.st.ClassMinor, RateIn: it.cfg.RateIn, RateOut: it.cfg.RateOut, Burst: it.cfg.Burst})
	}
	return d
}

// applyShaper brings the tc side to the items, before the nftables table
// is built: the egress classes the out chains point to then exist. A
// failure is logged and counted, the shaper keeps what it had, and counting
// and quotas go on; the control loop retries.
func (e *Enforcer) applyShaper() {
	d := e.desired()
	if e.shape.skip(d) || e.shape.failedBefore(d) && e.opts.Now().Before(e.shape.retryAt) {
		return
	}
	e.shape.attempted = &d
	if err := e.shape.s.Apply(d); err != nil {
		e.stats.ReconcileErrors++
		e.shape.applied = nil
		e.shape.retryAt = e.opts.Now().Add(shaperRetryTicks * e.opts.TickInterval)
		if msg := err.Error(); msg != e.shape.failed {
			e.shape.failed = msg
			e.log.Error("bandwidth limits not applied; counting and quotas are not affected", "err", err)
		}
		return
	}
	if e.shape.failed != "" {
		e.log.Info("bandwidth limits applied")
	}
	e.shape.applied, e.shape.failed = &d, ""
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
	d := e.desired()
	if e.shape.skip(d) || e.shape.failedBefore(d) {
		return nil
	}
	e.shape.attempted = &d
	if err := e.shape.s.Apply(d); err != nil {
		e.stats.ReconcileErrors++
		return fmt.Errorf("bandwidth limits: %w", err)
	}
	e.shape.applied, e.shape.failed = &d, ""
	return nil
}

// classOut is the egress class an item's out chain classifies into: its
// priority, when the class is in place on the shaped interfaces.
func (e *Enforcer) shapeClassOut(it *item) uint32 {
	if it.cfg.RateOut == 0 || it.st.ClassMinor == 0 || !e.shape.s.Egress(it.st.ClassMinor) {
		return 0
	}
	return shaper.ClassID(it.st.ClassMinor)
}

// tickShaper is the control loop's cheap tc check: qdiscs another tool
// removed are put back (a repair), and a failed apply is retried.
func (e *Enforcer) tickShaper() {
	now := e.opts.Now()
	if e.shape.applied == nil {
		if e.shape.failed == "" || now.Before(e.shape.retryAt) {
			return
		}
		e.applyShaper()
		if e.shape.applied != nil {
			if err := e.apply(false); err != nil { // the out chains' priorities
				e.log.Error("applying the table after the limits failed", "err", err)
			}
		}
		return
	}
	what, err := e.shape.s.Verify()
	if what == "" && err == nil {
		return
	}
	if err != nil {
		e.stats.ReconcileErrors++
		e.shape.applied, e.shape.failed = nil, err.Error()
		e.shape.retryAt = now.Add(shaperRetryTicks * e.opts.TickInterval)
		e.log.Error("repairing the bandwidth limits failed; retrying", "broken", what, "err", err)
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
