package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/cilium/api/v1/models"
	"github.com/sirupsen/logrus"

	"github.com/cilium-chain/cilium-chain/chain"
	"github.com/cilium-chain/cilium-chain/chain/fakeagent"
)

// adoptionNode is a test node with Flannel's conflist, a libcni cache and a fake agent.
type adoptionNode struct {
	testNode
	agent *fakeagent.Agent
	cache string
}

func newAdoptionNode(t *testing.T) adoptionNode {
	t.Helper()
	n := newTestNode(t)
	agent, _ := fakeagent.StartTemp(t)
	a := adoptionNode{testNode: n, agent: agent, cache: filepath.Join(n.root, "var/lib/cni/results")}
	if err := os.MkdirAll(a.cache, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(n.confDir, "10-flannel.conflist"), flannelPrimary, 0o644)
	return a
}

// cacheEntry writes a libcni cache file for a pod of network cbr0 whose veth is long gone.
func (a adoptionNode) cacheEntry(t *testing.T, cid, pod string) {
	t.Helper()
	entry := map[string]any{
		"kind": "cniCacheV1", "containerId": cid, "ifName": "eth0", "networkName": "cbr0",
		"netns":   "/var/run/netns/cni-gone-" + cid,
		"cniArgs": [][2]string{{"K8S_POD_NAMESPACE", "default"}, {"K8S_POD_NAME", pod}, {"K8S_POD_UID", "uid-" + pod}},
		"result": map[string]any{"cniVersion": "0.3.1",
			"interfaces": []any{map[string]any{"name": "cni0"}, map[string]any{"name": "vethgone" + cid, "mac": "02:00:00:00:00:01"},
				map[string]any{"name": "eth0", "mac": "02:00:00:00:00:02", "sandbox": "/var/run/netns/cni-gone-" + cid}},
			"ips": []any{map[string]any{"version": "4", "address": "10.244.0.9/24", "interface": 2}}},
	}
	b, _ := json.Marshal(entry)
	writeFile(t, filepath.Join(a.cache, "cbr0-"+cid+"-eth0"), string(b), 0o600)
}

func (a adoptionNode) args(extra ...string) []string {
	return a.testNode.args(append([]string{"--agent-socket=" + a.agent.Socket()}, extra...)...)
}

func readyz(in *installer) string {
	rec := httptest.NewRecorder()
	in.ready.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	return fmt.Sprintf("%d %s", rec.Code, rec.Body.String())
}

func (a adoptionNode) puts() int {
	n := 0
	for _, r := range a.agent.Requests() {
		if r.Method == "PUT" {
			n++
		}
	}
	return n
}

// With adoption off, a pod without an endpoint is listed in /readyz and logged once, and nothing is
// registered; the installer stays ready.
func TestAdoptionOffReportsUnmanagedPods(t *testing.T) {
	a := newAdoptionNode(t)
	a.cacheEntry(t, "c0ffee01", "old")
	r := startInstaller(t, mustConfig(t, a.args("--adopt=false", "--resync=50ms")))
	want := "unmanaged default/old (c0ffee01:eth0): adoption is off"
	eventually(t, 5*time.Second, "report in /readyz", func() bool { return strings.Contains(readyz(r.in), want) })
	if got := readyz(r.in); !strings.HasPrefix(got, "200 ok\nadoption off (report only): 0 adopted by the last pass, 0 managed, 1 unmanaged\n") {
		t.Fatalf("/readyz:\n%s", got)
	}
	time.Sleep(300 * time.Millisecond) // several more passes
	if n := strings.Count(r.logs.String(), "pod runs without a Cilium endpoint"); n != 1 {
		t.Fatalf("the unmanaged pod was logged %d times, want once:\n%s", n, r.logs)
	}
	if !strings.Contains(r.logs.String(), `namespace=default pod=old reason="adoption is off"`) {
		t.Fatalf("log lacks the pod and reason:\n%s", r.logs)
	}
	if a.puts() != 0 {
		t.Fatal("adoption off sent a PUT")
	}
}

// With adoption on, a stale entry (its veth is gone) is reported with the reason; a new one is
// reported on the next pass, a removed one drops out of the report.
func TestAdoptionReportFollowsTheCache(t *testing.T) {
	a := newAdoptionNode(t)
	a.cacheEntry(t, "c0ffee01", "old")
	r := startInstaller(t, mustConfig(t, a.args("--resync=50ms")))
	eventually(t, 5*time.Second, "stale pod reported", func() bool {
		return strings.Contains(readyz(r.in), "unmanaged default/old (c0ffee01:eth0): host veth peer not found: host interface(s) [cni0 vethgonec0ffee01] of prevResult are gone")
	})
	a.cacheEntry(t, "c0ffee02", "second")
	eventually(t, 5*time.Second, "second pod reported", func() bool { return strings.Contains(readyz(r.in), "default/second") })
	os.Remove(filepath.Join(a.cache, "cbr0-c0ffee01-eth0"))
	eventually(t, 5*time.Second, "first pod dropped", func() bool { return !strings.Contains(readyz(r.in), "default/old") })
	if a.puts() != 0 {
		t.Fatal("a stale entry was registered")
	}
}

func TestAdoptionGauges(t *testing.T) {
	g := &recordingGauges{}
	log := logrus.New()
	log.SetOutput(io.Discard)
	a := newAdopter(mustConfig(t, newTestNode(t).args()), log)
	a.gauges = g
	a.record(adoptionReport{ran: true, adopted: 2, managed: 3, unmanaged: make([]chain.AttachmentReport, 1)})
	if last := g.get(); last != [4]int{2, 3, 1, 0} {
		t.Fatalf("gauges %v, want 2 adopted, 3 managed, 1 unmanaged, pass ok", last)
	}
	a.record(adoptionReport{ran: true, err: errors.New("agent down")})
	if last := g.get(); last != [4]int{0, 0, 0, 1} {
		t.Fatalf("gauges %v, want a failed pass", last)
	}
}

// No healthy agent: the pass fails as a whole, /readyz says so, nothing is registered, and the
// installer stays ready (the conflist is in place; adoption is retried on every resync).
func TestAdoptionWaitsForAHealthyAgent(t *testing.T) {
	a := newAdoptionNode(t)
	a.cacheEntry(t, "c0ffee01", "old")
	a.agent.SetHealth(models.StatusStateFailure)
	r := startInstaller(t, mustConfig(t, a.args("--resync=50ms")))
	eventually(t, 5*time.Second, "failed pass in /readyz", func() bool {
		return strings.Contains(readyz(r.in), "200 ok\nadoption on: last pass failed: cilium agent not ready")
	})
	a.agent.SetHealth(models.StatusStateOk)
	eventually(t, 5*time.Second, "pass after the agent recovered", func() bool { return strings.Contains(readyz(r.in), "1 unmanaged") })
	if a.puts() != 0 {
		t.Fatal("a stale entry was registered")
	}
}

type recordingGauges struct {
	mu   sync.Mutex
	last [4]int
}

func (g *recordingGauges) setAdoption(adopted, managed, unmanaged int, failed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := 0
	if failed {
		f = 1
	}
	g.last = [4]int{adopted, managed, unmanaged, f}
}

func (g *recordingGauges) get() [4]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}
