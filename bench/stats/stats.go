// Package stats holds the summaries the benchmarks report and bench/report
// tabulates.
package stats

import (
	"math"
	"slices"
)

// Median of v; NaN (shown as "not run") for none.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Max of v, at least 0.
func Max(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
