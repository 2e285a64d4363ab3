//go:build cluster && clusterbench

package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cilium-chain/cilium-chain/bench"
)

// burstReport is the whole bench run: every round of every variant, in the order they ran.
type burstReport struct {
	started, finished time.Time
	machine           string
	loadStart         string
	loadEnd           string
	replicas, rounds  int
	warmAgent         bool // the agent ran through all rounds (-bench.warm-agent); else restarted before every burst
	killAgent         bool // -bench.kill-agent: the agent was SIGKILLed during every chained burst
	variants          []burstVariant
	runs              []*burstRound
}

func quantile(d []time.Duration, q float64) time.Duration {
	return bench.Quantile(d, q).Round(time.Millisecond)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

// of returns the rounds of one variant in round order.
func (b *burstReport) of(key string) []*burstRound {
	var out []*burstRound
	for _, r := range b.runs {
		if r.variant.key == key {
			out = append(out, r)
		}
	}
	return out
}

// medianOf is the median over rounds of f (durations).
func medianOf(rs []*burstRound, f func(*burstRound) time.Duration) time.Duration {
	var d []time.Duration
	for _, r := range rs {
		d = append(d, f(r))
	}
	return quantile(d, 0.5)
}

func sumOf(rs []*burstRound, f func(*burstRound) int) int {
	n := 0
	for _, r := range rs {
		n += f(r)
	}
	return n
}

func allReady(r *burstRound) time.Duration   { return r.allReady }
func sandboxP50(r *burstRound) time.Duration { return quantile(r.sandbox, 0.5) }
func sandboxP95(r *burstRound) time.Duration { return quantile(r.sandbox, 0.95) }
func delP50(r *burstRound) time.Duration     { return quantile(r.del, 0.5) }
func delP95(r *burstRound) time.Duration     { return quantile(r.del, 0.95) }
func deleteAll(r *burstRound) time.Duration  { return r.deleteAll }
func failures(r *burstRound) int             { return r.runFailed }
func events(r *burstRound) int               { return r.failedEvents }
func refused(r *burstRound) int              { return int(r.agent.create429 + r.agent.get429) }
func regenSum(r *burstRound) time.Duration   { return seconds(r.agent.regenSum) }

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// overFlannel is a round's all-Ready time over Flannel alone's in the same round (the variants of a
// round run back to back, so they share the machine's load of that moment); false without one.
func (b *burstReport) overFlannel(r *burstRound) (time.Duration, bool) {
	for _, f := range b.of("flannel") {
		if f.round == r.round && f.readyErr == "" {
			return r.allReady - f.allReady, true
		}
	}
	return 0, false
}

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

func (b *burstReport) write(mdPath, chartPath string) error {
	var s strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&s, format, a...) }
	chain, up, fl := b.of("chain"), b.of("upstream"), b.of("flannel")
	w("# cilium-chain on a real node: %s\n\n", b.title())
	w("Produced by `%s` (e2e/cluster, build tag `clusterbench`, `TestBenchBurst`) on %s, %s wall time for the whole run (cluster start included).\n\n",
		b.target(), b.started.UTC().Format("2006-01-02 15:04 UTC"), b.finished.Sub(b.started).Round(time.Second))
	w("Machine: %s; load average (1/5/15 min) %s at start, %s at the end. Two cores shared with other work: compare figures only within this run; the variants are interleaved so the noise hits all three alike.\n\n", b.machine, b.loadStart, b.loadEnd)
	w("Chart: [results-node.png](results-node.png).\n\n")
	b.method(w)
	w("## Headline (medians over %d rounds)\n\n%s\n", b.rounds, bench.HeadlineStart)
	b.headline(w, chain, up, fl)
	w("%s\n\n", bench.HeadlineEnd)
	b.targets(w, chain, up)
	if !b.killAgent {
		b.split(w, chain)
	}
	b.perRound(w)
	b.deletePhase(w)
	if err := os.MkdirAll(filepath.Dir(mdPath), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(mdPath, []byte(s.String()), 0o644); err != nil {
		return err
	}
	return b.chart(chartPath)
}

