package fakeagent

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"
)

// The auto-adjusting endpoint-create limiter against pkg/rate/api_limiter.go (cilium v1.20.2).

// Expected values computed by hand from requestFinished's formulas with endpoint-create's defaults
// (estimate 2 s, rate 0.5, burst 4, parallel 4, min parallel 2, no max, delayed 0.5, max factor 100):
// f = clamp(2/mean, 1/100, 100) (calculateAdjustmentFactor); rate = 0.5·f within [0.005, 50]
// (adjustedLimit); d = 4 + (4f − 4)·0.5, at least 2 (delayedAdjustment); burst = round(d) and
// parallel = trunc(d), both within [0.04, 400] (adjustedBurst, adjustedParallelRequests).
func TestAdjustedLimits(t *testing.T) {
	cases := []struct {
		mean            float64 // seconds
		rate            float64
		burst, parallel int
	}{
		{2, 0.5, 4, 4},             // f 1: the start values
		{0.5, 2, 10, 10},           // f 4: d = 4 + 12/2 = 10
		{0.1, 10, 42, 42},          // f 20: d = 4 + 76/2 = 42
		{0.01, 50, 202, 202},       // f 200 → 100: d = 4 + 396/2 = 202
		{0.001, 50, 202, 202},      // f clamped alike
		{1.6, 0.625, 5, 4},         // f 1.25: d = 4.5, rounded up for the burst, truncated for parallel
		{0.7, 0.5 * 2 / 0.7, 8, 7}, // f 2.857: d = 7.714
		{4, 0.25, 3, 3},            // f 0.5: d = 4 − 2/2 = 3
		{10, 0.1, 2, 2},            // f 0.2: d = 2.4
		// f 0.002 → 0.01: rate at its floor 0.5/100, d = 2.02. Either floor (f's in calculateAdjustmentFactor,
		// the rate's in adjustmentLimit) alone gives this: with one MaxAdjustmentFactor they coincide.
		{1000, 0.005, 2, 2},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.mean), func(t *testing.T) {
			rate, burst, parallel := EndpointCreateLimit().adjusted(tc.mean)
			if math.Abs(rate-tc.rate) > 1e-9 || burst != tc.burst || parallel != tc.parallel {
				t.Errorf("mean %gs: rate %g burst %d parallel %d, want %g %d %d", tc.mean, rate, burst, parallel, tc.rate, tc.burst, tc.parallel)
			}
		})
	}
	// MaxParallelRequests caps the parallel requests only (delayedAdjustment's max).
	p := EndpointCreateLimit()
	p.MaxParallelRequests = 16
	if _, burst, parallel := p.adjusted(0.1); burst != 42 || parallel != 16 {
		t.Errorf("max parallel 16, mean 0.1 s: burst %d parallel %d, want 42 16", burst, parallel)
	}
}

// state is the limiter's current rate, burst, parallel cap and mean processing time.
func state(a *Agent) (rate float64, burst, parallel int, mean float64, n int) {
	l := a.limiter
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rate, int(l.burst), l.parallel, l.adjust.mean, len(l.adjust.durations)
}

// putAll sends n PUTs at once (IPs from first on) and returns their statuses and times.
func putAll(t *testing.T, a *Agent, tag string, first, n int) ([]int, []time.Duration) {
	codes, took := make([]int, n), make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			codes[i], _ = put(t, client(a, 10*time.Second), request(fmt.Sprintf("%s%d", tag, i), fmt.Sprintf("10.244.2.%d", first+i)))
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	return codes, took
}

func allCreated(t *testing.T, codes []int) {
	t.Helper()
	for i, c := range codes {
		if c != http.StatusCreated {
			t.Fatalf("PUT %d: %d", i, c)
		}
	}
}

// Processing is from admission to the handler's end: with a synchronous build that includes the first
// regeneration (the PUT waits for it in its slot), without one it does not. The limits follow the mean.
func TestAgentLimiterFollowsProcessingTime(t *testing.T) {
	p := EndpointCreateLimit()
	p.SkipInitial = 100 // no waiting here: only the measurement and the adjustment
	cases := []struct {
		name      string
		sync      bool
		min, max  float64 // the mean processing time, seconds
		slowLimit bool
	}{
		{"synchronous build", true, 0.4, 0.6, true},
		{"asynchronous build", false, 0, 0.02, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgent(t)
			a.SetRateLimitAgent(p)
			a.SetRegeneration(400 * time.Millisecond)
			var wg sync.WaitGroup
			for i := range 10 {
				wg.Go(func() {
					req := request(fmt.Sprint("s", i), fmt.Sprintf("10.244.3.%d", i))
					req.SyncBuildEndpoint = tc.sync
					if code, msg := put(t, client(a, 5*time.Second), req); code != http.StatusCreated {
						t.Errorf("PUT: %d %s", code, msg)
					}
				})
			}
			wg.Wait()
			rate, burst, parallel, mean, n := state(a)
			if n != 10 || mean < tc.min || mean > tc.max {
				t.Fatalf("%d processing times, mean %.3fs; want 10 with a mean in [%g, %g]", n, mean, tc.min, tc.max)
			}
			wr, wb, wp := p.adjusted(mean)
			if rate != wr || burst != wb || parallel != wp {
				t.Errorf("rate %g burst %d parallel %d, want %g %d %d for mean %.3fs", rate, burst, parallel, wr, wb, wp, mean)
			}
			// 2 s / ~0.4 s: f ≈ 5 (rate ≈ 2.5/s); an asynchronous PUT takes < 20 ms: f = 100, 50/s.
			if tc.slowLimit && (rate < 1.5 || rate > 2.6) || !tc.slowLimit && (rate != 50 || burst != 202 || parallel != 202) {
				t.Errorf("rate %g burst %d parallel %d for mean %.3fs", rate, burst, parallel, mean)
			}
		})
	}
}

