package enforcer

import (
	"bytes"
	"testing"

	"port-traffic-dog/internal/layout"
)

// TestImportKeepsThisHostsFlagItems: an item this host adds with --port
// stays configured through an import (withFlags), but the archive has no
// state for it. Its counters and billing period once started over at zero
// (the kernel counter fell, Prometheus saw a reset, the period's use was
// gone); they continue as this host counted them.
func TestImportKeepsThisHostsFlagItems(t *testing.T) {
	r := newRig(t, "ports:\n  - ports: \"443\"\n")
	e := r.enforcer(func(o *Options) { o.PortFlags = []string{"9000:remark=from a flag"} })
	r.tcp(9000, 50_000, 20_000)
	before := r.counter("p9000", layout.In)
	if before.Bytes < 50_000 {
		t.Fatalf("counted %v", before)
	}
	st, err := e.Status()
	if err != nil {
		t.Fatal(err)
	}
	var period string
	for _, it := range st.Items {
		if it.Ports == "9000" {
			period = it.PeriodStart.String()
		}
	}

	if _, err := e.Import(bytes.NewReader(exportOf(t, "ports:\n  - ports: \"443\"\n  - ports: \"80\"\n")), false); err != nil {
		t.Fatal(err)
	}
	if got := r.counter("p9000", layout.In); got.Bytes < before.Bytes {
		t.Errorf("the --port item's counter fell in the import: %v -> %v", before, got)
	}
	st, err = e.Status()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, it := range st.Items {
		if it.Ports == "9000" {
			found = true
			if it.PeriodStart.String() != period || it.In.Bytes < before.Bytes {
				t.Errorf("the --port item after the import: period %s (was %s), in %d (was %d)", it.PeriodStart, period, it.In.Bytes, before.Bytes)
			}
		}
	}
	if !found {
		t.Errorf("the --port item is gone: %+v", st.Items)
	}
}
