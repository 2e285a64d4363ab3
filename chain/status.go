package chain

import (
	"context"
	"fmt"

	"github.com/cilium/cilium/api/v1/models"
)

// Status reports whether the agent can take ADDs: it answers /healthz and is not failing.
func (c *Call) Status(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.Conf.CheckTimeout.Duration)
	defer cancel()
	resp, err := c.agent.Healthz(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	if resp == nil || resp.Cilium == nil {
		return fmt.Errorf("%w: agent on %s answered /healthz without its own state", ErrNotReady, c.agent.Socket())
	}
	// Warning is a degraded but working agent; only Failure refuses pods.
	if resp.Cilium.State == models.StatusStateFailure {
		return fmt.Errorf("%w: agent on %s reports %s: %s", ErrNotReady, c.agent.Socket(), resp.Cilium.State, resp.Cilium.Msg)
	}
	return nil
}
