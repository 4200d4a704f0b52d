// Package ruleset computes the enforcer's nftables table in full from the
// desired state, as plain data, and diffs two of them. It knows nothing about
// netlink: enforcer/nft compiles and applies what this package describes.
//
// Per-packet work does not grow with the number of items: base chains
// dispatch through verdict maps per direction to a chain per item and
// direction, which holds the item's counter, quota and shaping rules. A
// packet walks as few rules as the table allows: one lookup in the common
// case, a goto into its item's chain, and conntrack only when forwarded
// traffic is counted (bench/RESULTS.md, PacketCost).
package ruleset

import (
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/state"
)

// Hook of a base chain.
type Hook int

const (
	NoHook Hook = iota // regular chain
	HookInput
	HookOutput
	HookForward
)

// Priority of the base chains: just before the usual filter tables, so the
// bytes an operator's firewall drops later still count as the provider
// counts them, and our blocks apply whatever other tables decide.
const Priority = -10

// ObjKind is a stateful object's type.
type ObjKind int

const (
	ObjCounter ObjKind = iota
	ObjQuota
)

// Object is a named counter or quota. Limit is the quota's size. Init* are the
// values the object is created with when it is missing from the kernel (a
// fresh item, a reboot); an existing object keeps its kernel values. They are
// the values of when the fragment was built: a full sync builds afresh.
type Object struct {
	Name        string
	Kind        ObjKind
	Limit       uint64
	InitBytes   uint64
	InitPackets uint64
}

// RuleKind is the vocabulary of rules the table is made of.
type RuleKind int

const (
	// RuleCounter: counter name <Name>
	RuleCounter RuleKind = iota
	// RuleQuotaDrop: quota name <Name> drop (the quota is "over" N bytes)
	RuleQuotaDrop
	// RuleDrop: drop
	RuleDrop
	// RulePriority: meta priority set <Class> (HTB classifies egress by it)
	RulePriority
	// RuleSkipLoopback: loopback traffic leaves the table (return)
	RuleSkipLoopback
	// RuleDispatch: meta l4proto . th dport|sport vmap @<Name> (a port
	// map, Proto ""), or meta l4proto <Proto> th dport|sport vmap @<Name>
	// (a range map), by the chain's hook; in forward, Dir picks the
	// conntrack direction and the port is the original destination port.
	RuleDispatch
	// RuleExemptGoto: meta l4proto <Proto> th dport|sport @exempt goto <Name>
	RuleExemptGoto
	// RuleGoto: goto <Name>
	RuleGoto
	// RuleQuotaGoto: quota name <Name> goto <Chain> (taken once the quota
	// is over; every packet evaluated consumes it either way)
	RuleQuotaGoto
)

// Rule is one rule; comparable, so chains diff with ==.
type Rule struct {
	Kind  RuleKind
	Name  string
	Proto string // "tcp" or "udp"
	Dir   layout.Direction
	Class uint32
	// Via is the hook whose port key a dispatch or exempt rule loads: the
	// local port on input/output, the original destination in forward.
	Via Hook
	// Chain is where a RuleQuotaGoto goes.
	Chain string
}

// Chain is a base chain (Hook set) or a regular chain.
type Chain struct {
	Name  string
	Hook  Hook
	Rules []Rule
}

// Element maps a port range of a dispatch map to the chain it goes to.
// Proto is part of a port map's key.
type Element struct {
	Map   string
	Proto string
	Range portspec.Range
	Chain string
}

// Fragment is everything one item adds to the table. Fragments are the unit
// of diffing: an item whose inputs did not change keeps its fragment, and
// comparing two tables costs nothing for it.
type Fragment struct {
	ID       string
	Objects  []Object
	Chains   []Chain
	Elements []Element
	key      fragmentKey
}

// fragmentKey is what an item's rules depend on. Counter values are not part
// of it: they only seed objects that have to be created.
type fragmentKey struct {
	spec      string
	protocols config.Protocols
	quota     uint64
	billing   config.Billing
	quotaGen  uint32
	blocked   bool
	classOut  uint32
}

// Ruleset is the whole table: a fragment per item, plus the shared part
// (host counters and quota, dispatch and base chains, the exempt set).
type Ruleset struct {
	Items  []*Fragment
	Shared Fragment
	Maps   []string
	Exempt portspec.Spec
	byID   map[string]*Fragment
}

