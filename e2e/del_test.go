//go:build e2e

package e2e

import (
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// stepDel — assertion 4: the plugin's DEL of C removes its endpoint, its pinned per-endpoint maps and
// every program on its host veth (still there: Flannel has not run yet); the chain's DEL that follows,
// a second DEL of the same attachment for the plugin, succeeds and Flannel removes the veth.
func (s *suite) stepDel(t *testing.T) {
	ep, found, err := s.agent.api.Endpoint(s.c.endpointID())
	if err != nil || !found {
		t.Fatalf("endpoint of c before DEL: found=%v err=%v", found, err)
	}
	pins := endpointPins(s.agent.path("bpffs"), ep.ID)
	if len(pins) == 0 {
		t.Errorf("no pinned maps for endpoint %d before DEL", ep.ID)
	}
	took := s.pluginDel(t, s.c.containerID(), s.c.ns.path())
	s.tm.dels = append(s.tm.dels, took)
	t.Logf("plugin DEL of c in %s", took.Round(time.Millisecond))
	if err := waitEndpointGone(s.agent.api, s.c, 10*time.Second); err != nil {
		t.Error(err)
	}
	requireNoPrograms(t, s.node, s.c)
	err = peer.Eventually(10*time.Second, 100*time.Millisecond, func() error {
		if left := endpointPins(s.agent.path("bpffs"), ep.ID); len(left) > 0 {
			return errorList("pinned maps left", left)
		}
		return nil
	})
	if err != nil {
		t.Errorf("endpoint %d: %v", ep.ID, err)
	}
	res := s.cni.cnitool(s.confs.seed, "del", s.c)
	if res.Err != nil {
		t.Errorf("second DEL of c: %v", res.Err)
	} else {
		t.Logf("second DEL of c succeeded in %s", res.Took.Round(time.Millisecond))
	}
	// A and B are untouched.
	for _, p := range []*pod{s.a, s.b} {
		if _, found, err := s.agent.api.Endpoint(p.endpointID()); err != nil || !found {
			t.Errorf("endpoint of %s after DEL of c: found=%v err=%v", p, found, err)
		}
	}
}
