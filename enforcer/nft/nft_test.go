package nft

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/enforcer/ruleset"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

func item(t *testing.T, ports string) ruleset.Item {
	t.Helper()
	spec, err := portspec.Parse(ports)
	if err != nil {
		t.Fatal(err)
	}
	return ruleset.Item{ID: config.ItemID(spec), Spec: spec, Protocols: config.TCP | config.UDP, Billing: config.BillingSum}
}

func counter(t *testing.T, c *Conn, id string, d layout.Direction) state.Counter {
	t.Helper()
	objs, err := c.ReadObjects()
	if err != nil {
		t.Fatal(err)
	}
	return objs.Counters[layout.Counter(id, d)]
}

func TestSyncCountsAndKeepsCounters(t *testing.T) {
	p := testnet.NewPair(t)
	c := Open(p.Server.Fd())
	items := []ruleset.Item{item(t, "443"), item(t, "5000-5100"), item(t, "7000,7100-7105")}
	in := ruleset.Input{Items: items, Exempt: config.DefaultExempt}
	rs := ruleset.Build(in, nil)
	if err := c.Sync(rs); err != nil {
		t.Fatal(err)
	}
	t.Logf("ruleset:\n%s", p.Server.Nft("list", "table", "inet", layout.Table))

	before := p.Server.Stats(t, testnet.Dev)
	if _, err := p.TCP(testnet.ServerIP4, 5100, 200_000, 1_000_000, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	delta := p.Server.Stats(t, testnet.Dev).Sub(before)
	rx, tx := delta.L3()
	gotIn := counter(t, c, items[1].ID, layout.In)
	gotOut := counter(t, c, items[1].ID, layout.Out)
	if gotIn.Bytes != rx || gotOut.Bytes != tx {
		t.Errorf("range edge 5100: counted in %d out %d, veth L3 rx %d tx %d", gotIn.Bytes, gotOut.Bytes, rx, tx)
	}

	// Re-sync (a restart) keeps the kernel's values; an incremental change
	// that adds an item does not touch the others.
	if err := c.Sync(rs); err != nil {
		t.Fatal(err)
	}
	if again := counter(t, c, items[1].ID, layout.In); again != gotIn {
		t.Errorf("sync reset the counter: %v -> %v", gotIn, again)
	}
	in2 := in
	in2.Items = append(append([]ruleset.Item(nil), items...), item(t, "9000"))
	rs2 := ruleset.Build(in2, rs)
	d := ruleset.Compare(rs, rs2)
	if len(d.AddObjects) != 2 || len(d.AddChains) != 2 || len(d.ReplaceChains) != 0 || len(d.DelObjects) != 0 {
		t.Errorf("diff of one added item: %+v", d)
	}
	if err := c.Apply(d, rs2); err != nil {
		t.Fatal(err)
	}
	if again := counter(t, c, items[1].ID, layout.In); again != gotIn {
		t.Errorf("apply reset the counter: %v -> %v", gotIn, again)
	}
	if d := ruleset.Compare(rs2, rs2); !d.Empty() {
		t.Errorf("no-change diff not empty: %+v", d)
	}
	// Removing items deletes their chains and counters.
	rs3 := ruleset.Build(in, rs2)
	if err := c.Apply(ruleset.Compare(rs2, rs3), rs3); err != nil {
		t.Fatal(err)
	}
	objs, _ := c.ReadObjects()
	if _, ok := objs.Counters[layout.Counter(config.ItemID(portspec.Spec{{Lo: 9000, Hi: 9000}}), layout.In)]; ok {
		t.Error("removed item's counter still there")
	}
	if err := c.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadObjects(); !errors.Is(err, ErrNoTable) {
		t.Errorf("after delete: %v", err)
	}
}

// TestDispatchMapsSplitRanges: single ports and ranges up to
// layout.MaxExpandedRange ports go in the hash map, longer ranges in the
// interval map; traffic to the edges of each lands on its item, and to the
// ports just outside on none. Items with the longest chain names the IDs
// allow, 32,000 elements of them, load in one transaction (elements are
// chunked by size: a netlink attribute holds 64 KiB).
func TestDispatchMapsSplitRanges(t *testing.T) {
	p := testnet.NewPair(t)
	c := Open(p.Server.Fd())
	short := item(t, "5000-5255")      // 256 ports: hash map
	long := item(t, "6000-6256")       // 257: interval map
	top := item(t, "65000-65535")      // interval map, no end element
	group := item(t, "7000,7100-7499") // both maps, one counter
	items := []ruleset.Item{item(t, "443"), short, long, top, group}
	for i := 0; i < 400; i++ {
		var ports []string
		for j := 0; j < 20; j++ {
			ports = append(ports, strconv.Itoa(20000+i*40+2*j))
		}
		it := item(t, strings.Join(ports, ","))
		if len(layout.ItemChain(it.ID, layout.Out)) < 120 {
			t.Fatalf("chain name %q: want the longest kind", layout.ItemChain(it.ID, layout.Out))
		}
		items = append(items, it)
	}
	rs := ruleset.Build(ruleset.Input{Items: items, Exempt: config.DefaultExempt}, nil)
	if err := c.Sync(rs); err != nil {
		t.Fatal(err)
	}
	elements := func(m string) string { return p.Server.Nft("list", "map", "inet", layout.Table, m) }
	portMap, rangeMap := elements(layout.PortMap(layout.In)), elements(layout.RangeMap("tcp", layout.In))
	for _, want := range []struct {
		in, notIn string
		what      string
	}{
		{portMap, rangeMap, "5255 :"},
		{portMap, rangeMap, "7000 :"},
		{rangeMap, portMap, "6000-6256 :"},
		{rangeMap, portMap, "7100-7499 :"},
		{rangeMap, portMap, "65000-65535 :"},
	} {
		if !strings.Contains(want.in, want.what) || strings.Contains(want.notIn, want.what) {
			t.Errorf("%q not where it belongs:\nport map: %.300s\nrange map: %s", want.what, portMap, rangeMap)
		}
	}

	for _, tc := range []struct {
		port uint16
		id   string // "" counts nowhere
	}{
		{4999, ""}, {5000, short.ID}, {5255, short.ID}, {5256, ""},
		{5999, ""}, {6000, long.ID}, {6256, long.ID}, {6257, ""},
		{65535, top.ID}, {7000, group.ID}, {7100, group.ID}, {7499, group.ID}, {7500, ""},
		{20000 + 399*40 + 38, items[len(items)-1].ID},
	} {
		before, err := c.ReadObjects()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.TCP(testnet.ServerIP4, tc.port, 1000, 1000, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		after, err := c.ReadObjects()
		if err != nil {
			t.Fatal(err)
		}
		for name, v := range after.Counters {
			moved := v.Bytes != before.Counters[name].Bytes
			mine := tc.id != "" && (name == layout.Counter(tc.id, layout.In) || name == layout.Counter(tc.id, layout.Out))
			host := name == layout.Counter(layout.HostID, layout.In) || name == layout.Counter(layout.HostID, layout.Out)
			if moved != mine && !host {
				t.Errorf("port %d: counter %s moved=%v, want %v", tc.port, name, moved, mine)
			}
		}
	}
}

// TestSyncMigratesPreviousRelease: a host upgraded from the release whose
// maps were per protocol (keyed by port alone, jump verdicts) and whose
// forward chain always matched conntrack. The first Sync of this version
// migrates that table in place: every counter and the quota's use are kept,
// the old maps and the forward chain (the host does not forward) are gone,
// and traffic counts on the new dispatch.
func TestSyncMigratesPreviousRelease(t *testing.T) {
	testutil.RequireBinary(t, "nft")
	p := testnet.NewPair(t)
	c := Open(p.Server.Fd())
	p.Server.Run(t, "nft", "-f", "testdata/previous-release.nft")
	before, err := c.ReadObjects()
	if err != nil {
		t.Fatal(err)
	}
	if len(before.Counters) != 8 || before.Counters["p443_in"].Bytes != 12000 || before.Quotas["p443_q0_sum"].Consumed != 25000 {
		t.Fatalf("fixture not loaded as expected: %+v", before)
	}
	web, fwd, long := item(t, "443"), item(t, "8080"), item(t, "6000-6999")
	web.Quota = 1 << 30
	host := ruleset.Item{ID: layout.HostID, Quota: 1 << 40, Billing: config.BillingSum}
	rs := ruleset.Build(ruleset.Input{Items: []ruleset.Item{web, fwd, long}, Host: &host, Exempt: config.DefaultExempt}, nil)
	if err := c.Sync(rs); err != nil {
		t.Fatal(err)
	}
	after, err := c.ReadObjects()
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range before.Counters {
		if after.Counters[name] != v {
			t.Errorf("counter %s: %v before the upgrade, %v after", name, v, after.Counters[name])
		}
	}
	if q := after.Quotas["p443_q0_sum"]; q.Consumed != 25000 {
		t.Errorf("quota use after the upgrade: %+v", q)
	}
	table := p.Server.Nft("list", "table", "inet", layout.Table)
	for _, gone := range []string{"in_tcp_port", "out_udp_port", "jump", " ct ", "chain forward"} {
		if strings.Contains(table, gone) {
			t.Errorf("%q still in the table after the upgrade:\n%s", gone, table)
		}
	}
	for port, id := range map[uint16]string{443: web.ID, 6500: long.ID} {
		c0 := counter(t, c, id, layout.In)
		if _, err := p.TCP(testnet.ServerIP4, port, 10_000, 10_000, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if c1 := counter(t, c, id, layout.In); c1.Bytes <= c0.Bytes {
			t.Errorf("port %d after the upgrade: counter %v -> %v\n%s", port, c0, c1, table)
		}
	}
}
