package cli

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/i18n"
	"port-traffic-dog/internal/state"
	"port-traffic-dog/internal/testutil"
)

// fixedStatus is a status object with every state the table draws: use at
// each colour of the bar (green, yellow, red, under 1%), blocked by quota,
// expired, rates alike and different, a group too long for its column, no
// remark, a CJK remark. It needs no enforcer and no root.
func fixedStatus(t *testing.T) *adminapi.Status {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, loc) }
	const mib = 1 << 20
	item := func(ports, remark string, quota, in, out uint64) adminapi.Item {
		return adminapi.Item{Ports: ports, ID: "p" + ports, Remark: remark, Protocols: "tcp+udp", Billing: "sum",
			Quota: quota, ResetDay: 1, PeriodIn: in, PeriodOut: out, Billable: in + out,
			In: state.Counter{Bytes: 5 * in}, Out: state.Counter{Bytes: 5 * out},
			PeriodStart: day(2026, 11, 1), NextReset: day(2026, 12, 1)}
	}
	low := item("80", "", 1<<40, 300*mib, 200*mib) // <1%: the bar still shows some use
	green := item("443", "alice 阿里巴巴 香港中转", 10*mib, mib, 512<<10)
	green.RateIn, green.RateOut = 100e6, 100e6
	yellow := item("8443", "bob", 100*mib, 85*mib, 15*mib)
	yellow.Protocols, yellow.Billing, yellow.RateOut = "tcp", "in", 20e6
	yellow.Billable = 85 * mib
	red := item("9000", "carol: \"test\"", 100*mib, 60*mib, 40*mib)
	red.Blocked = "quota"
	expired := item("10000-10100", "dave", 0, 0, 0)
	expired.Blocked, expired.Expires, expired.ResetDay, expired.NextReset = "expired", day(2026, 11, 10), 0, time.Time{}
	group := item("20000,20002,20004-20010,20100", "group", 0, 4096, 1)
	group.ID, group.Protocols, group.RateIn = "g3f2a", "udp", 8e6
	host := adminapi.Item{Ports: "host", ID: "host", Protocols: "tcp+udp", Billing: "max", Quota: 2 << 40,
		ResetDay: 15, PeriodIn: 3 << 30, PeriodOut: 1 << 30, Billable: 3 << 30,
		PeriodStart: day(2026, 10, 15), NextReset: day(2026, 11, 15)}
	return &adminapi.Status{Version: "1.2.3", Time: time.Date(2026, 11, 12, 9, 30, 0, 0, loc), Timezone: "Asia/Shanghai",
		LastCheckpoint: time.Date(2026, 11, 12, 9, 29, 30, 0, loc),
		Host:           host, Items: []adminapi.Item{low, green, yellow, red, expired, group}}
}

// TestStatusTableGolden draws the fixed status at the widths where the
// layout changes (a full bar, a short one, none), in colour, in a CJK
// terminal, and as the table dog prints while the enforcer is down.
func TestStatusTableGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		live  bool
		style tableStyle
	}{
		{"status-fixed-80", true, tableStyle{width: 80}},
		{"status-fixed-120", true, tableStyle{width: 120}},
		{"status-fixed-70", true, tableStyle{width: 70}},
		{"status-fixed-60", true, tableStyle{width: 60}},
		{"status-fixed-80-color", true, tableStyle{width: 80, color: true}},
		{"status-fixed-80-eastasian", true, tableStyle{width: 80, eastAsian: true}},
		{"status-fixed-offline", false, tableStyle{width: 80}},
		{"status-fixed-80-zh", true, tableStyle{width: 80, p: i18n.New(i18n.ZH)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.style.p == nil {
				tc.style.p = i18n.New(i18n.EN)
			}
			var b strings.Builder
			if err := renderStatus(&b, fixedStatus(t), tc.live, tc.style); err != nil {
				t.Fatal(err)
			}
			testutil.Golden(t, tc.name+".golden", b.String(), *update)
			// Every line fits the terminal, however the cells are filled.
			cond := tc.style.cond()
			plain := regexp.MustCompile("\x1b\\[[0-9]*m").ReplaceAllString(b.String(), "")
			for _, l := range strings.Split(strings.TrimSuffix(plain, "\n"), "\n") {
				if w := cond.StringWidth(l); w > tc.style.width && !strings.HasPrefix(l, "20000,") {
					t.Errorf("line of %d columns in a %d-column terminal: %q", w, tc.style.width, l)
				}
			}
		})
	}
}

// TestStatusTablePortsColumn: the ports column is as wide as the entries
// that fit in it (longer groups have a line of their own), so that at 80
// columns the remark, which names the customer, is not cut to a few
// characters for room that no entry uses.
func TestStatusTablePortsColumn(t *testing.T) {
	var b strings.Builder
	if err := renderStatus(&b, fixedStatus(t), true, tableStyle{width: 80, p: i18n.New(i18n.EN)}); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^443 +alice 阿里… +1\.50 MiB`).MatchString(b.String()) ||
		!regexp.MustCompile(`(?m)^10000-10100  dave `).MatchString(b.String()) {
		t.Errorf("443's remark is cut, or the ports column is wider than its entries:\n%s", b.String())
	}
}

// TestHistoryLongPorts: a group longer than the ports column widens it,
// so the columns after it stay aligned, on a wide terminal and a narrow one.
func TestHistoryLongPorts(t *testing.T) {
	at := time.Date(2026, 12, 6, 1, 40, 0, 0, time.UTC)
	resets := []state.Reset{
		{Time: at, Ports: "5201", Remark: "iperf 测速", Reason: state.ReasonManual, InBytes: 80 << 20, OutBytes: 48 << 10, Billable: 80 << 20},
		{Time: at, Ports: "8080,8443,9000-9010", Remark: "carol 用户组", Reason: state.ReasonManual, InBytes: 66 << 10, OutBytes: 95 << 20, Billable: 95 << 20},
	}
	for _, width := range []int{0, 80} {
		for _, lang := range []i18n.Lang{i18n.EN, i18n.ZH} {
			var b strings.Builder
			s := tableStyle{width: width, p: i18n.New(lang)}
			renderHistory(&b, resets, time.UTC, s)
			cond := s.cond()
			col := -1 // where the remark starts
			for _, l := range strings.Split(b.String(), "\n") {
				for _, r := range []string{"iperf 测速", "carol 用户组"} {
					if i := strings.Index(l, r); i >= 0 {
						if c := cond.StringWidth(l[:i]); col < 0 {
							col = c
						} else if c != col {
							t.Errorf("width %d, %s: %q starts at column %d, the one above at %d:\n%s", width, lang, r, c, col, b.String())
						}
					}
				}
			}
		}
	}
}
