//go:build cluster && clusterbench

package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cilium-chain/cilium-chain/chain"
	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// burstApp is the label of every bench pod (probes too): one identity for all rounds.
const burstApp = "burst"

// Per phase: how long the bench waits for all pods (Ready, deleted) before it reports the round
// as not done. The kubelet gives a sandbox 4 minutes.
const (
	burstReadyTimeout  = 8 * time.Minute
	burstDeleteTimeout = 4 * time.Minute
)

// burstRound is what one round of one variant measured.
type burstRound struct {
	variant      burstVariant
	round, order int    // 1-based round, position of the variant in it
	deployment   string // burst-r<round>-<variant>
	pods         int    // pods seen

	allReady     time.Duration // Deployment create → the last of its pods Ready
	readyErr     string        // why not all pods became Ready in time
	sandbox      []time.Duration
	runFailed    int // RunPodSandbox calls that failed (containerd's log)
	failedEvents int // FailedCreatePodSandBox events (their counts)
	agent        agentFigures
	restart      time.Duration // the agent's restart before the burst (stop → ready); 0: not restarted
	killedAt     time.Duration // -bench.kill-agent: Deployment create → the agent SIGKILLed; 0: not killed
	killRestart  time.Duration // the kill → the agent ready again
	limiter      limiterState  // endpoint-create's limiter as the burst found it

	deleteAll time.Duration   // Deployment delete → the last pod gone from the API, its sandbox stopped
	deleteErr string          // why not
	del       []time.Duration // StopPodSandbox per sandbox (pause stopped + CNI DEL of the chain)
	delFailed int
	problems  []string // release checks that failed
}

