package legacy

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Shaping is the script's tc setup on one interface: an HTB root 1: (default
// class 30) whose class 1:1 (1000mbit) parents a class per limited port,
// selected by u32 filters (single ports) and fw filters (ranges).
type Shaping struct {
	Link    string
	Index   int
	Classes int // per-port classes under 1:1
	Filters int
}

// legacyRoot is the script's root handle 1:, and 0x30 its default class.
var legacyRoot = netlink.MakeHandle(1, 0)

func handleAt(fd int) (*netlink.Handle, error) {
	ns := netns.None()
	if fd != 0 {
		ns = netns.NsHandle(fd)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return h, nil
}

// FindShaping lists the interfaces of netns (fd; 0 ours) whose root qdisc
// is the script's: HTB 1: with default 30 and class 1:1, every other class
// a child of 1:1. Anything else is someone else's and is left alone.
func FindShaping(fd int) ([]Shaping, error) {
	h, err := handleAt(fd)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []Shaping
	for _, l := range links {
		qs, err := h.QdiscList(l)
		if err != nil {
			return nil, fmt.Errorf("%s: list qdiscs: %w", l.Attrs().Name, err)
		}
		var root *netlink.Htb
		for _, q := range qs {
			if htb, ok := q.(*netlink.Htb); ok && q.Attrs().Parent == netlink.HANDLE_ROOT && q.Attrs().Handle == legacyRoot && htb.Defcls == 0x30 {
				root = htb
			}
		}
		if root == nil {
			continue
		}
		cs, err := h.ClassList(l, legacyRoot)
		if err != nil {
			return nil, fmt.Errorf("%s: list classes: %w", l.Attrs().Name, err)
		}
		s := Shaping{Link: l.Attrs().Name, Index: l.Attrs().Index}
		top, foreign := false, false
		for _, c := range cs {
			a := c.Attrs()
			switch {
			case a.Handle == netlink.MakeHandle(1, 1) && a.Parent == netlink.HANDLE_ROOT:
				top = true
			case a.Parent == netlink.MakeHandle(1, 1) && (a.Handle&0xffff)>>12 >= 1:
				s.Classes++ // 1:1xxx (ports) and 1:2xxx (ranges)
			default:
				foreign = true
			}
		}
		if !top || foreign {
			continue
		}
		fs, err := h.FilterList(l, legacyRoot)
		if err != nil {
			return nil, fmt.Errorf("%s: list filters: %w", l.Attrs().Name, err)
		}
		s.Filters = len(fs)
		out = append(out, s)
	}
	return out, nil
}

// RemoveShaping deletes the script's root qdisc (with its classes and
// filters) from the interface; the kernel's default root takes its place.
func RemoveShaping(fd int, s Shaping) error {
	h, err := handleAt(fd)
	if err != nil {
		return err
	}
	defer h.Close()
	q := &netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: s.Index, Parent: netlink.HANDLE_ROOT, Handle: legacyRoot}, QdiscType: "htb"}
	if err := h.QdiscDel(q); err != nil {
		return fmt.Errorf("%s: delete the script's HTB root 1: : %w", s.Link, err)
	}
	return nil
}
