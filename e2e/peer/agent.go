package peer

import (
	"fmt"
	"slices"
	"time"
)

// AgentFlagsOff are the agent flags both harnesses end their command line with: tcx off so the
// programs show up as tc filters (what ProgramsOn reads), and off whatever needs Envoy, Hubble,
// iptables or health probes, none of which the tests exercise.
func AgentFlagsOff() []string {
	return []string{
		"--enable-tcx=false",
		"--enable-health-checking=false",
		"--enable-endpoint-health-checking=false",
		"--enable-l7-proxy=false",
		"--enable-hubble=false",
		"--enable-gops=false",
		"--install-iptables-rules=false",
		"--enable-ipv4-masquerade=false",
		"--kube-proxy-replacement=false",
	}
}

// WaitAgentReady polls until the agent's API says Ok and its host endpoint is ready (its datapath
// compiled and loaded; an agent stopped before that hangs on shutdown), failing early if p exits.
// answered, if not nil, is called on every poll the API answered, so a caller can time that too.
func WaitAgentReady(p *Proc, api *AgentAPI, timeout, every time.Duration, answered func()) error {
	return Eventually(timeout, every, func() error {
		if done, werr := p.Exited(); done {
			return fmt.Errorf("agent exited: %v", werr)
		}
		s, err := api.Healthz()
		if err != nil {
			return err
		}
		if answered != nil {
			answered()
		}
		if s.Cilium == nil || s.Cilium.State != "Ok" {
			return fmt.Errorf("agent state %+v", s.Cilium)
		}
		return api.HostEndpointReady()
	})
}

// HostEndpointReady is nil once the agent's own reserved:host endpoint is ready.
func (a *AgentAPI) HostEndpointReady() error {
	eps, err := a.Endpoints()
	if err != nil {
		return err
	}
	for _, ep := range eps {
		if ep.Status != nil && ep.Status.Identity != nil && slices.Contains(ep.Status.Identity.Labels, "reserved:host") {
			if s := StateOf(ep); s != "ready" {
				return fmt.Errorf("host endpoint %d is %s", ep.ID, s)
			}
			return nil
		}
	}
	return fmt.Errorf("no host endpoint yet")
}
