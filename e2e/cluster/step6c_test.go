//go:build cluster

package cluster

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

const nmServiceYAML = `apiVersion: v1
kind: Service
metadata:
  name: nm
  namespace: default
spec:
  type: ClusterIP
  selector:
    app: test
    name: nm
  ports:
  - name: http
    port: 80
    targetPort: 80
    protocol: TCP
`

// hostNetPodYAML is an idle test pod in the node's own network namespace (no CNI).
func hostNetPodYAML(name, image, node string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: default\nspec:\n", name) +
		appPodSpecYAML("  ", "hostNetwork: true\n", node, image, `["wait"]`, "")
}

// step6cService — the seed's first test, kube-proxy-free: no kube-proxy runs (no KUBE-* rules on
// either node), the agents serve a ClusterIP Service in front of the nm pods: from node 2's nm pod
// it reaches both backends, one on each node; from node 2's own network namespace too (a
// hostNetwork pod): there only kube-proxy replacement's socket LB translates (Cilium's per-packet
// LB runs on pod veths); and the L3 policy still applies to service traffic (other-n2 is denied
// through the ClusterIP).
func (s *scenario) step6cService(t *testing.T) {
	if len(s.nm) != 2 || s.otherN2 == nil {
		t.Fatal("needs step 6a's pods")
	}
	nm1, nm2, o2 := s.nm[0], s.nm[1], s.otherN2
	for _, n := range s.nodes {
		if rules := n.run(t, "iptables-save"); strings.Contains(rules, "KUBE-SVC") || strings.Contains(rules, "KUBE-SERVICES") {
			t.Errorf("%s: kube-proxy rules in iptables:\n%s", n, rules)
		}
	}
	if _, err := s.k.apply(t.Context(), nmServiceYAML); err != nil {
		t.Fatalf("service: %v", err)
	}
	defer s.k.run(t.Context(), "delete", "service", "nm", "--ignore-not-found")
	var svc struct {
		Spec struct {
			ClusterIP string `json:"clusterIP"`
		} `json:"spec"`
	}
	if err := s.k.getJSON([]string{"service", "nm"}, &svc); err != nil {
		t.Fatal(err)
	}
	vip := svc.Spec.ClusterIP + ":80"
	backends := []string{nm1.ip + ":80", nm2.ip + ":80"}
	for _, n := range s.nodes {
		if err := n.waitService(vip, backends); err != nil {
			t.Fatalf("%s: %v\n--- agent (tail) ---\n%s", n, err, n.agent.LogTail(20))
		}
		t.Logf("ok: %s's agent serves ClusterIP %s → %v", n, vip, backends)
	}

	seen := map[string]int{}
	for i := 0; i < 20; i++ {
		code, out := s.k.execIn(nm2.name, "/testapp", "dial", vip, "2s")
		if code != 0 {
			t.Fatalf("%s → service %s: exit %d: %s", nm2, vip, code, out)
		}
		seen[strings.TrimPrefix(strings.TrimSpace(out), "hello from ")]++
	}
	if seen[nm1.name] == 0 || seen[nm2.name] == 0 {
		t.Errorf("%s → %s 20 times answered by %v, want both backends (%s on %s, %s on %s)", nm2, vip, seen, nm1, nm1.node, nm2, nm2.node)
	} else {
		t.Logf("ok: %s (on %s) → ClusterIP %s, 20 connections: %v (a backend on each node)", nm2, nm2.node, vip, seen)
	}

	// A hostNetwork pod: node 2's netns, in node 2's cgroup (socket LB's scope).
	if _, err := s.k.apply(t.Context(), hostNetPodYAML("hostnet-n2", s.images.TestApp, nm2.node.name)); err != nil {
		t.Fatalf("hostNetwork pod: %v", err)
	}
	defer s.k.run(t.Context(), "delete", "pod", "hostnet-n2", "--wait=true", "--timeout=60s")
	if _, err := s.k.run(t.Context(), "wait", "--for=condition=Ready", "pod/hostnet-n2", "--timeout=120s"); err != nil {
		t.Fatalf("hostNetwork pod: %v", err)
	}
	if code, out := s.k.execIn("hostnet-n2", "/testapp", "dial", vip, "3s"); code != 0 || !strings.HasPrefix(strings.TrimSpace(out), "hello from nm-") {
		t.Errorf("node 2's network namespace (hostNetwork pod) → service %s: exit %d: %s; without kube-proxy only socket LB serves it", vip, code, strings.TrimSpace(out))
	} else {
		t.Logf("ok: %s's own network namespace (hostNetwork pod hostnet-n2) → ClusterIP %s: %q (socket LB)", nm2.node, vip, strings.TrimSpace(out))
	}

	pods := []*pod{nm1, nm2, o2}
	s.changePolicyFor(t, "apply", peer.CNPL3, pods)
	defer s.changePolicyFor(t, "delete", peer.CNPL3, pods)
	for i := 0; i < 3; i++ {
		if code, out := s.k.execIn(o2.name, "/testapp", "dial", vip, "3s"); code != exitTimeout {
			t.Errorf("%s → service %s under the L3 policy: exit %d (%s), want a timeout (dropped by policy)", o2, vip, code, strings.TrimSpace(out))
		}
	}
	if code, out := s.k.execIn(nm2.name, "/testapp", "dial", vip, "2s"); code != 0 {
		t.Errorf("%s → service %s under the L3 policy: exit %d (%s), want allowed", nm2, vip, code, out)
	} else {
		t.Logf("ok: under the L3 policy %s → %s still works (%s), %s → %s is dropped", nm2, vip, strings.TrimSpace(out), o2, vip)
	}
}

// waitService waits until the agent's load balancer has the frontend with exactly these backends.
func (n *node) waitService(frontend string, backends []string) error {
	return peer.Eventually(60*time.Second, 500*time.Millisecond, func() error {
		var list []struct {
			Spec struct {
				FrontendAddress struct {
					IP   string `json:"ip"`
					Port int    `json:"port"`
				} `json:"frontend-address"`
				BackendAddresses []struct {
					IP   string `json:"ip"`
					Port int    `json:"port"`
				} `json:"backend-addresses"`
			} `json:"spec"`
		}
		if _, err := n.api.Get("/service", &list); err != nil {
			return err
		}
		for _, svc := range list {
			fe := fmt.Sprintf("%s:%d", svc.Spec.FrontendAddress.IP, svc.Spec.FrontendAddress.Port)
			if fe != frontend {
				continue
			}
			var got []string
			for _, b := range svc.Spec.BackendAddresses {
				got = append(got, fmt.Sprintf("%s:%d", b.IP, b.Port))
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(backends))
			if !slices.Equal(got, want) {
				return fmt.Errorf("service %s has backends %v, want %v", frontend, got, want)
			}
			return nil
		}
		return fmt.Errorf("no service %s in the agent (%d services)", frontend, len(list))
	})
}
