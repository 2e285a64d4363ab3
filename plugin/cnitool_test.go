package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/containernetworking/plugins/pkg/netlinksafe"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// cniNode is a "node" netns of the test's own, with a conf dir, a CNI bin dir holding the real peers
// and cilium-chain, and pods in netns of their own. cnitool runs inside the node netns.
type cniNode struct {
	t       *testing.T
	e       *env
	ns      ns.NetNS
	network string
	confDir string
	binDirs string
}

func peerBin(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces; run as root (CI does)")
	}
	dir := os.Getenv("PEER_BIN")
	if dir == "" {
		dir = filepath.Join(os.Getenv("HOME"), ".cache", "cilium-chain", "bin")
	}
	for _, tool := range []string{"cnitool", "flannel", "bridge", "host-local"} {
		if _, err := os.Stat(filepath.Join(dir, tool)); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing in %s: make peers installs it", tool, dir)
			}
			t.Skipf("%s missing in %s: run `make peers` first", tool, dir)
		}
	}
	return dir
}

func newCNINode(t *testing.T) *cniNode {
	t.Helper()
	peers := peerBin(t)
	e := newEnv(t)
	nodeNS, err := testutils.NewNS()
	if err != nil {
		t.Fatal(err)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	n := &cniNode{t: t, e: e, ns: nodeNS, network: "cc-" + hex.EncodeToString(rnd[:]), confDir: filepath.Join(e.dir, "net.d"),
		binDirs: peers + ":" + filepath.Dir(pluginBin)}
	t.Cleanup(func() {
		nodeNS.Close()
		_ = testutils.UnmountNS(nodeNS)
		// libcni's cache has no knob: remove what this test's network left there.
		leftovers, _ := filepath.Glob("/var/lib/cni/results/" + n.network + "-*")
		for _, f := range leftovers {
			os.Remove(f)
		}
	})
	if filepath.Base(pluginBin) != "cilium-chain" {
		t.Fatalf("plugin binary must be named cilium-chain, is %s", pluginBin)
	}
	if err := os.MkdirAll(n.confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return n
}

// writeFlannel writes the seed's conflist: flannel → cilium-chain, Flannel's files in the test dir.
func (n *cniNode) writeFlannel(cniVersion string, entry map[string]any) {
	n.writeConflist(n.confDir, cniVersion, n.flannel(), entry)
}

// writeFlannelOnly writes Flannel alone, same network, in a conf dir of its own (returned): pods added
// through it have a veth and an IP but no endpoint.
func (n *cniNode) writeFlannelOnly() string {
	dir := n.confDir + "-flannel"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		n.t.Fatal(err)
	}
	n.writeConflist(dir, "0.3.1", n.flannel())
	return dir
}

// flannel is the primary entry, Flannel's files in the test dir.
func (n *cniNode) flannel() map[string]any {
	if err := os.WriteFile(filepath.Join(n.e.dir, "subnet.env"), []byte(peer.SubnetEnv), 0o644); err != nil {
		n.t.Fatal(err)
	}
	return peer.FlannelEntry(n.e.dir)
}

// writeBridge writes bridge + host-local → cilium-chain: what Flannel delegates to, for CNI versions
// the last Flannel plugin on the module proxy (v0.9.1, ≤ 0.4.0) cannot speak.
func (n *cniNode) writeBridge(cniVersion string, entry map[string]any) {
	n.writeConflist(n.confDir, cniVersion, map[string]any{
		"type": "bridge", "bridge": "cni0", "isGateway": true, "hairpinMode": true,
		"ipam": map[string]any{"type": "host-local", "subnet": "10.244.1.0/24", "dataDir": filepath.Join(n.e.dir, "ipam"),
			"routes": []any{map[string]any{"dst": "0.0.0.0/0"}}},
	}, entry)
}

func (n *cniNode) writeConflist(dir, cniVersion string, plugins ...map[string]any) {
	list := map[string]any{"name": n.network, "cniVersion": cniVersion, "plugins": plugins}
	b, _ := json.MarshalIndent(list, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "05-cilium.conflist"), b, 0o644); err != nil {
		n.t.Fatal(err)
	}
}

func (n *cniNode) newPod() ns.NetNS {
	p, err := testutils.NewNS()
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { p.Close(); _ = testutils.UnmountNS(p) })
	return p
}

// cnitool runs cnitool inside the node netns (the child inherits the locked thread's netns).
func (n *cniNode) cnitool(verb string, pod ns.NetNS, cniArgs string) (string, error) {
	return n.cnitoolIn(n.confDir, verb, pod, cniArgs)
}

