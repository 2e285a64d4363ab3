package peer

import "path/filepath"

// SubnetEnv is what flanneld would write. FLANNEL_IPMASQ=true is kube-flannel's default (--ip-masq):
// flanneld masquerades, so the bridge delegate does not (with false it needs the iptables binary).
const SubnetEnv = "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"

// FlannelEntry is the conflist entry of the real Flannel CNI plugin (v0.9.1) as kube-flannel writes it,
// with every file it uses under dir: subnet.env (write SubnetEnv there), its data dir and host-local's
// store, so a test never needs /run/flannel or /var/lib/cni.
func FlannelEntry(dir string) map[string]any {
	return map[string]any{
		"type":       "flannel",
		"subnetFile": filepath.Join(dir, "subnet.env"),
		"dataDir":    filepath.Join(dir, "flannel"),
		"ipam":       map[string]any{"dataDir": filepath.Join(dir, "ipam")},
		"delegate":   map[string]any{"hairpinMode": true, "isDefaultGateway": true},
	}
}
