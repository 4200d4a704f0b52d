package shaper

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/vishvananda/netlink"

	"port-traffic-dog/internal/state"
)

// Verify is the control loop's cheap check (a qdisc dump per interface and
// IFB): are the shaper's root qdiscs, ingress gates and IFB devices still in
// place? What another tool removed or replaced is set up again from the last
// applied state. repaired names what was broken; empty when all was well.
func (s *Shaper) Verify() (repaired string, err error) {
	if len(s.links) == 0 || s.last == nil {
		return "", nil
	}
	c, err := dial(s.netns)
	if err != nil {
		return "", fmt.Errorf("bandwidth limits: %w", err)
	}
	defer c.close()
	var broken []string
	for _, l := range s.links {
		if why := s.check(c, l); why != "" {
			broken = append(broken, l.name+": "+why)
		}
	}
	if len(broken) == 0 {
		return "", nil
	}
	p, err := makePlan(c, s.netns, *s.last)
	if err != nil {
		return strings.Join(broken, "; "), err
	}
	return strings.Join(broken, "; "), s.apply(c, p)
}

// check inspects one interface; on finding damage it resets the link's
// record so that apply sets the damaged part up again.
func (s *Shaper) check(c *conn, l *link) string {
	dev, err := c.h.LinkByName(l.name)
	if err != nil {
		return "" // gone: nothing to shape until it comes back
	}
	if dev.Attrs().Index != l.index {
		// Re-created (a VPN or PPP link back up): its qdiscs went with
		// the old one. The enforcer applies again only when its limits
		// change, so the repair's apply sets it up afresh (apply takes
		// a new index as a new interface).
		return "interface re-created"
	}
	qs, err := c.qdiscs(l.index)
	if err != nil {
		return ""
	}
	var why []string
	if l.egress {
		if r, ok := root(qs); !isOurRoot(r, ok) {
			what := "deleted"
			if ok && r.handle != 0 { // handle 0: the kernel's default came back
				what = "replaced by " + r.String()
			}
			why = append(why, "root qdisc "+what)
			l.egress, l.repairRoot = false, true
			clear(l.out)
		}
	}
	if l.ifb != "" {
		problem := ""
		iq, ok := ingressQdisc(qs)
		switch {
		case !ok:
			problem = "ingress qdisc deleted"
		case (iq.kind == "clsact") != (l.gate.parent == netlink.HANDLE_MIN_INGRESS):
			problem = "ingress qdisc replaced by " + iq.kind
		}
		if problem == "" {
			ifb, err := c.h.LinkByName(l.ifb)
			if err != nil || ifb.Attrs().Index != l.ifbIndex {
				problem = "IFB device " + l.ifb + " deleted"
			} else if iqs, err := c.qdiscs(l.ifbIndex); err == nil {
				if r, ok := root(iqs); !isOurRoot(r, ok) {
					problem = "root qdisc of " + l.ifb + " replaced"
				}
			}
		}
		if problem != "" {
			why = append(why, problem)
			// Start the ingress part over: drop what is left of it.
			if ok && l.gate != nil {
				_ = l.gate.remove(c)
			}
			if problem == "ingress qdisc deleted" || strings.HasPrefix(problem, "ingress qdisc replaced") {
				l.createdIngress = false // whatever is there now is not the shaper's
			}
			_ = c.h.LinkDel(&netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: l.ifb}})
			l.ifb, l.ifbIndex, l.gate, l.cls = "", 0, nil, nil
			clear(l.in)
		}
	}
	return strings.Join(why, ", ")
}

// Cleanup removes everything the shaper created in the namespace of fd
// netns, and only that: HTB roots with the shaper's handle (the recorded
// previous root is put back), its u32 filters on ingress qdiscs (the
// ingress qdisc too when the shaper created it and nothing else uses it) and
// its IFB devices. saved may be nil (no state file); then default roots come
// back and an ingress qdisc the shaper created stays, empty.
func Cleanup(netns int, saved *state.Shaper, log *slog.Logger) error {
	s := New(netns, log)
	c, err := dial(netns)
	if err != nil {
		return err
	}
	defer c.close()
	devs, err := c.h.LinkList()
	if err != nil {
		return fmt.Errorf("list interfaces: %w", err)
	}
	var errs []error
	for _, dev := range devs {
		a := dev.Attrs()
		if ownIFB(dev) {
			continue // deleted below, after the gates that point to them
		}
		qs, err := c.qdiscs(a.Index)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.Name, err))
			continue
		}
		rec, _ := saved.Link(a.Name)
		l := &link{name: a.Name, index: a.Index, prevRoot: rec.PrevRoot}
		if err := s.restoreRoot(c, l); err != nil {
			errs = append(errs, err)
		}
		if iq, ok := ingressQdisc(qs); ok {
			parent := uint32(ingressHandle)
			if iq.kind == "clsact" {
				parent = netlink.HANDLE_MIN_INGRESS
			}
			if ours(c, a.Index, parent) {
				gate := newTree(a.Index, parent, true, 0)
				if rec.CreatedIngress && !foreignFilters(c, a.Index, parent) {
					err := c.h.QdiscDel(&netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: a.Index, Parent: netlink.HANDLE_INGRESS, Handle: ingressHandle}})
					if err != nil && !notFound(err) {
						errs = append(errs, fmt.Errorf("%s: delete the ingress qdisc: %w", a.Name, err))
					}
				} else if err := gate.remove(c); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", a.Name, err))
				}
			}
		}
	}
	for _, dev := range devs {
		if ownIFB(dev) {
			if err := c.h.LinkDel(dev); err != nil && !notFound(err) {
				errs = append(errs, fmt.Errorf("delete %s: %w", dev.Attrs().Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// ownIFB recognizes the shaper's IFB devices by name and alias.
func ownIFB(dev netlink.Link) bool {
	a := dev.Attrs()
	return dev.Type() == "ifb" && strings.HasPrefix(a.Name, IFBPrefix) && strings.HasPrefix(a.Alias, IFBAliasPrefix)
}

// ours reports whether the shaper's filters are at the parent.
func ours(c *conn, ifindex int, parent uint32) bool {
	fs, err := c.h.FilterList(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: ifindex}}, parent)
	if err != nil {
		return false
	}
	for _, f := range fs {
		if p := f.Attrs().Priority; p == prioV4 || p == prioV6 {
			return true
		}
	}
	return false
}
