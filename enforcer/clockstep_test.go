package enforcer

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/state"
)

// TestClockStepsByDays steps the enforcer's clock back and forth by days
// and months, across reset days, with restarts and reloads while the clock
// is behind, and a manual reset in the past. The history must end up with
// exactly the resets the calendar calls for: none when the clock goes back
// (a reset never runs twice), one per item when it jumps forward over any
// number of reset days (a missed reset runs, once), and each period's bytes
// exactly once.
func TestClockStepsByDays(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	day := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, sh) }
	clk := &fakeClock{t: day(time.March, 20, 10)}
	r := newRig(t, `timezone: Asia/Shanghai
checkpoint_interval: 1h
ports:
  - ports: "443"
    reset_day: 1
  - ports: "8080"
    reset_day: 31
`)
	withSteps := func(o *Options) { o.Now = clk.Now }
	e := r.enforcer(withSteps)
	stop := r.run(e)

	type entry struct {
		id string
		at time.Time
	}
	var want []entry
	check := func(step string) {
		t.Helper()
		time.Sleep(300 * time.Millisecond) // the loop ticks every 50 ms
		var got, exp []string
		for _, h := range r.history() {
			got = append(got, fmt.Sprintf("%s@%s/%s", h.ID, h.Time.In(sh).Format("01-02 15:04"), h.Reason))
		}
		for _, w := range want {
			exp = append(exp, fmt.Sprintf("%s@%s/%s", w.id, w.at.Format("01-02 15:04"), "auto"))
		}
		if strings.Join(got, " ") != strings.Join(exp, " ") {
			t.Fatalf("%s: history\n  %v\nwant\n  %v", step, got, exp)
		}
	}
	next := func(step, ports string, wantNext time.Time) {
		t.Helper()
		if it := statusItem(t, e, ports); !it.NextReset.Equal(wantNext) {
			t.Fatalf("%s: %s's next reset %s, want %s", step, ports, it.NextReset.In(sh), wantNext)
		}
	}
	next("start", "443", day(time.April, 1, 0))
	next("start", "8080", day(time.March, 31, 0))

	// 40 days back (an RTC that lost its time): nothing is due, and a
	// restart and a reload with the clock behind keep the schedule.
	clk.Set(day(time.February, 8, 10))
	check("40 days back")
	stop()
	e = r.enforcer(withSteps)
	stop = r.run(e)
	cfg, err := os.ReadFile(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.writeConfig(strings.Replace(string(cfg), "reset_day: 31", "reset_day: 31 # edited", 1))
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	check("restart and reload 40 days back")
	next("40 days back", "443", day(time.April, 1, 0))
	next("40 days back", "8080", day(time.March, 31, 0))

	// Back to the present, then 75 days forward over two or three reset
	// days of each item: one reset each, at the step.
	clk.Set(day(time.March, 20, 11))
	check("back to the present")
	r.tcp(443, 30_000, 10_000)
	jump := day(time.June, 3, 12)
	clk.Set(jump)
	want = append(want, entry{"p443", jump}, entry{"p8080", jump})
	check("75 days forward")
	if h := r.history()[0]; h.InBytes < 30_000 || h.OutBytes < 10_000 {
		t.Errorf("the jump's reset recorded %d in / %d out, want the period's traffic", h.InBytes, h.OutBytes)
	}
	next("75 days forward", "443", day(time.July, 1, 0))
	next("75 days forward", "8080", day(time.June, 30, 0))

	// 10 days back: nothing; forward to June 30: 8080 (day 31, clamped).
	clk.Set(day(time.May, 24, 12))
	check("10 days back")
	clk.Set(day(time.June, 30, 0))
	want = append(want, entry{"p8080", day(time.June, 30, 0)})
	check("June 30")
	// Two days back and on to July 1: 443 only; 8080 already had June's.
	clk.Set(day(time.June, 28, 0))
	check("2 days back")
	clk.Set(day(time.July, 1, 0))
	want = append(want, entry{"p443", day(time.July, 1, 0)})
	check("July 1")

	// Three days back over July 1, a restart there (the start-up's missed
	// reset check), then forward again: July 1 is not reset twice.
	clk.Set(day(time.June, 28, 6))
	stop()
	e = r.enforcer(withSteps)
	r.run(e) // stopped at cleanup
	check("restart 3 days back")
	clk.Set(day(time.July, 2, 0))
	check("forward again")

	// A manual reset while the clock is back: it ends the period then, and
	// does not pull the next automatic reset earlier or push it later.
	clk.Set(day(time.June, 29, 0))
	if _, err := e.Reset([]string{"8080"}, false, state.ReasonManual); err != nil {
		t.Fatal(err)
	}
	h := r.history()
	if last := h[len(h)-1]; last.Reason != state.ReasonManual || !last.Time.Equal(day(time.June, 29, 0)) {
		t.Fatalf("manual reset: %+v", last)
	}
	want = append(want, entry{"p8080", day(time.June, 29, 0)}) // compared without the reason below
	next("manual reset in the past", "8080", day(time.July, 31, 0))
	clk.Set(day(time.July, 31, 0))
	want = append(want, entry{"p8080", day(time.July, 31, 0)})
	time.Sleep(300 * time.Millisecond)
	var got []string
	for _, h := range r.history() {
		got = append(got, fmt.Sprintf("%s@%s", h.ID, h.Time.In(sh).Format("01-02 15:04")))
	}
	var exp []string
	for _, w := range want {
		exp = append(exp, fmt.Sprintf("%s@%s", w.id, w.at.Format("01-02 15:04")))
	}
	if strings.Join(got, " ") != strings.Join(exp, " ") {
		t.Fatalf("final history\n  %v\nwant\n  %v", got, exp)
	}
	// Every period's bytes are in exactly one entry: the periods add up to
	// the counters.
	var in uint64
	for _, h := range r.history() {
		if h.ID == "p443" {
			in += h.InBytes
		}
	}
	it := statusItem(t, e, "443")
	if in+it.PeriodIn != it.In.Bytes {
		t.Errorf("443: periods add up to %d bytes in, the counter is %d", in+it.PeriodIn, it.In.Bytes)
	}
}
