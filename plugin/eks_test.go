package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestCnitoolEKSShapedConflist: the conflist Cilium's EKS chaining installs, [aws-cni, egress-cni,
// portmap, cilium-cni], with only cilium-cni's "type" changed and the real ptp plugin standing in for
// aws-cni (both make a routed veth with host-local-style addressing; egress-cni has no stand-in and
// is left out). Every upstream key of the cilium-cni entry must load under ADD's strict parsing.
func TestCnitoolEKSShapedConflist(t *testing.T) {
	for _, v := range cniVersions {
		t.Run(v, func(t *testing.T) {
			n := newCNINode(t)
			entry := n.e.entry(map[string]any{
				"name": "cilium", "chaining-mode": "aws-cni", "enable-debug": true, "log-format": "json", "mtu": 9001,
				"eni": map[string]any{"first-interface-index": 0}, "enable-route-mtu": false,
			})
			list := map[string]any{"name": n.network, "cniVersion": v, "disableCheck": true, "plugins": []any{
				map[string]any{"name": "aws-cni", "type": "ptp", "mtu": 9001,
					"ipam": map[string]any{"type": "host-local", "subnet": "10.245.0.0/24", "dataDir": filepath.Join(n.e.dir, "ipam")}},
				map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}, "snat": true},
				entry,
			}}
			b, _ := json.Marshal(list)
			if err := os.WriteFile(filepath.Join(n.confDir, "05-cilium.conflist"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			pod := n.newPod()
			out, err := n.cnitool("add", pod, "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=eks-0")
			if err != nil {
				t.Fatal(err)
			}
			res := parseResult(t, v, out)
			ep := n.e.agent.Endpoint("cni-attachment-id:" + n.endpointFor(pod))
			if ep == nil {
				t.Fatalf("no endpoint; agent has %d", len(n.e.agent.Endpoints()))
			}
			if hostVeth := ep.Status.Networking.InterfaceName; !resultHasHostIface(res, hostVeth) {
				t.Fatalf("endpoint on %q, not ptp's host veth", hostVeth)
			}
			for i := range 2 {
				if _, err := n.cnitool("del", pod, ""); err != nil {
					t.Fatalf("DEL #%d: %v", i+1, err)
				}
			}
			if len(n.e.agent.Endpoints()) != 0 {
				t.Fatal("endpoint left after DEL")
			}
		})
	}
}
