//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/cilium/cilium/api/v1/models"

	"github.com/cilium-chain/cilium-chain/chain"
	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// upstreamStateDir is the plugin's default state dir, used by the upstream-shaped entry (it has no
// state-dir key); the step removes what it adds there.
var upstreamStateDir = chain.DefaultStateDir

// stepUpstream — assertion 7: the ADD/DEL flow with upstream's conflist entry shape
// ({"type":"cilium-chain","chaining-mode":"generic-veth",...}, no project keys; the socket comes from
// CILIUM_SOCK): endpoint ready with the CNI_ARGS labels and a real identity, programs attached, DEL
// removes it, a second DEL succeeds.
func (s *suite) stepUpstream(t *testing.T) {
	if peer.FileExists(upstreamStateDir) {
		before := dirEntries(upstreamStateDir)
		t.Cleanup(func() { removeNewEntries(t, upstreamStateDir, before) })
	} else {
		t.Cleanup(func() { bestEffortRemoveAll(t, upstreamStateDir) })
	}
	up := &cniRunner{tl: s.tl, n: s.node, env: []string{"CILIUM_SOCK=" + s.agent.sock}}
	s.tm.add(up.add(t, s.confs.upstream, s.h))
	// Without args-labels there is no namespace label; the CILIUM_LABEL_ ones must be there.
	ep := waitUpstreamReady(t, s.agent.api, s.h)
	t.Logf("endpoint %d of h: identity %d %v", ep.ID, ep.Status.Identity.ID, ep.Status.Identity.Labels)
	requirePrograms(t, s.node, s.h)

	took := s.pluginDelWith(t, s.conf.upstreamChain(), up.env, s.h.containerID(), s.h.ns.path())
	s.tm.dels = append(s.tm.dels, took)
	if err := waitEndpointGone(s.agent.api, s.h, 10*time.Second); err != nil {
		t.Error(err)
	}
	requireNoPrograms(t, s.node, s.h)
	if res := up.cnitool(s.confs.upstream, "del", s.h); res.Err != nil {
		t.Errorf("second DEL of h: %v", res.Err)
	}
}

// waitUpstreamReady is waitEndpointReady without the namespace label the project's entry adds.
func waitUpstreamReady(t *testing.T, api *peer.AgentAPI, p *pod) *models.Endpoint {
	t.Helper()
	var ep *models.Endpoint
	err := peer.Eventually(60*time.Second, 100*time.Millisecond, func() error {
		var found bool
		var err error
		ep, found, err = api.Endpoint(p.endpointID())
		if err != nil || !found {
			return fmt.Errorf("endpoint %s: found=%v err=%v", p.endpointID(), found, err)
		}
		return matchEndpointLabels(ep, p, false)
	})
	if err != nil {
		t.Fatalf("endpoint of %s: %v", p, err)
	}
	return ep
}
