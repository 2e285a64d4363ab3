//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// killStaleIn kills a recorded process only when the run that started it is dead.
func TestKillStaleSparesLiveRuns(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name     string
		owner    int
		wantKill bool
	}{
		{"live run", os.Getppid(), false}, // `go test`: alive, and not this process
		{"dead run", deadPID(t), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// A stand-in for etcd or the agent of that run: its command line names the run's directory.
			p, err := peer.Start("sleeper", filepath.Join(dir, "sleeper.log"), nil,
				"sh", "-c", "sleep 30", fmt.Sprintf("/tmp/cchain-e2e-%d/sleeper", tc.owner))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Stop(time.Second) })
			peer.WriteFile(t, filepath.Join(dir, "sleeper.pid"), strconv.Itoa(p.Pid()))
			err = killStaleIn(dir, "sleeper", t.Logf)
			time.Sleep(100 * time.Millisecond)
			killed, _ := p.Exited()
			if killed != tc.wantKill || (err == nil) != tc.wantKill {
				t.Fatalf("owner pid %d: killed=%v err=%v, want killed=%v", tc.owner, killed, err, tc.wantKill)
			}
		})
	}
}

// deadPID is a PID no process has now.
func deadPID(t *testing.T) int {
	for pid := 4_000_000; pid > 3_000_000; pid-- {
		if !peer.FileExists("/proc/" + strconv.Itoa(pid)) {
			return pid
		}
	}
	t.Fatal("no free pid")
	return 0
}
