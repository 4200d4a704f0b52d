package enforcer

import (
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// TestRefusedReloadPutsLimitsBack: a reload whose limits the kernel
// refuses part-way (here the class's queue: another tool hung a class
// under the item's, which makes it an inner class) is refused, but the
// shaper had changed the class's rate already. The enforcer once took the
// old limits for applied and never looked again, so the item stayed at the
// refused rate, also after the file was put back; the limits in force are
// put back now.
func TestRefusedReloadPutsLimitsBack(t *testing.T) {
	testutil.RequireBinary(t, "tc")
	cfg := func(rate string) string {
		return "interfaces: [" + testnet.Dev + "]\nports:\n  - ports: \"443\"\n    rate_out: " + rate + "\n"
	}
	r := newRig(t, cfg("20Mbps"))
	e := r.enforcer()
	r.run(e)
	class := func() string {
		return r.pair.Server.Run(t, "tc", "class", "show", "dev", testnet.Dev, "classid", "7d0:1")
	}
	if !strings.Contains(class(), "rate 20Mbit") {
		t.Fatalf("class: %s", class())
	}
	r.pair.Server.Run(t, "tc", "class", "add", "dev", testnet.Dev, "parent", "7d0:1", "classid", "7d0:99", "htb", "rate", "1mbit")
	r.writeConfig(cfg("5Mbps"))
	if err := e.Reload(); err == nil {
		t.Fatal("the reload was not refused")
	}
	r.writeConfig(cfg("20Mbps")) // the operator puts the file back
	if err := e.Reload(); err != nil {
		t.Logf("reload of the old file: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(class(), "rate 20Mbit") {
		if time.Now().After(deadline) {
			t.Fatalf("the class keeps the refused reload's rate: %s", class())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
