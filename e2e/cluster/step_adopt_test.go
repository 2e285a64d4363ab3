//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/cilium-chain/cilium-chain/chain"
	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// adoptionState is what the adoption steps (issue 13) share: the pods that ran before the install.
// TestCluster calls its close at the end.
type adoptionState struct {
	stale          *pod      // its host veth removed by hand before the install: a stale cache entry
	held           *heldConn // old pod → node, opened before the install
	oldContainerID string    // the old pod's app container before the install
	oldEndpointID  int64     // the endpoint adoption gave it
}

// stepBeforeInstall — besides the old pod (step 1): a pod whose veth is then removed by hand, and an
// open TCP connection from the old pod to the node. All before the DaemonSet is applied.
func (s *scenario) stepBeforeInstall(t *testing.T) {
	if files := confDirFiles(t); !slices.Equal(files, []string{flannelConflist}) {
		t.Fatalf("conf dir holds %v: this must run before the install", files)
	}
	a := &adoptionState{}
	s.adoption = a
	a.oldContainerID, _ = s.appContainer(t, s.old)

	a.stale = s.createPod(t, "stale", "stale")
	link, err := netlink.LinkByName(a.stale.cni.hostVeth())
	if err != nil {
		t.Fatalf("stale pod's veth: %v", err)
	}
	if err := netlink.LinkDel(link); err != nil {
		t.Fatalf("removing the stale pod's veth: %v", err)
	}
	t.Logf("removed the host veth %s of pod stale by hand: its libcni cache entry is stale now", a.stale.cni.hostVeth())

	a.held = s.holdConnection(t, s.old)
	t.Logf("ok: old pod %s holds a TCP connection %s → %s, opened before the install", s.old, a.held.conn.RemoteAddr(), a.held.conn.LocalAddr())
}

