package enforcer

import (
	"path/filepath"
	"testing"
	"time"

	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
)

// TestConfigFileChangeReloadsWithoutTouchingOthers: editing the file is
// noticed without a signal; added, changed and removed items change while
// every other item's counter keeps its value.
func TestConfigFileChangeReloadsWithoutTouchingOthers(t *testing.T) {
	r := newRig(t, "ports:\n  - ports: \"443\"\n  - ports: \"80\"\n  - ports: \"8443\"\n")
	e := r.enforcer()
	r.run(e)
	r.tcp(443, 50_000, 50_000)
	r.tcp(80, 20_000, 20_000)
	keep := r.counter("p443", layout.In)

	r.writeConfig("ports:\n  - ports: \"443\"\n  - ports: \"80\"\n    remark: renamed\n    protocols: [tcp]\n  - ports: \"9000-9010\"\n")
	testnet.WaitFor(t, 5*time.Second, "the new item", func() bool {
		_, ok := Open(r)[layout.Counter("p9000-9010", layout.In)]
		return ok
	})
	c := Open(r)
	if c[layout.Counter("p443", layout.In)] != keep {
		t.Errorf("untouched item's counter changed: %v -> %v", keep, c[layout.Counter("p443", layout.In)])
	}
	if c[layout.Counter("p80", layout.In)].Bytes < 20_000 {
		t.Errorf("changed item lost its counter: %v", c[layout.Counter("p80", layout.In)])
	}
	if _, ok := c[layout.Counter("p8443", layout.In)]; ok {
		t.Error("removed item still has a counter")
	}
	st, _ := e.Status()
	for _, it := range st.Items {
		if it.Ports == "80" && (it.Remark != "renamed" || it.Protocols != "tcp") {
			t.Errorf("item 80 not updated: %+v", it)
		}
	}
	r.tcp(9005, 10_000, 0)
	if got := r.counter("p9000-9010", layout.In); got.Bytes < 10_000 {
		t.Errorf("new item counts %v", got)
	}
}

// TestReloadOfTheHostQuotaKeepsCheckpointsComplete: a reload that changes
// the host's quota reads the host's counters (its new quota objects start
// from them) but not the items'. The next checkpoint of an idle host must
// still write the items' current counters: it skips the dump only when the
// host's counters did not move since the items' were read.
func TestReloadOfTheHostQuotaKeepsCheckpointsComplete(t *testing.T) {
	r := newRig(t, `checkpoint_interval: 1h
ports:
  - ports: "443"
`)
	e := r.enforcer()
	r.tcp(443, 200_000, 100_000)
	r.quiesce("p443")
	in, out := r.counters("p443")
	r.writeConfig(`checkpoint_interval: 1h
host:
  quota: 10GB
ports:
  - ports: "443"
`)
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	err := e.checkpointLocked(false) // the periodic one; nothing moved since the reload
	e.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := state.Load(filepath.Join(r.dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range st.Items {
		if it.ID == "p443" && (it.In.Bytes != in || it.Out.Bytes != out) {
			t.Errorf("checkpoint of p443: in %d out %d, kernel in %d out %d", it.In.Bytes, it.Out.Bytes, in, out)
		}
	}
}
