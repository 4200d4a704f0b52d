package cli

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/state"
)

// TestTimesInTheEnforcersZone: reset and history show their times in the
// enforcer's time zone, as status shows the periods they close, whatever
// zone dog runs in; an enforcer whose answers carry no zone (an older
// one) gets dog's own.
func TestTimesInTheEnforcersZone(t *testing.T) {
	const tz = "Asia/Kathmandu" // +05:45: no host's local zone by chance
	start := time.Date(2026, 10, 31, 18, 15, 0, 0, time.UTC)
	at := time.Date(2026, 11, 30, 18, 15, 0, 0, time.UTC)
	resets := []state.Reset{{Time: at, PeriodStart: start, ID: "443", Ports: "443", Reason: state.ReasonManual, InBytes: 1, OutBytes: 2}}
	for _, c := range []struct {
		name     string
		tz       string
		from, to string // period start and reset time as shown
	}{
		{"zone given", tz, "2026-11-01 00:00", "2026-12-01 00:00"},
		{"older enforcer", "", start.In(time.Local).Format("2006-01-02 15:04"), at.In(time.Local).Format("2006-01-02 15:04")},
	} {
		t.Run(c.name, func(t *testing.T) {
			sock := fakeRoutes(t, map[string]answer{
				adminapi.PathReset:   {http.StatusOK, jsonOf(t, adminapi.ResetResponse{Resets: resets, Timezone: c.tz})},
				adminapi.PathHistory: {http.StatusOK, jsonOf(t, adminapi.HistoryResponse{Resets: resets, Timezone: c.tz})},
			})
			code, out, errOut := dog(t, "--socket", sock, "reset", "443")
			if code != 0 || !strings.Contains(out, c.from) {
				t.Errorf("dog reset: exit %d, period start %q not in:\n%s%s", code, c.from, out, errOut)
			}
			code, out, errOut = dog(t, "--socket", sock, "history")
			if code != 0 || !strings.Contains(out, c.to) {
				t.Errorf("dog history: exit %d, reset time %q not in:\n%s%s", code, c.to, out, errOut)
			}
		})
	}
}
