//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// env is one node: netns, etcd, the agent (not yet started), conflists and a cnitool runner. All of
// it is torn down in t's cleanup, in reverse order of creation, whether the test passed or not.
type env struct {
	tl    tools
	dir   string
	node  *node
	agent *agent
	conf  confSet
	confs variants
	cni   *cniRunner
}

func newEnv(t *testing.T) *env {
	t.Helper()
	requireRoot(t)
	tl := findTools(t)
	// The one-agent-per-machine lock of every real-agent run (bench, e2e-cluster too), held until the
	// very end of the teardown (registered first, runs last); leftovers are cleaned only under it.
	release, err := peer.LockAgent(context.Background(), 15*time.Minute, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	cleanStale(t)
	dir := runDir(t)
	t.Cleanup(func() {
		if *flagKeep {
			t.Logf("run directory kept: %s", dir)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("teardown: %v", err)
		}
		_ = os.Remove(pidDir) // only when empty
	})
	if !peer.FileExists("/var/lib/cni") { // cnitool creates it for its cache; leave no empty dirs behind
		t.Cleanup(func() { _ = os.Remove(libcniCacheDir); _ = os.Remove("/var/lib/cni") })
	}
	n := newNode(t)
	startEtcd(t, n, dir)
	ag := newAgent(t, tl, n, dir)
	conf, confs := writeVariants(t, dir, ag.sock)
	e := &env{tl: tl, dir: dir, node: n, agent: ag, conf: conf, confs: confs, cni: &cniRunner{tl: tl, n: n}}
	t.Cleanup(func() { // registered last, runs first: logs are still there
		if t.Failed() {
			e.dumpLogs(t)
		}
	})
	return e
}

// dumpLogs prints the tails of every log of the run, for a failed test.
func (e *env) dumpLogs(t *testing.T) {
	t.Helper()
	for _, l := range []struct {
		name, path string
		lines      int
	}{
		{"cilium-agent", e.agent.logPath, 120},
		{"cilium-chain", e.conf.pluginLog(), 80},
		{"etcd", e.dir + "/etcd.log", 20},
	} {
		t.Logf("--- %s log (last %d lines of %s) ---\n%s", l.name, l.lines, l.path, peer.LogTail(l.path, l.lines))
	}
}

func (e *env) String() string { return fmt.Sprintf("node %s, run dir %s", e.node.ns, e.dir) }
