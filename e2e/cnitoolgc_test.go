//go:build e2e

package e2e

import (
	"testing"
	"time"
)

// stepCnitoolGC — what `cnitool gc` really does (cniVersion 1.1.0): it passes no valid attachments, so
// libcni DELs every cached attachment of the network (A, B, F) and then sends GC without a list.
// Afterwards the agent has no CNI endpoint left.
func (s *suite) stepCnitoolGC(t *testing.T) {
	res := s.cni.cnitool(s.confs.v110, "gc", s.a) // the netns argument is required but unused
	if res.Err != nil {
		t.Fatalf("cnitool gc: %v", res.Err)
	}
	t.Logf("cnitool gc: ok in %s", res.Took.Round(time.Millisecond))
	for _, p := range []*pod{s.a, s.b, s.f} {
		if err := waitEndpointGone(s.agent.api, p, 10*time.Second); err != nil {
			t.Error(err)
		}
	}
	eps, err := cniEndpoints(s.agent.api)
	if err != nil {
		t.Fatalf("list endpoints: %v", err)
	}
	if len(eps) != 0 {
		t.Errorf("after cnitool gc the agent still lists %v", keys(eps))
	}
}
