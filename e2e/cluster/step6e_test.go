//go:build cluster

package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// step6eCrossNodeCleanup — the cross-node steps' pods go (nm DaemonSet, other-n2 and whatever the
// later steps added), each sandbox's DEL through the chain on its node: no endpoint stays in either
// agent for them, and node 2's libcni cache and host-local store agree. Step 7 then finds node 1 as
// the single-node steps left it.
func (s *scenario) step6eCrossNodeCleanup(t *testing.T) {
	if _, err := s.k.run(t.Context(), "delete", "daemonset", "nm", "--ignore-not-found", "--wait=true", "--timeout=120s"); err != nil {
		t.Errorf("delete nm DaemonSet: %v", err)
	}
	for _, p := range s.crossPods {
		s.deletePod(t, p)
	}
	gone := append(append([]*pod{}, s.nm...), s.crossPods...)
	err := peer.Eventually(60*time.Second, 500*time.Millisecond, func() error {
		for _, p := range gone {
			if peer.FileExists(p.cni.path) {
				return fmt.Errorf("%s: libcni cache entry %s still there", p, p.cni.path)
			}
			if _, found, err := p.node.api.endpointOf(p); err != nil || found {
				return fmt.Errorf("%s: endpoint on %s found=%v err=%v", p, p.node, found, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("after deleting the cross-node pods: %v", err)
	} else {
		t.Logf("ok: %d cross-node pods deleted through the chain: no cache entry, no endpoint left", len(gone))
	}
	n2 := s.nodes[1]
	if err := checkIPAMConsistentIn(n2.file(libcniCacheDir), n2.file(hostLocalDir)); err != nil {
		t.Errorf("%s: IPAM: %v", n2, err)
	}
}
