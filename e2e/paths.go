//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// tools are the binaries and sources the harness runs; peers.sh puts them in PEER_DIR.
type tools struct {
	repo      string // the cilium-chain clone
	peerBin   string // cnitool, flannel, bridge, host-local, cilium-agent, cilium-cni
	bpfSrc    string // cilium's bpf/ sources, compiled by the agent at runtime
	pluginBin string // the plugin under test
}

func findTools(t *testing.T) tools {
	t.Helper()
	repo, err := filepath.Abs("..") // go test runs in the package directory
	if err != nil {
		t.Fatalf("locate repo: %v", err)
	}
	peer := os.Getenv("PEER_DIR")
	if peer == "" {
		home, _ := os.UserHomeDir()
		peer = filepath.Join(home, ".cache", "cilium-chain")
	}
	tl := tools{
		repo:      repo,
		peerBin:   filepath.Join(peer, "bin"),
		bpfSrc:    filepath.Join(peer, "cilium-bpf"),
		pluginBin: filepath.Join(repo, "bin", "cilium-chain"),
	}
	for _, p := range []string{tl.bin("cnitool"), tl.bin("flannel"), tl.bin("bridge"), tl.bin("host-local"), tl.bin("cilium-agent"), tl.bpfSrc + "/bpf_lxc.c"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("missing peer %s (run `bash e2e/peers.sh all`): %v", p, err)
		}
	}
	return tl
}

// requirePlugin fails when the plugin under test has not been built.
func (tl tools) requirePlugin(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(tl.pluginBin); err != nil {
		t.Fatalf("missing plugin %s (run `make build`): %v", tl.pluginBin, err)
	}
}

func (tl tools) bin(name string) string { return filepath.Join(tl.peerBin, name) }

// cniPath is CNI_PATH for cnitool: the reference plugins and Flannel, then the plugin under test.
func (tl tools) cniPath() string { return tl.peerBin + ":" + filepath.Join(tl.repo, "bin") }

// agentBuildSeconds reads what peers.sh recorded for the last agent build, if anything.
func (tl tools) agentBuildSeconds() string {
	b, err := os.ReadFile(filepath.Join(tl.peerBin, ".cilium-agent.buildtime"))
	if err != nil {
		return "unknown (built before build times were recorded)"
	}
	return strings.TrimSpace(string(b)) + " s"
}

// runID names everything this process creates, so a later run can tell stale leftovers apart.
func runID() string { return strconv.Itoa(os.Getpid()) }

// runDir is where configs, state and logs of one run live.
func runDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "cchain-e2e-"+runID())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("run dir: %v", err)
	}
	return dir
}
