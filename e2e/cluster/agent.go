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
	agentSock  = "/var/run/cilium/cilium.sock" // the default, which the plugin and the installer use
	hubbleSock = "/var/run/cilium/hubble.sock" // the default observer socket the Hubble CLI reads
	// agentRange is the agent's own allocation range (cilium_host's router IP): outside Flannel's
	// podCIDR, so the agent never picks an address host-local hands to a pod.
	agentRange = "10.200.0.0/24"
)

// crdDirs are Cilium's CRDs as shipped in the module the agent was built from: applying them is what
// cilium-operator would do at start (the agent waits for them), without building the operator.
func crdDirs(e *env) ([]string, error) {
	bpf, err := filepath.EvalSymlinks(e.bpfSrc)
	if err != nil {
		return nil, fmt.Errorf("cilium module: %w", err)
	}
	base := filepath.Join(filepath.Dir(bpf), "pkg", "k8s", "apis", "cilium.io", "client", "crds")
	return []string{filepath.Join(base, "v2"), filepath.Join(base, "v2alpha1")}, nil
}

// applyCiliumCRDs registers the CRDs (server-side: the CNP CRD is larger than the client-side
// last-applied annotation allows) and waits until they are established.
func applyCiliumCRDs(t *testing.T, e *env, k *kubectl) {
	t.Helper()
	dirs, err := crdDirs(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		k.must(t, "apply", "--server-side", "-f", d)
	}
	k.must(t, "wait", "--for=condition=established", "crd", "--all", "--timeout=120s")
	out := k.must(t, "get", "crd", "-o", "name")
	t.Logf("Cilium CRDs established: %d", len(strings.Fields(out)))
}

// takeAgentLock takes the machine-wide agent lock (peer.LockAgentOn: the host's
// /run/cilium-chain-agent.lock, then no cilium-agent left in the host's /proc; ours is not started
// yet). Our /run is private, but every other agent uses the host's /var/run/cilium and the kernel's
// bpf state and sysctls are shared, so ours waits its turn. The caller releases at the very end.
func takeAgentLock(t *testing.T, e *env) (release func(), waited time.Duration) {
	t.Helper()
	began := time.Now()
	release, err := peer.LockAgentOn(context.Background(), e.hostRun, e.hostProc, 30*time.Minute, t.Logf)
	if err != nil {
		t.Fatalf("agent lock: %v", err)
	}
	waited = time.Since(began)
	t.Logf("agent lock taken after %s; no other cilium-agent runs", waited.Round(time.Millisecond))
	return release, waited
}

// agentArgs run v1.20.2 with Kubernetes in generic-veth chaining: CRD identities (no kvstore), labels
// from the pods, policies from CiliumNetworkPolicy objects, native routing with no masquerade (Flannel
// host-gw routes between the nodes; other nodes' pods are known from their CiliumEndpoints), Hubble
// on its unix socket, kube-proxy replacement (there is no kube-proxy) with socket LB confined to the
// node's own cgroup (see socketLBCgroup) and the iptables rules it requires (in the node's netns);
// tcx off so the programs show as tc filters; nothing that needs Envoy.
func agentArgs(n *node, kubeconfig string) []string {
	on := map[string]bool{"--enable-hubble=false": true, "--kube-proxy-replacement=false": true, "--install-iptables-rules=false": true}
	var off []string
	for _, f := range peer.AgentFlagsOff() {
		if !on[f] {
			off = append(off, f)
		}
	}
	return append([]string{
		"--enable-k8s=true",
		"--k8s-kubeconfig-path=" + kubeconfig,
		"--identity-allocation-mode=crd",
		"--cni-chaining-mode=generic-veth",
		"--cni-exclusive=false",
		"--ipam=kubernetes",
		"--ipv4-range=" + n.agentRange,
		"--routing-mode=native",
		"--ipv4-native-routing-cidr=" + clusterCIDR,
		"--enable-ipv4=true",
		"--enable-ipv6=false",
		"--state-dir=" + n.path("agent", "state"),
		"--lib-dir=" + n.path("agent", "lib"),
		"--bpf-root=" + n.path("agent", "bpffs"),
		"--socket-path=" + agentSock,
		"--devices=ext0",
		"--enable-hubble=true",
		"--hubble-socket-path=" + hubbleSock,
		"--kube-proxy-replacement=true",
		"--install-iptables-rules=true",
		"--cgroup-root=" + n.path("agent", "cgroupv2"),
	}, append(off, n.agentExtra...)...)
}

// startAgent runs node 1's agent (see node.startAgent).
func startAgent(t *testing.T, e *env, cp *controlPlane) (*peer.Proc, *agentAPI) {
	t.Helper()
	return node1(e).startAgent(t, cp)
}

// startAgent runs the agent in the node's namespaces and waits until its API says Ok and its host
// endpoint is ready (datapath compiled and loaded).
func (n *node) startAgent(t *testing.T, cp *controlPlane) (*peer.Proc, *agentAPI) {
	t.Helper()
	bpffs := n.path("agent", "bpffs")
	n.mkdirs(t, n.path("agent", "state"), n.path("agent", "lib"), bpffs)
	if err := os.Symlink(n.e.bpfSrc, n.path("agent", "lib", "bpf")); err != nil && !os.IsExist(err) {
		t.Fatalf("bpf symlink: %v", err)
	}
	n.run(t, "mount", "-t", "bpf", "bpf", bpffs)
	t.Cleanup(func() { n.unmount(t, bpffs) })
	n.socketLBCgroup(t)
	// Whichever agent the node runs at the end, the first start's or a restart's (runAgent), is stopped
	// here: a restart inside a step must not end with that step.
	t.Cleanup(func() {
		if n.agent == nil {
			return // it did not start
		}
		if err := n.agent.Stop(60 * time.Second); err != nil {
			t.Errorf("%s: stop cilium-agent: %v", n, err)
		}
	})
	return n.runAgent(t, cp)
}

