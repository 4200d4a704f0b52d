package billing

import (
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestNextReset(t *testing.T) {
	utc := time.UTC
	d := func(y int, m time.Month, day, h int) time.Time { return time.Date(y, m, day, h, 0, 0, 0, utc) }
	for _, tc := range []struct {
		name     string
		now      time.Time
		resetDay int
		want     time.Time
	}{
		{"31 in common February", d(2027, 2, 10, 0), 31, d(2027, 2, 28, 0)},
		{"31 in leap February", d(2028, 2, 10, 0), 31, d(2028, 2, 29, 0)},
		{"30 in leap February", d(2028, 2, 1, 0), 30, d(2028, 2, 29, 0)},
		{"29 in common February", d(2027, 2, 1, 0), 29, d(2027, 2, 28, 0)},
		{"29 in leap February", d(2028, 2, 1, 0), 29, d(2028, 2, 29, 0)},
		{"after clamped Feb reset, back to 31", d(2027, 2, 28, 1), 31, d(2027, 3, 31, 0)},
		{"31 in April", d(2027, 4, 5, 0), 31, d(2027, 4, 30, 0)},
		{"30 in April", d(2027, 4, 5, 0), 30, d(2027, 4, 30, 0)},
		{"December to January", d(2026, 12, 20, 0), 1, d(2027, 1, 1, 0)},
		{"December 31", d(2026, 12, 31, 0), 31, d(2027, 1, 31, 0)},
		{"exactly at reset is not next", d(2026, 12, 1, 0), 1, d(2027, 1, 1, 0)},
		{"one second before", d(2026, 12, 1, 0).Add(-time.Second), 1, d(2026, 12, 1, 0)},
		{"day 15", d(2026, 11, 29, 0), 15, d(2026, 12, 15, 0)},
	} {
		if got := NextReset(tc.now, tc.resetDay, utc); !got.Equal(tc.want) {
			t.Errorf("%s: NextReset(%s, %d) = %s, want %s", tc.name, tc.now, tc.resetDay, got, tc.want)
		}
		if ps := PeriodStart(tc.want, tc.resetDay, utc); !ps.Equal(tc.want) {
			t.Errorf("%s: PeriodStart(%s) = %s", tc.name, tc.want, ps)
		}
	}
	if !NextReset(d(2026, 1, 1, 0), 0, utc).IsZero() || !PeriodStart(d(2026, 1, 1, 0), 0, utc).IsZero() {
		t.Error("reset day 0 must never reset")
	}
}

func TestPeriodStart(t *testing.T) {
	utc := time.UTC
	got := PeriodStart(time.Date(2027, 3, 15, 12, 0, 0, 0, utc), 31, utc)
	if want := time.Date(2027, 2, 28, 0, 0, 0, 0, utc); !got.Equal(want) {
		t.Errorf("PeriodStart = %s, want %s", got, want)
	}
	got = PeriodStart(time.Date(2027, 1, 5, 0, 0, 0, 0, utc), 10, utc)
	if want := time.Date(2026, 12, 10, 0, 0, 0, 0, utc); !got.Equal(want) {
		t.Errorf("PeriodStart across the year = %s, want %s", got, want)
	}
}

func TestTimeZones(t *testing.T) {
	sh := mustLoc(t, "Asia/Shanghai")
	now := time.Date(2026, 11, 30, 16, 30, 0, 0, time.UTC) // 2026-12-01 00:30 in Shanghai
	if got, want := PeriodStart(now, 1, sh), time.Date(2026, 12, 1, 0, 0, 0, 0, sh); !got.Equal(want) {
		t.Errorf("Shanghai period start = %s, want %s", got, want)
	}
	if got, want := PeriodStart(now, 1, time.UTC), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("UTC period start = %s, want %s", got, want)
	}

	// DST: the reset is at local midnight on either side of a change, and a
	// period spanning the change is 23 or 25 hours shorter/longer, not shifted.
	ny := mustLoc(t, "America/New_York")
	next := NextReset(time.Date(2026, 3, 1, 12, 0, 0, 0, ny), 9, ny) // DST starts 2026-03-08
	if h, m, _ := next.In(ny).Clock(); next.In(ny).Day() != 9 || h != 0 || m != 0 {
		t.Errorf("after DST start: %s", next.In(ny))
	}
	after := NextReset(next, 9, ny)
	if after.In(ny).Month() != time.April || after.In(ny).Hour() != 0 {
		t.Errorf("next after DST: %s", after.In(ny))
	}

	// America/Santiago skips 00:00 when DST starts (2026-09-06): the reset
	// happens at the first instant of that day, once.
	sc := mustLoc(t, "America/Santiago")
	r := NextReset(time.Date(2026, 9, 1, 0, 0, 0, 0, sc), 6, sc)
	if r.In(sc).Day() != 6 || r.In(sc).Month() != time.September {
		t.Errorf("Santiago reset = %s", r.In(sc))
	}
	if r2 := NextReset(r, 6, sc); r2.In(sc).Month() != time.October {
		t.Errorf("Santiago reset repeats: %s", r2.In(sc))
	}
}

