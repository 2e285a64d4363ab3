//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

const (
	// agentLock serializes real agents on this machine: every agent uses /var/run/cilium whatever its
	// flags say, and other engineers' e2e runs start theirs. Ours has a private /run, but the kernel
	// state (bpf, sysctls) is shared, so it waits its turn like everyone else.
	agentLock  = "cilium-chain-agent.lock"
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

// takeAgentLock takes an exclusive flock on the host's /run/cilium-chain-agent.lock, then waits until
// no cilium-agent runs on the machine (another run may not use the lock). Closing the file releases
// the lock: the caller keeps it open until the very end of the run.
func takeAgentLock(t *testing.T, e *env) (*os.File, time.Duration) {
	t.Helper()
	began := time.Now()
	f, err := os.OpenFile(filepath.Join(e.hostRun, agentLock), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("agent lock: %v", err)
	}
	for n := 0; ; n++ {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			t.Fatalf("flock: %v", err)
		}
		if n%30 == 0 {
			t.Logf("waiting for /run/%s (held by another run on this machine)...", agentLock)
		}
		if time.Since(began) > 30*time.Minute {
			f.Close()
			t.Fatalf("agent lock still held after %s", time.Since(began))
		}
		time.Sleep(time.Second)
	}
	for n := 0; ; n++ {
		pids := otherAgents(e)
		if len(pids) == 0 {
			break
		}
		if n%30 == 0 {
			t.Logf("waiting for other cilium-agent processes to end (host pids %v)...", pids)
		}
		if time.Since(began) > 30*time.Minute {
			f.Close()
			t.Fatalf("other agents (%v) still running after %s", pids, time.Since(began))
		}
		time.Sleep(time.Second)
	}
	waited := time.Since(began)
	t.Logf("agent lock taken after %s; no other cilium-agent runs", waited.Round(time.Millisecond))
	return f, waited
}

// otherAgents is `pgrep -x cilium-agent` on the host's /proc (ours is not started yet).
func otherAgents(e *env) []string {
	entries, _ := os.ReadDir(e.hostProc)
	var pids []string
	for _, d := range entries {
		comm, err := os.ReadFile(filepath.Join(e.hostProc, d.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(comm)) == "cilium-agent" {
			pids = append(pids, d.Name())
		}
	}
	return pids
}

// agentArgs run v1.20.2 with Kubernetes in generic-veth chaining: CRD identities (no kvstore), labels
// from the pods, policies from CiliumNetworkPolicy objects, native routing with no masquerade (Flannel
// host-gw routes between the nodes; other nodes' pods are known from their CiliumEndpoints), Hubble
// on its unix socket; tcx off so the programs show as tc filters; nothing that needs iptables or
// Envoy.
func agentArgs(n *node, kubeconfig string) []string {
	var off []string
	for _, f := range peer.AgentFlagsOff() {
		if f != "--enable-hubble=false" {
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
	}, off...)
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
	t.Cleanup(func() {
		a := n.argv("umount", bpffs)
		if _, err := cmdOut(context.Background(), nil, a[0], a[1:]...); err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
	env := []string{"PATH=/usr/lib/llvm-19/bin:" + os.Getenv("PATH"), "K8S_NODE_NAME=" + n.name}
	p := n.start(t, "cilium-agent", 60*time.Second, env, append([]string{n.e.bin("cilium-agent")}, agentArgs(n, cp.kubeconfig)...)...)
	api := &agentAPI{peer.NewAgentAPI(n.file(agentSock))}
	err := peer.WaitAgentReady(p, api.AgentAPI, 5*time.Minute, 200*time.Millisecond, nil)
	if err != nil {
		t.Fatalf("%s: agent not ready: %v\n--- agent log (tail) ---\n%s", n, err, p.LogTail(80))
	}
	n.agent, n.api = p, api
	return p, api
}
