package fakeagent

import (
	"context"
	"sync"
	"time"
)

// limiter imitates the agent's endpoint-create API limiter (daemon/restapi/api_limits.go: rate 0.5/s,
// burst 4, 4 in parallel): a token bucket plus a cap on requests in flight. By default it answers 429
// at once; with a max wait (SetRateLimitQueue) it queues like the agent (pkg/rate/api_limiter.go): wait
// for a parallel slot, then for a token, and answer 429 only when that would exceed the max wait.
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
}

// SetRateLimit enables the endpoint-create limiter; rate 0 disables it.
func (a *Agent) SetRateLimit(rate float64, burst, parallel int) {
	a.SetRateLimitQueue(rate, burst, parallel, 0)
}

// SetRateLimitQueue is SetRateLimit where a request waits up to maxWait (the agent's MaxWaitDuration,
// 60 s for endpoint-create) for a slot and a token before it gets 429; maxWait 0 answers 429 at once.
// The agent's auto-adjustment of these parameters is not imitated.
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
	l.mu.Lock()
	l.refill(time.Now())
	l.tokens--
	var delay time.Duration
	if l.tokens < 0 {
		delay = time.Duration(-l.tokens / l.rate * float64(time.Second))
	}
	if time.Since(start)+delay > l.maxWait {
		l.tokens++ // the reservation is cancelled, as the agent does before answering 429
		l.mu.Unlock()
		free()
		return nil, false
	}
	l.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			l.mu.Lock()
			l.tokens++
			l.mu.Unlock()
			free()
			return nil, false
		}
	}
	return free, true
}
