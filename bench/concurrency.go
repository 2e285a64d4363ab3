package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/cilium-chain/cilium-chain/chain/fakeagent"
	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// limit is the fake's endpoint-create limiter for one scenario.
type limit struct {
	Name     string
	Rate     float64
	Burst    int
	Parallel int
	MaxWait  time.Duration // the agent queues up to this long, then answers 429
	// Adjusting: the agent's auto-adjustment, from its endpoint-create defaults (the values above are
	// their start); else the values stay fixed.
	Adjusting bool
	// Regeneration is how long each endpoint's first regeneration takes in the fake (0: done at once).
	Regeneration time.Duration
}

func (l limit) String() string {
	s := fmt.Sprintf("%g/s, burst %d, %d parallel, 429 after %s queued", l.Rate, l.Burst, l.Parallel, l.MaxWait)
	if l.Adjusting {
		s = "from " + s
	}
	if l.Regeneration > 0 {
		s += fmt.Sprintf("; regeneration %s", l.Regeneration)
	}
	return s
}

// agentLimit is the agent's endpoint-create limiter as it starts.
func agentLimit(name string) limit {
	p := fakeagent.EndpointCreateLimit()
	return limit{Name: name, Rate: p.RateLimit, Burst: p.RateBurst, Parallel: p.ParallelRequests, MaxWait: p.MaxWaitDuration}
}

// scenario is one plugin configuration facing one limiter with all pods at once.
type scenario struct {
	Limit   limit
	Variant variant
	Keys    map[string]any // extra entry keys (add-timeout)
	Note    string
}

// concResult is what a burst of parallel ADDs (then DELs) produced.
type concResult struct {
	scenario
	Pods               int
	AddOK, DelOK       int
	AddWall            time.Duration
	DelWall            time.Duration
	Add, AddOKLat, Del sample
	Endpoints          int // registered in the fake after the ADDs
	Rejected           int // 429 answers the fake gave
	FirstErr           string
}

// runConcurrency ADDs every pod at once, then DELs every pod at once (failed ADDs included, as a
// runtime does), against a fresh fake with the scenario's limiter.
func runConcurrency(ctx context.Context, f *fakeNode, pods []netnsName, sc scenario, idx int) (*concResult, error) {
	sock := filepath.Join(f.dir, fmt.Sprintf("conc%d.sock", idx))
	agent, err := fakeagent.Start(sock)
	if err != nil {
		return nil, err
	}
	defer agent.Close()
	if sc.Limit.Adjusting {
		agent.SetRateLimitAgent(fakeagent.EndpointCreateLimit())
	} else {
		agent.SetRateLimitQueue(sc.Limit.Rate, sc.Limit.Burst, sc.Limit.Parallel, sc.Limit.MaxWait)
	}
	agent.SetRegeneration(sc.Limit.Regeneration)
	confDir, err := f.net.write(fmt.Sprintf("conc%d", idx), sc.Variant.withKeys(sc.Keys))
	if err != nil {
		return nil, err
	}
	r := f.runner(sock)
	res := &concResult{scenario: sc, Pods: len(pods)}

	burst := func(verb string) ([]peer.CnitoolResult, time.Duration) {
		outs := make([]peer.CnitoolResult, len(pods))
		var wg sync.WaitGroup
		start := time.Now()
		for i, p := range pods {
			wg.Go(func() {
				// Bounded: past the longest add-timeout here (4 min) plus the chain's own time.
				cctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
				defer cancel()
				outs[i] = r.cnitool(cctx, confDir, verb, p)
			})
		}
		wg.Wait()
		return outs, time.Since(start)
	}

	adds, wall := burst("add")
	res.AddWall = wall
	for _, o := range adds {
		res.Add = append(res.Add, o.Took)
		if o.Err == nil {
			res.AddOK++
			res.AddOKLat = append(res.AddOKLat, o.Took)
		} else if res.FirstErr == "" {
			res.FirstErr = o.Err.Error()
		}
	}
	res.Endpoints = len(agent.Endpoints())
	for _, q := range agent.Requests() {
		if q.Status == 429 {
			res.Rejected++
		}
	}

	dels, wall := burst("del")
	res.DelWall = wall
	for _, o := range dels {
		res.Del = append(res.Del, o.Took)
		if o.Err == nil {
			res.DelOK++
		}
	}
	if n := len(agent.Endpoints()); n != 0 {
		return res, fmt.Errorf("%s: %d endpoints left after the parallel DELs", sc.Variant.Label, n)
	}
	if p := agent.Problems(); len(p) > 0 {
		return res, fmt.Errorf("%s: fake agent saw invalid requests: %s", sc.Variant.Label, p[0])
	}
	return res, nil
}

// scenarios: a fast limiter; with slow, the agent's endpoint-create limiter kept at its start values
// (the worst case: the real one adjusts), where cilium-chain runs with its default add-timeout (60 s)
// and with 240 s, the kubelet's whole sandbox-creation budget (100 pods at 0.5/s need ~200 s, so no
// 60 s setting can get them all in one attempt); then that limiter auto-adjusting as the agent's does,
// with a first regeneration of 500 ms per endpoint, about the mean the real-node bench measured
// (bench/results-node.md). There upstream's synchronous PUT holds its limiter slot through the
// regeneration, which the limiter counts as processing time; cilium-chain's PUT does not.
func scenarios(vs []variant, slow bool) []scenario {
	agentLike := agentLimit("agent defaults")
	adjusting := agentLimit("agent defaults, auto-adjusting")
	adjusting.Adjusting, adjusting.Regeneration = true, 500*time.Millisecond
	fast := limit{Name: "fast", Rate: 50, Burst: 20, Parallel: 20, MaxWait: 60 * time.Second}
	upstream, chain := byKey(vs, "c"), byKey(vs, "d")
	out := []scenario{
		{Limit: fast, Variant: upstream},
		{Limit: fast, Variant: chain, Note: "add-timeout 60s (default)"},
	}
	if slow {
		out = append(out,
			scenario{Limit: agentLike, Variant: upstream, Note: "no retry of 429"},
			scenario{Limit: agentLike, Variant: chain, Note: "add-timeout 60s (default)"},
			scenario{Limit: agentLike, Variant: chain, Keys: map[string]any{"add-timeout": "240s"}, Note: "add-timeout 240s (kubelet budget)"},
			scenario{Limit: adjusting, Variant: upstream, Note: "no retry of 429"},
			scenario{Limit: adjusting, Variant: chain, Note: "add-timeout 60s (default)"},
		)
	}
	return out
}
