// Package portspec parses the ports spec that identifies an item: a single port
// ("443"), a range ("5000-5100") or a group of both ("443,5000-5100").
package portspec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Range is an inclusive port range; a single port has Lo == Hi.
type Range struct{ Lo, Hi uint16 }

func (r Range) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(int(r.Lo))
	}
	return fmt.Sprintf("%d-%d", r.Lo, r.Hi)
}

// Overlaps reports whether r and o share at least one port.
func (r Range) Overlaps(o Range) bool { return r.Lo <= o.Hi && o.Lo <= r.Hi }

// Spec is the set of ports of one item: ranges sorted by Lo, never overlapping.
type Spec []Range

// Parse reads a ports spec. Members are separated by commas; spaces around
// members are ignored. Members must not overlap: a group lists each port once.
func Parse(s string) (Spec, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty ports spec")
	}
	var spec Spec
	for _, member := range strings.Split(s, ",") {
		member = strings.TrimSpace(member)
		if member == "" {
			return nil, fmt.Errorf("ports spec %q has an empty member", s)
		}
		r, err := parseRange(member)
		if err != nil {
			return nil, err
		}
		spec = append(spec, r)
	}
	slices.SortFunc(spec, func(a, b Range) int { return int(a.Lo) - int(b.Lo) })
	for i := 1; i < len(spec); i++ {
		if spec[i-1].Overlaps(spec[i]) {
			return nil, fmt.Errorf("ports spec %q lists %s and %s, which overlap", s, spec[i-1], spec[i])
		}
	}
	return spec, nil
}

func parseRange(m string) (Range, error) {
	lo, hi, isRange := strings.Cut(m, "-")
	l, err := parsePort(lo)
	if err != nil {
		return Range{}, err
	}
	if !isRange {
		return Range{l, l}, nil
	}
	h, err := parsePort(hi)
	if err != nil {
		return Range{}, err
	}
	if h < l {
		return Range{}, fmt.Errorf("range %q is reversed (write %d-%d)", m, h, l)
	}
	return Range{l, h}, nil
}

func parsePort(s string) (uint16, error) {
	s = strings.TrimSpace(s)
	n, err := strconv.Atoi(s)
	if err != nil || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("port %d is outside 1-65535", n)
	}
	return uint16(n), nil
}

// String is the canonical form: members sorted, no spaces.
func (s Spec) String() string {
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// Overlap returns a port range the two specs share, if any.
func (s Spec) Overlap(o Spec) (Range, bool) {
	i, j := 0, 0
	for i < len(s) && j < len(o) {
		a, b := s[i], o[j]
		if a.Overlaps(b) {
			return Range{max(a.Lo, b.Lo), min(a.Hi, b.Hi)}, true
		}
		if a.Hi < b.Hi {
			i++
		} else {
			j++
		}
	}
	return Range{}, false
}

// Contains reports whether port p belongs to the spec.
func (s Spec) Contains(p uint16) bool {
	for _, r := range s {
		if r.Lo <= p && p <= r.Hi {
			return true
		}
	}
	return false
}

// Size is the number of ports in the spec.
func (s Spec) Size() int {
	n := 0
	for _, r := range s {
		n += int(r.Hi) - int(r.Lo) + 1
	}
	return n
}

// Prefix is a value/mask pair matching a block of 2^k aligned ports, the form a
// tc u32 key needs.
type Prefix struct{ Value, Mask uint16 }

// Prefixes decomposes the range into the fewest aligned power-of-two blocks
// (at most 30 for any range), so a classifier that can only match value/mask
// pairs covers exactly the range.
func (r Range) Prefixes() []Prefix {
	var out []Prefix
	lo, hi := uint32(r.Lo), uint32(r.Hi)
	for lo <= hi {
		size := uint32(1)
		// Grow the block while it stays aligned at lo and inside the range.
		for lo&(size*2-1) == 0 && lo+size*2-1 <= hi && size < 1<<16 {
			size *= 2
		}
		out = append(out, Prefix{Value: uint16(lo), Mask: uint16(^(size - 1))})
		lo += size
	}
	return out
}
