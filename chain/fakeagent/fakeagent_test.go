package fakeagent

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/cilium/api/v1/models"
)

// The fake's own tests: each behaviour it claims to share with the real agent (see the source
// references at each) must show here, so a test elsewhere that relies on it relies on something real.

func client(a *Agent, timeout time.Duration) *http.Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", a.Socket())
	}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}

func request(cid, ip string) *models.EndpointChangeRequest {
	return &models.EndpointChangeRequest{
		ContainerID: cid, ContainerInterfaceName: "eth0", InterfaceName: "veth" + cid, InterfaceIndex: 7,
		Mac: "02:00:00:00:00:01", HostMac: "02:00:00:00:00:02", SyncBuildEndpoint: true, State: models.EndpointStateWaitingDashForDashIdentity.Pointer(),
		Addressing:            &models.AddressPair{IPv4: ip},
		DatapathConfiguration: &models.EndpointDatapathConfiguration{ExternalIpam: true},
	}
}

// do sends method path (with req as the body, if any) and returns the status; 0 when the client gave up.
func do(t *testing.T, c *http.Client, method, path string, req any) (int, string) {
	t.Helper()
	var body []byte
	if req != nil {
		body, _ = json.Marshal(req)
	}
	r, _ := http.NewRequest(method, "http://agent/v1"+path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(r)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var msg bytes.Buffer
	_, _ = msg.ReadFrom(resp.Body)
	return resp.StatusCode, msg.String()
}

func put(t *testing.T, c *http.Client, req *models.EndpointChangeRequest) (int, string) {
	return do(t, c, http.MethodPut, "/endpoint/cilium-local:0", req)
}

func newAgent(t *testing.T) *Agent {
	a, _ := StartTemp(t)
	return a
}

func TestIPAlreadyInUse(t *testing.T) {
	a := newAgent(t)
	c := client(a, 5*time.Second)
	if code, msg := put(t, c, request("c1", "10.244.1.5")); code != http.StatusCreated {
		t.Fatalf("first PUT: %d %s", code, msg)
	}
	code, msg := put(t, c, request("c2", "10.244.1.5"))
	if code != http.StatusBadRequest || !strings.Contains(msg, "IP ipv4:10.244.1.5 is already in use") {
		t.Fatalf("second endpoint with the same IP: %d %s", code, msg)
	}
	if code, msg := put(t, c, request("c3", "10.244.1.6")); code != http.StatusCreated {
		t.Fatalf("another IP: %d %s", code, msg)
	}
}

func TestDeleteLimiter(t *testing.T) {
	a := newAgent(t)
	const n = 8 // two waves of the agent's 4
	for i := range n {
		a.AddForeign(request("d"+string(rune('a'+i)), ""))
	}
	a.SetDelay(300 * time.Millisecond)
	start := time.Now()
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = do(t, client(a, 5*time.Second), http.MethodDelete, "/endpoint/container-id:d"+string(rune('a'+i)), nil)
		}()
	}
	// A DELETE of an endpoint that is not there skips the queue even with every slot taken.
	time.Sleep(50 * time.Millisecond)
	quick := time.Now()
	if code, _ := do(t, client(a, 5*time.Second), http.MethodDelete, "/endpoint/container-id:nope", nil); code != http.StatusNotFound || time.Since(quick) > 100*time.Millisecond {
		t.Errorf("DELETE of a missing endpoint: %d after %s, want 404 at once", code, time.Since(quick))
	}
	wg.Wait()
	// Two waves of deleteParallel: not one wave (unlimited), not n waves (serial).
	if took := time.Since(start); took < 550*time.Millisecond || took > 900*time.Millisecond {
		t.Errorf("%d DELETEs of 300 ms each took %s, want two waves of 4 in parallel", n, took)
	}
	for i, code := range codes {
		if code != http.StatusOK {
			t.Errorf("DELETE %d: %d", i, code)
		}
	}

	// A DELETE whose client gives up mid-way still completes.
	a.AddForeign(request("late", ""))
	if code, _ := do(t, client(a, 50*time.Millisecond), http.MethodDelete, "/endpoint/container-id:late", nil); code != 0 {
		t.Fatalf("the client should have timed out, got %d", code)
	}
	time.Sleep(400 * time.Millisecond)
	if a.Endpoint("container-id:late") != nil {
		t.Error("a DELETE whose client left did not complete")
	}
}

func TestRestoring(t *testing.T) {
	a := newAgent(t)
	a.AddForeign(request("old", "10.244.1.9"))
	a.SetRestoring(true)
	answered := make(chan int, 2)
	go func() { code, _ := put(t, client(a, 5*time.Second), request("new", "10.244.1.10")); answered <- code }()
	go func() {
		code, _ := do(t, client(a, 5*time.Second), http.MethodDelete, "/endpoint/container-id:old", nil)
		answered <- code
	}()
	if code, _ := do(t, client(a, time.Second), http.MethodGet, "/healthz", nil); code != http.StatusOK {
		t.Errorf("GET /healthz while restoring: %d", code)
	}
	select {
	case code := <-answered:
		t.Fatalf("PUT or DELETE answered %d while restoring", code)
	case <-time.After(300 * time.Millisecond):
	}
	if code, _ := put(t, client(a, 100*time.Millisecond), request("gaveup", "10.244.1.11")); code != 0 {
		t.Errorf("PUT while restoring answered %d before its client gave up", code)
	}
	time.Sleep(50 * time.Millisecond) // for the server to notice the client left
	a.SetRestoring(false)
	for range 2 {
		if code := <-answered; code != http.StatusCreated && code != http.StatusOK {
			t.Errorf("after restoring: %d", code)
		}
	}
	if a.Endpoint("container-id:new") == nil || a.Endpoint("container-id:old") != nil || a.Endpoint("container-id:gaveup") != nil {
		t.Errorf("after restoring: endpoints %d", len(a.Endpoints()))
	}
}

func TestClientLeavesMidCreate(t *testing.T) {
	a := newAgent(t)
	a.SetDelay(500 * time.Millisecond)
	done := make(chan int)
	go func() {
		code, _ := put(t, client(a, 200*time.Millisecond), request("mid", "10.244.1.20"))
		done <- code
	}()
	time.Sleep(100 * time.Millisecond)
	if a.Endpoint("container-id:mid") == nil {
		t.Fatal("the endpoint is not registered while its first regeneration runs")
	}
	if code := <-done; code != 0 {
		t.Fatalf("client should have given up, got %d", code)
	}
	time.Sleep(50 * time.Millisecond)
	if a.Endpoint("container-id:mid") != nil || a.Abandoned() != 1 {
		t.Fatalf("a create whose client left during the regeneration must be undone (abandoned %d)", a.Abandoned())
	}

	// Once regenerated, the create stands even if the answer reaches nobody.
	a.SetDelay(0)
	a.SetReplyDelay(500 * time.Millisecond)
	if code, _ := put(t, client(a, 200*time.Millisecond), request("late", "10.244.1.21")); code != 0 {
		t.Fatalf("client should have given up, got %d", code)
	}
	if a.Endpoint("container-id:late") == nil {
		t.Fatal("an endpoint created before the client left must stay")
	}
}
