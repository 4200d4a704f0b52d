package enforcer

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"port-traffic-dog/internal/config/configtest"
	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/testutil"
)

var nftCounterValues = regexp.MustCompile(`packets \d+ bytes \d+|used \d+ bytes`)

// TestInvalidConfigsLeaveTheKernelAlone runs every file of the invalid
// config corpus (internal/config/configtest) against a namespace whose
// enforcer already applied a table: as the config of a new enforcer (New,
// then Start if New let it through) and as a reload of the running one,
// both by a call and by the file-change poll. Each is refused with its
// specific message, naming the file, and the table stays exactly as it was.
func TestInvalidConfigsLeaveTheKernelAlone(t *testing.T) {
	testutil.RequireBinary(t, "nft")
	const good = "ports:\n  - ports: \"443\"\n    remark: alice\n    quota: 1GB\n  - ports: 5000-5100\n"
	r := newRig(t, good)
	e := r.enforcer()
	r.run(e) // its config poll sees every bad file too
	r.tcp(443, 10_000, 10_000)
	table := func() string {
		return nftCounterValues.ReplaceAllString(r.pair.Server.Nft("list", "table", "inet", layout.Table), "")
	}
	before := table()
	if !strings.Contains(before, "p443_in") {
		t.Fatalf("no table to protect:\n%s", before)
	}
	bad := filepath.Join(r.dir, "bad.yaml")
	for _, tc := range configtest.Invalid() {
		want := strings.ReplaceAll(tc.Want, "bad.yaml", bad)
		if err := os.WriteFile(bad, []byte(tc.YAML), 0o600); err != nil {
			t.Fatal(err)
		}
		o := Options{ConfigPath: bad, NetNS: r.pair.Server.Fd(), Logger: r.logger(),
			StateDir: filepath.Join(r.dir, "state2"), AdminSocket: filepath.Join(r.dir, "a2.sock")}
		if e2, err := New(o); err == nil {
			if err := e2.Start(); err == nil {
				t.Errorf("%s: a new enforcer started with it", tc.Name)
			}
		} else if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: New: %.300q does not contain %q", tc.Name, err, want)
		}
		// The running enforcer's file, rewritten in place.
		want = strings.ReplaceAll(tc.Want, "bad.yaml", r.cfg)
		r.writeConfig(tc.YAML)
		if err := e.Reload(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Reload: %.300v, want %q", tc.Name, err, want)
		}
		if after := table(); after != before {
			t.Fatalf("%s changed the kernel table:\n%s\n---\n%s", tc.Name, before, after)
		}
	}
	if _, err := os.Stat(filepath.Join(r.dir, "state2", "state.json")); err == nil {
		t.Error("a refused enforcer wrote a state file")
	}
	r.writeConfig(good)
	if err := e.Reload(); err != nil {
		t.Fatalf("the good config again: %v", err)
	}
	if after := table(); after != before {
		t.Errorf("the good config again changed the table:\n%s\n---\n%s", before, after)
	}
	st, err := e.Status()
	if err != nil || len(st.Items) != 2 || st.Items[0].Remark != "alice" || st.Items[0].In.Bytes < 10_000 {
		t.Errorf("after the corpus: %+v, %v", st, err)
	}
}
