//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// istioCNIEntry is the entry Istio CNI's installer (chained mode) inserts into the highest-priority
// conflist (istio/istio cni/pkg/install: plugin.Config, cniVersion removed before insertion).
const istioCNIEntry = `{"name":"istio-cni","type":"istio-cni","ipam":{},"dns":{},"plugin_log_level":"info",` +
	`"cni_agent_run_dir":"/var/run/istio-cni","ambient_enabled":false,"enablement_selectors":[],"exclude_namespaces":null,` +
	`"pod_namespace":"istio-system","native_nftables":false,"enable_ambient_detection_retry":false}`

// step9Installer — issue 11 on the real node, after step 8 left it clean: the manifest applied again, then
// (a) Flannel's conflist made unchainable while the installer runs: ours is kept, the DaemonSet goes
// unready, a new pod still gets its endpoint; (b) a second process behaving as Istio's installer
// (re-adds istio-cni on every change of our file, re-encoding it): the file converges holding both, no
// fight, no backoff; (c) /metrics scraped; (d) the seed's own cni-configuration ConfigMap applied
// unchanged in custom mode: pods go through its chain with cilium-chain in cilium-cni's place.
func (s *scenario) step9Installer(t *testing.T) {
	ours := filepath.Join(cniConfDir, chainConflist)
	flannel := filepath.Join(cniConfDir, flannelConflist)
	s.k.must(t, "apply", "-f", s.manifest)
	s.waitDaemonSet(t, s.images.Installer)
	good, err := os.ReadFile(ours)
	if err != nil {
		t.Fatalf("after apply: %v", err)
	}

	// (a) fail closed
	peer.WriteFile(t, flannel, strings.Replace(flannelConflistJSON, `"0.3.1"`, `"0.2.0"`, 1))
	began := time.Now()
	if err := peer.Eventually(60*time.Second, 500*time.Millisecond, func() error { return s.daemonSetReady(0) }); err != nil {
		t.Errorf("DaemonSet with an unchainable primary: %v", err)
	} else {
		t.Logf("ok: DaemonSet unready %s after Flannel's conflist turned cniVersion 0.2.0", time.Since(began).Round(time.Second))
	}
	if body, _ := httpGet("http://127.0.0.1:9887/readyz"); !strings.Contains(body, "cannot be chained") {
		t.Errorf("/readyz = %q, want the reason", body)
	}
	if now, _ := os.ReadFile(ours); !bytes.Equal(now, good) {
		t.Fatalf("%s changed with an unchainable primary:\n%s", chainConflist, now)
	}
	fc := s.createPod(t, "fail-closed", "test")
	s.checkChained(t, fc)
	t.Logf("ok: %s kept; pod %s got its endpoint through it", chainConflist, fc)
	peer.WriteFile(t, flannel, flannelConflistJSON)
	s.waitDaemonSet(t, s.images.Installer)

	// (b) an Istio-like second process
	writesBefore := strings.Count(s.installerLogs(t), "wrote conflist")
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan int)
	go func() { done <- istioLikeInstaller(ctx, ours) }()
	began = time.Now()
	var converged []byte
	err = peer.Eventually(30*time.Second, 100*time.Millisecond, func() error {
		a, _ := os.ReadFile(ours)
		time.Sleep(2 * time.Second)
		b, _ := os.ReadFile(ours)
		if !bytes.Equal(a, b) {
			return fmt.Errorf("still changing")
		}
		if types := conflistTypes(b); !slices.Equal(types, []string{"flannel", "cilium-chain", "istio-cni"}) {
			return fmt.Errorf("plugins %v", types)
		}
		converged = b
		return s.daemonSetReady(1)
	})
	stop()
	istioWrites := <-done
	if err != nil {
		t.Errorf("with an Istio-like installer: %v\n%s", err, s.installerLogs(t))
	} else {
		t.Logf("ok: converged in %s (2 s stable included) after %d write(s) by the Istio-like process:\n%s",
			time.Since(began).Round(100*time.Millisecond), istioWrites, converged)
	}
	logs := s.installerLogs(t)
	if strings.Contains(logs, "keeps changing") || strings.Contains(logs, "restoring it") {
		t.Errorf("the installer fought the Istio-like process:\n%s", logs)
	}
	if w := strings.Count(logs, "wrote conflist") - writesBefore; w > 1 {
		t.Errorf("the installer wrote its conflist %d times meanwhile", w)
	}
	// Istio's uninstall takes its entry out again (pods would need an istio-cni binary).
	peer.WriteFile(t, ours, string(good))

	// (c) metrics
	metrics, err := httpGet("http://127.0.0.1:9887/metrics")
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	for _, want := range []string{"cilium_chain_install_ready 1", `cilium_chain_install_fight_backoffs_total 0`,
		`cilium_chain_install_conflist_writes_total{result="ok"}`, `cilium_chain_install_foreign_changes_total{action="kept"}`,
		"cilium_chain_install_seconds_since_conflist_matched", "cilium_chain_install_unmanaged_pods"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	t.Logf("ok: /metrics:\n%s", grepLines(metrics, "cilium_chain_install_"))

	// (d) Cilium's own ConfigMap, unchanged
	if err := copyExecutable(s.e.bin("portmap"), filepath.Join(cniBinDir, "portmap")); err != nil {
		t.Fatalf("portmap (the seed's chain has it): %v", err)
	}
	s.k.must(t, "apply", "-f", filepath.Join(s.e.repo, "install", "testdata", "cilium-cni-configuration.yaml"))
	// The plain manifest rendered with the three values install/README.md gives for it.
	rendered := s.helm(t, "template", "cilium-chain", filepath.Join(s.e.repo, "install/helm/cilium-chain"), "--namespace", "kube-system",
		"--no-hooks", "--set", "mode=custom", "--set", "customConflistConfigMap.name=cni-configuration",
		"--set", "customNameMismatch=use-primary", "--set", "plugin.logFile="+s.pluginLog)
	customManifest := s.e.path("etc", "cilium-chain-custom.yaml")
	peer.WriteFile(t, customManifest, rendered)
	s.k.must(t, "apply", "-f", customManifest)
	s.waitDaemonSet(t, s.images.Installer)
	custom, _ := os.ReadFile(ours)
	if types := conflistTypes(custom); !slices.Equal(types, []string{"flannel", "portmap", "cilium-chain"}) {
		t.Fatalf("custom mode wrote plugins %v:\n%s", types, custom)
	}
	cm := s.createPod(t, "cilium-configmap", "test")
	if got := cm.cni.pluginTypes(); !slices.Equal(got, []string{"flannel", "portmap", "cilium-chain"}) {
		t.Errorf("%s was added through %v", cm, got)
	}
	if ep, found, err := s.api.endpointOf(cm); err != nil || !found || peer.StateOf(ep) != "ready" {
		t.Errorf("%s: endpoint found=%v err=%v", cm, found, err)
	} else {
		t.Logf("ok: Cilium's cni-configuration ConfigMap as is → %s (network %q):\n%s\npod %s endpoint %d ready, identity [%s]",
			chainConflist, cm.cni.NetworkName, custom, cm, ep.ID, strings.Join(identityLabels(ep), " "))
	}
}