// cnitoolIn is cnitool with the conflist of confDir.
func (n *cniNode) cnitoolIn(confDir, verb string, pod ns.NetNS, cniArgs string) (string, error) {
	tool := peer.Cnitool{Bin: filepath.Join(strings.Split(n.binDirs, ":")[0], "cnitool"), CNIPath: n.binDirs, NodeNS: n.ns.Path()}
	res := tool.Run(context.Background(), confDir, verb, n.network, pod.Path(), cniArgs)
	return string(res.Stdout), res.Err
}

// containerID is cnitool's: derived from the netns path.
func (n *cniNode) endpointFor(pod ns.NetNS) string {
	for _, ep := range n.e.agent.Endpoints() {
		if ep.Status.Networking.ContainerInterfaceName == "eth0" && strings.HasPrefix(ep.Status.ExternalIdentifiers.ContainerID, "cnitool-") {
			for _, a := range ep.Status.Networking.Addressing {
				if a.IPv4 != "" && podHasIP(pod, a.IPv4) {
					return ep.Status.ExternalIdentifiers.CniAttachmentID
				}
			}
		}
	}
	return ""
}

func podHasIP(pod ns.NetNS, ip string) bool {
	found := false
	_ = pod.Do(func(ns.NetNS) error {
		link, err := netlinksafe.LinkByName("eth0")
		if err != nil {
			return err
		}
		addrs, _ := netlinksafe.AddrList(link, 0)
		for _, a := range addrs {
			found = found || a.IP.String() == ip
		}
		return nil
	})
	return found
}

func TestCnitoolFlannelChain(t *testing.T) {
	for _, v := range []string{"0.3.1", "0.4.0"} {
		t.Run(v, func(t *testing.T) {
			n := newCNINode(t)
			n.writeFlannel(v, n.e.entry(map[string]any{"labels": []string{"k8s:io.kubernetes.pod.namespace=default"}}))
			pod := n.newPod()

			out, err := n.cnitool("add", pod, "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=a;CILIUM_LABEL_app=test")
			if err != nil {
				t.Fatal(err)
			}
			res := parseResult(t, v, out)
			att := n.endpointFor(pod)
			ep := n.e.agent.Endpoint("cni-attachment-id:" + att)
			if ep == nil {
				t.Fatalf("no endpoint for the pod; agent has %d", len(n.e.agent.Endpoints()))
			}
			// The endpoint is on the veth Flannel's bridge plugin made, as the kernel and prevResult say.
			hostVeth := ep.Status.Networking.InterfaceName
			if !resultHasHostIface(res, hostVeth) {
				t.Fatalf("endpoint host veth %q is not in the result's interfaces", hostVeth)
			}
			_ = n.ns.Do(func(ns.NetNS) error {
				l, err := netlinksafe.LinkByName(hostVeth)
				if err != nil || int64(l.Attrs().Index) != ep.Status.Networking.InterfaceIndex || l.Type() != "veth" {
					t.Errorf("host veth %q in the node: %v %v", hostVeth, l, err)
				}
				return nil
			})
			if !strings.Contains(strings.Join(ep.Status.Labels.Realized.User, ","), "container:app=test") {
				t.Fatalf("labels: %v", ep.Status.Labels.Realized.User)
			}
			if v == "0.4.0" {
				if _, err := n.cnitool("check", pod, ""); err != nil {
					t.Fatalf("CHECK: %v", err)
				}
			}
			for i := range 2 {
				if _, err := n.cnitool("del", pod, ""); err != nil {
					t.Fatalf("DEL #%d: %v", i+1, err)
				}
			}
			if len(n.e.agent.Endpoints()) != 0 {
				t.Fatal("endpoint left after DEL")
			}
		})
	}
}

