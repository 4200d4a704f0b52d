package enforcer

import (
	"errors"

	"port-traffic-dog/enforcer/nft"
)

func nftConn(fd int) *nft.Conn { return nft.Open(fd) }

// errInjected is what failApplies makes an apply fail with.
var errInjected = errors.New("injected fault: netlink: no buffer space available")

// failApplies makes the next n applies fail before they reach the kernel,
// as a transient netlink error would: the fault-injection seam, which only
// test binaries can set.
func (e *Enforcer) failApplies(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.applyFault = func() error { // called under e.mu
		if n == 0 {
			return nil
		}
		n--
		return errInjected
	}
}
