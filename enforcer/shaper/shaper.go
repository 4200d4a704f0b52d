// Package shaper is the enforcer's tc side: per-item bandwidth limits in
// both directions on the interfaces it shapes, built from what small VPS
// kernels have (HTB, ingress, u32, mirred, IFB; no fw classifier, flower or
// police action).
//
// Egress: an HTB root (handle 7d0:, default 0) on each shaped interface.
// The item's nftables out chain sets skb->priority to 7d0:<minor>, and HTB
// takes the class whose id equals the priority, so ranges, groups and IPv6
// need no tc filter. Unlimited traffic has no class: default 0 sends it down
// HTB's direct path at line rate.
//
// Ingress: tc ingress runs before netfilter, so nothing there can mark. A u32
// "gate" on the interface's ingress qdisc redirects (mirred) only the
// packets of limited items to an IFB device, whose HTB root has the same
// classes and a second u32 tree that classifies them; all other traffic
// stays on the normal path. See u32.go for the trees.
//
// Every change is a replace: a class changes its rate in place, a tree swaps
// generations with one replace per protocol; nothing is deleted and re-added
// while it limits. An egress class the limits drop stays until Prune, which
// the enforcer calls once no out chain gives its priority any more.
// Removing the last limit of an interface gives the interface its previous
// root qdisc back and deletes the IFB.
package shaper

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/state"
)

// rootHandle is the handle of every HTB the shaper installs (7d0:).
var rootHandle = netlink.MakeHandle(layout.HTBMajor, 0)

// ClassID is the class (and the skb->priority that selects it) of a minor.
func ClassID(minor uint16) uint32 { return netlink.MakeHandle(layout.HTBMajor, minor) }

const ingressHandle = 0xffff0000 // ffff:, the ingress qdisc and its filters' parent

// Shaper applies a Desired state in one network namespace. It is not safe
// for concurrent use; the enforcer calls it under its lock.
type Shaper struct {
	netns int
	log   *slog.Logger
	kinds kinds
	links map[string]*link
	// saved is what a previous run recorded, until the first Apply adopts it.
	saved   *state.Shaper
	started bool
	last    *Desired
}

// kinds are the kernel names of what the shaper creates; tests replace them
// with names the kernel does not know to see how a kernel without them is
// handled.
type kinds struct{ htb, ifb string }

// link is one shaped interface as applied.
type link struct {
	name  string
	index int

	egress     bool
	prevRoot   *state.Qdisc
	repairRoot bool // the HTB was removed by someone else: put it back, keep prevRoot
	out        map[uint16]classSpec
	// retired are egress classes the plan dropped, kept until Prune: the
	// nftables out chains give their packets those classes' priorities
	// until the enforcer's next table commit, and a packet whose class is
	// gone takes HTB's direct path, unshaped.
	retired map[uint16]bool

	ifb            string
	ifbIndex       int
	createdIngress bool
	gate, cls      *tree
	in             map[uint16]classSpec
}

// New returns a shaper for the namespace of fd netns (0: the process's own).
func New(netns int, log *slog.Logger) *Shaper {
	if log == nil {
		log = slog.Default()
	}
	return &Shaper{netns: netns, log: log, kinds: kinds{htb: "htb", ifb: "ifb"}, links: map[string]*link{}}
}

// Restore hands the shaper what a previous run recorded (the state file),
// so the first Apply can take over that run's qdiscs and restore the
// original root qdiscs later.
func (s *Shaper) Restore(saved *state.Shaper) {
	if !s.started {
		s.saved = saved
	}
}

// State is what to record in the state file.
func (s *Shaper) State() *state.Shaper {
	if !s.started {
		return s.saved
	}
	if len(s.links) == 0 {
		return nil
	}
	out := &state.Shaper{}
	for _, name := range slices.Sorted(maps.Keys(s.links)) {
		l := s.links[name]
		out.Links = append(out.Links, state.ShapedLink{Name: l.name, Egress: l.egress, IFB: l.ifb,
			CreatedIngress: l.createdIngress, PrevRoot: l.prevRoot})
	}
	return out
}

// Egress reports whether the egress class of minor is in place on the
// shaped interfaces, i.e. whether the item's packets should be given its
// priority.
func (s *Shaper) Egress(minor uint16) bool {
	for _, l := range s.links {
		if _, ok := l.out[minor]; ok && l.egress {
			return true
		}
	}
	return false
}

