//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The two policies of the seed scenario, as CiliumNetworkPolicy YAML for --static-cnp-path.
const (
	cnpL3 = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: l3-app-test
  namespace: default
spec:
  description: "ingress to app=test only from app=test"
  endpointSelector:
    matchLabels:
      app: test
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: test
`
	cnpL4 = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: l4-tcp-80
  namespace: default
spec:
  description: "ingress to app=test only on TCP 80"
  endpointSelector:
    matchLabels:
      app: test
  ingress:
  - toPorts:
    - ports:
      - port: "80"
        protocol: TCP
`
)

// applyPolicy changes the static policy directory and waits until the agent's policy revision moved
// and every given endpoint realized it. The agent watches the directory with fsnotify and is fatal
// on a half-written YAML, so files arrive by rename.
func applyPolicy(t *testing.T, a *agent, change func() error, pods ...*pod) {
	t.Helper()
	before, err := a.api.policyRevision()
	if err != nil {
		t.Fatalf("policy revision: %v", err)
	}
	if err := change(); err != nil {
		t.Fatalf("change policy: %v", err)
	}
	var rev int64
	err = eventually(30*time.Second, 100*time.Millisecond, func() error {
		rev, err = a.api.policyRevision()
		if err != nil {
			return err
		}
		if rev <= before {
			return fmt.Errorf("policy revision still %d", rev)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("agent did not pick up the policy change: %v\n%s", err, logTail(a.logPath, 30))
	}
	for _, p := range pods {
		err := eventually(30*time.Second, 100*time.Millisecond, func() error {
			ep, found, err := a.api.endpoint(p.endpointID())
			if err != nil || !found {
				return fmt.Errorf("endpoint of %s: found=%v err=%v", p, found, err)
			}
			if got := realizedRevision(ep); got < rev {
				return fmt.Errorf("endpoint of %s realized revision %d < %d", p, got, rev)
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
