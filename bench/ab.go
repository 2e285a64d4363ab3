package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Binary is one plugin build of an A/B comparison.
type Binary struct{ Name, Path string }

// RunAB compares plugin builds of cilium-chain process by process, as the process figures of make
// bench do: on a fake node with the prevResult of a real Flannel ADD, each build's ADD then DEL exec'd
// directly, the builds interleaved round by round, in an order that rotates, so the shared cores' noise
// and the place in a round hit them alike. It writes one line of medians per build to w (CPU from
// wait4, the steadier figure).
func RunAB(ctx context.Context, paths Paths, bins []Binary, runs int, w io.Writer) (err error) {
	f, err := newFakeNode(ctx, paths)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.close(), os.RemoveAll(filepath.Join(paths.RunDir, abBinDir))) }()
	pod, err := f.newPod(ctx, "ab")
	if err != nil {
		return err
	}
	r := f.runner(f.agent.Socket())
	flannel := r.cnitool(ctx, f.confs["a"], "add", pod)
	if flannel.Err != nil {
		return fmt.Errorf("Flannel ADD: %w", flannel.Err)
	}
	defer r.cnitool(context.Background(), f.confs["a"], "del", pod)
	stdin, err := f.net.chainedStdin(byKey(f.variants, "d").entry, flannel.Stdout)
	if err != nil {
		return err
	}
	if bins, err = copyBuilds(paths.RunDir, bins); err != nil {
		return err
	}
	add, del := make([][]procRun, len(bins)), make([][]procRun, len(bins))
	for round := range runs + 1 { // round 0 warms the page cache
		// Each round starts with the next build, so that no build owns a place in the round.
		for j := range bins {
			i := (round + j) % len(bins)
			b := bins[i]
			call := pluginCall{bin: b.Path, node: f.node, containerID: fmt.Sprintf("ccbench-ab-%d", i), pod: pod, stdin: stdin,
				env: []string{"CILIUM_SOCK=" + f.agent.Socket()}, cniPath: paths.cniPath()}
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			call.command = "ADD"
			a := call.run(cctx)
			call.command = "DEL"
			d := call.run(cctx)
			cancel()
			if a.Err != nil || d.Err != nil {
				return fmt.Errorf("%s: ADD %v, DEL %v", b.Name, a.Err, d.Err)
			}
			if round > 0 {
				add[i], del[i] = append(add[i], a), append(del[i], d)
			}
		}
	}
	fmt.Fprintf(w, "%d interleaved rounds, medians\n%-20s %9s %9s %8s %9s %9s %8s\n", runs, "build", "ADD wall", "ADD CPU", "faults", "DEL wall", "DEL CPU", "faults")
	for i, b := range bins {
		aw, ac := summary(add[i])
		dw, dc := summary(del[i])
		fmt.Fprintf(w, "%-20s %6.2f ms %6.2f ms %8d %6.2f ms %6.2f ms %8d\n", b.Name, ms(aw), ms(ac), faults(add[i]), ms(dw), ms(dc), faults(del[i]))
	}
	return f.problems()
}

func faults(runs []procRun) int64 {
	var v []int64
	for _, r := range runs {
		v = append(v, r.Faults)
	}
	return median(v)
}

const abBinDir = "ab-bin"

// copyBuilds runs every build from a copy of its own (installCopy): the builds must differ only in
// their code, not in how their files were written.
func copyBuilds(runDir string, bins []Binary) ([]Binary, error) {
	dir := filepath.Join(runDir, abBinDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	out := make([]Binary, len(bins))
	for i, b := range bins {
		out[i] = Binary{Name: b.Name, Path: filepath.Join(dir, fmt.Sprintf("%d-%s", i, filepath.Base(b.Path)))}
		if err := installCopy(b.Path, out[i].Path); err != nil {
			return nil, fmt.Errorf("copying build %s: %w", b.Name, err)
		}
	}
	return out, nil
}
