//go:build e2e

package e2e

import (
	"testing"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// node is the stand-in for a Kubernetes node (peer.NodeWiring): a netns holding etcd, the agent, the
// cni0 bridge and the host ends of the pod veths, wired to a second netns through its device ext0.
type node struct {
	ns  netnsName
	ext netnsName
}

func newNode(t *testing.T) *node {
	t.Helper()
	n := &node{ns: netnsName("cchain-node-" + runID()), ext: netnsName("cchain-ext-" + runID())}
	addNetns(t, n.ext)
	addNetns(t, n.ns)
	for _, argv := range peer.NodeWiring(string(n.ns), string(n.ext)) {
		mustRun(t, argv[0], argv[1:]...)
	}
	return n
}

// exec returns the argv prefix that runs a command inside the node netns.
func (n *node) exec(argv ...string) []string {
	return append([]string{"ip", "netns", "exec", string(n.ns)}, argv...)
}
