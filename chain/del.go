package chain

import (
	"context"
	"errors"
	"fmt"
)

// Del deletes the attachment's endpoint. It works without prevResult and without the netns, any
// number of times; when the agent cannot be reached within del-timeout it queues the deletion for the
// agent's next start. It fails only if it could neither delete nor queue.
func (c *Call) Del(ctx context.Context) error {
	if err := validAttachment(c.ContainerID, c.IfName); err != nil {
		return err
	}
	return c.deleteOrQueue(ctx)
}

func (c *Call) deleteOrQueue(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.Conf.DelTimeout)
	defer cancel()
	id := c.endpointID()

	// Nobody listening means the agent is down or starting: queue at once (the lock below waits for a
	// starting agent). 429/503 from a live agent are still retried within del-timeout.
	agent := c.agent.failingFast()
	err := agent.DeleteEndpoint(ctx, id)
	if err == nil {
		c.Log.Info("endpoint deleted")
		c.forget(c.ContainerID, c.IfName)
		return nil
	}
	c.Log.WithError(err).Warn("deleting endpoint failed; queueing the deletion for the agent")

	// Queue under the shared lock. Holding it, retry once: if the agent came up meanwhile it has
	// drained the queue already and will not read a new entry until its next start.
	lockCtx, cancelLock := context.WithTimeout(context.Background(), c.Conf.DelTimeout)
	defer cancelLock()
	unlock, lockErr := c.queue.lockShared(lockCtx)
	if lockErr != nil {
		return fmt.Errorf("%w: %s: %w; queueing: %w", ErrDeleteFailed, id, err, lockErr)
	}
	defer unlock()
	if errors.Is(err, ErrAgentUnavailable) {
		retryCtx, cancelRetry := context.WithTimeout(context.Background(), c.Conf.DelTimeout/2)
		defer cancelRetry()
		if retryErr := agent.DeleteEndpoint(retryCtx, id); retryErr == nil {
			c.Log.Info("endpoint deleted on retry")
			c.forget(c.ContainerID, c.IfName)
			return nil
		}
	}
	path, qErr := c.queue.enqueueLocked(id)
	if qErr != nil {
		return fmt.Errorf("%w: %s: %w; queueing: %w", ErrDeleteFailed, id, err, qErr)
	}
	// The record stays: GC confirms the deletion later.
	c.Log.WithField("queueFile", path).Info("endpoint deletion queued for the agent")
	return nil
}

// forget drops an attachment's record once its endpoint is known gone. A failure only means GC will
// try a harmless DELETE later.
func (c *Call) forget(containerID, ifname string) {
	if err := c.store.remove(containerID, ifname); err != nil {
		c.Log.WithError(err).Warn("removing attachment record")
	}
}
