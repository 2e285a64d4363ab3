package peer

import "path/filepath"

// The node both real-agent harnesses without Kubernetes (e2e/, bench/) build: a netns holding etcd,
// the agent, the cni0 bridge and the pods' host veths. Its device ext0 is a veth whose peer lives in a
// second netns, so the agent has a real device without touching the machine's interfaces.
const (
	NodeDevice = "ext0"
	NodeIP     = "10.99.0.1/24"
	ExtIP      = "10.99.0.2/24"
	EtcdURL    = "http://127.0.0.1:2379" // etcd inside the node netns; the agent keeps identities there
)

// NodeWiring is the `ip` commands that wire the node netns to the ext netns (both already created):
// ext0 ↔ ext1, addresses, and a default route that gives the agent a node address to pick and keeps
// pods' traffic inside.
func NodeWiring(node, ext string) [][]string {
	return [][]string{
		{"ip", "-n", node, "link", "add", NodeDevice, "type", "veth", "peer", "name", "ext1", "netns", ext},
		{"ip", "-n", node, "addr", "add", NodeIP, "dev", NodeDevice},
		{"ip", "-n", ext, "addr", "add", ExtIP, "dev", "ext1"},
		{"ip", "-n", node, "link", "set", NodeDevice, "up"},
		{"ip", "-n", ext, "link", "set", "ext1", "up"},
		{"ip", "-n", node, "route", "add", "default", "via", "10.99.0.2"},
	}
}

// EtcdArgs run Debian's etcd on loopback of the node netns with its data in dataDir.
func EtcdArgs(name, dataDir string) []string {
	return []string{
		"--name=" + name,
		"--data-dir=" + dataDir,
		"--listen-client-urls=" + EtcdURL,
		"--advertise-client-urls=" + EtcdURL,
		"--listen-peer-urls=http://127.0.0.1:2380",
		"--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=" + name + "=http://127.0.0.1:2380",
		"--log-level=warn",
	}
}

// AgentArgs run cilium-agent v1.20.2 without Kubernetes in generic-veth chaining (see
// shared/notes/real-peers.md) with everything under dir: state/, lib/ (holding bpf/), bpffs/ (a
// private bpffs mount) and etcd.yaml; sock is its API socket.
func AgentArgs(dir, sock string) []string {
	p := func(elem string) string { return filepath.Join(dir, elem) }
	return append([]string{
		"--enable-k8s=false",
		"--kvstore=etcd",
		"--kvstore-opt=etcd.config=" + p("etcd.yaml"),
		"--identity-allocation-mode=kvstore",
		"--ipam=kubernetes",
		"--ipv4-range=10.200.0.0/24",
		"--routing-mode=native",
		"--ipv4-native-routing-cidr=10.0.0.0/8",
		"--cni-chaining-mode=generic-veth",
		"--enable-ipv4=true",
		"--enable-ipv6=false",
		"--state-dir=" + p("state"),
		"--lib-dir=" + p("lib"),
		"--bpf-root=" + p("bpffs"),
		"--socket-path=" + sock,
		"--devices=" + NodeDevice,
	}, AgentFlagsOff()...)
}

// EtcdConfig is the agent's etcd.yaml for EtcdURL.
const EtcdConfig = "endpoints:\n- " + EtcdURL + "\n"
