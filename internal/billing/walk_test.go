package billing

import (
	"testing"
	"time"
)

// drive runs a schedule with a clock that advances in steps from from to
// to, as the enforcer's loop does, and returns it with the instants of the
// resets it ran. back, when set, steps the clock back by that much right
// after every reset (NTP correcting a clock that ran ahead).
func drive(s Schedule, loc *time.Location, from, to time.Time, step, back time.Duration) (Schedule, []time.Time) {
	var resets []time.Time
	for now := from; now.Before(to); now = now.Add(step) {
		if !s.Due(now) {
			continue
		}
		resets = append(resets, s.Next)
		s = s.Advance(now, loc)
		now = now.Add(-back)
	}
	return s, resets
}

// TestResetCalendarWalk walks three years (a leap year among them) through
// zones with DST changes at midnight, half-hour DST and odd offsets, for
// reset days at the start, middle and end of the month: every month has
// exactly one reset, on the reset day clamped to the month's length, at the
// first instant of that local day.
func TestResetCalendarWalk(t *testing.T) {
	zones := []string{
		"UTC", "Asia/Shanghai", "America/New_York", "Europe/London",
		"America/Santiago", // DST starts at 00:00: midnight does not exist that day
		"America/Havana",   // DST ends at 01:00 → 00:00: midnight happens twice
		"Australia/Lord_Howe", "Asia/Kathmandu",
	}
	for _, name := range zones {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, day := range []int{1, 15, 28, 29, 30, 31} {
			from := time.Date(2026, 1, 1, 12, 0, 0, 0, loc)
			to := time.Date(2029, 1, 1, 12, 0, 0, 0, loc)
			for _, v := range []struct {
				name   string
				back   time.Duration
				resets int
			}{
				{"steady clock", 0, 36},
				{"clock stepping back 36h after every reset", 36 * time.Hour, 36},
			} {
				_, resets := drive(NewSchedule(from, day, loc), loc, from, to, 20*time.Minute, v.back)
				if len(resets) != v.resets {
					t.Errorf("%s day %d, %s: %d resets in 36 months", name, day, v.name, len(resets))
				}
				checkResets(t, name, loc, day, resets)
			}
		}
	}
}

func checkResets(t *testing.T, zone string, loc *time.Location, day int, resets []time.Time) {
	t.Helper()
	for i, r := range resets {
		lr := r.In(loc)
		last := time.Date(lr.Year(), lr.Month()+1, 0, 12, 0, 0, 0, loc).Day()
		if want := min(day, last); lr.Day() != want {
			t.Errorf("%s day %d: reset on %s, want day %d of the month", zone, day, lr, want)
		}
		if prev := r.Add(-time.Nanosecond).In(loc); prev.Day() == lr.Day() {
			t.Errorf("%s day %d: reset at %s is not the first instant of the day", zone, day, lr)
		}
		if i > 0 {
			p := resets[i-1].In(loc)
			if next := time.Date(p.Year(), p.Month()+1, 1, 12, 0, 0, 0, loc); lr.Year() != next.Year() || lr.Month() != next.Month() {
				t.Errorf("%s day %d: reset %s follows %s: not the next month", zone, day, lr, p)
			}
		}
	}
}

// TestMissedResetsRunOnce: the host is down over one reset day (a week)
// or three (two months and more): at start-up one reset is due, not one per
// missed month, and the schedule goes on from the first reset day after the
// start-up.
func TestMissedResetsRunOnce(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	at := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 12, 0, 0, 0, ny) }
	from, down, end := at(1, 20), at(3, 8), at(12, 31)
	for _, tc := range []struct {
		name string
		up   time.Time
	}{
		{"a week, over the DST change", at(3, 15)},
		{"over two months", at(5, 20)},
	} {
		s, before := drive(NewSchedule(from, 10, ny), ny, from, down, 20*time.Minute, 0)
		if len(before) != 1 {
			t.Fatalf("before going down: resets %v", before)
		}
		if !s.Due(tc.up) {
			t.Fatalf("%s: no reset due at start-up", tc.name)
		}
		s = s.Advance(tc.up, ny)
		if s.Due(tc.up) {
			t.Errorf("%s: a second reset due at start-up", tc.name)
		}
		if want := NextReset(tc.up, 10, ny); !s.Next.Equal(want) {
			t.Errorf("%s: next reset %s, want %s", tc.name, s.Next, want)
		}
		_, after := drive(s, ny, tc.up, end, 20*time.Minute, 0)
		if want := 12 - int(tc.up.Month()); len(after) != want {
			t.Errorf("%s: %d resets after the start-up, want %d: %v", tc.name, len(after), want, after)
		}
		checkResets(t, "America/New_York", ny, 10, after)
	}
}
