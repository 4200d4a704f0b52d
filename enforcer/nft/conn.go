// Package nft applies a ruleset.Ruleset to the kernel over netlink and reads
// the table's counters and quotas back. Every change is one atomic nftables
// transaction: packets see the old table or the new one, never a mix, and a
// failed transaction changes nothing.
package nft

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"port-traffic-dog/enforcer/ruleset"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/portspec"
)

// Conn talks to one network namespace's nftables.
type Conn struct {
	netns int // 0: the caller's namespace
	table *nftables.Table
	own   *ownPorts
}

// Open returns a Conn for the namespace of fd netns (0 for the current one).
func Open(netns int) *Conn {
	return &Conn{netns: netns, table: &nftables.Table{Name: layout.Table, Family: nftables.TableFamilyINet}, own: &ownPorts{}}
}

func (c *Conn) reader() (*nftables.Conn, error) {
	return nftables.New(nftables.WithNetNSFd(c.netns))
}

// txn is one transaction being built.
type txn struct {
	w    *nftables.Conn
	t    *batchTransport
	sets map[string]*nftables.Set
	n    int // messages, for error context
}

func (c *Conn) begin() (*txn, error) {
	t := &batchTransport{netns: c.netns, own: c.own}
	w, err := nftables.New(nftables.WithTestDial(t.dial))
	if err != nil {
		return nil, err
	}
	w.AddTable(c.table)
	return &txn{w: w, t: t, sets: map[string]*nftables.Set{}, n: 1}, nil
}

func (x *txn) commit(what string) error {
	if err := x.w.Flush(); err != nil {
		if x.t.lastErr != nil {
			err = x.t.lastErr
		}
		return fmt.Errorf("%s (%d messages, nothing applied): %w", what, x.n, err)
	}
	return nil
}

// ErrNoTable is returned by reads when the table does not exist.
var ErrNoTable = errors.New("nftables table " + layout.Table + " does not exist")

// notFound: the kernel has no such table or object. google/nftables reports
// some lookups' ENOENT only as text.
func notFound(err error) bool {
	return errors.Is(err, unix.ENOENT) || strings.Contains(err.Error(), "no such file")
}

// kernelNames lists what the table holds now.
type kernelNames struct {
	chains  map[string]bool
	sets    map[string]bool
	objects map[string]nftables.ObjType
}

func (c *Conn) names() (*kernelNames, error) {
	r, err := c.reader()
	if err != nil {
		return nil, err
	}
	if _, err := r.ListTableOfFamily(layout.Table, nftables.TableFamilyINet); err != nil {
		if notFound(err) {
			return nil, ErrNoTable
		}
		return nil, fmt.Errorf("list table: %w", err)
	}
	k := &kernelNames{chains: map[string]bool{}, sets: map[string]bool{}, objects: map[string]nftables.ObjType{}}
	chains, err := r.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("list chains: %w", err)
	}
	for _, ch := range chains {
		if ch.Table.Name == layout.Table {
			k.chains[ch.Name] = true
		}
	}
	sets, err := r.GetSets(c.table)
	if err != nil {
		return nil, fmt.Errorf("list sets: %w", err)
	}
	for _, s := range sets {
		k.sets[s.Name] = true
	}
	objs, err := r.GetObjects(c.table)
	if err != nil {
		return nil, fmt.Errorf("list objects: %w", err)
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *nftables.CounterObj:
			k.objects[o.Name] = nftables.ObjTypeCounter
		case *nftables.QuotaObj:
			k.objects[o.Name] = nftables.ObjTypeQuota
		}
	}
	return k, nil
}

