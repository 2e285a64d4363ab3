//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pidDir keeps a pidfile per background process at a fixed place, so a later run finds and kills
// what a crashed run left behind (the agent is one per machine: /var/run/cilium is fixed).
const pidDir = "/run/cilium-chain-e2e"

// proc is a background process (etcd, the agent) with its output appended to a log file.
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// startProc starts argv in its own process group and records its PID in pidDir/<name>.pid.
func startProc(t *testing.T, name, logPath string, env []string, argv ...string) *proc {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("open %s log: %v", name, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== %s: %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { p.waitErr = cmd.Wait(); close(p.done) }()
	if err := os.MkdirAll(pidDir, 0o755); err == nil {
		_ = os.WriteFile(p.pidFile(), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	}
	return p
}

func (p *proc) pidFile() string { return filepath.Join(pidDir, p.name+".pid") }

// exited reports whether the process has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace, and waits for the exit.
func (p *proc) stop(grace time.Duration) error {
	defer os.Remove(p.pidFile())
	pgid := p.cmd.Process.Pid
	if done, _ := p.exited(); done {
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // children it may have left
		return nil
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-p.done:
		return fmt.Errorf("%s ignored SIGTERM for %s and was killed", p.name, grace)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) survived SIGKILL", p.name, pgid)
	}
}

// killStale kills a process recorded in pidDir/<name>.pid by an earlier run, if it is still one
// of ours (its command line names a cchain-e2e run directory).
func killStale(t *testing.T, name string) {
	t.Helper()
	path := filepath.Join(pidDir, name+".pid")
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		_ = os.Remove(path)
		return
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "cchain-e2e-") {
		_ = os.Remove(path) // gone, or the PID was reused by something else
		return
	}
	t.Logf("killing stale %s (pid %d) left by an earlier run", name, pid)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	err = eventually(10*time.Second, 100*time.Millisecond, func() error {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("stale %s (pid %d) still alive", name, pid)
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(path)
}

// logTail returns the last n lines of a log file, for failure reports.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log at %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