// burstDeploymentYAML is the burst: replicas pods on node with the test app's `wait` (it exits on
// SIGTERM, so deletion needs no grace period), no readiness probe (a probe period would quantise
// Ready).
func burstDeploymentYAML(name, image, node string, replicas int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
  namespace: default
spec:
  replicas: %d
  selector:
    matchLabels: {app: %s}
  template:
    metadata:
      labels: {app: %s}
    spec:
`, name, replicas, burstApp, burstApp) + appPodSpecYAML("      ", "", node, image, `["wait"]`, "")
}

// burstMode is what a round does to the agent: restart it before the burst (so the burst meets its
// API limiter as it starts), kill it during the burst of a chained conflist.
type burstMode struct{ restart, kill bool }

// runBurstRound makes v the node's config (proven by a probe pod), restarts the agent if asked,
// creates the Deployment, kills the agent meanwhile if asked, waits for all pods Ready, deletes it,
// waits for all pods gone, and checks that nothing was left behind.
func (c *cluster) runBurstRound(t *testing.T, v burstVariant, round, order, replicas int, mode burstMode) *burstRound {
	t.Helper()
	r := &burstRound{variant: v, round: round, order: order, deployment: fmt.Sprintf("burst-r%d-%s", round, v.key)}
	n := c.nodes[0]
	v.install(t, c.flannel)
	c.probe(t, v, fmt.Sprintf("probe-r%d-%s", round, v.key))
	if mode.restart {
		r.restart = c.restartAgent(t, n)
	}

	w, err := c.watchPods("app="+burstApp, r.deployment+"-")
	if err != nil {
		t.Fatalf("watch pods: %v", err)
	}
	defer w.stop()
	logAt := logSize(n.containerd.LogPath())
	before, err := scrapeAgentMetrics()
	if err != nil {
		t.Fatal(err)
	}
	r.limiter = before.createLimiter()
	if mode.restart && !r.limiter.fresh() {
		t.Errorf("%s: the agent was restarted, yet its endpoint-create limiter is not fresh: %s", r.deployment, r.limiter)
	}
	began := time.Now()
	if _, err := c.k.apply(t.Context(), burstDeploymentYAML(r.deployment, c.images.TestApp, n.name, replicas)); err != nil {
		t.Fatalf("create %s: %v", r.deployment, err)
	}
	var lost agentFigures // the killed agent's share, up to its last scrape
	if mode.kill && v.key != "flannel" {
		if at, back, atKill := c.killAgentMidBurst(t, n, began); atKill != nil {
			r.killedAt, r.killRestart = at, back
			lost, before = figuresBetween(before, atKill), nil // the new agent counts from zero
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), burstReadyTimeout)
	err = w.waitReady(ctx, replicas)
	cancel()
	r.allReady = time.Since(began)
	if err != nil {
		r.readyErr = err.Error()
		t.Errorf("%s: %v", r.deployment, err)
	}
	after, err := scrapeAgentMetrics()
	if err != nil {
		t.Fatal(err)
	}
	r.agent = lost.plus(figuresBetween(before, after))

	delBegan := time.Now()
	c.k.must(t, "delete", "deployment", r.deployment, "--wait=false")
	ctx, cancel = context.WithTimeout(t.Context(), burstDeleteTimeout)
	err = w.waitDeleted(ctx, replicas)
	cancel()
	pods := w.stop()
	r.pods = len(pods)
	uids := map[string]bool{}
	for _, p := range pods {
		uids[p.uid] = true
	}
	var calls *criCalls
	if err == nil {
		err = peer.Eventually(time.Minute, 200*time.Millisecond, func() error {
			calls, err = readCRICalls(n.containerd.LogPath(), logAt)
			if err != nil {
				return err
			}
			for uid := range uids {
				if id, ok := calls.sandbox[uid]; ok && calls.stopDone[id].IsZero() {
					return fmt.Errorf("sandbox %.12s of pod %s not stopped", id, uid)
				}
			}
			return nil
		})
	}
	r.deleteAll = time.Since(delBegan)
	if err != nil {
		r.deleteErr = err.Error()
		t.Errorf("%s: deletion: %v", r.deployment, err)
	}
	if calls == nil {
		if calls, err = readCRICalls(n.containerd.LogPath(), logAt); err != nil {
			t.Fatal(err)
		}
	}
	for uid := range uids {
		r.runFailed += calls.runFailed[uid]
		if done, ok := calls.runDone[uid]; ok {
			r.sandbox = append(r.sandbox, done.Sub(calls.runStart[uid]))
		}
		id := calls.sandbox[uid]
		r.delFailed += calls.stopFail[id]
		if done := calls.stopDone[id]; id != "" && !done.IsZero() {
			r.del = append(r.del, done.Sub(calls.stopStart[id]))
		}
	}
	r.failedEvents = c.failedSandboxEvents(t, uids)
	r.problems = c.leftovers(n)
	for _, p := range r.problems {
		t.Errorf("%s: after deleting all pods: %s", r.deployment, p)
	}
	t.Logf("%s: limiter at the start: %s; %d pods, all Ready in %s, sandbox p50 %s p95 %s, %d failed sandbox creations (%d events), %d × 429 of %d endpoint-create, regeneration %d × %.2fs = %.1fs; deleted in %s, DEL p95 %s; release checks: %s",
		r.deployment, r.limiter, r.pods, r.allReady.Round(time.Millisecond), quantile(r.sandbox, 0.5), quantile(r.sandbox, 0.95),
		r.runFailed, r.failedEvents, int(r.agent.create429), int(r.agent.createProcessed), int(r.agent.regenCount),
		r.agent.regenSum/max(r.agent.regenCount, 1), r.agent.regenSum, r.deleteAll.Round(time.Millisecond),
		quantile(r.del, 0.95), r.checkSummary())
	return r
}

func (r *burstRound) checkSummary() string {
	if len(r.problems) == 0 {
		return "all released"
	}
	return strings.Join(r.problems, "; ")
}

// leftovers is what must be gone once every pod of node n was deleted (the bench's pods are its only
// ones): agent endpoints of pods, host-local reservations, libcni cache entries of the network,
// entries of the agent's deletion queue and cilium-chain attachment records.
func (c *cluster) leftovers(n *node) []string {
	var out []string
	if eps, err := n.api.podEndpoints(); err != nil {
		out = append(out, fmt.Sprintf("agent endpoint list: %v", err))
	} else {
		for _, ep := range eps {
			out = append(out, fmt.Sprintf("agent endpoint %d (%s) not released", ep.ID, ep.Status.ExternalIdentifiers.CniAttachmentID))
		}
	}
	if res, err := hostLocalReservationsIn(n.file(hostLocalDir)); err != nil {
		out = append(out, err.Error())
	} else {
		for ip, id := range res {
			out = append(out, fmt.Sprintf("IP %s still reserved in host-local for %.12s", ip, id))
		}
	}
	if entries, err := readCacheEntriesIn(n.file(libcniCacheDir)); err != nil {
		out = append(out, err.Error())
	} else {
		for _, e := range entries {
			if e.NetworkName == networkName {
				out = append(out, fmt.Sprintf("libcni cache entry %s left", filepath.Base(e.path)))
			}
		}
	}
	// The agent's lock file stays in its queue dir while it runs.
	for _, d := range []struct{ dir, what, keep string }{
		{chain.DefaultDeleteQueueDir, "queued in the agent's deletion queue", "lockfile"},
		{filepath.Join(chain.DefaultStateDir, networkName), "cilium-chain attachment record", ""},
	} {
		names, err := dirNames(n.file(d.dir))
		if err != nil {
			out = append(out, err.Error())
		}
		for _, name := range names {
			if name != d.keep {
				out = append(out, fmt.Sprintf("%s: %s", d.what, filepath.Join(d.dir, name)))
			}
		}
	}
	slices.Sort(out)
	return out
}

// dirNames lists a directory; one that does not exist is empty.
func dirNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, nil
}

// restartAgent stops node's agent and starts it again on the same state, mounts and flags (as after
// a node's reboot or an agent upgrade), waiting until it is ready; it returns how long that took.
func (c *cluster) restartAgent(t *testing.T, n *node) time.Duration {
	t.Helper()
	began := time.Now()
	if err := n.agent.Stop(60 * time.Second); err != nil {
		t.Fatalf("%s: stop the agent: %v", n, err)
	}
	n.runAgent(t, c.cp)
	c.agent, c.api = n.agent, n.api
	return time.Since(began)
}

// killAgentMidBurst is killAgentDuringRegeneration with the killed agent's metrics scraped just before
// the kill; it returns when the kill happened after began (0: no kill).
func (c *cluster) killAgentMidBurst(t *testing.T, n *node, began time.Time) (at, back time.Duration, last agentMetrics) {
	t.Helper()
	var scrapeErr error
	killed, back, ok := c.killAgentDuringRegeneration(t, n, burstReadyTimeout, func() { last, scrapeErr = scrapeAgentMetrics() })
	if scrapeErr != nil {
		t.Fatal(scrapeErr)
	}
	if !ok {
		return 0, 0, nil
	}
	return killed.Sub(began), back, last
}
