//go:build cluster

package cluster

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/chain"
	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// step7Uninstall — install/README.md's uninstall, command for command, after deleting the chained pods
// (their DEL reaches the agent through the chain): CILIUM_CHAIN_KEEP_ON_EXIT=false and
// CILIUM_CHAIN_UNINSTALL_BINARY=true in the ConfigMap (with the manifest's default the conflist is kept
// on purpose, for upgrades), rollout restart, rollout status, `kubectl delete -f`. Then the conflist and
// the binary are gone, Flannel's conflist is untouched and new pods get Flannel only. What stays is the
// plugin's (empty) attachment store dir and the plugin log this test turned on.
func (s *scenario) step7Uninstall(t *testing.T) {
	for _, p := range []*pod{s.a, s.b, s.other, s.d} {
		if p == nil {
			continue
		}
		s.deletePod(t, p)
		if rec := filepath.Join(chain.DefaultStateDir, networkName, p.cni.ContainerID+":eth0"); peer.FileExists(rec) {
			t.Errorf("%s: attachment record %s left after DEL", p, rec)
		}
	}
	err := peer.Eventually(30*time.Second, 200*time.Millisecond, func() error {
		eps, err := s.api.podEndpoints()
		if err != nil {
			return err
		}
		if len(eps) > 0 {
			return fmt.Errorf("%d pod endpoints left in the agent", len(eps))
		}
		return nil
	})
	if err != nil {
		t.Errorf("after deleting the chained pods: %v", err)
	} else {
		t.Logf("ok: chained pods deleted; the agent holds no pod endpoint")
	}

	s.k.must(t, "-n", "kube-system", "patch", "configmap", "cilium-chain-config", "--type=merge",
		"-p", `{"data":{"CILIUM_CHAIN_KEEP_ON_EXIT":"false","CILIUM_CHAIN_UNINSTALL_BINARY":"true"}}`)
	s.k.must(t, "-n", "kube-system", "rollout", "restart", "ds/cilium-chain")
	s.waitDaemonSet(t, s.images.InstallerNext)
	began := time.Now()
	out := s.k.must(t, "delete", "-f", s.manifest, "--wait=true", "--timeout=120s")
	t.Logf("kubectl delete -f install/kubernetes/cilium-chain.yaml:\n%s", strings.TrimSpace(out))
	err = peer.Eventually(2*time.Minute, 200*time.Millisecond, func() error {
		pods, err := s.k.run(t.Context(), "-n", "kube-system", "get", "pods", "-l", "app.kubernetes.io/name=cilium-chain", "-o", "name")
		if err != nil {
			return err
		}
		if strings.TrimSpace(pods) != "" {
			return fmt.Errorf("installer pods still there: %s", pods)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("uninstall: %v", err)
	}
	s.tm.uninstall = time.Since(began)

	if files := confDirFiles(t); !slices.Equal(files, []string{flannelConflist}) {
		t.Errorf("conf dir after uninstall holds %v, want only %s", files, flannelConflist)
	} else {
		t.Logf("ok: %s removed; %s untouched", chainConflist, flannelConflist)
	}
	if peer.FileExists(filepath.Join(cniBinDir, "cilium-chain")) {
		t.Errorf("%s/cilium-chain is still there after an uninstall with CILIUM_CHAIN_UNINSTALL_BINARY=true", cniBinDir)
	} else {
		t.Logf("ok: %s/cilium-chain removed (CILIUM_CHAIN_UNINSTALL_BINARY=true)", cniBinDir)
	}
	if recs, _ := filepath.Glob(filepath.Join(chain.DefaultStateDir, networkName, "*")); len(recs) > 0 {
		t.Errorf("attachment records left: %v", recs)
	}

	after := s.createPod(t, "after", "test")
	if got := after.cni.pluginTypes(); !slices.Equal(got, flannelChain) {
		t.Errorf("pod after uninstall was added through %v, want %v", got, flannelChain)
	}
	if _, found, err := s.api.endpointOf(after); err != nil || found {
		t.Errorf("pod after uninstall: endpoint found=%v err=%v, want none", found, err)
	}
	if progs, err := tcProgramsOn(after.cni.hostVeth()); err != nil || len(progs.Ingress)+len(progs.Egress) > 0 {
		t.Errorf("pod after uninstall: veth %s has %v (%v), want no programs", after.cni.hostVeth(), progs, err)
	}
	if strings.Contains(readFile(s.pluginLog), after.cni.ContainerID) {
		t.Errorf("the plugin ran for the pod created after uninstall")
	}
	if err := checkIPAMConsistent(); err != nil {
		t.Errorf("IPAM: %v", err)
	}
	t.Logf("ok: uninstalled in %s; pod %s (%s) got Flannel only: no endpoint, no programs", s.tm.uninstall.Round(time.Millisecond), after, after.ip)
}
