package enforcer

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"port-traffic-dog/internal/testnet"
)

// limitedConfig is 1,000 single-port items with a rate each; item 10500's
// rate is rate500.
func limitedConfig(rate500 string) string {
	var b strings.Builder
	b.WriteString("interfaces: [veth0]\nports:\n")
	for i := range 1000 {
		rate := "10Mbps"
		if i == 500 {
			rate = rate500
		}
		fmt.Fprintf(&b, "  - ports: \"%d\"\n    rate: %s\n", 10000+i, rate)
	}
	return b.String()
}

func benchEnforcer(b *testing.B) (func() *Enforcer, string) {
	p := testnet.NewPair(b)
	dir := b.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(limitedConfig("10Mbps")), 0o600); err != nil {
		b.Fatal(err)
	}
	return func() *Enforcer {
		e, err := New(Options{ConfigPath: cfg, NetNS: p.Server.Fd(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			StateDir: filepath.Join(dir, "state"), AdminSocket: filepath.Join(dir, "admin.sock")})
		if err != nil {
			b.Fatal(err)
		}
		return e
	}, cfg
}

// BenchmarkStartLimited1000: an enforcer start that applies 1,000 limited
// items from nothing: the nftables table and the whole tc setup.
func BenchmarkStartLimited1000(b *testing.B) {
	newEnforcer, _ := benchEnforcer(b)
	for b.Loop() {
		b.StopTimer()
		e := newEnforcer()
		if err := e.Cleanup(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := e.Start(); err != nil {
			b.Fatal(err)
		}
		if e.shape.applied == nil {
			b.Fatal("limits not applied")
		}
	}
}

// BenchmarkReloadOneRate1000: a reload that changes one item's rate among
// 1,000 limited items (config parse, merge, diff, two class replaces,
// state save).
func BenchmarkReloadOneRate1000(b *testing.B) {
	newEnforcer, cfg := benchEnforcer(b)
	e := newEnforcer()
	if err := e.Start(); err != nil {
		b.Fatal(err)
	}
	rates := []string{"20Mbps", "10Mbps"}
	i := 0
	for b.Loop() {
		b.StopTimer()
		if err := os.WriteFile(cfg, []byte(limitedConfig(rates[i%2])), 0o600); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := e.Reload(); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
