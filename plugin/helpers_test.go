package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/cilium-chain/cilium-chain/chain/fakeagent"
)

var cniVersions = []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}

// pluginBin is the cilium-chain binary under test: $CILIUM_CHAIN_BIN (make test sets it), else built.
var pluginBin string

func TestMain(m *testing.M) {
	pluginBin = os.Getenv("CILIUM_CHAIN_BIN")
	if pluginBin == "" {
		dir, err := os.MkdirTemp("", "cc-bin-")
		if err != nil {
			panic(err)
		}
		pluginBin = filepath.Join(dir, "cilium-chain")
		if out, err := exec.Command("go", "build", "-o", pluginBin, ".").CombinedOutput(); err != nil {
			panic("building the plugin: " + err.Error() + "\n" + string(out))
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

type env struct {
	t     *testing.T
	dir   string
	agent *fakeagent.Agent
}

func newEnv(t *testing.T) *env {
	t.Helper()
	agent, dir := fakeagent.StartTemp(t)
	return &env{t: t, dir: dir, agent: agent}
}

// entry is our conflist entry pointing at the env.
func (e *env) entry(extra map[string]any) map[string]any {
	m := map[string]any{
		"type":             "cilium-chain",
		"socket-path":      e.agent.Socket(),
		"delete-queue-dir": filepath.Join(e.dir, "deleteQueue"),
		"state-dir":        filepath.Join(e.dir, "state"),
		"log-file":         filepath.Join(e.dir, "cilium-chain.log"),
		"log-level":        "debug",
		"add-timeout":      "2s",
		// Long enough for a few 429/503 from a live agent: past it, DEL fails for the runtime to retry.
		"del-timeout": "2s",
		"label-args":  []string{"app"},
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

// stdin is a single-plugin config for cniVersion, as libcni hands it to the plugin.
func (e *env) stdin(cniVersion string, extra map[string]any) []byte {
	m := e.entry(extra)
	m["cniVersion"], m["name"] = cniVersion, "testnet"
	b, err := json.Marshal(m)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

type outcome struct {
	stdout, stderr string
	exit           int
	cniErr         *types.Error
}

// run runs the plugin binary like a runtime does, in the test's netns.
func run(t *testing.T, command string, stdin []byte, envVars map[string]string) outcome {
	t.Helper()
	return runIn(t, nil, command, stdin, envVars)
}

// runIn runs the plugin binary inside netns (nil: the test's own), as a runtime running in a node does.
func runIn(t *testing.T, netns ns.NetNS, command string, stdin []byte, envVars map[string]string) outcome {
	t.Helper()
	cmd := exec.Command(pluginBin)
	cmd.Env = []string{"CNI_COMMAND=" + command, "CNI_PATH=/nonexistent", "PATH=/usr/bin:/bin"}
	defaults := map[string]string{"CNI_CONTAINERID": "cid1", "CNI_IFNAME": "eth0", "CNI_NETNS": "/var/run/netns/nope"}
	for k, v := range defaults {
		if _, ok := envVars[k]; !ok {
			envVars[k] = v
		}
	}
	for k, v := range envVars {
		if v != "<unset>" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	var err error
	if netns == nil {
		err = cmd.Run()
	} else {
		err = netns.Do(func(ns.NetNS) error { return cmd.Run() }) // the child inherits the thread's netns
	}
	o := outcome{stdout: out.String(), stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		o.exit = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if o.exit != 0 {
		o.cniErr = &types.Error{}
		if jerr := json.Unmarshal(out.Bytes(), o.cniErr); jerr != nil {
			t.Fatalf("failure without CNI error JSON on stdout: %q (stderr %q)", o.stdout, o.stderr)
		}
	}
	return o
}

func (o outcome) wantCode(t *testing.T, code uint, msgPart string) {
	t.Helper()
	if code == 0 {
		if o.exit != 0 {
			t.Fatalf("failed: %+v (stderr %q)", o.cniErr, o.stderr)
		}
		return
	}
	if o.cniErr == nil || o.cniErr.Code != code {
		t.Fatalf("want CNI error code %d, got exit %d stdout %q", code, o.exit, o.stdout)
	}
	if msgPart != "" && !strings.Contains(o.cniErr.Msg+" "+o.cniErr.Details, msgPart) {
		t.Fatalf("error %+v does not mention %q", o.cniErr, msgPart)
	}
}
