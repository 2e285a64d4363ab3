package peer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/cilium/cilium/api/v1/models"
)

// AgentAPI talks to the agent's REST API on its unix socket, the same socket the plugin uses.
type AgentAPI struct {
	c *http.Client
}

// NewAgentAPI dials sock afresh for every request (no keep-alive): the agent restarts within a
// test, and a pooled connection to the old one would only fail later and less clearly.
func NewAgentAPI(sock string) *AgentAPI {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "unix", sock)
	}
	return &AgentAPI{c: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}}
}

// Get decodes GET /v1<path> into out (unless nil) and returns the HTTP status.
func (a *AgentAPI) Get(path string, out any) (int, error) {
	resp, err := a.c.Get("http://cilium/v1" + path)
	if err != nil {
		return 0, fmt.Errorf("get %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("get %s: status %d: %s", path, resp.StatusCode, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s: %w", path, err)
		}
	}
	return resp.StatusCode, nil
}

func (a *AgentAPI) Healthz() (*models.StatusResponse, error) {
	var s models.StatusResponse
	_, err := a.Get("/healthz", &s)
	return &s, err
}

func (a *AgentAPI) Endpoints() ([]*models.Endpoint, error) {
	var eps []*models.Endpoint
	_, err := a.Get("/endpoint", &eps)
	return eps, err
}

// Endpoint looks one endpoint up by any of the agent's ID forms; found is false on 404.
func (a *AgentAPI) Endpoint(id string) (ep *models.Endpoint, found bool, err error) {
	var e models.Endpoint
	code, err := a.Get("/endpoint/"+url.PathEscape(id), &e)
	if code == http.StatusNotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return &e, true, nil
}

// PolicyRevision is the revision of the agent's policy repository (GET /policy, deprecated but
// still served in v1.20); endpoints report the revision they have realized.
func (a *AgentAPI) PolicyRevision() (int64, error) {
	var p models.Policy
	_, err := a.Get("/policy", &p)
	return p.Revision, err
}
