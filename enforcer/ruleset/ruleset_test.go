package ruleset

import (
	"slices"
	"strings"
	"testing"

	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/state"
)

// item is a tcp+udp item on spec with no quota, the base the cases edit.
func item(t *testing.T, id, spec string) Item {
	t.Helper()
	s, err := portspec.Parse(spec)
	if err != nil {
		t.Fatal(err)
	}
	return Item{ID: id, Spec: s, Protocols: config.TCP | config.UDP, Billing: config.BillingSum}
}

func chainOf(t *testing.T, chains []Chain, name string) Chain {
	t.Helper()
	i := slices.IndexFunc(chains, func(c Chain) bool { return c.Name == name })
	if i < 0 {
		t.Fatalf("no chain %q in %v", name, chainNames(chains))
	}
	return chains[i]
}

func chainNames(chains []Chain) []string {
	var out []string
	for _, c := range chains {
		out = append(out, c.Name)
	}
	return out
}

// quotaRefsOf is the quota each direction's item chain references ("" for
// none), read from the rules as the kernel would run them.
func quotaRefsOf(t *testing.T, f *Fragment) [2]string {
	t.Helper()
	var ref [2]string
	for _, d := range layout.Directions {
		for _, r := range chainOf(t, f.Chains, layout.ItemChain(f.ID, d)).Rules {
			if r.Kind == RuleQuotaDrop {
				ref[d] = r.Name
			}
		}
	}
	return ref
}

func quotas(objs []Object) map[string]Object {
	out := map[string]Object{}
	for _, o := range objs {
		if o.Kind == ObjQuota {
			out[o.Name] = o
		}
	}
	return out
}

// TestBuildQuotaByBilling: each billing mode decides which direction
// consumes which quota object, of what size, seeded with the period's use.
func TestBuildQuotaByBilling(t *testing.T) {
	const gb = 1_000_000_000
	// Period use: 300 in, 500 out (counters minus the period base).
	used := func(it *Item) {
		it.In, it.BaseIn = state.Counter{Bytes: 1300, Packets: 9}, state.Counter{Bytes: 1000}
		it.Out, it.BaseOut = state.Counter{Bytes: 2500, Packets: 7}, state.Counter{Bytes: 2000}
	}
	type quota struct {
		limit, init uint64
	}
	for _, tc := range []struct {
		billing config.Billing
		limit   uint64
		want    map[string]quota // quota objects by name
		ref     [2]string        // in, out
	}{
		{config.BillingOut, gb, map[string]quota{"p80_q3_out": {gb, 500}}, [2]string{"", "p80_q3_out"}},
		{config.BillingIn, gb, map[string]quota{"p80_q3_in": {gb, 300}}, [2]string{"p80_q3_in", ""}},
		{config.BillingSum, gb, map[string]quota{"p80_q3_sum": {gb, 800}}, [2]string{"p80_q3_sum", "p80_q3_sum"}},
		{config.BillingMax, gb, map[string]quota{"p80_q3_max_in": {gb, 300}, "p80_q3_max_out": {gb, 500}},
			[2]string{"p80_q3_max_in", "p80_q3_max_out"}},
		// (in+out) x 2 >= N: a shared quota of N/2, rounded up for an odd N.
		{config.BillingRelay, gb + 1, map[string]quota{"p80_q3_relay": {gb/2 + 1, 800}}, [2]string{"p80_q3_relay", "p80_q3_relay"}},
		// A use past the limit seeds a depleted quota: the kernel refuses more.
		{config.BillingSum, 600, map[string]quota{"p80_q3_sum": {600, 600}}, [2]string{"p80_q3_sum", "p80_q3_sum"}},
	} {
		t.Run(string(tc.billing), func(t *testing.T) {
			it := item(t, "p80", "80")
			it.Quota, it.Billing, it.QuotaGen = tc.limit, tc.billing, 3
			used(&it)
			rs := Build(Input{Items: []Item{it}}, nil)
			f := rs.Items[0]
			got := quotas(f.Objects)
			if len(got) != len(tc.want) {
				t.Fatalf("quota objects %v, want %v", got, tc.want)
			}
			for name, w := range tc.want {
				if o, ok := got[name]; !ok || o.Limit != w.limit || o.InitBytes != w.init {
					t.Errorf("quota %s = %+v (present %v), want limit %d used %d", name, o, ok, w.limit, w.init)
				}
			}
			if ref := quotaRefsOf(t, f); ref != tc.ref {
				t.Errorf("quota referenced by in/out chains = %q, want %q", ref, tc.ref)
			}
			// Counters always count real bytes, once, seeded with the
			// checkpointed totals (not the period's use).
			for _, o := range f.Objects {
				if o.Kind != ObjCounter {
					continue
				}
				want := it.In
				if o.Name == layout.Counter("p80", layout.Out) {
					want = it.Out
				}
				if o.InitBytes != want.Bytes || o.InitPackets != want.Packets {
					t.Errorf("counter %s seeded %d/%d, want %d/%d", o.Name, o.InitBytes, o.InitPackets, want.Bytes, want.Packets)
				}
			}
		})
	}
}

