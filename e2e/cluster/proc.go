//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// startProc starts argv in its own process group, its output in <work>/logs/<name>.log; the cleanup
// registered here stops it by PID (SIGTERM, then SIGKILL after grace) whether the test passed or
// failed. No pidfile: the run's pid namespace ends whatever a crashed run leaves.
func startProc(t *testing.T, e *env, name string, grace time.Duration, extraEnv []string, argv ...string) *peer.Proc {
	t.Helper()
	p := launchProc(t, e, name, extraEnv, argv...)
	t.Cleanup(func() {
		if err := p.Stop(grace); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
	})
	return p
}

// launchProc is startProc without the cleanup: the caller stops the process.
func launchProc(t *testing.T, e *env, name string, extraEnv []string, argv ...string) *peer.Proc {
	t.Helper()
	logPath := filepath.Join(e.logs(), name+".log")
	p, err := peer.Start(name, logPath, extraEnv, argv...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started %s (pid %d), log %s", name, p.Pid(), logPath)
	return p
}

// cmdOut runs a short command and returns its stdout; the error carries stderr.
func cmdOut(ctx context.Context, stdin []byte, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// mustOut is cmdOut for setup steps that must work.
func mustOut(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := cmdOut(ctx, nil, name, args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}
