package peer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// AgentLock is the machine-wide lock every real-agent run takes (make e2e, make bench, make
// e2e-cluster): the agent always uses /var/run/cilium, so only one may run at a time.
const AgentLock = "/run/cilium-chain-agent.lock"

// LockAgent takes the exclusive flock on AgentLock (held until release) and then waits until no
// cilium-agent process is left, both within wait.
func LockAgent(ctx context.Context, wait time.Duration, logf func(string, ...any)) (release func(), err error) {
	return LockAgentOn(ctx, filepath.Dir(AgentLock), "/proc", wait, logf)
}

// LockAgentOn is LockAgent for a process with a /run and a /proc of its own (e2e/cluster's
// namespaces): hostRun and hostProc are the host's, where this process sees them.
func LockAgentOn(ctx context.Context, hostRun, hostProc string, wait time.Duration, logf func(string, ...any)) (release func(), err error) {
	deadline := time.Now().Add(wait)
	release, err = lockFile(ctx, filepath.Join(hostRun, filepath.Base(AgentLock)), deadline, logf)
	if err != nil {
		return nil, err
	}
	var said time.Time
	for pids := agentPIDs(hostProc); len(pids) > 0; pids = agentPIDs(hostProc) {
		if time.Now().After(deadline) {
			release()
			return nil, fmt.Errorf("cilium-agent processes %v are still running after %s", pids, wait)
		}
		if time.Since(said) >= waitLogEvery {
			logf("waiting for the running cilium-agent processes (host pids %v) to exit", pids)
			said = time.Now()
		}
		if err := sleepCtx(ctx, 2*time.Second); err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}

// waitLogEvery is how often a long wait for the lock or for other agents says so again.
const waitLogEvery = 30 * time.Second

// lockFile takes an exclusive flock on path, polling until deadline.
func lockFile(ctx context.Context, path string, deadline time.Time, logf func(string, ...any)) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("agent lock: %w", err)
	}
	var said time.Time
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("agent lock %s not free in time: %w", path, err)
		}
		if time.Since(said) >= waitLogEvery {
			logf("waiting for %s (another real-agent run holds it)", path)
			said = time.Now()
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			f.Close()
			return nil, err
		}
	}
	return func() { f.Close() }, nil // closing the fd drops the flock
}

// agentPIDs are the cilium-agent processes in proc (what `pgrep -x cilium-agent` finds there).
func agentPIDs(proc string) []string {
	entries, _ := os.ReadDir(proc)
	var pids []string
	for _, d := range entries {
		comm, err := os.ReadFile(filepath.Join(proc, d.Name(), "comm"))
		if err == nil && strings.TrimSpace(string(comm)) == "cilium-agent" {
			pids = append(pids, d.Name())
		}
	}
	return pids
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
