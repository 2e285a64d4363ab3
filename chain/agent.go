package chain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cilium/cilium/api/v1/client/daemon"
	"github.com/cilium/cilium/api/v1/client/endpoint"
	"github.com/cilium/cilium/api/v1/models"
	"github.com/go-openapi/runtime"
	runtime_client "github.com/go-openapi/runtime/client"
	"github.com/go-openapi/strfmt"
)

// Agent talks to the cilium-agent REST API on its unix socket. Transient failures (socket missing,
// connection refused, 429, 503) are retried with backoff until the caller's context expires.
type Agent struct {
	socket string
	// The generated client's two services the plugin calls, not the whole CiliumAPI, which links the
	// bgp, ipam, policy, prefilter and service clients too and builds every one of them per call.
	endpoints endpoint.ClientService
	daemon    daemon.ClientService
	hints     *retryHints
	// backoff bounds; tests shorten them.
	minBackoff, maxBackoff time.Duration
	// failFastDown: give up at once when nothing listens (no socket, refused) instead of waiting for a
	// restarting agent. DEL wants this: the deletion queue covers an agent that is down or starting.
	failFastDown bool
}

// apiBasePath is the generated client's DefaultBasePath (api/v1/client), which only the CiliumAPI
// package declares.
const apiBasePath = "/v1"

// NewAgent returns a client for the agent listening on socket. Nothing is dialled until a call.
func NewAgent(socket string) *Agent {
	hints := &retryHints{}
	rt := runtime_client.New("localhost", apiBasePath, []string{"http"})
	rt.Transport = &hintingTransport{next: &unixTransport{socket: socket}, hints: hints}
	return &Agent{
		socket:     socket,
		endpoints:  endpoint.New(rt, strfmt.Default),
		daemon:     daemon.New(rt, strfmt.Default),
		hints:      hints,
		minBackoff: 50 * time.Millisecond,
		maxBackoff: 2 * time.Second,
	}
}

// failingFast returns a copy of the client that does not wait for an agent that is down.
func (a *Agent) failingFast() *Agent {
	c := *a
	c.failFastDown = true
	return &c
}

// Socket is the path this client dials.
func (a *Agent) Socket() string { return a.socket }

// PutEndpoint registers the endpoint (PUT /endpoint/cilium-local:0). sent reports whether any attempt
// may have reached the agent's handler, i.e. whether an endpoint may exist now despite an error.
func (a *Agent) PutEndpoint(ctx context.Context, req *models.EndpointChangeRequest) (ep *models.Endpoint, sent bool, err error) {
	err = a.retry(ctx, "PUT /endpoint", transient, func(ctx context.Context) error {
		var wrote atomic.Bool
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }})
		params := endpoint.NewPutEndpointIDParamsWithContext(ctx).WithID("cilium-local:0").WithEndpoint(req)
		ok, err := a.endpoints.PutEndpointID(params, slimCreated)
		if wrote.Load() && !refused(err) {
			sent = true
		}
		if err == nil && ok != nil {
			ep = ok.Payload
		}
		return err
	})
	return ep, sent, err
}

// DeleteEndpoint deletes by endpoint ID; an endpoint that is already gone is not an error.
func (a *Agent) DeleteEndpoint(ctx context.Context, id string) error {
	return a.retry(ctx, "DELETE /endpoint", deleteRetryable, func(ctx context.Context) error {
		_, _, err := a.endpoints.DeleteEndpointID(endpoint.NewDeleteEndpointIDParamsWithContext(ctx).WithID(id))
		if statusCode(err) == http.StatusNotFound {
			return nil
		}
		return err
	})
}

// GetEndpoint is GET /endpoint/{id}: state, health, interface and addressing in one call (opts: a
// slim reader of the generated client). An unknown endpoint is (nil, nil).
func (a *Agent) GetEndpoint(ctx context.Context, id string, opts ...endpoint.ClientOption) (*models.Endpoint, error) {
	return a.getEndpoint(ctx, id, func(error) {}, opts...)
}

