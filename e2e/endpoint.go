//go:build e2e

package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/cilium/api/v1/models"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// reservedInit is the identity of an endpoint without labels; its policy drops all traffic.
const reservedInit = 5

// waitEndpointReady polls the agent until the pod's endpoint is ready and matches the pod.
func waitEndpointReady(t *testing.T, api *peer.AgentAPI, p *pod) *models.Endpoint {
	t.Helper()
	var ep *models.Endpoint
	err := peer.Eventually(60*time.Second, 100*time.Millisecond, func() error {
		e, found, err := api.Endpoint(p.endpointID())
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("agent has no endpoint %s", p.endpointID())
		}
		ep = e
		return matchEndpoint(e, p)
	})
	if err != nil {
		t.Fatalf("endpoint of %s: %v", p, err)
	}
	return ep
}

// matchEndpoint checks what the agent reports against what the pod really has.
func matchEndpoint(ep *models.Endpoint, p *pod) error { return matchEndpointLabels(ep, p, true) }

// matchEndpointLabels is matchEndpoint; projectLabels also wants the labels the project entry adds
// (namespace through args-labels, cluster through labels).
func matchEndpointLabels(ep *models.Endpoint, p *pod, projectLabels bool) error {
	st := ep.Status
	if st == nil || st.State == nil {
		return fmt.Errorf("endpoint %d has no status", ep.ID)
	}
	if *st.State != models.EndpointStateReady {
		return fmt.Errorf("endpoint %d state %q, want ready", ep.ID, *st.State)
	}
	// v1.20 reports only cni-attachment-id among the external identifiers.
	if want := p.containerID() + ":" + p.ifname; st.ExternalIdentifiers == nil || st.ExternalIdentifiers.CniAttachmentID != want {
		return fmt.Errorf("endpoint %d external identifiers %+v, want cni-attachment-id %s", ep.ID, st.ExternalIdentifiers, want)
	}
	if st.Networking == nil || len(st.Networking.Addressing) == 0 || st.Networking.Addressing[0].IPv4 != p.ip.String() {
		return fmt.Errorf("endpoint %d addressing %s, want %s", ep.ID, addressing(st.Networking), p.ip)
	}
	if st.Networking.InterfaceName != p.hostVeth {
		return fmt.Errorf("endpoint %d interface %q, want host veth %q", ep.ID, st.Networking.InterfaceName, p.hostVeth)
	}
	if st.Identity == nil || st.Identity.ID == reservedInit || slices.Contains(st.Identity.Labels, "reserved:init") {
		return fmt.Errorf("endpoint %d identity %+v: still reserved:init", ep.ID, st.Identity)
	}
	for _, l := range p.wantLabels(projectLabels) {
		if !slices.Contains(st.Identity.Labels, l) {
			return fmt.Errorf("endpoint %d identity labels %v lack %q", ep.ID, st.Identity.Labels, l)
		}
	}
	return nil
}

// waitEndpointGone polls until the agent answers 404 for the pod's endpoint.
func waitEndpointGone(api *peer.AgentAPI, p *pod, timeout time.Duration) error {
	return peer.Eventually(timeout, 100*time.Millisecond, func() error {
		ep, found, err := api.Endpoint(p.endpointID())
		if err != nil {
			return err
		}
		if found {
			return fmt.Errorf("endpoint %d of %s still exists (state %v)", ep.ID, p, peer.StateOf(ep))
		}
		return nil
	})
}

// cniEndpoints lists the endpoints that came from CNI attachments, by container ID.
func cniEndpoints(api *peer.AgentAPI) (map[string]*models.Endpoint, error) {
	eps, err := api.Endpoints()
	if err != nil {
		return nil, err
	}
	out := map[string]*models.Endpoint{}
	for _, ep := range eps {
		if ep.Status == nil || ep.Status.ExternalIdentifiers == nil {
			continue
		}
		if cid, _, ok := strings.Cut(ep.Status.ExternalIdentifiers.CniAttachmentID, ":"); ok {
			out[cid] = ep
		}
	}
	return out, nil
}

func addressing(n *models.EndpointNetworking) string {
	if n == nil {
		return "none"
	}
	var out []string
	for _, a := range n.Addressing {
		out = append(out, a.IPv4)
	}
	return strings.Join(out, ",")
}
