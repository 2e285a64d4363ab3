//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// cnpDemo lets app=client talk to app=server on TCP 80, and nothing else in.
const cnpDemo = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: server-allows-client-on-80
  namespace: default
spec:
  endpointSelector:
    matchLabels:
      app: server
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: client
    toPorts:
    - ports:
      - port: "80"
        protocol: TCP
`

// TestDemo is `make demo`: the seed scenario told step by step for a newcomer. `make e2e` runs it
// too, so what the demo shows is checked; the narration goes to stdout only with -demo.
func TestDemo(t *testing.T) {
	say := func(format string, a ...any) {
		if *flagDemo {
			fmt.Printf(format+"\n", a...)
		} else {
			t.Logf(format, a...)
		}
	}
	step := func(n int, title string) {
		say("\n── %d. %s %s", n, title, strings.Repeat("─", max(0, 66-len(title))))
	}

	say("\ncilium-chain demo: Flannel gives pods their network, cilium-chain hands each pod to the real")
	say("cilium-agent, and Cilium's eBPF policy then decides which connections get through.")
	say("Everything runs in network namespaces created for the demo; the machine's own network is untouched.")

	step(1, "A node")
	e := newEnv(t)
	e.tl.requirePlugin(t)
	say("network namespace %s stands in for a Kubernetes node (device %s, %s);", e.node.ns, peer.NodeDevice, peer.NodeIP)
	say("etcd runs inside it (the agent keeps security identities there).")
	say("starting cilium-agent v1.20.2 in it: generic-veth chaining, no Kubernetes, policies from %s ...", e.agent.cnpDir)
	took := e.agent.start(t)
	say("agent ready after %s (it compiled its eBPF datapath with clang on the way).", took.Round(100*time.Millisecond))

	step(2, "Two pods, networked by Flannel, registered by cilium-chain")
	say("conflist %s/05-cilium.conflist (cniVersion 0.3.1): flannel → cilium-chain.", e.confs.seed)
	client := newPod(t, "client", map[string]string{"app": "client"})
	server := newPod(t, "server", map[string]string{"app": "server"})
	for _, p := range []*pod{client, server} {
		say("cnitool add %s   (CNI_ARGS %s)", p.ns, p.cniArgs())
		took := e.cni.add(t, e.confs.seed, p)
		say("  → Flannel gave %s the address %s; host side of its veth: %s (%s)", p, p.ip, p.hostVeth, took.Round(time.Millisecond))
		waitEndpointReady(t, e.agent.api, p)
	}
	say("(the first ADD waits while the agent compiles the pod datapath once; later pods reuse it)")

	step(3, "What the agent now knows")
	say("%-4s %-7s %-12s %-16s %-6s %-8s %s", "ID", "POD", "IP", "HOST VETH", "STATE", "IDENTITY", "LABELS")
	for _, p := range []*pod{client, server} {
		ep, _, err := e.agent.api.Endpoint(p.endpointID())
		if err != nil || ep == nil {
			t.Fatalf("endpoint of %s: %v", p, err)
		}
		say("%-4d %-7s %-12s %-16s %-6s %-8d %s", ep.ID, p, p.ip, ep.Status.Networking.InterfaceName, peer.StateOf(ep),
			ep.Status.Identity.ID, strings.Join(ep.Status.Identity.Labels, " "))
	}
	progs, _, err := tcProgramsOn(e.node.ns, server.hostVeth)
	if err != nil {
		t.Fatal(err)
	}
	say("the kernel shows the agent's eBPF programs on %s: ingress %v, egress %v", server.hostVeth, progs.Ingress, progs.Egress)

	step(4, "Before any policy: everything connects")
	serveTCP(t, server, 80)
	serveTCP(t, server, 8080)
	for _, port := range []int{80, 8080} {
		err := dialTCP(client, server, port, 3*time.Second)
		say("client → server:%-5d %s", port, verdict(err))
		if err != nil { // else a drop later would prove nothing about the policy
			t.Errorf("before any policy client → server:%d: %v", port, err)
		}
	}

	step(5, "A CiliumNetworkPolicy: server accepts only client, only on TCP 80")
	say("%s", indent(cnpDemo))
	applyPolicy(t, e.agent, writePolicy(e.agent.cnpDir, "server-allows-client-on-80", cnpDemo), client, server)
	say("the agent loaded it and regenerated both endpoints.")

	step(6, "With the policy")
	allowed := dialTCP(client, server, 80, 3*time.Second)
	denied := dialTCP(client, server, 8080, 3*time.Second)
	say("client → server:80    %s", verdict(allowed))
	say("client → server:8080  %s", verdict(denied))
	say("port 8080 is not in the policy: the server's eBPF program (cil_to_container on %s) drops the", server.hostVeth)
	say("SYN, so the client sees no answer at all, not a refusal. Same pods, same Flannel network as in step 4.")
	// Only silence is a policy drop: a refusal (RST) would mean the SYN reached the server's netns.
	var dropped *noAnswer
	if allowed != nil || !errors.As(denied, &dropped) {
		t.Errorf("want 80 allowed and 8080 dropped (no answer); got %v / %v", allowed, denied)
	}

	step(7, "Tear down")
	for _, p := range []*pod{client, server} {
		e.cni.del(t, e.confs.seed, p)
		if err := waitEndpointGone(e.agent.api, p, 10*time.Second); err != nil {
			t.Error(err)
		}
	}
	say("cnitool del removed both endpoints from the agent; now the agent, etcd, the namespaces, the bpffs")
	say("and %s go away (logs and configs live in %s until then).", agentRunDir, e.dir)
	if !t.Failed() {
		say("\nThat was cilium-chain end to end: pods networked by Flannel got Cilium identities from their")
		say("labels and were held to a Cilium L3/L4 policy by eBPF, with the real cilium-agent. `make e2e` checks")
		say("the rest (DEL, agent restarts and its delete queue, CHECK, STATUS, GC, upstream's conflist shape).\n")
	}
}

func verdict(err error) string {
	var dropped *noAnswer
	switch {
	case err == nil:
		return "ALLOWED  (the server answered)"
	case errors.As(err, &dropped):
		return "DENIED   (" + err.Error() + ")"
	default:
		return "FAILED   (" + err.Error() + "; not a policy drop)"
	}
}

func indent(s string) string {
	return "  | " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  | ")
}
