//go:build e2e

package e2e

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"
)

// faultProxy sits between the plugin and the real agent's socket and answers 500 to DELETE while
// failDeletes > 0: a live agent that fails, which the agent itself cannot be made to do on demand.
type faultProxy struct {
	sock        string
	failDeletes atomic.Int32
	deletes     atomic.Int32 // DELETEs seen, failed or passed
}

func startFaultProxy(t *testing.T, agentSock, sock string) *faultProxy {
	t.Helper()
	p := &faultProxy{sock: sock}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: "cilium"})
	rp.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", agentSock)
	}}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatalf("fault proxy: %v", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			p.deletes.Add(1)
			if p.failDeletes.Load() > 0 {
				p.failDeletes.Add(-1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`"injected by the e2e fault proxy"`))
				return
			}
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}
