package portspec

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, canon string
		size      int
	}{
		{"443", "443", 1},
		{"5000-5100", "5000-5100", 101},
		{"443,5000-5100", "443,5000-5100", 102},
		{" 5000-5100 , 443 ", "443,5000-5100", 102},
		{"1-65535", "1-65535", 65535},
		{"80,81", "80,81", 2},
		{"7-7", "7", 1},
	} {
		s, err := Parse(tc.in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.in, err)
		}
		if s.String() != tc.canon || s.Size() != tc.size {
			t.Errorf("Parse(%q) = %q size %d, want %q size %d", tc.in, s, s.Size(), tc.canon, tc.size)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]string{
		"":            "empty",
		"0":           "outside 1-65535",
		"65536":       "outside 1-65535",
		"-1":          "not a port",
		"100-50":      "reversed",
		"80,,81":      "empty member",
		"80,80":       "overlap",
		"80-90,85":    "overlap",
		"http":        "not a port",
		"+80":         "not a port",
		"80-":         "not a port",
		"1-2-3":       "not a port",
		"443;5000":    "not a port",
		"99999999999": "outside",
	} {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) error = %v, want it to mention %q", in, err, want)
		}
	}
}

func TestOverlap(t *testing.T) {
	a, _ := Parse("443,5000-5100")
	b, _ := Parse("80,5100-5200")
	c, _ := Parse("5101-5200")
	if r, ok := a.Overlap(b); !ok || r != (Range{5100, 5100}) {
		t.Errorf("overlap = %v %v, want 5100", r, ok)
	}
	if r, ok := a.Overlap(c); ok {
		t.Errorf("unexpected overlap %v", r)
	}
	if !a.Contains(5050) || a.Contains(5101) || !a.Contains(443) {
		t.Error("Contains is wrong")
	}
}

// TestPrefixesExact checks every range shape against brute force: the prefixes
// must match exactly the ports of the range, each exactly once.
func TestPrefixesExact(t *testing.T) {
	ranges := []Range{{1, 65535}, {443, 443}, {5000, 5100}, {1024, 2047}, {65535, 65535}, {1, 1}, {32768, 65535}, {3, 12}}
	for _, r := range ranges {
		ps := r.Prefixes()
		if len(ps) > 30 {
			t.Errorf("%v: %d prefixes", r, len(ps))
		}
		for p := 1; p <= 65535; p++ {
			n := 0
			for _, pf := range ps {
				if uint16(p)&pf.Mask == pf.Value {
					n++
				}
			}
			in := uint16(p) >= r.Lo && uint16(p) <= r.Hi
			if (in && n != 1) || (!in && n != 0) {
				t.Fatalf("%v: port %d matched %d prefixes", r, p, n)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"443", "5000-5100", "443,5000-5100", "1-65535", "0", "a-b", ",", "65535-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(spec.String())
		if err != nil || again.String() != spec.String() {
			t.Fatalf("canonical form %q of %q does not round-trip: %v", spec, s, err)
		}
		for i, r := range spec {
			if r.Lo == 0 || r.Lo > r.Hi || (i > 0 && spec[i-1].Hi >= r.Lo) {
				t.Fatalf("invalid spec %v from %q", spec, s)
			}
		}
	})
}
