package bench

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// realResult splits each plugin's ADD against the real agent into the endpoint's creation (the
// agent's work the plugin waits for) and the rest.
type realResult struct {
	Variant variant
	Flannel sample // Flannel ADD through cnitool (the primary's share of a pod's ADD)
	Wall    sample // the chained plugin's ADD process, exec to exit
	// Create: from the PUT /endpoint's start, as timed at the proxy, to the end of the last call after
	// it. Upstream's PUT asks for a synchronous build, so it is that PUT; cilium-chain's PUT does not,
	// and its GETs until the first regeneration is done (the waits between them included) follow.
	Create   sample
	OtherAPI sample    // every agent call before the PUT (upstream: GET /config twice)
	Own      []float64 // share of the plugin's ADD outside Create, per cycle
	ChainOwn []float64 // same for the whole chain ADD (Flannel + plugin)
	Del      sample
	Calls    string // the API calls of one ADD
}

// runRealShare runs cycles rounds of (upstream, cilium-chain): Flannel ADD via cnitool, then the
// chained plugin's ADD and DEL exec'd directly with that prevResult (as libcni does), through the
// timing proxy, then Flannel DEL. The first round of each is discarded (datapath template compile).
func runRealShare(ctx context.Context, r *realNode, vs []variant, cycles int) ([]*realResult, error) {
	runner := &cniRunner{paths: r.paths, node: r.node, net: r.net}
	var results []*realResult
	pods := map[string]netnsName{}
	for _, v := range vs {
		pod := netnsName(runPrefix() + "ra-" + v.Key)
		if err := addNetns(ctx, pod); err != nil {
			return nil, err
		}
		r.pods = append(r.pods, pod)
		pods[v.Key] = pod
		results = append(results, &realResult{Variant: v})
	}
	for round := range cycles + 1 {
		for _, res := range results {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := r.cycle(ctx, runner, res, pods[res.Variant.Key], round, round > 0); err != nil {
				return nil, err
			}
		}
	}
	if n, err := r.leftoverEndpoints(); err != nil || n > 0 {
		return results, fmt.Errorf("real agent: %d endpoints left after the DELs (%v)", n, err)
	}
	return results, nil
}

func (r *realNode) cycle(ctx context.Context, runner *cniRunner, res *realResult, pod netnsName, round int, keep bool) error {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	flannel := runner.cnitool(cctx, r.confA, "add", pod)
	if flannel.Err != nil {
		return fmt.Errorf("Flannel ADD: %w", flannel.Err)
	}
	defer runner.cnitool(context.Background(), r.confA, "del", pod)
	v := res.Variant
	stdin, err := r.net.chainedStdin(v.entry, flannel.Stdout)
	if err != nil {
		return err
	}
	call := pluginCall{bin: r.paths.plugin(v.Type), node: r.node, command: "ADD", containerID: fmt.Sprintf("ccbench%dr%s", round, v.Key),
		pod: pod, stdin: stdin, env: []string{"CILIUM_SOCK=" + r.proxy.sock}, cniPath: r.paths.cniPath()}
	r.proxy.take()
	add := call.run(cctx)
	calls := r.proxy.take()
	call.command = "DEL"
	del := call.run(cctx)
	r.proxy.take()
	if add.Err != nil || del.Err != nil {
		return fmt.Errorf("%s against the real agent: ADD %v, DEL %v\n%s", v.Label, add.Err, del.Err, r.agent.LogTail(20))
	}
	if !keep {
		return nil
	}
	create, other, names := splitCalls(calls)
	if create == 0 {
		return fmt.Errorf("%s: no PUT reached the agent during ADD (calls: %v)", v.Label, names)
	}
	res.Flannel = append(res.Flannel, flannel.Took)
	res.Wall = append(res.Wall, add.Took)
	res.Create = append(res.Create, create)
	res.OtherAPI = append(res.OtherAPI, other)
	res.Own = append(res.Own, float64(add.Took-create)/float64(add.Took))
	total := flannel.Took + add.Took
	res.ChainOwn = append(res.ChainOwn, float64(total-create)/float64(total))
	res.Del = append(res.Del, del.Took)
	res.Calls = names
	return nil
}

// splitCalls divides one ADD's agent calls into the endpoint's creation (the first PUT's start to the
// end of the last call from then on) and the calls before it, and names them: "GET /v1/config,
// PUT /v1/endpoint/{id}, GET /v1/endpoint/{id} ×3", in order.
func splitCalls(calls []apiCall) (create, before time.Duration, names string) {
	var put time.Time
	var end time.Time
	var list []string
	counts := map[string]int{}
	for _, c := range calls {
		if c.Method == http.MethodPut && put.IsZero() {
			put = c.Start
		}
		switch {
		case put.IsZero():
			before += c.Took
		case c.Start.Add(c.Took).After(end):
			end = c.Start.Add(c.Took)
		}
		name := c.Method + " " + c.Path
		if id, ok := strings.CutPrefix(c.Path, "/v1/endpoint/"); ok && id != "" {
			name = c.Method + " /v1/endpoint/{id}"
		}
		if counts[name]++; counts[name] == 1 {
			list = append(list, name)
		}
	}
	for i, n := range list {
		if counts[n] > 1 {
			list[i] = fmt.Sprintf("%s ×%d", n, counts[n])
		}
	}
	if !put.IsZero() {
		create = end.Sub(put)
	}
	return create, before, strings.Join(list, ", ")
}

// leftoverEndpoints counts endpoints other than the agent's host endpoint.
func (r *realNode) leftoverEndpoints() (int, error) {
	eps, err := peer.NewAgentAPI(r.sock()).Endpoints()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ep := range eps {
		if ep.Status != nil && ep.Status.ExternalIdentifiers != nil && ep.Status.ExternalIdentifiers.ContainerID != "" {
			n++
		}
	}
	return n, nil
}
