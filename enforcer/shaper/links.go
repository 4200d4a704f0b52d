package shaper

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"unsafe"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// IFBPrefix starts the name of every IFB device the shaper creates; the
// rest is the shaped interface's index, so names never collide and always
// fit the kernel's 15 characters.
const IFBPrefix = "dogifb"

// IFBAliasPrefix starts the alias (ip link shows it) of those devices; it
// names the interface whose incoming traffic the device shapes.
const IFBAliasPrefix = "port-traffic-dog ingress shaper for "

func ifbName(uplinkIndex int) string { return fmt.Sprintf("%s%x", IFBPrefix, uplinkIndex) }

// iface is an interface the plan shapes.
type iface struct {
	name  string
	index int
	speed uint64 // bits/s as the driver reports it; 0 = not reported
}

// resolve turns the configured interface names (none: the interfaces of
// the default routes, IPv4 and IPv6) into interfaces.
func resolve(c *conn, fd int, names []string) ([]iface, error) {
	if len(names) == 0 {
		var err error
		if names, err = defaultRouteLinks(c); err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, errors.New("interfaces: not set and the host has no default route (IPv4 or IPv6) to take them from; list the interfaces to shape under `interfaces`")
		}
	}
	out := make([]iface, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		l, err := c.h.LinkByName(n)
		if err != nil {
			if notFound(err) {
				return nil, fmt.Errorf("interfaces: %q does not exist%s", n, knownLinks(c))
			}
			return nil, fmt.Errorf("interfaces: %q: %w", n, err)
		}
		if l.Type() == "ifb" && strings.HasPrefix(n, IFBPrefix) {
			return nil, fmt.Errorf("interfaces: %q is the shaper's own IFB device; list the interface it shapes instead", n)
		}
		out = append(out, iface{name: n, index: l.Attrs().Index, speed: linkSpeed(c, fd, n)})
	}
	return out, nil
}

func knownLinks(c *conn) string {
	ls, err := c.h.LinkList()
	if err != nil {
		return ""
	}
	var names []string
	for _, l := range ls {
		if l.Type() == "ifb" && strings.HasPrefix(l.Attrs().Name, IFBPrefix) {
			continue
		}
		names = append(names, l.Attrs().Name)
	}
	slices.Sort(names)
	return " (the host has " + strings.Join(names, ", ") + ")"
}

// defaultRouteLinks lists the interfaces of the main table's default routes,
// multipath next hops included, IPv4 first.
func defaultRouteLinks(c *conn) ([]string, error) {
	var idx []int
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		rs, err := c.h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
		if err != nil {
			return nil, fmt.Errorf("list routes: %w", err)
		}
		for _, r := range rs {
			if r.Dst != nil {
				if ones, _ := r.Dst.Mask.Size(); ones != 0 {
					continue
				}
			}
			if r.LinkIndex > 0 {
				idx = append(idx, r.LinkIndex)
			}
			for _, nh := range r.MultiPath {
				idx = append(idx, nh.LinkIndex)
			}
		}
	}
	var names []string
	for _, i := range idx {
		l, err := c.h.LinkByIndex(i)
		if err != nil {
			return nil, fmt.Errorf("default route interface %d: %w", i, err)
		}
		if n := l.Attrs().Name; !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names, nil
}

// linkSpeed returns the interface's link speed in bits/s as its driver
// reports it; 0 when it reports none (virtio often, IFB, loopback) or the
// kernel cannot be asked. It asks ethtool over generic netlink (the
// enforcer's systemd unit allows no other sockets than netlink and unix),
// and falls back to the SIOCETHTOOL ioctl on kernels before 5.6.
func linkSpeed(c *conn, fd int, name string) uint64 {
	mbit, err := c.ethtoolSpeed(name)
	if err != nil {
		if mbit, err = ioctlSpeed(fd, name); err != nil {
			return 0
		}
	}
	if mbit == 0 || mbit == 0xffff || mbit == 0xffffffff { // SPEED_UNKNOWN
		return 0
	}
	return uint64(mbit) * 1e6
}

