package chain

import (
	"context"
	"fmt"
	"net"

	"github.com/cilium/cilium/api/v1/models"
)

// Check verifies that the pod interface, its addresses and the host veth still match prevResult, and
// that the agent holds a healthy endpoint for this attachment on that same host veth.
func (c *Call) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.Conf.CheckTimeout.Duration)
	defer cancel()

	if err := validAttachment(c.ContainerID, c.IfName); err != nil {
		return err
	}
	res, err := prevResult(c.Conf)
	if err != nil {
		return err
	}
	att, err := podAttachment(res, c.IfName)
	if err != nil {
		return err
	}
	pod, err := openPodNetns(c.Netns)
	if err != nil {
		return err
	}
	defer pod.Close()
	pair, err := discoverVeth(pod, c.IfName, att)
	if err != nil {
		return err
	}

	ep, err := c.agent.GetEndpoint(ctx, c.endpointID())
	if err != nil {
		return err
	}
	if ep == nil || ep.Status == nil {
		return fmt.Errorf("%w: the agent has no endpoint %s", ErrEndpointNotFound, c.endpointID())
	}
	if h := ep.Status.Health; h != nil && h.OverallHealth == models.EndpointHealthStatusFailure {
		return fmt.Errorf("%w: endpoint %d: overall health %s (bpf %s, policy %s)", ErrEndpointUnhealthy, ep.ID, h.OverallHealth, h.Bpf, h.Policy)
	}
	if st := ep.Status.State; st != nil && (*st == models.EndpointStateInvalid || *st == models.EndpointStateDisconnected || *st == models.EndpointStateDisconnecting) {
		return fmt.Errorf("%w: endpoint %d is %s", ErrEndpointUnhealthy, ep.ID, *st)
	}
	if n := ep.Status.Networking; n != nil && n.InterfaceName != "" && n.InterfaceName != pair.HostName {
		return fmt.Errorf("%w: the agent's endpoint is on %q, the pod's host veth is %q", ErrInterfaceMismatch, n.InterfaceName, pair.HostName)
	}
	agentIPs := map[string]bool{}
	if n := ep.Status.Networking; n != nil {
		for _, a := range n.Addressing {
			for _, ip := range []string{a.IPv4, a.IPv6} {
				if ip == "" {
					continue
				}
				if !att.hasIP(ip) {
					return fmt.Errorf("%w: the agent's endpoint has address %s, prevResult does not", ErrInterfaceMismatch, ip)
				}
				agentIPs[net.ParseIP(ip).String()] = true
			}
		}
	}
	// And the other way: what ADD registered (one address per family) must still be on the endpoint.
	v4, v6 := att.addressPair()
	for _, ip := range []string{v4, v6} {
		if ip != "" && !agentIPs[ip] {
			return fmt.Errorf("%w: prevResult has address %s, the agent's endpoint does not", ErrInterfaceMismatch, ip)
		}
	}
	return nil
}
