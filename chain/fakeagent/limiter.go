package fakeagent

import (
	"context"
	"math"
	"sync"
	"time"
)

// limiter imitates the agent's endpoint-create API limiter (daemon/restapi/api_limits.go: rate 0.5/s,
// burst 4, 4 in parallel): a token bucket plus a cap on requests in flight. By default it answers 429
// at once; with a max wait (SetRateLimitQueue) it queues like the agent (pkg/rate/api_limiter.go): wait
// for a parallel slot, then for a token, and answer 429 only when that would exceed the max wait.
// SetRateLimitAgent adds the agent's auto-adjustment of rate, burst and parallel cap.
type limiter struct {
	mu       sync.Mutex
	rate     float64
	burst    float64
	tokens   float64 // negative while reservations wait for tokens
	last     time.Time
	parallel int
	inFlight int

	maxWait time.Duration
	slots   chan struct{} // the parallel cap when queueing
	adjust  *adjusting    // SetRateLimitAgent's state; nil in the fixed modes
}

// SetRateLimit enables the endpoint-create limiter; rate 0 disables it.
func (a *Agent) SetRateLimit(rate float64, burst, parallel int) {
	a.SetRateLimitQueue(rate, burst, parallel, 0)
}

// SetRateLimitQueue is SetRateLimit where a request waits up to maxWait (the agent's MaxWaitDuration,
// 60 s for endpoint-create) for a slot and a token before it gets 429; maxWait 0 answers 429 at once.
// These parameters stay fixed; SetRateLimitAgent adjusts them as the agent does.
func (a *Agent) SetRateLimitQueue(rate float64, burst, parallel int, maxWait time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if rate <= 0 {
		a.limiter = nil
		return
	}
	l := &limiter{rate: rate, burst: float64(burst), tokens: float64(burst), last: time.Now(), parallel: parallel, maxWait: maxWait}
	if maxWait > 0 && parallel > 0 {
		l.slots = make(chan struct{}, parallel)
	}
	a.limiter = l
}

