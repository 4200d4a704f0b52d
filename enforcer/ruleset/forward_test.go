package ruleset

import (
	"testing"

	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/portspec"
)

func testItem(t *testing.T, ports string, protos config.Protocols) Item {
	t.Helper()
	spec, err := portspec.Parse(ports)
	if err != nil {
		t.Fatal(err)
	}
	return Item{ID: config.ItemID(spec), Spec: spec, Protocols: protos, Billing: config.BillingSum}
}

func chain(rs *Ruleset, name string) *Chain {
	for _, c := range rs.Shared.Chains {
		if c.Name == name {
			return &c
		}
	}
	return nil
}

// lookups lists the dispatch rules of the shared chains as "chain map".
func lookups(rs *Ruleset) map[string]bool {
	out := map[string]bool{}
	for _, c := range rs.Shared.Chains {
		for _, r := range c.Rules {
			if r.Kind == RuleDispatch {
				out[c.Name+" "+r.Name] = true
			}
		}
	}
	return out
}

// TestSharedChainsWalkOnlyWhatIsNeeded: the forward chain (the table's only
// conntrack user) exists only with CountForwarded; a lookup rule exists only
// for a map with elements; without a host quota the lookups sit in the hook
// chains, with one they sit in dispatch chains the over chains share.
func TestSharedChainsWalkOnlyWhatIsNeeded(t *testing.T) {
	short := testItem(t, "443", config.TCP|config.UDP)
	long := testItem(t, "6000-6999", config.UDP)
	for _, tc := range []struct {
		name  string
		in    Input
		want  []string // "chain map" lookups
		chain map[string]bool
	}{
		{"ports only", Input{Items: []Item{short}},
			[]string{"input in_ports", "output out_ports"},
			map[string]bool{"forward": false, dispatchIn: false, "over_input": false}},
		{"a long UDP range", Input{Items: []Item{short, long}},
			[]string{"input in_ports", "input in_udp_range", "output out_ports", "output out_udp_range"},
			map[string]bool{"forward": false}},
		{"forwarding", Input{Items: []Item{short}, CountForwarded: true},
			[]string{"input in_ports", "output out_ports", "forward in_ports", "forward out_ports"},
			map[string]bool{"forward": true}},
		{"no items", Input{CountForwarded: true}, nil, map[string]bool{"forward": true}},
		{"host quota", Input{Items: []Item{short}, Host: &Item{ID: layout.HostID, Quota: 1 << 30, Billing: config.BillingSum}, Exempt: config.DefaultExempt},
			[]string{dispatchIn + " in_ports", dispatchOut + " out_ports"},
			map[string]bool{"forward": false, "over_input": true, dispatchIn: true}},
	} {
		rs := Build(tc.in, nil)
		got := lookups(rs)
		for _, w := range tc.want {
			if !got[w] {
				t.Errorf("%s: no lookup %q; have %v", tc.name, w, got)
			}
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: lookups %v, want %v", tc.name, got, tc.want)
		}
		for name, want := range tc.chain {
			if (chain(rs, name) != nil) != want {
				t.Errorf("%s: chain %s present %v, want %v", tc.name, name, !want, want)
			}
		}
		for _, c := range rs.Chains() {
			for _, r := range c.Rules {
				if r.Via == HookForward && !tc.in.CountForwarded {
					t.Errorf("%s: chain %s matches conntrack without CountForwarded: %+v", tc.name, c.Name, r)
				}
			}
		}
	}
}

// TestCountForwardedChangesOnlyTheForwardChains: switching forwarded
// counting on and off adds and removes chains; no object or element is
// touched, so no counter is re-created.
func TestCountForwardedChangesOnlyTheForwardChains(t *testing.T) {
	in := Input{Items: []Item{testItem(t, "443", config.TCP|config.UDP)}, Exempt: config.DefaultExempt}
	off := Build(in, nil)
	in.CountForwarded = true
	on := Build(in, off)
	for _, d := range []*Diff{Compare(off, on), Compare(on, off)} {
		if len(d.AddObjects)+len(d.DelObjects)+len(d.UpdateObjects)+len(d.AddElements)+len(d.DelElements) != 0 || d.ExemptChanged {
			t.Errorf("diff touches more than chains: %+v", d)
		}
		if len(d.AddChains)+len(d.DelChains) != 1 || len(d.ReplaceChains) != 0 {
			t.Errorf("diff: add %v, delete %v, replace %v; want the forward chain only", d.AddChains, d.DelChains, d.ReplaceChains)
		}
	}
}
