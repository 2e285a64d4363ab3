//go:build cluster

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// kubectl runs the machine's kubectl (v1.32 client; it warns about the skew with v1.35 and works)
// against the cluster, the way an operator would.
type kubectl struct {
	kubeconfig string
}

func (k *kubectl) args(a []string) []string {
	return append([]string{"--kubeconfig=" + k.kubeconfig}, a...)
}

// run returns stdout; the error carries stderr.
func (k *kubectl) run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	return cmdOut(ctx, nil, "kubectl", k.args(args)...)
}

// apply pipes a manifest into kubectl apply -f -.
func (k *kubectl) apply(ctx context.Context, manifest string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return cmdOut(ctx, []byte(manifest), "kubectl", k.args([]string{"apply", "-f", "-"})...)
}

// must runs kubectl and fails the test on error.
func (k *kubectl) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := k.run(context.Background(), args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}

// getJSON decodes `kubectl get ... -o json` into out.
func (k *kubectl) getJSON(args []string, out any) error {
	s, err := k.run(context.Background(), append(append([]string{"get"}, args...), "-o", "json")...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(s), out); err != nil {
		return fmt.Errorf("decode kubectl get %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// execIn runs a command in a pod's container and returns its exit code (-1 when kubectl itself
// failed to run it) and combined output.
func (k *kubectl) execIn(pod string, argv ...string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "kubectl", k.args(append([]string{"exec", pod, "--"}, argv...))...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return 0, string(out)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	return -1, fmt.Sprintf("%v: %s", err, out)
}
