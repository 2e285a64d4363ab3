package fakeagent

import (
	"os"
	"path/filepath"
	"testing"
)

// StartTemp starts a fake agent in a fresh temp dir (short, for the 108-byte unix socket limit; a
// t.TempDir() path can be longer) and returns it with the dir. At cleanup it stops, removes the dir and
// fails the test if any request body was invalid.
func StartTemp(t testing.TB) (*Agent, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "cc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	agent, err := Start(filepath.Join(dir, "cilium.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		agent.Close()
		if p := agent.Problems(); len(p) > 0 {
			t.Errorf("fake agent saw invalid requests: %v", p)
		}
	})
	return agent, dir
}
