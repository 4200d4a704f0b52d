package units

import (
	"strings"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]uint64{
		"0":        0,
		"1024":     1024,
		"1B":       1,
		"500GiB":   500 << 30,
		"500 GiB":  500 << 30,
		"1.5GiB":   3 << 29,
		"1.5gib":   3 << 29,
		"1TB":      1e12,
		"256KB":    256000,
		"10MiB":    10 << 20,
		"0.5KB":    500,
		"1.0001KB": 1000,
		"16EiB":    0, // overflow, checked below
	} {
		got, err := ParseBytes(in)
		if in == "16EiB" {
			if err == nil {
				t.Errorf("ParseBytes(16EiB) accepted")
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"":            "no number",
		"GiB":         "no number",
		"-5GB":        "must not be negative",
		"5XB":         "unknown unit",
		"5G":          "ambiguous",
		"1.2.3":       "not a number",
		"1.":          "not a number",
		".5GB":        "not a number",
		"1e3":         "unknown unit",
		"20000000PiB": "too large",
	} {
		if _, err := ParseBytes(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseBytes(%q) error = %v, want %q", in, err, msg)
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]uint64{
		"100Mbps": 100e6,
		"1.5Gbps": 1.5e9,
		"10 Kbps": 10e3,
		"512kbit": 512e3,
		"20mbit":  20e6,
		"800bps":  800,
		"1mbps":   1e6,
	} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"100":    "missing unit",
		"0Mbps":  "greater than zero",
		"-1Mbps": "must be greater than zero",
		"10MB/s": "bits per second",
		"10MBps": "bits per second",
		"10Mbpz": "unknown unit",
		"fast":   "no number",
	} {
		if _, err := ParseRate(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseRate(%q) error = %v, want %q", in, err, msg)
		}
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 512: "512 B", 1536: "1.50 KiB", 500 << 30: "500 GiB", 12345678: "11.8 MiB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[uint64]string{100e6: "100 Mbit/s", 1.5e9: "1.50 Gbit/s", 999: "999 bit/s"} {
		if got := FormatRate(n); got != want {
			t.Errorf("FormatRate(%d) = %q, want %q", n, got, want)
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"500GiB", "1.5TB", "0", "5G", "1.2.3", "99999999999999999999PiB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseBytes(s); err == nil {
			if FormatBytes(v) == "" {
				t.Fatal("empty format")
			}
		}
	})
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"100Mbps", "1.5Gbps", "0Mbps", "10MB/s", "mbit"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseRate(s); err == nil && v == 0 {
			t.Fatalf("ParseRate(%q) accepted zero", s)
		}
	})
}