// The mean is over the last MeanOver successful requests: a PUT refused after admission (400, IP in
// use) does not count, and old slow ones drop out.
func TestAgentLimiterMeanOverLastSuccessful(t *testing.T) {
	p := EndpointCreateLimit()
	p.SkipInitial, p.MeanOver, p.EstimatedProcessingDuration = 100, 3, 100*time.Millisecond
	a := newAgent(t)
	a.SetRateLimitAgent(p)
	a.SetDelay(250 * time.Millisecond)
	codes, _ := putAll(t, a, "slow", 0, 3)
	allCreated(t, codes)
	// f = 0.1/~0.25 ≈ 0.4: rate ≈ 0.2/s, d = 2 + 2f ≈ 2.8: burst 3, parallel 2 (robust for a mean in [0.23, 0.33] s).
	rate, burst, parallel, mean, _ := state(a)
	if rate < 0.15 || rate > 0.22 || burst != 3 || parallel != 2 {
		t.Fatalf("after slow PUTs (mean %.3fs): rate %g burst %d parallel %d, want ≈0.2, 3, 2", mean, rate, burst, parallel)
	}
	a.SetDelay(0)
	if code, _ := put(t, client(a, 5*time.Second), request("dup", "10.244.2.0")); code != http.StatusBadRequest {
		t.Fatalf("PUT of an IP in use: %d", code)
	}
	if _, _, _, m, n := state(a); m != mean || n != 3 {
		t.Fatalf("a refused PUT changed the mean: %.3fs → %.3fs (%d samples)", mean, m, n)
	}
	codes, _ = putAll(t, a, "fast", 10, 3)
	allCreated(t, codes)
	rate, burst, parallel, mean, n := state(a)
	if n != 3 || mean > 0.002 || rate != 50 || burst != 202 || parallel != 202 {
		t.Fatalf("after 3 fast PUTs: %d samples, mean %.4fs, rate %g burst %d parallel %d; want 3, < 2 ms, 50 202 202", n, mean, rate, burst, parallel)
	}
}

// The first SkipInitial requests bypass the parallel cap and the token bucket: of nine 300 ms PUTs at
// once, 4 skip, 4 take the 4 tokens and the 4 parallel shares, and only the ninth waits (for a share,
// then a token). Without the skip only 4 would run at once.
func TestAgentLimiterSkipInitial(t *testing.T) {
	a := newAgent(t)
	a.SetRateLimitAgent(EndpointCreateLimit())
	a.SetDelay(300 * time.Millisecond)
	codes, took := putAll(t, a, "k", 0, 9)
	allCreated(t, codes)
	quick := 0
	for _, d := range took {
		if d < 500*time.Millisecond {
			quick++
		}
	}
	if quick != 8 {
		t.Errorf("%d of 9 PUTs ran at once (%v), want 8", quick, took)
	}
}

// A request whose token would come after MaxWaitDuration gets 429, after the mean processing time
// (the agent's pacing). MaxAdjustmentFactor 1 keeps the limits at their start values.
func TestAgentLimiterRefusesAfterPacing(t *testing.T) {
	p := EndpointCreateLimit()
	p.SkipInitial, p.RateBurst, p.MaxWaitDuration, p.MaxAdjustmentFactor = 0, 1, 300*time.Millisecond, 1
	a := newAgent(t)
	a.SetRateLimitAgent(p)
	a.SetDelay(400 * time.Millisecond)
	if code, _ := put(t, client(a, 5*time.Second), request("t1", "10.244.4.1")); code != http.StatusCreated {
		t.Fatalf("first PUT: %d", code)
	}
	// 0.2 token earned meanwhile at 0.5/s: the next one is 1.6 s away, over the 300 ms max wait.
	start := time.Now()
	code, _ := put(t, client(a, 5*time.Second), request("t2", "10.244.4.2"))
	if took := time.Since(start); code != http.StatusTooManyRequests || took < 400*time.Millisecond || took > time.Second {
		t.Fatalf("second PUT: %d after %s, want 429 after the mean processing time (~400 ms)", code, took)
	}
}

// The weighted semaphore serves waiters in order: one that does not fit holds up smaller ones behind
// it; one whose context ends leaves the queue and lets the next in.
func TestWeightedSemaphore(t *testing.T) {
	s := &weighted{free: 10}
	ctx := context.Background()
	if !s.acquire(ctx, 6) {
		t.Fatal("6 of 10")
	}
	big := make(chan bool)
	go func() { big <- s.acquire(ctx, 8) }()
	time.Sleep(20 * time.Millisecond)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if s.acquire(short, 2) {
		t.Fatal("2 fit beside 6 but a waiter for 8 is ahead: must wait")
	}
	s.release(6)
	if !<-big {
		t.Fatal("the waiter for 8 after the release")
	}
	s.release(8)
	if !s.acquire(ctx, 10) {
		t.Fatal("the whole capacity after both releases")
	}
}