// Minors lists the class minors applied now, so new items are given others
// (a class is deleted only after the apply that drops its item, an egress
// class only at the Prune after that).
func (s *Shaper) Minors() map[uint16]bool {
	m := map[uint16]bool{}
	for _, l := range s.links {
		for k := range l.out {
			m[k] = true
		}
		for k := range l.retired {
			m[k] = true
		}
		for k := range l.in {
			m[k] = true
		}
	}
	return m
}

// Apply makes the kernel match d. Bad input (a missing interface, a rate
// above the link speed) and a kernel without HTB, IFB, ingress, u32 or
// mirred change nothing; a failure later on (the kernel refusing one class)
// leaves what was applied in place and recorded, and the next Apply retries.
func (s *Shaper) Apply(d Desired) error {
	c, err := dial(s.netns)
	if err != nil {
		return fmt.Errorf("bandwidth limits: %w", err)
	}
	defer c.close()
	p, err := makePlan(c, s.netns, d)
	if err != nil {
		return err
	}
	if !s.started {
		if err := s.adopt(c, p); err != nil {
			return err
		}
		s.started, s.saved = true, nil
	}
	if err := s.apply(c, p); err != nil {
		return err
	}
	cp := d
	cp.Items = slices.Clone(d.Items)
	s.last = &cp
	return nil
}

// Check reports whether d could apply here (its interfaces exist, its
// rates fit their links), changing nothing: an import's dry run asks it of
// the archive's limits, made for another host.
func (s *Shaper) Check(d Desired) error {
	c, err := dial(s.netns)
	if err != nil {
		return fmt.Errorf("bandwidth limits: %w", err)
	}
	defer c.close()
	_, err = makePlan(c, s.netns, d)
	return err
}

func (s *Shaper) apply(c *conn, p *plan) error {
	var errs []error
	// Set-up first: everything that needs a kernel feature, for every
	// interface, or nothing (interfaces no longer shaped are let go only
	// once the new ones are in place).
	var undo []func()
	fresh := map[string]*link{}
	rollback := func(err error) error {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		for name, l := range fresh {
			if s.links[name] == l {
				delete(s.links, name)
			}
		}
		return errors.Join(append(errs, err)...)
	}
	for _, li := range p.links {
		l := s.links[li.name]
		if l == nil || l.index != li.index {
			// New, or the interface was re-created: its qdiscs went with it.
			l = &link{name: li.name, index: li.index, out: map[uint16]classSpec{}, in: map[uint16]classSpec{}}
			if old := s.links[li.name]; old != nil && old.ifb != "" {
				_ = c.h.LinkDel(&netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: old.ifb}})
			}
			fresh[li.name] = l
			s.links[li.name] = l
		}
		if len(p.out) > 0 && !l.egress {
			u, err := s.setupEgress(c, l)
			if err != nil {
				return rollback(err)
			}
			undo = append(undo, u)
		}
		if len(p.in) > 0 && l.ifb == "" {
			u, err := s.setupIngress(c, l)
			if u != nil {
				undo = append(undo, u)
			}
			if err != nil {
				return rollback(err)
			}
		}
	}

	want := map[string]bool{}
	for _, li := range p.links {
		want[li.name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(s.links)) {
		if !want[name] {
			errs = append(errs, s.teardown(c, s.links[name]))
			delete(s.links, name)
		}
	}
	for _, li := range p.links {
		if err := s.sync(c, s.links[li.name], p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", li.name, err))
		}
	}
	return errors.Join(errs...)
}

