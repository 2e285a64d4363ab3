package peer

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Proc is a background process (etcd, the agent, kubelet...) in its own process group, its output
// appended to a log file. Each harness decides how it is found again after a crash (pidfile or a
// private pid namespace) and when it is stopped.
type Proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// Start runs argv with the current environment plus env, in its own process group so Stop reaches
// whatever it forks too.
func Start(name, logPath string, env []string, argv ...string) (*Proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== %s: %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { p.waitErr = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *Proc) Name() string    { return p.name }
func (p *Proc) LogPath() string { return p.logPath }
func (p *Proc) Pid() int        { return p.cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Stop sends SIGTERM to the process group, SIGKILL after grace, and waits for the exit. Stopping a
// process that already ended is a no-op. The error says the process had to be killed (or would not
// die); it does not name the process, the caller does.
func (p *Proc) Stop(grace time.Duration) error {
	pgid := p.Pid()
	if done, _ := p.Exited(); done {
		return nil
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-p.done:
		return fmt.Errorf("ignored SIGTERM for %s and was killed", grace)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("pid %d survived SIGKILL", pgid)
	}
}

// KillGroup sends SIGKILL to what is left of the process group once the leader is gone: children
// it did not take down with it. Without a pid namespace around the run nothing else would.
func (p *Proc) KillGroup() { _ = syscall.Kill(-p.Pid(), syscall.SIGKILL) }

// LogTail is the end of the process's log, for failure reports.
func (p *Proc) LogTail(n int) string { return LogTail(p.logPath, n) }

// LogTail returns the last n lines of a log file, or why there is none.
func LogTail(path string, n int) string {
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
