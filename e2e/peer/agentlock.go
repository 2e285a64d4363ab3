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
	f, err := os.OpenFile(AgentLock, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("agent lock: %w", err)
	}
	deadline := time.Now().Add(wait)
	for said := false; ; said = true {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("agent lock %s not free within %s: %w", AgentLock, wait, err)
		}
		if !said {
			logf("waiting for %s (another real-agent run holds it)", AgentLock)
		}
		if err := sleepCtx(ctx, 2*time.Second); err != nil {
			f.Close()
			return nil, err
		}
	}
	release = func() { f.Close() } // closing the fd drops the flock
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
