//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// doctorReadyAddr is the installer's readiness endpoint, on the node netns's loopback.
const doctorReadyAddr = "127.0.0.1:19887"

// doctorNode is a node as the DaemonSet leaves it: Flannel's conflist, the real installer (derived
// mode) running in the node netns and keeping 05-cilium.conflist and the plugin binary in place.
type doctorNode struct {
	e                *env
	confDir, binDir  string
	primaryOnlyDir   string // Flannel's conflist alone: pods added through it get no endpoint
	installer        *proc
	installerLogPath string
}

func newDoctorNode(t *testing.T, e *env) *doctorNode {
	t.Helper()
	base := filepath.Join(e.dir, "doctor")
	d := &doctorNode{e: e, confDir: filepath.Join(base, "net.d"), binDir: filepath.Join(base, "bin"),
		primaryOnlyDir: filepath.Join(base, "primary-only"), installerLogPath: filepath.Join(base, "installer.log")}
	primary, err := json.Marshal(map[string]any{"cniVersion": "0.3.1", "name": netName, "plugins": []any{e.conf.flannel()}})
	if err != nil {
		t.Fatal(err)
	}
	peer.WriteFile(t, filepath.Join(d.confDir, "10-flannel.conflist"), string(primary))
	peer.WriteFile(t, filepath.Join(d.primaryOnlyDir, "10-flannel.conflist"), string(primary))
	if err := os.MkdirAll(d.binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"flannel", "bridge", "host-local", "loopback"} {
		if err := os.Symlink(e.tl.bin(b), filepath.Join(d.binDir, b)); err != nil {
			t.Fatal(err)
		}
	}
	// The pods' CILIUM_LABEL_ pairs are opt-in (label-args).
	extra, _ := json.Marshal(map[string]any{"state-dir": e.conf.stateDir(), "label-args": []string{"*"}})
	d.installer = startProc(t, "cilium-chain-install", d.installerLogPath, nil, e.node.exec(
		filepath.Join(e.tl.repo, "bin", "cilium-chain-install"),
		"--conf-dir="+d.confDir, "--bin-dir="+d.binDir, "--binary-source="+e.tl.pluginBin,
		"--primary-network="+netName, "--ready-addr="+doctorReadyAddr,
		"--plugin-socket-path="+e.agent.sock, "--plugin-log-file="+e.conf.pluginLog(), "--plugin-log-level=debug",
		"--plugin-labels=k8s:io.cilium.k8s.policy.cluster="+clusterName,
		"--plugin-args-labels=K8S_POD_NAMESPACE=k8s:io.kubernetes.pod.namespace",
		"--plugin-extra-json="+string(extra),
	)...)
	t.Cleanup(func() {
		if err := d.installer.stop(10 * time.Second); err != nil {
			t.Errorf("stop installer: %v", err)
		}
	})
	if err := peer.Eventually(30*time.Second, 100*time.Millisecond, d.installerReady); err != nil {
		t.Fatalf("installer not ready: %v\n%s", err, peer.LogTail(d.installerLogPath, 40))
	}
	return d
}

// installerReady asks /readyz from inside the node netns.
func (d *doctorNode) installerReady() error {
	resp, err := nsHTTPClient(d.e.node.ns).Get("http://" + doctorReadyAddr + "/readyz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz answered %d", resp.StatusCode)
	}
	return nil
}

