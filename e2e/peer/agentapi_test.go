package peer

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// fakeAgent serves canned JSON per path on a unix socket, as the agent's API would.
func fakeAgent(t *testing.T, routes map[string]string) *AgentAPI {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "cilium.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := routes[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return NewAgentAPI(sock)
}

func TestAgentAPI(t *testing.T) {
	api := fakeAgent(t, map[string]string{
		"/v1/policy":     `{"revision": 4}`,
		"/v1/endpoint/7": `{"id": 7, "status": {"state": "ready", "policy": {"realized": {"policy-revision": 4}}}}`,
		"/v1/endpoint":   `[{"id": 1, "status": {"state": "regenerating", "identity": {"id": 1, "labels": ["reserved:host"]}}}]`,
	})
	if _, err := api.RevisionAbove(4); err == nil {
		t.Errorf("revision 4 is not above 4")
	}
	rev, err := api.RevisionAbove(3)
	if err != nil || rev != 4 {
		t.Errorf("RevisionAbove(3) = %d, %v; want 4", rev, err)
	}
	ep, found, err := api.Endpoint("7")
	if err := Realized(ep, found, err, rev); err != nil {
		t.Errorf("endpoint 7 realized: %v", err)
	}
	if err := Realized(ep, found, nil, rev+1); err == nil {
		t.Errorf("revision %d counted as realized", rev+1)
	}
	if _, found, err := api.Endpoint("8"); found || err != nil {
		t.Errorf("missing endpoint: found=%v err=%v, want not found and no error", found, err)
	}
	if err := api.HostEndpointReady(); err == nil || !strings.Contains(err.Error(), "is regenerating") {
		t.Errorf("host endpoint regenerating: %v", err)
	}
}