// runAgent starts the agent process on the node startAgent prepared (again after a stop: a restart)
// and waits until it is ready.
func (n *node) runAgent(t *testing.T, cp *controlPlane) (*peer.Proc, *agentAPI) {
	t.Helper()
	// As the seed's k8sServiceHost/k8sServicePort: with kube-proxy replacement the agent talks to
	// the apiserver directly, not through the kubernetes Service it implements itself.
	env := []string{"PATH=/usr/lib/llvm-19/bin:" + os.Getenv("PATH"), "K8S_NODE_NAME=" + n.name,
		"KUBERNETES_SERVICE_HOST=" + apiServerIP, "KUBERNETES_SERVICE_PORT=6443"}
	p := launchProc(t, n.e, n.logName("cilium-agent"), env, n.argv(append([]string{n.e.bin("cilium-agent")}, agentArgs(n, cp.kubeconfig)...)...)...)
	n.agent = p
	api := &agentAPI{peer.NewAgentAPI(n.file(agentSock))}
	err := peer.WaitAgentReady(p, api.AgentAPI, 5*time.Minute, 200*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("%s: agent not ready: %v\n--- agent log (tail) ---\n%s", n, err, p.LogTail(80))
	}
	n.api = api
	n.checkSocketLBScope(t)
	return p, api
}

// socketLBCgroup gives the agent's socket LB the node's own cgroup v2 subtree: the kubelet's
// --cgroup-root in the unified hierarchy, where runc puts the node's pods, bound at the agent's
// --cgroup-root. The agent attaches its connect/sendmsg hooks to the cgroup mounted there, and
// mounts the whole cgroup2 hierarchy itself if nothing is: that would hook every process of the
// machine, so the bind is checked before the agent starts.
func (n *node) socketLBCgroup(t *testing.T) {
	t.Helper()
	dir := n.path("agent", "cgroupv2")
	n.mkdirs(t, dir)
	n.run(t, "mount", "--bind", filepath.Join("/sys/fs/cgroup/unified", n.cgroupRoot), dir)
	t.Cleanup(func() { n.unmount(t, dir) })
	mounts, err := mountTableAt(n.mountinfo())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if m.point == dir && m.root == n.cgroupRoot && m.fsType == "cgroup2" {
			return
		}
	}
	t.Fatalf("%s: %s is not the node's cgroup2 subtree %s: the agent would hook the machine's root cgroup", n, dir, n.cgroupRoot)
}

// checkSocketLBScope: the agent's socket hooks sit on the node's cgroup, none on the machine's
// cgroup2 root.
func (n *node) checkSocketLBScope(t *testing.T) {
	t.Helper()
	root := mustOut(t, "bpftool", "cgroup", "show", "/sys/fs/cgroup/unified")
	own := mustOut(t, "bpftool", "cgroup", "show", filepath.Join("/sys/fs/cgroup/unified", n.cgroupRoot))
	if strings.Contains(root, "cil_") || !strings.Contains(own, "cil_sock4_connect") {
		t.Fatalf("%s: socket LB programs: machine's cgroup2 root:\n%s\nnode's cgroup %s:\n%s", n, root, n.cgroupRoot, own)
	}
	t.Logf("ok: %s: socket LB hooks on the node's cgroup %s only (none on the machine's cgroup2 root):\n%s", n, n.cgroupRoot, strings.TrimSpace(own))
}

// killAgentDuringRegeneration SIGKILLs node's agent the moment it lists a pod endpoint still in its first
// regeneration (realized policy revision 0: a PUT answered, or being answered, its policy not yet in
// force), as a crash or an OOM kill would end it, and starts it again on the same state. beforeKill runs
// just before the kill. It returns when the kill happened and how long the agent then took to be ready;
// false (and an error on t) when no such endpoint showed up within timeout.
func (c *cluster) killAgentDuringRegeneration(t *testing.T, n *node, timeout time.Duration, beforeKill func()) (killed time.Time, back time.Duration, ok bool) {
	t.Helper()
	err := peer.Eventually(timeout, 20*time.Millisecond, func() error {
		eps, err := n.api.podEndpoints()
		if err != nil {
			return err
		}
		for _, ep := range eps {
			if peer.RealizedRevision(ep) < 1 {
				return nil
			}
		}
		return fmt.Errorf("no pod endpoint in its first regeneration among %d", len(eps))
	})
	if err != nil {
		t.Errorf("%s: the agent was not killed: %v", n, err)
		return time.Time{}, 0, false
	}
	beforeKill()
	killed = time.Now()
	n.agent.KillGroup()
	_ = n.agent.Stop(10 * time.Second) // reaps it; a killed process does not wait for the grace
	n.runAgent(t, c.cp)
	c.agent, c.api = n.agent, n.api
	return killed, time.Since(killed), true
}
