package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// procRun is one plugin process run directly (as libcni execs it), with what wait4 reports. wait4's
// peak RSS is not kept: Go starts children with vfork, and the kernel carries the parent's (this
// harness's) RSS high-water mark into the child's figure at exec; peakRSS measures it instead.
type procRun struct {
	Took   time.Duration
	CPU    time.Duration // user + system
	Faults int64         // minor page faults: grows with the binary's touched pages and the heap
	Stdout []byte        `json:"-"`
	Stderr []byte        `json:"-"`
	Err    error         `json:"-"`
}

// pluginCall is a CNI call of one plugin binary, outside cnitool, so its own cost can be isolated.
type pluginCall struct {
	bin         string
	node        netnsName // where it runs: the host veths are there
	command     string
	containerID string
	pod         netnsName
	stdin       []byte
	env         []string // extra, e.g. CILIUM_SOCK, GODEBUG
	cniPath     string
}

func (c pluginCall) run(ctx context.Context) procRun {
	return c.runArgv(ctx, c.bin)
}

// peakRSS runs the call under GNU time, which forks (not vforks) from a small process: its "%M" is
// the plugin's own peak RSS in KiB, with a floor of a few hundred KiB.
func (c pluginCall) peakRSS(ctx context.Context) (int64, error) {
	f, err := os.CreateTemp("", "ccbench-rss-")
	if err != nil {
		return 0, err
	}
	f.Close()
	defer os.Remove(f.Name())
	if r := c.runArgv(ctx, timeBin, "-f", "%M", "-o", f.Name(), c.bin); r.Err != nil {
		return 0, r.Err
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return 0, err
	}
	kib, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s output %q: %w", timeBin, b, err)
	}
	return kib, nil
}

// timeBin is Debian's GNU time (package "time"; make bench-peers installs it).
const timeBin = "/usr/bin/time"

func (c pluginCall) runArgv(ctx context.Context, argv ...string) procRun {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append([]string{
		"CNI_COMMAND=" + c.command, "CNI_CONTAINERID=" + c.containerID, "CNI_NETNS=" + c.pod.path(),
		"CNI_IFNAME=eth0", "CNI_ARGS=" + podArgs(c.pod), "CNI_PATH=" + c.cniPath, "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	}, c.env...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(c.stdin), &out, &errOut
	start := time.Now()
	if err := c.node.start(cmd); err != nil {
		return procRun{Err: err}
	}
	err := cmd.Wait()
	r := procRun{Took: time.Since(start), Stdout: out.Bytes(), Stderr: errOut.Bytes()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.Faults = ru.Minflt
	}
	if err != nil {
		r.Err = fmt.Errorf("%s %s: %w: %s", c.bin, c.command, err, peer.Condense(out.String()+" "+errOut.String()))
	}
	return r
}
