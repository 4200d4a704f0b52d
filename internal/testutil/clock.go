package testutil

import "time"

// RunningClock is an injected clock that reads at when it is made and runs
// at the real clock's pace from then on (monotonic: a step of the host's
// clock does not move it). What runs on it ticks, times out and checkpoints
// as on the real clock, but sees the same dates whenever the test runs: no
// reset day, month end, year change or DST change comes during the test
// unless the test puts one there.
func RunningClock(at time.Time) func() time.Time {
	start := time.Now()
	return func() time.Time { return at.Add(time.Since(start)) }
}
