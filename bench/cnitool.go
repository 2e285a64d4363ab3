package bench

import (
	"context"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// cniRunner runs cnitool (and so the whole chain) inside a node netns with the shared runner.
type cniRunner struct {
	paths Paths
	node  netnsName
	net   *network
	env   []string // for cnitool and every plugin it runs (CILIUM_SOCK)
}

func podArgs(pod netnsName) string {
	return "IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=" + string(pod)
}

// cnitool runs `cnitool <verb> <network> <pod netns>` with confDir as NETCONFPATH.
func (r *cniRunner) cnitool(ctx context.Context, confDir, verb string, pod netnsName) peer.CnitoolResult {
	tool := peer.Cnitool{Bin: r.paths.peer("cnitool"), CNIPath: r.paths.cniPath(), NodeNS: r.node.path(), Env: r.env}
	return tool.Run(ctx, confDir, verb, r.net.name, pod.path(), podArgs(pod))
}
