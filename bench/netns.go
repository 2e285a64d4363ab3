package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
)

// nsPrefix starts the name of every netns (and CNI network) a run creates; the PID that follows lets
// a later run remove what a crashed one left.
const nsPrefix = "ccbench-"

// netnsName is a named netns under /var/run/netns, made with `ip netns add`.
type netnsName string

func (n netnsName) path() string { return "/var/run/netns/" + string(n) }

// addNetns creates the netns with loopback up.
func addNetns(ctx context.Context, name netnsName) error {
	if err := run(ctx, "ip", "netns", "add", string(name)); err != nil {
		return err
	}
	return run(ctx, "ip", "-n", string(name), "link", "set", "lo", "up")
}

// delNetns deletes the netns and, with it, every link inside (veths, bridges).
func delNetns(name netnsName) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return run(ctx, "ip", "netns", "del", string(name))
}

// start starts cmd from a thread switched into the netns, so the child lives there.
func (n netnsName) start(cmd *exec.Cmd) error {
	target, err := ns.GetNS(n.path())
	if err != nil {
		return fmt.Errorf("open netns %s: %w", n, err)
	}
	defer target.Close()
	return target.Do(func(ns.NetNS) error { return cmd.Start() })
}

// run runs a short command, with its output in the error.
func run(ctx context.Context, argv ...string) error {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// RemoveStale deletes the netns and libcni cache files of earlier runs whose process is gone.
func RemoveStale() {
	entries, _ := os.ReadDir("/var/run/netns")
	for _, e := range entries {
		if pid, ok := stalePID(e.Name()); ok {
			fmt.Fprintf(os.Stderr, "removing netns %s left by run %d\n", e.Name(), pid)
			_ = delNetns(netnsName(e.Name()))
		}
	}
	cached, _ := filepath.Glob("/var/lib/cni/results/" + nsPrefix + "*")
	for _, f := range cached {
		if _, ok := stalePID(filepath.Base(f)); ok {
			_ = os.Remove(f)
		}
	}
}

// stalePID parses "ccbench-<pid>-…" and reports whether that run is over.
func stalePID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, nsPrefix)
	if !ok {
		return 0, false
	}
	pidStr, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid == os.Getpid() {
		return 0, false
	}
	_, err = os.Stat("/proc/" + pidStr)
	return pid, os.IsNotExist(err)
}