// admit takes a token and a parallel slot, or reports false (answer 429).
func (a *Agent) admit(ctx context.Context) (release func(), ok bool) {
	a.mu.Lock()
	l := a.limiter
	a.mu.Unlock()
	if l == nil {
		return func() {}, true
	}
	if l.adjust != nil {
		return l.waitAdjusting(ctx)
	}
	if l.maxWait > 0 {
		return l.wait(ctx)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill(time.Now())
	if l.tokens < 1 || (l.parallel > 0 && l.inFlight >= l.parallel) {
		return nil, false
	}
	l.tokens--
	l.inFlight++
	return func() { l.mu.Lock(); l.inFlight--; l.mu.Unlock() }, true
}

// refill adds the tokens earned since the last call; l.mu is held.
func (l *limiter) refill(now time.Time) {
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
}

// wait is the queueing admission: slot first (held while waiting for the token, as the agent does).
func (l *limiter) wait(ctx context.Context) (release func(), ok bool) {
	start := time.Now()
	timer := time.NewTimer(l.maxWait)
	defer timer.Stop()
	free := func() {}
	if l.slots != nil {
		select {
		case l.slots <- struct{}{}:
			free = func() { <-l.slots }
		case <-timer.C:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
	delay := l.reserve()
	if time.Since(start)+delay > l.maxWait {
		l.unreserve() // the reservation is cancelled, as the agent does before answering 429
		free()
		return nil, false
	}
	if delay > 0 && !sleepCtx(ctx, delay) {
		l.unreserve()
		free()
		return nil, false
	}
	return free, true
}

// reserve takes a token, ahead of time if there is none (rate.Limiter.Reserve), and says how long
// until it is there.
func (l *limiter) reserve() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill(time.Now())
	l.tokens--
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / l.rate * float64(time.Second))
}

// unreserve gives a reserved token back. rate.Reservation.Cancel gives back less when later
// reservations were made meanwhile; the fake gives back the whole token.
func (l *limiter) unreserve() { l.mu.Lock(); l.tokens++; l.mu.Unlock() }

// AgentLimit is an auto-adjusting API limiter's configuration, named as in pkg/rate/api_limiter.go's
// APILimiterParameters (AutoAdjust on), as NewAPILimiter leaves them: no zeros where it fills in a
// default (MeanOver, MinParallelRequests, RateBurst, the two factors); MaxWaitDuration 0 waits forever.
type AgentLimit struct {
	EstimatedProcessingDuration time.Duration
	RateLimit                   float64 // per second
	RateBurst                   int
	ParallelRequests            int
	MinParallelRequests         int
	MaxParallelRequests         int // 0: no maximum
	SkipInitial                 int
	MaxWaitDuration             time.Duration
	MeanOver                    int
	DelayedAdjustmentFactor     float64
	MaxAdjustmentFactor         float64
}

// EndpointCreateLimit is the agent's endpoint-create limiter (daemon/restapi/api_limits.go), with the
// values NewAPILimiter puts in for those it leaves 0 (MeanOver, DelayedAdjustmentFactor,
// MaxAdjustmentFactor).
func EndpointCreateLimit() AgentLimit {
	return AgentLimit{EstimatedProcessingDuration: 2 * time.Second, RateLimit: 0.5, RateBurst: 4, ParallelRequests: 4,
		MinParallelRequests: 2, SkipInitial: 4, MaxWaitDuration: 60 * time.Second, MeanOver: 10,
		DelayedAdjustmentFactor: 0.5, MaxAdjustmentFactor: 100}
}

// SetRateLimitAgent enables the endpoint-create limiter as the agent runs it (APILimiter.wait and
// requestFinished): the first SkipInitial PUTs pass unlimited; after each PUT answered 2xx, rate,
// burst and parallel cap follow the mean processing time (admission to the handler's end) of the last
// MeanOver such PUTs relative to EstimatedProcessingDuration.
func (a *Agent) SetRateLimitAgent(p AgentLimit) {
	l := &limiter{rate: p.RateLimit, burst: float64(p.RateBurst), tokens: float64(p.RateBurst), last: time.Now(),
		parallel: p.ParallelRequests, maxWait: p.MaxWaitDuration, adjust: &adjusting{p: p, sem: weighted{free: semResolution}}}
	a.mu.Lock()
	a.limiter = l
	a.mu.Unlock()
}

// adjusting is the state of an auto-adjusting limiter beyond the token bucket; l.mu guards it (not sem).
type adjusting struct {
	p         AgentLimit
	scheduled int             // requestsScheduled
	durations []time.Duration // processingDurations
	mean      float64         // meanProcessingDuration, seconds
	sem       weighted        // parallelWaitSemaphore
}

// waitAdjusting is APILimiter.wait. A request takes semResolution/parallel of the semaphore, parallel
// as it is when the request arrives, so a new cap applies to later requests only; then a token. When
// waiting for it would exceed MaxWaitDuration it answers 429, after sleeping the mean processing
// time with its share held (the agent's pacing of clients that retry at once). The release is
// requestFinished: a request answered 2xx adds its processing time and adjusts the limits.
func (l *limiter) waitAdjusting(ctx context.Context) (release func(), ok bool) {
	start := time.Now()
	ad := l.adjust
	l.mu.Lock()
	ad.scheduled++
	skip := ad.p.SkipInitial > 0 && ad.scheduled <= ad.p.SkipInitial
	parallel, mean := l.parallel, ad.mean
	l.mu.Unlock()
	free := func() {}
	if !skip {
		if parallel > 0 {
			w := int64(semResolution / parallel)
			wctx := ctx
			if l.maxWait > 0 {
				var cancel context.CancelFunc
				wctx, cancel = context.WithTimeout(ctx, l.maxWait)
				defer cancel()
			}
			if !ad.sem.acquire(wctx, w) {
				return nil, false
			}
			free = func() { ad.sem.release(w) }
		}
		delay := l.reserve()
		if l.maxWait > 0 && time.Since(start)+delay > l.maxWait {
			l.unreserve()
			time.Sleep(time.Duration(mean * float64(time.Second)))
			free()
			return nil, false
		}
		if delay > 0 && !sleepCtx(ctx, delay) {
			l.unreserve()
			free()
			return nil, false
		}
	}
	admitted := time.Now()
	return func() {
		free()
		if s := answered(ctx); s >= 200 && s < 300 {
			l.finished(time.Since(admitted))
		}
	}, true
}

// finished is requestFinished for a successful request: the mean over the last MeanOver processing
// times, then the limits adjusted to it (the tokens earned so far count at the old rate, as
// rate.Limiter.SetLimit does).
func (l *limiter) finished(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ad := l.adjust
	ad.durations = append(ad.durations, d)
	if exceed := len(ad.durations) - ad.p.MeanOver; exceed > 0 {
		ad.durations = ad.durations[exceed:]
	}
	total := 0.0
	for _, d := range ad.durations {
		total += d.Seconds()
	}
	ad.mean = total / float64(len(ad.durations))
	l.refill(time.Now())
	var burst int
	l.rate, burst, l.parallel = ad.p.adjusted(ad.mean)
	l.burst = float64(burst)
}

// adjusted is what requestFinished sets for a mean processing time of mean seconds:
// calculateAdjustmentFactor, then adjustedLimit, adjustedBurst and adjustedParallelRequests, each
// from the configured start value (not from the current one).
func (p AgentLimit) adjusted(mean float64) (rate float64, burst, parallel int) {
	f := p.EstimatedProcessingDuration.Seconds() / mean
	f = max(min(f, p.MaxAdjustmentFactor), 1/p.MaxAdjustmentFactor)
	// delayedAdjustment: only DelayedAdjustmentFactor of the change, within [lo, hi] (0: no bound).
	delayed := func(current, lo, hi float64) float64 {
		n := current + (current*f-current)*p.DelayedAdjustmentFactor
		if lo > 0 && n < lo {
			n = lo
		}
		if hi > 0 && n > hi {
			n = hi
		}
		return n
	}
	// adjustmentLimit: never beyond MaxAdjustmentFactor of the start value either way.
	limit := func(v, initial float64) float64 {
		return max(initial/p.MaxAdjustmentFactor, min(initial*p.MaxAdjustmentFactor, v))
	}
	rate = limit(p.RateLimit*f, p.RateLimit)
	burst = int(math.Round(limit(delayed(float64(p.RateBurst), float64(p.MinParallelRequests), 0), float64(p.RateBurst))))
	parallel = int(limit(delayed(float64(p.ParallelRequests), float64(p.MinParallelRequests), float64(p.MaxParallelRequests)), float64(p.ParallelRequests)))
	return rate, burst, parallel
}

// semResolution is waitSemaphoreResolution: the weighted semaphore's capacity.
const semResolution = 10000000

// weighted is golang.org/x/sync/semaphore.Weighted as the agent's limiter uses it: waiters are served
// in arrival order, a waiter that does not fit holds up those behind it.
type weighted struct {
	mu      sync.Mutex
	free    int64
	waiters []*semWaiter
}

type semWaiter struct {
	n     int64
	ready chan struct{}
}

// acquire takes n, or reports false when ctx ends first.
func (s *weighted) acquire(ctx context.Context, n int64) bool {
	s.mu.Lock()
	if len(s.waiters) == 0 && s.free >= n {
		s.free -= n
		s.mu.Unlock()
		return true
	}
	w := &semWaiter{n: n, ready: make(chan struct{})}
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()
	select {
	case <-w.ready:
		return true
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-w.ready: // granted meanwhile: give it back
		s.free += n
	default:
		for i, x := range s.waiters {
			if x == w {
				s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
				break
			}
		}
	}
	s.grant()
	return false
}

func (s *weighted) release(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free += n
	s.grant()
}

// grant wakes waiters in order while the first one fits; s.mu is held.
func (s *weighted) grant() {
	for len(s.waiters) > 0 && s.free >= s.waiters[0].n {
		w := s.waiters[0]
		s.free -= w.n
		s.waiters = s.waiters[1:]
		close(w.ready)
	}
}
