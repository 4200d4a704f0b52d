package shaper

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

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
	// buf is dump's read buffer, made at the first dump: a conn serves
	// one call of the shaper (an Apply, a Verify) and reads one dump at a
	// time.
	buf []byte
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
	options []byte // of root and ingress qdiscs: a previous root is put back
	limit   uint32 // of a byte FIFO (bfifo), the queue of a class
}

func (q qdisc) String() string {
	maj, min := netlink.MajorMinor(q.handle)
	return fmt.Sprintf("%s %x:%x", q.kind, maj, min)
}

// qdiscs dumps the qdiscs of one interface: its root, its ingress/clsact
// and the children someone configured (default children the kernel
// attached have handle 0).
func (c *conn) qdiscs(ifindex int) ([]qdisc, error) {
	all, err := c.allQdiscs()
	return all[ifindex], err
}

// allQdiscs dumps the qdiscs of every interface, by interface index (the
// kernel dumps them all whichever interface is asked for).
func (c *conn) allQdiscs() (map[int][]qdisc, error) {
	out := map[int][]qdisc{}
	err := c.dump(unix.RTM_GETQDISC, unix.RTM_NEWQDISC, 0, 0, func(tm *nl.TcMsg, attrs []byte) {
		q := qdisc{handle: tm.Handle, parent: tm.Parent}
		// A class's queue keeps no copy of its options: with limits on
		// 1,000 items the control loop's check reads 2,000 such queues a
		// second.
		top := tm.Parent == netlink.HANDLE_ROOT || tm.Parent == netlink.HANDLE_INGRESS
		var options []byte
		eachAttr(attrs, func(typ uint16, v []byte) {
			switch typ {
			case nl.TCA_KIND:
				q.kind = kindName(v)
			case nl.TCA_OPTIONS:
				options = v
			}
		})
		switch {
		case top:
			q.options = append([]byte(nil), options...)
		case q.kind == "bfifo" && len(options) >= 4: // struct tc_fifo_qopt
			q.limit = binary.NativeEndian.Uint32(options)
		}
		out[int(tm.Ifindex)] = append(out[int(tm.Ifindex)], q)
	})
	if err != nil {
		return nil, fmt.Errorf("dump qdiscs: %w", err)
	}
	return out, nil
}

// dump runs one tc dump on the raw socket and hands f each answer's header
// and attributes, which are only valid during the call. It reads into the
// conn's buffer and parses no more than the caller asks: at 1,000 items
// the control loop's check reads some 8,000 answers a second, and with the
// library's lists (a new 64 KiB buffer per read, every answer copied and
// parsed whole, statistics and actions too) it took 25-33 ms instead of
// 5. An interrupted dump (something changed meanwhile) is an error: what
// was read may be wrong.
func (c *conn) dump(req, answer uint16, ifindex int, parent uint32, f func(tm *nl.TcMsg, attrs []byte)) error {
	r := nl.NewNetlinkRequest(int(req), unix.NLM_F_DUMP)
	r.AddData(&nl.TcMsg{Family: nl.FAMILY_ALL, Ifindex: int32(ifindex), Parent: parent})
	s := c.raw.Socket
	r.Seq = atomic.AddUint32(&c.raw.Seq, 1) // as the library numbers requests on the socket
	if err := s.Send(r); err != nil {
		return err
	}
	pid, err := s.GetPid()
	if err != nil {
		return err
	}
	if c.buf == nil {
		c.buf = make([]byte, dumpBufSize)
	}
	interrupted := false
	for {
		n, err := c.recv(c.buf)
		if err != nil {
			return err
		}
		for b := c.buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			h := (*unix.NlMsghdr)(unsafe.Pointer(&b[0]))
			end := int(h.Len)
			if end < unix.NLMSG_HDRLEN || end > len(b) {
				return fmt.Errorf("malformed netlink answer (%d of %d bytes)", end, len(b))
			}
			body := b[unix.NLMSG_HDRLEN:end]
			b = b[min((end+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1), len(b)):]
			if h.Seq != r.Seq || h.Pid != pid {
				continue // a late answer to an earlier request
			}
			if h.Flags&unix.NLM_F_DUMP_INTR != 0 {
				interrupted = true
			}
			switch h.Type {
			case unix.NLMSG_DONE, unix.NLMSG_ERROR:
				if len(body) >= 4 {
					if errno := int32(binary.NativeEndian.Uint32(body)); errno != 0 {
						return syscall.Errno(-errno)
					}
				}
				if interrupted {
					return nl.ErrDumpInterrupted
				}
				return nil
			case answer:
				if len(body) >= nl.SizeofTcMsg {
					f(nl.DeserializeTcMsg(body), body[nl.SizeofTcMsg:])
				}
			}
		}
	}
}

