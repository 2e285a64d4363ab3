//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

	restart := time.Now()
	s.agent.start(t)
	if err := waitEndpointGone(s.agent.api, s.d, 30*time.Second); err != nil {
		t.Errorf("after restart: %v", err)
	}
	s.tm.drain = time.Since(restart)
	if err := eventually(10*time.Second, 100*time.Millisecond, func() error {
		if _, left := queued(t)[mine[0]]; left {
			return fmt.Errorf("queued deletion %s still there", mine[0])
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
