//go:build e2e

package e2e

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// netName is the network every conflist variant uses: libcni's cache and host-local's store are keyed
// by it, so pods added under one variant can be checked, deleted or GCed under another and IPs stay
// unique across variants.
const netName = "cbr0"

// clusterName is the agent's default --cluster-name.
const clusterName = "default"

// confSet writes conflist variants, each in a conf dir of its own (cnitool looks a network up by name
// in NETCONFPATH, so variants sharing the name cannot share a dir).
type confSet struct {
	dir  string
	sock string
}

// pluginLog is where every cilium-chain entry logs.
func (c confSet) pluginLog() string { return filepath.Join(c.dir, "cilium-chain.log") }

// stateDir is the plugin's record of attachments, shared by all variants like a node's would be.
func (c confSet) stateDir() string { return filepath.Join(c.dir, "chain-state") }

// flannel is the seed's primary entry; its data stays in dir.
func (c confSet) flannel() map[string]any { return peer.FlannelEntry(c.dir) }

// flannelDelegate is the bridge config Flannel v0.9.1 generates from subnet.env; it stands in for
// Flannel at cniVersion 1.x, which that Flannel (the last one the module proxy serves) does not speak.
func (c confSet) flannelDelegate() map[string]any {
	return map[string]any{
		"type":             "bridge",
		"hairpinMode":      true,
		"isDefaultGateway": true,
		"isGateway":        true,
		"ipMasq":           false,
		"mtu":              1450,
		"ipam": map[string]any{
			"type":    "host-local",
			"dataDir": filepath.Join(c.dir, "ipam"),
			"ranges":  [][]map[string]any{{{"subnet": "10.244.1.0/24"}}},
			"routes":  []map[string]any{{"dst": "10.244.0.0/16"}},
		},
	}
}

// chain is cilium-chain's entry with this project's keys.
func (c confSet) chain() map[string]any {
	return map[string]any{
		"type":        "cilium-chain",
		"socket-path": c.sock,
		"log-file":    c.pluginLog(),
		"log-level":   "debug",
		"state-dir":   c.stateDir(),
		// fromEndpoints selectors require the peer's namespace and, with v1.20's default
		// --policy-default-local-cluster=true, its cluster; without Kubernetes only the plugin can
		// send these labels.
		"args-labels": map[string]string{"K8S_POD_NAMESPACE": "k8s:io.kubernetes.pod.namespace"},
		"labels":      []string{"k8s:io.cilium.k8s.policy.cluster=" + clusterName},
		// The test pods' CILIUM_LABEL_ pairs are opt-in, like on a real node.
		"label-args": []string{"*"},
	}
}

// upstreamChain is the entry as upstream's generic-veth docs write it, only "type" changed; the
// socket then comes from CILIUM_SOCK.
func (c confSet) upstreamChain() map[string]any {
	return map[string]any{
		"type":          "cilium-chain",
		"chaining-mode": "generic-veth",
		"enable-debug":  true,
		"log-file":      filepath.Join(c.dir, "cilium-chain-upstream.log"),
		// The one project key: CILIUM_LABEL_ labels are opt-in (upstream has none, so the endpoint
		// would stay reserved:init without them).
		"label-args": []string{"*"},
	}
}

// write stores a conflist under dir/<variant>/05-cilium.conflist and returns that conf dir.
func (c confSet) write(t *testing.T, variant, cniVersion string, plugins ...map[string]any) string {
	t.Helper()
	b, err := json.MarshalIndent(map[string]any{"cniVersion": cniVersion, "name": netName, "plugins": plugins}, "", "  ")
	if err != nil {
		t.Fatalf("conflist: %v", err)
	}
	confDir := filepath.Join(c.dir, "conf", variant)
	peer.WriteFile(t, filepath.Join(confDir, "05-cilium.conflist"), string(b)+"\n")
	return confDir
}

// variants are the conflists the tests use, by purpose.
type variants struct {
	seed     string // 0.3.1 flannel → cilium-chain, the seed scenario
	check    string // 0.4.0 flannel → cilium-chain: the newest version this Flannel has, CHECK allowed
	v100     string // 1.0.0 flannel's bridge delegate → cilium-chain
	v110     string // 1.1.0 same, for STATUS and GC
	upstream string // 0.3.1 flannel → upstream-shaped entry
}

func writeVariants(t *testing.T, dir, sock string) (confSet, variants) {
	t.Helper()
	c := confSet{dir: dir, sock: sock}
	peer.WriteFile(t, filepath.Join(dir, "subnet.env"), peer.SubnetEnv)
	return c, variants{
		seed:     c.write(t, "seed-0.3.1", "0.3.1", c.flannel(), c.chain()),
		check:    c.write(t, "flannel-0.4.0", "0.4.0", c.flannel(), c.chain()),
		v100:     c.write(t, "delegate-1.0.0", "1.0.0", c.flannelDelegate(), c.chain()),
		v110:     c.write(t, "delegate-1.1.0", "1.1.0", c.flannelDelegate(), c.chain()),
		upstream: c.write(t, "upstream-0.3.1", "0.3.1", c.flannel(), c.upstreamChain()),
	}
}
