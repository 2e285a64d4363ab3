//go:build cluster

package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// crashPods is how many pods step 6f starts at once.
const crashPods = 6

// step6fAgentKilled — the promise under a crash, on the real node: six pods are created at once on
// node 1, and its agent is SIGKILLed the moment it lists one of their endpoints in its first
// regeneration, then started again. No sandbox creation fails (no FailedCreatePodSandBox event):
// cilium-chain's ADDs wait the agent out, retry what the crash cut off and register again what the
// restarted agent did not restore. Every pod is Ready with a ready endpoint and its programs; deleted,
// none leaves an endpoint, a record or an IP behind.
func (s *scenario) step6fAgentKilled(t *testing.T) {
	n := s.nodes[0]
	var docs []string
	for i := range crashPods {
		docs = append(docs, podYAML(fmt.Sprintf("crash-%d", i), "other", s.images.TestApp, n.name, 0))
	}
	began := time.Now()
	if _, err := s.k.apply(t.Context(), strings.Join(docs, "---\n")); err != nil {
		t.Fatalf("create the pods: %v", err)
	}
	killed, back, ok := s.killAgentDuringRegeneration(t, n, 2*time.Minute, func() {})
	if !ok {
		return
	}
	t.Logf("%s: agent killed %s after the pods were created, ready again %s later", n, killed.Sub(began).Round(time.Millisecond), back.Round(time.Millisecond))
	var pods []*pod
	uids := map[string]bool{}
	for i := range crashPods {
		p := s.waitPod(t, n, fmt.Sprintf("crash-%d", i), "other", began)
		pods, uids[p.uid] = append(pods, p), true
	}
	if failed := s.failedSandboxEvents(t, uids); failed != 0 {
		ev, _ := s.k.run(t.Context(), "get", "events", "--field-selector", "reason=FailedCreatePodSandBox")
		t.Errorf("%d FailedCreatePodSandBox events for the pods started across the agent's crash, want 0:\n%s", failed, ev)
	} else {
		t.Logf("ok: %d pods started across the agent's crash, all Ready with no failed sandbox creation", len(pods))
	}
	for _, p := range pods {
		s.checkChained(t, p)
	}
	for _, p := range pods {
		s.deletePod(t, p)
	}
	err := peer.Eventually(60*time.Second, 500*time.Millisecond, func() error {
		reserved, err := hostLocalReservationsIn(n.file(hostLocalDir))
		if err != nil {
			return err
		}
		for _, p := range pods {
			if _, found, err := n.api.endpointOf(p); err != nil || found {
				return fmt.Errorf("%s: endpoint found=%v err=%v", p, found, err)
			}
			if peer.FileExists(n.file(recordPath(p))) {
				return fmt.Errorf("%s: attachment record %s left", p, recordPath(p))
			}
			for ip, id := range reserved {
				if id == p.cni.ContainerID {
					return fmt.Errorf("%s: host-local still reserves %s", p, ip)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("after deleting the pods: %v", err)
	} else {
		t.Logf("ok: the %d pods deleted: no endpoint, attachment record or host-local IP left", len(pods))
	}
}
