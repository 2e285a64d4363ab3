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
}

func (l limit) String() string {
	return fmt.Sprintf("%g/s, burst %d, %d parallel, 429 after %s queued", l.Rate, l.Burst, l.Parallel, l.MaxWait)
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
	agent.SetRateLimitQueue(sc.Limit.Rate, sc.Limit.Burst, sc.Limit.Parallel, sc.Limit.MaxWait)
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

// scenarios: the agent's endpoint-create defaults (as the limiter starts; the real one auto-adjusts
// upward when PUTs are faster than its 2 s estimate) and a fast variant. cilium-chain runs with its
// default add-timeout (60 s) and with 240 s, the kubelet's whole sandbox-creation budget: 100 pods
// at 0.5/s need ~200 s, so no 60 s setting can get them all in one attempt.
func scenarios(vs []variant, slow bool) []scenario {
	agentLike := limit{Name: "agent defaults", Rate: 0.5, Burst: 4, Parallel: 4, MaxWait: 60 * time.Second}
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
		)
	}
	return out
}
