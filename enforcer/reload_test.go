package enforcer

import (
	"testing"
	"time"

	"port-traffic-dog/internal/layout"
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
