package enforcer

import (
	"strings"
	"testing"

	"port-traffic-dog/internal/testnet"
)

// TestReloadWithoutChangeSendsNothing: a reload whose config changes nothing
// the kernel holds (the same file, the file rewritten with a comment and
// another key order, a remark edited) sends no message to the kernel: the
// nftables generation does not move and no nftables, tc or link
// notification appears. A real change afterwards is seen by the same watch,
// so the silence is not the watch's.
func TestReloadWithoutChangeSendsNothing(t *testing.T) {
	const cfg = `interfaces: [veth0]
ports:
  - ports: "443"
    remark: alice
    quota: 10GB
    billing: max
  - ports: 5000-5100
    quota: 1TB
  - ports: "8443,9000-9010"
    rate: 20Mbps
  - ports: "2000"
    expires: 2099-01-01
`
	r := newRig(t, cfg)
	e := r.enforcer()
	if e.shape.applied == nil {
		t.Fatal("the bandwidth limit was not applied: the test would not cover tc")
	}
	fd := r.pair.Server.Fd()
	gen0, err := testnet.NftGeneration(fd)
	if err != nil {
		t.Fatal(err)
	}
	w := testnet.WatchKernel(t, fd)

	for _, step := range []struct{ what, config string }{
		{"the same file", cfg},
		{"a comment and another key order", "# edited\n" + `ports:
  - ports: "443"
    billing: max
    quota: 10GB
    remark: alice
  - ports: 5000-5100
    quota: 1TB
  - ports: "8443,9000-9010"
    rate: 20Mbps
  - ports: "2000"
    expires: 2099-01-01
interfaces: [veth0]
`},
		{"a new remark (kept in the state, not in the kernel)", strings.Replace(cfg, "remark: alice", "remark: bob", 1)},
	} {
		r.writeConfig(step.config)
		if err := e.Reload(); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		if got := w.Changes(); len(got) > 0 {
			t.Errorf("%s: the reload changed the kernel: %v", step.what, got)
		}
		if gen, err := testnet.NftGeneration(fd); err != nil || gen != gen0 {
			t.Errorf("%s: nftables generation %d -> %d (%v)", step.what, gen0, gen, err)
		}
	}
	if st, _ := e.Status(); st.Items[0].Remark != "bob" {
		t.Errorf("the remark did not change: %+v", st.Items[0])
	}

	// The control: a changed quota is one transaction, and the watch sees it.
	r.writeConfig(strings.Replace(cfg, "quota: 10GB", "quota: 20GB", 1))
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := w.Changes(); len(got) == 0 {
		t.Error("a changed quota sent no notification: the watch sees nothing")
	}
	if gen, err := testnet.NftGeneration(fd); err != nil || gen != gen0+1 {
		t.Errorf("a changed quota: nftables generation %d -> %d, want one transaction (%v)", gen0, gen, err)
	}
}
