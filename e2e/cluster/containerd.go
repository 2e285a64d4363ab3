//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

const (
	containerdSock = "/run/containerd/containerd.sock"
	// cniConfDir and cniBinDir are the paths the installer manifest mounts (hostPath): the node's.
	cniConfDir = "/etc/cni/net.d"
	cniBinDir  = "/opt/cni/bin"
	// sandboxImage is the kubelet v1.35 default; containerd's pinned sandbox image, our local build.
	sandboxImage = "registry.k8s.io/pause:3.10.1"
)

// containerdConfig is containerd v2.2 (config version 3) as the notes require it here: runc with
// cgroupfs, restrict_oom_score_adj (root lacks CAP_SYS_RESOURCE), NRI off, streaming on loopback,
// CNI from the node's dirs, only the first config used (as every runtime does).
func containerdConfig(root string) string {
	return fmt.Sprintf(`version = 3
root = %q
state = "/run/containerd"

[grpc]
  address = %q

[ttrpc]
  address = "/run/containerd/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins]
  [plugins."io.containerd.cri.v1.runtime"]
    restrict_oom_score_adj = true
    enable_selinux = false
    disable_apparmor = true
    [plugins."io.containerd.cri.v1.runtime".containerd]
      default_runtime_name = "runc"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
          BinaryName = "/usr/sbin/runc"
          SystemdCgroup = false
    [plugins."io.containerd.cri.v1.runtime".cni]
      bin_dirs = [%q]
      conf_dir = %q
      max_conf_num = 1
  [plugins."io.containerd.cri.v1.images"]
    snapshotter = "overlayfs"
    [plugins."io.containerd.cri.v1.images".pinned_images]
      sandbox = %q
  [plugins."io.containerd.grpc.v1.cri"]
    disable_tcp_service = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
  [plugins."io.containerd.nri.v1.nri"]
    disable = true
`, root, containerdSock, cniBinDir, cniConfDir, sandboxImage)
}

// startContainerd runs node 1's containerd and imports the image archives into its k8s.io namespace.
func startContainerd(t *testing.T, e *env, archives []string) *peer.Proc {
	t.Helper()
	return node1(e).startContainerd(t, archives)
}

// startContainerd runs the node's containerd and imports the image archives.
func (n *node) startContainerd(t *testing.T, archives []string) *peer.Proc {
	t.Helper()
	cfg := n.path("etc", "containerd.toml")
	n.mkdirs(t, filepath.Dir(cfg))
	peer.WriteFile(t, cfg, containerdConfig(n.path("containerd")))
	// The shim and runc are found on PATH; runc is Debian's.
	p := n.start(t, "containerd", 30*time.Second, []string{"PATH=" + n.e.peerBin + ":" + os.Getenv("PATH")},
		n.e.bin("containerd"), "--config", cfg, "--log-level", "info")
	err := peer.Eventually(time.Minute, 100*time.Millisecond, func() error {
		if done, werr := p.Exited(); done {
			return fmt.Errorf("containerd exited: %v", werr)
		}
		_, err := n.ctr(context.Background(), "version")
		return err
	})
	if err != nil {
		t.Fatalf("%s: containerd not ready: %v\n%s", n, err, p.LogTail(40))
	}
	for _, a := range archives {
		out, err := n.ctr(context.Background(), "-n", "k8s.io", "images", "import", a)
		if err != nil {
			t.Fatalf("%s: import %s: %v", n, filepath.Base(a), err)
		}
		t.Logf("%s: imported %s: %s", n, filepath.Base(a), strings.Join(strings.Fields(out), " "))
	}
	list, err := n.ctr(context.Background(), "-n", "k8s.io", "images", "ls", "-q")
	if err != nil {
		t.Fatalf("list images: %v", err)
	}
	t.Logf("%s: containerd images (k8s.io): %s", n, strings.Join(strings.Fields(list), " "))
	return p
}

// ctr runs containerd's own client (built with it) against node 1's socket.
func ctr(e *env, ctx context.Context, args ...string) (string, error) {
	return node1(e).ctr(ctx, args...)
}

// ctr runs containerd's client against the node's socket (node 2's through /proc/<holder>/root).
func (n *node) ctr(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return cmdOut(ctx, nil, n.e.bin("ctr"), append([]string{"--address", n.file(containerdSock)}, args...)...)
}
