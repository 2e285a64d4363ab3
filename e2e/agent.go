//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// agentRunDir is fixed by the agent whatever --state-dir says (pid file, deleteQueue/): one agent per
// machine at a time.
const agentRunDir = "/var/run/cilium"

// agent is the real cilium-agent running inside the node netns, restartable within one test.
type agent struct {
	tl       tools
	n        *node
	dir      string
	sock     string
	cnpDir   string
	logPath  string
	api      *peer.AgentAPI
	p        *proc
	apiUps   []time.Duration // start → API answering, per start
	startups []time.Duration // start → state Ok and host endpoint ready, per start
	hubble   string          // Hubble's observer socket if on (the demo, see hubble.go); empty: off
	extra    []string        // flags added for the next start (e.g. the route-MTU step's)
}

// newAgent prepares the agent's directories and private bpffs; start runs it.
func newAgent(t *testing.T, tl tools, n *node, dir string) *agent {
	t.Helper()
	killStale(t, "cilium-agent")
	guardAgentRunDir(t)
	a := &agent{
		tl: tl, n: n, dir: dir,
		sock:    filepath.Join(dir, "cilium.sock"),
		cnpDir:  filepath.Join(dir, "policies"),
		logPath: filepath.Join(dir, "agent.log"),
	}
	a.api = peer.NewAgentAPI(a.sock)
	for _, d := range []string{a.cnpDir, a.path("state"), a.path("lib"), a.path("bpffs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("agent dir: %v", err)
		}
	}
	// The agent compiles its datapath from <lib-dir>/bpf at runtime.
	if err := os.Symlink(tl.bpfSrc, a.path("lib", "bpf")); err != nil {
		t.Fatalf("bpf symlink: %v", err)
	}
	mustRun(t, "mount", "-t", "bpf", "bpf", a.path("bpffs"))
	t.Cleanup(func() { bestEffort(t, "umount", "-l", a.path("bpffs")) })
	peer.WriteFile(t, a.path("etcd.yaml"), peer.EtcdConfig)
	restoreSysctls(t, peer.SaveSysctls(peer.AgentSysctls)) // its cleanup runs after the agent stopped
	t.Cleanup(func() { a.stop(t) })
	return a
}

func (a *agent) path(elem ...string) string {
	return filepath.Join(append([]string{a.dir}, elem...)...)
}

// args are the shared flags (peer.AgentArgs, Hubble on if the demo asks) plus the policy directory
// the tests drop CNPs into.
func (a *agent) args() []string {
	return append(append(withHubble(peer.AgentArgs(a.dir, a.sock), a.hubble), "--static-cnp-path="+a.cnpDir), a.extra...)
}

// start runs the agent and waits until it is fully up: API answering with state Ok, and the host
// endpoint ready (its datapath compiled and loaded; an agent stopped before that hangs on shutdown).
// It returns the time from start to that point.
func (a *agent) start(t *testing.T) time.Duration {
	t.Helper()
	if a.p != nil {
		t.Fatalf("agent already running")
	}
	began := time.Now()
	env := []string{"PATH=/usr/lib/llvm-19/bin:" + os.Getenv("PATH")} // the agent runs clang/llc
	a.p = startProc(t, "cilium-agent", a.logPath, env, a.n.exec(append([]string{a.tl.bin("cilium-agent")}, a.args()...)...)...)
	var apiUp time.Duration
	err := peer.WaitAgentReady(a.p.Proc, a.api, 3*time.Minute, 100*time.Millisecond, func() {
		if apiUp == 0 {
			apiUp = time.Since(began)
		}
	})
	if err != nil {
		t.Fatalf("agent did not become ready: %v\n--- agent log (tail) ---\n%s", err, peer.LogTail(a.logPath, 80))
	}
	took := time.Since(began)
	t.Logf("cilium-agent up: API answered after %s, host endpoint ready after %s", apiUp.Round(time.Millisecond), took.Round(time.Millisecond))
	a.apiUps, a.startups = append(a.apiUps, apiUp), append(a.startups, took)
	return took
}

// stop ends the agent (SIGTERM, then SIGKILL) and leaves its state for the next start.
func (a *agent) stop(t *testing.T) {
	t.Helper()
	if a.p == nil {
		return
	}
	if err := a.p.stop(30 * time.Second); err != nil {
		t.Errorf("stop agent: %v", err)
	}
	a.p = nil
}

// kill ends the agent with SIGKILL, as a crash or an OOM kill would, and leaves its state for the next
// start.
func (a *agent) kill(t *testing.T) {
	t.Helper()
	a.p.KillGroup()
	a.stop(t) // reaps it: a killed process ignores the SIGTERM and is gone well before the grace
}

// guardAgentRunDir refuses to run next to another agent, and removes /var/run/cilium at the end
// when this run created it (the marker also lets a later run clean up after a crashed one).
func guardAgentRunDir(t *testing.T) {
	t.Helper()
	marker := filepath.Join(pidDir, "var-run-cilium.created")
	if pid, err := os.ReadFile(filepath.Join(agentRunDir, "cilium.pid")); err == nil {
		p := strings.TrimSpace(string(pid))
		if peer.FileExists("/proc/" + p) {
			cmdline, _ := os.ReadFile("/proc/" + p + "/cmdline")
			if strings.Contains(string(cmdline), "cilium-agent") {
				t.Fatalf("another cilium-agent (pid %s) owns %s; the e2e agent needs it to itself", p, agentRunDir)
			}
		}
	}
	if owner, err := os.ReadFile(marker); err == nil {
		if p := strings.TrimSpace(string(owner)); p != runID() && alive(p) {
			t.Fatalf("%s belongs to the live e2e run %s", agentRunDir, p)
		}
		_ = os.RemoveAll(agentRunDir) // left by a crashed run of ours
		_ = os.Remove(marker)
	}
	if peer.FileExists(agentRunDir) {
		t.Logf("%s already exists; the entries this run adds are removed at the end", agentRunDir)
		before := dirEntries(agentRunDir)
		t.Cleanup(func() { removeNewEntries(t, agentRunDir, before) })
		return
	}
	if err := os.MkdirAll(pidDir, 0o755); err != nil {
		t.Fatalf("pid dir: %v", err)
	}
	peer.WriteFile(t, marker, runID())
	t.Cleanup(func() {
		if err := os.RemoveAll(agentRunDir); err != nil {
			t.Errorf("teardown: %v", err)
		}
		_ = os.Remove(marker)
	})
}

func dirEntries(dir string) map[string]bool {
	seen := map[string]bool{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		seen[e.Name()] = true
	}
	return seen
}

func removeNewEntries(t *testing.T, dir string, before map[string]bool) {
	t.Helper()
	for name := range dirEntries(dir) {
		if !before[name] {
			if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
				t.Errorf("teardown: %v", err)
			}
		}
	}
}

// restoreSysctls puts the machine-wide sysctls the agent changed back at cleanup. The one the kernel
// allows no way back from (kernel.unprivileged_bpf_disabled=1) is logged, not failed: the agent sets it
// on every machine it runs on, and a reboot clears it.
func restoreSysctls(t *testing.T, saved peer.Sysctls) {
	t.Cleanup(func() {
		restored, stuck, err := saved.Restore()
		for _, r := range restored {
			t.Logf("restored sysctl %s", r)
		}
		for _, s := range stuck {
			t.Logf("sysctl %s", s)
		}
		if err != nil {
			t.Errorf("teardown: %v", err)
		}
	})
}
