package shaper

import (
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"port-traffic-dog/internal/layout"
)

// The ingress classification is a u32 filter tree on a qdisc, built twice
// per shaped interface: the gate on the interface's ingress qdisc (a match
// redirects the packet to the IFB) and the classifier on the IFB's HTB (a
// match is the item's class). Both are the same shape:
//
//	root table of the IPv4 filter (prio 0x7d04, protocol ip):
//	   proto tcp, not a fragment → eat the IP header (IHL) → T[tcp]
//	   proto udp, not a fragment → eat the IP header (IHL) → T[udp]
//	root table of the IPv6 filter (prio 0x7d06, protocol ipv6):
//	   next header tcp → eat 40 bytes → T[tcp];  udp → T[udp]
//	T[proto] (1 bucket): one node, hashing the destination port's high
//	   byte into H1[gen][proto]; replacing its link swaps generations
//	H1 (256 buckets, by port high byte):
//	   blocks of ≥ 256 ports (one node in each bucket they cover),
//	   blocks of 16–128 ports (one node),
//	   last: a node hashing the low byte into H2[gen][proto][high byte]
//	H2 (256 buckets, by port low byte): blocks of 1–8 ports
//
// From the transport header on, offsets are relative to it, so IPv4 and
// IPv6 share the tables. A port belongs to one item only, so a packet visits
// at most one block of 256 ports or more, 16 blocks of 16–128 ports and one
// small block: per-packet work is bounded (at most 25 key compares) whatever
// the number of limited items. A change of
// the limited ports builds the next generation beside the current one and
// swaps it in with one replace per protocol, so there is no moment in which
// a limited port is unclassified.
//
// Table ids stay below 0x800, where the kernel numbers the filters' own
// root tables.
const (
	prioV4 = 0x7d04
	prioV6 = 0x7d06

	htR = 0x012 // the gate's redirect table: one node, the mirred action
)

var (
	htT    = [2]uint32{0x010, 0x011}
	protos = [2]uint8{protoTCP, protoUDP}
)

func htH1(gen, p int) uint32           { return 0x100 + uint32(2*gen+p)*0x101 }
func htH2(gen, p int, hi uint8) uint32 { return htH1(gen, p) + 1 + uint32(hi) }

// genOf returns the generation and protocol index of an H1 or H2 table id.
func genOf(ht uint32) (gen, p int, ok bool) {
	for g := 0; g < 2; g++ {
		for p := 0; p < 2; p++ {
			if b := htH1(g, p); ht >= b && ht <= b+256 {
				return g, p, true
			}
		}
	}
	return 0, 0, false
}

func handle(ht uint32, bucket uint8, node uint32) uint32 { return ht<<20 | uint32(bucket)<<12 | node }

const hashLinkNode = 0xfff // last in its bucket: nodes are kept sorted by id

// busyTimeout bounds the wait for the kernel to release a replaced node's
// table (one RCU grace period and a work item, normally milliseconds).
const busyTimeout = 5 * time.Second

// tree is one u32 tree as applied.
type tree struct {
	ifindex int
	parent  uint32
	gate    bool // gate: matches link to the redirect table; else: matches are classes
	ifb     int  // the gate's redirect target
	gen     int  // linked generation; -1: none yet
	// tables lists the H1/H2 tables that exist, by generation.
	tables [2]map[uint32]bool
	// built is the entries of the linked generation (nil: unknown, rebuild),
	// nodes its nodes, as check expects them.
	built []entry
	nodes []u32Node
	valid bool
}

func newTree(ifindex int, parent uint32, gate bool, ifb int) *tree {
	return &tree{ifindex: ifindex, parent: parent, gate: gate, ifb: ifb, gen: -1,
		tables: [2]map[uint32]bool{{}, {}}}
}

func (t *tree) attrs(prio uint16, proto uint16, h uint32) netlink.FilterAttrs {
	return netlink.FilterAttrs{LinkIndex: t.ifindex, Parent: t.parent, Priority: prio, Protocol: proto, Handle: h}
}

