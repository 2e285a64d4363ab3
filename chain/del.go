package chain

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"syscall"
)

// Del deletes the attachment's endpoint. It works without prevResult and without the netns, any
// number of times. When the agent cannot be reached at all it queues the deletion for the agent's next
// start; when a live agent fails or is slow, DEL fails (code 106) and the runtime retries it.
func (c *Call) Del(ctx context.Context) error {
	if err := validAttachment(c.ContainerID, c.IfName); err != nil {
		return err
	}
	return c.deleteOrQueue(ctx)
}

// deleteOrQueue tries DELETE within del-timeout. A running agent reads its deletion queue only at
// start, so an entry queued while it runs would keep the endpoint (and its IP, which host-local hands
// out again) until the next restart: the queue is only for an agent that is down or starting.
func (c *Call) deleteOrQueue(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.Conf.DelTimeout.Duration)
	defer cancel()
	id := c.endpointID()

	// Nobody listening means the agent is down or starting: queue at once (the lock below waits for a
	// starting agent). Everything else a live agent answers is retried within del-timeout.
	agent := c.agent.failingFast()
	err := agent.DeleteEndpoint(ctx, id)
	if err == nil {
		c.Log.Info("endpoint deleted")
		c.forget(c.ContainerID, c.IfName)
		return nil
	}
	if !agentAbsent(err) {
		return liveAgentFailed(id, err)
	}
	c.Log.WithError(err).Warn("the agent cannot be reached; queueing the deletion for its next start")

	// Queue under the shared lock. Holding it, retry once: if the agent came up meanwhile it has
	// drained the queue already and will not read a new entry until its next start.
	lockCtx, cancelLock := context.WithTimeout(context.Background(), c.Conf.DelTimeout.Duration)
	defer cancelLock()
	unlock, lockErr := c.queue.lockShared(lockCtx)
	if lockErr != nil {
		return fmt.Errorf("%w: %s: %w; queueing: %w", ErrDeleteFailed, id, err, lockErr)
	}
	defer unlock()
	retryCtx, cancelRetry := context.WithTimeout(context.Background(), c.Conf.DelTimeout.Duration/2)
	defer cancelRetry()
	switch retryErr := agent.DeleteEndpoint(retryCtx, id); {
	case retryErr == nil:
		c.Log.Info("endpoint deleted on retry")
		c.forget(c.ContainerID, c.IfName)
		return nil
	case !agentAbsent(retryErr):
		return liveAgentFailed(id, retryErr)
	}
	path, qErr := c.queue.enqueueLocked(id)
	if qErr != nil {
		return fmt.Errorf("%w: %s: %w; queueing: %w", ErrDeleteFailed, id, err, qErr)
	}
	// The record stays: GC confirms the deletion later.
	c.Log.WithField("queueFile", path).Info("endpoint deletion queued for the agent")
	return nil
}

func liveAgentFailed(id string, err error) error {
	return fmt.Errorf("%w: %s: the agent is running but did not delete the endpoint (retry DEL): %w", ErrDeleteFailed, id, err)
}

// agentAbsent: nothing answered (no socket, a socket path that is not a socket, nobody listening) or
// the agent answered 503 (starting, restoring endpoints). Only then will the agent read a queued
// deletion: at its start.
func agentAbsent(err error) bool {
	return notConnected(err) || errors.Is(err, syscall.ENOTSOCK) || statusCode(err) == http.StatusServiceUnavailable
}

// forget drops an attachment's record once its endpoint is known gone. A failure only means GC will
// try a harmless DELETE later.
func (c *Call) forget(containerID, ifname string) {
	if err := c.store.remove(containerID, ifname); err != nil {
		c.Log.WithError(err).Warn("removing attachment record")
	}
}
