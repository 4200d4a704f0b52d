// Package units parses and formats the sizes (bytes) and rates (bits per
// second) operators write in configs and flags, exactly: "1.5GiB" is
// 1610612736 bytes, never a float rounded somewhere.
package units

import (
	"fmt"
	"math"
	"math/big"
	"strings"
)

var byteUnits = map[string]uint64{
	"b":  1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "pb": 1e15,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40, "pib": 1 << 50,
}

// ParseBytes reads a size: a non-negative decimal number and a unit, B,
// KB/MB/GB/TB/PB (powers of 1000) or KiB/MiB/GiB/TiB/PiB (powers of 1024), in
// any letter case. A bare number is bytes. Fractions round down to whole bytes.
func ParseBytes(s string) (uint64, error) {
	num, unit := split(s)
	if num == "" && strings.HasPrefix(strings.TrimSpace(s), "-") {
		return 0, fmt.Errorf("invalid size %q: must not be negative", s)
	}
	if num == "" {
		return 0, fmt.Errorf("invalid size %q: no number", s)
	}
	mult, ok := byteUnits[strings.ToLower(unit)]
	if unit == "" {
		mult, ok = 1, true
	}
	if !ok {
		switch strings.ToLower(unit) {
		case "k", "m", "g", "t", "p":
			return 0, fmt.Errorf("invalid size %q: unit %q is ambiguous, write %sB (powers of 1000) or %siB (powers of 1024)", s, unit, strings.ToUpper(unit), strings.ToUpper(unit))
		}
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", s, unit)
	}
	return scale("size", s, num, mult)
}

// rateUnits are decimal bits per second. tc's spellings (kbit, mbit, gbit)
// are accepted too since many operators come from tc.
var rateUnits = map[string]uint64{
	"bps": 1, "bit": 1,
	"kbps": 1e3, "mbps": 1e6, "gbps": 1e9, "tbps": 1e12,
	"kbit": 1e3, "mbit": 1e6, "gbit": 1e9, "tbit": 1e12,
}

// ParseRate reads a bandwidth in bits per second: "100Mbps", "1.5Gbps",
// "512kbit". Byte rates ("MB/s", "MBps") are refused rather than guessed.
func ParseRate(s string) (uint64, error) {
	num, unit := split(s)
	if num == "" && strings.HasPrefix(strings.TrimSpace(s), "-") {
		return 0, fmt.Errorf("invalid rate %q: must be greater than zero", s)
	}
	if num == "" {
		return 0, fmt.Errorf("invalid rate %q: no number", s)
	}
	if unit == "" {
		return 0, fmt.Errorf("invalid rate %q: missing unit (Kbps, Mbps or Gbps)", s)
	}
	if strings.Contains(unit, "B") || strings.Contains(unit, "/") {
		return 0, fmt.Errorf("invalid rate %q: rates are in bits per second, write Kbps, Mbps or Gbps (1 MB/s = 8 Mbps)", s)
	}
	mult, ok := rateUnits[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("invalid rate %q: unknown unit %q (use Kbps, Mbps or Gbps)", s, unit)
	}
	v, err := scale("rate", s, num, mult)
	if err != nil {
		return 0, err
	}
	if v == 0 {
		return 0, fmt.Errorf("invalid rate %q: must be greater than zero", s)
	}
	return v, nil
}

func split(s string) (num, unit string) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	return s[:i], strings.TrimSpace(s[i:])
}

func scale(kind, orig, num string, mult uint64) (uint64, error) {
	if strings.Count(num, ".") > 1 || strings.HasPrefix(num, ".") || strings.HasSuffix(num, ".") {
		return 0, fmt.Errorf("invalid %s %q: %q is not a number", kind, orig, num)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("invalid %s %q: %q is not a number", kind, orig, num)
	}
	r.Mul(r, new(big.Rat).SetUint64(mult))
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if !q.IsUint64() {
		return 0, fmt.Errorf("invalid %s %q: too large", kind, orig)
	}
	return q.Uint64(), nil
}

// FormatBytes renders a byte count with binary prefixes and three significant
// digits: "1.50 GiB", "512 B".
func FormatBytes(n uint64) string { return format(float64(n), 1024, byteNames()) }

// FormatRate renders bits per second with decimal prefixes: "100 Mbit/s".
func FormatRate(bps uint64) string { return format(float64(bps), 1000, rateNames()) }

func byteNames() []string { return []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"} }
func rateNames() []string { return []string{"bit/s", "Kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"} }

// FormatNames are the units FormatBytes and FormatRate write after a
// number.
func FormatNames() []string { return append(byteNames(), rateNames()...) }

func format(v, base float64, names []string) string {
	i := 0
	for v >= base && i < len(names)-1 {
		v /= base
		i++
	}
	switch {
	case i == 0 || v >= 100 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f %s", v, names[i])
	case v >= 10:
		return fmt.Sprintf("%.1f %s", v, names[i])
	default:
		return fmt.Sprintf("%.2f %s", v, names[i])
	}
}