// target is the make target that runs this mode of the bench.
func (b *burstReport) target() string {
	if b.killAgent {
		return "make bench-cluster-crash"
	}
	return "make bench-cluster"
}

// title is what the report and its chart are about.
func (b *burstReport) title() string {
	crash := ""
	if b.killAgent {
		crash = ", the agent killed during every burst"
	}
	return fmt.Sprintf("%d pods at once%s (%s)", b.replicas, crash, b.target())
}

// chartTitle is title in the width of the chart.
func (b *burstReport) chartTitle() string {
	if b.killAgent {
		return fmt.Sprintf("%d pods at once on a real node, the agent killed", b.replicas)
	}
	return fmt.Sprintf("%d pods at once on a real node (%s)", b.replicas, b.target())
}

func (b *burstReport) method(w func(string, ...any)) {
	w("## Method\n\n")
	w("- The real two-node cluster of `make e2e-cluster` (kubelet v1.35.4, containerd v2.2.1, flanneld v0.28.10 host-gw, one control plane), in run.sh's private namespaces; only node 1's cilium-agent v1.20.2 runs (Kubernetes mode, generic-veth chaining, the harness's flags) plus `--prometheus-serve-addr=%s` on node 1's own loopback for its metrics and `--metrics=+%s` (the limiter's wait per request). The agent's **API rate limits are its defaults** (no `--api-rate-limit`): what a user gets — for PUT /endpoint (`endpoint-create`) 0.5/s, burst 4, 4 parallel (auto-adjusting, at least 2), at most 60 s wait (daemon/restapi/api_limits.go).\n", benchMetricsAddr, metricLimiterWaitHistory)
	w("- Three conflists on node 1, all against the same agent, the network name kept (`cbr0`, 0.3.1): (flannel) kube-flannel's `10-flannel.conflist` alone (flannel → bridge + host-local, portmap); (chain) `05-cilium.conflist` = Flannel's entries + `{\"type\": \"cilium-chain\"}`, what the installer writes with the manifest's defaults (the installer itself does not run: it would rewrite the file), the plugin binary from the installer image; (upstream) the same with `{\"type\": \"cilium-cni\", \"chaining-mode\": \"generic-veth\"}`, upstream v1.20.2 built as Cilium ships it (static), chained as Cilium's generic-veth docs do. The file is written by rename (or removed), then a probe pod (the burst's labels) must come up through exactly that chain, with an endpoint for the chained two, and is deleted again: that proves containerd reloaded its config, and warms identity and caches alike for every variant.\n")
	w("- Per round and variant: one Deployment, `replicas: %d`, pinned to node 1 (nodeSelector), the test image's `wait` (exits on SIGTERM; terminationGracePeriodSeconds 5), no readiness probe. **all-Ready** = `kubectl apply` of the Deployment → the last of its pods seen Ready by a `kubectl get pods --watch` (the test's clock; no polling). Then `kubectl delete deployment` (all pods at once): **deleted** = until the last pod is gone from the API and containerd logged the end of its StopPodSandbox.\n", b.replicas)
	w("- Per pod, from containerd's own log (info level, the harness's default, the same for all three; `internal/cri/instrument`): **sandbox** = first `RunPodSandbox for <pod>` → the one that `returns sandbox id` (failed attempts and the kubelet's backoff included); **failed** = `RunPodSandbox … failed` lines; **DEL** = `StopPodSandbox for <id>` → `returns successfully` (stops the pause container, runs the chain's CNI DEL, removes the netns). `FailedCreatePodSandBox` events of the round's pods (summed counts) from the API.\n")
	w("- The agent's own figures, each the difference of two scrapes around the create phase: `%s{api_call=\"endpoint-create\"}` (429 = `return_code=\"429\"`), `%s_sum/_count{scope=\"total\"}` (endpoint regeneration time), `%s{path=\"/v1/endpoint\",method=\"PUT\"}` (PUT answered, the limiter's wait included).\n", metricLimiterProcessed, metricRegeneration, metricAPITime)
	w("- After each delete phase the round fails unless node 1 holds none of it: no pod endpoint in the agent's endpoint list, no host-local reservation under `%s`, no libcni cache entry of the network, nothing in the agent's deletion queue (`/var/run/cilium/deleteQueue`, its lock file aside), no cilium-chain attachment record.\n", hostLocalDir)
	if b.warmAgent {
		w("- `-bench.warm-agent`: the agent runs through all rounds, so every burst meets the endpoint-create limiter as the bursts before it left it (auto-adjusted from the processing time of its last 10 requests).\n")
	} else {
		w("- Before every burst (every variant of every round, after its probe pod) node 1's agent is **restarted**: stopped (SIGTERM) and started again on the same state, mounts and flags, then awaited until its API says Ok and its host endpoint is ready. So every burst meets the endpoint-create limiter as an agent starts — what a node sees after a reboot or an agent upgrade, when the pods of a node come at once — instead of as the previous burst left it. The round fails unless the limiter has processed no request at the burst's start (no gauges yet: it runs on its configuration, %g parallel, %g/s, burst %g, auto-adjusting from the first request on).\n",
			defaultCreateLimiter.parallel, defaultCreateLimiter.rate, defaultCreateLimiter.burst)
	}
	if b.killAgent {
		w("- `-bench.kill-agent`: during every burst of a chained conflist node 1's agent is **SIGKILLed** the moment its endpoint list (polled every 20 ms from the Deployment's create on) shows a pod endpoint still in its first regeneration (realized policy revision 0: its PUT answered or being answered, its policy not yet in force), as a crash or an OOM kill would end it, and started again at once on the same state, mounts and flags. The all-Ready clock keeps running through it. The agent's figures add the killed agent's counters (up to its last scrape, just before the kill) to the new one's.\n")
	}
	w("- %d rounds; round r runs the variants rotated by r−1 (so each variant is first, second and third once per 3 rounds). Medians over rounds (nearest rank: for an even count the lower middle one); ratios between variants are per round (the variants of a round run back to back), then their median and range; p50/p95 per round over its pods.\n\n", b.rounds)
}

