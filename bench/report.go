package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// WriteMarkdown renders the results as bench/results.md; nodeMD is the real-node bench's report
// (bench/results-node.md), whose headline it copies, as it does its agent-killed twin's (crashReport).
func (res *Results) WriteMarkdown(path, chartName, nodeMD string) error {
	var b strings.Builder
	res.header(&b, chartName)
	nodeHeadline(&b, "On a real node", "make bench-cluster", nodeMD, filepath.Dir(path))
	if crash := crashReport(nodeMD); statOK(crash) { // an optional run: no "not run yet"
		nodeHeadline(&b, "On a real node, the agent killed during every burst", "make bench-cluster-crash", crash, filepath.Dir(path))
	}
	res.targets(&b)
	res.overheadTable(&b)
	res.procTable(&b)
	res.concTable(&b)
	res.realTable(&b)
	fmt.Fprintf(&b, "## 5. In-process hot paths (`go test -bench . -benchmem ./chain/`)\n\n```\n%s\n```\n", res.GoBench)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func (res *Results) header(b *strings.Builder, chartName string) {
	m := res.Machine
	fmt.Fprintf(b, "# cilium-chain vs upstream cilium-cni v1.20.2 (generic-veth): benchmark results\n\n")
	fmt.Fprintf(b, "Produced by `make bench` (bench/cmd/ccbench) on %s, %s wall time.\n\n", res.Started.Format("2006-01-02 15:04 MST"), res.Finished.Sub(res.Started).Round(time.Second))
	fmt.Fprintf(b, "Machine: %s. Load average (1/5/15 min) at start %s, at end %s: the cores are shared with other builds, so compare figures only within one run; the variants are interleaved so the noise hits all of them alike.\n\n",
		m, m.LoadStart, m.LoadEnd)
	fmt.Fprintf(b, "Upstream cilium-cni is built as Cilium ships it: static, `CGO_ENABLED=0 go build -trimpath -ldflags='-s -w'` (e2e/peers.sh; the bench refuses a binary with an ELF interpreter).\n\n")
	fmt.Fprintf(b, "Chart of the latency distributions: [%s](%s).\n\n", chartName, chartName)
	b.WriteString("Where one cilium-chain ADD process spends its time (perf, strace, before and after issue 16): [profile.md](profile.md).\n\n")
}

// ratio is a/b, or NaN-free 0 when b is not positive.
func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

func (res *Results) targets(b *strings.Builder) {
	fmt.Fprintf(b, "## Targets (issues 5 and 16)\n\n| target | measured | limit | met |\n|---|---|---|---|\n")
	row := func(name, measured string, ok bool, limit string) {
		mark := "no"
		if ok {
			mark = "yes"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", name, measured, limit, mark)
	}
	if o := res.Overhead; o != nil && o.index("a") >= 0 {
		// of is a variant's ADD or DEL latencies; an overhead is over Flannel alone's ("a").
		of := func(key string, add bool) sample {
			i := o.index(key)
			switch {
			case i < 0:
				return nil
			case add:
				return o.Add[i]
			}
			return o.Del[i]
		}
		over := func(key string, add bool) float64 { return ms(of(key, add).median() - of("a", add).median()) }
		// measured is key's ratio to ref with its parts and its bootstrap interval, said against the
		// limit, and whether the ratio meets the limit.
		measured := func(key, ref string, add bool, limit float64) (string, bool) {
			base, x, r := of("a", add), of(key, add), of(ref, add)
			got := overheadRatio(base, x, r)
			lo, hi := ratioInterval(base, x, r)
			where := "straddles the limit"
			switch {
			case hi <= limit:
				where = "within the limit"
			case lo > limit:
				where = "above the limit"
			}
			return fmt.Sprintf("%.2f (%.1f ms / %.1f ms); 95 %% interval %.2f–%.2f, %s", got, over(key, add), over(ref, add), lo, hi, where), got <= limit
		}
		targets := []struct {
			name  string
			add   bool
			ref   string
			limit float64
		}{{"ADD overhead / upstream's", true, "c", 0.5}, {"ADD overhead / no-op's", true, "b", 2.5}, {"DEL overhead / upstream's", false, "c", 0.6}}
		for _, t := range targets {
			text, met := measured("d", t.ref, t.add, t.limit)
			row("cilium-chain "+t.name, text, met, fmt.Sprintf("≤ %g", t.limit))
		}
		// The floor: the no-op linked with cilium-chain's packages, i.e. with the mandated API client.
		// Its ratio is the best any plugin linking that client can reach; "met" says whether even it does.
		for _, t := range targets {
			text, met := measured("bi", t.ref, t.add, t.limit)
			row("floor (no-op + cilium-chain's imports): "+t.name, fmt.Sprintf("%s; the floor is %.0f %% of cilium-chain's %.1f ms",
				text, 100*ratio(over("bi", t.add), over("d", t.add)), over("d", t.add)), met, fmt.Sprintf("≤ %g (reachable?)", t.limit))
		}
	}
	if up, ch := res.proc("c"), res.proc("d"); up != nil && ch != nil {
		rs := float64(ch.SizeBytes) / float64(up.SizeBytes)
		upRSS, chRSS := median(up.AddRSS), median(ch.AddRSS)
		rr := ratio(float64(chRSS), float64(upRSS))
		row("binary size / upstream's", fmt.Sprintf("%.2f (%.1f MB / %.1f MB)", rs, mb(ch.SizeBytes), mb(up.SizeBytes)), rs <= 0.6, "≤ 0.6")
		row("peak RSS of one ADD / upstream's", fmt.Sprintf("%.2f (%.1f MB / %.1f MB)", rr, float64(chRSS)/1024, float64(upRSS)/1024), rr <= 0.6, "≤ 0.6")
	}
	for _, c := range res.Conc {
		if c.Variant.Type == chainType && c.Limit.Rate < 1 {
			row(fmt.Sprintf("%d parallel ADDs, %s limiter, cilium-chain %s", c.Pods, c.Limit.Name, c.Note),
				fmt.Sprintf("%d %% in %s", 100*c.AddOK/c.Pods, c.AddWall.Round(time.Second)), c.AddOK == c.Pods, "100 % within its deadline")
		}
	}
	b.WriteString("\n")
}

func (res *Results) proc(key string) *procCost {
	for _, p := range res.Proc {
		if p.Variant.Key == key {
			return p
		}
	}
	return nil
}

func mb(n int64) float64 { return float64(n) / 1e6 }

func (res *Results) overheadTable(b *strings.Builder) {
	o := res.Overhead
	if o == nil {
		return
	}
	fmt.Fprintf(b, "## 1. ADD/DEL through cnitool on the Flannel chain (Flannel → bridge → host-local), fake agent answering at once\n\n")
	fmt.Fprintf(b, "%d rounds of every variant interleaved (after %d warm-up rounds), each an ADD then a DEL of the variant's own pod; cniVersion %s; wall time %s. Overhead = median(x) − median(a). Milliseconds. (bi) is the floor of any plugin that links the mandated API client (cilium/cilium/api/v1/client + models): the no-op linked with all of cilium-chain's packages (bench/noop, tag importchain), doing nothing with them. cilium-chain keeps its attachment records on a tmpfs the bench mounts, as its default /var/run/cilium-chain is on a node (/run is tmpfs there, not on every bench machine).\n\n",
		res.Opts.Cycles, res.Opts.Warmup, cniVersion, o.Wall.Round(time.Second))
	fmt.Fprintf(b, "| variant | ADD median | ADD p95 | DEL median | DEL p95 | ADD+DEL median | ADD+DEL p95 | ADD overhead | DEL overhead | ADD+DEL overhead | failed rounds |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	ia := o.index("a")
	a, ad, ac := o.Add[ia].median(), o.Del[ia].median(), o.cycle(ia).median()
	for i, v := range o.Variants {
		cy := o.cycle(i)
		over := func(x, base time.Duration) string {
			if i == ia {
				return "—"
			}
			return fmt.Sprintf("%+.1f", ms(x-base))
		}
		fmt.Fprintf(b, "| (%s) %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %s | %s | %s | %d |\n", v.Key, v.Label,
			ms(o.Add[i].median()), ms(o.Add[i].p95()), ms(o.Del[i].median()), ms(o.Del[i].p95()), ms(cy.median()), ms(cy.p95()),
			over(o.Add[i].median(), a), over(o.Del[i].median(), ad), over(cy.median(), ac), o.Failures[i])
	}
	b.WriteString("\n")
}

func (res *Results) procTable(b *strings.Builder) {
	if len(res.Proc) == 0 {
		return
	}
	fmt.Fprintf(b, "## 2. One plugin process\n\n")
	fmt.Fprintf(b, "Each plugin exec'd directly as libcni does (stdin = its entry + prevResult of a real Flannel ADD, in the node netns, fake agent), ADD then DEL, %d times interleaved; medians. CPU (user+sys) from wait4; peak RSS from GNU time's `%%M` in a second run of each call (wait4's figure from a Go parent includes the parent's RSS). Package init from `GODEBUG=inittrace=1` (VERSION command, 10 runs: inits counted, their clock time summed). Two rows exist only to split cilium-chain's cost: the no-op linked with all of cilium-chain's packages (bench/noop, tag importchain), and cilium-chain with its state-dir on disk instead of on tmpfs (for (d) on the tmpfs the bench mounts, as in section 1). Wall times include waiting for a CPU on the shared cores; CPU times are the steadier figure.\n\n", res.Opts.ProcRuns)
	fmt.Fprintf(b, "| plugin | binary | ADD wall | ADD CPU | ADD peak RSS | DEL wall | DEL CPU | DEL peak RSS | package inits | init clock | init heap |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range res.Proc {
		aw, ac := summary(p.Add)
		dw, dc := summary(p.Del)
		ar, dr := median(p.AddRSS), median(p.DelRSS)
		fmt.Fprintf(b, "| %s | %.2f MB | %.1f ms | %.1f ms | %.1f MB | %.1f ms | %.1f ms | %.1f MB | %d | %.2f ms | %.0f kB |\n",
			p.Variant.Label, mb(p.SizeBytes), ms(aw), ms(ac), float64(ar)/1024, ms(dw), ms(dc), float64(dr)/1024, p.Init.Count, p.Init.ClockMS, float64(p.Init.Bytes)/1e3)
	}
	res.split(b)
	b.WriteString("\nCostliest package inits (mean clock ms over the runs):\n\n")
	for _, p := range res.Proc {
		var top []string
		for _, t := range p.Init.Top {
			top = append(top, fmt.Sprintf("%s %.2f", t.Pkg, t.ClockMS))
		}
		fmt.Fprintf(b, "- %s: %s\n", p.Variant.Label, strings.Join(top, ", "))
	}
	b.WriteString("\n")
}

func (res *Results) concTable(b *strings.Builder) {
	if len(res.Conc) == 0 && len(res.ConcErrs) == 0 {
		return
	}
	fmt.Fprintf(b, "## 3. %d pods at once: parallel ADDs, then parallel DELs\n\n", res.Opts.Pods)
	fmt.Fprintf(b, "cnitool on the Flannel chain for every pod at once; the fake rate-limits PUT /endpoint like the agent's endpoint-create limiter: it queues a request for a parallel slot and a token and answers 429 when that would take over 60 s (the agent's MaxWaitDuration). The real agent starts at 0.5/s, burst 4, 4 parallel and auto-adjusts; the *agent defaults* rows keep those start values (the worst case), with each endpoint's first regeneration done at once. The *auto-adjusting* rows imitate the agent's adjustment (pkg/rate/api_limiter.go): the first 4 PUTs pass unlimited; after each successful PUT, with f = 2 s / the mean processing time (admission to the handler's end) of the last 10 successful PUTs, kept within 1/100..100, the rate becomes 0.5·f per second and burst and parallel cap move half as far, 4 + (4f − 4)/2, at least 2; a request keeps the parallel share it took on arrival. There each endpoint's first regeneration takes 500 ms, about the mean the real-node bench measured (results-node.md): upstream asks for a synchronous build, so its PUT holds its slot through the regeneration and that counts as processing; cilium-chain's PUT is answered before it, then it polls GET /endpoint/{id} until the regeneration is done (the fake does not rate-limit GETs; the real agent's endpoint-get limiter does). Upstream does not retry 429; cilium-chain retries with backoff until its add-timeout. Latencies are per pod, successful or not; wall = first start to last exit.\n\n")
	fmt.Fprintf(b, "| limiter | plugin | setting | ADD ok | ADD wall | ADD p50 | ADD p95 | 429 answers | endpoints | DEL ok | DEL wall | DEL p95 |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range res.Conc {
		fmt.Fprintf(b, "| %s (%s) | %s | %s | %d/%d | %.1f s | %.1f s | %.1f s | %d | %d | %d/%d | %.1f s | %.2f s |\n",
			c.Limit.Name, c.Limit, c.Variant.Label, c.Note, c.AddOK, c.Pods, c.AddWall.Seconds(), c.Add.median().Seconds(), c.Add.p95().Seconds(),
			c.Rejected, c.Endpoints, c.DelOK, c.Pods, c.DelWall.Seconds(), c.Del.p95().Seconds())
	}
	for _, c := range res.Conc {
		if c.FirstErr != "" {
			fmt.Fprintf(b, "\nFirst ADD error, %s / %s %s: `%s`\n", c.Limit.Name, c.Variant.Label, c.Note, c.FirstErr)
		}
	}
	for _, e := range res.ConcErrs {
		fmt.Fprintf(b, "\nProblem: %s\n", e)
	}
	b.WriteString("\n")
}

func (res *Results) realTable(b *strings.Builder) {
	fmt.Fprintf(b, "## 4. Real cilium-agent v1.20.2: share of ADD outside the endpoint's creation\n\n")
	if len(res.Real) == 0 {
		fmt.Fprintf(b, "%s\n\n", res.RealNote)
		return
	}
	fmt.Fprintf(b, "The agent (no Kubernetes, etcd, generic-veth, flags of shared/notes/real-peers.md) runs in a node netns of its own; it was ready %s after start. A timing proxy between plugin and agent socket times each API call. Each round: Flannel ADD via cnitool, then the chained plugin's ADD and DEL exec'd directly with that prevResult, %d rounds per plugin interleaved (first round discarded: template compile). *Create* is the agent's work the plugin waits for: from the PUT /endpoint's start to the end of the last call after it. Upstream's PUT asks for a synchronous build, so the agent answers it after the endpoint's first regeneration; cilium-chain's PUT does not, and it polls GET /endpoint/{id} until that regeneration is done (the waits between polls counted in Create). Share outside = (plugin ADD − Create) / plugin ADD, per round, median; the whole-chain share adds Flannel's ADD to both sides.\n\n", res.RealStartup.Round(time.Millisecond), res.Opts.RealCycles)
	fmt.Fprintf(b, "| plugin | plugin ADD | Create (PUT + regeneration wait) | API calls before the PUT | plugin's own time | share outside Create (plugin) | share outside Create (Flannel + plugin) | DEL | calls of the last ADD |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range res.Real {
		own := make(sample, len(r.Wall))
		for i := range r.Wall {
			own[i] = r.Wall[i] - r.Create[i] - r.OtherAPI[i]
		}
		fmt.Fprintf(b, "| %s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.0f %% | %.0f %% | %.1f ms | %s |\n", r.Variant.Label,
			ms(r.Wall.median()), ms(r.Create.median()), ms(r.OtherAPI.median()), ms(own.median()),
			100*median(r.Own), 100*median(r.ChainOwn), ms(r.Del.median()), r.Calls)
	}
	if res.RealNote != "" {
		fmt.Fprintf(b, "\n%s\n", res.RealNote)
	}
	b.WriteString("\n")
}

// split apportions cilium-chain's ADD process (medians, wall / CPU) from the extra rows: the packages
// it links, the ADD work itself, and its attachment store's disk writes.
func (res *Results) split(b *strings.Builder) {
	noop, imports, chain, disk := res.proc("b"), res.proc("bi"), res.proc("d"), res.proc("dd")
	if noop == nil || imports == nil || chain == nil || disk == nil {
		return
	}
	med := func(p *procCost) (time.Duration, time.Duration) { return summary(p.Add) }
	nw, nc := med(noop)
	iw, ic := med(imports)
	tw, tc := med(chain) // the default: attachment store on tmpfs
	cw, cc := med(disk)
	fmt.Fprintf(b, "\nWhere cilium-chain's ADD process goes (medians, wall / CPU): exec + Go runtime + skel + prevResult like the no-op %.1f / %.1f ms; "+
		"linking and initialising cilium-chain's packages (%d inits vs %d) %+.1f / %+.1f ms; the ADD work itself (config, netlink, state record, PUT, the GET of the regeneration wait, print) %+.1f / %+.1f ms; "+
		"the attachment store on disk instead of tmpfs %+.1f / %+.1f ms.\n",
		ms(nw), ms(nc), imports.Init.Count, noop.Init.Count, ms(iw-nw), ms(ic-nc), ms(tw-iw), ms(tc-ic), ms(cw-tw), ms(cc-tc))
}
