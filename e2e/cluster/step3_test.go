//go:build cluster

package cluster

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/cilium/api/v1/models"

	"github.com/cilium-chain/cilium-chain/chain"
	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// step3ChainedPods — pods labelled like the seed's test DaemonSet (app: test) and one app: other start
// through Flannel → cilium-chain; the agent holds a ready endpoint per pod whose identity comes from
// the pod's Kubernetes labels, and the kernel shows Cilium's programs on each host veth.
func (s *scenario) step3ChainedPods(t *testing.T) {
	s.a = s.createPod(t, "test-a", "test")
	s.tm.firstChainPod = s.a.ready
	s.b = s.createPod(t, "test-b", "test")
	s.other = s.createPod(t, "other-c", "other")
	s.tm.chainPods = []time.Duration{s.a.ready, s.b.ready, s.other.ready}

	ids := map[string]int64{}
	for _, p := range []*pod{s.a, s.b, s.other} {
		ep := s.checkChained(t, p)
		if ep != nil {
			ids[p.name] = identityID(ep)
		}
	}
	if ids["test-a"] == 0 || ids["test-a"] != ids["test-b"] || ids["test-a"] == ids["other-c"] {
		t.Errorf("identities %v: want test-a = test-b (same labels) ≠ other-c", ids)
	}

	s.checkCiliumEndpoints(t, ids)

	bad, err := nonLoopbackListeners()
	if err != nil {
		t.Error(err)
	} else if len(bad) > 0 {
		t.Errorf("the node netns listens beyond loopback: %v", bad)
	} else {
		t.Logf("ok: every listening socket of the node netns (control plane, kubelet, containerd, agent, installer) is on loopback")
	}
	if err := checkIPAMConsistent(); err != nil {
		t.Errorf("IPAM: %v", err)
	}
}

// checkChained asserts one pod went through the chain and returns its endpoint (nil on failure).
func (s *scenario) checkChained(t *testing.T, p *pod) *models.Endpoint {
	t.Helper()
	if got := p.cni.pluginTypes(); !slices.Equal(got, []string{"flannel", "cilium-chain"}) {
		t.Errorf("%s was added through %v, want [flannel cilium-chain]", p, got)
	}
	return s.checkManaged(t, p)
}

// checkManaged asserts the agent holds a ready endpoint for the pod with its Kubernetes identity,
// its programs are on the host veth, and the plugin's record exists; it returns the endpoint.
func (s *scenario) checkManaged(t *testing.T, p *pod) *models.Endpoint {
	t.Helper()
	var ep *models.Endpoint
	err := peer.Eventually(30*time.Second, 200*time.Millisecond, func() error {
		e, found, err := s.api.endpointOf(p)
		if err != nil || !found {
			return fmt.Errorf("endpoint for sandbox %.12s: found=%v err=%v", p.cni.ContainerID, found, err)
		}
		if st := peer.StateOf(e); st != "ready" {
			return fmt.Errorf("endpoint %d is %s", e.ID, st)
		}
		if err := checkK8sIdentity(e, p.app); err != nil {
			return err
		}
		ep = e
		return nil
	})
	if err != nil {
		t.Errorf("%s: %v\n--- agent (tail) ---\n%s", p, err, s.agent.LogTail(30))
		return nil
	}
	if got := ep.Status.Networking.InterfaceName; got != p.cni.hostVeth() {
		t.Errorf("%s: agent's host interface %q, CNI result's %q", p, got, p.cni.hostVeth())
	}
	progs, err := tcProgramsOn(p.cni.hostVeth())
	if err != nil {
		t.Errorf("%s: %v", p, err)
	} else if !peer.HasProgram(progs.Ingress, "cil_from_container") || !peer.HasProgram(progs.Egress, "cil_to_container") {
		t.Errorf("%s: host veth %s has %v, want cil_from_container on ingress and cil_to_container on egress", p, p.cni.hostVeth(), progs)
	}
	// The same, as an operator would look: tc itself.
	if p.name == "test-a" {
		for _, dir := range []string{"ingress", "egress"} {
			out, err := cmdOut(t.Context(), nil, "tc", "filter", "show", "dev", p.cni.hostVeth(), dir)
			t.Logf("tc filter show dev %s %s (err %v):\n%s", p.cni.hostVeth(), dir, err, strings.TrimSpace(out))
		}
	}
	if rec := filepath.Join(chain.DefaultStateDir, networkName, p.cni.ContainerID+":eth0"); !peer.FileExists(rec) {
		t.Errorf("%s: no attachment record %s", p, rec)
	}
	t.Logf("ok: %s: endpoint %d ready, identity %d [%s], veth %s: %v", p, ep.ID, identityID(ep),
		strings.Join(identityLabels(ep), " "), p.cni.hostVeth(), progs)
	return ep
}

// checkCiliumEndpoints: with Kubernetes the agent also publishes each endpoint as a CiliumEndpoint
// object carrying the same identity.
func (s *scenario) checkCiliumEndpoints(t *testing.T, ids map[string]int64) {
	t.Helper()
	err := peer.Eventually(30*time.Second, 500*time.Millisecond, func() error {
		for name, id := range ids {
			var cep struct {
				Status struct {
					Identity struct {
						ID int64 `json:"id"`
					} `json:"identity"`
				} `json:"status"`
			}
			if err := s.k.getJSON([]string{"ciliumendpoint", name}, &cep); err != nil {
				return err
			}
			if cep.Status.Identity.ID != id {
				return fmt.Errorf("CiliumEndpoint %s has identity %d, agent %d", name, cep.Status.Identity.ID, id)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("CiliumEndpoints: %v", err)
		return
	}
	out, _ := s.k.run(t.Context(), "get", "ciliumendpoints", "-o", "wide")
	t.Logf("ok: CiliumEndpoint objects match:\n%s", strings.TrimSpace(out))
}
