//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// step6bHubble — what the seed installs cilium-chain for: Hubble sees the chained pods. With the L3
// policy on, one allowed connection across the nodes (nm on node 2 → nm on node 1) and two denied
// ones (other-n2 → nm on node 1, across; other-n2 → nm on node 2, on one node); the Hubble CLI on
// the destination node's observer socket shows them with pod names and namespaces: FORWARDED for
// the allowed one, DROPPED with "Policy denied" for the denied ones.
func (s *scenario) step6bHubble(t *testing.T) {
	if len(s.nm) != 2 || s.otherN2 == nil {
		t.Fatal("needs step 6a's pods")
	}
	nm1, nm2, o2 := s.nm[0], s.nm[1], s.otherN2
	pods := []*pod{nm1, nm2, o2}
	s.changePolicyFor(t, "apply", peer.CNPL3, pods)
	defer s.changePolicyFor(t, "delete", peer.CNPL3, pods)
	s.expectAllowed(t, nm2, nm1, 80)
	s.expectDenied(t, o2, nm1, 80)
	s.expectDenied(t, o2, nm2, 80)

	for _, c := range []struct {
		src, dst    *pod
		verdict     string
		dropReason  string
		compactText string // what `hubble observe` prints for it
	}{
		{nm2, nm1, "FORWARDED", "", "FORWARDED"},
		{o2, nm1, "DROPPED", "POLICY_DENIED", "Policy denied"},
		{o2, nm2, "DROPPED", "POLICY_DENIED", "Policy denied"},
	} {
		on := c.dst.node
		src, dst := "default/"+c.src.name, "default/"+c.dst.name
		var flow *peer.HubbleFlow
		err := peer.Eventually(20*time.Second, time.Second, func() error {
			flows, err := peer.HubbleObserve(s.e.bin("hubble"), on.file(hubbleSock), "--to-pod", dst)
			if err != nil {
				return err
			}
			if flow = peer.FindFlow(flows, c.src.ip, c.dst.ip, 80, c.verdict, c.dropReason); flow == nil {
				return fmt.Errorf("no %s %s flow %s → %s:80 among %d flows to %s", c.verdict, c.dropReason, src, dst, len(flows), dst)
			}
			// Hubble names both ends, the remote one from the ipcache (its CiliumEndpoint).
			if got := [2]peer.HubblePeer{flow.Flow.Source, flow.Flow.Destination}; got[0].Namespace+"/"+got[0].PodName != src ||
				got[1].Namespace+"/"+got[1].PodName != dst {
				return fmt.Errorf("flow %s names %s/%s → %s/%s, want %s → %s", flow, got[0].Namespace, got[0].PodName, got[1].Namespace, got[1].PodName, src, dst)
			}
			return nil
		})
		if err != nil {
			t.Errorf("hubble on %s: %v", on, err)
			continue
		}
		t.Logf("ok: hubble observe on %s (JSON): %s", on, flow)
		out, err := cmdOut(context.Background(), nil, s.e.bin("hubble"), "observe", "--server", "unix://"+on.file(hubbleSock),
			"--last", "4000", "--from-pod", src, "--to-pod", dst, "--verdict", c.verdict)
		if err != nil || !strings.Contains(out, c.compactText) {
			t.Errorf("hubble observe on %s (text) %s → %s: %v, want %q in:\n%s", on, src, dst, err, c.compactText, out)
		} else {
			t.Logf("hubble observe --from-pod %s --to-pod %s --verdict %s (last line):\n  %s", src, dst, c.verdict, lastLine(out))
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
