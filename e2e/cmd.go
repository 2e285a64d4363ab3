//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// cmdResult is what a finished command printed and how long it took.
type cmdResult struct {
	Stdout, Stderr []byte
	Took           time.Duration
	Err            error
}

// run executes name with args, extra env and stdin and never fails the test itself: callers decide
// whether a failure is expected.
func run(ctx context.Context, env []string, stdin []byte, name string, args ...string) cmdResult {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	res := cmdResult{Stdout: out.Bytes(), Stderr: errb.Bytes(), Took: time.Since(start)}
	if err != nil {
		res.Err = fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return res
}

// mustRun runs a setup command that has to succeed and returns its stdout.
func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := run(ctx, nil, nil, name, args...)
	if res.Err != nil {
		t.Fatalf("setup: %v", res.Err)
	}
	return string(res.Stdout)
}

// bestEffort runs a teardown command and only logs a failure: teardown must go on.
func bestEffort(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if res := run(ctx, nil, nil, name, args...); res.Err != nil {
		t.Logf("teardown: %v", res.Err)
	}
}

// errorList formats what was left over as one error.
func errorList(what string, items []string) error {
	return fmt.Errorf("%s: %s", what, strings.Join(items, ", "))
}

func bestEffortRemoveAll(t *testing.T, path string) {
	t.Helper()
	if err := os.RemoveAll(path); err != nil {
		t.Logf("teardown: %v", err)
	}
}
