//go:build cluster

package cluster

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium/cilium/api/v1/models"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// nmDaemonSetYAML is the seed's nm DaemonSet: on every node a pod labelled app: test with a server
// (80 and 8080) and a client container the test execs dial in. Its selector adds name: nm, so the
// DaemonSet never adopts the single test pods that are app: test too.
func nmDaemonSetYAML(image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: nm
  namespace: default
spec:
  selector:
    matchLabels:
      app: test
      name: nm
  template:
    metadata:
      labels:
        app: test
        name: nm
      annotations:
        kubectl.kubernetes.io/default-container: client
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: 5
      containers:
      - name: server
        image: %[1]s
        imagePullPolicy: Never
        args: ["serve", "80", "8080"]
        env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
      - name: client
        image: %[1]s
        imagePullPolicy: Never
        args: ["wait"]
`, image)
}

// step6aCrossNode — the seed's nm DaemonSet on both nodes plus an app: other pod on node 2, all
// through the chain on their own node; each agent knows the other node's pods with their identity
// from its own mechanisms (CiliumEndpoint → ipcache), and the seed's L3 and L4 CNPs are enforced by
// real traffic across the nodes and on one node.
func (s *scenario) step6aCrossNode(t *testing.T) {
	began := time.Now()
	if _, err := s.k.apply(t.Context(), nmDaemonSetYAML(s.images.TestApp)); err != nil {
		t.Fatalf("nm DaemonSet: %v", err)
	}
	if _, err := s.k.run(t.Context(), "rollout", "status", "ds/nm", "--timeout=180s"); err != nil {
		t.Fatalf("nm DaemonSet rollout: %v", err)
	}
	s.nm = s.nmPods(t, began)
	s.otherN2 = s.createPodOn(t, s.nodes[1], "other-n2", "other")
	s.crossPods = append(s.crossPods, s.otherN2)
	nm1, nm2, o2 := s.nm[0], s.nm[1], s.otherN2
	ids := map[*pod]int64{}
	labels := map[*pod]string{}
	for _, p := range []*pod{nm1, nm2, o2} {
		if ep := s.checkChained(t, p); ep != nil {
			ids[p], labels[p] = identityID(ep), strings.Join(identityLabels(ep), " ")
		}
	}
	// Both agents allocate CRD identities; started at once for the same labels they may each create
	// one (Cilium tolerates duplicates: policy selects labels), so the labels must agree, not the IDs.
	if ids[nm1] == 0 || ids[nm2] == 0 || ids[o2] == 0 || labels[nm1] != labels[nm2] || labels[nm1] == labels[o2] {
		t.Fatalf("identities nm1=%d [%s] nm2=%d [%s] other-n2=%d [%s]: want nm1's labels = nm2's ≠ other-n2's",
			ids[nm1], labels[nm1], ids[nm2], labels[nm2], ids[o2], labels[o2])
	}
	// Each agent learned the other node's pods from their CiliumEndpoint objects: the ipcache maps
	// the remote pod IP to its identity and to the node that hosts it.
	for _, c := range []struct {
		on     *node
		remote []*pod
	}{{s.nodes[0], []*pod{nm2, o2}}, {s.nodes[1], []*pod{nm1}}} {
		for _, p := range c.remote {
			checkIPCache(t, c.on, p, ids[p])
		}
	}
	nm1to2 := func(t *testing.T, port int) { s.expectAllowed(t, nm1, nm2, port) }
	t.Run("no_policy", func(t *testing.T) {
		nm1to2(t, 80)
		s.expectAllowed(t, nm2, nm1, 80)
		s.expectAllowed(t, o2, nm1, 80)
		s.expectAllowed(t, o2, nm2, 80)
	})
	pods := []*pod{nm1, nm2, o2}
	t.Run("l3_from_app_test", func(t *testing.T) {
		s.changePolicyFor(t, "apply", peer.CNPL3, pods)
		nm1to2(t, 80)                    // across the nodes, app: test → app: test
		s.expectAllowed(t, nm2, nm1, 80) // and back
		s.expectDenied(t, o2, nm1, 80)   // across the nodes
		s.expectDenied(t, o2, nm2, 80)   // on node 2
		if s.other != nil {
			s.expectDenied(t, s.other, nm2, 80) // node 1's app: other → node 2
		}
		s.expectAllowed(t, nm2, o2, 80) // other-n2 is not selected: its ingress stays open
	})
	t.Run("l4_tcp_80", func(t *testing.T) {
		s.changePolicyFor(t, "apply", peer.CNPL4, pods)
		s.changePolicyFor(t, "delete", peer.CNPL3, pods)
		nm1to2(t, 80)
		s.expectDenied(t, nm1, nm2, 8080) // across the nodes, port 8080
		s.expectAllowed(t, o2, nm1, 80)
		s.expectDenied(t, o2, nm2, 8080) // on node 2
	})
	s.changePolicyFor(t, "delete", peer.CNPL4, pods)
}

// podOnNode is the part of a Pod the test needs to find which node it runs on.
type podOnNode struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
}

// nmPods are the nm DaemonSet's pods, in node order.
func (s *scenario) nmPods(t *testing.T, began time.Time) []*pod {
	t.Helper()
	var list struct {
		Items []podOnNode `json:"items"`
	}
	if err := s.k.getJSON([]string{"pods", "-l", "name=nm"}, &list); err != nil {
		t.Fatal(err)
	}
	var out []*pod
	for _, n := range s.nodes {
		i := slices.IndexFunc(list.Items, func(it podOnNode) bool { return it.Spec.NodeName == n.name })
		if i < 0 {
			t.Fatalf("no nm pod on %s: %+v", n, list.Items)
		}
		out = append(out, s.waitPod(t, n, list.Items[i].Metadata.Name, "test", began))
	}
	return out
}

// checkIPCache: the agent on n maps the remote pod's IP to its identity (from the pod's
// CiliumEndpoint) and to its node's address.
func checkIPCache(t *testing.T, n *node, p *pod, id int64) {
	t.Helper()
	var entry *models.IPListEntry
	err := peer.Eventually(30*time.Second, 500*time.Millisecond, func() error {
		var list []*models.IPListEntry
		if _, err := n.api.Get("/ip?cidr="+p.ip+"/32", &list); err != nil {
			return err
		}
		for _, e := range list {
			if e.Cidr != nil && *e.Cidr == p.ip+"/32" {
				entry = e
			}
		}
		if entry == nil {
			return fmt.Errorf("no ipcache entry for %s", p.ip)
		}
		if entry.Identity == nil || *entry.Identity != id || entry.HostIP != p.node.ip {
			return fmt.Errorf("ipcache %s → %s", p.ip, jsonString(entry))
		}
		return nil
	})
	if err != nil {
		t.Errorf("%s's agent on %s's pod %s: %v (want identity %d on host %s)", n, p.node, p, err, id, p.node.ip)
		return
	}
	t.Logf("ok: %s's ipcache: %s (%s on %s) → identity %d, host %s, %s", n, p.ip, p, p.node, id, entry.HostIP, jsonString(entry.Metadata))
}