// TestBuildItemChains: what an item's chains do per packet.
func TestBuildItemChains(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Item)
		want [2][]RuleKind // in, out
	}{
		{"counts", func(*Item) {}, [2][]RuleKind{{RuleCounter}, {RuleCounter}}},
		{"quota before counter", func(it *Item) { it.Quota = 1e9 },
			[2][]RuleKind{{RuleQuotaDrop, RuleCounter}, {RuleQuotaDrop, RuleCounter}}},
		{"shaped egress classified", func(it *Item) { it.ClassOut = 0x10005 },
			[2][]RuleKind{{RuleCounter}, {RuleCounter, RulePriority}}},
		// A blocked item drops in both directions and counts nothing more.
		{"blocked", func(it *Item) { it.Quota, it.ClassOut, it.Blocked = 1e9, 0x10005, true },
			[2][]RuleKind{{RuleDrop}, {RuleDrop}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := item(t, "p80", "80")
			tc.edit(&it)
			f := Build(Input{Items: []Item{it}}, nil).Items[0]
			if len(f.Chains) != 2 {
				t.Fatalf("chains %v, want one per direction", chainNames(f.Chains))
			}
			for _, d := range layout.Directions {
				var kinds []RuleKind
				for _, r := range chainOf(t, f.Chains, layout.ItemChain("p80", d)).Rules {
					kinds = append(kinds, r.Kind)
					if r.Kind == RulePriority && r.Class != it.ClassOut {
						t.Errorf("%s: class %#x, want %#x", d, r.Class, it.ClassOut)
					}
					if r.Kind == RuleCounter && r.Name != layout.Counter("p80", d) {
						t.Errorf("%s chain counts into %s", d, r.Name)
					}
				}
				if !slices.Equal(kinds, tc.want[d]) {
					t.Errorf("%s chain rules %v, want %v", d, kinds, tc.want[d])
				}
			}
		})
	}
}

