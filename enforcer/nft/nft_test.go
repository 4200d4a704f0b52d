package nft

import (
	"testing"
	"time"

	"port-traffic-dog/enforcer/ruleset"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/portspec"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
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
	if _, err := c.ReadObjects(); err != ErrNoTable {
		t.Errorf("after delete: %v", err)
	}
}
