//go:build e2e

package e2e

import (
	"testing"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// stepAdd — assertion 1: ADD through the seed conflist (Flannel → cilium-chain, cniVersion 0.3.1)
// prints a valid result, and the agent lists each endpoint ready with the pod's IP, its host veth
// and the labels sent, under a real identity (not reserved:init). When ADD returns, with no wait, the
// endpoint's first regeneration is done: its policy realized and its programs on the host veth.
func (s *suite) stepAdd(t *testing.T) {
	for _, p := range []*pod{s.a, s.b, s.c} {
		s.addTimed(t, s.confs.seed, p)
		requireRegenerated(t, s.node, s.agent.api, p)
		ep := waitEndpointReady(t, s.agent.api, p)
		t.Logf("endpoint %d of %s: ready, ip %s, interface %s, identity %d %v",
			ep.ID, p, ep.Status.Networking.Addressing[0].IPv4, ep.Status.Networking.InterfaceName,
			ep.Status.Identity.ID, ep.Status.Identity.Labels)
	}
	// A and B share labels, so they share an identity; C's differs.
	ids := map[*pod]int64{}
	for _, p := range []*pod{s.a, s.b, s.c} {
		ep, _, err := s.agent.api.Endpoint(p.endpointID())
		if err != nil {
			t.Fatalf("endpoint of %s: %v", p, err)
		}
		ids[p] = ep.Status.Identity.ID
	}
	if ids[s.a] != ids[s.b] || ids[s.a] == ids[s.c] {
		t.Errorf("identities a=%d b=%d c=%d: want a == b != c", ids[s.a], ids[s.b], ids[s.c])
	}
	eps, err := cniEndpoints(s.agent.api)
	if err != nil {
		t.Fatalf("list endpoints: %v", err)
	}
	if len(eps) != 3 {
		t.Errorf("agent lists %d CNI endpoints, want 3: %v", len(eps), keys(eps))
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// requireRegenerated looks once, without waiting: ADD must not return before the agent realized the
// endpoint's policy (revision ≥ 1) and attached its programs, or the pod would start unpoliced.
func requireRegenerated(t *testing.T, n *node, api *peer.AgentAPI, p *pod) {
	t.Helper()
	ep, found, err := api.Endpoint(p.endpointID())
	if err != nil || !found {
		t.Fatalf("endpoint of %s right after ADD: found %v, %v", p, found, err)
	}
	if rev := peer.RealizedRevision(ep); rev < 1 {
		t.Fatalf("ADD of %s returned before the endpoint's first regeneration (realized policy revision %d): %s", p, rev, peer.StateOf(ep))
	}
	requirePrograms(t, n, p)
}