func (b *burstReport) headline(w func(string, ...any), chain, up, fl []*burstRound) {
	w("| conflist | all %d Ready | / upstream | / Flannel alone | sandbox p50 | sandbox p95 | failed sandbox creations (events) | agent 429s | DEL p95 | released |\n", b.replicas)
	w("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, v := range b.variants {
		rs := b.of(v.key)
		med := medianOf(rs, allReady)
		released := 0
		for _, r := range rs {
			if len(r.problems) == 0 && r.deleteErr == "" {
				released++
			}
		}
		w("| %s | %s s | %s | %s | %s s | %s s | %d (%d) | %d | %s s | %d/%d rounds |\n", v.label, secs(med), b.ratios(v.key, "upstream"), b.ratios(v.key, "flannel"),
			secs(medianOf(rs, sandboxP50)), secs(medianOf(rs, sandboxP95)), sumOf(rs, failures), sumOf(rs, events), sumOf(rs, refused),
			secs(medianOf(rs, delP95)), released, len(rs))
	}
	w("\nAll-Ready, sandbox and DEL figures are medians over the rounds; the ratios are the medians of the per-round ratios of the all-Ready times (the two variants in the same round), their min–max in brackets; failures, events and 429s (the agent's endpoint-create and endpoint-get limiters) are totals over all rounds.\n")
}

