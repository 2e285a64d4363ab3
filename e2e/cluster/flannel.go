//go:build cluster

package cluster

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

const (
	flannelConflist = "10-flannel.conflist"
	chainConflist   = "05-cilium.conflist"
	networkName     = "cbr0" // kube-flannel's network name, which the chained conflist must keep
	subnetEnv       = "/run/flannel/subnet.env"
)

// flannelChain is what a pod goes through under Flannel's own conflist, chainedTypes under ours:
// the installer keeps Flannel's entries (portmap included) and appends cilium-chain.
var (
	flannelChain = []string{"flannel", "portmap"}
	chainedTypes = []string{"flannel", "portmap", "cilium-chain"}
)

// kubeFlannelCfg is the seed's kube-flannel-cfg ConfigMap: kube-flannel's cni-conf.json (cniVersion
// 0.3.1, network cbr0, Flannel then portmap for hostPort) and net-conf.json with the host-gw backend.
const kubeFlannelCfg = `apiVersion: v1
kind: Namespace
metadata:
  name: kube-flannel
---
kind: ConfigMap
apiVersion: v1
metadata:
  name: kube-flannel-cfg
  namespace: kube-flannel
  labels:
    tier: node
    app: flannel
data:
  cni-conf.json: |
    {
      "name": "cbr0",
      "cniVersion": "0.3.1",
      "plugins": [
        {
          "type": "flannel",
          "delegate": {
            "hairpinMode": true,
            "isDefaultGateway": true
          }
        },
        {
          "type": "portmap",
          "capabilities": {
            "portMappings": true
          }
        }
      ]
    }
  net-conf.json: |
    {
      "Network": "10.244.0.0/16",
      "Backend": {
        "Type": "host-gw"
      }
    }
`

// flannelConfig is the ConfigMap's data as the cluster holds it.
type flannelConfig struct {
	CNIConf string `json:"cni-conf.json"`
	NetConf string `json:"net-conf.json"`
}

// applyFlannelConfig creates the seed's ConfigMap and reads it back: what kube-flannel's pods mount.
func applyFlannelConfig(t *testing.T, k *kubectl) *flannelConfig {
	t.Helper()
	if _, err := k.apply(t.Context(), kubeFlannelCfg); err != nil {
		t.Fatalf("kube-flannel-cfg: %v", err)
	}
	var cm struct {
		Data flannelConfig `json:"data"`
	}
	if err := k.getJSON([]string{"-n", "kube-flannel", "configmap", "kube-flannel-cfg"}, &cm); err != nil {
		t.Fatal(err)
	}
	return &cm.Data
}

// installFlannel does on a node what kube-flannel's DaemonSet does: the CNI binaries into
// /opt/cni/bin (install-cni-plugin), flanneld with --kube-subnet-mgr --ip-masq and the ConfigMap's
// net-conf.json (host-gw: routes to the other nodes' podCIDRs via their addresses on ext0), and once
// flanneld wrote subnet.env, the ConfigMap's cni-conf.json as 10-flannel.conflist (install-cni).
// --ip-masq as the seed runs it: flanneld then writes FLANNEL_IPMASQ=true, so the bridge plugin does
// not masquerade pod traffic leaving the node's subnet, which would hide the source pod (its
// identity) from the other node.
func (n *node) installFlannel(t *testing.T, cp *controlPlane, cfg *flannelConfig) {
	t.Helper()
	for _, b := range []string{"flannel", "bridge", "host-local", "loopback", "portmap"} {
		if err := copyExecutable(n.e.bin(b), n.file(filepath.Join(cniBinDir, b))); err != nil {
			t.Fatalf("%s: install CNI plugin %s: %v", n, b, err)
		}
	}
	netConf := n.path("etc", "kube-flannel", "net-conf.json")
	n.mkdirs(t, filepath.Dir(netConf))
	peer.WriteFile(t, netConf, cfg.NetConf)
	n.flanneld = n.start(t, "flanneld", 10*time.Second, []string{"NODE_NAME=" + n.name}, n.e.bin("flanneld"),
		"--kube-subnet-mgr", "--ip-masq", "--kubeconfig-file="+cp.kubeconfig, "--iface=ext0",
		"--net-config-path="+netConf, "--subnet-file="+subnetEnv)
	var env map[string]string
	err := peer.Eventually(time.Minute, 200*time.Millisecond, func() error {
		if done, werr := n.flanneld.Exited(); done {
			return fmt.Errorf("flanneld exited: %v", werr)
		}
		b, err := os.ReadFile(n.file(subnetEnv))
		if err != nil {
			return err
		}
		env = parseEnvFile(string(b))
		return nil
	})
	if err != nil {
		t.Fatalf("%s: flanneld wrote no %s: %v\n%s", n, subnetEnv, err, n.flanneld.LogTail(30))
	}
	if err := checkSubnetEnv(env, n.podCIDR); err != nil {
		t.Fatalf("%s: %s: %v", n, subnetEnv, err)
	}
	n.writeFile(t, filepath.Join(cniConfDir, flannelConflist), cfg.CNIConf)
	t.Logf("%s: flanneld (host-gw) wrote %s: %v", n, subnetEnv, env)
}

// checkSubnetEnv: flanneld's subnet.env carries the cluster network and the node's own podCIDR
// (its first address: the cni0 bridge), and ip-masq on.
func checkSubnetEnv(env map[string]string, podCIDR string) error {
	prefix, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return fmt.Errorf("podCIDR %q: %w", podCIDR, err)
	}
	want := map[string]string{
		"FLANNEL_NETWORK": clusterCIDR,
		"FLANNEL_SUBNET":  fmt.Sprintf("%s/%d", prefix.Masked().Addr().Next(), prefix.Bits()),
		"FLANNEL_IPMASQ":  "true",
	}
	for k, v := range want {
		if env[k] != v {
			return fmt.Errorf("%s=%q, want %q (all: %v)", k, env[k], v, env)
		}
	}
	return nil
}

func parseEnvFile(s string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
			out[k] = v
		}
	}
	return out
}

// checkHostGWRoutes: flanneld's host-gw backend routes every other node's podCIDR via that node's
// address on the shared link.
func checkHostGWRoutes(t *testing.T, nodes []*node) {
	t.Helper()
	for _, n := range nodes {
		routes := n.run(t, "ip", "-4", "route", "show", "dev", "ext0")
		for _, o := range nodes {
			if o == n {
				continue
			}
			want := fmt.Sprintf("%s via %s", o.podCIDR, o.ip)
			if !strings.Contains(routes, want) {
				t.Fatalf("%s: no host-gw route %q from flanneld; routes on ext0:\n%s\n--- flanneld (tail) ---\n%s", n, want, routes, n.flanneld.LogTail(30))
			}
		}
		t.Logf("ok: %s: flanneld's host-gw routes on ext0:\n%s", n, strings.TrimSpace(routes))
	}
}

func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
