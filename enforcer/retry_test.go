package enforcer

import (
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testnet"
	"port-traffic-dog/internal/testutil"
)

// retryBound is how long the retries of faultsPerCase failed applies take
// at most: 1 + 2 + 4 s of backoff, the tick that notices each, and slack
// for a loaded machine.
const (
	faultsPerCase = 3
	retryBound    = 15 * time.Second
)

// TestFailedApplyIsRetried: an apply that fails (through the test binary's
// fault seam, as a transient netlink error would) leaves the desired state
// in place and the kernel marked out of sync; the control loop retries with
// backoff until it holds. Meanwhile the kernel table stays exactly as it
// was and the exporter's meta file says out of sync; afterwards only the
// change asked for is in the kernel, and every failure was counted. For
// the block of an exhausted item, a reset and a reload.
func TestFailedApplyIsRetried(t *testing.T) {
	testutil.RequireBinary(t, "nft")
	r := newRig(t, quotaConfig("    quota: 300000B\n    billing: in"))
	e := r.enforcer()
	r.run(e)
	srv := r.serve(443)
	values := regexp.MustCompile(`packets \d+ bytes \d+|\s*used \d+ [a-z]*bytes`)
	table := func() string {
		return values.ReplaceAllString(r.pair.Server.Nft("list", "table", "inet", layout.Table), "")
	}
	// The table without one item's chains, quotas and map elements.
	without := func(tbl, id string) string {
		re := regexp.MustCompile(`(?s)\s*(chain item_` + id + `_(in|out)|quota ` + id + `_q\d+_\w+|counter ` + id + `_(in|out)) \{[^}]*\}`)
		tbl = re.ReplaceAllString(tbl, "")
		// Map elements: the item's go, the rest are compared as a sorted
		// list (a hash map lists in its buckets' order, which an insert
		// may change).
		return regexp.MustCompile(`(?s)elements = \{[^}]*\}`).ReplaceAllStringFunc(tbl, func(els string) string {
			var keep []string
			for _, el := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(els, "elements = {"), "}"), ",") {
				if el = strings.Join(strings.Fields(el), " "); el != "" && !strings.Contains(el, "item_"+id+"_") {
					keep = append(keep, el)
				}
			}
			slices.Sort(keep)
			return "elements = { " + strings.Join(keep, ", ") + " }"
		})
	}
	chain := func(id string, d layout.Direction) string {
		return r.pair.Server.Nft("list", "chain", "inet", layout.Table, layout.ItemChain(id, d))
	}
	// blockedBothWays: both chains of the item end in a plain drop.
	blockedBothWays := func(id string) bool {
		for _, d := range layout.Directions {
			if !regexp.MustCompile(`\n\s*drop\n`).MatchString(chain(id, d)) {
				return false
			}
		}
		return true
	}
	stats := func() state.Stats {
		st, err := e.Status()
		if err != nil {
			t.Fatal(err)
		}
		return st.Stats
	}
	metaOutOfSync := func() bool {
		m, err := state.ReadMeta(filepath.Join(r.dir, "state", state.MetaName))
		if err != nil {
			t.Fatal(err)
		}
		return m.Stats.OutOfSync
	}
	// fault runs change with the next faultsPerCase applies failing and
	// checks the time of the fault and the retries.
	fault := func(name string, change func(), done func() bool) {
		t.Helper()
		before, errs := table(), stats().ReconcileErrors
		e.failApplies(faultsPerCase)
		change()
		if s := stats(); !s.OutOfSync || s.ReconcileErrors == errs {
			t.Fatalf("%s: after a failed apply the stats say %+v", name, s)
		}
		if !metaOutOfSync() {
			t.Errorf("%s: the exporter's meta file does not say out of sync", name)
		}
		if got := table(); got != before {
			t.Errorf("%s: the kernel changed while the applies failed:\n%s\nwas:\n%s", name, got, before)
		}
		began := time.Now()
		testnet.WaitFor(t, retryBound, name+": the retry to hold", func() bool { return !stats().OutOfSync })
		t.Logf("%s: in sync %s after the first failure", name, time.Since(began).Round(time.Millisecond))
		if s := stats(); s.ReconcileErrors != errs+faultsPerCase {
			t.Errorf("%s: %d reconcile errors counted, want %d", name, s.ReconcileErrors-errs, faultsPerCase)
		}
		if !done() {
			t.Errorf("%s: in sync, but the change is not in the kernel:\n%s", name, table())
		}
		testnet.WaitFor(t, 5*time.Second, name+": the meta file to say in sync", func() bool { return !metaOutOfSync() })
	}

	// The block of an exhausted item: the kernel quota drops what comes
	// in; the enforcer's block of both ways fails, and is retried.
	before := table()
	fault("quota block", func() {
		r.exhaust(e, srv, "443", "p443", layout.In)
		if blockedBothWays("p443") {
			t.Error("blocked both ways while every apply failed")
		}
	}, func() bool { return blockedBothWays("p443") })
	if got := table(); without(got, "p443") != without(before, "p443") {
		t.Errorf("the block changed more than the item:\n%s\nwas:\n%s", got, before)
	}

	// A reset: recorded at once, in the kernel once a retry holds.
	fault("reset", func() {
		_, err := e.Reset([]string{"443"}, false, state.ReasonManual)
		if err == nil || !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "retries") {
			t.Errorf("reset with a failing apply: %v", err)
		}
		if n := len(r.history()); n != 1 {
			t.Errorf("%d history entries, want the reset's", n)
		}
	}, func() bool { return !blockedBothWays("p443") })
	srv.mustFlow()
	if n := len(r.history()); n != 1 {
		t.Errorf("%d history entries after the retries, want 1", n)
	}

	// A reload adding an item.
	before = table()
	fault("reload", func() {
		r.writeConfig(quotaConfig("    quota: 300000B\n    billing: in") + "  - ports: \"9090\"\n")
		if err := e.Reload(); err == nil || !errors.Is(err, errInjected) {
			t.Errorf("reload with a failing apply: %v", err)
		}
	}, func() bool { return strings.Contains(table(), "chain item_p9090_in") })
	if got := table(); without(got, "p9090") != without(before, "p9090") {
		t.Errorf("the reload changed more than the new item:\n%s\nwas:\n%s", got, before)
	}
}