// getEndpoint is GetEndpoint; failed sees the error of every attempt that failed.
func (a *Agent) getEndpoint(ctx context.Context, id string, failed func(error), opts ...endpoint.ClientOption) (*models.Endpoint, error) {
	var ep *models.Endpoint
	err := a.retry(ctx, "GET /endpoint/{id}", readRetryable, func(ctx context.Context) error {
		ok, err := a.endpoints.GetEndpointID(endpoint.NewGetEndpointIDParamsWithContext(ctx).WithID(id), opts...)
		if err == nil {
			ep = ok.Payload
		}
		if statusCode(err) == http.StatusNotFound {
			return nil
		}
		if err != nil {
			failed(err)
		}
		return err
	})
	return ep, err
}

// errLostInRestart: the endpoint vanished while the agent was away. An agent that stops before an
// endpoint's first regeneration does not always restore it; registering it again is what is left to do.
var errLostInRestart = errors.New("the agent restarted and no longer has the endpoint")

// The interval between polls of an endpoint's first regeneration: a quarter of the time waited so far,
// within these bounds.
const (
	minPoll = 10 * time.Millisecond
	maxPoll = 200 * time.Millisecond
)

// WaitRegenerated polls GET /endpoint/{id} until the endpoint's first regeneration is done: a realized
// policy revision ≥ 1, which is what the agent's WaitForFirstRegeneration waits for when a create asks
// for a synchronous build. Only then are its programs on the host veth and its policy in force. An
// endpoint gone after the agent was unreachable is errLostInRestart; gone otherwise, deleted.
func (a *Agent) WaitRegenerated(ctx context.Context, id string) error {
	var ep *models.Endpoint
	away := false // a GET found no agent, or lost its connection
	noteAway := func(err error) { away = away || notConnected(err) || connectionLost(err) }
	late := func() error {
		return fmt.Errorf("%w: endpoint %s: first regeneration not done within the deadline (state %q)", ErrAgentUnavailable, id, endpointState(ep))
	}
	start := time.Now()
	for {
		var err error
		ep, err = a.getEndpoint(ctx, id, noteAway, slimRegeneration)
		switch {
		case err != nil:
			return err
		case ep == nil && away:
			return fmt.Errorf("%w: endpoint %s: %w", ErrAgentUnavailable, id, errLostInRestart)
		case ep == nil:
			return fmt.Errorf("%w: endpoint %s was deleted while waiting for its first regeneration", ErrAgentFailed, id)
		case realizedRevision(ep) >= 1:
			return nil
		}
		// A regeneration that takes long is polled less often; one that ends is seen at most a quarter
		// late.
		poll := min(max(time.Since(start)/4, minPoll), maxPoll)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < poll+attemptAllowance {
			return late()
		}
		select {
		case <-time.After(poll):
		case <-ctx.Done():
			return late()
		}
	}
}

// ListEndpoints is GET /endpoint.
func (a *Agent) ListEndpoints(ctx context.Context) ([]*models.Endpoint, error) {
	var eps []*models.Endpoint
	err := a.retry(ctx, "GET /endpoint", readRetryable, func(ctx context.Context) error {
		ok, err := a.endpoints.GetEndpoint(endpoint.NewGetEndpointParamsWithContext(ctx))
		if err == nil {
			eps = ok.Payload
		}
		if statusCode(err) == http.StatusNotFound { // the agent answers 404 when it has none
			eps, err = nil, nil
		}
		return err
	})
	return eps, err
}

// Healthz is GET /healthz, without retries: STATUS wants the state now.
func (a *Agent) Healthz(ctx context.Context) (*models.StatusResponse, error) {
	ok, err := a.daemon.GetHealthz(daemon.NewGetHealthzParamsWithContext(ctx))
	if err != nil {
		return nil, a.classify("GET /healthz", err)
	}
	return ok.Payload, nil
}

// Config is GET /config, needed only for options that depend on agent settings (route MTU).
func (a *Agent) Config(ctx context.Context) (*models.DaemonConfiguration, error) {
	var cfg *models.DaemonConfiguration
	err := a.retry(ctx, "GET /config", readRetryable, func(ctx context.Context) error {
		ok, err := a.daemon.GetConfig(daemon.NewGetConfigParamsWithContext(ctx))
		if err == nil {
			cfg = ok.Payload
		}
		return err
	})
	return cfg, err
}

