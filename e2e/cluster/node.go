//go:build cluster

package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// node is one Kubernetes node: a network and a mount namespace of its own with its containerd,
// kubelet, flanneld and cilium-agent. Node 1 is the test's own namespaces (what the single node
// was: the test reads its files and links directly); node 2 is nsinit.sh's second pair, held by
// nodeinit.sh, whose processes start through nsenter and whose files the test reads through
// /proc/<holder>/root.
type node struct {
	e          *env
	index      int    // 1, 2
	name, ip   string // Node name and InternalIP (ext0)
	holder     int    // a process in the node's namespaces; 0 for node 1 (the test's own)
	cgroupRoot string // the kubelet's --cgroup-root, one per node
	agentRange string // the agent's --ipv4-range (cilium_host), outside Flannel's network

	containerd, kubelet, flanneld, agent *peer.Proc
	api                                  *agentAPI
	podCIDR                              string
	mounts                               mountBaseline

	agentExtra []string // further agent flags: the bench mode's Prometheus listener
}

// The two nodes. Node 1 keeps the single node's name, address and paths.
func newNodes(e *env) ([]*node, error) {
	holder, err := strconv.Atoi(os.Getenv("CLUSTER_NODE2_PID"))
	if err != nil || holder <= 1 {
		return nil, fmt.Errorf("CLUSTER_NODE2_PID %q: run this test through e2e/cluster/run.sh", os.Getenv("CLUSTER_NODE2_PID"))
	}
	return []*node{
		node1(e),
		{e: e, index: 2, name: nodeName + "2", ip: node2IP, holder: holder, cgroupRoot: e.cgroupRoot + "-node2", agentRange: "10.200.1.0/24"},
	}, nil
}

// node1 is the test's own node, as the single-node harness had it.
func node1(e *env) *node {
	return &node{e: e, index: 1, name: nodeName, ip: nodeIP, cgroupRoot: e.cgroupRoot, agentRange: agentRange}
}

func (n *node) String() string { return n.name }

// path is a per-node directory of the run: node 1's are the run's own (as before), node 2's under
// node2/.
func (n *node) path(elem ...string) string {
	if n.holder == 0 {
		return n.e.path(elem...)
	}
	return n.e.path(append([]string{"node2"}, elem...)...)
}

// logName prefixes node 2's component logs.
func (n *node) logName(name string) string {
	if n.holder == 0 {
		return name
	}
	return "node2-" + name
}

// file is a path of the node's own file system as the test can open it. Node 2's /var/run is
// spelled /run: /var/run is an absolute symlink, which /proc/<pid>/root would resolve in the test's
// own root, that is node 1's.
func (n *node) file(p string) string {
	if n.holder == 0 {
		return p
	}
	if rest, ok := strings.CutPrefix(p, "/var/run/"); ok {
		p = "/run/" + rest
	}
	return fmt.Sprintf("/proc/%d/root%s", n.holder, p)
}

// argv runs a command in the node's namespaces.
func (n *node) argv(argv ...string) []string {
	if n.holder == 0 {
		return argv
	}
	return append([]string{"nsenter", "--target", strconv.Itoa(n.holder), "--net", "--mount", "--"}, argv...)
}

// netnsPath is the node's network namespace for netlink (empty: the test's own).
func (n *node) netnsPath() string {
	if n.holder == 0 {
		return ""
	}
	return fmt.Sprintf("/proc/%d/ns/net", n.holder)
}

// start is startProc in the node's namespaces, its log named after the node.
func (n *node) start(t *testing.T, name string, grace time.Duration, extraEnv []string, argv ...string) *peer.Proc {
	t.Helper()
	return startProc(t, n.e, n.logName(name), grace, extraEnv, n.argv(argv...)...)
}

// run is a short command in the node's namespaces.
func (n *node) run(t *testing.T, argv ...string) string {
	t.Helper()
	a := n.argv(argv...)
	return mustOut(t, a[0], a[1:]...)
}

// mkdirs creates the node's own directories.
func (n *node) mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("%s: mkdir: %v", n, err)
		}
	}
}

// writeFile writes a file into the node's file system.
func (n *node) writeFile(t *testing.T, path, content string) {
	t.Helper()
	n.mkdirs(t, filepath.Dir(n.file(path)))
	peer.WriteFile(t, n.file(path), content)
}
