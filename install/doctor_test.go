package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium/cilium/api/v1/models"

	"github.com/cilium-chain/cilium-chain/chain/fakeagent"
)

// doctorNode is a node in temp dirs: Flannel's conflist, ours chaining it, the binaries, libcni's
// cache with one pod, the plugin's record of it, a fake agent that knows its endpoint, and the
// installer's real readiness handler.
type doctorNode struct {
	t                                          *testing.T
	confDir, binDir, cacheDir, stateDir, queue string
	shipped                                    string
	agent                                      *fakeagent.Agent
	ready                                      *readiness
	readyAddr                                  string
}

const (
	flannelConflist = `{"cniVersion":"1.0.0","name":"cbr0","plugins":[{"type":"flannel","delegate":{"isDefaultGateway":true}},{"type":"portmap","capabilities":{"portMappings":true}}]}`
	chainedConflist = `{"cniVersion":"1.0.0","name":"cbr0","plugins":[{"type":"flannel","delegate":{"isDefaultGateway":true}},{"type":"portmap","capabilities":{"portMappings":true}},{"type":"cilium-chain"}]}`
	podCID          = "0123456789abcdef0123"
)

// versionScript answers CNI VERSION as a plugin does (CRI-O's validation asks every binary).
const versionScript = `#!/bin/sh
[ "$CNI_COMMAND" = VERSION ] && echo '{"cniVersion":"1.0.0","supportedVersions":["0.3.1","0.4.0","1.0.0","1.1.0"]}'
`

// fakePluginScript also answers like the plugin does without CNI_COMMAND: its about line on stderr.
func fakePluginScript(version string) string {
	return versionScript + fmt.Sprintf("[ -z \"$CNI_COMMAND\" ] && echo 'cilium-chain %s: chained CNI plugin for Cilium generic-veth' >&2\nexit 0\n", version)
}

func newDoctorNode(t *testing.T) *doctorNode {
	t.Helper()
	agent, sockDir := fakeagent.StartTemp(t)
	root := t.TempDir()
	n := &doctorNode{
		t: t, agent: agent,
		confDir: filepath.Join(root, "net.d"), binDir: filepath.Join(root, "bin"),
		cacheDir: filepath.Join(root, "cni-cache"), stateDir: filepath.Join(root, "state"),
		queue: filepath.Join(sockDir, "deleteQueue"), shipped: filepath.Join(root, "image", "cilium-chain"),
	}
	n.write(filepath.Join(n.confDir, "10-flannel.conflist"), flannelConflist, 0o644)
	n.write(filepath.Join(n.confDir, "05-cilium.conflist"), chainedConflist, 0o644)
	for _, b := range []string{"flannel", "bridge", "host-local", "portmap"} {
		n.write(filepath.Join(n.binDir, b), versionScript, 0o755)
	}
	n.write(filepath.Join(n.binDir, "cilium-chain"), fakePluginScript("v1.2.3"), 0o755)
	n.write(n.shipped, fakePluginScript("v1.2.3"), 0o755)
	n.addPod(podCID, "web", true)
	agent.AddForeign(endpointFor(podCID, []string{"k8s:app=web"}))

	log, _ := newLogger("error", "text", &bytes.Buffer{})
	n.ready = newReadiness("", log)
	n.markReady()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.readyAddr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	go n.ready.serve(ctx, ln)
	t.Cleanup(cancel)
	return n
}

func (n *doctorNode) markReady() {
	conf := filepath.Join(n.confDir, "05-cilium.conflist")
	data, _ := os.ReadFile(conf)
	bin := filepath.Join(n.binDir, "cilium-chain")
	fi, err := os.Stat(bin)
	if err != nil {
		n.t.Fatal(err)
	}
	n.ready.setReady(conf, data, bin, stampOf(fi))
}

func (n *doctorNode) write(path, content string, mode os.FileMode) {
	n.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		n.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		n.t.Fatal(err)
	}
}

