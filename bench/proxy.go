package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"sync"
	"time"
)

// apiCall is one request the plugin made to the agent, timed at the proxy.
type apiCall struct {
	Method, Path string
	Status       int
	Start        time.Time
	Took         time.Duration
}

// timingProxy sits between the plugins and the real agent's socket and times every API call, so a
// plugin's ADD can be split into agent time and the plugin's own time.
type timingProxy struct {
	sock string
	srv  *http.Server
	mu   sync.Mutex
	log  []apiCall
}

func startProxy(sock, agentSock string) (*timingProxy, error) {
	_ = os.Remove(sock)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.Out.URL.Scheme, r.Out.URL.Host = "http", "cilium" },
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", agentSock)
		}},
	}
	p := &timingProxy{sock: sock}
	p.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		rp.ServeHTTP(rec, r)
		p.mu.Lock()
		p.log = append(p.log, apiCall{Method: r.Method, Path: r.URL.Path, Status: rec.status, Start: start, Took: time.Since(start)})
		p.mu.Unlock()
	})}
	go func() {
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(os.Stderr, "proxy: %v\n", err)
		}
	}()
	return p, nil
}

// take returns and clears the calls logged so far.
func (p *timingProxy) take() []apiCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.log
	p.log = nil
	return out
}

func (p *timingProxy) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
	_ = os.Remove(p.sock)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }
