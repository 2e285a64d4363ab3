//go:build e2e

package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/cilium/api/v1/models"
	"github.com/vishvananda/netlink"
)

// queueEntries are the agent's deletion queue entries (the agent reads this path only).
func queueEntries() []string {
	files, _ := filepath.Glob(filepath.Join(agentRunDir, "deleteQueue", "*.delete"))
	return files
}

// stepDelLiveAgent500 — issue 15: a DEL the running agent answers 500 fails (code 106, so the runtime
// retries it) instead of queueing an entry the running agent would not read until its next restart;
// the retried DEL deletes the endpoint. A proxy in front of the real socket injects the 500s.
func (s *suite) stepDelLiveAgent500(t *testing.T) {
	s.cni.add(t, s.confs.seed, s.i)
	waitEndpointReady(t, s.agent.api, s.i)
	proxy := startFaultProxy(t, s.agent.sock, filepath.Join(s.dir, "fault-proxy.sock"))
	entry := s.conf.chain()
	entry["socket-path"], entry["del-timeout"] = proxy.sock, "2s"
	viaProxy := s.conf.write(t, "proxy-0.3.1", "0.3.1", s.conf.flannel(), entry)
	before := len(queueEntries())

	proxy.failDeletes.Store(1000)
	res := s.cni.cnitool(viaProxy, "del", s.i)
	if res.Err == nil {
		t.Fatal("DEL succeeded although the live agent answered 500 to every DELETE")
	}
	if out := string(res.Stdout) + res.Err.Error(); !strings.Contains(out, "endpoint deletion failed") || !strings.Contains(out, "status 500") {
		t.Errorf("DEL failure is not code 106's (endpoint deletion failed, caused by the 500): %s", out)
	}
	t.Logf("DEL against a live agent answering 500: failed after %s and %d DELETE attempts", res.Took.Round(time.Millisecond), proxy.deletes.Load())
	if proxy.deletes.Load() < 2 {
		t.Errorf("%d DELETE attempts: a live agent's 500 is retried within del-timeout", proxy.deletes.Load())
	}
	if n := len(queueEntries()); n != before {
		t.Fatalf("%d *.delete entries written for a running agent", n-before)
	}
	if _, found, err := s.agent.api.Endpoint(s.i.endpointID()); err != nil || !found {
		t.Fatalf("endpoint after the failed DEL: found=%v err=%v", found, err)
	}

	proxy.failDeletes.Store(0) // the runtime retries DEL; the agent answers now
	s.cni.del(t, viaProxy, s.i)
	if err := waitEndpointGone(s.agent.api, s.i, 10*time.Second); err != nil {
		t.Error(err)
	}
	if n := len(queueEntries()); n != before {
		t.Errorf("%d *.delete entries written", n-before)
	}
}

// stepMultus — issue 15: a Multus-like pod with eth0 (Flannel) and net1 (ptp on a second range),
// both chained to cilium-chain, gets two endpoints, net1 marked secondary; DEL removes both.
func (s *suite) stepMultus(t *testing.T) {
	net1 := &pod{name: s.m.name + "/net1", ns: s.m.ns, labels: s.m.labels, ifname: "net1"}
	secondary := s.conf.write(t, "net1-0.3.1", "0.3.1", map[string]any{
		"type": "ptp", "mtu": 1450,
		"ipam": map[string]any{"type": "host-local", "dataDir": filepath.Join(s.dir, "ipam-net1"),
			// Inside Flannel's subnet (the harness checks results against it), on a /26 of its own so
			// ptp's subnet route does not collide with eth0's.
			"ranges": [][]map[string]any{{{"subnet": "10.244.1.192/26"}}}},
	}, s.conf.chain())
	s.cni.add(t, s.confs.seed, s.m)
	s.cni.add(t, secondary, net1)
	eth0 := waitEndpointReady(t, s.agent.api, s.m)
	ep1 := waitEndpointReady(t, s.agent.api, net1)
	if eth0.ID == ep1.ID || s.m.hostVeth == net1.hostVeth {
		t.Fatalf("one endpoint (%d, %d) or one host veth (%s, %s) for two attachments", eth0.ID, ep1.ID, s.m.hostVeth, net1.hostVeth)
	}
	t.Logf("pod %s: endpoint %d on %s (eth0) and %d on %s (net1)", s.m.name, eth0.ID, s.m.hostVeth, ep1.ID, net1.hostVeth)
	requirePrograms(t, s.node, s.m)
	requirePrograms(t, s.node, net1)
	s.cni.del(t, secondary, net1)
	s.cni.del(t, s.confs.seed, s.m)
	for _, p := range []*pod{s.m, net1} {
		if err := waitEndpointGone(s.agent.api, p, 10*time.Second); err != nil {
			t.Error(err)
		}
	}
}

// podRouteMTUs returns the MTU of every main-table IPv4 route in the pod netns.
func podRouteMTUs(t *testing.T, p *pod) map[string]int {
	t.Helper()
	nl, err := netlinkIn(p.ns)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	routes, err := nl.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range routes {
		if r.Table == 254 {
			out[fmt.Sprintf("%s via %s", r.Dst, r.Gw)] = r.MTU
		}
	}
	return out
}

// stepRouteMTU — issue 15: without the agent's --enable-route-mtu-for-cni-chaining the pod's routes
// are left as the primary made them; with it (agent restarted), the routes of a new pod carry the
// agent's route MTU, read once through GET /config. Runs last: it leaves the agent with the flag.
func (s *suite) stepRouteMTU(t *testing.T) {
	s.cni.add(t, s.confs.seed, s.j)
	waitEndpointReady(t, s.agent.api, s.j)
	for r, mtu := range podRouteMTUs(t, s.j) {
		if mtu != 0 {
			t.Errorf("agent flag off: route %s of %s got MTU %d", r, s.j, mtu)
		}
	}
	s.cni.del(t, s.confs.seed, s.j)

	s.agent.stop(t)
	s.agent.extra = []string{"--enable-route-mtu-for-cni-chaining=true"}
	s.agent.start(t)
	var cfg models.DaemonConfiguration
	if _, err := s.agent.api.Get("/config", &cfg); err != nil || cfg.Status == nil || !cfg.Status.EnableRouteMTUForCNIChaining || cfg.Status.RouteMTU <= 0 {
		t.Fatalf("agent config after restart with the flag: %+v %v", cfg.Status, err)
	}
	s.cni.add(t, s.confs.seed, s.k)
	waitEndpointReady(t, s.agent.api, s.k)
	routes := podRouteMTUs(t, s.k)
	if len(routes) == 0 {
		t.Fatal("the pod has no routes to check")
	}
	for r, mtu := range routes {
		if mtu != int(cfg.Status.RouteMTU) {
			t.Errorf("agent flag on: route %s of %s has MTU %d, want the agent's %d", r, s.k, mtu, cfg.Status.RouteMTU)
		}
	}
	t.Logf("routes of %s with the agent flag: %v (agent route MTU %d)", s.k, routes, cfg.Status.RouteMTU)
	s.cni.del(t, s.confs.seed, s.k)
	if err := waitEndpointGone(s.agent.api, s.k, 10*time.Second); err != nil {
		t.Error(err)
	}
}
