// Package fakeagent is the one fake cilium-agent shared by all tests and benchmarks: an HTTP server on a
// unix socket that speaks the subset of the v1 API cilium-chain and upstream cilium-cni use, validates
// every request body against the api/v1/models types, and can be told to misbehave. It exists for
// fault injection; every capability is also tested against the real agent.
package fakeagent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/cilium/api/v1/models"
	"github.com/go-openapi/strfmt"
)

// Agent is a running fake agent.
type Agent struct {
	socket string

	mu           sync.Mutex
	srv          *http.Server
	endpoints    map[int64]*models.Endpoint
	nextID       int64
	requests     []Request
	problems     []string
	faults       []Fault
	delay        time.Duration
	replyDelay   time.Duration
	regeneration time.Duration
	mac          string
	health       string
	routeMTU     int64
	daemon       Daemon
	limiter      *limiter
	deletes      chan struct{} // the endpoint-delete limiter's parallel slots
	restored     chan struct{} // closed once restoration is done; see SetRestoring
	abandoned    int           // creates undone because the client left mid-create
	onRequest    func(r *http.Request)
}

// Request is one request the fake served, for assertions.
type Request struct {
	Method, Path string
	Status       int
	Body         []byte
}

// Fault makes the next Count matching requests fail. Method and PathPrefix ("" matches any) select
// requests; Status is the answer; Reset drops the connection without an answer instead.
type Fault struct {
	Method     string
	PathPrefix string
	Status     int
	RetryAfter int // seconds, sent with 429/503
	Reset      bool
	// Handled, with Reset: the agent acts on the request first (the answer is what gets lost).
	Handled bool
	Count   int
}

// Start listens on socket (removing a stale file first) and serves until Close.
func Start(socket string) (*Agent, error) {
	a := &Agent{socket: socket, endpoints: map[int64]*models.Endpoint{}, nextID: 1000, health: models.StatusStateOk, routeMTU: 1450,
		deletes: make(chan struct{}, deleteParallel), restored: closedChan()}
	return a, a.Up()
}

// Socket is the path the fake listens on.
func (a *Agent) Socket() string { return a.socket }

// Up (re)starts serving; endpoints survive, as the real agent restores them.
func (a *Agent) Up() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.srv != nil {
		return nil
	}
	_ = os.Remove(a.socket)
	ln, err := net.Listen("unix", a.socket)
	if err != nil {
		return fmt.Errorf("fake agent: %w", err)
	}
	a.srv = &http.Server{Handler: http.HandlerFunc(a.serve), ReadHeaderTimeout: 5 * time.Second}
	go a.srv.Serve(ln)
	return nil
}

// Down stops serving and removes the socket, like a stopped agent. An endpoint whose first
// regeneration has not finished is gone: the real agent, killed then, does not always restore it (e2e
// step 11), and the fake takes that case.
func (a *Agent) Down() {
	a.mu.Lock()
	srv := a.srv
	a.srv = nil
	a.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	_ = os.Remove(a.socket)
	a.mu.Lock()
	for id, ep := range a.endpoints {
		if p := ep.Status.Policy; p != nil && p.Realized != nil && p.Realized.PolicyRevision < 1 {
			delete(a.endpoints, id)
		}
	}
	a.mu.Unlock()
}

// Close is Down for good.
func (a *Agent) Close() { a.Down() }

// Inject queues a fault.
func (a *Agent) Inject(f Fault) { a.mu.Lock(); a.faults = append(a.faults, f); a.mu.Unlock() }

// ClearFaults drops queued faults and the delay.
func (a *Agent) ClearFaults() { a.mu.Lock(); a.faults, a.delay = nil, 0; a.mu.Unlock() }

// OnRequest runs f on each request before it is answered (to change the world mid-call).
func (a *Agent) OnRequest(f func(r *http.Request)) { a.mu.Lock(); a.onRequest = f; a.mu.Unlock() }

// SetDelay is how long the agent works on each request. For PUT that is the create's work with the
// endpoint already registered, undone if the client leaves meanwhile (see put); for DELETE the deletion
// itself, which completes even if the client has gone; any other answer is simply late.
func (a *Agent) SetDelay(d time.Duration) { a.mu.Lock(); a.delay = d; a.mu.Unlock() }

// SetRegeneration is how long an endpoint's first regeneration takes after PUT registered it (see put).
func (a *Agent) SetRegeneration(d time.Duration) { a.mu.Lock(); a.regeneration = d; a.mu.Unlock() }

// SetReplyDelay holds a successful PUT's answer after the endpoint is ready: the window in which a
// killed client leaves an endpoint it never heard of.
func (a *Agent) SetReplyDelay(d time.Duration) { a.mu.Lock(); a.replyDelay = d; a.mu.Unlock() }

// Abandoned counts creates the fake undid because the client disconnected mid-create.
func (a *Agent) Abandoned() int { a.mu.Lock(); defer a.mu.Unlock(); return a.abandoned }

