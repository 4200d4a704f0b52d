package bench

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"port-traffic-dog/enforcer/ruleset"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/portspec"
)

// The item mix every benchmark uses, at every size, so sizes compare: of
// every 20 items, 18 are single ports, one is a range of 3 ports and one a
// group of two ports (p and p+2, two map elements jumping to one chain).
// Items are laid out from port 1024 up, 1.2 ports apart on average, so
// 50,000 items fit without overlap in 1024–61023. Every even item has a
// quota (billing sum, too large ever to block), none has a rate limit.
const firstPort = 1024

// scaleSpecs returns the ports of n items.
func scaleSpecs(n int) []portspec.Spec {
	specs := make([]portspec.Spec, 0, n)
	port := firstPort
	for i := 0; i < n; i++ {
		var spec portspec.Spec
		switch i % 20 {
		case 3: // a range of 3
			spec = portspec.Spec{{Lo: uint16(port), Hi: uint16(port + 2)}}
			port += 3
		case 13: // a group of two ports
			spec = portspec.Spec{{Lo: uint16(port), Hi: uint16(port)}, {Lo: uint16(port + 2), Hi: uint16(port + 2)}}
			port += 3
		default:
			spec = portspec.Spec{{Lo: uint16(port), Hi: uint16(port)}}
			port++
		}
		if port > 65536 {
			panic(fmt.Sprintf("%d items do not fit in the port space", n))
		}
		specs = append(specs, spec)
	}
	return specs
}

// quotaBytes is the quota of every even item: never reached.
const quotaBytes = 1 << 50

// scale returns the n items as the ruleset package takes them.
func scale(n int) []ruleset.Item {
	var items []ruleset.Item
	for i, spec := range scaleSpecs(n) {
		it := ruleset.Item{ID: config.ItemID(spec), Spec: spec, Protocols: config.TCP | config.UDP, Billing: config.BillingSum}
		if i%2 == 0 {
			it.Quota = quotaBytes
		}
		items = append(items, it)
	}
	return items
}

// scaleConfig returns the n items as a config file, with remarks; the
// quota of item `changed` (when >= 0) is doubled, which is how the reload
// benchmark changes one item.
func scaleConfig(n, changed int, extra string) string {
	var b strings.Builder
	b.WriteString("timezone: UTC\n" + extra + "ports:\n")
	for i, spec := range scaleSpecs(n) {
		fmt.Fprintf(&b, "  - ports: %q\n    remark: customer-%d\n", spec.String(), i)
		if i%2 == 0 {
			q := uint64(quotaBytes)
			if i == changed {
				q *= 2
			}
			fmt.Fprintf(&b, "    quota: %dB\n", q)
		}
	}
	return b.String()
}

// insidePort is a port of the middle item: a linear chain evaluates half
// its rules before it matches (the average case); the verdict map does the
// same one lookup for any port.
func insidePort(n int) uint16 { return scaleSpecs(n)[n/2][0].Lo }

// portOutside is below every item: a linear chain evaluates all its rules.
const portOutside = 1000

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err == nil && n > 0 {
			return n
		}
	}
	return def
}

// envSizes reads a comma-separated list of item counts.
func envSizes(name string, def []int) []int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// reps is how many times each measurement is repeated (the median is
// reported).
func reps() int { return envInt("DOG_BENCH_REPS", 5) }

// TestScaleFits checks the item mix: no overlap at the largest size, inside
// the port space, and the mix the README describes.
func TestScaleFits(t *testing.T) {
	specs := scaleSpecs(50000)
	last := specs[len(specs)-1]
	if hi := last[len(last)-1].Hi; hi > 61023 || hi < firstPort {
		t.Errorf("last port %d", hi)
	}
	seen := map[uint16]bool{}
	ranges, groups := 0, 0
	for _, s := range specs {
		if len(s) > 1 {
			groups++
		} else if s[0].Lo != s[0].Hi {
			ranges++
		}
		for _, r := range s {
			for p := int(r.Lo); p <= int(r.Hi); p++ {
				if seen[uint16(p)] {
					t.Fatalf("port %d in two items", p)
				}
				seen[uint16(p)] = true
			}
		}
	}
	if ranges != 2500 || groups != 2500 {
		t.Errorf("%d ranges, %d groups", ranges, groups)
	}
	if _, err := config.Parse([]byte(scaleConfig(2000, 7, "")), "bench"); err != nil {
		t.Errorf("the generated config is invalid: %v", err)
	}
}