// Objects lists every object of the table.
func (rs *Ruleset) Objects() []Object {
	out := append([]Object(nil), rs.Shared.Objects...)
	for _, f := range rs.Items {
		out = append(out, f.Objects...)
	}
	return out
}

// Chains lists every chain: items' chains first, since the shared chains
// refer to the maps that jump to them.
func (rs *Ruleset) Chains() []Chain {
	var out []Chain
	for _, f := range rs.Items {
		out = append(out, f.Chains...)
	}
	return append(out, rs.Shared.Chains...)
}

// Elements lists every map element.
func (rs *Ruleset) Elements() []Element {
	var out []Element
	for _, f := range rs.Items {
		out = append(out, f.Elements...)
	}
	return out
}

// Item is what the ruleset needs to know about one item.
type Item struct {
	ID        string
	Spec      portspec.Spec
	Protocols config.Protocols
	Quota     uint64 // 0 = none
	Billing   config.Billing
	QuotaGen  uint32
	Blocked   bool   // quota exhausted or expired: drop both directions
	ClassOut  uint32 // egress HTB class (major:minor); 0 = unshaped
	// Counters as last checkpointed (for re-creation) and period base.
	In, Out         state.Counter
	BaseIn, BaseOut state.Counter
}

// Input is the desired state.
type Input struct {
	Items         []Item
	Host          *Item // whole-host counters always exist; quota optional
	CountLoopback bool
	// CountForwarded adds the forward hook's chain, which counts and
	// enforces forwarded traffic by conntrack's original destination port.
	// Any ct expression in the table switches conntrack on for every packet
	// of the namespace, so without it the table has none.
	CountForwarded bool
	Exempt         portspec.Spec
}

var protocols = []struct {
	name string
	bit  config.Protocols
}{{"tcp", config.TCP}, {"udp", config.UDP}}

// quotaRefs returns the quota objects an item needs and which direction
// references which object. Counters always count real bytes once; the mode
// only decides what consumes the quota.
func quotaRefs(it *Item) (objs []Object, ref [2]string) {
	if it.Quota == 0 {
		return nil, ref
	}
	pin := it.In.Sub(it.BaseIn).Bytes
	pout := it.Out.Sub(it.BaseOut).Bytes
	mode := string(it.Billing)
	// The kernel refuses a quota created with more consumed bytes than its
	// limit (EINVAL); a use at or above the limit is a depleted quota.
	quota := func(name string, limit, used uint64) Object {
		return Object{Name: name, Kind: ObjQuota, Limit: limit, InitBytes: min(used, limit)}
	}
	shared := func(limit, used uint64) {
		name := layout.Quota(it.ID, it.QuotaGen, mode, "")
		objs = append(objs, quota(name, limit, used))
		ref = [2]string{name, name}
	}
	switch it.Billing {
	case config.BillingOut:
		name := layout.Quota(it.ID, it.QuotaGen, mode, "")
		objs = append(objs, quota(name, it.Quota, pout))
		ref[layout.Out] = name
	case config.BillingIn:
		name := layout.Quota(it.ID, it.QuotaGen, mode, "")
		objs = append(objs, quota(name, it.Quota, pin))
		ref[layout.In] = name
	case config.BillingMax:
		for _, d := range layout.Directions {
			name := layout.Quota(it.ID, it.QuotaGen, mode, d.String())
			used := pin
			if d == layout.Out {
				used = pout
			}
			objs = append(objs, quota(name, it.Quota, used))
			ref[d] = name
		}
	case config.BillingRelay:
		// (in+out) x 2 >= N  <=>  in+out >= ceil(N/2): one shared quota of
		// N/2 real bytes, rounded up so an odd N blocks exactly at N.
		shared((it.Quota+1)/2, pin+pout)
	default:
		shared(it.Quota, pin+pout)
	}
	return objs, ref
}

// itemChainRules are the rules of an item's chain for one direction.
func itemChainRules(it *Item, d layout.Direction, quota string) []Rule {
	if it.Blocked {
		return []Rule{{Kind: RuleDrop}}
	}
	var rules []Rule
	if quota != "" {
		rules = append(rules, Rule{Kind: RuleQuotaDrop, Name: quota})
	}
	rules = append(rules, Rule{Kind: RuleCounter, Name: layout.Counter(it.ID, d)})
	if d == layout.Out && it.ClassOut != 0 {
		rules = append(rules, Rule{Kind: RulePriority, Class: it.ClassOut})
	}
	return rules
}