// SetMAC makes PUT answer with this pod MAC, as an agent that assigns MACs does.
func (a *Agent) SetMAC(mac string) { a.mu.Lock(); a.mac = mac; a.mu.Unlock() }

// SetHealth sets the state /healthz reports (models.StatusStateOk, …Warning, …Failure).
func (a *Agent) SetHealth(state string) { a.mu.Lock(); a.health = state; a.mu.Unlock() }

// SetEndpointHealth sets an endpoint's overall health.
func (a *Agent) SetEndpointHealth(id int64, h models.EndpointHealthStatus) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ep := a.endpoints[id]; ep != nil {
		ep.Status.Health.OverallHealth = h
	}
}

// Endpoints returns a snapshot of the registered endpoints.
func (a *Agent) Endpoints() []*models.Endpoint {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*models.Endpoint, 0, len(a.endpoints))
	for _, ep := range a.endpoints {
		out = append(out, ep)
	}
	return out
}

// Endpoint finds an endpoint by any ID form the API accepts; nil if none.
func (a *Agent) Endpoint(id string) *models.Endpoint {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lookup(id)
}

// AddForeign registers an endpoint as someone else would (the host endpoint, another plugin).
func (a *Agent) AddForeign(req *models.EndpointChangeRequest) *models.Endpoint {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.create(req)
}

// Requests returns what was served so far.
func (a *Agent) Requests() []Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Request(nil), a.requests...)
}

// Problems lists request bodies that failed validation; tests assert it is empty.
func (a *Agent) Problems() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.problems...)
}

func (a *Agent) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := readBody(r)
	a.mu.Lock()
	// Recorded on arrival, so a test sees it even when the answer is a dropped connection.
	idx := len(a.requests)
	a.requests = append(a.requests, Request{Method: r.Method, Path: r.URL.Path, Body: body})
	delay := a.delay
	fault, hasFault := a.takeFault(r)
	hook := a.onRequest
	a.mu.Unlock()
	if hook != nil {
		hook(r)
	}
	rec, r := recording(w, r)
	defer func() {
		a.mu.Lock()
		a.requests[idx].Status = rec.status
		a.mu.Unlock()
	}()
	if hasFault {
		if !sleepCtx(r.Context(), delay) {
			return
		}
		if fault.Reset {
			if fault.Handled {
				hrec, hr := recording(httptest.NewRecorder(), r)
				a.route(hrec, hr, body, 0)
			}
			resetConn(w, r.Method)
			return
		}
		if fault.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(fault.RetryAfter))
		}
		writeJSON(rec, fault.Status, models.Error(fmt.Sprintf("injected fault %d", fault.Status)))
		return
	}
	a.route(rec, r, body, delay)
}

// sleepCtx waits d, or reports false when the client gave up first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (a *Agent) takeFault(r *http.Request) (Fault, bool) {
	for i := range a.faults {
		f := &a.faults[i]
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, "/v1"+f.PathPrefix) && f.Count > 0 {
			f.Count--
			out := *f
			if f.Count == 0 {
				a.faults = append(a.faults[:i], a.faults[i+1:]...)
			}
			return out, true
		}
	}
	return Fault{}, false
}

// validate decodes body into v (a models type) and runs its swagger validation.
func (a *Agent) validate(what string, body []byte, v interface{ Validate(strfmt.Registry) error }) bool {
	if err := json.Unmarshal(body, v); err != nil {
		a.problem(fmt.Sprintf("%s: body is not JSON: %v", what, err))
		return false
	}
	if err := v.Validate(strfmt.Default); err != nil {
		a.problem(fmt.Sprintf("%s: %v", what, err))
		return false
	}
	return true
}

func (a *Agent) problem(p string) { a.mu.Lock(); a.problems = append(a.problems, p); a.mu.Unlock() }

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

type recorderKey struct{}

// recording wraps w to record the status and puts the recorder in r's context, where the limiter
// reads how its request was answered (answered).
func recording(w http.ResponseWriter, r *http.Request) (*statusRecorder, *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	return rec, r.WithContext(context.WithValue(r.Context(), recorderKey{}, rec))
}

// answered is the status written so far on the request of ctx; 0 for none.
func answered(ctx context.Context) int {
	if rec, ok := ctx.Value(recorderKey{}).(*statusRecorder); ok {
		return rec.status
	}
	return 0
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	writeRaw(w, status, b)
}

// writeRaw answers with JSON encoded beforehand (under a.mu, for an endpoint that may change).
func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// resetConn drops the connection mid-response: after the status line of a success (201 for a PUT, 200
// for a GET) and the start of the body.
func resetConn(w http.ResponseWriter, method string) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	status := http.StatusCreated
	if method == http.MethodGet {
		status = http.StatusOK
	}
	_, _ = fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"id\":", status, http.StatusText(status))
	_ = buf.Flush()
	conn.Close()
}

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	defer r.Body.Close()
	return io.ReadAll(io.LimitReader(r.Body, 1<<20))
}
