//go:build cluster

package cluster

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// images are the references run.sh's images.sh built (images.json).
type images struct {
	Installer     string   `json:"installer"`
	InstallerNext string   `json:"installerNext"`
	Pause         string   `json:"pause"`
	TestApp       string   `json:"testApp"`
	Archives      []string `json:"archives"`
}

func loadImages(t *testing.T, e *env) *images {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.images, "images.json"))
	if err != nil {
		t.Fatalf("images: %v", err)
	}
	var im images
	if err := json.Unmarshal(b, &im); err != nil {
		t.Fatalf("images.json: %v", err)
	}
	if im.Pause != sandboxImage {
		t.Fatalf("pause image %q, containerd pins %q", im.Pause, sandboxImage)
	}
	return &im
}

// cluster is the running cluster and what the steps share. The fields containerd … podCIDR are
// node 1's (the single node's, as the steps knew them); nodes holds both.
type cluster struct {
	e            *env
	images       *images
	cp           *controlPlane
	k            *kubectl
	nodes        []*node
	containerd   *peer.Proc
	kubelet      *peer.Proc
	agent        *peer.Proc
	api          *agentAPI
	podCIDR      string
	ips          ipTracker
	tm           timings
	repoManifest string // install/kubernetes/cilium-chain.yaml in the clone
	flannel      []byte // 10-flannel.conflist as written, to show nobody changed it
}

// startCluster brings up everything but the agents: control plane, on each node containerd,
// kubelet and kube-flannel's part (flanneld, its CNI config: node Ready), and Cilium's CRDs.
// Cleanups stop each process by PID in reverse order.
func startCluster(t *testing.T, e *env) *cluster {
	t.Helper()
	c := &cluster{e: e, images: loadImages(t, e), repoManifest: filepath.Join(e.repo, "install", "kubernetes", "cilium-chain.yaml")}
	nodes, err := newNodes(e)
	if err != nil {
		t.Fatal(err)
	}
	c.nodes = nodes
	began := time.Now()
	// The apiserver reaches each kubelet by node name (logs/exec): node 1's on loopback, node 2's on
	// its address (node 1's private /etc).
	appendFile(t, "/etc/hosts", "127.0.0.1 "+nodeName+"\n"+node2IP+" "+nodes[1].name+"\n")
	c.cp = startControlPlane(t, e)
	c.k = c.cp.kubectl
	c.tm.apiServer = time.Since(began)
	var archives []string
	for _, a := range c.images.Archives {
		archives = append(archives, filepath.Join(e.images, a))
	}
	// Each node's teardown is registered before its processes start, so it runs after they stopped
	// (cleanups run last-in first-out): leftover shims/containers by PID, then mounts, then cgroups.
	keep := append(c.cp.pids(), nodes[1].holder)
	for _, n := range nodes {
		t.Cleanup(func() { removeCgroupDir(t, n.cgroupRoot) })
		n.mounts = takeMountBaselineAt(t, n.mountinfo())
		t.Cleanup(func() {
			n.unmountNew(t, n.path("kubelet"), n.path("containerd"), "/run/containerd", "/run/netns")
		})
	}
	t.Cleanup(func() { sweepProcesses(t, keep) })
	for _, n := range nodes {
		n.containerd = n.startContainerd(t, archives)
		makeCgroupDir(t, n.cgroupRoot)
		n.kubelet = n.startKubelet(t, c.cp)
	}
	// Pods go before the kubelets and containerds stop, so every sandbox gets its CNI DEL.
	t.Cleanup(func() { c.deleteAllPods(t) })
	cfg := applyFlannelConfig(t, c.k)
	for _, n := range nodes {
		n.podCIDR = waitNodePodCIDR(t, c.k, n.name)
		n.installFlannel(t, c.cp, cfg)
	}
	checkHostGWRoutes(t, nodes)
	c.flannel, _ = os.ReadFile(filepath.Join(cniConfDir, flannelConflist))
	for _, n := range nodes {
		waitReady(t, c.k, n.name, n.kubelet)
	}
	n1 := nodes[0]
	c.containerd, c.kubelet, c.podCIDR = n1.containerd, n1.kubelet, n1.podCIDR
	c.tm.clusterUp = time.Since(began)
	t.Logf("cluster up in %s: nodes %s (podCIDR %s) and %s (podCIDR %s) Ready on Flannel's %s (flanneld host-gw)",
		c.tm.clusterUp.Round(time.Millisecond), n1, n1.podCIDR, nodes[1], nodes[1].podCIDR, flannelConflist)
	applyCiliumCRDs(t, e, c.k)
	return c
}

// deleteAllPods removes every pod, so each sandbox gets its CNI DEL before the runtime stops.
func (c *cluster) deleteAllPods(t *testing.T) {
	t.Helper()
	// Not t.Context(): it is already cancelled when cleanups run.
	ctx := context.Background()
	_, _ = c.k.run(ctx, "delete", "daemonset", "--all", "-A", "--wait=true", "--timeout=60s")
	if _, err := c.k.run(ctx, "delete", "pods", "--all", "-A", "--wait=true", "--timeout=90s"); err != nil {
		t.Logf("teardown: %v", err)
	}
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatalf("append %s: %v", path, err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatalf("append %s: %v", path, err)
	}
}
