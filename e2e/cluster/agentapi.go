//go:build cluster

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/cilium/cilium/api/v1/models"
)

// agentAPI reads the agent's REST API on its unix socket (the socket the plugin talks to).
type agentAPI struct {
	c *http.Client
}

func newAgentAPI(sock string) *agentAPI {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "unix", sock)
	}
	return &agentAPI{c: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}}
}

func (a *agentAPI) get(path string, out any) error {
	resp, err := a.c.Get("http://cilium/v1" + path)
	if err != nil {
		return fmt.Errorf("get %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("get %s: status %d: %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

func (a *agentAPI) healthz() (*models.StatusResponse, error) {
	var s models.StatusResponse
	return &s, a.get("/healthz", &s)
}

func (a *agentAPI) endpoints() ([]*models.Endpoint, error) {
	var eps []*models.Endpoint
	return eps, a.get("/endpoint", &eps)
}

// policyRevision is the revision of the agent's policy repository; endpoints report what they realized.
func (a *agentAPI) policyRevision() (int64, error) {
	var p models.Policy
	return p.Revision, a.get("/policy", &p)
}