// table creates a hash table (divisor 1 or 256) under the IPv4 filter. A
// skeleton table may exist already; a generation's tables must be new.
func (t *tree) table(c *conn, ht uint32, divisor uint32, mayExist bool) error {
	err := c.h.FilterAdd(&netlink.U32{FilterAttrs: t.attrs(prioV4, unix.ETH_P_IP, ht<<20), Divisor: divisor})
	if err != nil && !(mayExist && exists(err)) {
		return fmt.Errorf("create u32 table %x: %w", ht, err)
	}
	return nil
}

func always() []netlink.TcU32Key { return []netlink.TcU32Key{{}} }

// portKey matches the destination port block: the transport header's first
// word is source port << 16 | destination port.
func portKey(e entry) []netlink.TcU32Key {
	return []netlink.TcU32Key{{Mask: uint32(e.mask), Val: uint32(e.value & e.mask)}}
}

// node adds a node matching e to a bucket, with the tree's leaf for e.
func (t *tree) node(c *conn, ht uint32, bucket uint8, id uint32, e entry) error {
	u := &netlink.U32{
		FilterAttrs: t.attrs(prioV4, unix.ETH_P_IP, handle(ht, bucket, id)),
		Hash:        handle(ht, bucket, 0),
		Sel:         &netlink.TcU32Sel{Keys: portKey(e)},
	}
	if t.gate {
		u.Link = htR << 20
	} else {
		u.ClassId = netlink.MakeHandle(layout.HTBMajor, e.minor)
		u.Sel.Flags = netlink.TC_U32_TERMINAL
	}
	if err := c.h.FilterAdd(u); err != nil {
		return fmt.Errorf("add u32 node %x for port %d/%#x (class minor %d): %w", u.Handle, e.value, e.mask, e.minor, err)
	}
	return nil
}

// hashLink adds the node of an H1 bucket that hashes the low byte into H2.
func (t *tree) hashLink(c *conn, h1 uint32, hi uint8, h2 uint32) error {
	u := &netlink.U32{
		FilterAttrs: t.attrs(prioV4, unix.ETH_P_IP, handle(h1, hi, hashLinkNode)),
		Hash:        handle(h1, hi, 0),
		Link:        h2 << 20,
		Sel:         &netlink.TcU32Sel{Hmask: 0x000000ff, Keys: always()},
	}
	if err := c.h.FilterAdd(u); err != nil {
		return fmt.Errorf("add u32 hash node %x: %w", u.Handle, err)
	}
	return nil
}

// skeleton creates what every generation hangs from: the root nodes, the
// T tables and, for the gate, the redirect table. Parts that exist (an
// adopted tree) are kept.
func (t *tree) skeleton(c *conn, have skeletonParts) error {
	for _, ht := range htT {
		if err := t.table(c, ht, 1, true); err != nil {
			return err
		}
	}
	if t.gate {
		if err := t.table(c, htR, 1, true); err != nil {
			return err
		}
		if err := t.redirect(c); err != nil {
			return err
		}
	}
	for p := range protos {
		if !have.v4[p] {
			u := &netlink.U32{
				FilterAttrs: t.attrs(prioV4, unix.ETH_P_IP, uint32(p+1)),
				Link:        htT[p] << 20,
				Sel: &netlink.TcU32Sel{
					// Eat the IPv4 header: IHL (low nibble of byte 0) * 4.
					Flags:   netlink.TC_U32_OFFSET | netlink.TC_U32_VAROFFSET | netlink.TC_U32_EAT,
					Offmask: 0x0f00, Offshift: 6,
					Keys: []netlink.TcU32Key{
						{Mask: 0x00ff0000, Val: uint32(protos[p]) << 16, Off: 8}, // protocol
						{Mask: 0x00001fff, Val: 0, Off: 4},                       // fragment offset 0: ports present
					},
				},
			}
			if err := c.h.FilterAdd(u); err != nil {
				return fmt.Errorf("add u32 IPv4 root node: %w", err)
			}
		}
		if !have.v6[p] {
			u := &netlink.U32{
				FilterAttrs: t.attrs(prioV6, unix.ETH_P_IPV6, uint32(p+1)),
				Link:        htT[p] << 20,
				Sel: &netlink.TcU32Sel{
					Flags: netlink.TC_U32_OFFSET | netlink.TC_U32_EAT, Off: 40,
					Keys: []netlink.TcU32Key{{Mask: 0x0000ff00, Val: uint32(protos[p]) << 8, Off: 4}}, // next header
				},
			}
			if err := c.h.FilterAdd(u); err != nil {
				return fmt.Errorf("add u32 IPv6 root node: %w", err)
			}
		}
	}
	return nil
}