func counters(it *Item) []Object {
	return []Object{
		{Name: layout.Counter(it.ID, layout.In), Kind: ObjCounter, InitBytes: it.In.Bytes, InitPackets: it.In.Packets},
		{Name: layout.Counter(it.ID, layout.Out), Kind: ObjCounter, InitBytes: it.Out.Bytes, InitPackets: it.Out.Packets},
	}
}

// With a host quota, dispatch chains hold the vmap lookups; base chains goto
// them after the host-level rules, so exempt ports can skip the host block
// and still count.
const (
	dispatchIn  = "dispatch_in"
	dispatchOut = "dispatch_out"
	dispatchFwd = "dispatch_fwd"
)

func keyOf(it *Item) fragmentKey {
	return fragmentKey{spec: it.Spec.String(), protocols: it.Protocols, quota: it.Quota, billing: it.Billing,
		quotaGen: it.QuotaGen, blocked: it.Blocked, classOut: it.ClassOut}
}

// The map names, held once: every item's elements name their map, and a
// string built per element was 40,000 strings (0.3 MB of the enforcer's
// heap) at 10,000 items.
var (
	portMaps  = [2]string{layout.PortMap(layout.In), layout.PortMap(layout.Out)}
	rangeMaps = func() map[[2]string]string {
		m := map[[2]string]string{}
		for _, p := range protocols {
			for _, d := range layout.Directions {
				m[[2]string{p.name, d.String()}] = layout.RangeMap(p.name, d)
			}
		}
		return m
	}()
)

// dispatchMap is the map r of proto's dispatch in direction d goes in.
func dispatchMap(proto string, d layout.Direction, r portspec.Range) string {
	if int(r.Hi)-int(r.Lo)+1 > layout.MaxExpandedRange {
		return rangeMaps[[2]string{proto, d.String()}]
	}
	return portMaps[d]
}

func itemFragment(it *Item) *Fragment {
	f := &Fragment{ID: it.ID, key: keyOf(it)}
	f.Objects = counters(it)
	qobjs, ref := quotaRefs(it)
	f.Objects = append(f.Objects, qobjs...)
	for _, d := range layout.Directions {
		chain := layout.ItemChain(it.ID, d)
		f.Chains = append(f.Chains, Chain{Name: chain, Rules: itemChainRules(it, d, ref[d])})
		for _, p := range protocols {
			if it.Protocols&p.bit == 0 {
				continue
			}
			for _, r := range it.Spec {
				f.Elements = append(f.Elements, Element{Map: dispatchMap(p.name, d, r), Proto: p.name, Range: r, Chain: chain})
			}
		}
	}
	return f
}

// Build computes the complete table. Fragments of prev (the table applied
// last, may be nil) whose item did not change are reused as they are.
func Build(in Input, prev *Ruleset) *Ruleset {
	rs := &Ruleset{Exempt: in.Exempt, byID: make(map[string]*Fragment, len(in.Items))}
	rs.Maps = append(rs.Maps, portMaps[:]...)
	for _, p := range protocols {
		for _, d := range layout.Directions {
			rs.Maps = append(rs.Maps, layout.RangeMap(p.name, d))
		}
	}
	rs.Items = make([]*Fragment, 0, len(in.Items))
	for i := range in.Items {
		it := &in.Items[i]
		var f *Fragment
		if prev != nil {
			if old, ok := prev.byID[it.ID]; ok && old.key == keyOf(it) {
				f = old
			}
		}
		if f == nil {
			f = itemFragment(it)
		}
		rs.Items = append(rs.Items, f)
		rs.byID[it.ID] = f
	}
	used := map[string]bool{}
	for _, f := range rs.Items {
		for i := range f.Elements {
			used[f.Elements[i].Map] = true
		}
	}
	rs.Shared = sharedFragment(in, used)
	return rs
}

