package stats

import (
	"math"
	"testing"
)

func TestMedianAndMax(t *testing.T) {
	for _, c := range []struct {
		v           []float64
		median, max float64
	}{
		{[]float64{3, 1, 2}, 2, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 4},
		{[]float64{-1}, -1, 0},
	} {
		if got := Median(c.v); got != c.median {
			t.Errorf("Median(%v) = %v, want %v", c.v, got, c.median)
		}
		if got := Max(c.v); got != c.max {
			t.Errorf("Max(%v) = %v, want %v", c.v, got, c.max)
		}
	}
	if got := Median(nil); !math.IsNaN(got) {
		t.Errorf("Median(nil) = %v, want NaN", got)
	}
	v := []float64{3, 1, 2}
	Median(v)
	if v[0] != 3 {
		t.Error("Median sorted its argument")
	}
}
