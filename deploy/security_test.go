package deploy_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	tu "port-traffic-dog/internal/testutil"
)

// TestSystemdSecurityExposure measures both installed units with
// `systemd-analyze security --offline=true` (no running systemd needed) and
// holds them to the exposure recorded in docs/RELIABILITY.md: a change that
// loosens the hardening fails here.
func TestSystemdSecurityExposure(t *testing.T) {
	sa := tu.RequireBinary(t, "systemd-analyze")
	root := t.TempDir()
	script(t, []string{"DESTDIR=" + root, "PREFIX=/usr/local", "BINSRC=" + binaries(t)}, "install")
	overall := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)
	for unit, max := range map[string]string{"dog-enforcer.service": "16", "dog-exporter.service": "17"} {
		out, err := exec.Command(sa, "security", "--offline=true", "--root="+root, "--threshold="+max, unit).CombinedOutput()
		m := overall.FindSubmatch(out)
		if m == nil {
			if strings.Contains(string(out), "Unknown command verb") || strings.Contains(string(out), "unrecognized option") {
				t.Skipf("this systemd-analyze cannot analyze offline: %s", out)
			}
			t.Fatalf("%s: no exposure level in:\n%s", unit, out)
		}
		t.Logf("%s: exposure %s (at most %s.%s)", unit, m[1], max[:1], max[1:])
		if err != nil {
			t.Errorf("%s: exposure %s is above %s.%s: %v\n%s", unit, m[1], max[:1], max[1:], err, out)
		}
	}
}
