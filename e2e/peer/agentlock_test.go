package peer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A second taker waits while the lock is held and gets it once released.
func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.lock")
	ctx := context.Background()
	release, err := lockFile(ctx, path, time.Now(), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockFile(ctx, path, time.Now().Add(300*time.Millisecond), t.Logf); err == nil {
		t.Fatal("took a held lock")
	}
	time.AfterFunc(200*time.Millisecond, release)
	again, err := lockFile(ctx, path, time.Now().Add(2*time.Second), t.Logf)
	if err != nil {
		t.Fatalf("lock not taken after its release: %v", err)
	}
	again()
}

// LockAgentOn waits for the cilium-agent processes in the given /proc (e2e/cluster passes the host's)
// and gives up, releasing the lock, when one outlives the wait.
func TestLockAgentOnWaitsForAgentsInProc(t *testing.T) {
	run, proc := t.TempDir(), t.TempDir()
	for pid, comm := range map[string]string{"41": "cilium-agent\n", "42": "cilium-agent-x\n", "43": "bash\n"} {
		if err := os.MkdirAll(filepath.Join(proc, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(proc, pid, "comm"), []byte(comm), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	_, err := LockAgentOn(ctx, run, proc, 100*time.Millisecond, t.Logf)
	if err == nil || !strings.Contains(err.Error(), "[41]") {
		t.Fatalf("err = %v, want cilium-agent pid 41 (only) still running", err)
	}
	if err := os.RemoveAll(filepath.Join(proc, "41")); err != nil {
		t.Fatal(err)
	}
	release, err := LockAgentOn(ctx, run, proc, time.Second, t.Logf) // the failed attempt released the lock
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := lockFile(ctx, filepath.Join(run, filepath.Base(AgentLock)), time.Now(), t.Logf); err == nil {
		t.Fatal("the lock in the given /run is not held")
	}
}