// daemonSetReady checks the DaemonSet reports want ready pods.
func (s *scenario) daemonSetReady(want int) error {
	var ds struct {
		Status struct {
			Ready int `json:"numberReady"`
		} `json:"status"`
	}
	if err := s.k.getJSON([]string{"-n", "kube-system", "ds", "cilium-chain"}, &ds); err != nil {
		return err
	}
	if ds.Status.Ready != want {
		return fmt.Errorf("numberReady %d, want %d", ds.Status.Ready, want)
	}
	return nil
}

func (s *scenario) installerLogs(t *testing.T) string {
	out, _ := s.k.run(t.Context(), "-n", "kube-system", "logs", "ds/cilium-chain")
	return out
}

// istioLikeInstaller does what Istio CNI's installer does to the conflist it chains into: on every
// change that is not its own write, it drops its entry, appends a fresh one and writes the whole file
// re-encoded (sorted keys) through a rename. It returns how often it wrote.
func istioLikeInstaller(ctx context.Context, path string) int {
	var mine []byte
	writes := 0
	for ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		data, err := os.ReadFile(path)
		if err != nil || bytes.Equal(data, mine) {
			continue
		}
		var doc map[string]any
		if json.Unmarshal(data, &doc) != nil {
			continue
		}
		plugins, _ := doc["plugins"].([]any)
		plugins = slices.DeleteFunc(plugins, func(p any) bool { m, _ := p.(map[string]any); return m["type"] == "istio-cni" })
		var entry any
		json.Unmarshal([]byte(istioCNIEntry), &entry)
		doc["plugins"] = append(plugins, entry)
		out, _ := json.MarshalIndent(doc, "", "  ")
		tmp := filepath.Join(filepath.Dir(path), ".istio-cni.tmp")
		if os.WriteFile(tmp, out, 0o644) == nil && os.Rename(tmp, path) == nil {
			mine = out
			writes++
		}
	}
	return writes
}

// conflistTypes lists a conflist's plugin types.
func conflistTypes(data []byte) []string {
	var l struct {
		Plugins []struct {
			Type string `json:"type"`
		} `json:"plugins"`
	}
	json.Unmarshal(data, &l)
	var types []string
	for _, p := range l.Plugins {
		types = append(types, p.Type)
	}
	return types
}
