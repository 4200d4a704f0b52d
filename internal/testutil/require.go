// Package testutil holds the few helpers every test package shares: the rule
// that privileged and tool-dependent tests skip on a developer's laptop but can
// never skip in CI.
package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// RequireEnv names the variable CI sets so that a missing prerequisite fails
// the test instead of skipping it silently.
const RequireEnv = "DOG_REQUIRE_PRIVILEGED"

func required() bool { return os.Getenv(RequireEnv) == "1" }

func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if required() {
		t.Fatalf("%s=1 but "+format, append([]any{RequireEnv}, args...)...)
	}
	t.Skipf(format+" (set %s=1 to make this a failure)", append(args, RequireEnv)...)
}

// RequireRoot skips (or, in CI, fails) a test that needs root: network
// namespaces, nftables, tc.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "test needs root (network namespaces, nftables, tc)")
	}
}

// RequireBinary returns the path of an external program the test drives
// (iperf3, nft, prometheus, promtool, prometheus-alertmanager …), skipping or
// failing when it is not installed.
func RequireBinary(t testing.TB, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	skipOrFail(t, "test needs one of %v in PATH", names)
	return ""
}
