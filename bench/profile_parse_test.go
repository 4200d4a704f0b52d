package bench

import "testing"

// The profile's share is only as good as its sorting of kernel functions:
// one of netfilter's missed shows the table as cheaper than it is.
func TestNetfilterParts(t *testing.T) {
	for sym, want := range map[string]string{
		"nft_do_chain":            "walk",
		"nft_do_chain_inet":       "walk",
		"nf_hook_slow":            "walk",
		"nft_meta_get_eval":       "walk",
		"nft_rhash_lookup":        "lookup",
		"nft_hash_lookup_fast":    "lookup",
		"nft_set_do_lookup":       "lookup",
		"nft_lookup_eval":         "lookup",
		"jhash":                   "lookup",
		"nft_objref_eval":         "objects",
		"nft_counter_obj_eval":    "objects",
		"nft_quota_obj_eval":      "objects",
		"__nf_conntrack_find_get": "conntrack",
		"ipv4_conntrack_defrag":   "conntrack",
		"nf_ct_get_tuple":         "conntrack",
		"hash_conntrack_raw":      "conntrack",
		"nf_confirm":              "conntrack",
		"__siphash_unaligned":     "conntrack",
		"udp_sendmsg":             "",
		"fib_table_lookup":        "",
		"__htab_map_lookup_elem":  "",
	} {
		if got := netfilterPart(sym); got != want {
			t.Errorf("netfilterPart(%q) = %q, want %q", sym, got, want)
		}
	}
}

func TestCountSamples(t *testing.T) {
	report := []byte(`
           120  [k] nft_do_chain
            30  [k] nft_rhash_lookup
             5  [.] nft_do_chain
           800  [k] udp_sendmsg
            45  [k] nft_quota_obj_eval
             7  [.] 0x000000000000b9ee
# a comment
`)
	samples, parts := countSamples(report)
	if samples != 1007 {
		t.Errorf("samples = %d, want 1007", samples)
	}
	want := map[string]int{"walk": 120, "lookup": 30, "objects": 45}
	if len(parts) != len(want) {
		t.Errorf("parts = %v, want %v", parts, want)
	}
	for k, v := range want {
		if parts[k] != v {
			t.Errorf("parts[%s] = %d, want %d", k, parts[k], v)
		}
	}
}
