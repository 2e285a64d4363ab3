//go:build e2e

package e2e

import (
	"testing"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// stepPolicy — assertion 3, with B serving on TCP 80 and 8080:
//   - no policy: everything connects (so a later timeout is the policy's doing);
//   - L3 (ingress to app=test only from app=test): A → B connects, C → B does not;
//   - L4 (ingress to app=test only on TCP 80): A → B:80 connects, A → B:8080 does not, and C → B:80
//     does (the L3 rule is gone; L4 does not look at the source).
func (s *suite) stepPolicy(t *testing.T) {
	serveTCP(t, s.b, 80)
	serveTCP(t, s.b, 8080)
	dir := s.agent.cnpDir
	t.Run("no_policy", func(t *testing.T) {
		expectAllowed(t, s.a, s.b, 80)
		expectAllowed(t, s.a, s.b, 8080)
		expectAllowed(t, s.c, s.b, 80)
	})
	t.Run("l3_from_app_test", func(t *testing.T) {
		applyPolicy(t, s.agent, writePolicy(dir, "l3-app-test", peer.CNPL3), s.a, s.b, s.c)
		expectAllowed(t, s.a, s.b, 80)
		expectDenied(t, s.c, s.b, 80)
		expectDenied(t, s.c, s.b, 8080)
	})
	t.Run("l4_tcp_80", func(t *testing.T) {
		// One change per wait: each file event bumps the revision on its own.
		applyPolicy(t, s.agent, writePolicy(dir, "l4-tcp-80", peer.CNPL4), s.a, s.b, s.c)
		applyPolicy(t, s.agent, removePolicy(dir, "l3-app-test"), s.a, s.b, s.c)
		expectAllowed(t, s.a, s.b, 80)
		expectDenied(t, s.a, s.b, 8080)
		expectAllowed(t, s.c, s.b, 80)
	})
	// Later steps expect default-allow again.
	applyPolicy(t, s.agent, removePolicy(dir, "l4-tcp-80"), s.a, s.b, s.c)
}
