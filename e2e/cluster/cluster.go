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

// cluster is the running single-node cluster and what the steps share.
type cluster struct {
	e            *env
	images       *images
	cp           *controlPlane
	k            *kubectl
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

// startCluster brings up everything but the agent: control plane, containerd, kubelet, Flannel's CNI
// config (node Ready), and Cilium's CRDs. Cleanups stop each process by PID in reverse order.
func startCluster(t *testing.T, e *env) *cluster {
	t.Helper()
	c := &cluster{e: e, images: loadImages(t, e), repoManifest: filepath.Join(e.repo, "install", "kubernetes", "cilium-chain.yaml")}
	began := time.Now()
	// The node name must resolve to the kubelet's loopback address for logs/exec (private /etc).
	appendFile(t, "/etc/hosts", "127.0.0.1 "+nodeName+"\n")
	c.cp = startControlPlane(t, e)
	c.k = c.cp.kubectl
	c.tm.apiServer = time.Since(began)
	var archives []string
	for _, a := range c.images.Archives {
		archives = append(archives, filepath.Join(e.images, a))
	}
	// The node's teardown is registered before its processes start, so it runs after they stopped
	// (cleanups run last-in first-out): leftover shims/containers by PID, then mounts, then cgroups.
	t.Cleanup(func() { removeCgroupRoot(t, e) })
	mounts := takeMountBaseline(t)
	t.Cleanup(func() {
		unmountNew(t, mounts, e.path("kubelet"), e.path("containerd"), "/run/containerd", "/run/netns")
	})
	t.Cleanup(func() { sweepProcesses(t, c.cp.pids()) })
	c.containerd = startContainerd(t, e, archives)
	makeCgroupRoot(t, e)
	c.kubelet = startKubelet(t, e, c.cp)
	// Pods go before the kubelet and containerd stop, so every sandbox gets its CNI DEL.
	t.Cleanup(func() { c.deleteAllPods(t) })
	c.podCIDR = waitPodCIDR(t, c.k)
	installFlannelCNI(t, e, c.podCIDR)
	c.flannel, _ = os.ReadFile(filepath.Join(cniConfDir, flannelConflist))
	waitNodeReady(t, c.k, c.kubelet)
	c.tm.clusterUp = time.Since(began)
	t.Logf("cluster up in %s: node %s Ready, podCIDR %s, Flannel's %s", c.tm.clusterUp.Round(time.Millisecond), nodeName, c.podCIDR, flannelConflist)
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
