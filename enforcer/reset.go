package enforcer

import (
	"errors"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/state"
)

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
		return nil, adminapi.NewError(adminapi.CodeNothingToReset, nil)
	}
	objs, err := e.nft.ReadObjects()
	if err != nil {
		return nil, adminapi.NewError(adminapi.CodeReadCounters, err)
	}
	e.takeCounters(objs)
	now := e.opts.Now()
	var resets []state.Reset
	for _, it := range targets {
		resets = append(resets, e.resetItem(it, reason, now))
	}
	e.record(resets)
	for _, r := range resets {
		e.log.Info("billing period reset", "port", r.Ports, "reason", reason, "in", r.InBytes, "out", r.OutBytes)
	}
	applyErr := e.reconcile(syncDiff)
	if err := e.saveLocked(); err != nil {
		if applyErr == nil {
			return resets, adminapi.NewError(adminapi.CodeResetNotSaved, err)
		}
		return resets, errors.Join(pendingErr(adminapi.CodeResetPending, applyErr),
			adminapi.NewError(adminapi.CodeSaveFailedToo, err))
	}
	return resets, pendingErr(adminapi.CodeResetPending, applyErr)
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
	// A port of a range or group: say whose it is.
	if spec, err := portspec.Parse(ports); err == nil {
		for _, it := range e.items {
			if r, ok := it.cfg.Spec.Overlap(spec); ok {
				return nil, adminapi.NewError(adminapi.CodeInItem, nil, ports, r.String(), it.cfg.Ports)
			}
		}
	}
	return nil, adminapi.NewError(adminapi.CodeNoSuchItem, nil, ports)
}