// sync brings one set-up interface's classes and trees to the plan.
func (s *Shaper) sync(c *conn, l *link, p *plan) error {
	for _, m := range slices.Sorted(maps.Keys(p.out)) {
		if cs := p.out[m]; l.out[m] != cs || !l.egress {
			if err := s.class(c, l.index, m, cs); err != nil {
				// Maybe half set (the rate taken, the queue not): unknown,
				// so the next sync replaces it whatever it asks.
				l.out[m] = classSpec{}
				return err
			}
			l.out[m] = cs
			delete(l.retired, m)
		}
	}
	if l.ifb != "" {
		for _, m := range slices.Sorted(maps.Keys(p.in)) {
			if cs := p.in[m]; l.in[m] != cs {
				if err := s.class(c, l.ifbIndex, m, cs); err != nil {
					l.in[m] = classSpec{} // maybe half set, as above
					return fmt.Errorf("%s: %w", l.ifb, err)
				}
				l.in[m] = cs
			}
		}
		// Classifier first: the gate must never send a packet the IFB
		// cannot place (it would pass unshaped, never be lost).
		for _, t := range []*tree{l.cls, l.gate} {
			if !t.valid || !slices.Equal(t.built, p.entries) {
				if err := t.build(c, p.entries); err != nil {
					return err
				}
			}
		}
	}
	if len(p.in) == 0 && l.ifb != "" {
		if err := s.teardownIngress(c, l); err != nil {
			return err
		}
	}
	for _, m := range slices.Sorted(maps.Keys(l.in)) {
		if _, ok := p.in[m]; !ok {
			if err := delClass(c, l.ifbIndex, m); err != nil {
				return fmt.Errorf("%s: %w", l.ifb, err)
			}
			delete(l.in, m)
		}
	}
	if len(p.out) == 0 && l.egress {
		return s.teardownEgress(c, l)
	}
	for m := range l.out {
		if _, ok := p.out[m]; !ok {
			if l.retired == nil {
				l.retired = map[uint16]bool{}
			}
			l.retired[m] = true
			delete(l.out, m)
		}
	}
	return nil
}

// Prune deletes the egress classes that applies dropped. The enforcer
// calls it once its nftables table no longer gives any packet their
// priorities: an item whose ports change is a new item with a new class,
// and its packets keep the old class's limit until the table switches them
// to the new one (make before break).
func (s *Shaper) Prune() error {
	n := 0
	for _, l := range s.links {
		n += len(l.retired)
	}
	if n == 0 {
		return nil
	}
	c, err := dial(s.netns)
	if err != nil {
		return fmt.Errorf("bandwidth limits: %w", err)
	}
	defer c.close()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(s.links)) {
		l := s.links[name]
		for _, m := range slices.Sorted(maps.Keys(l.retired)) {
			if err := delClass(c, l.index, m); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", l.name, err))
				continue
			}
			delete(l.retired, m)
		}
	}
	return errors.Join(errs...)
}

func (s *Shaper) class(c *conn, ifindex int, minor uint16, cs classSpec) error {
	cl := &netlink.HtbClass{
		ClassAttrs: netlink.ClassAttrs{LinkIndex: ifindex, Handle: ClassID(minor), Parent: rootHandle},
		Rate:       cs.rate, Ceil: cs.rate,
		Buffer:  netlink.Xmittime(cs.rate, cs.burst),
		Cbuffer: netlink.Xmittime(cs.rate, cs.burst),
		Quantum: cs.quantum,
	}
	if err := c.h.ClassReplace(cl); err != nil {
		return fmt.Errorf("set HTB class %x:%x to %d bytes/s (burst %d bytes): %w", layout.HTBMajor, minor, cs.rate, cs.burst, err)
	}
	// The class's queue: a byte FIFO (handle chosen by the kernel; a second
	// replace at the class changes its limit in place).
	limit := make([]byte, 4)
	binary.NativeEndian.PutUint32(limit, cs.queue)
	if err := c.createQdisc(ifindex, ClassID(minor), state.Qdisc{Kind: "bfifo", Options: limit}); err != nil {
		return fmt.Errorf("set the queue of HTB class %x:%x to %d bytes: %w", layout.HTBMajor, minor, cs.queue, err)
	}
	return nil
}

func delClass(c *conn, ifindex int, minor uint16) error {
	err := c.h.ClassDel(&netlink.HtbClass{ClassAttrs: netlink.ClassAttrs{LinkIndex: ifindex, Handle: ClassID(minor), Parent: rootHandle}})
	if err != nil && !notFound(err) {
		return fmt.Errorf("delete HTB class %x:%x: %w", layout.HTBMajor, minor, err)
	}
	return nil
}

func (s *Shaper) htb(ifindex int) netlink.Qdisc {
	attrs := netlink.QdiscAttrs{LinkIndex: ifindex, Handle: rootHandle, Parent: netlink.HANDLE_ROOT}
	if s.kinds.htb != "htb" {
		return &netlink.GenericQdisc{QdiscAttrs: attrs, QdiscType: s.kinds.htb}
	}
	// Defcls 0: unclassified packets take HTB's direct path, unshaped.
	return &netlink.Htb{QdiscAttrs: attrs, Version: 3, Rate2Quantum: 10, Defcls: 0}
}