// stepAdopted — after the DaemonSet is applied, the old pod has a ready endpoint with its Kubernetes
// identity and Cilium's programs on its host veth: in place (same sandbox, same container, no
// restart, the connection opened before the install still carries data). The stale pod is reported
// unmanaged and has no endpoint.
func (s *scenario) stepAdopted(t *testing.T) {
	a := s.needAdoption(t)
	p := s.old
	ep := s.checkManaged(t, p)
	if ep != nil {
		a.oldEndpointID = ep.ID
	}
	entry, err := cacheEntryForPod(p.uid)
	if err != nil {
		t.Fatal(err)
	}
	if entry.ContainerID != p.cni.ContainerID || !slices.Equal(entry.pluginTypes(), flannelChain) {
		t.Errorf("old pod's attachment is now %.12s via %v, want the same sandbox %.12s via [flannel]: adopted, not re-added",
			entry.ContainerID, entry.pluginTypes(), p.cni.ContainerID)
	}
	if id, restarts := s.appContainer(t, p); id != a.oldContainerID || restarts != 0 {
		t.Errorf("old pod's container is %s with %d restarts, want %s with 0", id, restarts, a.oldContainerID)
	}
	// The adoption finishes its record once its wait has seen the first regeneration, a poll after the
	// agent lists the endpoint ready.
	if err := peer.Eventually(10*time.Second, 100*time.Millisecond, func() error {
		if rec := recordOf(p); !rec.Adopted || rec.State != "added" {
			return fmt.Errorf("old pod's attachment record %+v, want state added, adopted", rec)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	err = a.held.finish("hello through the adopted endpoint")
	a.held.close()
	if err != nil {
		t.Errorf("the connection opened before the install: %v", err)
	} else {
		t.Logf("ok: the connection opened before the install still carries data after adoption")
	}

	stale := a.stale
	if _, found, err := s.api.endpointOf(stale); err != nil || found {
		t.Errorf("stale pod: endpoint found=%v err=%v, want none", found, err)
	}
	want := fmt.Sprintf("unmanaged default/stale (%.12s:eth0): ", stale.cni.ContainerID)
	var body string
	err = peer.Eventually(30*time.Second, 500*time.Millisecond, func() error {
		if body, err = httpGet("http://127.0.0.1:9887/readyz"); err != nil {
			return err
		}
		if !strings.HasPrefix(body, "ok\n") || !strings.Contains(body, want) || !strings.Contains(body, stale.cni.hostVeth()+"] of prevResult are gone") {
			return fmt.Errorf("/readyz lacks the stale pod: %q", body)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	} else {
		t.Logf("ok: /readyz:\n%s", strings.TrimSpace(body))
	}
	logs := s.k.must(t, "-n", "kube-system", "logs", s.installerPod(t, s.nodes[0]))
	if !strings.Contains(logs, "pod=stale") || !strings.Contains(logs, "endpoint registered for a running pod (adopted)") {
		t.Errorf("installer log lacks the adoption of old or the unmanaged stale pod:\n%s", logs)
	} else {
		t.Logf("ok: installer log:\n%s", grepLines(logs, "adopt"))
	}
}

// stepPoliciesOnAdopted — the seed's L3 and L4 CNPs select the adopted pod (app: test) and are
// enforced on it by real traffic.
func (s *scenario) stepPoliciesOnAdopted(t *testing.T) {
	s.needAdoption(t)
	old, a, c := s.old, s.a, s.other
	t.Run("l3_from_app_test", func(t *testing.T) {
		s.changePolicy(t, "apply", peer.CNPL3)
		s.waitRealized(t, old)
		s.expectAllowed(t, a, old, 80)
		s.expectDenied(t, c, old, 80)
	})
	t.Run("l4_tcp_80", func(t *testing.T) {
		s.changePolicy(t, "apply", peer.CNPL4)
		s.changePolicy(t, "delete", peer.CNPL3)
		s.waitRealized(t, old)
		s.expectAllowed(t, c, old, 80)
		s.expectDenied(t, a, old, 8080)
	})
	s.changePolicy(t, "delete", peer.CNPL4)
	s.waitRealized(t, old)
}

// stepAdoptionRerun — the installer pod deleted and recreated runs adoption again: nothing is
// registered twice (the old pod keeps its endpoint, no endpoint is added) and the stale pod is still
// reported.
func (s *scenario) stepAdoptionRerun(t *testing.T) {
	a := s.needAdoption(t)
	before, err := s.api.podEndpoints()
	if err != nil {
		t.Fatal(err)
	}
	s.k.must(t, "-n", "kube-system", "delete", "pod", "-l", "app.kubernetes.io/name=cilium-chain", "--wait=true")
	s.waitDaemonSet(t, s.images.Installer)
	var body string
	err = peer.Eventually(60*time.Second, 500*time.Millisecond, func() error {
		if body, err = httpGet("http://127.0.0.1:9887/readyz"); err != nil {
			return err
		}
		if !strings.Contains(body, "adoption on: 0 adopted by the last pass") || !strings.Contains(body, "unmanaged default/stale") {
			return fmt.Errorf("/readyz: %q", body)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the new installer's adoption pass: %v", err)
	}
	after, err := s.api.podEndpoints()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("%d pod endpoints after the rerun, %d before", len(after), len(before))
	}
	if ep, found, err := s.api.endpointOf(s.old); err != nil || !found || ep.ID != a.oldEndpointID {
		t.Errorf("old pod's endpoint after the rerun: found=%v err=%v, want the same endpoint %d", found, err, a.oldEndpointID)
	}
	if logs := s.k.must(t, "-n", "kube-system", "logs", s.installerPod(t, s.nodes[0])); strings.Contains(logs, "endpoint registered") {
		t.Errorf("the new installer registered an endpoint:\n%s", logs)
	}
	t.Logf("ok: rerun registered nothing: %d pod endpoints, old pod still endpoint %d; /readyz:\n%s", len(after), a.oldEndpointID, strings.TrimSpace(body))
}

// stepAdoptedGone — after step 5 deleted the old pod through the chain: its endpoint and record are
// gone too. Then the stale pod is deleted: DEL through the chain copes with the missing veth.
func (s *scenario) stepAdoptedGone(t *testing.T) {
	a := s.needAdoption(t)
	if _, found, err := s.api.endpointOf(s.old); err != nil || found {
		t.Errorf("old pod deleted: endpoint found=%v err=%v, want none", found, err)
	}
	if path := recordPath(s.old); peer.FileExists(path) {
		t.Errorf("old pod deleted: its attachment record %s is still there", path)
	}
	s.deletePod(t, a.stale)
	if _, found, err := s.api.endpointOf(a.stale); err != nil || found {
		t.Errorf("stale pod deleted: endpoint found=%v err=%v, want none", found, err)
	}
	if err := checkIPAMConsistent(); err != nil {
		t.Errorf("IPAM: %v", err)
	}
	t.Logf("ok: the adopted pod's DEL removed its endpoint and record; the stale pod was deleted cleanly")
}

// close ends what the steps left open (the held connection, if step 2b did not finish it).
func (a *adoptionState) close() {
	if a != nil && a.held != nil {
		a.held.close()
	}
}

func (s *scenario) needAdoption(t *testing.T) *adoptionState {
	t.Helper()
	if s.adoption == nil || s.adoption.held == nil {
		t.Fatal("step 1b did not run")
	}
	return s.adoption
}

// waitRealized waits until the pod's endpoint has realized the agent's current policy revision.
func (s *scenario) waitRealized(t *testing.T, p *pod) {
	t.Helper()
	rev, err := s.api.PolicyRevision()
	if err != nil {
		t.Fatal(err)
	}
	err = peer.Eventually(60*time.Second, 200*time.Millisecond, func() error {
		ep, found, err := s.api.endpointOf(p)
		return peer.Realized(ep, found, err, rev)
	})
	if err != nil {
		t.Fatalf("endpoint of %s: %v", p, err)
	}
}

// appContainer is the pod's app container ID and restart count, from the API.
func (s *scenario) appContainer(t *testing.T, p *pod) (string, int) {
	t.Helper()
	var st struct {
		Status struct {
			ContainerStatuses []struct {
				ContainerID  string `json:"containerID"`
				RestartCount int    `json:"restartCount"`
			} `json:"containerStatuses"`
		} `json:"status"`
	}
	if err := s.k.getJSON([]string{"pod", p.name}, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Status.ContainerStatuses) != 1 {
		t.Fatalf("pod %s has %d container statuses", p, len(st.Status.ContainerStatuses))
	}
	return st.Status.ContainerStatuses[0].ContainerID, st.Status.ContainerStatuses[0].RestartCount
}

func recordPath(p *pod) string {
	return filepath.Join(chain.DefaultStateDir, networkName, p.cni.ContainerID+":"+p.cni.IfName)
}

// attachmentRecord is the plugin's record as stored (chain/store.go).
type attachmentRecord struct {
	State   string `json:"state"`
	Adopted bool   `json:"adopted"`
}

func recordOf(p *pod) attachmentRecord {
	var r attachmentRecord
	b, err := os.ReadFile(recordPath(p))
	if err == nil {
		_ = json.Unmarshal(b, &r)
	}
	return r
}

// heldConn is a TCP connection from a pod to the node, held open by `testapp dial` (which waits for
// one line) in the pod through kubectl exec.
type heldConn struct {
	conn  net.Conn
	done  chan error
	out   *lockedBuffer
	close func()
}

// holdConnection opens it: the node listens (on nodeIP, only until the pod connected: step 3 wants
// no listener beyond loopback) and the pod dials.
func (s *scenario) holdConnection(t *testing.T, p *pod) *heldConn {
	t.Helper()
	ln, err := net.Listen("tcp4", nodeIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	h := &heldConn{done: make(chan error, 1), out: &lockedBuffer{}}
	cmd := exec.CommandContext(ctx, "kubectl", s.k.args([]string{"exec", p.name, "--", "/testapp", "dial", addr, "15m"})...)
	cmd.Stdout, cmd.Stderr = h.out, h.out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { h.done <- cmd.Wait() }()
	// Not t.Cleanup: the connection outlives this step; TestCluster closes it at the end.
	h.close = func() {
		cancel() // kills kubectl if it still runs
		if h.conn != nil {
			h.conn.Close()
		}
	}
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		t.Fatalf("pod %s did not connect to %s: %v (kubectl: %s)", p, addr, err, h.out)
	}
	h.conn = conn
	if host, _, _ := net.SplitHostPort(conn.RemoteAddr().String()); host != p.ip {
		t.Fatalf("connection from %s, want the pod's IP %s", conn.RemoteAddr(), p.ip)
	}
	return h
}

// finish sends one line over the held connection; `testapp dial` prints it and exits 0.
func (h *heldConn) finish(line string) error {
	if _, err := h.conn.Write([]byte(line + "\n")); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	select {
	case err := <-h.done:
		if err != nil || !strings.Contains(h.out.String(), line) {
			return fmt.Errorf("testapp dial in the pod: %v, output %q", err, h.out)
		}
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("the pod did not receive %q within 30 s (output %q)", line, h.out)
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
