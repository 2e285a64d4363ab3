//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// stepRepair — issue 13's opt-in repair, on the node step 8 left bare (and left so for step 9): a Deployment's pod and a bare
// pod run through Flannel alone; the chart is installed with adoption off (so neither can be adopted)
// and repair on. The Deployment's pod is evicted and its replacement comes up through the chain with
// an endpoint; the bare pod is only reported, same UID, still without an endpoint.
func (s *scenario) stepRepair(t *testing.T) {
	if files := confDirFiles(t); !slices.Equal(files, []string{flannelConflist}) {
		t.Fatalf("conf dir holds %v: this step needs the node without our conflist", files)
	}
	var bare *pod
	installed := false
	// Pods first, through the chain while it is there (their DEL must reach the agent), then the chart.
	t.Cleanup(func() {
		s.k.must(t, "delete", "deployment", "repair", "--ignore-not-found", "--wait=true", "--timeout=120s")
		if err := peer.Eventually(2*time.Minute, 500*time.Millisecond, func() error {
			out, err := s.k.run(context.Background(), "get", "pods", "-l", "app=repair", "-o", "name") // t.Context() is done in Cleanup
			if err == nil && strings.TrimSpace(out) != "" {
				err = fmt.Errorf("deployment's pods still there: %s", out)
			}
			return err
		}); err != nil {
			t.Error(err)
		}
		if bare != nil {
			s.deletePod(t, bare)
		}
		if installed {
			s.helm(t, "uninstall", "cilium-chain", "--namespace", "kube-system", "--wait", "--timeout", "4m")
		}
	})
	if _, err := s.k.apply(t.Context(), repairDeploymentYAML(s.images.TestApp, s.nodes[0].name)); err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	before := s.waitDeploymentPod(t, "")
	bare = s.createPod(t, "repair-bare", "repair-bare")
	if got := before.cni.pluginTypes(); !slices.Equal(got, flannelChain) {
		t.Fatalf("deployment's pod was added through %v, want Flannel alone", got)
	}

	repo, tag := splitImage(t, s.images.Installer)
	chart := filepath.Join(s.e.repo, "install/helm/cilium-chain")
	s.helm(t, "install", "cilium-chain", chart, "--namespace", "kube-system",
		"--set", "image.repository="+repo, "--set", "image.tag="+tag, "--set", "plugin.logFile="+s.pluginLog,
		"--set", "adoption.enabled=false", "--set", "repair.enabled=true",
		// The node has no kube-proxy: the kubernetes Service's ClusterIP does not route here.
		"--set", "repair.apiServer="+apiServerURL,
		"--wait", "--timeout", "4m")
	installed = true
	s.waitDaemonSet(t, s.images.Installer)

	after := s.waitDeploymentPod(t, before.uid)
	s.checkChained(t, after)
	t.Logf("ok: deployment pod %s (uid %s, Flannel only) was replaced by %s (uid %s) through the chain", before, before.uid, after, after.uid)

	var body string
	want := fmt.Sprintf("not repaired default/repair-bare (%.12s:eth0): a bare pod", bare.cni.ContainerID)
	err := peer.Eventually(30*time.Second, 500*time.Millisecond, func() error {
		var err error
		if body, err = httpGet("http://127.0.0.1:9887/readyz"); err != nil {
			return err
		}
		if !strings.Contains(body, "repair on (evict, at most 3 a minute): 1 pods restarted") || !strings.Contains(body, want) {
			return fmt.Errorf("/readyz: %q", body)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	} else {
		t.Logf("ok: /readyz:\n%s", strings.TrimSpace(body))
	}
	var st podStatus
	if err := s.k.getJSON([]string{"pod", bare.name}, &st); err != nil || st.Metadata.UID != bare.uid {
		t.Errorf("bare pod: uid %q err %v, want it untouched (uid %s)", st.Metadata.UID, err, bare.uid)
	}
	if _, found, err := s.api.endpointOf(bare); err != nil || found {
		t.Errorf("bare pod: endpoint found=%v err=%v, want none (report only)", found, err)
	}
	logs := s.k.must(t, "-n", "kube-system", "logs", s.installerPod(t, s.nodes[0]))
	if !strings.Contains(logs, "repair: restarted a pod") || !strings.Contains(logs, "pod="+before.name) {
		t.Errorf("installer log lacks the repair of %s:\n%s", before, logs)
	} else {
		t.Logf("ok: installer log:\n%s", grepLines(logs, "repair"))
	}
}

// repairDeploymentYAML is one replica of the test app on node.
func repairDeploymentYAML(image, node string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: repair
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: {app: repair}
  template:
    metadata:
      labels: {app: repair}
    spec:
` + appPodSpecYAML("      ", "", node, image, `["serve", "80", "8080"]`, "")
}

// waitDeploymentPod waits for the Deployment's one Ready pod (on node 1) whose UID is not notUID.
func (s *scenario) waitDeploymentPod(t *testing.T, notUID string) *pod {
	t.Helper()
	n := s.nodes[0]
	var p *pod
	err := peer.Eventually(3*time.Minute, 500*time.Millisecond, func() error {
		var list struct {
			Items []struct {
				Metadata struct {
					Name string `json:"name"`
					UID  string `json:"uid"`
				} `json:"metadata"`
				podStatus
			} `json:"items"`
		}
		if err := s.k.getJSON([]string{"pods", "-l", "app=repair"}, &list); err != nil {
			return err
		}
		for _, it := range list.Items {
			if it.Metadata.UID == notUID || !it.isReady() {
				continue
			}
			entry, err := n.cacheEntryForPod(it.Metadata.UID)
			if err != nil {
				return err
			}
			p = &pod{node: n, name: it.Metadata.Name, app: "repair", uid: it.Metadata.UID, ip: it.Status.PodIP, cni: entry}
			return nil
		}
		return fmt.Errorf("no Ready pod of deployment repair other than uid %q: %d pods", notUID, len(list.Items))
	})
	if err != nil {
		t.Fatalf("%v\n--- %s kubelet (tail) ---\n%s", err, n, n.kubelet.LogTail(30))
	}
	s.ips.record(t, p.ip, "pod "+p.name+" "+p.uid)
	return p
}