func TestScheduleMissedAndClockJumps(t *testing.T) {
	utc := time.UTC
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, utc)
	s := NewSchedule(start, 1, utc)
	if !s.Next.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, utc)) {
		t.Fatalf("first next = %s", s.Next)
	}
	if s.Due(time.Date(2026, 10, 31, 23, 59, 59, 0, utc)) {
		t.Error("due before the reset")
	}

	// Offline for a week over the reset, and even over two resets: due once.
	back := time.Date(2026, 12, 8, 9, 0, 0, 0, utc)
	if !s.Due(back) {
		t.Fatal("missed reset not due")
	}
	s = s.Advance(back, utc)
	if s.Due(back) || !s.Next.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, utc)) {
		t.Errorf("after a missed reset: next = %s", s.Next)
	}

	// The clock was days ahead, a reset ran, then NTP steps it back: the
	// reset is not due again when the real date reaches it.
	s = NewSchedule(start, 1, utc)
	ahead := time.Date(2026, 11, 3, 0, 0, 0, 0, utc)
	s = s.Advance(ahead, utc)
	for _, now := range []time.Time{
		time.Date(2026, 10, 30, 0, 0, 0, 0, utc),
		time.Date(2026, 11, 1, 0, 0, 0, 0, utc),
		time.Date(2026, 11, 30, 23, 0, 0, 0, utc),
	} {
		if s.Due(now) {
			t.Errorf("reset due again at %s after the clock stepped back", now)
		}
	}
	if !s.Due(time.Date(2026, 12, 1, 0, 0, 0, 0, utc)) {
		t.Error("December reset not due")
	}

	// Advance with a clock that is behind the due reset (a reset forced at
	// start-up right after a step back) still moves forward.
	s = Schedule{ResetDay: 1, Next: time.Date(2026, 12, 1, 0, 0, 0, 0, utc)}
	s = s.Advance(time.Date(2026, 11, 20, 0, 0, 0, 0, utc), utc)
	if !s.Next.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, utc)) {
		t.Errorf("advance from behind: %s", s.Next)
	}

	if (Schedule{}).Due(back) {
		t.Error("reset day 0 due")
	}
}

func TestRescheduled(t *testing.T) {
	utc := time.UTC
	ps := time.Date(2026, 11, 1, 0, 0, 0, 0, utc)
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, utc)
	if s := Rescheduled(ps, now, 25, utc); !s.Next.Equal(time.Date(2026, 11, 25, 0, 0, 0, 0, utc)) {
		t.Errorf("reschedule to 25: %s", s.Next)
	}
	if s := Rescheduled(ps, now, 10, utc); !s.Next.Equal(time.Date(2026, 12, 10, 0, 0, 0, 0, utc)) {
		t.Errorf("reschedule to 10: %s", s.Next)
	}
	if s := Rescheduled(ps, now, 0, utc); !s.Next.IsZero() {
		t.Errorf("reschedule to never: %s", s.Next)
	}
}
