//go:build cluster

package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const hostPort = 8081

// step6dHostPort — a pod with hostPort on node 1 goes through the derived conflist [flannel portmap
// cilium-chain]: portmap (before cilium-chain, as in Flannel's conflist and Cilium's own chaining
// templates) writes its DNAT rule for node 1's port into node 1's netns, and the pod answers on
// node 1's address from a pod on node 2.
func (s *scenario) step6dHostPort(t *testing.T) {
	if len(s.nm) != 2 {
		t.Fatal("needs step 6a's pods")
	}
	n1, nm2 := s.nodes[0], s.nm[1]
	began := time.Now()
	if _, err := s.k.apply(t.Context(), podYAML("hostport-n1", "hostport", s.images.TestApp, n1.name, hostPort)); err != nil {
		t.Fatalf("hostPort pod: %v", err)
	}
	hp := s.waitPod(t, n1, "hostport-n1", "hostport", began)
	s.crossPods = append(s.crossPods, hp)
	s.checkChained(t, hp)

	nat := n1.run(t, "iptables-save", "-t", "nat")
	rule := fmt.Sprintf("--dport %d -j DNAT --to-destination %s:80", hostPort, hp.ip)
	if !strings.Contains(nat, rule) {
		t.Fatalf("%s: portmap wrote no DNAT rule %q:\n%s", n1, rule, nat)
	}
	t.Logf("ok: %s: portmap's DNAT rule for hostPort %d: %s", n1, hostPort, grepLines(nat, rule))

	addr := fmt.Sprintf("%s:%d", n1.ip, hostPort)
	code, out := s.k.execIn(nm2.name, "/testapp", "dial", addr, "3s")
	if code != 0 || !strings.Contains(out, "hello from "+hp.name) {
		t.Fatalf("%s (on %s) → %s (hostPort of %s on %s): exit %d: %s", nm2, nm2.node, addr, hp, n1, code, out)
	}
	t.Logf("ok: %s (on %s) → %s answered %q", nm2, nm2.node, addr, strings.TrimSpace(out))
	counters := n1.run(t, "iptables", "-t", "nat", "-L", "CNI-HOSTPORT-DNAT", "-v", "-n", "-x")
	t.Logf("%s: portmap's chain after the connection:\n%s", n1, counters)
	var svcs []struct {
		Spec struct {
			FrontendAddress struct {
				IP   string `json:"ip"`
				Port int    `json:"port"`
			} `json:"frontend-address"`
			Flags struct {
				Type string `json:"type"`
			} `json:"flags"`
		} `json:"spec"`
	}
	if _, err := n1.api.Get("/service", &svcs); err == nil {
		for _, sv := range svcs {
			if sv.Spec.FrontendAddress.Port == hostPort {
				t.Logf("%s's agent: service %s:%d type %s", n1, sv.Spec.FrontendAddress.IP, hostPort, sv.Spec.Flags.Type)
			}
		}
	}
}
