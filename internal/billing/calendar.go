// Package billing is the reset calendar: when a billing period starts and
// when the next one begins, for a reset day of the month in a time zone.
// Every function takes "now" as an argument so tests inject the clock.
package billing

import "time"

// resetIn returns the reset instant of the given month: 00:00 on resetDay,
// clamped to the month's last day (31 → 30 in April, → 28/29 in February).
func resetIn(year int, month time.Month, resetDay int, loc *time.Location) time.Time {
	last := time.Date(year, month+1, 0, 0, 0, 0, 0, loc).Day()
	return DayStart(year, month, min(resetDay, last), loc)
}

// DayStart returns the first instant of a day in loc: 00:00, or, where a DST
// change skips midnight (America/Santiago, America/Havana …), the first
// minute that is on that day. time.Date alone may land in the evening
// before there, which would start a period, or an expiry, on the wrong day.
func DayStart(year int, month time.Month, day int, loc *time.Location) time.Time {
	r := time.Date(year, month, day, 0, 0, 0, 0, loc)
	for i := 0; i < 180 && r.In(loc).Day() != day; i++ {
		r = r.Add(time.Minute)
	}
	return r
}

// NextReset returns the first reset instant strictly after t. resetDay must
// be 1-31; 0 (never) has no next reset and returns the zero time.
func NextReset(t time.Time, resetDay int, loc *time.Location) time.Time {
	if resetDay == 0 {
		return time.Time{}
	}
	lt := t.In(loc)
	for i := 0; i < 3; i++ {
		y, m, _ := lt.Date()
		r := resetIn(y, m+time.Month(i), resetDay, loc)
		if r.After(t) {
			return r
		}
	}
	panic("unreachable: a reset day recurs every month")
}

// PeriodStart returns the last reset instant at or before t, the start of the
// period t falls in. For resetDay 0 it returns the zero time.
func PeriodStart(t time.Time, resetDay int, loc *time.Location) time.Time {
	if resetDay == 0 {
		return time.Time{}
	}
	lt := t.In(loc)
	for i := 0; i < 3; i++ {
		y, m, _ := lt.Date()
		r := resetIn(y, m-time.Month(i), resetDay, loc)
		if !r.After(t) {
			return r
		}
	}
	panic("unreachable: a reset day recurs every month")
}

// Schedule is an item's persisted reset schedule. Keeping the next reset as an
// absolute instant (rather than recomputing it from the wall clock) is what
// makes a clock stepping backwards harmless: a reset that happened is never
// due again, and a reset missed while the host was down is due once.
type Schedule struct {
	ResetDay int
	Next     time.Time // zero when ResetDay is 0
}

// NewSchedule starts a schedule at periodStart.
func NewSchedule(periodStart time.Time, resetDay int, loc *time.Location) Schedule {
	return Schedule{ResetDay: resetDay, Next: NextReset(periodStart, resetDay, loc)}
}

// Due reports whether a reset is due at now. However long the host was down,
// one reset is due, not one per missed month.
func (s Schedule) Due(now time.Time) bool {
	return !s.Next.IsZero() && !now.Before(s.Next)
}

// Advance is the schedule after a reset performed at now. The next reset is
// computed from the later of now and the reset that was due, so a clock that
// was ahead and then steps back cannot make the same reset due twice.
func (s Schedule) Advance(now time.Time, loc *time.Location) Schedule {
	from := now
	if s.Next.After(from) {
		from = s.Next
	}
	return Schedule{ResetDay: s.ResetDay, Next: NextReset(from, s.ResetDay, loc)}
}

// Rescheduled is the schedule after the operator changed the reset day or
// the time zone: the current period keeps its start, the next reset follows
// the new rule.
func Rescheduled(periodStart, now time.Time, resetDay int, loc *time.Location) Schedule {
	from := now
	if periodStart.After(from) {
		from = periodStart
	}
	return Schedule{ResetDay: resetDay, Next: NextReset(from, resetDay, loc)}
}
