package fakeagent

import (
	"sync"
	"time"
)

// limiter imitates the agent's endpoint-create API limiter (daemon/restapi/api_limits.go: rate 0.5/s,
// burst 4, 4 in parallel): a token bucket plus a cap on requests in flight, answering 429 at once
// instead of queueing (the agent queues up to its max wait, then answers 429).
type limiter struct {
	mu       sync.Mutex
	rate     float64
	burst    float64
	tokens   float64
	last     time.Time
	parallel int
	inFlight int
}

// SetRateLimit enables the endpoint-create limiter; rate 0 disables it.
func (a *Agent) SetRateLimit(rate float64, burst, parallel int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if rate <= 0 {
		a.limiter = nil
		return
	}
	a.limiter = &limiter{rate: rate, burst: float64(burst), tokens: float64(burst), last: time.Now(), parallel: parallel}
}

// admit takes a token and a parallel slot, or reports false.
func (a *Agent) admit() (release func(), ok bool) {
	a.mu.Lock()
	l := a.limiter
	a.mu.Unlock()
	if l == nil {
		return func() {}, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	if l.tokens < 1 || (l.parallel > 0 && l.inFlight >= l.parallel) {
		return nil, false
	}
	l.tokens--
	l.inFlight++
	return func() { l.mu.Lock(); l.inFlight--; l.mu.Unlock() }, true
}
