//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"

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

// requireNoPrograms needs the host veth to exist and carry no BPF filters: a veth that is gone proves
// nothing about the agent having detached its programs, so callers DEL through the plugin alone first.
func requireNoPrograms(t *testing.T, n *node, p *pod) {
	t.Helper()
	var progs peer.Programs
	err := peer.Eventually(5*time.Second, 100*time.Millisecond, func() error {
		var exists bool
		var err error
		progs, exists, err = tcProgramsOn(n.ns, p.hostVeth)
		switch {
		case err != nil:
			return err
		case !exists:
			return fmt.Errorf("host veth %s is gone; cannot tell whether the agent detached its programs", p.hostVeth)
		case len(progs.Ingress)+len(progs.Egress) > 0:
			return fmt.Errorf("%s still has programs: %v", p.hostVeth, progs)
		}
		return nil
	})
	if err != nil {
		t.Errorf("%s: %v", p, err)
		return
	}
	t.Logf("%s: %s is there without programs", p, p.hostVeth)
}