func (b *burstReport) targets(w func(string, ...any), chain, up []*burstRound) {
	if b.killAgent {
		b.crashOutcome(w, chain, up)
		return
	}
	w("\n## Targets (issue 16, on the real node)\n\n| target | measured | limit | met |\n|---|---|---|---|\n")
	fails := sumOf(chain, failures) + sumOf(chain, events)
	w("| failed sandbox creations with cilium-chain | %d failed RunPodSandbox, %d FailedCreatePodSandBox events over %d rounds | 0 | %s |\n",
		sumOf(chain, failures), sumOf(chain, events), len(chain), yes(fails == 0 && len(chain) > 0))
	med, ok := medianRatio(b.roundRatios("chain", "upstream"))
	w("| all-Ready time, cilium-chain / upstream: the median of the per-round ratios | %s (medians of the times: %s s / %s s) | ≤ 0.8 | %s |\n",
		b.ratios("chain", "upstream"), secs(medianOf(chain, allReady)), secs(medianOf(up, allReady)), yes(ok && med <= 0.8))
	over, regen, handling := b.medianSplit(chain)
	w("| cilium-chain's all-Ready time over Flannel alone ≤ the agent's summed endpoint regeneration time (medians over rounds; beside it, not the target: the agent's PUT handling, see the split) | %s s over, %s s regenerating (PUT handling %s s) | over ≤ regeneration | %s |\n",
		secs(over), secs(regen), secs(handling), yes(len(chain) > 0 && over <= regen))
	released := true
	for _, r := range b.runs {
		released = released && len(r.problems) == 0 && r.deleteErr == ""
	}
	w("| every endpoint and IP released, nothing queued, after every delete phase | %s | all rounds | %s |\n\n", b.releaseSummary(), yes(released))
	if n := sumOf(up, failures) + sumOf(up, events) + sumOf(up, refused); n > 0 {
		w("Upstream cilium-cni under the same limiter: %d failed RunPodSandbox, %d FailedCreatePodSandBox events, %d × 429 from the agent over %d rounds (a 429 is final for cilium-cni; the kubelet retries the sandbox).\n\n",
			sumOf(up, failures), sumOf(up, events), sumOf(up, refused), len(up))
	}
	if rs := b.roundRatios("chain", "upstream"); len(rs) > 1 && slices.Min(rs) < 1 && slices.Max(rs) > 1 {
		w("Per round cilium-chain was faster than upstream in some rounds and slower in others: per-round ratios %s, median (min–max).\n\n", b.ratios("chain", "upstream"))
	}
}

// crashOutcome is what the kill did to each chained plugin's pods: the promise is that an agent crash
// fails no pod creation that the restarted agent could still serve, and leaks nothing.
func (b *burstReport) crashOutcome(w func(string, ...any), chain, up []*burstRound) {
	w("\n## The agent killed during every chained burst\n\n| conflist | rounds killed | killed after (median) | agent ready again after (median) | all Ready (median) | failed RunPodSandbox | FailedCreatePodSandBox events | released |\n|---|---|---|---|---|---|---|---|\n")
	for _, v := range b.variants {
		rs := b.of(v.key)
		var killed []*burstRound
		for _, r := range rs {
			if r.killedAt > 0 {
				killed = append(killed, r)
			}
		}
		if len(killed) == 0 {
			continue
		}
		bad := 0
		for _, r := range rs {
			if len(r.problems) > 0 || r.deleteErr != "" {
				bad++
			}
		}
		w("| %s | %d/%d | %s s | %s s | %s s | %d | %d | %d of %d rounds with something left |\n", v.label, len(killed), len(rs),
			secs(medianOf(killed, func(r *burstRound) time.Duration { return r.killedAt })),
			secs(medianOf(killed, func(r *burstRound) time.Duration { return r.killRestart })),
			secs(medianOf(rs, allReady)), sumOf(rs, failures), sumOf(rs, events), bad, len(rs))
	}
	w("\nA failed RunPodSandbox is a CNI ADD that returned an error: the kubelet tears the sandbox down and creates it again after a backoff, and reports FailedCreatePodSandBox.\n\n")
}