func (s *Shaper) noHTB(dev string, err error) error {
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("%s: the kernel has no %q qdisc (CONFIG_NET_SCH_HTB): bandwidth limits cannot be applied; counting and quotas are not affected: %w", dev, s.kinds.htb, err)
	}
	return fmt.Errorf("%s: install the HTB root qdisc: %w", dev, err)
}

// lostClasses forgets the egress classes: the HTB root that held them is
// gone or new.
func (l *link) lostClasses() {
	clear(l.out)
	clear(l.retired)
}

func isOurRoot(q qdisc, ok bool) bool { return ok && q.kind == "htb" && q.handle == rootHandle }

// setupEgress makes the shaper's HTB the interface's root qdisc, recording
// the root it replaces. It refuses to replace an operator's classful setup
// (a root with configured children or filters): that is another shaper.
func (s *Shaper) setupEgress(c *conn, l *link) (undo func(), err error) {
	qs, err := c.qdiscs(l.index)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.name, err)
	}
	r, ok := root(qs)
	if isOurRoot(r, ok) {
		l.egress, l.repairRoot = true, false
		return func() {}, nil
	}
	prev := l.prevRoot
	if !l.repairRoot {
		prev = nil
		if ok && r.handle != 0 {
			if err := foreignTree(c, l, qs, r); err != nil {
				return nil, err
			}
			prev = &state.Qdisc{Kind: r.kind, Handle: r.handle, Options: r.options}
		}
	}
	if err := c.h.QdiscReplace(s.htb(l.index)); err != nil {
		return nil, s.noHTB(l.name, err)
	}
	l.egress, l.prevRoot, l.repairRoot = true, prev, false
	l.lostClasses()
	return func() {
		if err := s.restoreRoot(c, l); err != nil {
			s.log.Error("rolling back the HTB root failed", "interface", l.name, "err", err)
		}
		l.egress = false
	}, nil
}

// foreignTree refuses a root qdisc that carries someone's classes or
// filters: replacing it would silently drop their shaping.
func foreignTree(c *conn, l *link, qs []qdisc, r qdisc) error {
	for _, q := range qs {
		if q.handle != 0 && q.parent != netlink.HANDLE_ROOT && q.parent != netlink.HANDLE_INGRESS {
			return fmt.Errorf("%s: the root qdisc %s has child qdiscs someone configured (%s); port-traffic-dog will not replace another shaper: remove it (tc qdisc del dev %s root) or leave %s out of `interfaces`",
				l.name, r, q, l.name, l.name)
		}
	}
	fs, err := c.h.FilterList(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: l.index}}, r.handle)
	if err == nil && len(fs) > 0 {
		return fmt.Errorf("%s: the root qdisc %s has tc filters; port-traffic-dog will not replace another shaper: remove it (tc qdisc del dev %s root) or leave %s out of `interfaces`",
			l.name, r, l.name, l.name)
	}
	return nil
}

// restoreRoot replaces the shaper's HTB root with what was there before: the
// recorded qdisc, or the kernel's default, which the kernel attaches by
// itself when the root is deleted.
func (s *Shaper) restoreRoot(c *conn, l *link) error {
	qs, err := c.qdiscs(l.index)
	if err != nil {
		return err
	}
	if r, ok := root(qs); !isOurRoot(r, ok) {
		return nil // someone replaced it already; theirs stays
	}
	if l.prevRoot != nil {
		err := c.createQdisc(l.index, netlink.HANDLE_ROOT, *l.prevRoot)
		if err == nil {
			return nil
		}
		s.log.Warn("could not put the previous root qdisc back; the kernel's default takes its place",
			"interface", l.name, "qdisc", l.prevRoot.Kind, "err", err)
	}
	err = c.h.QdiscDel(&netlink.Htb{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.index, Handle: rootHandle, Parent: netlink.HANDLE_ROOT}})
	if err != nil && !notFound(err) {
		return fmt.Errorf("%s: delete the HTB root: %w", l.name, err)
	}
	return nil
}

func (s *Shaper) teardownEgress(c *conn, l *link) error {
	if err := s.restoreRoot(c, l); err != nil {
		return err
	}
	l.egress, l.prevRoot = false, nil
	l.lostClasses()
	return nil
}

