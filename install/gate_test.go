package main

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// fakeAgent is the smallest Cilium agent API: GET /v1/healthz on a unix socket, with a status the
// test sets. It counts the requests so a test can tell the installer really asked.
type fakeAgent struct {
	status   atomic.Int32
	requests atomic.Int32
}

func startFakeAgent(t *testing.T, socket string, status int) *fakeAgent {
	t.Helper()
	a := &fakeAgent{}
	a.status.Store(int32(status))
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/healthz" {
			http.NotFound(w, r)
			return
		}
		a.requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(a.status.Load()))
		_, _ = w.Write([]byte(`{"state":"Ok"}`))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return a
}

func TestAgentGateCheck(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		status  int // 0: no agent at all
		wantErr string
	}{
		{name: "healthy", status: http.StatusOK},
		{name: "unhealthy", status: http.StatusServiceUnavailable, wantErr: "answered 503"},
		{name: "wrong endpoint semantics", status: http.StatusNotFound, wantErr: "answered 404"},
		{name: "no agent", status: 0, wantErr: "connect"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			socket := filepath.Join(dir, string(rune('a'+i))+".sock")
			if tt.status != 0 {
				startFakeAgent(t, socket, tt.status)
			}
			err := newAgentGate(socket).check(context.Background())
			wantErrContaining(t, err, tt.wantErr)
		})
	}
}

// TestGateHoldsTheWriteUntilTheAgentIsHealthy: with --wait-for-agent the binary goes in at once but the
// conflist waits, through "no agent" and "agent unhealthy", until /v1/healthz answers 200. A later
// agent outage does not take the conflist away (pods would then fail instead of going unchained).
func TestGateHoldsTheWriteUntilTheAgentIsHealthy(t *testing.T) {
	n := newTestNode(t)
	socket := filepath.Join(n.root, "cilium.sock")
	writeFile(t, filepath.Join(n.confDir, "10-flannel.conflist"), flannelPrimary, 0o644)
	r := startInstaller(t, mustConfig(t, n.args("--wait-for-agent", "--agent-socket="+socket, "--agent-interval=100ms")))

	eventually(t, 2*time.Second, "binary installed before the gate opens", func() bool { return exists(n.binary()) })
	never(t, time.Second, "conflist written with no agent", func() bool { return exists(n.ours()) })

	agent := startFakeAgent(t, socket, http.StatusServiceUnavailable)
	eventually(t, 2*time.Second, "installer asks the agent", func() bool { return agent.requests.Load() >= 2 })
	never(t, time.Second, "conflist written with an unhealthy agent", func() bool { return exists(n.ours()) })
	if r.in.ready.check() == nil {
		t.Error("ready while waiting for the agent")
	}

	agent.status.Store(http.StatusOK)
	eventually(t, 2*time.Second, "conflist written once the agent is healthy", func() bool { return exists(n.ours()) })
	eventually(t, time.Second, "ready", func() bool { return r.in.ready.check() == nil })

	agent.status.Store(http.StatusServiceUnavailable)
	never(t, time.Second, "conflist removed during an agent outage", func() bool { return !exists(n.ours()) })
}
