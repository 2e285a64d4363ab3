//go:build e2e

package e2e

import (
	"flag"
	"os"
	"testing"
)

var (
	flagKeep = flag.Bool("keep", false, "keep the run directory (logs, configs, state) after the tests")
	flagDemo = flag.Bool("demo", false, "narrate TestDemo on stdout (the walkthrough behind `make demo`)")
)

func TestMain(m *testing.M) {
	// The test binary doubles as a helper that runs inside a node netns (see helper.go).
	if name := os.Getenv(helperEnv); name != "" {
		os.Exit(runHelper(name, os.Args[1:]))
	}
	flag.Parse()
	os.Exit(m.Run())
}

// requireRoot skips when the tests cannot create netns, mount bpffs or run the agent.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("e2e needs root: it creates network namespaces, mounts a bpffs and runs cilium-agent (run `make e2e` as root)")
	}
}
