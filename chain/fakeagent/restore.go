package fakeagent

import (
	"context"
	"net/http"

	"github.com/cilium/cilium/api/v1/models"
)

// While the real agent restores its endpoints after a start, PUT and DELETE on /endpoint wait for the
// restoration to finish, and a client that gives up first gets 503 "api not ready"
// (pkg/endpoint/api/endpoint_api_handler.go: the Handle methods of EndpointPutEndpointIDHandler,
// EndpointDeleteEndpointIDHandler and EndpointDeleteEndpointHandler call waitReadyFn, which
// newEndpointAPIHandler in pkg/endpoint/api/cell.go builds on
// WaitForEndpointRestoreWithoutRegeneration). GETs are answered meanwhile.

// SetRestoring starts (true) or ends (false) a restoration: PUT and DELETE wait until it ends.
func (a *Agent) SetRestoring(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-a.restored: // not restoring now
		if on {
			a.restored = make(chan struct{})
		}
	default:
		if !on {
			close(a.restored)
		}
	}
}

// waitRestored waits for the restoration to end; false (the caller answers 503) if the client left.
func (a *Agent) waitRestored(w http.ResponseWriter, ctx context.Context) bool {
	a.mu.Lock()
	restored := a.restored
	a.mu.Unlock()
	select {
	case <-restored:
		return true
	case <-ctx.Done():
		writeJSON(w, http.StatusServiceUnavailable, models.Error("api not ready"))
		return false
	}
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// deleteParallel is the endpoint-delete API limiter of the agent (daemon/restapi/api_limits.go,
// apiRateLimitDefaults[APIRequestEndpointDelete]): 4 requests in parallel (MinParallelRequests 4, so
// auto-adjustment never goes below), no rate limit and no MaxWaitDuration, so a DELETE waits for a
// slot as long as its client does. The auto-adjustment upwards is not imitated.
const deleteParallel = 4

// deleteSlot takes one of the parallel slots; false (429, as the agent answers when
// apiLimiterSet.Wait fails) if the client left first.
func (a *Agent) deleteSlot(w http.ResponseWriter, ctx context.Context) (release func(), ok bool) {
	select {
	case a.deletes <- struct{}{}:
		return func() { <-a.deletes }, true
	case <-ctx.Done():
		writeJSON(w, http.StatusTooManyRequests, models.Error("endpoint-delete: request cancelled while waiting for rate limiting"))
		return nil, false
	}
}
