package peer

import (
	"context"
	"path/filepath"
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
