package exporter

import (
	"bufio"
	"flag"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/tcread"
	"port-traffic-dog/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from this run")

// fixedSnapshot is one scrape's input with every series the per-item
// families can write: quota and no quota, each billing mode's use, blocked
// by quota and by expiry, rates and the shaper's counters, a remark that
// needs escaping, the host, and an item the kernel no longer has but the
// durable checkpoint still holds.
func fixedSnapshot() *snapshot {
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	c := func(b, p uint64) state.Counter { return state.Counter{Bytes: b, Packets: p} }
	items := []state.Item{
		{ID: "p443", Ports: "443", Remark: `alice "vip" \ 阿里` + "\n" + "line two", Protocols: "tcp+udp", Billing: "max",
			Quota: 10 << 30, ResetDay: 1, RateIn: 100e6, RateOut: 50e6, ClassMinor: 7,
			In: c(7000, 70), Out: c(9000, 90), BaseIn: c(1000, 10), BaseOut: c(2000, 20),
			PeriodStart: at("2026-11-01T00:00:00+08:00"), NextReset: at("2026-12-01T00:00:00+08:00")},
		{ID: "p8080", Ports: "8080", Protocols: "tcp", Billing: "relay", Quota: 1000, QuotaBlocked: true,
			In: c(600, 6), Out: c(100, 1), PeriodStart: at("2026-11-15T00:00:00+08:00"),
			Expires: at("2027-01-01T00:00:00+08:00")},
		{ID: "gab12", Ports: "5000-5100,6000", Protocols: "udp", Billing: "sum",
			Expires: at("2026-11-10T00:00:00+08:00"), // past: blocked as expired
			In:      c(1, 1), PeriodStart: at("2026-10-15T12:30:00.25+08:00")},
		// In the meta and the checkpoint, gone from the kernel: its
		// checkpointed counters only.
		{ID: "p9", Ports: "9", Protocols: "tcp", Billing: "sum", In: c(9, 1), Out: c(99, 1)},
	}
	host := state.Item{ID: layout.HostID, Ports: "host", Protocols: "tcp+udp", Billing: "out", Quota: 1 << 40,
		In: c(1<<41, 1<<20), Out: c(1<<40+5, 1<<19), BaseOut: c(5, 0), PeriodStart: at("2026-10-15T00:00:00Z")}
	counters := map[string]state.Counter{}
	for _, it := range append(items[:3:3], host) {
		counters[layout.Counter(it.ID, layout.In)] = it.In
		counters[layout.Counter(it.ID, layout.Out)] = it.Out
	}
	// The durable checkpoint, a little older than the kernel's counters.
	durable := &state.Counters{Host: &state.ItemCounters{ID: host.ID, Ports: host.Ports, In: host.In, Out: host.Out}}
	for _, it := range items {
		durable.Items = append(durable.Items, state.ItemCounters{ID: it.ID, Ports: it.Ports,
			In: c(it.In.Bytes/2, it.In.Packets/2), Out: c(it.Out.Bytes/2, it.Out.Packets/2)})
	}
	return &snapshot{
		durable: durable,
		now:     at("2026-11-20T10:00:00+08:00"),
		meta:    &state.Meta{Items: items, Host: &host},
		objs:    &nftread.Objects{Counters: counters},
		tc: &tcread.Stats{In: map[uint16]tcread.Counters{7: {Drops: 12, Overlimits: 340}},
			Out: map[uint16]tcread.Counters{7: {Drops: 0, Overlimits: 5}}},
	}
}

func writeFixed(t *testing.T) string {
	t.Helper()
	s := fixedSnapshot()
	v := views(s)
	attachShaper(v, s.tc)
	var b strings.Builder
	bw := bufio.NewWriter(&b)
	writeItems(bw, v, checkpointed(s.durable))
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestItemsTextGolden: the hand-written exposition of the per-item
// families, byte for byte.
func TestItemsTextGolden(t *testing.T) {
	testutil.Golden(t, "items.golden", writeFixed(t), *update)
}

// TestItemsTextParses reads the hand-written text back with Prometheus' own
// parser: every family parses with its type, escaped labels come back as
// they were, and values are the snapshot's.
func TestItemsTextParses(t *testing.T) {
	out := writeFixed(t)
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(out))
	if err != nil {
		t.Fatalf("the exposition does not parse: %v\n%s", err, out)
	}
	for _, f := range families {
		name := namespace + "_" + f.name
		mf, ok := mfs[name]
		if !ok {
			t.Errorf("family %s missing", name)
			continue
		}
		if typ := mf.GetType().String(); typ != strings.ToUpper(f.typ) || mf.GetHelp() != f.help {
			t.Errorf("%s: type %s help %q, want %s %q", name, typ, mf.GetHelp(), f.typ, f.help)
		}
	}
	if len(mfs) != len(families) {
		t.Errorf("%d families parsed, want %d", len(mfs), len(families))
	}

	// value finds the one series of family name with these labels.
	value := func(name string, labels map[string]string) (float64, bool) {
		t.Helper()
		for _, m := range mfs[namespace+"_"+name].GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			match := len(got) >= len(labels)
			for k, v := range labels {
				match = match && got[k] == v
			}
			if !match {
				continue
			}
			if m.Counter != nil {
				return m.GetCounter().GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
		return 0, false
	}
	snap := fixedSnapshot()
	remark := snap.meta.Items[0].Remark
	if _, ok := value("info", map[string]string{"port": "443", "remark": remark}); !ok {
		t.Errorf("the remark %q did not survive escaping", remark)
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"bytes_total", map[string]string{"port": "443", "direction": "in"}, 3500}, // the checkpoint's
		{"packets_total", map[string]string{"port": "443", "direction": "out"}, 45},
		{"bytes_total", map[string]string{"port": "9", "direction": "out"}, 49},
		{"period_bytes", map[string]string{"port": "443", "direction": "out"}, 7000},
		{"quota_used_bytes", map[string]string{"port": "443"}, 7000},              // max(6000, 7000)
		{"quota_used_bytes", map[string]string{"port": "8080"}, 1400},             // relay: (600+100) x 2
		{"quota_used_bytes", map[string]string{"port": "host"}, float64(1 << 40)}, // out only
		{"bytes_total", map[string]string{"port": "host", "direction": "in"}, 1 << 41},
		{"blocked", map[string]string{"port": "8080", "reason": "quota"}, 1},
		{"blocked", map[string]string{"port": "8080", "reason": "expired"}, 0},
		{"blocked", map[string]string{"port": "5000-5100,6000", "reason": "expired"}, 1},
		{"last_reset_timestamp_seconds", map[string]string{"port": "5000-5100,6000"}, 1792038600.25},
		{"rate_limit_bytes_per_second", map[string]string{"port": "443", "direction": "in"}, 12.5e6},
		{"shaper_dropped_packets_total", map[string]string{"port": "443", "direction": "in"}, 12},
		{"shaper_overlimits_total", map[string]string{"port": "443", "direction": "out"}, 5},
	} {
		got, ok := value(tc.name, tc.labels)
		if !ok || math.Abs(got-tc.want) > 1e-9*math.Abs(tc.want) {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	// The checkpoint's four items and the host; the live families leave
	// out the item the kernel no longer has.
	if n := len(mfs[namespace+"_bytes_total"].GetMetric()); n != 2*5 {
		t.Errorf("%d bytes_total series, want 10", n)
	}
	if _, ok := value("period_bytes", map[string]string{"port": "9"}); ok {
		t.Error("period_bytes for item 9, which the kernel no longer has")
	}
}
