package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// cniVersion is the newest version the real Flannel plugin (v0.9.1) speaks fully in a chain.
const cniVersion = "0.3.1"

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
	if err := os.WriteFile(filepath.Join(dir, "subnet.env"), []byte(peer.SubnetEnv), 0o644); err != nil {
		return nil, fmt.Errorf("subnet.env: %w", err)
	}
	return &network{name: name, dir: dir}, nil
}

// write stores flannel → chained (nil: Flannel alone) as conf/<variant>/05-bench.conflist.
func (n *network) write(variant string, chained map[string]any) (string, error) {
	plugins := []any{peer.FlannelEntry(n.dir)}
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
}

// chainedStdin is what libcni hands a chained plugin: its entry plus name, cniVersion and prevResult.
func (n *network) chainedStdin(entry map[string]any, prevResult []byte) ([]byte, error) {
	m := map[string]any{"name": n.name, "cniVersion": cniVersion, "prevResult": json.RawMessage(prevResult)}
	for k, v := range entry {
		m[k] = v
	}
	return json.Marshal(m)
}
