//go:build cluster

package cluster

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

const (
	flannelConflist = "10-flannel.conflist"
	chainConflist   = "05-cilium.conflist"
	networkName     = "cbr0" // kube-flannel's network name, which the chained conflist must keep
)

// flannelConflistJSON is kube-flannel's cni-conf.json (cniVersion 0.3.1, network cbr0) without the
// portmap entry: portmap needs iptables, which this machine does not have (and no pod uses hostPort).
const flannelConflistJSON = `{
  "name": "cbr0",
  "cniVersion": "0.3.1",
  "plugins": [
    {
      "type": "flannel",
      "delegate": {
        "hairpinMode": true,
        "isDefaultGateway": true
      }
    }
  ]
}
`

// installFlannelCNI does what kube-flannel does on a node, minus flanneld's VXLAN (one node needs no
// overlay): the CNI binaries into /opt/cni/bin, subnet.env from the Node's podCIDR (as flanneld's kube
// subnet manager writes it), then the conflist. FLANNEL_IPMASQ=true: with false the Flannel plugin asks
// bridge to masquerade, which needs iptables.
func installFlannelCNI(t *testing.T, e *env, podCIDR string) {
	t.Helper()
	for _, b := range []string{"flannel", "bridge", "host-local", "loopback"} {
		if err := copyExecutable(e.bin(b), filepath.Join(cniBinDir, b)); err != nil {
			t.Fatalf("install CNI plugin %s: %v", b, err)
		}
	}
	prefix, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		t.Fatalf("podCIDR %q: %v", podCIDR, err)
	}
	gw := prefix.Masked().Addr().Next()
	peer.WriteFile(t, "/run/flannel/subnet.env", fmt.Sprintf("FLANNEL_NETWORK=%s\nFLANNEL_SUBNET=%s/%d\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n",
		clusterCIDR, gw, prefix.Bits()))
	peer.WriteFile(t, filepath.Join(cniConfDir, flannelConflist), flannelConflistJSON)
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