// TestBuildElements: which dispatch maps an item's ports land in.
func TestBuildElements(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  string
		proto config.Protocols
		want  []string // "map range", sorted
	}{
		{"single port, both protocols", "443", config.TCP | config.UDP,
			[]string{"in_ports tcp 443", "in_ports udp 443", "out_ports tcp 443", "out_ports udp 443"}},
		{"udp only", "53", config.UDP, []string{"in_ports udp 53", "out_ports udp 53"}},
		// Ranges up to MaxExpandedRange ports go in the hash map.
		{"short range in the port map", "5000-5255", config.TCP,
			[]string{"in_ports tcp 5000-5255", "out_ports tcp 5000-5255"}},
		{"long range in the interval map", "5000-5256", config.TCP,
			[]string{"in_tcp_range tcp 5000-5256", "out_tcp_range tcp 5000-5256"}},
		{"group", "443,8000-9000", config.TCP,
			[]string{"in_ports tcp 443", "in_tcp_range tcp 8000-9000", "out_ports tcp 443", "out_tcp_range tcp 8000-9000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := item(t, "g1", tc.spec)
			it.Protocols = tc.proto
			f := Build(Input{Items: []Item{it}}, nil).Items[0]
			var got []string
			for _, e := range f.Elements {
				wantChain := layout.ItemChain("g1", layout.In)
				if strings.HasPrefix(e.Map, "out_") {
					wantChain = layout.ItemChain("g1", layout.Out)
				}
				if e.Chain != wantChain {
					t.Errorf("element %s %s jumps to %s, want %s", e.Map, e.Range, e.Chain, wantChain)
				}
				got = append(got, e.Map+" "+e.Proto+" "+e.Range.String())
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("elements %q, want %q", got, tc.want)
			}
		})
	}
}

// TestBuildReusesFragments: an item whose inputs did not change keeps its
// fragment (so comparing costs a pointer); one that changed is rebuilt.
func TestBuildReusesFragments(t *testing.T) {
	a, b := item(t, "p80", "80"), item(t, "p443", "443")
	prev := Build(Input{Items: []Item{a, b}}, nil)
	// Counter values are no input of the rules.
	a.In = state.Counter{Bytes: 1 << 30, Packets: 1 << 20}
	b.Quota = 1e9
	next := Build(Input{Items: []Item{a, b}}, prev)
	if next.Items[0] != prev.Items[0] {
		t.Error("unchanged item p80 was rebuilt")
	}
	if next.Items[1] == prev.Items[1] {
		t.Error("item p443 given a quota kept its old fragment")
	}
	if want := []string{"p80", "p443"}; !slices.Equal([]string{next.Items[0].ID, next.Items[1].ID}, want) {
		t.Errorf("items out of config order: %s, %s", next.Items[0].ID, next.Items[1].ID)
	}
}

// diffSummary names what a diff does, one "action name" per change, sorted.
func diffSummary(d *Diff) []string {
	var out []string
	add := func(action string, names ...string) {
		for _, n := range names {
			out = append(out, action+" "+n)
		}
	}
	objNames := func(objs []Object) []string {
		var n []string
		for _, o := range objs {
			n = append(n, o.Name)
		}
		return n
	}
	elNames := func(els []Element) []string {
		var n []string
		for _, e := range els {
			n = append(n, e.Map+":"+e.Proto+"."+e.Range.String())
		}
		return n
	}
	add("add-object", objNames(d.AddObjects)...)
	add("update-object", objNames(d.UpdateObjects)...)
	add("del-object", objNames(d.DelObjects)...)
	add("add-chain", chainNames(d.AddChains)...)
	add("replace-chain", chainNames(d.ReplaceChains)...)
	add("del-chain", d.DelChains...)
	add("add-element", elNames(d.AddElements)...)
	add("del-element", elNames(d.DelElements)...)
	if d.ExemptChanged {
		out = append(out, "exempt")
	}
	slices.Sort(out)
	return out
}