// addPod writes libcni's cache entry for a pod (as libcni does after ADD) and, when recorded, the
// plugin's own record of it.
func (n *doctorNode) addPod(cid, name string, cached bool) {
	if cached {
		entry := map[string]any{
			"kind": "cniCacheV1", "containerId": cid, "ifName": "eth0", "networkName": "cbr0",
			"config": []byte(chainedConflist), "cniArgs": [][2]string{{"K8S_POD_NAMESPACE", "default"}, {"K8S_POD_NAME", name}},
			"result": map[string]any{"cniVersion": "1.0.0"},
		}
		data, _ := json.Marshal(entry)
		n.write(filepath.Join(n.cacheDir, "results", "cbr0-"+cid+"-eth0"), string(data), 0o600)
	}
	rec := fmt.Sprintf(`{"containerID":%q,"ifname":"eth0","state":"added","updated":%q}`, cid, time.Now().Format(time.RFC3339Nano))
	n.write(filepath.Join(n.stateDir, "cbr0", cid+":eth0"), rec, 0o600)
}

func endpointFor(cid string, labels []string) *models.EndpointChangeRequest {
	return &models.EndpointChangeRequest{ContainerID: cid, ContainerInterfaceName: "eth0", Labels: labels,
		K8sNamespace: "default", Addressing: &models.AddressPair{IPv4: "10.244.0.5"}}
}

func (n *doctorNode) args(extra ...string) []string {
	return append([]string{
		"--conf-dir=" + n.confDir, "--bin-dir=" + n.binDir, "--binary-source=" + n.shipped,
		"--cni-cache-dir=" + n.cacheDir, "--state-dir=" + n.stateDir, "--delete-queue-dir=" + n.queue,
		"--agent-socket=" + n.agent.Socket(), "--ready-addr=" + n.readyAddr, "--timeout=1s", "--output=json",
	}, extra...)
}