// roundRatios are key's all-Ready times over base's of the same round, for the rounds where both
// became Ready.
func (b *burstReport) roundRatios(key, base string) []float64 {
	var out []float64
	for _, r := range b.of(key) {
		for _, o := range b.of(base) {
			if o.round == r.round && r.readyErr == "" && o.readyErr == "" && o.allReady > 0 {
				out = append(out, float64(r.allReady)/float64(o.allReady))
			}
		}
	}
	return out
}

// medianRatio is the nearest-rank median, as bench.Quantile takes it.
func medianRatio(rs []float64) (float64, bool) {
	if len(rs) == 0 {
		return 0, false
	}
	s := slices.Sorted(slices.Values(rs))
	return s[min(max(int(0.5*float64(len(s))+0.5)-1, 0), len(s)-1)], true
}

// ratios is "median (min–max)" of key's per-round ratios to base.
func (b *burstReport) ratios(key, base string) string {
	rs := b.roundRatios(key, base)
	med, ok := medianRatio(rs)
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", med, slices.Min(rs), slices.Max(rs))
}

func (b *burstReport) releaseSummary() string {
	bad := 0
	for _, r := range b.runs {
		if len(r.problems) > 0 || r.deleteErr != "" {
			bad++
		}
	}
	return fmt.Sprintf("%d of %d rounds with something left", bad, len(b.runs))
}

func (b *burstReport) medianSplit(chain []*burstRound) (over, regen, handling time.Duration) {
	var o, g, h []time.Duration
	for _, r := range chain {
		if d, ok := b.overFlannel(r); ok {
			o, g, h = append(o, d), append(g, regenSum(r)), append(h, putHandling(r))
		}
	}
	return quantile(o, 0.5), quantile(g, 0.5), quantile(h, 0.5)
}

// putHandling is the agent's time for the burst's PUTs as one parallel slot of its limiter sees it:
// summed PUT time (the limiter's wait + processing, request to answer) over the parallel limit it
// ended the burst with. An estimate: the limit moves during the burst.
func putHandling(r *burstRound) time.Duration {
	return seconds(r.agent.putSum / max(r.agent.parallelLimit, 1))
}

func (b *burstReport) split(w func(string, ...any), chain []*burstRound) {
	w("## The split: cilium-chain's time over Flannel alone and the agent's own work\n\n")
	w("Per round: cilium-chain's all-Ready time minus Flannel alone's of the same round, beside what the agent itself reports for that create phase. **The target** compares the time over Flannel with the agent's summed endpoint regeneration time (`%s`, scope total): its own work on the %d endpoints once it accepted them (it regenerates in parallel, so the sum bounds its critical path from above). **Beside it, not the target**, the agent's PUT /endpoint handling — what it spends before it answers the plugin, from `%s` (request to answer): the limiter's wait (its wait histogram `%s`) and the rest, processing (PUT sum − wait sum); *PUT handling* = PUT sum / the limiter's parallel limit at the end of the burst, an estimate of the wall time the PUTs held the agent's slots (the limit moves during the burst). cilium-chain's PUT does not ask for a synchronous build, so the agent answers it before the first regeneration; the plugin then waits for that regeneration itself with GET /endpoint/{id} (the endpoint-get limiter, its own 429s counted apart). Upstream's PUT asks for a synchronous build: its PUT time includes the regeneration.\n\n",
		metricRegeneration, b.replicas, metricAPITime, metricLimiterWaitHistory)
	w("| round | / upstream (same round) | over Flannel alone | regenerations | regeneration sum | over ≤ regeneration sum (target) | PUT answered | PUT mean | PUT wait sum | PUT processing sum | parallel limit (end) | PUT handling | 429s (create) | GET /endpoint/{id} (429s) | limiter at the start | agent restart |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range chain {
		d, ok := b.overFlannel(r)
		a := r.agent
		over, met := "—", "—"
		if ok {
			over, met = secs(d)+" s", yes(d <= regenSum(r))
		}
		vsUp := "—"
		for _, u := range b.of("upstream") {
			if u.round == r.round {
				vsUp = ratio(r.allReady, u.allReady)
			}
		}
		w("| %d | %s | %s | %d | %s s | %s | %d | %s s | %s s | %s s | %d | %s s | %d | %d (%d) | %s | %s |\n", r.round, vsUp, over, int(a.regenCount), secs(regenSum(r)), met,
			int(a.putCount), secs(seconds(a.putSum/max(a.putCount, 1))), secs(seconds(a.waitSum)), secs(seconds(a.putSum-a.waitSum)),
			int(a.parallelLimit), secs(putHandling(r)), int(a.create429), int(a.getProcessed), int(a.get429), r.limiter, restartCell(r))
	}
	b.whereTimeGoes(w)
	w("\n")
}