// doctor runs `cilium-chain-install doctor --output json` in the node netns (where the host veths
// are) and returns its exit code and report.
func (d *doctorNode) doctor(t *testing.T, extra ...string) (int, peer.DoctorReport) {
	t.Helper()
	argv := d.e.node.exec(append([]string{filepath.Join(d.e.tl.repo, "bin", "cilium-chain-install"), "doctor",
		"--conf-dir=" + d.confDir, "--bin-dir=" + d.binDir, "--binary-source=" + d.e.tl.pluginBin,
		"--cni-cache-dir=/var/lib/cni", "--state-dir=" + d.e.conf.stateDir(), "--agent-socket=" + d.e.agent.sock,
		"--primary-network=" + netName, "--ready-addr=" + doctorReadyAddr, "--output=json"}, extra...)...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := run(ctx, nil, nil, argv[0], argv[1:]...)
	rep, err := peer.ParseDoctorReport(res.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	code := 0
	var exitErr *exec.ExitError
	if errors.As(res.Err, &exitErr) {
		code = exitErr.ExitCode()
	} else if res.Err != nil {
		t.Fatalf("doctor did not run: %v", res.Err)
	}
	t.Logf("doctor: exit %d, %d failure(s)\n%s", code, rep.Failures, rep)
	return code, rep
}

// TestDoctor is `cilium-chain-install doctor` against the real agent, the real installer, Flannel and
// libcni (cnitool): a healthy node passes, and each injected fault is named with a non-zero exit.
func TestDoctor(t *testing.T) {
	e := newEnv(t)
	e.tl.requirePlugin(t)
	e.agent.start(t)
	d := newDoctorNode(t, e)

	web := newPod(t, "doc-web", map[string]string{"app": "web"})
	e.cni.add(t, d.confDir, web)
	waitEndpointReady(t, e.agent.api, web)
	t.Cleanup(func() { e.cni.cnitool(d.confDir, "del", web) })

	t.Run("healthy node exits 0", func(t *testing.T) {
		code, rep := d.doctor(t)
		if code != 0 || !rep.OK {
			t.Fatalf("exit %d, want 0:\n%s", code, rep)
		}
		for _, want := range []string{"containerd loads " + filepath.Join(d.confDir, "05-cilium.conflist"), `"cbr0", the same as the primary 10-flannel.conflist`,
			"the installer's own build", "generic-veth", "native: the primary CNI routes", "pod default/doc-web", web.hostVeth + ": ingress cil_from_container", "ready (http://"} {
			if !rep.Mentions(want) {
				t.Errorf("report lacks %q", want)
			}
		}
	})

	t.Run("pod without endpoint", func(t *testing.T) {
		// Added through Flannel's conflist alone, as a pod that predates cilium-chain: same network name,
		// so libcni caches it under cbr0, but nobody registered an endpoint.
		old := newPod(t, "doc-old", nil)
		e.cni.add(t, d.primaryOnlyDir, old)
		defer e.cni.del(t, d.primaryOnlyDir, old)
		code, rep := d.doctor(t)
		if code != 1 || !rep.Failing("attachment", "pod default/doc-old", "no Cilium endpoint") {
			t.Fatalf("exit %d, want 1 naming doc-old:\n%s", code, rep)
		}
	})

	t.Run("conflist shadowed by an earlier file", func(t *testing.T) {
		shadow := filepath.Join(d.confDir, "00-shadow.conflist")
		peer.WriteFile(t, shadow, `{"cniVersion":"0.3.1","name":"shadow","plugins":[{"type":"loopback"}]}`)
		defer os.Remove(shadow)
		code, rep := d.doctor(t)
		if code != 1 || !rep.Failing("conflist", "chains cilium-chain", "00-shadow.conflist shadows ours") {
			t.Fatalf("exit %d, want 1 naming the shadowing file:\n%s", code, rep)
		}
	})

	t.Run("agent in tunnel mode", func(t *testing.T) {
		e.agent.stop(t)
		startAgentWith(t, e.agent, "--routing-mode=tunnel", "--tunnel-protocol=vxlan")
		defer func() { e.agent.stop(t); e.agent.start(t) }()
		code, rep := d.doctor(t)
		if code != 1 || !rep.Failing("agent", "routing mode", `"tunnel"`) {
			t.Fatalf("exit %d, want 1 naming tunnel mode:\n%s", code, rep)
		}
	})

	t.Run("agent down", func(t *testing.T) {
		e.agent.stop(t)
		defer e.agent.start(t)
		code, rep := d.doctor(t)
		if code != 1 || !rep.Failing("agent", "reachable", "no answer on "+e.agent.sock) {
			t.Fatalf("exit %d, want 1 naming the unreachable agent:\n%s", code, rep)
		}
	})

	t.Run("healthy again", func(t *testing.T) {
		waitEndpointReady(t, e.agent.api, web)
		if code, rep := d.doctor(t); code != 0 {
			t.Fatalf("exit %d after the faults were undone:\n%s", code, rep)
		}
	})
}

// startAgentWith starts the agent with extra flags after its usual ones (the last one wins), and
// waits for it as agent.start does.
func startAgentWith(t *testing.T, a *agent, extra ...string) {
	t.Helper()
	env := []string{"PATH=/usr/lib/llvm-19/bin:" + os.Getenv("PATH")}
	argv := append(append([]string{a.tl.bin("cilium-agent")}, a.args()...), extra...)
	a.p = startProc(t, "cilium-agent", a.logPath, env, a.n.exec(argv...)...)
	if err := peer.WaitAgentReady(a.p.Proc, a.api, 3*time.Minute, 100*time.Millisecond, nil); err != nil {
		t.Fatalf("agent with %v did not become ready: %v\n%s", extra, err, peer.LogTail(a.logPath, 60))
	}
}
