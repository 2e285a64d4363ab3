//go:build cluster

package cluster

import (
	"fmt"
	"strconv"
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
	before := portmapPackets(t, n1, hp)
	code, out := s.k.execIn(nm2.name, "/testapp", "dial", addr, "3s")
	if code != 0 || !strings.Contains(out, "hello from "+hp.name) {
		t.Fatalf("%s (on %s) → %s (hostPort of %s on %s): exit %d: %s", nm2, nm2.node, addr, hp, n1, code, out)
	}
	t.Logf("ok: %s (on %s) → %s answered %q", nm2, nm2.node, addr, strings.TrimSpace(out))
	// Two mechanisms serve a hostPort here: portmap's DNAT (iptables PREROUTING) and, with kube-proxy
	// replacement, the agent's own HostPort service, which its programs on ext0 apply before iptables
	// once the agent has seen the pod. Which one wins depends on that timing, so the check is that one
	// of them really did: portmap's counter moved, or the agent lists a HostPort service for the port.
	after := portmapPackets(t, n1, hp)
	ciliumHostPort := agentHostPortService(t, n1, hostPort)
	switch {
	case after > before:
		t.Logf("ok: %s: portmap's DNAT jump for %s counted %d → %d packets: the connection was DNATed by portmap", n1, hp, before, after)
	case ciliumHostPort != "":
		t.Logf("ok: %s: portmap's counter stayed at %d; the agent's HostPort service %s served the connection before iptables", n1, after, ciliumHostPort)
	default:
		t.Errorf("%s: neither portmap's DNAT for %s (%d packets before, %d after) nor a HostPort service of the agent served the connection", n1, hp, before, after)
	}
}

// agentHostPortService is the agent's HostPort service for port ("ip:port"), or "" if it lists none.
func agentHostPortService(t *testing.T, n *node, port int) string {
	t.Helper()
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
	if _, err := n.api.Get("/service", &svcs); err != nil {
		t.Logf("%s's agent: GET /service: %v", n, err)
		return ""
	}
	for _, sv := range svcs {
		if sv.Spec.FrontendAddress.Port == port && sv.Spec.Flags.Type == "HostPort" {
			return fmt.Sprintf("%s:%d", sv.Spec.FrontendAddress.IP, port)
		}
	}
	return ""
}

// portmapPackets is the packet counter of portmap's CNI-HOSTPORT-DNAT jump for the pod's sandbox.
func portmapPackets(t *testing.T, n *node, p *pod) int {
	t.Helper()
	out := n.run(t, "iptables", "-t", "nat", "-L", "CNI-HOSTPORT-DNAT", "-v", "-n", "-x")
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.Contains(l, p.cni.ContainerID) {
			pkts, err := strconv.Atoi(f[0])
			if err != nil {
				t.Fatalf("%s: portmap chain line %q: %v", n, l, err)
			}
			return pkts
		}
	}
	t.Fatalf("%s: no portmap DNAT jump for %s in:\n%s", n, p, out)
	return 0
}
