package peer

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteFile writes a config or marker file a test sets up, creating its directory; a failure ends
// the test, since nothing after it would mean anything.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatalf("mkdir for %s: %v", path, err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

func FileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