// setupIngress creates the IFB with its HTB and classifier skeleton and the
// gate on the interface's ingress qdisc. undo removes what it created, also
// when it fails half-way.
func (s *Shaper) setupIngress(c *conn, l *link) (undo func(), err error) {
	name := ifbName(l.index)
	var steps []func()
	undo = func() {
		for i := len(steps) - 1; i >= 0; i-- {
			steps[i]()
		}
	}
	// A device of that name is a leftover of a run that did not clean up.
	if old, err := c.h.LinkByName(name); err == nil && old.Type() == "ifb" {
		_ = c.h.LinkDel(old)
	}
	attrs := netlink.LinkAttrs{Name: name, TxQLen: 1000}
	var dev netlink.Link = &netlink.Ifb{LinkAttrs: attrs}
	if s.kinds.ifb != "ifb" {
		dev = &netlink.GenericLink{LinkAttrs: attrs, LinkType: s.kinds.ifb}
	}
	if err := c.h.LinkAdd(dev); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOENT) {
			return undo, fmt.Errorf("%s: the kernel has no %q devices (CONFIG_IFB): limits on incoming traffic (rate_in) cannot be applied; counting and quotas are not affected: %w", l.name, s.kinds.ifb, err)
		}
		return undo, fmt.Errorf("%s: create the IFB device %s: %w", l.name, name, err)
	}
	steps = append(steps, func() { _ = c.h.LinkDel(&netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: name}}) })
	ifb, err := c.h.LinkByName(name)
	if err != nil {
		return undo, fmt.Errorf("%s: %w", name, err)
	}
	if err := c.h.LinkSetAlias(ifb, IFBAliasPrefix+l.name); err != nil {
		return undo, fmt.Errorf("%s: set alias: %w", name, err)
	}
	if err := c.h.LinkSetUp(ifb); err != nil {
		return undo, fmt.Errorf("%s: set up: %w", name, err)
	}
	if err := c.h.QdiscReplace(s.htb(ifb.Attrs().Index)); err != nil {
		return undo, s.noHTB(name, err)
	}
	cls := newTree(ifb.Attrs().Index, rootHandle, false, 0)
	if err := cls.skeleton(c, skeletonParts{}); err != nil {
		return undo, u32Missing(name, err)
	}

	qs, err := c.qdiscs(l.index)
	if err != nil {
		return undo, fmt.Errorf("%s: %w", l.name, err)
	}
	created := false
	parent := uint32(ingressHandle)
	if iq, ok := ingressQdisc(qs); ok {
		if iq.kind == "clsact" {
			parent = netlink.HANDLE_MIN_INGRESS
		}
	} else {
		err := c.h.QdiscAdd(&netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.index, Parent: netlink.HANDLE_INGRESS, Handle: ingressHandle}})
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				return undo, fmt.Errorf("%s: the kernel has no ingress qdisc (CONFIG_NET_SCH_INGRESS): limits on incoming traffic (rate_in) cannot be applied: %w", l.name, err)
			}
			return undo, fmt.Errorf("%s: add the ingress qdisc: %w", l.name, err)
		}
		created = true
	}
	gate := newTree(l.index, parent, true, ifb.Attrs().Index)
	steps = append(steps, func() {
		if created {
			_ = c.h.QdiscDel(&netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.index, Parent: netlink.HANDLE_INGRESS, Handle: ingressHandle}})
		} else {
			_ = gate.remove(c)
		}
	})
	if err := gate.skeleton(c, skeletonParts{}); err != nil {
		return undo, u32Missing(l.name, err)
	}
	// An ingress qdisc the shaper added before (and repairs now) stays its.
	l.ifb, l.ifbIndex, l.createdIngress, l.gate, l.cls = name, ifb.Attrs().Index, l.createdIngress || created, gate, cls
	clear(l.in)
	steps = append(steps, func() { l.ifb, l.gate, l.cls = "", nil, nil })
	return undo, nil
}

func u32Missing(dev string, err error) error {
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("%s: the kernel lacks the u32 classifier or the mirred action (CONFIG_NET_CLS_U32, CONFIG_NET_ACT_MIRRED): limits on incoming traffic (rate_in) cannot be applied: %w", dev, err)
	}
	return fmt.Errorf("%s: %w", dev, err)
}

