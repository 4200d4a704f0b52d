package enforcer

import (
	"port-traffic-dog/internal/forwarding"
)

// forwardState is what the enforcer knows of the host's IP forwarding, which
// decides with count_forwarded whether the table counts forwarded traffic:
// doing so needs conntrack for every packet of the host, a cost a host that
// forwards nothing should not pay.
type forwardState struct {
	known        bool // read at least once
	hostForwards bool // as last read
	failing      bool // the last read failed (logged once)
}

// countForwarded tells whether the table counts forwarded traffic now, from
// the last read (Start reads first): computing the desired state does no I/O.
func (e *Enforcer) countForwarded() bool {
	return e.cfg.CountForwarded.Enabled(e.fwd.hostForwards)
}

// readForwarding reads the sysctls in the enforcer's network namespace. A
// failed read keeps the last value, or at first assumes the host forwards:
// counting what may be forwarded is the side that loses nothing.
func (e *Enforcer) readForwarding() {
	on, err := forwarding.Enabled(e.opts.NetNS)
	if err != nil {
		if !e.fwd.failing {
			e.log.Warn("cannot tell whether the host forwards; keeping the forwarded-traffic setting as it is", "err", err)
		}
		e.fwd.failing = true
		if e.fwd.known {
			return
		}
		on = true
	} else {
		e.fwd.failing = false
	}
	e.fwd.known, e.fwd.hostForwards = true, on
}

// followForwarding runs on every tick: when the host starts or stops
// forwarding and that changes whether forwarded traffic is counted
// (count_forwarded: auto), the table follows. A failed apply leaves the
// new value as the desired state; the control loop retries it.
func (e *Enforcer) followForwarding() {
	was := e.countForwarded()
	e.readForwarding()
	now := e.countForwarded()
	if now == was {
		return
	}
	if now {
		e.log.Info("the host forwards: counting forwarded traffic (conntrack on)", "count_forwarded", e.cfg.CountForwarded)
	} else {
		e.log.Info("the host stopped forwarding: forwarded traffic no longer counted (conntrack off)", "count_forwarded", e.cfg.CountForwarded)
	}
	_ = e.reconcile(syncDiff) // a failure is retried by the loop
}
