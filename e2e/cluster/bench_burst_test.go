//go:build cluster && clusterbench

package cluster

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/bench"
)

var (
	benchRounds   = flag.Int("bench.rounds", 6, "rounds; each runs every variant once, the order rotated by one per round")
	benchReplicas = flag.Int("bench.pods", 40, "replicas of each round's Deployment")
	benchVariants = flag.String("bench.variants", "flannel,chain,upstream", "the conflists, in round 1's order")
	benchPlugin   = flag.String("bench.plugin", "", "the cilium-chain binary to install (default: the installer image's)")
	benchOut      = flag.String("bench.out", "", "the results (default <repo>/bench/results-node.md; the chart beside it as .png)")
	benchKill     = flag.Bool("bench.kill-agent", false, "SIGKILL node 1's agent during every burst of a chained conflist, once it lists one of the burst's endpoints in its first regeneration, and start it again (use with -bench.out: the report is not the issue's targets)")
	benchWarm     = flag.Bool("bench.warm-agent", false, "keep node 1's agent running through all rounds (its API limiter carries over from one burst to the next); default: restart it before every burst")
)

// TestBenchBurst is issue 16 on the real node (make bench-cluster): a Deployment's pods created and
// deleted all at once on node 1 under Flannel alone, Flannel + cilium-chain and Flannel + upstream
// cilium-cni, against one real agent with its default API rate limits; see bench_report.go's method.
func TestBenchBurst(t *testing.T) {
	rep := &burstReport{started: time.Now(), machine: bench.MachineLine(), loadStart: bench.LoadAverage(), replicas: *benchReplicas, rounds: *benchRounds,
		variants: pickBurstVariants(t, *benchVariants), warmAgent: *benchWarm, killAgent: *benchKill}
	e := loadEnv(t)
	var release func()
	// Registered first, so it runs last: the agent lock is held through the whole teardown.
	t.Cleanup(func() {
		if release != nil {
			release()
		}
	})
	c := startCluster(t, e)
	release, _ = takeAgentLock(t, e)
	n := c.nodes[0]
	n.agentExtra = benchAgentFlags
	n.startAgent(t, c.cp)
	c.agent, c.api = n.agent, n.api
	// Pods go before the agent stops, so their DEL reaches it.
	t.Cleanup(func() { c.deleteAllPods(t) })
	installBenchPlugins(t, e)
	if _, err := scrapeAgentMetrics(); err != nil {
		t.Fatalf("node 1's agent serves no metrics on %s: %v", benchMetricsAddr, err)
	}

	for round := 1; round <= rep.rounds; round++ {
		for i := range rep.variants {
			v := rep.variants[(i+round-1)%len(rep.variants)]
			rep.runs = append(rep.runs, c.runBurstRound(t, v, round, i+1, rep.replicas, burstMode{restart: !rep.warmAgent, kill: rep.killAgent}))
		}
	}
	burstVariants[0].install(t, c.flannel) // the node as the cluster started: Flannel alone

	rep.finished, rep.loadEnd = time.Now(), bench.LoadAverage()
	md := *benchOut
	if md == "" {
		md = filepath.Join(e.repo, "bench", "results-node.md")
	}
	chart := strings.TrimSuffix(md, ".md") + ".png"
	if err := rep.write(md, chart); err != nil {
		t.Fatalf("results: %v", err)
	}
	t.Logf("wrote %s and %s", md, chart)
}

// installBenchPlugins puts both chained plugins where the conflists find them: cilium-chain as the
// installer image ships it (or -bench.plugin), upstream cilium-cni from PEER_DIR.
func installBenchPlugins(t *testing.T, e *env) {
	t.Helper()
	ours := *benchPlugin
	if ours == "" {
		ours = filepath.Join(e.images, "v1", "cilium-chain")
	}
	for dst, src := range map[string]string{"cilium-chain": ours, "cilium-cni": e.bin("cilium-cni")} {
		if err := copyExecutable(src, filepath.Join(cniBinDir, dst)); err != nil {
			t.Fatalf("install %s: %v", dst, err)
		}
	}
}