// Sync makes the kernel table equal to rs in one transaction, whatever it
// holds now: missing objects are created with their Init values, existing
// counters and quotas keep their kernel values (quota limits are updated),
// every chain and map is refilled, and what rs does not have is deleted. It
// is how the enforcer starts, and how it repairs a table another tool
// changed.
func (c *Conn) Sync(rs *ruleset.Ruleset) error {
	k, err := c.names()
	if errors.Is(err, ErrNoTable) {
		k, err = &kernelNames{chains: map[string]bool{}, sets: map[string]bool{}, objects: map[string]nftables.ObjType{}}, nil
	}
	if err != nil {
		return err
	}
	x, err := c.begin()
	if err != nil {
		return err
	}
	// Empty everything first: that drops every reference to chains and
	// objects that are about to be deleted or re-filled.
	for name := range k.sets {
		x.w.FlushSet(&nftables.Set{Table: c.table, Name: name})
		x.n++
	}
	for name := range k.chains {
		x.w.FlushChain(&nftables.Chain{Table: c.table, Name: name})
		x.n++
	}
	want := map[string]bool{}
	for _, o := range rs.Objects() {
		want[o.Name] = true
		if typ, ok := k.objects[o.Name]; ok && typ == nftables.ObjTypeCounter && o.Kind == ruleset.ObjCounter {
			continue // adding an existing counter is a no-op: save the message
		}
		x.addObject(c.table, o)
	}
	chains, err := x.fill(c.table, rs, k)
	if err != nil {
		return err
	}
	wantChain := map[string]bool{}
	for _, ch := range chains {
		wantChain[ch.Name] = true
	}
	for name := range k.chains {
		if !wantChain[name] {
			x.w.DelChain(&nftables.Chain{Table: c.table, Name: name})
			x.n++
		}
	}
	for name, typ := range k.objects {
		if !want[name] {
			x.delObject(c.table, name, typ)
		}
	}
	wantSet := map[string]bool{layout.ExemptSet: true}
	for _, m := range rs.Maps {
		wantSet[m] = true
	}
	for name := range k.sets {
		if !wantSet[name] {
			x.w.DelSet(&nftables.Set{Table: c.table, Name: name})
			x.n++
		}
	}
	return x.commit("sync nftables table " + layout.Table)
}

// fill declares rs's sets and chains (those k lacks; k nil: all) and adds
// every rule and element. It returns the chains.
func (x *txn) fill(t *nftables.Table, rs *ruleset.Ruleset, k *kernelNames) ([]ruleset.Chain, error) {
	var haveSets, haveChains map[string]bool
	if k != nil {
		haveSets, haveChains = k.sets, k.chains
	}
	if err := x.declareSets(t, rs, haveSets); err != nil {
		return nil, err
	}
	chains := rs.Chains()
	for _, ch := range chains {
		if !haveChains[ch.Name] {
			x.addChain(t, ch)
		}
	}
	for _, ch := range chains {
		if err := x.addRules(t, ch); err != nil {
			return nil, err
		}
	}
	if err := x.elements(rs.Elements(), true); err != nil {
		return nil, err
	}
	return chains, x.exemptElements(rs.Exempt)
}

// Apply changes the kernel table by d, computed against the ruleset the
// kernel holds (rs is the target, for set definitions).
func (c *Conn) Apply(d *ruleset.Diff, rs *ruleset.Ruleset) error {
	if d.Empty() {
		return nil
	}
	x, err := c.begin()
	if err != nil {
		return err
	}
	for _, m := range rs.Maps {
		x.sets[m] = mapSet(c.table, m)
	}
	x.sets[layout.ExemptSet] = exemptSet(c.table)
	for _, o := range d.AddObjects {
		x.addObject(c.table, o)
	}
	for _, o := range d.UpdateObjects {
		x.addObject(c.table, o)
	}
	for _, ch := range d.AddChains {
		x.addChain(c.table, ch)
	}
	for _, ch := range d.AddChains {
		if err := x.addRules(c.table, ch); err != nil {
			return err
		}
	}
	for _, ch := range d.ReplaceChains {
		x.w.FlushChain(&nftables.Chain{Table: c.table, Name: ch.Name})
		x.n++
		if err := x.addRules(c.table, ch); err != nil {
			return err
		}
	}
	if err := x.elements(d.DelElements, false); err != nil {
		return err
	}
	if err := x.elements(d.AddElements, true); err != nil {
		return err
	}
	if d.ExemptChanged {
		x.w.FlushSet(x.sets[layout.ExemptSet])
		x.n++
		if err := x.exemptElements(rs.Exempt); err != nil {
			return err
		}
	}
	// Every deleted chain is emptied before any is deleted: one may go to
	// another (the forward chain to its dispatch chain), and a chain still
	// referred to cannot be deleted (EBUSY).
	for _, name := range d.DelChains {
		x.w.FlushChain(&nftables.Chain{Table: c.table, Name: name})
		x.n++
	}
	for _, name := range d.DelChains {
		x.w.DelChain(&nftables.Chain{Table: c.table, Name: name})
		x.n++
	}
	for _, o := range d.DelObjects {
		typ := nftables.ObjTypeCounter
		if o.Kind == ruleset.ObjQuota {
			typ = nftables.ObjTypeQuota
		}
		x.delObject(c.table, o.Name, typ)
	}
	return x.commit("apply nftables changes")
}

