package bench

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// bgProc is a background process (etcd, the agent) in a process group of its own, with its output
// in a log file; stop signals exactly that group.
type bgProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startBg(name, logPath string, env []string, argv ...string) (*bgProc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &bgProc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *bgProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the group, SIGKILL after grace, and waits for the exit.
func (p *bgProc) stop(grace time.Duration) error {
	pgid := p.cmd.Process.Pid
	if !p.exited() {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				return fmt.Errorf("%s (pid %d) survived SIGKILL", p.name, pgid)
			}
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL) // children it may have left (clang, llc)
	return nil
}
