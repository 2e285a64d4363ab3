//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// deleteQueueDir is where the plugin leaves deletions for an agent that is down; the agent drains it
// at start (fixed path, like the rest of /var/run/cilium).
const deleteQueueDir = agentRunDir + "/deleteQueue"

// stepQueue — assertion 5: with the agent stopped, DEL of D succeeds quickly and queues the deletion;
// after a restart the agent drains the queue, D's endpoint is gone, A and B are restored, and
// nothing else is left.
func (s *suite) stepQueue(t *testing.T) {
	s.addTimed(t, s.confs.seed, s.d)
	waitEndpointReady(t, s.agent.api, s.d)
	s.agent.stop(t)

	before := queued(t)
	took := s.cni.del(t, s.confs.seed, s.d)
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
	requireNoPrograms(t, s.node, s.d) // Flannel's DEL removed the veth pair anyway

	// Issue 6: more DELs than upstream's 256-entry cap while the agent is down, all queued.
	burst := time.Now()
	for i := range queueBurst - 1 {
		s.delDirect(t, fmt.Sprintf("phantom-%03d", i))
	}
	if n := len(queued(t)); n < queueBurst {
		t.Fatalf("%d queue entries after %d DELs with the agent down", n, queueBurst)
	}
	t.Logf("%d more DELs with the agent down queued in %s", queueBurst-1, time.Since(burst).Round(time.Millisecond))

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
	for _, p := range []*pod{s.a, s.b} {
		waitEndpointReady(t, s.agent.api, p)
		requirePrograms(t, s.node, p)
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

// delDirect runs cilium-chain's DEL alone, as a runtime would for a pod whose netns is already gone.
func (s *suite) delDirect(t *testing.T, containerID string) {
	t.Helper()
	entry := s.conf.chain()
	entry["cniVersion"], entry["name"] = "0.3.1", netName
	stdin, _ := json.Marshal(entry)
	cmd := exec.Command(s.tl.pluginBin)
	cmd.Env = []string{"CNI_COMMAND=DEL", "CNI_CONTAINERID=" + containerID, "CNI_IFNAME=eth0", "CNI_PATH=" + s.tl.peerBin}
	cmd.Stdin = bytes.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("DEL %s with the agent down: %v: %s", containerID, err, out)
	}
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
