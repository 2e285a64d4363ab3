//go:build cluster

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

const (
	nodeName = "cilium-chain-node"
	nodeIP   = "10.99.0.1" // node 1's ext0 (nsinit.sh): the link between the nodes
	node2IP  = "10.99.0.2" // node 2's ext0, the same link's other end
)

// kubeletConfig carries the settings the notes found necessary here: cgroup v1 allowed, cgroupfs, no
// swap check, no iptables chains, loopback-only serving, and a per-run cgroup root so every cgroup
// it and runc create sits under one directory the cleanup removes. Anonymous + AlwaysAllow is enough
// for kube-apiserver's logs/exec calls: the port is on a private netns (node 1: loopback, where the
// apiserver runs; node 2: its address on the nodes' link, as a real node's kubelet).
func kubeletConfig(n *node) string {
	address := "127.0.0.1"
	if n.holder != 0 {
		address = n.ip
	}
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: %s
cgroupsPerQOS: true
failSwapOn: false
makeIPTablesUtilChains: false
address: %s
port: 10250
healthzBindAddress: 127.0.0.1
healthzPort: 10248
readOnlyPort: 0
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
containerRuntimeEndpoint: unix://%s
resolvConf: ""
registerNode: true
rotateCertificates: false
serverTLSBootstrap: false
imageGCHighThresholdPercent: 100
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%%"
  imagefs.available: "1%%"
nodeStatusUpdateFrequency: 2s
syncFrequency: 10s
fileCheckFrequency: 10s
`, n.cgroupRoot, address, containerdSock)
}

// makeCgroupRoot creates --cgroup-root in every v1 hierarchy (the kubelet refuses a missing one); a
// new cpuset cgroup needs its parent's cpus and mems before a task may join.
func makeCgroupRoot(t *testing.T, e *env) { makeCgroupDir(t, e.cgroupRoot) }

func makeCgroupDir(t *testing.T, cgroupRoot string) {
	t.Helper()
	hierarchies, err := filepath.Glob("/sys/fs/cgroup/*")
	if err != nil {
		t.Fatalf("cgroups: %v", err)
	}
	for _, h := range hierarchies {
		dir := filepath.Join(h, cgroupRoot)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("cgroup root: %v", err)
		}
		if filepath.Base(h) == "cpuset" {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				v, err := os.ReadFile(filepath.Join(h, f))
				if err != nil {
					t.Fatalf("cpuset: %v", err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
					t.Fatalf("cpuset: %v", err)
				}
			}
		}
	}
}

// removeCgroupRoot removes the cgroup tree depth first, once every process is gone. run.sh checks
// again after the namespaces end.
func removeCgroupRoot(t *testing.T, e *env) { removeCgroupDir(t, e.cgroupRoot) }

func removeCgroupDir(t *testing.T, cgroupRoot string) {
	t.Helper()
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, h := range hierarchies {
		root := filepath.Join(h, cgroupRoot)
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := os.Remove(dirs[i]); err != nil && !os.IsNotExist(err) {
				t.Errorf("teardown: remove cgroup %s: %v", dirs[i], err)
			}
		}
	}
}

// startKubelet runs node 1's kubelet and waits until it has registered the node.
func startKubelet(t *testing.T, e *env, cp *controlPlane) *peer.Proc {
	t.Helper()
	return node1(e).startKubelet(t, cp)
}

// startKubelet runs the node's kubelet and waits until it has registered the node.
func (n *node) startKubelet(t *testing.T, cp *controlPlane) *peer.Proc {
	t.Helper()
	cfg := n.path("etc", "kubelet.yaml")
	n.mkdirs(t, filepath.Dir(cfg))
	peer.WriteFile(t, cfg, kubeletConfig(n))
	p := n.start(t, "kubelet", 60*time.Second, nil, n.e.bin("kubelet"),
		"--config="+cfg, "--kubeconfig="+cp.kubeconfig, "--root-dir="+n.path("kubelet"),
		"--hostname-override="+n.name, "--node-ip="+n.ip, "--v=2")
	err := peer.Eventually(3*time.Minute, 500*time.Millisecond, func() error {
		if done, werr := p.Exited(); done {
			return fmt.Errorf("kubelet exited: %v", werr)
		}
		_, err := cp.kubectl.run(context.Background(), "get", "node", n.name)
		return err
	})
	if err != nil {
		t.Fatalf("kubelet did not register %s: %v\n%s", n.name, err, p.LogTail(60))
	}
	return p
}

// nodeInfo is the part of the Node object the test reads.
type nodeInfo struct {
	Spec struct {
		PodCIDR string `json:"podCIDR"`
	} `json:"spec"`
	Status struct {
		Conditions []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
}

func (n *nodeInfo) condition(typ string) (status, message string) {
	for _, c := range n.Status.Conditions {
		if c.Type == typ {
			return c.Status, c.Message
		}
	}
	return "", ""
}

// waitPodCIDR returns node 1's podCIDR once the controller-manager has allocated it.
func waitPodCIDR(t *testing.T, k *kubectl) string {
	t.Helper()
	return waitNodePodCIDR(t, k, nodeName)
}

func waitNodePodCIDR(t *testing.T, k *kubectl, nodeName string) string {
	t.Helper()
	var cidr string
	err := peer.Eventually(2*time.Minute, 500*time.Millisecond, func() error {
		var n nodeInfo
		if err := k.getJSON([]string{"node", nodeName}, &n); err != nil {
			return err
		}
		if cidr = n.Spec.PodCIDR; cidr == "" {
			return fmt.Errorf("no podCIDR yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("node podCIDR: %v", err)
	}
	return cidr
}

// waitNodeReady waits for node 1's Ready condition (it needs a CNI config: "cni plugin not
// initialized").
func waitNodeReady(t *testing.T, k *kubectl, kubelet *peer.Proc) {
	t.Helper()
	waitReady(t, k, nodeName, kubelet)
}

func waitReady(t *testing.T, k *kubectl, nodeName string, kubelet *peer.Proc) {
	t.Helper()
	err := peer.Eventually(3*time.Minute, 500*time.Millisecond, func() error {
		var n nodeInfo
		if err := k.getJSON([]string{"node", nodeName}, &n); err != nil {
			return err
		}
		if s, msg := n.condition("Ready"); s != "True" {
			return fmt.Errorf("node Ready=%s: %s", s, msg)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("node not Ready: %v\n%s", err, kubelet.LogTail(40))
	}
}

// jsonString is a small helper for log output.
func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return strings.TrimSpace(string(b))
}
