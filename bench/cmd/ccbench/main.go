// Command ccbench runs the cilium-chain benchmarks (issue 5) and writes bench/results.md and
// bench/results.png. It needs root (network namespaces, the real agent); `make bench` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cilium-chain/cilium-chain/bench"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "ccbench: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	repo, _ := os.Getwd()
	home, _ := os.UserHomeDir()
	peerDir := os.Getenv("PEER_DIR")
	if peerDir == "" {
		peerDir = filepath.Join(home, ".cache", "cilium-chain")
	}
	o := bench.Options{}
	flag.StringVar(&repo, "repo", repo, "the cilium-chain clone")
	flag.StringVar(&peerDir, "peer-dir", peerDir, "PEER_DIR of e2e/peers.sh")
	out := flag.String("out", "bench/results.md", "Markdown report")
	chart := flag.String("chart", "bench/results.png", "PNG chart")
	nodeMD := flag.String("node-results", "bench/results-node.md", "the real-node bench's report (make bench-cluster), whose headline the report copies")
	flag.IntVar(&o.Cycles, "cycles", 150, "interleaved rounds of every variant through cnitool")
	flag.IntVar(&o.Warmup, "warmup", 5, "rounds discarded first")
	flag.IntVar(&o.ProcRuns, "proc-runs", 30, "direct execs per plugin")
	flag.IntVar(&o.Pods, "pods", 100, "pods ADDed at once")
	flag.BoolVar(&o.Fake, "fake", true, "the fake-agent parts (overhead, process cost, concurrency)")
	flag.BoolVar(&o.Slow, "slow", true, "also the agent-default limiter scenarios (~6 min)")
	flag.BoolVar(&o.Real, "real", true, "the real cilium-agent part")
	flag.IntVar(&o.RealCycles, "real-cycles", 20, "rounds per plugin against the real agent")
	raw := flag.String("raw", "bench/tmp/results.json", "raw samples (JSON), for -replot")
	replot := flag.Bool("replot", false, "only redraw -out and -chart from -raw, measuring nothing")
	flag.DurationVar(&o.AgentWait, "agent-wait", 20*time.Minute, "wait at most this long for the agent lock and other agents")
	ab := flag.String("ab", "", "only compare plugin builds, name=path,name=path…: one-process ADD+DEL, interleaved (make bench-ab)")
	flag.Parse()
	if *replot {
		res, err := bench.LoadJSON(*raw)
		if err != nil {
			return err
		}
		return write(res, *out, *chart, *nodeMD)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root: network namespaces, mounts, the real agent")
	}

	runDir, err := os.MkdirTemp("", "ccbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(runDir)
	o.Paths = bench.Paths{Repo: repo, PeerDir: peerDir, BinDir: filepath.Join(repo, "bench", "tmp", "bin"), RunDir: runDir}
	o.Logf = func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[bench %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
	}
	bench.RemoveStale()
	if err := o.Paths.Prepare(); err != nil {
		return err
	}
	// Interrupted runs still clean up: every step watches ctx and the deferred teardowns run.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *ab != "" {
		bins, err := parseBinaries(*ab)
		if err != nil {
			return err
		}
		return bench.RunAB(ctx, o.Paths, bins, o.ProcRuns, os.Stdout)
	}
	res, runErr := bench.Run(ctx, o)
	if err := os.MkdirAll(filepath.Dir(*raw), 0o755); err != nil {
		return err
	}
	if err := res.SaveJSON(*raw); err != nil {
		return err
	}
	if err := write(res, *out, *chart, *nodeMD); err != nil {
		return err
	}
	o.Logf("wrote %s, %s and %s", *out, *chart, *raw)
	return runErr
}

// parseBinaries reads -ab's name=path list.
func parseBinaries(list string) ([]bench.Binary, error) {
	var bins []bench.Binary
	for _, item := range strings.Split(list, ",") {
		name, path, ok := strings.Cut(item, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("-ab: %q is not name=path", item)
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		bins = append(bins, bench.Binary{Name: name, Path: abs})
	}
	return bins, nil
}

func write(res *bench.Results, out, chart, nodeMD string) error {
	if err := res.WriteChart(chart); err != nil {
		return err
	}
	return res.WriteMarkdown(out, filepath.Base(chart), nodeMD)
}