// genl runs one generic netlink request and returns the attributes of the
// first answer.
func (c *conn) genl(family uint16, cmd, version uint8, attrs ...*nl.RtAttr) ([]syscall.NetlinkRouteAttr, error) {
	req := nl.NewNetlinkRequest(int(family), 0)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_GENERIC: c.gen}
	req.AddData(&nl.Genlmsg{Command: cmd, Version: version})
	for _, a := range attrs {
		req.AddData(a)
	}
	msgs, err := req.Execute(unix.NETLINK_GENERIC, 0)
	if err != nil {
		return nil, err
	}
	if len(msgs) == 0 || len(msgs[0]) < nl.SizeofGenlmsg {
		return nil, errors.New("empty generic netlink answer")
	}
	return nl.ParseRouteAttr(msgs[0][nl.SizeofGenlmsg:])
}

func (c *conn) ethtoolSpeed(name string) (uint32, error) {
	if c.gen == nil {
		return 0, errors.New("no generic netlink socket")
	}
	fam, err := c.genl(nl.GENL_ID_CTRL, nl.GENL_CTRL_CMD_GETFAMILY, nl.GENL_CTRL_VERSION,
		nl.NewRtAttr(nl.GENL_CTRL_ATTR_FAMILY_NAME, nl.ZeroTerminated(unix.ETHTOOL_GENL_NAME)))
	if err != nil {
		return 0, fmt.Errorf("ethtool netlink family: %w", err)
	}
	var id uint16
	for _, a := range fam {
		if a.Attr.Type == nl.GENL_CTRL_ATTR_FAMILY_ID && len(a.Value) >= 2 {
			id = binary.NativeEndian.Uint16(a.Value)
		}
	}
	if id == 0 {
		return 0, errors.New("ethtool netlink family: no id")
	}
	hdr := nl.NewRtAttr(unix.NLA_F_NESTED|unix.ETHTOOL_A_LINKMODES_HEADER, nil)
	hdr.AddRtAttr(unix.ETHTOOL_A_HEADER_DEV_NAME, nl.ZeroTerminated(name))
	modes, err := c.genl(id, unix.ETHTOOL_MSG_LINKMODES_GET, unix.ETHTOOL_GENL_VERSION, hdr)
	if err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENODEV) {
			return 0, nil // the driver reports no link modes
		}
		return 0, err
	}
	for _, a := range modes {
		if a.Attr.Type&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER) == unix.ETHTOOL_A_LINKMODES_SPEED && len(a.Value) >= 4 {
			return binary.NativeEndian.Uint32(a.Value), nil
		}
	}
	return 0, nil
}

// ethtoolCmd is the kernel's struct ethtool_cmd (ETHTOOL_GSET).
type ethtoolCmd struct {
	cmd           uint32
	supported     uint32
	advertising   uint32
	speed         uint16
	duplex        uint8
	port          uint8
	phyAddress    uint8
	transceiver   uint8
	autoneg       uint8
	mdioSupport   uint8
	maxtxpkt      uint32
	maxrxpkt      uint32
	speedHi       uint16
	ethTpMdix     uint8
	ethTpMdixCtrl uint8
	lpAdvertising uint32
	reserved      [2]uint32
}

// ifreqData is struct ifreq with the ifr_data member of the union.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

const ethtoolGSet = 0x1

func ioctlSpeed(fd int, name string) (uint32, error) {
	var sock int
	err := inNS(fd, func() (err error) {
		sock, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("socket: %w", err)
	}
	defer func() { _ = unix.Close(sock) }()
	cmd := ethtoolCmd{cmd: ethtoolGSet}
	var ifr ifreqData
	copy(ifr.name[:], name)
	ifr.data = unsafe.Pointer(&cmd)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(sock), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		if errno == unix.EOPNOTSUPP || errno == unix.EINVAL || errno == unix.ENODEV {
			return 0, nil
		}
		return 0, errno
	}
	return uint32(cmd.speedHi)<<16 | uint32(cmd.speed), nil
}
