//go:build cluster

package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// exitTimeout is testapp dial's exit code when the SYN went unanswered: what a policy drop looks like.
const exitTimeout = 3

// dial runs `testapp dial` in src through kubectl exec (apiserver → kubelet → containerd) and returns
// the exit code and output.
func (c *cluster) dial(src, dst *pod, port int, timeout time.Duration) (int, string) {
	code, out := c.k.execIn(src.name, "/testapp", "dial", fmt.Sprintf("%s:%d", dst.ip, port), timeout.String())
	return code, strings.TrimSpace(out)
}

// expectAllowed needs dst's own greeting; it retries briefly (a new policy can take a moment).
func (c *cluster) expectAllowed(t *testing.T, src, dst *pod, port int) {
	t.Helper()
	want := "hello from " + dst.name
	var last string
	err := peer.Eventually(15*time.Second, 500*time.Millisecond, func() error {
		code, out := c.dial(src, dst, port, 2*time.Second)
		last = fmt.Sprintf("exit %d: %s", code, out)
		if code != 0 || !strings.Contains(out, want) {
			return fmt.Errorf("%s", last)
		}
		return nil
	})
	if err != nil {
		t.Errorf("%s → %s:%d should be allowed: %v", src, dst, port, err)
		return
	}
	t.Logf("%s → %s:%d allowed (%q)", src, dst, port, want)
}

// expectDenied needs the connection to time out: a refused one would mean the packet got through.
func (c *cluster) expectDenied(t *testing.T, src, dst *pod, port int) {
	t.Helper()
	code, out := c.dial(src, dst, port, 3*time.Second)
	if code != exitTimeout {
		t.Errorf("%s → %s:%d should be dropped by policy (dial times out), got exit %d: %s", src, dst, port, code, out)
		return
	}
	t.Logf("%s → %s:%d denied (%s)", src, dst, port, out)
}
