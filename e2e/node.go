//go:build e2e

package e2e

import "testing"

// node is the stand-in for a Kubernetes node: a netns holding etcd, the agent, the cni0 bridge and
// the host ends of the pod veths. Its device ext0 is a veth whose peer lives in a second netns, so
// the agent has a real device to attach to without touching the machine's interfaces.
type node struct {
	ns  netnsName
	ext netnsName
}

const (
	nodeDevice = "ext0"
	nodeIP     = "10.99.0.1/24"
	extIP      = "10.99.0.2/24"
)

func newNode(t *testing.T) *node {
	t.Helper()
	n := &node{ns: netnsName("cchain-node-" + runID()), ext: netnsName("cchain-ext-" + runID())}
	addNetns(t, n.ext)
	addNetns(t, n.ns)
	mustRun(t, "ip", "-n", string(n.ns), "link", "add", nodeDevice, "type", "veth", "peer", "name", "ext1", "netns", string(n.ext))
	mustRun(t, "ip", "-n", string(n.ns), "addr", "add", nodeIP, "dev", nodeDevice)
	mustRun(t, "ip", "-n", string(n.ext), "addr", "add", extIP, "dev", "ext1")
	mustRun(t, "ip", "-n", string(n.ns), "link", "set", nodeDevice, "up")
	mustRun(t, "ip", "-n", string(n.ext), "link", "set", "ext1", "up")
	// A default route gives the agent a node address to pick and keeps pods' traffic inside.
	mustRun(t, "ip", "-n", string(n.ns), "route", "add", "default", "via", "10.99.0.2")
	return n
}

// exec returns the argv prefix that runs a command inside the node netns.
func (n *node) exec(argv ...string) []string {
	return append([]string{"ip", "netns", "exec", string(n.ns)}, argv...)
}