// teardownIngress removes the gate (the ingress qdisc too when the shaper
// added it and nobody else uses it) and the IFB.
func (s *Shaper) teardownIngress(c *conn, l *link) error {
	var errs []error
	if l.gate != nil {
		if l.createdIngress && !foreignFilters(c, l.index, l.gate.parent) {
			err := c.h.QdiscDel(&netlink.Ingress{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: l.index, Parent: netlink.HANDLE_INGRESS, Handle: ingressHandle}})
			if err != nil && !notFound(err) && !errors.Is(err, unix.EINVAL) {
				errs = append(errs, fmt.Errorf("%s: delete the ingress qdisc: %w", l.name, err))
			}
		} else if err := l.gate.remove(c); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.name, err))
		}
	}
	if l.ifb != "" {
		err := c.h.LinkDel(&netlink.Ifb{LinkAttrs: netlink.LinkAttrs{Name: l.ifb}})
		if err != nil && !notFound(err) {
			errs = append(errs, fmt.Errorf("delete %s: %w", l.ifb, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	l.ifb, l.ifbIndex, l.createdIngress, l.gate, l.cls = "", 0, false, nil, nil
	clear(l.in)
	return nil
}

// foreignFilters reports filters of others at the parent.
func foreignFilters(c *conn, ifindex int, parent uint32) bool {
	fs, err := c.h.FilterList(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: ifindex}}, parent)
	if err != nil {
		return true // unknown: keep the qdisc
	}
	for _, f := range fs {
		if p := f.Attrs().Priority; p != prioV4 && p != prioV6 {
			return true
		}
	}
	return false
}

func (s *Shaper) teardown(c *conn, l *link) error {
	return errors.Join(s.teardownIngress(c, l), s.teardownEgress(c, l))
}

// adopt takes over what a previous run left in the kernel, on the
// interfaces of the plan and those the state file names.
func (s *Shaper) adopt(c *conn, p *plan) error {
	names := map[string]bool{}
	for _, l := range p.links {
		names[l.name] = true
	}
	if s.saved != nil {
		for _, l := range s.saved.Links {
			names[l.Name] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		dev, err := c.h.LinkByName(name)
		if err != nil {
			continue // gone, and its qdiscs with it
		}
		l := &link{name: name, index: dev.Attrs().Index, out: map[uint16]classSpec{}, in: map[uint16]classSpec{}}
		saved, _ := s.saved.Link(name)
		qs, err := c.qdiscs(l.index)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if r, ok := root(qs); isOurRoot(r, ok) {
			l.egress, l.prevRoot = true, saved.PrevRoot
			if err := adoptClasses(c, l.index, l.out); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		if ifb, err := c.h.LinkByName(ifbName(l.index)); err == nil && ifb.Type() == "ifb" {
			iqs, err := c.qdiscs(ifb.Attrs().Index)
			iq, hasIngress := ingressQdisc(qs)
			if r, ok := root(iqs); err == nil && isOurRoot(r, ok) && hasIngress {
				parent := uint32(ingressHandle)
				if iq.kind == "clsact" {
					parent = netlink.HANDLE_MIN_INGRESS
				}
				l.ifb, l.ifbIndex, l.createdIngress = ifb.Attrs().Name, ifb.Attrs().Index, saved.CreatedIngress
				l.cls = newTree(l.ifbIndex, rootHandle, false, 0)
				l.gate = newTree(l.index, parent, true, l.ifbIndex)
				for _, t := range []*tree{l.cls, l.gate} {
					have, err := t.adopt(c)
					if err != nil {
						return fmt.Errorf("%s: %w", name, err)
					}
					if err := t.skeleton(c, have); err != nil {
						return fmt.Errorf("%s: %w", name, err)
					}
				}
				if err := adoptClasses(c, l.ifbIndex, l.in); err != nil {
					return fmt.Errorf("%s: %w", l.ifb, err)
				}
			} else {
				_ = c.h.LinkDel(ifb) // half a setup: start that part over
			}
		}
		if l.egress || l.ifb != "" {
			s.links[name] = l
		}
	}
	return nil
}

// adoptClasses records the classes of a previous run with unknown
// parameters, so the first sync replaces (never deletes and re-adds) the
// ones it keeps and deletes the others.
func adoptClasses(c *conn, ifindex int, into map[uint16]classSpec) error {
	cls, err := c.h.ClassList(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: ifindex}}, rootHandle)
	if err != nil {
		return fmt.Errorf("list classes: %w", err)
	}
	for _, cl := range cls {
		if maj, min := netlink.MajorMinor(cl.Attrs().Handle); maj == layout.HTBMajor && min != 0 {
			into[min] = classSpec{}
		}
	}
	return nil
}