// dispatchRules are the lookups of direction d in a chain of hook via: the
// port map, then each protocol's range map, each only when it has elements
// (used): a lookup in an empty map costs as much as any. A port is in one
// map at most, and its element goes to the item's chain, so the walk ends
// there.
func dispatchRules(via Hook, d layout.Direction, used map[string]bool) []Rule {
	var rules []Rule
	if used[portMaps[d]] {
		rules = append(rules, Rule{Kind: RuleDispatch, Dir: d, Via: via, Name: portMaps[d]})
	}
	for _, p := range protocols {
		if m := rangeMaps[[2]string{p.name, d.String()}]; used[m] {
			rules = append(rules, Rule{Kind: RuleDispatch, Proto: p.name, Dir: d, Via: via, Name: m})
		}
	}
	return rules
}

// sharedFragment is the host-level part and the dispatch; used names the
// maps that have elements.
func sharedFragment(in Input, used map[string]bool) Fragment {
	var sh Fragment

	host := in.Host
	if host == nil {
		host = &Item{ID: layout.HostID}
	}
	sh.Objects = append(sh.Objects, counters(host)...)
	hobjs, href := quotaRefs(host)
	sh.Objects = append(sh.Objects, hobjs...)

	// base is a hook's chain, with its over chain and dispatch chain when
	// there is a host quota. Dispatch: local traffic by the local port;
	// forwarded (DNAT) traffic by the port the client connected to, from
	// conntrack's original tuple.
	base := func(name string, hook Hook, d layout.Direction, dispatch string, countBoth bool) []Chain {
		lookups := dispatchRules(hook, d, used)
		if countBoth {
			lookups = append(lookups, dispatchRules(hook, layout.Out, used)...)
		}
		var rules []Rule
		if !in.CountLoopback && hook != HookForward {
			rules = append(rules, Rule{Kind: RuleSkipLoopback, Dir: d})
		}
		// A forwarded packet crosses the uplink twice, as the provider sees it.
		if countBoth {
			rules = append(rules, Rule{Kind: RuleCounter, Name: layout.Counter(layout.HostID, layout.In)},
				Rule{Kind: RuleCounter, Name: layout.Counter(layout.HostID, layout.Out)})
		} else {
			rules = append(rules, Rule{Kind: RuleCounter, Name: layout.Counter(layout.HostID, d)})
		}
		// Every packet consumes the host quota, exempt ones too (the
		// provider counts them); once it is over, or the host is blocked,
		// packets go to the over chain, where only exempt ports pass.
		over := "over_" + name
		var quotas []Rule
		dirs := []layout.Direction{d}
		if countBoth {
			dirs = layout.Directions[:]
		}
		// A forwarded packet consumes the quota once per direction it is
		// counted in, so "sum" is charged twice by referencing it twice.
		for _, qd := range dirs {
			if href[qd] != "" {
				quotas = append(quotas, Rule{Kind: RuleQuotaGoto, Name: href[qd], Chain: over})
			}
		}
		switch {
		case host.Blocked:
			rules = append(rules, Rule{Kind: RuleGoto, Name: over})
		case len(quotas) > 0:
			rules = append(append(rules, quotas...), Rule{Kind: RuleGoto, Name: dispatch})
		default:
			// No host quota: no over chain, so no dispatch chain for it
			// to share; the lookups are in the hook's chain, which saves
			// every packet a goto (bench/RESULTS.md, PacketCost).
			return []Chain{{Name: name, Hook: hook, Rules: append(rules, lookups...)}}
		}
		var orules []Rule
		if len(in.Exempt) > 0 {
			// In forward both conntrack directions of an exempt port's
			// connections pass (the key is the original destination port).
			for _, p := range protocols {
				for _, ed := range dirs {
					orules = append(orules, Rule{Kind: RuleExemptGoto, Proto: p.name, Dir: ed, Via: hook, Name: dispatch})
				}
			}
		}
		return []Chain{{Name: dispatch, Rules: lookups}, {Name: name, Hook: hook, Rules: rules},
			{Name: over, Rules: append(orules, Rule{Kind: RuleDrop})}}
	}
	sh.Chains = append(sh.Chains, base("input", HookInput, layout.In, dispatchIn, false)...)
	sh.Chains = append(sh.Chains, base("output", HookOutput, layout.Out, dispatchOut, false)...)
	if in.CountForwarded {
		sh.Chains = append(sh.Chains, base("forward", HookForward, layout.In, dispatchFwd, true)...)
	}
	return sh
}
