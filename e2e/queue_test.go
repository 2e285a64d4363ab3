//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// deleteQueueDir is where the plugin leaves deletions for an agent that is down; the agent drains it
// at start (fixed path, like the rest of /var/run/cilium).
const deleteQueueDir = agentRunDir + "/deleteQueue"

// stepQueue — assertion 5: with the agent stopped, the plugin's DEL of D succeeds quickly and queues
// the deletion. Only the plugin's DEL runs, so D's veth stays: at restore the agent would keep D's
// endpoint (as it keeps Q's, the control, which has no queue entry), so D is gone after the restart
// only because the agent drained our entry, and it must have read every entry without error. A and B
// are restored; then the pods are torn down through the chain.
func (s *suite) stepQueue(t *testing.T) {
	for _, p := range []*pod{s.d, s.q} {
		s.addTimed(t, s.confs.seed, p)
		waitEndpointReady(t, s.agent.api, p)
	}
	s.agent.stop(t)

	before := queued(t)
	took := s.pluginDel(t, s.d.containerID(), s.d.ns.path())
	s.tm.queuedDel = took
	if took > 5*time.Second {
		t.Errorf("DEL with the agent down took %s, want a quick return (< 5s)", took)
	}
	var mine []string
	for name, content := range queued(t) {
		if _, old := before[name]; !old && strings.Contains(content, s.d.containerID()) {
			mine = append(mine, name)
		}
	}
	if len(mine) != 1 {
		t.Fatalf("want one queued deletion naming %s in %s, got %v (queue: %v)", s.d.containerID(), deleteQueueDir, mine, queued(t))
	}
	t.Logf("DEL d with the agent down: success in %s, queued %s", took.Round(time.Millisecond), mine[0])

	// Issue 6: more DELs than upstream's 256-entry cap while the agent is down, all queued.
	burst := time.Now()
	for i := range queueBurst - 1 {
		s.pluginDel(t, fmt.Sprintf("phantom-%03d", i), "")
	}
	if n := len(queued(t)); n < queueBurst {
		t.Fatalf("%d queue entries after %d DELs with the agent down", n, queueBurst)
	}
	t.Logf("%d more DELs with the agent down queued in %s", queueBurst-1, time.Since(burst).Round(time.Millisecond))

	logFrom := fileSize(s.agent.logPath)
	restart := time.Now()
	s.agent.start(t)
	if err := waitEndpointGone(s.agent.api, s.d, 30*time.Second); err != nil {
		t.Errorf("after restart: %v", err)
	}
	s.tm.drain = time.Since(restart)
	if err := peer.Eventually(10*time.Second, 100*time.Millisecond, func() error {
		if left := queued(t); len(left) > 0 {
			return fmt.Errorf("%d queued deletions still there after the restart", len(left))
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	agentLog := logSince(t, s.agent.logPath, logFrom)
	if !strings.Contains(agentLog, "Processing queued deletion requests") {
		t.Errorf("the restarted agent did not log processing its deletion queue")
	}
	for _, bad := range []string{"Failed to read queued CNI deletion entry", "Failed to list queued CNI deletion requests", "processQueuedDeletes failed"} {
		if strings.Contains(agentLog, bad) {
			t.Errorf("the agent logged %q: an entry we wrote was unreadable", bad)
		}
	}
	// D's veth is still there: its endpoint went because of the queue, not because the agent found
	// nothing to restore; and the agent detached its programs from it.
	requireNoPrograms(t, s.node, s.d)
	for _, p := range []*pod{s.a, s.b, s.q} {
		waitEndpointReady(t, s.agent.api, p)
		requirePrograms(t, s.node, p)
	}

	for _, p := range []*pod{s.d, s.q} { // D: the DEL the runtime would send later releases IP and veth
		s.delTimed(t, s.confs.seed, p)
	}
	if err := waitEndpointGone(s.agent.api, s.q, 10*time.Second); err != nil {
		t.Error(err)
	}
	eps, err := cniEndpoints(s.agent.api)
	if err != nil {
		t.Fatalf("list endpoints: %v", err)
	}
	if len(eps) != 2 || eps[s.a.containerID()] == nil || eps[s.b.containerID()] == nil {
		t.Errorf("after drain the agent lists %v, want exactly a and b", keys(eps))
	}
}

// queueBurst is how many DELs stepQueue issues with the agent down: more than upstream's 256 cap.
const queueBurst = 300

// pluginDel runs cilium-chain's DEL alone with the project's entry in the node netns, as a runtime
// would for a pod whose netns is gone (netns "") or as the chain's last step; it returns how long it
// took. Flannel is not run, so the pod's veth and IP stay.
func (s *suite) pluginDel(t *testing.T, containerID, netns string) time.Duration {
	t.Helper()
	return s.pluginDelWith(t, s.conf.chain(), nil, containerID, netns)
}

// pluginDelWith is pluginDel with another entry and extra environment (CILIUM_SOCK).
func (s *suite) pluginDelWith(t *testing.T, entry map[string]any, env []string, containerID, netns string) time.Duration {
	t.Helper()
	entry["cniVersion"], entry["name"] = "0.3.1", netName
	stdin, _ := json.Marshal(entry)
	env = append(env, "CNI_COMMAND=DEL", "CNI_CONTAINERID="+containerID, "CNI_IFNAME=eth0", "CNI_PATH="+s.tl.peerBin, "CNI_NETNS="+netns)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	argv := s.node.exec(s.tl.pluginBin)
	res := run(ctx, env, stdin, argv[0], argv[1:]...)
	if res.Err != nil {
		t.Fatalf("plugin DEL of %s: %v: %s", containerID, res.Err, res.Stdout)
	}
	return res.Took
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince is what was appended to a log after offset.
func logSince(t *testing.T, path string, offset int64) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b[min(offset, int64(len(b))):])
}

// queued maps the entries of the delete queue (lock file aside) to their content.
func queued(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(deleteQueueDir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("read delete queue: %v", err)
	}
	for _, e := range entries {
		if e.Name() == "lockfile" {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(deleteQueueDir, e.Name()))
		out[e.Name()] = string(b)
	}
	return out
}