// redirect (re)writes the gate's redirect node: mirred to the IFB.
func (t *tree) redirect(c *conn) error {
	u := &netlink.U32{
		FilterAttrs: t.attrs(prioV4, unix.ETH_P_IP, handle(htR, 0, 1)),
		Hash:        handle(htR, 0, 0),
		Sel:         &netlink.TcU32Sel{Flags: netlink.TC_U32_TERMINAL, Keys: always()},
		Actions:     []netlink.Action{netlink.NewMirredAction(t.ifb)},
	}
	if err := c.h.FilterReplace(u); err != nil {
		return fmt.Errorf("add u32 redirect node (mirred to ifindex %d): %w", t.ifb, err)
	}
	return nil
}

type skeletonParts struct{ v4, v6 [2]bool }

// adopt reads an existing tree (a restarted enforcer): which parts of the
// skeleton exist, which generation is linked and which tables exist.
func (t *tree) adopt(c *conn) (skeletonParts, error) {
	var have skeletonParts
	fs, err := c.h.FilterList(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: t.ifindex}}, t.parent)
	if err != nil {
		return have, fmt.Errorf("list filters: %w", err)
	}
	t.gen = -1
	t.tables = [2]map[uint32]bool{{}, {}}
	for _, f := range fs {
		u, ok := f.(*netlink.U32)
		if !ok || (u.Priority != prioV4 && u.Priority != prioV6) {
			continue
		}
		// Tables themselves are not in the library's dump; their nodes are.
		// (An H1 without nodes is deleted by name in dropGen.)
		ht, node := u.Handle>>20, u.Handle&0xfff
		if g, _, ok := genOf(ht); ok {
			t.tables[g][ht] = true
		}
		for p := range protos {
			if ht == htT[p] && node == 1 {
				if g, _, ok := genOf(u.Link >> 20); ok {
					t.gen = g
				}
			}
			if u.Link>>20 == htT[p] && node != 0 {
				switch u.Priority {
				case prioV4:
					have.v4[p] = true
				case prioV6:
					have.v6[p] = true
				}
			}
		}
	}
	t.built, t.nodes, t.valid = nil, nil, false
	return have, nil
}

// u32Node is one node of a generation: a match node for a port block, or
// (link set) the node of an H1 bucket that hashes the low byte into its H2
// table.
type u32Node struct {
	ht     uint32
	bucket uint8
	id     uint32
	e      entry  // a match node's port block
	link   uint32 // a hash node's H2 table; 0 for a match node
}

func (n u32Node) handle() uint32 { return handle(n.ht, n.bucket, n.id) }