func (x *txn) addObject(t *nftables.Table, o ruleset.Object) {
	switch o.Kind {
	case ruleset.ObjCounter:
		x.w.AddObj(&nftables.CounterObj{Table: t, Name: o.Name, Bytes: o.InitBytes, Packets: o.InitPackets})
	case ruleset.ObjQuota:
		x.w.AddObj(&nftables.QuotaObj{Table: t, Name: o.Name, Bytes: o.Limit, Consumed: o.InitBytes, Over: true})
	}
	x.n++
}

func (x *txn) delObject(t *nftables.Table, name string, typ nftables.ObjType) {
	if typ == nftables.ObjTypeQuota {
		x.w.DeleteObject(&nftables.QuotaObj{Table: t, Name: name})
	} else {
		x.w.DeleteObject(&nftables.CounterObj{Table: t, Name: name})
	}
	x.n++
}

var (
	hookNum = map[ruleset.Hook]*nftables.ChainHook{
		ruleset.HookInput:   nftables.ChainHookInput,
		ruleset.HookOutput:  nftables.ChainHookOutput,
		ruleset.HookForward: nftables.ChainHookForward,
	}
	priority = nftables.ChainPriority(ruleset.Priority)
	accept   = nftables.ChainPolicyAccept
)

func (x *txn) addChain(t *nftables.Table, ch ruleset.Chain) {
	c := &nftables.Chain{Table: t, Name: ch.Name}
	if ch.Hook != ruleset.NoHook {
		c.Type = nftables.ChainTypeFilter
		c.Hooknum = hookNum[ch.Hook]
		c.Priority = &priority
		c.Policy = &accept
	}
	x.w.AddChain(c)
	x.n++
}

func (x *txn) addRules(t *nftables.Table, ch ruleset.Chain) error {
	c := &nftables.Chain{Table: t, Name: ch.Name}
	for _, r := range ch.Rules {
		exprs, err := compile(r, ch.Hook, x.sets)
		if err != nil {
			return fmt.Errorf("chain %s: %w", ch.Name, err)
		}
		x.w.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: exprs})
		x.n++
	}
	return nil
}

// portMapType is a port map's key type: protocol . port.
var portMapType = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)

func mapSet(t *nftables.Table, name string) *nftables.Set {
	if layout.IsRangeMap(name) {
		return &nftables.Set{Table: t, Name: name, KeyType: nftables.TypeInetService, DataType: nftables.TypeVerdict,
			IsMap: true, Interval: true}
	}
	return &nftables.Set{Table: t, Name: name, KeyType: portMapType, DataType: nftables.TypeVerdict, IsMap: true}
}

func exemptSet(t *nftables.Table) *nftables.Set {
	return &nftables.Set{Table: t, Name: layout.ExemptSet, KeyType: nftables.TypeInetService, Interval: true}
}

