package chain

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cilium/cilium/api/v1/client/endpoint"
	"github.com/cilium/cilium/api/v1/models"
	current "github.com/containernetworking/cni/pkg/types/100"
)

// Add registers the pod's veth with the agent and returns prevResult (with the agent's MAC, if it
// assigned one). On any error after the PUT may have reached the agent, the endpoint is deleted (or its
// deletion queued) before returning, and its record stays for GC until that is confirmed.
func (c *Call) Add(ctx context.Context) (*current.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Conf.AddTimeout.Duration)
	defer cancel()

	if err := validAttachment(c.ContainerID, c.IfName); err != nil {
		return nil, err
	}
	if err := checkSocket(c.Conf.SocketPath); err != nil {
		return nil, err
	}
	res, err := prevResult(c.Conf)
	if err != nil {
		return nil, err
	}
	att, err := podAttachment(res, c.IfName)
	if err != nil {
		return nil, err
	}
	pod, err := openPodNetns(c.Netns)
	if err != nil {
		return nil, err
	}
	defer pod.Close()
	pair, err := discoverVeth(pod, c.IfName, att)
	if err != nil {
		return nil, err
	}
	labels, err := c.podLabels()
	if err != nil {
		return nil, err
	}
	if err := c.applyRouteMTU(ctx, pod); err != nil {
		return nil, err
	}

	ep, err := c.register(ctx, att, pair, labels)
	if err != nil {
		return nil, err
	}
	if mac := agentMAC(ep); mac != "" && !sameMAC(mac, pair.PodMAC) {
		if err := pod.setPodMAC(c.IfName, mac); err != nil {
			return nil, c.rollback(true, err)
		}
		res.Interfaces[att.Index].Mac = mac
	}
	if err := c.store.update(c.record(stateAdded)); err != nil {
		// The endpoint works and the durable "adding" record written before the PUT still names it
		// for GC: a full or read-only state dir is no reason to take a working pod down.
		c.Log.WithError(err).Warn("endpoint registered, but its record stays \"adding\"")
	}
	c.Log.WithField("endpointID", ep.ID).Info("endpoint registered")
	return res, nil
}

// register is what ADD and adoption share once the veth is known: record the attachment, PUT the
// endpoint (replacing a stale one), wait for its first regeneration, and roll back on failure. The
// caller finishes the record.
func (c *Call) register(ctx context.Context, att *attachment, pair *vethPair, labels models.Labels) (*models.Endpoint, error) {
	if err := c.store.put(c.record(stateAdding)); err != nil {
		return nil, err
	}
	req := endpointRequest(c, att, pair, labels)
	c.Log.WithFields(map[string]any{"hostVeth": pair.HostName, "ips": req.Addressing, "labels": labels}).Debug("registering endpoint")

	ep, sent, err := c.create(ctx, req)
	if err == nil {
		sent = true
		err = c.agent.WaitRegenerated(ctx, c.endpointID())
	}
	for attempt := 1; errors.Is(err, errLostInRestart) && attempt <= maxLostAnswers; attempt++ {
		c.Log.WithError(err).Warn("the agent lost the endpoint before its first regeneration; registering it again")
		if ep, _, err = c.create(ctx, req); err == nil {
			err = c.agent.WaitRegenerated(ctx, c.endpointID())
		}
	}
	if err != nil {
		return nil, c.rollback(sent, fmt.Errorf("registering endpoint %s: %w", c.endpointID(), err))
	}
	return ep, nil
}

// create PUTs the endpoint, replacing a stale one of the same attachment and asking again when the
// answer was lost with its connection. sent reports whether an endpoint may exist despite an error.
func (c *Call) create(ctx context.Context, req *models.EndpointChangeRequest) (*models.Endpoint, bool, error) {
	ep, sent, err := c.agent.PutEndpoint(ctx, req)
	if err != nil && alreadyExists(err) {
		// A runtime retrying ADD after a timeout: the first attempt's endpoint is stale (the primary
		// plugin may have rebuilt the veth). Replace it.
		c.Log.Info("endpoint for this attachment already exists; replacing it")
		sent = true // an endpoint exists: a failure from here on must roll it back, not just forget it
		if err = c.agent.DeleteEndpoint(ctx, c.endpointID()); err == nil {
			ep, sent, err = c.agent.PutEndpoint(ctx, req)
		}
	}
	for attempt := 1; err != nil && sent && connectionLost(err) && ctx.Err() == nil && attempt <= maxLostAnswers; attempt++ {
		// The connection dropped after the request went out: the agent may have created the endpoint.
		// Make sure none is left, then ask again within the ADD deadline.
		c.Log.WithError(err).Warn("connection lost during PUT; deleting whatever it may have created and retrying")
		if err = c.agent.DeleteEndpoint(ctx, c.endpointID()); err == nil {
			ep, _, err = c.agent.PutEndpoint(ctx, req)
		}
	}
	return ep, sent, err
}

// record is this attachment's store record in the given state.
func (c *Call) record(state string) record {
	return record{ContainerID: c.ContainerID, IfName: c.IfName, Netns: c.Netns, State: state, Adopted: c.adopted, Updated: time.Now()}
}

// rollback undoes a PUT that may have created the endpoint, within the DEL budget and on a fresh
// context (the ADD deadline may be what failed). The record is dropped only once nothing can be left.
func (c *Call) rollback(sent bool, cause error) error {
	if !sent {
		c.forget(c.ContainerID, c.IfName)
		return cause
	}
	c.Log.WithError(cause).Warn("ADD failed after the agent may have created the endpoint; deleting it")
	if err := c.deleteOrQueue(context.Background()); err != nil {
		c.Log.WithError(err).Error("rollback failed; the endpoint is left for DEL or GC")
		// Keep only the cause's kind: it is what the runtime must act on.
		return fmt.Errorf("%w (rollback failed: %v)", cause, err)
	}
	return cause
}

// maxLostAnswers bounds the PUTs retried after a lost connection, and the registrations repeated after
// an agent restart lost the endpoint: a proxy that drops every answer, or an agent in a crash loop, must
// not turn one ADD into a PUT/DELETE storm.
const maxLostAnswers = 3

// alreadyExists: the agent refused the PUT because the attachment already has an endpoint.
func alreadyExists(err error) bool {
	var invalid *endpoint.PutEndpointIDInvalid
	return errors.As(err, &invalid) && strings.Contains(string(invalid.Payload), "CNI attachment ID") &&
		strings.Contains(string(invalid.Payload), "already exists")
}

// agentMAC is the pod MAC the agent wants, if it returned one.
func agentMAC(ep *models.Endpoint) string {
	if ep == nil || ep.Status == nil || ep.Status.Networking == nil {
		return ""
	}
	return ep.Status.Networking.Mac
}
