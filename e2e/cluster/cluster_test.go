//go:build cluster

package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// scenario carries what the steps of TestCluster share, in order.
type scenario struct {
	*cluster
	manifest     string // the manifest as applied: install/kubernetes/cilium-chain.yaml + the plugin log option
	pluginLog    string
	pluginHashes map[string]string // sha256 → which image's plugin
	releaseAgent func()            // the agent lock, held from before the agent starts until the very end of the run
	old          *pod
	a, b, other  *pod
	d            *pod
	adoption     *adoptionState // issue 13: what the adoption steps share
	nm           []*pod         // the nm DaemonSet's pods, one per node in node order
	otherN2      *pod           // app: other on node 2
	crossPods    []*pod         // the single pods of steps 6a–6d (other-n2 …), deleted in 6e
}

// TestCluster is issue 7: the seven steps against one real cluster, in order. The agent is started on
// the top-level test (between steps 1 and 2), so it lives across all steps.
func TestCluster(t *testing.T) {
	began := time.Now()
	e := loadEnv(t)
	var s *scenario
	// Registered first, so it runs last: the agent lock is held through the whole teardown.
	t.Cleanup(func() {
		if s != nil && s.releaseAgent != nil {
			s.releaseAgent()
		}
	})
	c := startCluster(t, e)
	s = &scenario{cluster: c, pluginLog: "/var/log/cilium-chain/plugin.log"}
	t.Cleanup(func() { s.adoption.close() })
	s.prepareManifest(t)
	s.pluginHashes = map[string]string{
		mustHash(t, filepath.Join(e.images, "v1", "cilium-chain")): "v1 (" + c.images.Installer + ")",
		mustHash(t, filepath.Join(e.images, "v2", "cilium-chain")): "v2 (" + c.images.InstallerNext + ")",
	}
	defer func() {
		c.tm.total = time.Since(began)
		t.Logf("timings:\n%s", &c.tm)
	}()

	if !t.Run("1_old_pod_flannel_only", s.step1OldPod) {
		t.Fatal("step 1 failed; nothing else can work")
	}
	s.startAgent(t)
	steps := []struct {
		name     string
		run      func(t *testing.T)
		required bool // the later steps make no sense without it
	}{
		{"1b_before_install", s.stepBeforeInstall, false},
		{"2_apply_manifest", s.step2Apply, true},
		{"2b_running_pods_adopted", s.stepAdopted, false},
		{"3_pods_through_chain", s.step3ChainedPods, true},
		{"4_policies_l3_l4", s.step4Policies, false},
		{"4b_policies_on_adopted_pod", s.stepPoliciesOnAdopted, false},
		{"4c_adoption_rerun", s.stepAdoptionRerun, false},
		{"5_old_pod_deleted_through_chain", s.step5DeleteOld, false},
		{"5b_adopted_pod_gone", s.stepAdoptedGone, false},
		{"6_rollout_new_image", s.step6Rollout, false},
		{"6a_nm_cross_node_policy", s.step6aCrossNode, false},
		{"6b_hubble_flows", s.step6bHubble, false},
		{"6c_service_without_kube_proxy", s.step6cService, false},
		{"6d_hostport_portmap", s.step6dHostPort, false},
		{"6e_cross_node_pods_deleted", s.step6eCrossNodeCleanup, false},
		{"6f_agent_killed_during_pod_starts", s.step6fAgentKilled, false},
		{"7_uninstall", s.step7Uninstall, false},
		{"8_helm_install_doctor_upgrade_uninstall", s.step8Helm, false},
		{"8b_repair_what_cannot_be_adopted", s.stepRepair, false},
		{"9_installer_fail_closed_coexist_cilium_configmap", s.step9Installer, false},
	}
	for _, st := range steps {
		if !t.Run(st.name, st.run) && st.required {
			t.Fatalf("step %s failed; the later steps depend on it", st.name)
		}
		c.checkLivePodIPs(t)
	}
}

// startAgent takes the machine-wide agent lock (after all the work that needs no agent), then runs
// each node's agent with Kubernetes. Pods are deleted again before they stop, so their DEL reaches
// them.
func (s *scenario) startAgent(t *testing.T) {
	t.Helper()
	s.releaseAgent, s.tm.agentLockWait = takeAgentLock(t, s.e)
	began := time.Now()
	for _, n := range s.nodes {
		n.startAgent(t, s.cp)
	}
	s.agent, s.api = s.nodes[0].agent, s.nodes[0].api
	s.tm.agentUp = time.Since(began)
	t.Cleanup(func() { s.deleteAllPods(t) })
	for _, n := range s.nodes {
		st, err := n.api.Healthz()
		if err != nil {
			t.Fatalf("%s: agent healthz: %v", n, err)
		}
		k8s := "(none)"
		if st.Kubernetes != nil {
			k8s = st.Kubernetes.State + " " + st.Kubernetes.Msg
		}
		if st.Kubernetes == nil || st.Kubernetes.State != "Ok" {
			t.Fatalf("%s: agent is not connected to Kubernetes: %s", n, k8s)
		}
		t.Logf("%s: cilium-agent up (Kubernetes: %s)", n, k8s)
	}
	t.Logf("both agents up in %s", s.tm.agentUp.Round(time.Millisecond))
}

// prepareManifest is the manifest as an operator applies it, with one documented option set: the
// plugin's log file (CILIUM_CHAIN_PLUGIN_LOG_FILE), so the test can see which sandboxes the plugin
// was called for. The image stays the manifest's own: the archive is tagged with it.
func (s *scenario) prepareManifest(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(s.repoManifest)
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	const unset = `CILIUM_CHAIN_PLUGIN_LOG_FILE: ""`
	if !strings.Contains(string(b), unset) {
		t.Fatalf("manifest has no %s line to set", unset)
	}
	out := strings.Replace(string(b), unset, `CILIUM_CHAIN_PLUGIN_LOG_FILE: "`+s.pluginLog+`"`, 1)
	s.manifest = s.e.path("etc", "cilium-chain.yaml")
	peer.WriteFile(t, s.manifest, out)
}

func mustHash(t *testing.T, path string) string {
	t.Helper()
	h, err := fileSHA256(path)
	if err != nil {
		t.Fatalf("hash %s: %v", path, err)
	}
	return h
}
