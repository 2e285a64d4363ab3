package bench

import (
	"encoding/json"
	"fmt"
	"github.com/cilium-chain/cilium-chain/chain"
	"os"
	"path/filepath"
)

// cniVersion is the newest version the real Flannel plugin (v0.9.1) speaks fully in a chain.
const cniVersion = "0.3.1"

// subnetEnv is what flanneld writes. FLANNEL_IPMASQ=true: with false Flannel asks bridge to
// masquerade, which needs iptables.
const subnetEnv = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"

// network is one node's CNI setup: every conflist variant uses the same network name (libcni's cache
// and host-local's store are keyed by it), each in a conf dir of its own.
type network struct {
	name string // also the prefix of libcni's cache files
	dir  string
}

func newNetwork(name, dir string) (*network, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("network dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "subnet.env"), []byte(subnetEnv), 0o644); err != nil {
		return nil, fmt.Errorf("subnet.env: %w", err)
	}
	return &network{name: name, dir: dir}, nil
}

// flannel is the primary entry as kube-flannel writes it, its data kept in the network's dir.
func (n *network) flannel() map[string]any {
	return map[string]any{
		"type":       "flannel",
		"subnetFile": filepath.Join(n.dir, "subnet.env"),
		"dataDir":    filepath.Join(n.dir, "flannel"),
		"ipam":       map[string]any{"dataDir": filepath.Join(n.dir, "ipam")},
		"delegate":   map[string]any{"hairpinMode": true, "isDefaultGateway": true},
	}
}

// write stores flannel → chained (nil: Flannel alone) as conf/<variant>/05-bench.conflist.
func (n *network) write(variant string, chained map[string]any) (string, error) {
	plugins := []any{n.flannel()}
	if chained != nil {
		plugins = append(plugins, chained)
	}
	b, err := json.MarshalIndent(map[string]any{"cniVersion": cniVersion, "name": n.name, "plugins": plugins}, "", "  ")
	if err != nil {
		return "", err
	}
	confDir := filepath.Join(n.dir, "conf", variant)
	if err := os.MkdirAll(confDir, 0o755); err != nil {
		return "", fmt.Errorf("conf dir: %w", err)
	}
	return confDir, os.WriteFile(filepath.Join(confDir, "05-bench.conflist"), b, 0o644)
}

// removeCache deletes libcni's cache files of this network (cnitool has no knob for their place).
func (n *network) removeCache() {
	files, _ := filepath.Glob("/var/lib/cni/results/" + n.name + "-*")
	for _, f := range files {
		_ = os.Remove(f)
	}
	_ = os.RemoveAll(filepath.Join(chain.DefaultStateDir, n.name)) // cilium-chain's records (default dir)
}

// chainedStdin is what libcni hands a chained plugin: its entry plus name, cniVersion and prevResult.
func (n *network) chainedStdin(entry map[string]any, prevResult []byte) ([]byte, error) {
	m := map[string]any{"name": n.name, "cniVersion": cniVersion, "prevResult": json.RawMessage(prevResult)}
	for k, v := range entry {
		m[k] = v
	}
	return json.Marshal(m)
}
