//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// applyPolicy changes the static policy directory and waits until the agent's policy revision moved
// and every given endpoint realized it. The agent watches the directory with fsnotify and is fatal
// on a half-written YAML, so files arrive by rename.
func applyPolicy(t *testing.T, a *agent, change func() error, pods ...*pod) {
	t.Helper()
	before, err := a.api.PolicyRevision()
	if err != nil {
		t.Fatalf("policy revision: %v", err)
	}
	if err := change(); err != nil {
		t.Fatalf("change policy: %v", err)
	}
	var rev int64
	err = peer.Eventually(30*time.Second, 100*time.Millisecond, func() error {
		rev, err = a.api.RevisionAbove(before)
		return err
	})
	if err != nil {
		t.Fatalf("agent did not pick up the policy change: %v\n%s", err, peer.LogTail(a.logPath, 30))
	}
	for _, p := range pods {
		err := peer.Eventually(30*time.Second, 100*time.Millisecond, func() error {
			ep, found, err := a.api.Endpoint(p.endpointID())
			if err := peer.Realized(ep, found, err, rev); err != nil {
				return fmt.Errorf("endpoint of %s: %w", p, err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("policy revision %d not realized: %v", rev, err)
		}
	}
	t.Logf("policy revision %d realized by %v", rev, pods)
}

func writePolicy(dir, name, yaml string) func() error {
	return func() error {
		tmp := filepath.Join(dir, "."+name+".tmp") // not *.yaml: the agent ignores it
		if err := os.WriteFile(tmp, []byte(yaml), 0o644); err != nil {
			return fmt.Errorf("write policy: %w", err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name+".yaml")); err != nil {
			return fmt.Errorf("install policy: %w", err)
		}
		return nil
	}
}

func removePolicy(dir, name string) func() error {
	return func() error {
		if err := os.Remove(filepath.Join(dir, name+".yaml")); err != nil {
			return fmt.Errorf("remove policy: %w", err)
		}
		return nil
	}
}
