package nft

import (
	"fmt"
	"slices"
	"sync"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ownPorts remembers the netlink port ids of the sockets a Conn sent its
// last transactions from. The kernel stamps every notification of a
// transaction, its closing NEWGEN included, with the sender's port id, so the
// monitor tells the enforcer's own changes from another process's by it.
// (NEWGEN's process id attribute cannot: it is the id of the sending thread,
// which for a Go program is rarely the process id.)
type ownPorts struct {
	mu   sync.Mutex
	ids  [64]uint32 // a ring: the monitor reads a transaction's NEWGEN long before 64 more have passed
	next int
}

func (o *ownPorts) register(conn *netlink.Conn) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("nft transport: %w", err)
	}
	var sa unix.Sockaddr
	var serr error
	if err := rc.Control(func(fd uintptr) { sa, serr = unix.Getsockname(int(fd)) }); err != nil {
		return fmt.Errorf("nft transport: %w", err)
	}
	nl, ok := sa.(*unix.SockaddrNetlink)
	if serr != nil || !ok {
		return fmt.Errorf("nft transport: netlink port id: %w", serr)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ids[o.next%len(o.ids)] = nl.Pid
	o.next++
	return nil
}

func (o *ownPorts) has(id uint32) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return id != 0 && slices.Contains(o.ids[:], id)
}
