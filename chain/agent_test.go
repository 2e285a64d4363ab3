package chain

import (
	"context"
	"fmt"
	"hash/crc32"
	"net/http"
	"testing"
	"time"

	clientapi "github.com/cilium/cilium/api/v1/client"
	"github.com/cilium/cilium/api/v1/models"

	"github.com/cilium-chain/cilium-chain/chain/fakeagent"
)

// testRequest is a valid generic-veth request; its IP is derived from cid, since the agent refuses a
// second endpoint with an IP that is in use.
func testRequest(cid string) *models.EndpointChangeRequest {
	routing := false
	h := crc32.ChecksumIEEE([]byte(cid))
	return &models.EndpointChangeRequest{
		ContainerID: cid, ContainerInterfaceName: "eth0", InterfaceName: "veth0", InterfaceIndex: 7,
		Mac: "0a:58:0a:f4:01:05", HostMac: "5e:2d:7a:11:22:33", Addressing: &models.AddressPair{IPv4: fmt.Sprintf("10.%d.%d.%d", h>>16&0xff, h>>8&0xff, h&0xff)},
		State:                 models.EndpointStateWaitingDashForDashIdentity.Pointer(),
		DatapathConfiguration: &models.EndpointDatapathConfiguration{ExternalIpam: true, RequireRouting: &routing},
	}
}

func fastAgent(socket string) *Agent {
	a := NewAgent(socket)
	a.minBackoff, a.maxBackoff = 5*time.Millisecond, 50*time.Millisecond
	return a
}

func TestAgentPutRetries(t *testing.T) {
	cases := []struct {
		name      string
		faults    []fakeagent.Fault
		kind      error
		wantSent  bool
		minPuts   int
		minWaited time.Duration
	}{
		{name: "ok", wantSent: true, minPuts: 1},
		{name: "503 then ok", faults: []fakeagent.Fault{{Method: "PUT", Status: 503, Count: 2}}, wantSent: true, minPuts: 3},
		{name: "429 honours Retry-After", faults: []fakeagent.Fault{{Method: "PUT", Status: 429, RetryAfter: 1, Count: 1}}, wantSent: true, minPuts: 2, minWaited: time.Second},
		{name: "400 is final", faults: []fakeagent.Fault{{Method: "PUT", Status: 400, Count: 1}}, kind: ErrAgentRejected, minPuts: 1},
		{name: "500 is final and may have created", faults: []fakeagent.Fault{{Method: "PUT", Status: 500, Count: 1}}, kind: ErrAgentFailed, wantSent: true, minPuts: 1},
		{name: "reset mid-response may have created", faults: []fakeagent.Fault{{Method: "PUT", Reset: true, Count: 1}}, kind: ErrAgentFailed, wantSent: true, minPuts: 1},
		{name: "429 storm until the deadline", faults: []fakeagent.Fault{{Method: "PUT", Status: 429, Count: 1000}}, kind: ErrAgentUnavailable, minPuts: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t)
			for _, f := range tc.faults {
				env.agent.Inject(f)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
			defer cancel()
			start := time.Now()
			ep, sent, err := fastAgent(env.agent.Socket()).PutEndpoint(ctx, testRequest("c1"))
			wantKind(t, err, tc.kind, "")
			if sent != tc.wantSent {
				t.Errorf("sent = %v, want %v", sent, tc.wantSent)
			}
			if tc.kind == nil && (ep == nil || ep.ID == 0) {
				t.Errorf("no endpoint returned")
			}
			puts := 0
			for _, r := range env.agent.Requests() {
				if r.Method == http.MethodPut {
					puts++
				}
			}
			if puts < tc.minPuts {
				t.Errorf("%d PUTs, want ≥ %d", puts, tc.minPuts)
			}
			if waited := time.Since(start); waited < tc.minWaited {
				t.Errorf("returned after %v, Retry-After asked for %v", waited, tc.minWaited)
			}
		})
	}
}

// A GET can be sent again: one whose connection the agent drops mid-answer (killed, restarting) is
// retried, for every GET the plugin makes. Two resets: the first may only cost the kept connection.
func TestAgentGetsRetryLostConnections(t *testing.T) {
	cases := []struct {
		name, path string
		get        func(ctx context.Context, a *Agent) error
	}{
		{"GET /endpoint/{id}", "/endpoint/", func(ctx context.Context, a *Agent) error {
			_, err := a.GetEndpoint(ctx, "cni-attachment-id:c1:eth0")
			return err
		}},
		{"GET /endpoint", "/endpoint", func(ctx context.Context, a *Agent) error { _, err := a.ListEndpoints(ctx); return err }},
		{"GET /config", "/config", func(ctx context.Context, a *Agent) error { _, err := a.Config(ctx); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t)
			env.agent.Inject(fakeagent.Fault{Method: "GET", PathPrefix: tc.path, Reset: true, Count: 2})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := tc.get(ctx, fastAgent(env.agent.Socket())); err != nil {
				t.Fatalf("%s after two dropped answers: %v", tc.name, err)
			}
		})
	}
}

func TestAgentDownUntilDeadline(t *testing.T) {
	env := newTestEnv(t)
	env.agent.Down()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, sent, err := fastAgent(env.agent.Socket()).PutEndpoint(ctx, testRequest("c1"))
	wantKind(t, err, ErrAgentUnavailable, env.agent.Socket())
	if sent {
		t.Error("a request that never connected cannot have created anything")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v, past the 300ms deadline", d)
	}
}

func TestAgentComesUpDuringRetries(t *testing.T) {
	env := newTestEnv(t)
	env.agent.Down()
	time.AfterFunc(150*time.Millisecond, func() { _ = env.agent.Up() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _, err := fastAgent(env.agent.Socket()).PutEndpoint(ctx, testRequest("c1"))
	wantKind(t, err, nil, "")
}

func TestAgentSlowerThanDeadline(t *testing.T) {
	env := newTestEnv(t)
	env.agent.SetDelay(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, sent, err := fastAgent(env.agent.Socket()).PutEndpoint(ctx, testRequest("c1"))
	if err == nil || !sent {
		t.Fatalf("err=%v sent=%v: a timed-out PUT may have created the endpoint", err, sent)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v, past the deadline", d)
	}
}

func TestAgentDeleteNotFoundIsSuccess(t *testing.T) {
	env := newTestEnv(t)
	err := fastAgent(env.agent.Socket()).DeleteEndpoint(context.Background(), endpointID("nope", "eth0"))
	wantKind(t, err, nil, "")
}

func TestAPIBasePathIsTheGeneratedClients(t *testing.T) {
	if apiBasePath != clientapi.DefaultBasePath {
		t.Fatalf("apiBasePath %q, the generated client's DefaultBasePath is %q", apiBasePath, clientapi.DefaultBasePath)
	}
}
