package bench

import (
	"math/rand/v2"
	"testing"
	"time"
)

// The overhead ratio's interval resamples rounds together: a load that moves every variant of a round
// alike (drift ±5 ms, far more than the overheads' own noise) must not widen it. The true ratio is
// 0.5 (5 ms over 10 ms).
func TestRatioIntervalKeepsRoundsTogether(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := func() time.Duration { return time.Duration(rng.IntN(400)) * time.Microsecond }
	var base, x, ref sample
	for range 150 {
		drift := time.Duration(rng.IntN(10000)-5000) * time.Microsecond
		b := 20*time.Millisecond + drift
		base, x, ref = append(base, b+noise()), append(x, b+5*time.Millisecond+noise()), append(ref, b+10*time.Millisecond+noise())
	}
	lo, hi := ratioInterval(base, x, ref)
	if lo > 0.5 || hi < 0.5 || hi-lo > 0.15 {
		t.Errorf("interval %.2f–%.2f: want it around 0.5 and narrower than 0.15", lo, hi)
	}
	if r := overheadRatio(base, x, ref); r < lo || r > hi {
		t.Errorf("ratio %.2f outside its interval %.2f–%.2f", r, lo, hi)
	}
	// Rounds of unequal length (a variant failed a round) are resampled each on its own: wider.
	ulo, uhi := ratioInterval(base, x[1:], ref)
	if uhi-ulo <= hi-lo {
		t.Errorf("unpaired interval %.2f–%.2f not wider than the paired %.2f–%.2f", ulo, uhi, lo, hi)
	}
}
