//go:build e2e

package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// stepGC — assertion 6, GC (cniVersion 1.1.0): G is live but the runtime has lost it (its libcni cache
// entry is removed, so libcni cannot DEL it); GC with valid attachments A, B, F — everything the
// runtime still knows — makes the plugin delete exactly G's endpoint.
//
// `cnitool gc` cannot do this: it passes no valid attachments, so libcni DELs every cached attachment
// of the network (see stepCnitoolGC).
func (s *suite) stepGC(t *testing.T) {
	s.addTimed(t, s.confs.v110, s.g)
	waitEndpointReady(t, s.agent.api, s.g)
	removeCacheEntries(t, func(netns string) bool { return netns == s.g.ns.path() })

	var valid []types.GCAttachment
	for _, p := range []*pod{s.a, s.b, s.f} {
		valid = append(valid, types.GCAttachment{ContainerID: p.containerID(), IfName: p.ifname})
	}
	req := libcniRequest{Op: "gc", ConfDir: s.confs.v110, Valid: valid}
	began := time.Now()
	if r := s.cni.libcni(t, req); !r.OK {
		t.Fatalf("GC: code %d: %s", r.Code, r.Msg)
	}
	t.Logf("GC with valid attachments a, b, f: ok in %s", time.Since(began).Round(time.Millisecond))
	if err := waitEndpointGone(s.agent.api, s.g, 10*time.Second); err != nil {
		t.Error(err)
	}
	for _, p := range []*pod{s.a, s.b, s.f} {
		if ep, found, err := s.agent.api.Endpoint(p.endpointID()); err != nil || !found {
			t.Errorf("GC deleted more than g: endpoint of %s found=%v err=%v", p, found, err)
		} else if err := matchEndpoint(ep, p); err != nil {
			t.Errorf("after GC, %s: %v", p, err)
		}
	}
	// Not the plugin's business (bridge/host-local's), logged for the record.
	ipFile := filepath.Join(s.conf.dir, "ipam", netName, s.g.ip.String())
	t.Logf("host-local still reserves g's address %s after GC: %v", s.g.ip, peer.FileExists(ipFile))
}
