package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// agentGate asks the Cilium agent whether it is up, over its API unix socket.
type agentGate struct {
	socket string
	client *http.Client
}

func newAgentGate(socket string) *agentGate {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		// The agent restarts under us; never reuse a connection to a dead one.
		DisableKeepAlives: true,
	}
	return &agentGate{socket: socket, client: &http.Client{Transport: tr, Timeout: 3 * time.Second}}
}

// check returns nil once GET /v1/healthz answers 200.
func (g *agentGate) check(ctx context.Context) error {
	// The host part is ignored by the unix dialer; it only has to be a valid URL.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://cilium-agent/v1/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return fmt.Errorf("agent API on %s: %w", g.socket, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("agent GET /v1/healthz on %s answered %s", g.socket, resp.Status)
	}
	return nil
}