// run is the doctor as the command line runs it; it returns the exit code and the JSON report.
func (n *doctorNode) run(extra ...string) (int, jsonReport, string) {
	n.t.Helper()
	var stdout, stderr bytes.Buffer
	code := runMain(append([]string{"doctor"}, n.args(extra...)...), func(string) (string, bool) { return "", false }, &stdout, &stderr)
	var rep jsonReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		n.t.Fatalf("doctor output is not JSON (%v): %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	var details strings.Builder
	for _, f := range rep.Findings {
		fmt.Fprintf(&details, "%s | %s | %s | %s\n", f.Area, f.Check, f.Status, f.Detail)
	}
	return code, rep, details.String()
}

func findingsWith(rep jsonReport, status string) []finding {
	var out []finding
	for _, f := range rep.Findings {
		if f.Status == status {
			out = append(out, f)
		}
	}
	return out
}

func TestDoctorHealthyNode(t *testing.T) {
	n := newDoctorNode(t)
	code, rep, out := n.run()
	if code != 0 || !rep.OK || len(findingsWith(rep, statusFail)) > 0 {
		t.Fatalf("healthy node: exit %d, report:\n%s", code, out)
	}
	for _, want := range []string{"containerd loads", "05-cilium.conflist chains flannel -> portmap -> cilium-chain", `"cbr0", the same as the primary`,
		"v1.2.3, the installer's own build", "flannel, bridge, host-local, portmap", "generic-veth", "native", "masquerade", "pod default/web", "ready ("} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// TestDoctorFaults breaks the healthy node one way at a time: each fault is named (area, check and
// a word of the detail) and makes the exit code 1.
func TestDoctorFaults(t *testing.T) {
	for _, tc := range []struct {
		name              string
		breakIt           func(n *doctorNode)
		args              []string
		area, check, word string
	}{
		{"agent down", func(n *doctorNode) { n.agent.Down() }, nil, areaAgent, "reachable", "no answer"},
		{"agent unhealthy", func(n *doctorNode) { n.agent.SetHealth(models.StatusStateFailure) }, nil, areaAgent, "healthy", "Failure"},
		{"conflist shadowed by an earlier file", func(n *doctorNode) {
			n.write(filepath.Join(n.confDir, "00-other.conflist"), `{"cniVersion":"1.0.0","name":"other","plugins":[{"type":"bridge"}]}`, 0o644)
		}, nil, areaConflist, "chains cilium-chain", "shadows ours"},
		{"invalid first file stops containerd", func(n *doctorNode) {
			n.write(filepath.Join(n.confDir, "01-broken.conflist"), `{"name":`, 0o644)
		}, nil, areaConflist, "runtime loads", "cannot load"},
		{"our conflist gone", func(n *doctorNode) { os.Remove(filepath.Join(n.confDir, "05-cilium.conflist")) }, nil, areaConflist, "chains cilium-chain", "no cilium-chain entry"},
		{"network renamed", func(n *doctorNode) {
			n.write(filepath.Join(n.confDir, "05-cilium.conflist"), strings.Replace(chainedConflist, `"cbr0"`, `"chained"`, 1), 0o644)
		}, nil, areaConflist, "network name", "host-local can hand out an IP twice"},
		{"plugin binary missing", func(n *doctorNode) { os.Remove(filepath.Join(n.binDir, "cilium-chain")) }, nil, areaPlugin, "binary", "missing"},
		{"plugin binary not executable", func(n *doctorNode) { os.Chmod(filepath.Join(n.binDir, "cilium-chain"), 0o644) }, nil, areaPlugin, "binary", "not executable"},
		{"plugin version differs from the installer's", func(n *doctorNode) {
			n.write(filepath.Join(n.binDir, "cilium-chain"), fakePluginScript("v1.0.0"), 0o755)
		}, nil, areaPlugin, "version", "installer ships v1.2.3"},
		{"primary binary missing", func(n *doctorNode) { os.Remove(filepath.Join(n.binDir, "host-local")) }, nil, areaPrimary, "binaries", "host-local"},
		{"tunnel mode", func(n *doctorNode) { n.agent.SetDaemon(fakeagent.Daemon{RoutingMode: "tunnel"}) }, nil, areaAgent, "routing mode", "tunnel"},
		{"no chaining", func(n *doctorNode) { n.agent.SetDaemon(fakeagent.Daemon{ChainingMode: "none"}) }, nil, areaAgent, "chaining mode", `"none"`},
		{"masquerade", func(n *doctorNode) { n.agent.SetDaemon(fakeagent.Daemon{IPv4Masquerade: true}) }, nil, areaAgent, "masquerade", "IPv4 true"},
		{"pod without endpoint", func(n *doctorNode) { n.addPod("fedcba98765432100000", "orphanpod", true) }, nil, areaAttachment, "pod default/orphanpod", "no Cilium endpoint"},
		{"pod at reserved:init", func(n *doctorNode) {
			n.addPod("aaaabbbbccccdddd0000", "nolabels", true)
			n.agent.AddForeign(endpointFor("aaaabbbbccccdddd0000", nil))
		}, nil, areaAttachment, "pod default/nolabels", "reserved:init"},
		{"pod endpoint not ready", func(n *doctorNode) {
			n.addPod("aaaabbbbccccdddd1111", "starting", true)
			ep := n.agent.AddForeign(endpointFor("aaaabbbbccccdddd1111", []string{"k8s:app=x"}))
			state := models.EndpointStateWaitingDashForDashIdentity
			ep.Status.State = &state
		}, nil, areaAttachment, "pod default/starting", "state waiting-for-identity"},
		{"host veth without programs", func(n *doctorNode) {
			n.addPod("aaaabbbbccccdddd2222", "noprogs", true)
			req := endpointFor("aaaabbbbccccdddd2222", []string{"k8s:app=x"})
			req.InterfaceName = "lo" // a link with no BPF program on it, in every netns
			n.agent.AddForeign(req)
		}, nil, areaAttachment, "pod default/noprogs", "lo lacks programs"},
		{"orphan endpoint", func(n *doctorNode) {
			n.addPod("99998888777766665555", "gone", false)
			n.agent.AddForeign(endpointFor("99998888777766665555", []string{"k8s:app=gone"}))
		}, nil, areaAttachment, "orphan endpoint", "no such attachment"},
		{"queued deletion of a live endpoint", func(n *doctorNode) {
			n.write(filepath.Join(n.queue, "x.delete"), "cni-attachment-id:"+podCID+":eth0", 0o644)
		}, nil, areaQueue, "queued deletions", "still exist"},
		{"installer not ready", func(n *doctorNode) { n.ready.setNotReady("waiting for the Cilium agent") }, nil, areaInstaller, "readiness", "waiting for the Cilium agent"},
		{"CRI-O finds nothing valid", func(n *doctorNode) { os.Remove(filepath.Join(n.binDir, "portmap")) }, []string{"--runtime=crio"}, areaConflist, "runtime loads", "no valid config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newDoctorNode(t)
			tc.breakIt(n)
			code, rep, out := n.run(tc.args...)
			if code != 1 || rep.OK {
				t.Fatalf("exit %d ok=%t, want 1 and not ok:\n%s", code, rep.OK, out)
			}
			for _, f := range findingsWith(rep, statusFail) {
				if f.Area == tc.area && f.Check == tc.check && strings.Contains(f.Detail, tc.word) {
					return
				}
			}
			t.Fatalf("no failing %s/%s finding mentioning %q:\n%s", tc.area, tc.check, tc.word, out)
		})
	}
}

// TestDoctorCRIOSkipsWhatContainerdStopsOn: the same conf dir judged by both runtimes' rules.
func TestDoctorCRIOSkipsWhatContainerdStopsOn(t *testing.T) {
	n := newDoctorNode(t)
	n.write(filepath.Join(n.confDir, "00-needs-missing.conflist"), `{"cniVersion":"1.0.0","name":"x","plugins":[{"type":"not-installed"}]}`, 0o644)
	if code, _, out := n.run(); code != 1 || !strings.Contains(out, "shadows ours") {
		t.Fatalf("containerd rules: exit %d, want the file with a missing binary to shadow ours:\n%s", code, out)
	}
	code, rep, out := n.run("--runtime=crio")
	if code != 0 || !strings.Contains(out, "CRI-O skips") || !strings.Contains(out, "CRI-O loads "+filepath.Join(n.confDir, "05-cilium.conflist")) {
		t.Fatalf("CRI-O rules: exit %d, want 00-needs-missing skipped and ours loaded:\n%s", code, out)
	}
	if len(findingsWith(rep, statusWarn)) == 0 {
		t.Fatalf("the skipped file is not reported:\n%s", out)
	}
}

func TestDoctorRouteMTUMismatchWarns(t *testing.T) {
	n := newDoctorNode(t)
	n.agent.SetDaemon(fakeagent.Daemon{RouteMTUForChaining: true})
	code, _, out := n.run()
	if code != 0 || !strings.Contains(out, "does not set enable-route-mtu") {
		t.Fatalf("exit %d, want a warning about enable-route-mtu only:\n%s", code, out)
	}
	n.write(filepath.Join(n.confDir, "05-cilium.conflist"), strings.Replace(chainedConflist, `{"type":"cilium-chain"}`, `{"type":"cilium-chain","enable-route-mtu":true}`, 1), 0o644)
	n.markReady()
	if code, _, out := n.run(); code != 0 || !strings.Contains(out, "on in the agent and the plugin") {
		t.Fatalf("exit %d, want route MTU ok:\n%s", code, out)
	}
}

func TestDoctorTableOutput(t *testing.T) {
	n := newDoctorNode(t)
	n.agent.SetDaemon(fakeagent.Daemon{RoutingMode: "tunnel"})
	var stdout bytes.Buffer
	args := n.args()
	code := runMain(append([]string{"doctor"}, args[:len(args)-1]...), func(string) (string, bool) { return "", false }, &stdout, &bytes.Buffer{})
	out := stdout.String()
	if code != 1 || !strings.HasPrefix(out, "AREA") || !strings.Contains(out, "-> Cilium Helm values: --set routingMode=native") || !strings.Contains(out, "1 problem(s) found.") {
		t.Fatalf("exit %d, table:\n%s", code, out)
	}
}

func TestDoctorBadOptions(t *testing.T) {
	for _, args := range [][]string{{"--output=yaml"}, {"--runtime=docker"}, {"--timeout=0s"}, {"--conf-name=x.conf"}, {"stray"}} {
		var stderr bytes.Buffer
		if code := runMain(append([]string{"doctor"}, args...), func(string) (string, bool) { return "", false }, &bytes.Buffer{}, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
}
