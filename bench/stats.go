package bench

import (
	"slices"
	"time"
)

// sample is a set of durations; quantiles use the nearest-rank method on a sorted copy.
type sample []time.Duration

func (s sample) quantile(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	sorted := slices.Clone(s)
	slices.Sort(sorted)
	i := int(q*float64(len(sorted)) + 0.5)
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

func (s sample) median() time.Duration { return s.quantile(0.5) }
func (s sample) p95() time.Duration    { return s.quantile(0.95) }

// medianInt is the median of integers (RSS, counts).
func medianInt(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	sorted := slices.Clone(v)
	slices.Sort(sorted)
	return sorted[(len(sorted)-1)/2]
}

// medianFloat is the median of floats (ratios, ms).
func medianFloat(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sorted := slices.Clone(v)
	slices.Sort(sorted)
	return sorted[(len(sorted)-1)/2]
}

// ms renders a duration in milliseconds with one decimal.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