func killCell(r *burstRound) string {
	if r.killedAt == 0 {
		return "—"
	}
	return fmt.Sprintf("at %s s (%s s)", secs(r.killedAt), secs(r.killRestart))
}

func restartCell(r *burstRound) string {
	if r.restart == 0 {
		return "—"
	}
	return secs(r.restart) + " s"
}

// whereTimeGoes sums, per chained plugin over its bursts, how the agent's PUT time splits into the
// limiter's wait and processing, beside the regeneration time.
func (b *burstReport) whereTimeGoes(w func(string, ...any)) {
	for _, v := range burstVariants {
		var put, wait, regen, n, gets float64
		for _, r := range b.of(v.key) {
			if r.agent.putCount > 0 {
				put, wait, regen, n = put+r.agent.putSum, wait+r.agent.waitSum, regen+r.agent.regenSum, n+r.agent.putCount
				gets += r.agent.getProcessed
			}
		}
		if n == 0 {
			continue
		}
		w("\n%s, over its bursts (%d PUTs, %d GET /endpoint/{id}): a PUT took %.2f s on average from request to answer, %.0f%% of it waiting in the limiter, %.2f s processing; an endpoint regeneration %.2f s on average (summed regeneration %.0f s against %.0f s of PUT time).\n",
			v.label, int(n), int(gets), put/n, 100*wait/max(put, 1e-9), (put-wait)/n, regen/n, regen, put)
	}
	if b.warmAgent {
		w("The agent ran through all rounds (`-bench.warm-agent`): every burst met the limiter as the bursts before it left it.\n")
	}
}

func (b *burstReport) perRound(w func(string, ...any)) {
	w("## Every round (create phase)\n\n| round | order | conflist | pods | all Ready | sandbox p50 | sandbox p95 | failed RunPodSandbox | FailedCreatePodSandBox events | endpoint-create processed | 429s | regenerations | regeneration sum | PUT mean | limiter wait / processing (last 10) | limiter at the start | agent restart | agent killed (back after) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range b.runs {
		ready := secs(r.allReady) + " s"
		if r.readyErr != "" {
			ready = "not all Ready after " + ready + ": " + r.readyErr
		}
		a := r.agent
		limiter := "—"
		if a.createProcessed > 0 {
			limiter = fmt.Sprintf("%s s / %s s", secs(seconds(a.waitMean)), secs(seconds(a.processingMean)))
		}
		w("| %d | %d | %s | %d | %s | %s s | %s s | %d | %d | %d | %d | %d | %s s | %s s | %s | %s | %s | %s |\n", r.round, r.order, r.variant.label, r.pods, ready,
			secs(sandboxP50(r)), secs(sandboxP95(r)), r.runFailed, r.failedEvents, int(a.createProcessed), int(a.create429), int(a.regenCount),
			secs(regenSum(r)), secs(seconds(a.putSum/max(a.putCount, 1))), limiter, r.limiter, restartCell(r), killCell(r))
	}
	w("\n")
}

