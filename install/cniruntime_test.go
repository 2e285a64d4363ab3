package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// supportsOnly is a plugin binary that answers VERSION with just these versions.
func supportsOnly(versions string) string {
	return "#!/bin/sh\n[ \"$CNI_COMMAND\" = VERSION ] && echo '{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[" + versions + "]}'\n"
}

// TestRuntimeModelInstallerAndDoctorAgree: the cases where the installer's and the doctor's models of
// the runtime used to disagree, each judged by both on the same node (Flannel's conflist, cniVersion
// 0.3.1, network cbr0). The runtimes' sources decide: containerd v2.2.1's go-cni (opts.go
// loadFromConfDir, cni.go Load) and CRI-O's ocicni (pkg/ocicni/ocicni.go loadNetworks).
func TestRuntimeModelInstallerAndDoctorAgree(t *testing.T) {
	tests := []struct {
		name     string
		runtime  string
		files    map[string]string
		binaries map[string]string // besides flannel and portmap, which answer VERSION for every version
		// the installer after one round
		wantReason  string // "" = ready
		wantNetwork string // the network our conflist chains, when written
		// the doctor's finding in the conflist area
		doctorStatus, doctorCheck, doctorWord string
	}{
		{name: "containerd: an invalid first file leaves the node no config (go-cni's Load resets its networks first)", runtime: runtimeContainerd,
			files:      map[string]string{"01-broken.conf": `{"type":`},
			wantReason: "fails the node's CNI on", wantNetwork: "cbr0",
			doctorStatus: statusFail, doctorCheck: "runtime loads", doctorWord: "drops the config it had"},
		{name: "crio: a file whose plugin does not speak its cniVersion is skipped (ValidateNetworkList)", runtime: runtimeCRIO,
			files:        map[string]string{"01-old.conflist": `{"cniVersion":"1.0.0","name":"old","plugins":[{"type":"old-plugin"}]}`},
			binaries:     map[string]string{"old-plugin": supportsOnly(`"0.3.1"`)},
			wantNetwork:  "cbr0",
			doctorStatus: statusWarn, doctorCheck: "skipped file", doctorWord: `does not support config version "1.0.0"`},
		{name: "crio: ours is skipped when a plugin of ours does not speak its cniVersion", runtime: runtimeCRIO,
			binaries:   map[string]string{"portmap": supportsOnly(`"1.0.0"`)},
			wantReason: `CRI-O skips our conflist: [plugin portmap does not support config version "0.3.1"]`, wantNetwork: "cbr0",
			doctorStatus: statusFail, doctorCheck: "runtime loads", doctorWord: "no valid config"},
		{name: "crio: the primary is the first file CRI-O runs, not the first that parses", runtime: runtimeCRIO,
			files:        map[string]string{"07-a.conflist": `{"cniVersion":"0.3.1","name":"a","plugins":[{"type":"not-installed"}]}`},
			wantNetwork:  "cbr0",
			doctorStatus: statusOK, doctorCheck: "network name", doctorWord: `"cbr0", the same as the primary 10-flannel.conflist`},
		{name: "containerd: the primary is the first file that parses, binaries or not", runtime: runtimeContainerd,
			files:        map[string]string{"07-a.conflist": `{"cniVersion":"0.3.1","name":"a","plugins":[{"type":"not-installed"}]}`},
			wantNetwork:  "a",
			doctorStatus: statusOK, doctorCheck: "network name", doctorWord: `"a", the same as the primary 07-a.conflist`},
		{name: "crio: a binary that cannot start in this container (the host's interpreter) is not held against it", runtime: runtimeCRIO,
			binaries:     map[string]string{"portmap": "#!/nonexistent/sh\n"},
			wantNetwork:  "cbr0",
			doctorStatus: statusOK, doctorCheck: "runtime loads", doctorWord: "CRI-O loads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bins := map[string]string{"flannel": versionScript, "portmap": versionScript}
			maps.Copy(bins, tt.binaries)
			n := flannelNodeWith(t, tt.files, bins)

			in, err := newInstaller(mustConfig(t, n.args("--container-runtime="+tt.runtime)), quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			wantErrContaining(t, roundOnce(t, in), tt.wantReason)
			ours, _ := os.ReadFile(n.ours())
			if got := networkName(ours); got != tt.wantNetwork {
				t.Errorf("our conflist chains network %q, want %q", got, tt.wantNetwork)
			}

			rep := runDoctorOn(t, n, nil, "--container-runtime="+tt.runtime)
			for _, f := range rep.Findings {
				if f.Area == areaConflist && f.Status == tt.doctorStatus && f.Check == tt.doctorCheck && strings.Contains(f.Detail, tt.doctorWord) {
					return
				}
			}
			t.Fatalf("doctor: no %s %s/%s finding mentioning %q:\n%+v", tt.doctorStatus, areaConflist, tt.doctorCheck, tt.doctorWord, rep.Findings)
		})
	}
}

