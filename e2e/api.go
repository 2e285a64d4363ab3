//go:build e2e

package e2e

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

// agentAPI talks to the agent's REST API on its unix socket, the same socket the plugin uses.
type agentAPI struct {
	c *http.Client
}

func newAgentAPI(sock string) *agentAPI {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, "unix", sock)
	}
	return &agentAPI{c: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}}
}

// get decodes GET /v1<path> into out and returns the HTTP status.
func (a *agentAPI) get(path string, out any) (int, error) {
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

func (a *agentAPI) healthz() (*models.StatusResponse, error) {
	var s models.StatusResponse
	_, err := a.get("/healthz", &s)
	return &s, err
}

func (a *agentAPI) endpoints() ([]*models.Endpoint, error) {
	var eps []*models.Endpoint
	_, err := a.get("/endpoint", &eps)
	return eps, err
}

// endpoint looks one endpoint up by any of the agent's ID forms; found is false on 404.
func (a *agentAPI) endpoint(id string) (ep *models.Endpoint, found bool, err error) {
	var e models.Endpoint
	code, err := a.get("/endpoint/"+url.PathEscape(id), &e)
	if code == http.StatusNotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return &e, true, nil
}

// policyRevision is the revision of the agent's policy repository (GET /policy, deprecated but
// still served in v1.20); endpoints report the revision they have realized.
func (a *agentAPI) policyRevision() (int64, error) {
	var p models.Policy
	_, err := a.get("/policy", &p)
	return p.Revision, err
}