func (b *burstReport) deletePhase(w func(string, ...any)) {
	w("## Delete phase: the Deployment deleted, all %d pods at once\n\n", b.replicas)
	w("DEL per pod = containerd's StopPodSandbox (pause stopped, the chain's CNI DEL, netns removed), from its log. \"Released\" lists what the checks found left after the last pod was gone (endpoints, host-local IPs, libcni cache, the agent's deletion queue, attachment records).\n\n")
	w("| round | conflist | all gone | DEL p50 | DEL p95 | failed StopPodSandbox | released |\n|---|---|---|---|---|---|---|\n")
	for _, r := range b.runs {
		released := "everything"
		if r.deleteErr != "" || len(r.problems) > 0 {
			released = "**no**: " + strings.Join(slices.Concat([]string{r.deleteErr}, r.problems), "; ")
		}
		w("| %d | %s | %s s | %s s | %s s | %d | %s |\n", r.round, r.variant.label, secs(r.deleteAll), secs(delP50(r)), secs(delP95(r)), r.delFailed, released)
	}
	w("\nMedians over rounds:\n\n| conflist | all gone | DEL p50 | DEL p95 |\n|---|---|---|---|\n")
	for _, v := range b.variants {
		rs := b.of(v.key)
		w("| %s | %s s | %s s | %s s |\n", v.label, secs(medianOf(rs, deleteAll)), secs(medianOf(rs, delP50)), secs(medianOf(rs, delP95)))
	}
}

func (b *burstReport) chart(path string) error {
	ch := bench.NodeChart{
		Title:    b.chartTitle(),
		Subtitle: fmt.Sprintf("%s, %d rounds, cilium-agent v1.20.2 (default API rate limits) %s", b.started.UTC().Format("2006-01-02 15:04 UTC"), b.rounds, b.agentMode()),
		Legend:   "dots: samples; box: p25-p75; whiskers: p5-p95; bar: median",
	}
	panel := func(title string, f func(*burstRound) []time.Duration) {
		p := bench.NodePanel{Title: title, Unit: "s", Div: time.Second}
		for _, v := range b.variants {
			var d []time.Duration
			for _, r := range b.of(v.key) {
				d = append(d, f(r)...)
			}
			p.Rows = append(p.Rows, bench.NodeRow{Label: v.label, Key: v.chartKey, OK: d})
		}
		ch.Panels = append(ch.Panels, p)
	}
	panel("all pods Ready after the Deployment's create (one dot per round)", func(r *burstRound) []time.Duration { return []time.Duration{r.allReady} })
	panel("sandbox creation per pod (containerd RunPodSandbox, all rounds)", func(r *burstRound) []time.Duration { return r.sandbox })
	panel("DEL per pod (containerd StopPodSandbox, all rounds)", func(r *burstRound) []time.Duration { return r.del })
	split := bench.NodePanel{Title: "cilium-chain: all-Ready time over Flannel alone vs the agent's regeneration time (per round)", Unit: "s", Div: time.Second}
	var over, regen, handling []time.Duration
	for _, r := range b.of("chain") {
		if d, ok := b.overFlannel(r); ok {
			over, regen, handling = append(over, d), append(regen, regenSum(r)), append(handling, putHandling(r))
		}
	}
	split.Rows = []bench.NodeRow{{Label: "over Flannel alone", Key: "d", OK: over}, {Label: "agent regeneration sum", Key: "a", OK: regen},
		{Label: "agent PUT handling (sum / parallel limit)", Key: "c", OK: handling}}
	if len(over) > 0 { // not without Flannel alone's rounds
		ch.Panels = append(ch.Panels, split)
	}
	return ch.Write(path)
}

func (b *burstReport) agentMode() string {
	switch {
	case b.killAgent:
		return "SIGKILLed during each burst"
	case b.warmAgent:
		return "running through all rounds"
	}
	return "restarted before each burst"
}
