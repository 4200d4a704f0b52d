package shaper

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"port-traffic-dog/internal/state"
)

// conn is one batch of work in the shaper's network namespace: the netlink
// library's handle for what it serializes well (links, HTB classes, u32
// filters), and a raw rtnetlink socket, with the kernel's extended error
// messages on, for qdisc dumps and for creating a qdisc from its dumped
// options, which the library cannot do.
type conn struct {
	h   *netlink.Handle
	raw *nl.SocketHandle
	gen *nl.SocketHandle // generic netlink, for ethtool; nil if unavailable
}

func nsHandle(fd int) netns.NsHandle {
	if fd == 0 {
		return netns.None() // the process's own namespace
	}
	return netns.NsHandle(fd)
}

func dial(fd int) (*conn, error) {
	ns := nsHandle(fd)
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink: %w", err)
	}
	_ = s.SetExtAck(true) // best effort: only the error messages get worse without
	c := &conn{h: h, raw: &nl.SocketHandle{Socket: s}}
	if g, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_GENERIC); err == nil {
		c.gen = &nl.SocketHandle{Socket: g}
	}
	return c, nil
}

func (c *conn) close() {
	c.h.Close()
	c.raw.Close()
	if c.gen != nil {
		c.gen.Close()
	}
}

// qdisc is a qdisc as dumped.
type qdisc struct {
	kind    string
	handle  uint32
	parent  uint32
	options []byte
}

func (q qdisc) String() string {
	maj, min := netlink.MajorMinor(q.handle)
	return fmt.Sprintf("%s %x:%x", q.kind, maj, min)
}

// qdiscs dumps the qdiscs of one interface: its root, its ingress/clsact
// and the children someone configured (default children the kernel
// attached have handle 0).
func (c *conn) qdiscs(ifindex int) ([]qdisc, error) {
	req := nl.NewNetlinkRequest(unix.RTM_GETQDISC, unix.NLM_F_DUMP)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: c.raw}
	req.AddData(&nl.TcMsg{Family: nl.FAMILY_ALL, Ifindex: int32(ifindex)})
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWQDISC)
	if err != nil {
		return nil, fmt.Errorf("dump qdiscs: %w", err)
	}
	var out []qdisc
	for _, m := range msgs {
		tm := nl.DeserializeTcMsg(m)
		if int(tm.Ifindex) != ifindex {
			continue
		}
		attrs, err := nl.ParseRouteAttr(m[tm.Len():])
		if err != nil {
			return nil, fmt.Errorf("dump qdiscs: %w", err)
		}
		q := qdisc{handle: tm.Handle, parent: tm.Parent}
		for _, a := range attrs {
			switch a.Attr.Type {
			case nl.TCA_KIND:
				q.kind = strings.TrimRight(string(a.Value), "\x00")
			case nl.TCA_OPTIONS:
				q.options = append([]byte(nil), a.Value...)
			}
		}
		out = append(out, q)
	}
	return out, nil
}

// root returns the interface's root qdisc.
func root(qs []qdisc) (qdisc, bool) {
	for _, q := range qs {
		if q.parent == netlink.HANDLE_ROOT {
			return q, true
		}
	}
	return qdisc{}, false
}

// ingressQdisc returns the interface's ingress or clsact qdisc.
func ingressQdisc(qs []qdisc) (qdisc, bool) {
	for _, q := range qs {
		if q.parent == netlink.HANDLE_INGRESS && (q.kind == "ingress" || q.kind == "clsact") {
			return q, true
		}
	}
	return qdisc{}, false
}

// createQdisc creates (or replaces whatever is at parent with) a qdisc from
// its dumped kind and options.
func (c *conn) createQdisc(ifindex int, parent uint32, q state.Qdisc) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWQDISC, unix.NLM_F_CREATE|unix.NLM_F_REPLACE|unix.NLM_F_ACK)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: c.raw}
	req.AddData(&nl.TcMsg{Family: nl.FAMILY_ALL, Ifindex: int32(ifindex), Handle: q.Handle, Parent: parent})
	req.AddData(nl.NewRtAttr(nl.TCA_KIND, nl.ZeroTerminated(q.Kind)))
	if len(q.Options) > 0 {
		req.AddData(nl.NewRtAttr(nl.TCA_OPTIONS, q.Options))
	}
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// notFound reports a delete of something that is not there.
func notFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) || errors.As(err, &lnf)
}

// exists reports a create of something already there.
func exists(err error) bool { return errors.Is(err, unix.EEXIST) }

// inNS runs f on a thread switched into the namespace (fd 0: the process's
// own, no switch). A thread that cannot be switched back is left locked, so
// the runtime retires it instead of reusing it in the wrong namespace.
func inNS(fd int, f func() error) error {
	if fd == 0 {
		return f()
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer func() { _ = orig.Close() }()
	if err := netns.Set(netns.NsHandle(fd)); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter network namespace: %w", err)
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("leave network namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}
