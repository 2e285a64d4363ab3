//go:build cluster

package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// env is what run.sh and nsinit.sh hand the test: where things are, all from environment variables.
type env struct {
	work       string // this run's directory (logs, etcd, containerd root, kubelet root, agent state...)
	peerBin    string // $PEER_DIR/bin: kubelet, containerd, cilium-agent, flannel...
	bpfSrc     string // the agent's bpf/ sources (module cache)
	repo       string // the clone: the manifest
	images     string // the OCI archives and the image list run.sh built
	cgroupRoot string // the kubelet's --cgroup-root, one per run
	hostRun    string // the host's /run (the agent lock lives there)
	hostProc   string // the host's /proc (to see agents other runs started)
}

func loadEnv(t *testing.T) *env {
	t.Helper()
	get := func(k string) string {
		v := os.Getenv(k)
		if v == "" {
			t.Fatalf("%s is not set: run this test through e2e/cluster/run.sh (make e2e-cluster)", k)
		}
		return v
	}
	e := &env{
		work:       get("CLUSTER_WORK"),
		peerBin:    filepath.Join(get("PEER_DIR"), "bin"),
		repo:       get("CLUSTER_REPO"),
		images:     get("CLUSTER_IMAGES"),
		cgroupRoot: get("CLUSTER_CGROUP_ROOT"),
	}
	e.bpfSrc = filepath.Join(get("PEER_DIR"), "cilium-bpf")
	e.hostRun = filepath.Join(e.work, "hostrun")
	e.hostProc = filepath.Join(e.work, "hostproc")
	if os.Getpid() == 1 || !peer.FileExists(e.hostRun) {
		t.Fatalf("not inside nsinit.sh's namespaces (pid %d): run e2e/cluster/run.sh", os.Getpid())
	}
	for _, d := range []string{e.logs(), e.path("etc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("mkdir: %v", err)
		}
	}
	return e
}

func (e *env) path(elem ...string) string { return filepath.Join(append([]string{e.work}, elem...)...) }
func (e *env) logs() string               { return e.path("logs") }
func (e *env) bin(name string) string     { return filepath.Join(e.peerBin, name) }