// TestCompare: the diff from one desired state to the next touches only
// what changed; counters of untouched items are never re-created.
func TestCompare(t *testing.T) {
	tcp := func(it Item) Item { it.Protocols = config.TCP; return it }
	base := func(t *testing.T) Input {
		return Input{Items: []Item{tcp(item(t, "p80", "80")), tcp(item(t, "p443", "443"))}}
	}
	exempt, err := portspec.Parse("22")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, in *Input)
		want []string
	}{
		{"nothing changed", func(*testing.T, *Input) {}, nil},
		{"only counters moved", func(_ *testing.T, in *Input) {
			in.Items[0].In = state.Counter{Bytes: 5e9, Packets: 4e6}
			in.Items[0].BaseIn = state.Counter{Bytes: 1e9}
		}, nil},
		{"item added", func(t *testing.T, in *Input) { in.Items = append(in.Items, tcp(item(t, "p22", "22"))) }, []string{
			"add-chain item_p22_in", "add-chain item_p22_out",
			"add-element in_ports:tcp.22", "add-element out_ports:tcp.22",
			"add-object p22_in", "add-object p22_out"}},
		{"item removed", func(_ *testing.T, in *Input) { in.Items = in.Items[:1] }, []string{
			"del-chain item_p443_in", "del-chain item_p443_out",
			"del-element in_ports:tcp.443", "del-element out_ports:tcp.443",
			"del-object p443_in", "del-object p443_out"}},
		{"protocol added", func(_ *testing.T, in *Input) { in.Items[0].Protocols |= config.UDP }, []string{
			"add-element in_ports:udp.80", "add-element out_ports:udp.80"}},
		{"quota given", func(_ *testing.T, in *Input) { in.Items[1].Quota = 1e9 }, []string{
			"add-object p443_q0_sum",
			"replace-chain item_p443_in", "replace-chain item_p443_out"}},
		{"blocked", func(_ *testing.T, in *Input) { in.Items[1].Blocked = true }, []string{
			"replace-chain item_p443_in", "replace-chain item_p443_out"}},
		{"exempt ports", func(_ *testing.T, in *Input) { in.Exempt = exempt }, []string{"exempt"}},
		{"host quota", func(_ *testing.T, in *Input) {
			in.Host = &Item{ID: layout.HostID, Quota: 1e12, Billing: config.BillingSum}
		}, []string{
			// The lookups move from the hook chains to dispatch chains
			// behind the quota; no forward chain without count_forwarded.
			"add-chain dispatch_in", "add-chain dispatch_out", "add-chain over_input", "add-chain over_output",
			"add-object host_q0_sum",
			"replace-chain input", "replace-chain output"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := Build(base(t), nil)
			in := base(t)
			tc.edit(t, &in)
			// Built afresh and built on the previous table: the same diff.
			for _, prev := range []*Ruleset{nil, old} {
				d := Compare(old, Build(in, prev))
				if got := diffSummary(d); !slices.Equal(got, tc.want) {
					t.Errorf("prev %v: diff\n  %q\nwant\n  %q", prev != nil, got, tc.want)
				}
				if d.Empty() != (len(tc.want) == 0) {
					t.Errorf("prev %v: Empty() = %v with %q", prev != nil, d.Empty(), tc.want)
				}
			}
		})
	}
}

// TestCompareQuota: a quota's size changes in place, keeping its consumed
// bytes; a new generation (a period reset) or billing mode is a new object.
func TestCompareQuota(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Item)
		want []string
	}{
		{"limit raised", func(it *Item) { it.Quota = 2e9 }, []string{"update-object p80_q1_sum"}},
		{"new period", func(it *Item) { it.QuotaGen = 2 }, []string{
			"add-object p80_q2_sum", "del-object p80_q1_sum",
			"replace-chain item_p80_in", "replace-chain item_p80_out"}},
		{"billing mode", func(it *Item) { it.Billing = config.BillingMax }, []string{
			"add-object p80_q1_max_in", "add-object p80_q1_max_out", "del-object p80_q1_sum",
			"replace-chain item_p80_in", "replace-chain item_p80_out"}},
		{"quota removed", func(it *Item) { it.Quota = 0 }, []string{
			"del-object p80_q1_sum", "replace-chain item_p80_in", "replace-chain item_p80_out"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := item(t, "p80", "80")
			it.Quota, it.QuotaGen = 1e9, 1
			old := Build(Input{Items: []Item{it}}, nil)
			tc.edit(&it)
			if got := diffSummary(Compare(old, Build(Input{Items: []Item{it}}, old))); !slices.Equal(got, tc.want) {
				t.Errorf("diff\n  %q\nwant\n  %q", got, tc.want)
			}
		})
	}
}
