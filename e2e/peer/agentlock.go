package peer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// AgentLock is the machine-wide lock every real-agent run takes (make e2e, make bench, make
// e2e-cluster): the agent always uses /var/run/cilium, so only one may run at a time.
const AgentLock = "/run/cilium-chain-agent.lock"

// LockAgent takes the exclusive flock on AgentLock (held until release) and then waits until no
// cilium-agent process is left, both within wait.
func LockAgent(ctx context.Context, wait time.Duration, logf func(string, ...any)) (release func(), err error) {
	deadline := time.Now().Add(wait)
	release, err = lockFile(ctx, AgentLock, deadline, logf)
	if err != nil {
		return nil, err
	}
	for said := false; agentRunning(); said = true {
		if time.Now().After(deadline) {
			release()
			return nil, fmt.Errorf("a cilium-agent is still running after %s", wait)
		}
		if !said {
			logf("waiting for the running cilium-agent to exit")
		}
		if err := sleepCtx(ctx, 2*time.Second); err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}

// lockFile takes an exclusive flock on path, polling until deadline.
func lockFile(ctx context.Context, path string, deadline time.Time, logf func(string, ...any)) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("agent lock: %w", err)
	}
	for said := false; ; said = true {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("agent lock %s not free in time: %w", path, err)
		}
		if !said {
			logf("waiting for %s (another real-agent run holds it)", path)
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			f.Close()
			return nil, err
		}
	}
	return func() { f.Close() }, nil // closing the fd drops the flock
}

// agentRunning is `pgrep -x cilium-agent` finding something.
func agentRunning() bool {
	return exec.Command("pgrep", "-x", "cilium-agent").Run() == nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
