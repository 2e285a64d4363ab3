//go:build e2e

package e2e

import "testing"

// TestAgentBoot brings the node, etcd and the real agent up and down: the smallest check that the
// peers work on this machine, independent of the plugin.
func TestAgentBoot(t *testing.T) {
	e := newEnv(t)
	took := e.agent.start(t)
	s, err := e.agent.api.Healthz()
	if err != nil {
		t.Fatalf("healthz: %v", err)
	}
	t.Logf("agent ready in %s: cilium %s, kvstore %+v, chaining %+v", took, s.Cilium.State, s.Kvstore, s.CniChaining)
}
