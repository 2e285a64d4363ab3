//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// step4Policies — the seed's CiliumNetworkPolicies applied with kubectl, enforced between the pods
// (test-b serves on 80 and 8080):
//   - none: everything connects (so a later timeout is the policy's doing);
//   - L3: test-a → test-b connects, other-c → test-b does not;
//   - L4 (L3 removed): test-a → test-b:80 connects, :8080 does not; other-c → test-b:80 does.
//
// The seed's L7 policy is not applied: it needs the Envoy proxy (cilium-envoy), which cannot be built
// here, so the agent runs with --enable-l7-proxy=false.
func (s *scenario) step4Policies(t *testing.T) {
	a, b, c := s.a, s.b, s.other
	t.Run("no_policy", func(t *testing.T) {
		s.expectAllowed(t, a, b, 80)
		s.expectAllowed(t, a, b, 8080)
		s.expectAllowed(t, c, b, 80)
	})
	t.Run("l3_from_app_test", func(t *testing.T) {
		s.changePolicy(t, "apply", peer.CNPL3)
		s.expectAllowed(t, a, b, 80)
		s.expectDenied(t, c, b, 80)
		s.expectDenied(t, c, b, 8080)
		s.expectAllowed(t, b, c, 80) // other-c is not selected: its ingress stays open
	})
	t.Run("l4_tcp_80", func(t *testing.T) {
		s.changePolicy(t, "apply", peer.CNPL4)
		s.changePolicy(t, "delete", peer.CNPL3)
		s.expectAllowed(t, a, b, 80)
		s.expectDenied(t, a, b, 8080)
		s.expectAllowed(t, c, b, 80)
	})
	// The later steps expect default-allow again.
	s.changePolicy(t, "delete", peer.CNPL4)
	t.Log("L7 policy not applied: it needs the Envoy proxy (cilium-envoy), not available here; the agent runs with --enable-l7-proxy=false")
}

// changePolicy applies or deletes a CNP with kubectl and waits until the agents' policy revisions
// moved and the endpoints of step 3's pods have realized it.
func (s *scenario) changePolicy(t *testing.T, verb, yaml string) {
	t.Helper()
	s.changePolicyFor(t, verb, yaml, []*pod{s.a, s.b, s.other})
}

// changePolicyFor is changePolicy waiting for the given pods, each on its own node's agent.
func (s *scenario) changePolicyFor(t *testing.T, verb, yaml string, pods []*pod) {
	t.Helper()
	before := map[*node]int64{}
	for _, n := range s.nodes {
		rev, err := n.api.PolicyRevision()
		if err != nil {
			t.Fatalf("%s: policy revision: %v", n, err)
		}
		before[n] = rev
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := cmdOut(ctx, []byte(yaml), "kubectl", s.k.args([]string{verb, "-f", "-"})...)
	if err != nil {
		t.Fatalf("kubectl %s: %v", verb, err)
	}
	revs := map[*node]int64{}
	err = peer.Eventually(60*time.Second, 200*time.Millisecond, func() error {
		for _, n := range s.nodes {
			rev, err := n.api.RevisionAbove(before[n])
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			revs[n] = rev
		}
		for _, p := range pods {
			ep, found, err := p.node.api.endpointOf(p)
			if err := peer.Realized(ep, found, err, revs[p.node]); err != nil {
				return fmt.Errorf("endpoint of %s on %s: %w", p, p.node, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("kubectl %s: the agents did not realize it: %v\n%s", verb, err, s.agent.LogTail(30))
	}
	t.Logf("kubectl %s: %s → policy revisions %v realized by every endpoint", verb, strings.TrimSpace(out), revisionList(s.nodes, revs))
}

func revisionList(nodes []*node, revs map[*node]int64) string {
	var out []string
	for _, n := range nodes {
		out = append(out, fmt.Sprintf("%s:%d", n, revs[n]))
	}
	return strings.Join(out, " ")
}