// attemptAllowance is the least time left for one more attempt after a backoff: an agent on the same
// node answers in a few milliseconds unless it is overloaded.
const attemptAllowance = 50 * time.Millisecond

// retry runs call until it succeeds, fails with an error retryable does not accept, or ctx ends.
func (a *Agent) retry(ctx context.Context, what string, retryable func(error) bool, call func(context.Context) error) error {
	backoff := a.minBackoff
	for attempt := 1; ; attempt++ {
		err := call(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			// The deadline passed with the request in flight: a slow or overloaded agent, not a refusal.
			return fmt.Errorf("%w: %s on %s: no answer within the deadline after %d attempts: %w", ErrAgentUnavailable, what, a.socket, attempt, err)
		}
		if !retryable(err) || (a.failFastDown && notConnected(err)) {
			return a.classify(what, err)
		}
		wait := jitter(backoff)
		if hinted := a.hints.take(); hinted > 0 {
			wait = hinted
		}
		gaveUp := fmt.Errorf("%w: %s on %s: gave up after %d attempts: %w", ErrAgentUnavailable, what, a.socket, attempt, err)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait+attemptAllowance {
			// Waiting would end past the deadline, or so close to it that the next attempt would be cut
			// off in flight, which says less about the agent than this answer does.
			return gaveUp
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return gaveUp
		}
		backoff = min(backoff*2, a.maxBackoff)
	}
}

// classify wraps a final error with its kind.
func (a *Agent) classify(what string, err error) error {
	code := statusCode(err)
	switch {
	case transient(err):
		return fmt.Errorf("%w: %s on %s: %w", ErrAgentUnavailable, what, a.socket, err)
	case code >= 400 && code < 500:
		return fmt.Errorf("%w: %s: %w", ErrAgentRejected, what, err)
	default:
		return fmt.Errorf("%w: %s: %w", ErrAgentFailed, what, err)
	}
}

// transient: worth retrying — the agent is absent, restarting, overloaded or rate-limiting.
func transient(err error) bool {
	if err == nil {
		return false
	}
	switch statusCode(err) {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	}
	return notConnected(err)
}

// readRetryable: a GET may be sent again, so besides what is transient, a connection that broke before
// a whole answer (an agent killed or restarting mid-request) is worth another attempt.
func readRetryable(err error) bool { return transient(err) || connectionLost(err) }

// deleteRetryable: DELETE is idempotent, so anything but a refusal (4xx other than 429) is worth
// another attempt: a 500, a reset, a connection dropped mid-answer.
func deleteRetryable(err error) bool {
	code := statusCode(err)
	return err != nil && (code == http.StatusTooManyRequests || code < 400 || code >= 500)
}

// notConnected: the request never reached the agent (no socket, nobody listening).
func notConnected(err error) bool {
	return errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EAGAIN)
}

// connectionLost: the connection broke mid-exchange (reset, EOF), so the outcome is unknown.
func connectionLost(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// refused: the agent answered that it did not act (4xx, 503). A PUT that reached the agent and got any
// other outcome (success, 5xx, no answer) may have created the endpoint.
func refused(err error) bool {
	code := statusCode(err)
	return (code >= 400 && code < 500) || code == http.StatusServiceUnavailable
}

// statusCode extracts the HTTP status from a go-openapi client error, 0 if there is none.
func statusCode(err error) int {
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		return coded.Code()
	}
	var apiErr *runtime.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code
	}
	return 0
}

func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// retryHints carries the last Retry-After the agent sent, which the generated client drops.
type retryHints struct {
	mu    sync.Mutex
	after time.Duration
}

func (h *retryHints) set(d time.Duration) { h.mu.Lock(); h.after = d; h.mu.Unlock() }

func (h *retryHints) take() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	d := h.after
	h.after = 0
	return d
}

type hintingTransport struct {
	next  http.RoundTripper
	hints *retryHints
}

func (t *hintingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err == nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs >= 0 {
			// Cap it: a bogus header must not stall a pod start.
			t.hints.set(min(time.Duration(secs)*time.Second, 10*time.Second))
		}
	}
	return resp, err
}