// genLayout places entries in generation g: its tables (all of 256 buckets),
// then its nodes, each H2 table's before the hash node that leads to it.
// build creates it; Verify compares the kernel's tree with it.
func genLayout(g int, entries []entry) (tables []uint32, nodes []u32Node) {
	for p, proto := range protos {
		h1 := htH1(g, p)
		tables = append(tables, h1)
		inH1 := map[uint8][]entry{}
		inH2 := map[uint8]map[uint8][]entry{}
		for _, e := range entries {
			if e.proto != proto {
				continue
			}
			hi, lo := uint8(e.value>>8), uint8(e.value)
			switch j := bits.TrailingZeros16(e.mask); {
			case j >= 8:
				for k := 0; k < 1<<(j-8); k++ {
					inH1[hi+uint8(k)] = append(inH1[hi+uint8(k)], e)
				}
			case j >= 4:
				inH1[hi] = append(inH1[hi], e)
			default:
				if inH2[hi] == nil {
					inH2[hi] = map[uint8][]entry{}
				}
				for k := 0; k < 1<<j; k++ {
					inH2[hi][lo+uint8(k)] = append(inH2[hi][lo+uint8(k)], e)
				}
			}
		}
		for _, hi := range slices.Sorted(maps.Keys(inH2)) {
			h2 := htH2(g, p, hi)
			tables = append(tables, h2)
			for _, lo := range slices.Sorted(maps.Keys(inH2[hi])) {
				for i, e := range inH2[hi][lo] {
					nodes = append(nodes, u32Node{ht: h2, bucket: lo, id: uint32(i + 1), e: e})
				}
			}
		}
		for _, hi := range slices.Sorted(maps.Keys(inH1)) {
			for i, e := range inH1[hi] {
				nodes = append(nodes, u32Node{ht: h1, bucket: hi, id: uint32(i + 1), e: e})
			}
		}
		for _, hi := range slices.Sorted(maps.Keys(inH2)) {
			nodes = append(nodes, u32Node{ht: h1, bucket: hi, id: hashLinkNode, link: htH2(g, p, hi)})
		}
	}
	return tables, nodes
}

// treeDamage is what a tree's check found in the kernel.
type treeDamage struct {
	// skeleton names a missing part that every generation hangs from (a
	// root node, the gate's redirect): the tree must be set up anew.
	skeleton string
	// deleted and changed are the class minors whose port blocks are no
	// longer steered as built; a new generation repairs them.
	deleted, changed []uint16
}

func (d treeDamage) none() bool {
	return d.skeleton == "" && len(d.deleted) == 0 && len(d.changed) == 0
}

// check compares the tree with the kernel's, from one filter dump. A tree
// not (or not completely) built is not checked: the next apply builds it.
func (t *tree) check(c *conn) (treeDamage, error) {
	var d treeDamage
	if !t.valid || t.gen < 0 {
		return d, nil
	}
	have := make(map[uint32]u32Filter, len(t.nodes)+8)
	var roots [2][2]bool // [IPv4, IPv6][protocol]
	err := c.u32Filters(t.ifindex, t.parent, func(f u32Filter) {
		v := 0
		switch f.prio {
		case prioV4:
			have[f.handle] = f
		case prioV6:
			v = 1
		default:
			return
		}
		for p := range protos {
			if f.link>>20 == htT[p] && f.handle&0xfff != 0 {
				roots[v][p] = true
			}
		}
	})
	if err != nil {
		return d, err
	}
	for v, ip := range []string{"IPv4", "IPv6"} {
		if !roots[v][0] || !roots[v][1] {
			d.skeleton = ip + " u32 filter deleted"
			return d, nil
		}
	}
	if t.gate {
		if r, ok := have[handle(htR, 0, 1)]; !ok || r.redir != uint32(t.ifb) {
			d.skeleton = "u32 redirect to the IFB deleted or changed"
			return d, nil
		}
	}
	broken := map[uint16]bool{} // minor → deleted (else changed)
	mark := func(minor uint16, deleted bool) {
		if _, seen := broken[minor]; !seen || deleted {
			broken[minor] = deleted
		}
	}
	for p := range protos {
		if f, ok := have[handle(htT[p], 0, 1)]; !ok || f.link != htH1(t.gen, p)<<20 {
			for _, e := range t.built {
				if e.proto == protos[p] {
					mark(e.minor, !ok)
				}
			}
		}
	}
	for _, n := range t.nodes {
		f, ok := have[n.handle()]
		if ok && t.same(f, n) {
			continue
		}
		if n.link == 0 {
			mark(n.e.minor, !ok)
			continue
		}
		for _, m := range t.nodes { // the blocks behind a hash node
			if m.ht == n.link {
				mark(m.e.minor, !ok)
			}
		}
	}
	for _, m := range slices.Sorted(maps.Keys(broken)) {
		if broken[m] {
			d.deleted = append(d.deleted, m)
		} else {
			d.changed = append(d.changed, m)
		}
	}
	return d, nil
}