// recv reads the next answers of a dump into buf. The socket does not
// block; the kernel fills the next part of a dump as the last one is read,
// so the wait is rare. A part larger than buf is an error: cut at a
// message's end, the rest of the part would be lost without a trace
// (MSG_TRUNC makes the kernel return the part's whole length).
func (c *conn) recv(buf []byte) (int, error) {
	fd := c.raw.Socket.GetFd()
	for {
		n, from, err := unix.Recvfrom(fd, buf, unix.MSG_TRUNC)
		switch {
		case err == nil:
			if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
				continue // not from the kernel
			}
			if n > len(buf) {
				return 0, fmt.Errorf("netlink answer of %d bytes, more than the %d-byte buffer", n, len(buf))
			}
			return n, nil
		case errors.Is(err, unix.EINTR):
		case errors.Is(err, unix.EAGAIN):
			ready, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(dumpTimeout/time.Millisecond))
			if err != nil && !errors.Is(err, unix.EINTR) {
				return 0, fmt.Errorf("wait for netlink: %w", err)
			}
			if ready == 0 && err == nil {
				return 0, errors.New("netlink dump: no answer within " + dumpTimeout.String())
			}
		default:
			return 0, fmt.Errorf("receive from netlink: %w", err)
		}
	}
}

// dumpBufSize is the size of dump's read buffer, twice the largest part of
// a tc dump: the kernel sizes a part by the reader's buffer, capped at
// 32 KiB (NLMSG_GOODSIZE, the least, is at most 8 KiB whatever the page
// size; only link dumps ask for more).
const dumpBufSize = 64 << 10

// dumpTimeout bounds the wait for the next part of a dump.
const dumpTimeout = 5 * time.Second

// eachAttr calls f with the type and value of each netlink attribute in b,
// without copying them.
func eachAttr(b []byte, f func(typ uint16, v []byte)) {
	for len(b) >= unix.SizeofRtAttr {
		n := int(binary.NativeEndian.Uint16(b))
		if n < unix.SizeofRtAttr || n > len(b) {
			return
		}
		f(binary.NativeEndian.Uint16(b[2:])&^(unix.NLA_F_NESTED|unix.NLA_F_NET_BYTEORDER), b[unix.SizeofRtAttr:n])
		b = b[min((n+unix.NLA_ALIGNTO-1)&^(unix.NLA_ALIGNTO-1), len(b)):]
	}
}

// htbClass is an HTB class as dumped: what the shaper sets of it.
type htbClass struct {
	rate, ceil      uint64 // bytes/s
	buffer, cbuffer uint32 // ticks
	quantum         uint32
}

// classes dumps the classes of the shaper's HTB (7d0:) on one device, by
// class id.
func (c *conn) classes(ifindex int) (map[uint32]htbClass, error) {
	out := map[uint32]htbClass{}
	err := c.dump(unix.RTM_GETTCLASS, unix.RTM_NEWTCLASS, ifindex, rootHandle, func(tm *nl.TcMsg, attrs []byte) {
		var cl htbClass
		var rate64, ceil64 uint64
		htb := false
		eachAttr(attrs, func(typ uint16, v []byte) {
			switch typ {
			case nl.TCA_KIND:
				htb = string(v) == "htb\x00"
			case nl.TCA_OPTIONS:
				eachAttr(v, func(typ uint16, v []byte) {
					switch {
					case typ == nl.TCA_HTB_PARMS && len(v) >= nl.SizeofTcHtbCopt:
						o := nl.DeserializeTcHtbCopt(v)
						cl = htbClass{rate: uint64(o.Rate.Rate), ceil: uint64(o.Ceil.Rate), buffer: o.Buffer, cbuffer: o.Cbuffer, quantum: o.Quantum}
					case typ == nl.TCA_HTB_RATE64 && len(v) >= 8:
						rate64 = binary.NativeEndian.Uint64(v)
					case typ == nl.TCA_HTB_CEIL64 && len(v) >= 8:
						ceil64 = binary.NativeEndian.Uint64(v)
					}
				})
			}
		})
		if !htb {
			return
		}
		if rate64 != 0 { // rates of 4 GiB/s and more
			cl.rate = rate64
		}
		if ceil64 != 0 {
			cl.ceil = ceil64
		}
		out[tm.Handle] = cl
	})
	if err != nil {
		return nil, fmt.Errorf("dump classes: %w", err)
	}
	return out, nil
}

