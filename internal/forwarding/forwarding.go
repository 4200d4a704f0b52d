// Package forwarding tells whether a network namespace forwards IP packets:
// IPv4 or IPv6 forwarding switched on for all interfaces or any one of them
// (net.ipv4.ip_forward, net.ipv4.conf.*.forwarding,
// net.ipv6.conf.*.forwarding). The enforcer counts forwarded traffic only
// where there is some (count_forwarded: auto), since counting it needs
// conntrack for every packet of the namespace.
package forwarding

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// rtnetlink's netconf messages (linux/netconf.h), which x/sys lacks.
const (
	netconfaIfindex    = 1
	netconfaForwarding = 2
	// ifindexDefault is the settings new interfaces start from: not an
	// interface that forwards anything.
	ifindexDefault = -2
)

// Enabled reports whether the namespace of fd netns (0: the caller's)
// forwards IPv4 or IPv6 packets. It asks the kernel over rtnetlink (one
// dump per address family), not /proc/sys, whose net directory shows the
// namespace of whoever opens it.
func Enabled(netns int) (bool, error) {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: netns})
	if err != nil {
		return false, fmt.Errorf("forwarding: rtnetlink: %w", err)
	}
	defer func() { _ = c.Close() }()
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		msgs, err := c.Execute(netlink.Message{
			Header: netlink.Header{Type: unix.RTM_GETNETCONF, Flags: netlink.Request | netlink.Dump},
			Data:   []byte{family, 0, 0, 0}, // struct netconfmsg, padded
		})
		if family == unix.AF_INET6 && (errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EAFNOSUPPORT)) {
			// A kernel booted with ipv6.disable=1 has no IPv6 to forward.
			continue
		}
		if err != nil {
			return false, fmt.Errorf("forwarding: netconf dump (family %d): %w", family, err)
		}
		for _, m := range msgs {
			on, err := forwards(m.Data)
			if err != nil {
				return false, fmt.Errorf("forwarding: netconf (family %d): %w", family, err)
			}
			if on {
				return true, nil
			}
		}
	}
	return false, nil
}

// forwards decodes one netconf message: does this interface (or "all")
// forward?
func forwards(data []byte) (bool, error) {
	if len(data) < 4 {
		return false, fmt.Errorf("message of %d bytes", len(data))
	}
	ad, err := netlink.NewAttributeDecoder(data[4:])
	if err != nil {
		return false, err
	}
	ad.ByteOrder = binary.NativeEndian
	ifindex, fwd := int32(0), int32(0)
	for ad.Next() {
		switch ad.Type() {
		case netconfaIfindex:
			ifindex = ad.Int32()
		case netconfaForwarding:
			fwd = ad.Int32()
		}
	}
	if err := ad.Err(); err != nil {
		return false, err
	}
	return ifindex != ifindexDefault && fwd != 0, nil
}
