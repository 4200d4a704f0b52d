package shaper

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"

	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/units"
)

// Verify is the control loop's cheap check: are the shaper's root qdiscs,
// ingress gates, IFB devices, the items' classes with their queues and the
// u32 filters that steer their ports still as applied? It reads one qdisc
// dump (the kernel dumps the namespace's), and one class and one filter
// dump per interface and IFB. What another tool removed or changed is set
// up again from the last applied state. repaired names what was broken;
// empty when all was well.
func (s *Shaper) Verify() (repaired string, err error) {
	if len(s.links) == 0 || s.last == nil {
		return "", nil
	}
	c, err := dial(s.netns)
	if err != nil {
		return "", fmt.Errorf("bandwidth limits: %w", err)
	}
	defer c.close()
	qs, err := c.allQdiscs()
	if err != nil {
		return "", nil // no finding: the next tick looks again
	}
	var broken []string
	for _, name := range slices.Sorted(maps.Keys(s.links)) {
		l := s.links[name]
		if why := s.check(c, l, qs); why != "" {
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

// check inspects one interface, given the namespace's qdiscs; on finding
// damage it resets the link's record so that apply sets the damaged part
// up again. A dump that fails is no finding: the next tick looks again.
func (s *Shaper) check(c *conn, l *link, all map[int][]qdisc) string {
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
	qs := all[l.index]
	var why []string
	if l.egress {
		if r, ok := root(qs); !isOurRoot(r, ok) {
			what := "deleted"
			if ok && r.handle != 0 { // handle 0: the kernel's default came back
				what = "replaced by " + r.String()
			}
			why = append(why, "root qdisc "+what)
			l.egress, l.repairRoot = false, true
			l.lostClasses()
		} else if w := s.checkClasses(c, l.index, qs, l.out, "egress"); w != "" {
			why = append(why, w)
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
			} else if r, ok := root(all[l.ifbIndex]); !isOurRoot(r, ok) {
				problem = "root qdisc of " + l.ifb + " replaced"
			}
		}
		if problem == "" {
			var w []string
			problem, w = s.checkIngress(c, l, all)
			why = append(why, w...)
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

// checkIngress checks the IFB's classes and both u32 trees of an ingress
// part whose qdiscs and IFB are in place. A tree without its skeleton is a
// problem (the ingress part is set up anew); lost port blocks are repaired
// by building the tree again.
func (s *Shaper) checkIngress(c *conn, l *link, all map[int][]qdisc) (problem string, why []string) {
	if w := s.checkClasses(c, l.ifbIndex, all[l.ifbIndex], l.in, "ingress"); w != "" {
		why = append(why, w)
	}
	for _, tr := range []struct {
		t     *tree
		where string
		steer string
	}{
		{l.gate, "the ingress gate", "to " + l.ifb},
		{l.cls, l.ifb + "'s classifier", "into their classes"},
	} {
		d, err := tr.t.check(c)
		switch {
		case err != nil || d.none():
			continue
		case d.skeleton != "":
			return tr.where + ": " + d.skeleton, why
		}
		for _, b := range []struct {
			minors []uint16
			what   string
		}{{d.deleted, "deleted"}, {d.changed, "changed"}} {
			if len(b.minors) > 0 {
				why = append(why, fmt.Sprintf("u32 filters steering %s %s %s", s.itemNames(b.minors), tr.steer, b.what))
			}
		}
		tr.t.valid = false // sync builds a new generation
	}
	return "", why
}

// checkClasses compares the classes of one device, and the queues under
// them (among qs, the device's qdiscs), with those applied (want), from one
// class dump. A class whose parameters are not known (a failed or adopted
// one: the next apply replaces it anyway) is not checked. What is missing
// or changed is marked unknown, so that sync replaces it, queue included.
func (s *Shaper) checkClasses(c *conn, ifindex int, qs []qdisc, want map[uint16]classSpec, dir string) string {
	if len(want) == 0 {
		return ""
	}
	have, err := c.classes(ifindex)
	if err != nil {
		return ""
	}
	// The byte FIFO of the limit applied under each class checked.
	queues := map[uint32]uint32{}
	for _, q := range qs {
		if q.kind == "bfifo" {
			queues[q.parent] = q.limit
		}
	}
	var deleted, changed, requeued []uint16
	rates := map[uint16][3]uint64{} // rate, ceil, ours (bytes/s) of the classes whose rate changed
	for m, cs := range want {
		if cs == (classSpec{}) {
			continue
		}
		h, ok := have[ClassID(m)]
		buffer := netlink.Xmittime(cs.rate, cs.burst)
		switch {
		case !ok:
			deleted = append(deleted, m)
		case h.rate != cs.rate || h.ceil != cs.rate:
			rates[m] = [3]uint64{h.rate, h.ceil, cs.rate}
			changed = append(changed, m)
		case h.buffer != buffer || h.cbuffer != buffer || h.quantum != cs.quantum:
			changed = append(changed, m)
		case queues[ClassID(m)] != cs.queue:
			// Another queue (tc qdisc replace, or a delete that left the
			// kernel's default pfifo) still passes the rate, but one of
			// txqueuelen packets holds seconds at a low rate: uploads then
			// fall short of the limit (see queueTime).
			requeued = append(requeued, m)
		default:
			continue
		}
		want[m] = classSpec{}
	}
	var why []string
	if len(deleted) > 0 {
		slices.Sort(deleted)
		why = append(why, dir+" classes of "+s.itemNames(deleted)+" deleted")
	}
	if len(changed) > 0 {
		slices.Sort(changed)
		how := ""
		for _, m := range changed {
			if r, ok := rates[m]; ok {
				if len(changed) > 1 {
					how = fmt.Sprintf("%x:%x: ", layout.HTBMajor, m)
				}
				how = fmt.Sprintf(" (%srate %s, ceil %s; want %s)", how, units.FormatRate(r[0]*8), units.FormatRate(r[1]*8), units.FormatRate(r[2]*8))
				break
			}
		}
		why = append(why, dir+" classes of "+s.itemNames(changed)+" changed"+how)
	}
	if len(requeued) > 0 {
		slices.Sort(requeued)
		why = append(why, dir+" queues of "+s.itemNames(requeued)+" changed")
	}
	return strings.Join(why, ", ")
}

// maxNamed bounds the items a repair message names.
const maxNamed = 3

// itemNames names the items of class minors for a message: their ports and
// class, the first few of them.
func (s *Shaper) itemNames(minors []uint16) string {
	var names []string
	for _, m := range minors[:min(len(minors), maxNamed)] {
		ports := "?"
		for _, it := range s.last.Items {
			if it.Minor == m {
				ports = it.Ports
				break
			}
		}
		names = append(names, fmt.Sprintf("%s (%x:%x)", ports, layout.HTBMajor, m))
	}
	out := strings.Join(names, ", ")
	if n := len(minors) - maxNamed; n > 0 {
		out += fmt.Sprintf(" and %d more", n)
	}
	return out
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