// u32Filter is a u32 node as dumped: what the shaper sets of it.
type u32Filter struct {
	prio    uint16
	handle  uint32
	link    uint32 // the table it links to (id << 20); 0: none
	classID uint32
	nkeys   int
	key     nl.TcU32Key // the first key, in host order
	redir   uint32      // the interface a mirred action redirects to; 0: none
}

// u32Filters dumps the u32 nodes at one parent of a device and hands each
// to each (tables, which have no selector, are left out).
func (c *conn) u32Filters(ifindex int, parent uint32, each func(u32Filter)) error {
	err := c.dump(unix.RTM_GETTFILTER, unix.RTM_NEWTFILTER, ifindex, parent, func(tm *nl.TcMsg, attrs []byte) {
		f := u32Filter{prio: uint16(tm.Info >> 16), handle: tm.Handle}
		isU32, node := false, false
		eachAttr(attrs, func(typ uint16, v []byte) {
			switch typ {
			case nl.TCA_KIND:
				isU32 = string(v) == "u32\x00"
			case nl.TCA_OPTIONS:
				eachAttr(v, func(typ uint16, v []byte) {
					switch {
					case typ == nl.TCA_U32_SEL && len(v) >= nl.SizeofTcU32Sel:
						node = true
						f.nkeys = int(v[2])
						if f.nkeys > 0 && len(v) >= nl.SizeofTcU32Sel+nl.SizeofTcU32Key {
							k := v[nl.SizeofTcU32Sel:]
							f.key = nl.TcU32Key{Mask: binary.BigEndian.Uint32(k), Val: binary.BigEndian.Uint32(k[4:]),
								Off: int32(binary.NativeEndian.Uint32(k[8:])), OffMask: int32(binary.NativeEndian.Uint32(k[12:]))}
						}
					case typ == nl.TCA_U32_LINK && len(v) >= 4:
						f.link = binary.NativeEndian.Uint32(v)
					case typ == nl.TCA_U32_CLASSID && len(v) >= 4:
						f.classID = binary.NativeEndian.Uint32(v)
					case typ == nl.TCA_U32_ACT:
						f.redir = mirredTarget(v)
					}
				})
			}
		})
		if isU32 && node {
			each(f)
		}
	})
	if err != nil {
		return fmt.Errorf("dump filters: %w", err)
	}
	return nil
}

// mirredTarget returns the interface a filter's mirred redirect action
// sends to (0: none).
func mirredTarget(acts []byte) uint32 {
	// struct tc_mirred: tc_gen (5 × 4 bytes), eaction, ifindex.
	const ifindexAt = 24
	var target uint32
	eachAttr(acts, func(_ uint16, act []byte) { // by the actions' order
		mirred := false
		eachAttr(act, func(typ uint16, v []byte) {
			switch typ {
			case nl.TCA_ACT_KIND:
				mirred = string(v) == "mirred\x00"
			case nl.TCA_ACT_OPTIONS:
				if !mirred {
					return
				}
				eachAttr(v, func(typ uint16, v []byte) {
					if typ == nl.TCA_MIRRED_PARMS && len(v) >= ifindexAt+4 &&
						binary.NativeEndian.Uint32(v[ifindexAt-4:]) == uint32(netlink.TCA_EGRESS_REDIR) {
						target = binary.NativeEndian.Uint32(v[ifindexAt:])
					}
				})
			}
		})
	})
	return target
}

// kindName is a dumped TCA_KIND, without allocating for the kinds every
// dump is full of.
func kindName(v []byte) string {
	v = bytes.TrimRight(v, "\x00")
	for _, k := range []string{"bfifo", "htb", "ingress", "clsact", "noqueue", "pfifo_fast", "mq", "fq_codel"} {
		if string(v) == k {
			return k
		}
	}
	return string(v)
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
