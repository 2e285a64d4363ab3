package chain

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// GC deletes the endpoints this plugin registered for this network whose attachment is not among
// cni.dev/valid-attachments. Endpoints it did not register (no record) are never touched, nor are
// attachments whose ADD may still be running.
func (c *Call) GC(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.Conf.GCTimeout.Duration)
	defer cancel()
	valid := map[string]bool{}
	for _, a := range c.Conf.ValidAttachments {
		valid[recordName(a.ContainerID, a.IfName)] = true
	}
	recs, errs := c.store.list()
	for _, err := range errs {
		c.Log.WithError(err).Warn("skipping unreadable attachment record")
	}

	var failed []error
	collected := 0
	for _, r := range recs {
		name := recordName(r.ContainerID, r.IfName)
		if valid[name] || (r.State == stateAdding && time.Since(r.Updated) < c.Conf.AddTimeout.Duration) {
			continue
		}
		if err := c.agent.DeleteEndpoint(ctx, endpointID(r.ContainerID, r.IfName)); err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", name, err))
			if errors.Is(err, ErrAgentUnavailable) {
				break // the rest would wait for the same absent agent
			}
			continue
		}
		c.forget(r.ContainerID, r.IfName)
		c.Log.WithField("attachment", name).Info("collected stale endpoint")
		collected++
	}
	c.Log.WithField("collected", collected).Info("garbage collection done")
	if len(failed) > 0 {
		return fmt.Errorf("gc: %w", errors.Join(failed...))
	}
	return nil
}
