// Package tcread reads the tc shaper's per-class statistics (drops and
// overlimits) over netlink, for the exporter. Where to look comes from the
// enforcer's meta file: the shaped interfaces (egress classes) and their IFB
// devices (ingress classes); the classes are 7d0:<item's class minor>.
package tcread

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/state"
)

// Counters are one class's counters, summed over the shaped interfaces.
type Counters struct {
	Drops      uint64 // packets the class's queue dropped
	Overlimits uint64 // times the class went over its rate and had to wait
}

// Stats are the counters by class minor, per direction.
type Stats struct {
	In, Out map[uint16]Counters
}

// Read reads the classes of every interface and IFB device sh names, in the
// network namespace of fd netns (0: the caller's). An interface that is
// gone is skipped; the error reports what could not be read.
func Read(netns int, sh *state.Shaper) (*Stats, error) {
	st := &Stats{In: map[uint16]Counters{}, Out: map[uint16]Counters{}}
	if sh == nil || len(sh.Links) == 0 {
		return st, nil
	}
	ns := netnsHandle(netns)
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return st, fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	var errs []error
	read := func(dev string, into map[uint16]Counters) {
		l, err := h.LinkByName(dev)
		if err != nil {
			var nf netlink.LinkNotFoundError
			if !errors.As(err, &nf) {
				errs = append(errs, fmt.Errorf("%s: %w", dev, err))
			}
			return
		}
		cls, err := h.ClassList(l, netlink.MakeHandle(layout.HTBMajor, 0))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: list classes: %w", dev, err))
			return
		}
		for _, c := range cls {
			maj, min := netlink.MajorMinor(c.Attrs().Handle)
			s := c.Attrs().Statistics
			if maj != layout.HTBMajor || min == 0 || s == nil || s.Queue == nil {
				continue
			}
			cur := into[min]
			cur.Drops += uint64(s.Queue.Drops)
			cur.Overlimits += uint64(s.Queue.Overlimits)
			into[min] = cur
		}
	}
	for _, l := range sh.Links {
		if l.Egress {
			read(l.Name, st.Out)
		}
		if l.IFB != "" {
			read(l.IFB, st.In)
		}
	}
	return st, errors.Join(errs...)
}

func netnsHandle(fd int) netns.NsHandle {
	if fd == 0 {
		return netns.None()
	}
	return netns.NsHandle(fd)
}