func TestCnitoolBridgeChain(t *testing.T) {
	for _, v := range []string{"1.0.0", "1.1.0"} {
		t.Run(v, func(t *testing.T) {
			n := newCNINode(t)
			n.writeBridge(v, n.e.entry(nil))
			pods := []ns.NetNS{n.newPod(), n.newPod(), n.newPod()}
			for _, p := range pods {
				if _, err := n.cnitool("add", p, "IgnoreUnknown=1;CILIUM_LABEL_app=test"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := n.cnitool("check", pods[0], ""); err != nil {
				t.Fatalf("CHECK: %v", err)
			}
			if v == "1.1.0" {
				if _, err := n.cnitool("status", pods[0], ""); err != nil {
					t.Fatalf("STATUS: %v", err)
				}
				// GC through libcni with a valid list that omits pod 1, whose libcni cache entry is lost
				// (a node reboot, a wiped /var/lib/cni): libcni sends DEL only for the stale attachments it
				// has cached, so only the plugin's own GC can find pod 1. Exactly its endpoint goes.
				gone := n.endpointFor(pods[1])
				n.forgetCache(pods[1])
				n.gc(v, []string{n.endpointFor(pods[0]), n.endpointFor(pods[2])})
				if n.e.agent.Endpoint("cni-attachment-id:"+gone) != nil || len(n.e.agent.Endpoints()) != 2 {
					t.Fatalf("GC kept %d endpoints; %s should be gone", len(n.e.agent.Endpoints()), gone)
				}
				n.e.agent.Down()
				if code := n.status(); code != CodePluginNotAvailable {
					t.Fatalf("STATUS with the agent down: code %d, want %d", code, CodePluginNotAvailable)
				}
				_ = n.e.agent.Up()
			}
			for _, p := range pods {
				for range 2 {
					if _, err := n.cnitool("del", p, ""); err != nil {
						t.Fatalf("DEL: %v", err)
					}
				}
			}
			if len(n.e.agent.Endpoints()) != 0 {
				t.Fatalf("%d endpoints left", len(n.e.agent.Endpoints()))
			}
		})
	}
}

func TestCnitoolDelWhileAgentDown(t *testing.T) {
	n := newCNINode(t)
	n.writeFlannel("0.3.1", n.e.entry(nil))
	pod := n.newPod()
	if _, err := n.cnitool("add", pod, ""); err != nil {
		t.Fatal(err)
	}
	n.e.agent.Down()
	if _, err := n.cnitool("del", pod, ""); err != nil {
		t.Fatalf("DEL must succeed by queueing: %v", err)
	}
	if files, _ := filepath.Glob(filepath.Join(n.e.dir, "deleteQueue", "*.delete")); len(files) != 1 {
		t.Fatalf("queue: %v", files)
	}
	_ = n.e.agent.Up()
	if drained, err := n.e.agent.DrainQueue(filepath.Join(n.e.dir, "deleteQueue")); err != nil || drained != 1 || len(n.e.agent.Endpoints()) != 0 {
		t.Fatalf("drain: %d %v, %d endpoints left", drained, err, len(n.e.agent.Endpoints()))
	}
}

// forgetCache removes libcni's cached result of the pod's attachment, as a lost cache would.
func (n *cniNode) forgetCache(pod ns.NetNS) {
	n.t.Helper()
	cache := filepath.Join("/var/lib/cni/results", n.network+"-"+cnitoolContainerID(pod)+"-eth0")
	if err := os.Remove(cache); err != nil {
		n.t.Fatalf("libcni cache entry of the pod: %v", err)
	}
}

// gc runs libcni's GC (what a runtime does) in the node netns with the given valid attachments.
func (n *cniNode) gc(cniVersion string, valid []string) {
	n.t.Helper()
	list, err := libcni.ConfListFromFile(filepath.Join(n.confDir, "05-cilium.conflist"))
	if err != nil {
		n.t.Fatal(err)
	}
	args := &libcni.GCArgs{}
	for _, att := range valid {
		cid, ifname, _ := strings.Cut(att, ":")
		args.ValidAttachments = append(args.ValidAttachments, types.GCAttachment{ContainerID: cid, IfName: ifname})
	}
	cni := libcni.NewCNIConfig(strings.Split(n.binDirs, ":"), nil)
	if err := n.ns.Do(func(ns.NetNS) error { return cni.GCNetworkList(context.Background(), list, args) }); err != nil {
		n.t.Fatalf("GC: %v", err)
	}
}

// status runs libcni's STATUS in the node netns and returns the CNI error code (0 for success).
func (n *cniNode) status() uint {
	list, err := libcni.ConfListFromFile(filepath.Join(n.confDir, "05-cilium.conflist"))
	if err != nil {
		n.t.Fatal(err)
	}
	cni := libcni.NewCNIConfig(strings.Split(n.binDirs, ":"), nil)
	err = n.ns.Do(func(ns.NetNS) error { return cni.GetStatusNetworkList(context.Background(), list) })
	var cniErr *types.Error
	if errors.As(err, &cniErr) {
		return cniErr.Code
	}
	if err != nil {
		n.t.Fatalf("STATUS: %v", err)
	}
	return 0
}

func parseResult(t *testing.T, v, out string) *current.Result {
	t.Helper()
	var probe struct {
		CNIVersion string `json:"cniVersion"`
	}
	if err := json.Unmarshal([]byte(out), &probe); err != nil || probe.CNIVersion != v {
		t.Fatalf("ADD printed %q: want a %s result", out, v)
	}
	conv, err := resultAsCurrent(v, out)
	if err != nil {
		t.Fatal(err)
	}
	return conv
}

func resultHasHostIface(res *current.Result, name string) bool {
	for _, i := range res.Interfaces {
		if i.Name == name && i.Sandbox == "" {
			return true
		}
	}
	return false
}

func resultAsCurrent(v, out string) (*current.Result, error) {
	r, err := version.NewResult(v, []byte(out))
	if err != nil {
		return nil, err
	}
	return current.NewResultFromResult(r)
}