// flannelNodeWith is a test node with Flannel's conflist, other files and plugin binaries (name →
// script); the plugin in the image answers VERSION, as CRI-O asks every binary.
func flannelNodeWith(t *testing.T, files, binaries map[string]string) testNode {
	t.Helper()
	n := newTestNode(t)
	writeFile(t, filepath.Join(n.confDir, "10-flannel.conflist"), flannelPrimary, 0o644)
	for name, content := range files {
		writeFile(t, filepath.Join(n.confDir, name), content, 0o644)
	}
	writeFile(t, n.source, versionScript, 0o755)
	for name, content := range binaries {
		writeFile(t, filepath.Join(n.binDir, name), content, 0o755)
	}
	return n
}

// TestDoctorRuntimeSpellings: the doctor takes the runtime from the installer's --container-runtime
// and its variable (which the DaemonSet's ConfigMap sets), and still from its old --runtime.
func TestDoctorRuntimeSpellings(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{name: "flag", args: []string{"--container-runtime=crio"}},
		{name: "the DaemonSet's variable", env: map[string]string{"CILIUM_CHAIN_CONTAINER_RUNTIME": "crio"}},
		{name: "deprecated --runtime", args: []string{"--runtime=crio"}},
		{name: "deprecated --runtime beats the variable", env: map[string]string{"CILIUM_CHAIN_CONTAINER_RUNTIME": "containerd"}, args: []string{"--runtime=crio"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := flannelNodeWith(t, nil, nil)
			rep := runDoctorOn(t, n, tc.env, tc.args...)
			for _, f := range rep.Findings {
				if f.Check == "runtime loads" {
					if !strings.Contains(f.Detail, "CRI-O") {
						t.Fatalf("judged by containerd's rules: %s", f.Detail)
					}
					return
				}
			}
			t.Fatalf("no runtime loads finding: %+v", rep.Findings)
		})
	}
}

// runDoctorOn runs the doctor on a test node (no agent, no installer endpoint) and returns its report.
func runDoctorOn(t *testing.T, n testNode, env map[string]string, extra ...string) jsonReport {
	t.Helper()
	args := append([]string{"doctor", "--conf-dir=" + n.confDir, "--bin-dir=" + n.binDir, "--binary-source=" + n.source,
		"--cni-cache-dir=" + filepath.Join(n.root, "var/lib/cni"), "--state-dir=" + filepath.Join(n.root, "var/run/cilium-chain"),
		"--agent-socket=" + filepath.Join(n.root, "no-agent.sock"), "--ready-addr=", "--timeout=200ms", "--output=json"}, extra...)
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var stdout, stderr bytes.Buffer
	runMain(args, lookup, &stdout, &stderr)
	var rep jsonReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("doctor output is not JSON (%v): %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	return rep
}

// TestRuntimeChoose: how far each runtime reads the conf dir, and what it ends on.
func TestRuntimeChoose(t *testing.T) {
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "bridge"), versionScript, 0o755)
	broken := orderedConfig{path: "/d/01-broken.conf", invalid: errors.New("unexpected end of JSON input")}
	missing := orderedConfig{path: "/d/02-missing.conf", conf: confFile{lift: true, data: []byte(`{"cniVersion":"1.0.0","name":"m","type":"not-installed"}`)}}
	good := orderedConfig{path: "/d/03-good.conf", conf: confFile{lift: true, data: []byte(`{"cniVersion":"1.0.0","name":"g","type":"bridge"}`)}}
	for _, tt := range []struct {
		runtime  string
		files    []orderedConfig
		wantSeen int
		want     string // "runs", "fatal" or "none"
	}{
		{runtimeContainerd, []orderedConfig{broken, missing, good}, 1, "fatal"},
		{runtimeContainerd, []orderedConfig{missing, good}, 1, "runs"},
		{runtimeCRIO, []orderedConfig{broken, missing, good}, 3, "runs"},
		{runtimeCRIO, []orderedConfig{broken, missing}, 2, "none"},
	} {
		seen := cniRuntime{name: tt.runtime, binDir: bin}.choose(tt.files)
		last := seen[len(seen)-1]
		got := map[bool]string{true: "runs", false: "none"}[last.refused == nil]
		if last.fatal {
			got = "fatal"
		}
		if len(seen) != tt.wantSeen || got != tt.want {
			t.Errorf("%s on %d files: read %d, %s (%v); want %d, %s", tt.runtime, len(tt.files), len(seen), got, last.refused, tt.wantSeen, tt.want)
		}
	}
}
