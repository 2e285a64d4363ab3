//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// step8Helm — the chart on the node step 7 left clean: helm install, doctor through kubectl exec (a
// Flannel-only pod named as the fault, then a clean bill), helm upgrade to the next image, helm
// uninstall (its post-delete hook pod cleans the node), and the node is as before: Flannel's
// conflist alone, no plugin binary, no pod of ours.
func (s *scenario) step8Helm(t *testing.T) {
	before := confDirFiles(t)
	if !slices.Equal(before, []string{flannelConflist}) || peer.FileExists(filepath.Join(cniBinDir, "cilium-chain")) {
		t.Fatalf("step 8 needs the node step 7 left: conf dir %v, plugin binary present %v", before, peer.FileExists(filepath.Join(cniBinDir, "cilium-chain")))
	}
	repo, tag := splitImage(t, s.images.Installer)
	began := time.Now()
	out := s.helm(t, "install", "cilium-chain", filepath.Join(s.e.repo, "install/helm/cilium-chain"), "--namespace", "kube-system",
		"--set", "image.repository="+repo, "--set", "image.tag="+tag, "--set", "plugin.logFile="+s.pluginLog,
		"--set-json", `plugin.argsLabels={"K8S_POD_NAMESPACE":"k8s:io.kubernetes.pod.namespace"}`,
		// Adoption off (report only): step 7's Flannel-only pod stays unmanaged for doctor to name.
		"--set", "adoption.enabled=false",
		"--wait", "--timeout", "4m")
	t.Logf("helm install:\n%s", strings.TrimSpace(out))
	s.waitDaemonSet(t, s.images.Installer)
	t.Logf("ok: helm install → DaemonSet ready in %s", time.Since(began).Round(time.Millisecond))
	if files := confDirFiles(t); !slices.Equal(files, []string{chainConflist, flannelConflist}) {
		t.Fatalf("conf dir after helm install holds %v, want [%s %s]", files, chainConflist, flannelConflist)
	}

	// The pod step 7 created under Flannel alone predates the chain: doctor names it.
	code, rep := s.doctor(t)
	if code != 1 || !rep.Failing("attachment", "pod default/after", "no Cilium endpoint") {
		t.Errorf("doctor with a Flannel-only pod: exit %d, want 1 naming pod default/after:\n%s", code, rep)
	} else {
		t.Logf("ok: doctor (kubectl exec) exits 1 and names pod default/after (no Cilium endpoint)")
	}
	s.k.must(t, "delete", "pod", "after", "--wait=true", "--timeout=120s")
	chained := s.createPod(t, "helm-a", "test")
	if err := peer.Eventually(time.Minute, 500*time.Millisecond, func() error {
		code, rep := s.doctor(t)
		if code != 0 {
			return fmt.Errorf("exit %d:\n%s", code, rep)
		}
		if !rep.Mentions("pod default/helm-a") || !rep.Mentions(chained.cni.hostVeth()+": ingress cil_from_container") {
			return fmt.Errorf("report does not judge pod helm-a and its programs:\n%s", rep)
		}
		return nil
	}); err != nil {
		t.Errorf("doctor on the healthy node: %v", err)
	} else {
		t.Logf("ok: doctor (kubectl exec) exits 0: conflist, binaries, agent config, pod helm-a's endpoint and programs")
	}

	// helm upgrade to the next image: the pods roll one at a time and keep the conflist.
	nextRepo, nextTag := splitImage(t, s.images.InstallerNext)
	s.helm(t, "upgrade", "cilium-chain", filepath.Join(s.e.repo, "install/helm/cilium-chain"), "--namespace", "kube-system",
		"--reuse-values", "--set", "image.repository="+nextRepo, "--set", "image.tag="+nextTag, "--wait", "--timeout", "4m")
	s.waitDaemonSet(t, s.images.InstallerNext)
	if err := peer.Eventually(30*time.Second, 200*time.Millisecond, func() error {
		if got := s.pluginHashes[mustHash(t, filepath.Join(cniBinDir, "cilium-chain"))]; !strings.HasPrefix(got, "v2") {
			return fmt.Errorf("plugin binary on the node is %q, want v2", got)
		}
		return nil
	}); err != nil {
		t.Errorf("helm upgrade: %v", err)
	} else {
		t.Logf("ok: helm upgrade → %s rolled out, plugin binary is v2, %s still in place", s.images.InstallerNext, chainConflist)
	}

	// Chained pods go first, so their DEL reaches the agent through the chain (README: uninstall).
	s.deletePod(t, chained)
	began = time.Now()
	out = s.helm(t, "uninstall", "cilium-chain", "--namespace", "kube-system", "--wait", "--timeout", "4m")
	t.Logf("helm uninstall (%s):\n%s", time.Since(began).Round(time.Millisecond), strings.TrimSpace(out))
	if err := peer.Eventually(2*time.Minute, 200*time.Millisecond, func() error {
		pods, err := s.k.run(context.Background(), "-n", "kube-system", "get", "pods", "-o", "name")
		if err != nil {
			return err
		}
		if strings.Contains(pods, "cilium-chain") {
			return fmt.Errorf("pods of ours still there: %s", pods)
		}
		return nil
	}); err != nil {
		t.Errorf("after helm uninstall: %v", err)
	}
	if files := confDirFiles(t); !slices.Equal(files, before) {
		t.Errorf("conf dir after helm uninstall holds %v, want %v as before", files, before)
	}
	if peer.FileExists(filepath.Join(cniBinDir, "cilium-chain")) {
		t.Errorf("%s/cilium-chain is still there after helm uninstall", cniBinDir)
	}
	if !t.Failed() {
		t.Logf("ok: helm uninstall: the hook pod removed %s and the plugin binary; the node is as before (%v)", chainConflist, before)
	}
}

// helm runs the real Helm against the cluster, with its state under the run directory.
func (s *scenario) helm(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.e.bin("helm"), append(args, "--kubeconfig", s.k.kubeconfig)...)
	home := s.e.path("helm")
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		logs, _ := s.k.run(context.Background(), "-n", "kube-system", "logs", "-l", "app.kubernetes.io/name in (cilium-chain,cilium-chain-uninstall)", "--tail=30")
		t.Fatalf("helm %s: %v\n%s\n%s\nlogs:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String(), logs)
	}
	return stdout.String()
}

func splitImage(t *testing.T, ref string) (repo, tag string) {
	t.Helper()
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		t.Fatalf("image %q has no tag", ref)
	}
	return ref[:i], ref[i+1:]
}

// doctor runs doctor in the installer's pod, as the README tells an operator to.
func (s *scenario) doctor(t *testing.T) (int, peer.DoctorReport) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", s.k.args([]string{"-n", "kube-system", "exec", "ds/cilium-chain", "--",
		"/usr/local/bin/cilium-chain-install", "doctor", "--output=json"})...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("kubectl exec doctor: %v", err)
		}
		code = ee.ExitCode()
	}
	rep, err := peer.ParseDoctorReport(stdout.Bytes())
	if err != nil {
		t.Fatalf("kubectl exec doctor: exit %d: %v\n%s", code, err, stderr.String())
	}
	t.Logf("doctor: exit %d\n%s", code, rep)
	return code, rep
}
