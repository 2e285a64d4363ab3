//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// pidDir keeps a pidfile per background process at a fixed place, so a later run finds and kills
// what a crashed run left behind (the agent is one per machine: /var/run/cilium is fixed).
const pidDir = "/run/cilium-chain-e2e"

// proc is a background process (etcd, the agent) whose PID is also in pidDir/<name>.pid: this
// harness runs in the machine's pid namespace, so nothing else would end it after a crash.
type proc struct {
	*peer.Proc
}

// startProc starts argv in its own process group and records its PID in pidDir/<name>.pid.
func startProc(t *testing.T, name, logPath string, env []string, argv ...string) *proc {
	t.Helper()
	pp, err := peer.Start(name, logPath, env, argv...)
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{pp}
	if err := os.MkdirAll(pidDir, 0o755); err == nil {
		_ = os.WriteFile(p.pidFile(), []byte(strconv.Itoa(p.Pid())), 0o644)
	}
	return p
}

func (p *proc) pidFile() string { return filepath.Join(pidDir, p.Name()+".pid") }

// stop sends SIGTERM to the process group, then SIGKILL after grace, and waits for the exit. Then
// it kills what is left of the group, whichever way the leader ended: no pid namespace does it.
func (p *proc) stop(grace time.Duration) error {
	defer os.Remove(p.pidFile())
	err := p.Stop(grace)
	p.KillGroup()
	if err != nil {
		return fmt.Errorf("%s: %w", p.Name(), err)
	}
	return nil
}

// killStale kills a process recorded in pidDir/<name>.pid by an earlier run, if it is still one
// of ours (its command line names a cchain-e2e-<pid> run directory) and that run is dead: a live
// run's process is never touched.
func killStale(t *testing.T, name string) {
	t.Helper()
	if err := killStaleIn(pidDir, name, t.Logf); err != nil {
		t.Fatal(err)
	}
}

func killStaleIn(dir, name string, logf func(string, ...any)) error {
	path := filepath.Join(dir, name+".pid")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		_ = os.Remove(path)
		return nil
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	owner := regexp.MustCompile(runDirPattern).FindStringSubmatch(string(cmdline))
	if err != nil || owner == nil {
		_ = os.Remove(path) // gone, or the PID was reused by something else
		return nil
	}
	if alive(owner[1]) {
		return fmt.Errorf("%s (pid %d) belongs to the live e2e run %s; not touching it", name, pid, owner[1])
	}
	logf("killing stale %s (pid %d) left by the dead run %s", name, pid, owner[1])
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	err = peer.Eventually(10*time.Second, 100*time.Millisecond, func() error {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("stale %s (pid %d) still alive", name, pid)
	})
	if err != nil {
		return err
	}
	_ = os.Remove(path)
	return nil
}
