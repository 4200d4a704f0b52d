package nft

import (
	"fmt"
	"testing"
	"time"

	"port-traffic-dog/enforcer/ruleset"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/testnet"
)

// scaleInput makes n items: single ports, ranges and groups mixed, quotas on
// half, as the benchmarks describe a large relay.
func scaleInput(n int) ruleset.Input {
	var items []ruleset.Item
	port := 1024
	for i := 0; i < n; i++ {
		var spec portspec.Spec
		switch i % 10 {
		case 0: // a range of 4
			spec = portspec.Spec{{Lo: uint16(port), Hi: uint16(port + 3)}}
			port += 4
		case 1: // a group of a port and a range
			spec = portspec.Spec{{Lo: uint16(port), Hi: uint16(port)}, {Lo: uint16(port + 2), Hi: uint16(port + 3)}}
			port += 4
		default:
			spec = portspec.Spec{{Lo: uint16(port), Hi: uint16(port)}}
			port++
		}
		it := ruleset.Item{ID: config.ItemID(spec), Spec: spec, Protocols: config.TCP | config.UDP, Billing: config.BillingSum}
		if i%2 == 0 {
			it.Quota = 1 << 40
		}
		items = append(items, it)
	}
	return ruleset.Input{Items: items, Exempt: config.DefaultExempt}
}

func BenchmarkSyncCold(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			rs := ruleset.Build(scaleInput(n), nil)
			for i := 0; i < b.N; i++ {
				ns := testnet.NewNS(b, "bench")
				c := Open(ns.Fd())
				start := time.Now()
				if err := c.Sync(rs); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(time.Since(start).Milliseconds()), "ms/sync")
			}
		})
	}
}

func BenchmarkApplyOneChange(b *testing.B) {
	in := scaleInput(10000)
	rs := ruleset.Build(in, nil)
	ns := testnet.NewNS(b, "bench")
	c := Open(ns.Fd())
	if err := c.Sync(rs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		next := in
		next.Items = append([]ruleset.Item(nil), in.Items...)
		next.Items[5].Quota = uint64(1+i) << 30
		nrs := ruleset.Build(next, rs)
		if err := c.Apply(ruleset.Compare(rs, nrs), nrs); err != nil {
			b.Fatal(err)
		}
		rs = nrs
	}
}

func BenchmarkReadObjects(b *testing.B) {
	rs := ruleset.Build(scaleInput(10000), nil)
	ns := testnet.NewNS(b, "bench")
	c := Open(ns.Fd())
	if err := c.Sync(rs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.ReadObjects(); err != nil {
			b.Fatal(err)
		}
	}
}
