//go:build e2e

package e2e

import (
	"testing"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// stepPrograms — assertion 2: the kernel has the agent's programs on each pod's host veth:
// cil_from_container on ingress (traffic leaving the pod), cil_to_container on egress (into it).
func (s *suite) stepPrograms(t *testing.T) {
	for _, p := range []*pod{s.a, s.b, s.c} {
		requirePrograms(t, s.node, p)
	}
}

func requirePrograms(t *testing.T, n *node, p *pod) {
	t.Helper()
	progs, exists, err := tcProgramsOn(n.ns, p.hostVeth)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	if !exists {
		t.Fatalf("%s: host veth %s does not exist", p, p.hostVeth)
	}
	if !peer.HasProgram(progs.Ingress, "cil_from_container") {
		t.Errorf("%s: ingress of %s has %v, want cil_from_container", p, p.hostVeth, progs.Ingress)
	}
	if !peer.HasProgram(progs.Egress, "cil_to_container") {
		t.Errorf("%s: egress of %s has %v, want cil_to_container", p, p.hostVeth, progs.Egress)
	}
	t.Logf("%s: %s ingress %v, egress %v", p, p.hostVeth, progs.Ingress, progs.Egress)
}

// requireNoPrograms passes when the host veth is gone or carries no BPF filters.
func requireNoPrograms(t *testing.T, n *node, p *pod) {
	t.Helper()
	progs, exists, err := tcProgramsOn(n.ns, p.hostVeth)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	if !exists {
		t.Logf("%s: host veth %s is gone (Flannel's bridge DEL removed the pair)", p, p.hostVeth)
		return
	}
	if len(progs.Ingress)+len(progs.Egress) > 0 {
		t.Errorf("%s: %s still has programs: ingress %v, egress %v", p, p.hostVeth, progs.Ingress, progs.Egress)
	}
}