// declareSets declares the maps and the exempt set, creating the missing ones.
func (x *txn) declareSets(t *nftables.Table, rs *ruleset.Ruleset, existing map[string]bool) error {
	all := []*nftables.Set{exemptSet(t)}
	for _, m := range rs.Maps {
		all = append(all, mapSet(t, m))
	}
	for _, s := range all {
		if !existing[s.Name] {
			if err := x.w.AddSet(s, nil); err != nil {
				return fmt.Errorf("set %s: %w", s.Name, err)
			}
			x.n++
		}
		x.sets[s.Name] = s
	}
	return nil
}

// elementBytes bounds a chunk of elements: a netlink attribute holds at
// most 64 KiB (this leaves room for the message's other attributes).
const elementBytes = 60 << 10

// elementsThatFit is how many of els, from the first, one message holds:
// at least one, and never an interval's start without its end.
func elementsThatFit(els []nftables.SetElement) int {
	size := 0
	for i, e := range els {
		// The element's nest, key and flags, and a verdict naming a
		// chain: ~40 bytes of attributes besides the name.
		sz := 40
		if e.VerdictData != nil {
			sz += len(e.VerdictData.Chain) + 4
		}
		if size+sz > elementBytes && i > 0 && !e.IntervalEnd {
			return i
		}
		size += sz
	}
	return len(els)
}

// elements adds or deletes map elements, grouped per map.
func (x *txn) elements(els []ruleset.Element, add bool) error {
	// Sized up front: 40,000 elements of a cold start appended one by one
	// left ~50 MB of outgrown arrays behind.
	sizes := map[string]int{}
	var order []string
	for _, e := range els {
		if _, ok := sizes[e.Map]; !ok {
			order = append(order, e.Map)
		}
		if layout.IsRangeMap(e.Map) {
			sizes[e.Map] += 2
		} else {
			sizes[e.Map] += int(e.Range.Hi) - int(e.Range.Lo) + 1
		}
	}
	byMap := make(map[string][]nftables.SetElement, len(order))
	for _, name := range order {
		byMap[name] = make([]nftables.SetElement, 0, sizes[name])
	}
	for _, e := range els {
		// goto: the walk ends in the item's chain, nothing to return to.
		v := &expr.Verdict{Kind: expr.VerdictGoto, Chain: e.Chain}
		if layout.IsRangeMap(e.Map) {
			byMap[e.Map] = append(byMap[e.Map], intervalElements(e.Range, v)...)
			continue
		}
		for p := int(e.Range.Lo); p <= int(e.Range.Hi); p++ {
			byMap[e.Map] = append(byMap[e.Map], nftables.SetElement{Key: portMapElement(e.Proto, uint16(p)), VerdictData: v})
		}
	}
	for _, name := range order {
		s, ok := x.sets[name]
		if !ok {
			return fmt.Errorf("element of unknown map %q", name)
		}
		all := byMap[name]
		for len(all) > 0 {
			n := elementsThatFit(all)
			var err error
			if add {
				err = x.w.SetAddElements(s, all[:n])
			} else {
				err = x.w.SetDeleteElements(s, all[:n])
			}
			if err != nil {
				return fmt.Errorf("map %s: %w", name, err)
			}
			x.n++
			all = all[n:]
		}
	}
	return nil
}

func (x *txn) exemptElements(spec portspec.Spec) error {
	var els []nftables.SetElement
	for _, r := range spec {
		els = append(els, intervalElements(r, nil)...)
	}
	if len(els) == 0 {
		return nil
	}
	x.n++
	if err := x.w.SetAddElements(x.sets[layout.ExemptSet], els); err != nil {
		return fmt.Errorf("set %s: %w", layout.ExemptSet, err)
	}
	return nil
}

// Delete removes the table and everything in it.
func (c *Conn) Delete() error {
	if _, err := c.names(); errors.Is(err, ErrNoTable) {
		return nil
	}
	x, err := c.begin()
	if err != nil {
		return err
	}
	x.w.DelTable(c.table)
	return x.commit("delete nftables table " + layout.Table)
}
