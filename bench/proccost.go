package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// procCost is the cost of one plugin process, per chained plugin (b, c, d).
type procCost struct {
	Variant   variant
	SizeBytes int64
	Add, Del  []procRun
	// AddRSS, DelRSS: peak RSS in KiB of the same calls, run again under GNU time.
	AddRSS, DelRSS []int64
	Init           initStats
}

// runProcCost execs each chained plugin directly, as libcni would, with the prevResult of a real
// Flannel ADD: ADD then DEL, interleaved across plugins, runs times. wait4 gives peak RSS and CPU.
func runProcCost(ctx context.Context, f *fakeNode, runs int) ([]*procCost, error) {
	pod, err := f.newPod(ctx, "pc")
	if err != nil {
		return nil, err
	}
	r := f.runner(f.agent.Socket())
	flannel := r.cnitool(ctx, f.confs["a"], "add", pod)
	if flannel.Err != nil {
		return nil, fmt.Errorf("Flannel ADD for the process runs: %w", flannel.Err)
	}
	defer r.cnitool(context.Background(), f.confs["a"], "del", pod)

	// (d) keeps its records on the fake node's tmpfs; the extra variant keeps them in the run dir,
	// which must be on disk.
	if onTmpfs(f.dir) {
		return nil, fmt.Errorf("run dir %s is on tmpfs: the state-dir-on-disk row would measure tmpfs", f.dir)
	}
	var costs []*procCost
	for _, v := range append(append([]variant{}, f.variants[1:]...), procExtras(f.dir)...) {
		fi, err := os.Stat(f.paths.plugin(v.Type))
		if err != nil {
			return nil, fmt.Errorf("size of %s: %w", v.Type, err)
		}
		c := &procCost{Variant: v, SizeBytes: fi.Size()}
		if c.Init, err = measureInit(ctx, f.paths.plugin(v.Type), 10); err != nil {
			return nil, err
		}
		costs = append(costs, c)
	}
	for round := range runs + 1 { // round 0 warms the page cache
		for _, c := range costs {
			stdin, err := f.net.chainedStdin(c.Variant.entry, flannel.Stdout)
			if err != nil {
				return nil, err
			}
			call := pluginCall{bin: f.paths.plugin(c.Variant.Type), node: f.node, containerID: "ccbench-pc-" + c.Variant.Key,
				pod: pod, stdin: stdin, env: []string{"CILIUM_SOCK=" + f.agent.Socket()}, cniPath: f.paths.cniPath()}
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			call.command = "ADD"
			add := call.run(cctx)
			call.command = "DEL"
			del := call.run(cctx)
			call.command = "ADD"
			addRSS, errA := call.peakRSS(cctx)
			call.command = "DEL"
			delRSS, errD := call.peakRSS(cctx)
			cancel()
			if add.Err != nil || del.Err != nil || errA != nil || errD != nil {
				return nil, fmt.Errorf("%s: ADD %v, DEL %v; under time: ADD %v, DEL %v", c.Variant.Label, add.Err, del.Err, errA, errD)
			}
			if round > 0 {
				c.Add, c.Del = append(c.Add, add), append(c.Del, del)
				c.AddRSS, c.DelRSS = append(c.AddRSS, addRSS), append(c.DelRSS, delRSS)
			}
		}
	}
	if n := len(f.agent.Endpoints()); n != 0 {
		return nil, fmt.Errorf("%d endpoints left in the fake after the process runs", n)
	}
	return costs, f.problems()
}

// summary is the median wall time and CPU of a set of runs.
func summary(runs []procRun) (wall, cpu time.Duration) {
	var w, c sample
	for _, r := range runs {
		w, c = append(w, r.Took), append(c, r.CPU)
	}
	return w.median(), c.median()
}

// mountTmpfs mounts a small private tmpfs at dir for the measurement; unmount removes it again.
func mountTmpfs(ctx context.Context, dir string) (string, func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	if err := run(ctx, "mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", dir); err != nil {
		return "", nil, err
	}
	return dir, func() { _ = run(context.Background(), "umount", dir) }, nil
}

// onTmpfs reports whether path is on a tmpfs.
func onTmpfs(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.TMPFS_MAGIC
}