// same reports whether the kernel's node f is n as build made it.
func (t *tree) same(f u32Filter, n u32Node) bool {
	if n.link != 0 {
		return f.link == n.link<<20
	}
	if f.nkeys != 1 || f.key.Off != 0 || f.key.Mask != uint32(n.e.mask) || f.key.Val != uint32(n.e.value&n.e.mask) {
		return false
	}
	if t.gate {
		return f.link == htR<<20
	}
	return f.classID == ClassID(n.e.minor)
}

// build makes the tree classify entries: the next generation is built
// beside the linked one, swapped in, and the old one deleted.
func (t *tree) build(c *conn, entries []entry) error {
	g := 0
	if t.gen == 0 {
		g = 1
	}
	if err := t.dropGen(c, g); err != nil { // leftovers of an interrupted build
		return err
	}
	tables, nodes := genLayout(g, entries)
	for _, ht := range tables {
		if err := t.table(c, ht, 256, false); err != nil {
			return err
		}
		t.tables[g][ht] = true
	}
	for _, n := range nodes {
		if n.link != 0 {
			if err := t.hashLink(c, n.ht, n.bucket, n.link); err != nil {
				return err
			}
		} else if err := t.node(c, n.ht, n.bucket, n.id, n.e); err != nil {
			return err
		}
	}
	// The swap: one replace per protocol. Packets see the old generation or
	// the new one, both complete.
	for p := range protos {
		u := &netlink.U32{
			FilterAttrs: t.attrs(prioV4, unix.ETH_P_IP, handle(htT[p], 0, 1)),
			Hash:        handle(htT[p], 0, 0),
			Link:        htH1(g, p) << 20,
			Sel:         &netlink.TcU32Sel{Hmask: 0x0000ff00, Keys: always()},
		}
		if err := c.h.FilterReplace(u); err != nil {
			return fmt.Errorf("link u32 table %x: %w", htH1(g, p), err)
		}
	}
	old := t.gen
	t.gen = g
	t.built, t.nodes, t.valid = entries, nodes, true
	if old >= 0 {
		return t.dropGen(c, old)
	}
	return nil
}

// dropGen deletes a generation's tables: H1 first, whose hash nodes hold
// the H2 tables.
//
// A table is busy for a moment after the last node linking to it was
// replaced or deleted: the kernel frees the old node, and drops its
// reference, after an RCU grace period. The delete is retried until then.
func (t *tree) dropGen(c *conn, g int) error {
	var errs []error
	del := func(ht uint32) {
		wait := 500 * time.Microsecond
		deadline := time.Now().Add(busyTimeout)
		for {
			err := c.h.FilterDel(&netlink.U32{FilterAttrs: t.attrs(prioV4, unix.ETH_P_IP, ht<<20)})
			if errors.Is(err, unix.EBUSY) && time.Now().Before(deadline) {
				time.Sleep(wait)
				wait = min(2*wait, 50*time.Millisecond)
				continue
			}
			if err != nil && !notFound(err) {
				errs = append(errs, fmt.Errorf("delete u32 table %x: %w", ht, err))
				return
			}
			delete(t.tables[g], ht)
			return
		}
	}
	for p := range protos {
		del(htH1(g, p))
	}
	for _, ht := range slices.Sorted(maps.Keys(t.tables[g])) {
		del(ht)
	}
	return errors.Join(errs...)
}

// remove deletes the tree's two filters and, with them, every table.
func (t *tree) remove(c *conn) error {
	var errs []error
	for _, f := range []struct {
		prio  uint16
		proto uint16
	}{{prioV6, unix.ETH_P_IPV6}, {prioV4, unix.ETH_P_IP}} {
		err := c.h.FilterDel(&netlink.U32{FilterAttrs: t.attrs(f.prio, f.proto, 0)})
		if err != nil && !notFound(err) && !errors.Is(err, unix.EINVAL) {
			errs = append(errs, fmt.Errorf("delete u32 filter prio %#x: %w", f.prio, err))
		}
	}
	return errors.Join(errs...)
}
