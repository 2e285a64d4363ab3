package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPlatformPaths: the conf and bin dirs of k3s/RKE2 and GKE, as install/README.md tells to set
// them. k3s's bin dir is data/current/bin, and an upgrade points the current symlink at a new data
// dir without our binary: it is put there again within a resync, before the runtime needs it.
func TestPlatformPaths(t *testing.T) {
	tests := []struct {
		name, confDir, binDir string
		k3sUpgrade            bool
	}{
		{name: "k3s/RKE2", confDir: "var/lib/rancher/k3s/agent/etc/cni/net.d", binDir: "var/lib/rancher/k3s/data/current/bin", k3sUpgrade: true},
		{name: "GKE", confDir: "etc/cni/net.d", binDir: "home/kubernetes/bin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			n := newTestNodeAt(t, root)
			n.confDir, n.binDir = filepath.Join(root, tt.confDir), filepath.Join(root, tt.binDir)
			if tt.k3sUpgrade {
				data := filepath.Join(root, "var/lib/rancher/k3s/data")
				os.MkdirAll(filepath.Join(data, "aaa111/bin"), 0o755)
				os.Symlink("aaa111", filepath.Join(data, "current"))
			}
			os.MkdirAll(n.confDir, 0o755)
			os.MkdirAll(n.binDir, 0o755)
			writeFile(t, filepath.Join(n.confDir, "10-flannel.conflist"), flannelPrimary, 0o644)
			r := startInstaller(t, mustConfig(t, n.args("--resync=300ms")))
			eventually(t, 5*time.Second, "ready", func() bool { return r.in.ready.check() == nil })
			if !exists(filepath.Join(n.binDir, "cilium-chain")) || !exists(n.ours()) {
				t.Fatal("binary or conflist not where the platform looks")
			}
			if !tt.k3sUpgrade {
				return
			}
			data := filepath.Join(root, "var/lib/rancher/k3s/data")
			os.MkdirAll(filepath.Join(data, "bbb222/bin"), 0o755)
			os.Symlink("bbb222", filepath.Join(data, "current.new"))
			if err := os.Rename(filepath.Join(data, "current.new"), filepath.Join(data, "current")); err != nil {
				t.Fatal(err)
			}
			eventually(t, 3*time.Second, "binary in the new data dir", func() bool {
				return exists(filepath.Join(data, "bbb222/bin/cilium-chain"))
			})
			eventually(t, 2*time.Second, "ready again", func() bool { return r.in.ready.check() == nil })
		})
	}
}
