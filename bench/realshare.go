package bench

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// realResult splits each plugin's ADD against the real agent into the agent's PUT and the rest.
type realResult struct {
	Variant  variant
	Flannel  sample    // Flannel ADD through cnitool (the primary's share of a pod's ADD)
	Wall     sample    // the chained plugin's ADD process, exec to exit
	PUT      sample    // PUT /endpoint as timed at the proxy
	OtherAPI sample    // every other agent call during the ADD (upstream: GET /config twice)
	Own      []float64 // share of the plugin's ADD outside the PUT, per cycle
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
	var put, other time.Duration
	var names []string
	for _, c := range calls {
		names = append(names, c.Method+" "+c.Path)
		if c.Method == http.MethodPut {
			put += c.Took
		} else {
			other += c.Took
		}
	}
	if put == 0 {
		return fmt.Errorf("%s: no PUT reached the agent during ADD (calls: %v)", v.Label, names)
	}
	res.Flannel = append(res.Flannel, flannel.Took)
	res.Wall = append(res.Wall, add.Took)
	res.PUT = append(res.PUT, put)
	res.OtherAPI = append(res.OtherAPI, other)
	res.Own = append(res.Own, float64(add.Took-put)/float64(add.Took))
	total := flannel.Took + add.Took
	res.ChainOwn = append(res.ChainOwn, float64(total-put)/float64(total))
	res.Del = append(res.Del, del.Took)
	sort.Strings(names)
	res.Calls = strings.Join(names, ", ")
	return nil
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
