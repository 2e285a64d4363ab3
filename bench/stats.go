package bench

import (
	"cmp"
	"math/rand/v2"
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

// median is the lower median of v (RSS, counts, ratios), 0 when v is empty.
func median[T cmp.Ordered](v []T) T {
	var zero T
	if len(v) == 0 {
		return zero
	}
	sorted := slices.Clone(v)
	slices.Sort(sorted)
	return sorted[(len(sorted)-1)/2]
}

// ms renders a duration in milliseconds with one decimal.
func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// overheadRatio is (median(x) − median(base)) / (median(ref) − median(base)): x's overhead over base
// in units of ref's.
func overheadRatio(base, x, ref sample) float64 {
	return ratio(ms(x.median()-base.median()), ms(ref.median()-base.median()))
}

// Bootstrap of a ratio's uncertainty: this many resamples, from a fixed seed, so the interval is the
// same every time the report is written from the same samples.
const (
	bootstrapResamples = 2000
	bootstrapSeed      = 16
)

// ratioInterval is the 95 % percentile bootstrap interval of overheadRatio. When the three samples are
// rounds of one run (same length: the variants of a round ran back to back) the rounds are resampled
// together, keeping what a round's load did to all three; otherwise each sample on its own.
func ratioInterval(base, x, ref sample) (lo, hi float64) {
	if len(base) == 0 || len(x) == 0 || len(ref) == 0 {
		return 0, 0
	}
	rng := rand.New(rand.NewPCG(bootstrapSeed, 0))
	paired := len(base) == len(x) && len(x) == len(ref)
	pick := func(s sample, idx []int) sample {
		out := make(sample, len(s))
		for i := range out {
			if paired {
				out[i] = s[idx[i]]
			} else {
				out[i] = s[rng.IntN(len(s))]
			}
		}
		return out
	}
	ratios := make([]float64, bootstrapResamples)
	idx := make([]int, len(base))
	for r := range ratios {
		for i := range idx {
			idx[i] = rng.IntN(len(base))
		}
		ratios[r] = overheadRatio(pick(base, idx), pick(x, idx), pick(ref, idx))
	}
	slices.Sort(ratios)
	return ratios[bootstrapResamples*25/1000], ratios[bootstrapResamples*975/1000-1]
}
