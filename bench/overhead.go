package bench

import (
	"context"
	"fmt"
	"time"
)

// overheadResult holds ADD and DEL latencies through cnitool per variant, in variant order.
type overheadResult struct {
	Variants []variant
	Add, Del []sample
	Failures []int
	Wall     time.Duration
}

// maxFailures stops a broken setup early instead of timing error paths.
const maxFailures = 5

// runOverhead runs warmup+cycles rounds of every variant in turn, each an ADD then a DEL of the
// variant's own pod, so every variant sees the same machine noise; the warm-up rounds are discarded.
func runOverhead(ctx context.Context, f *fakeNode, cycles, warmup int) (*overheadResult, error) {
	res := &overheadResult{Variants: f.variants}
	pods := make([]netnsName, len(f.variants))
	for i, v := range f.variants {
		var err error
		if pods[i], err = f.newPod(ctx, "ov-"+v.Key); err != nil {
			return nil, err
		}
		res.Add, res.Del = append(res.Add, nil), append(res.Del, nil)
		res.Failures = append(res.Failures, 0)
	}
	r := f.runner(f.agent.Socket())
	start := time.Now()
	for round := range warmup + cycles {
		for i, v := range f.variants {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			add := r.cnitool(cctx, f.confs[v.Key], "add", pods[i])
			del := r.cnitool(cctx, f.confs[v.Key], "del", pods[i])
			cancel()
			if add.Err != nil || del.Err != nil {
				res.Failures[i]++
				if res.Failures[i] > maxFailures {
					return nil, fmt.Errorf("variant %s (%s) keeps failing: ADD %v, DEL %v", v.Key, v.Label, add.Err, del.Err)
				}
				continue
			}
			if round >= warmup {
				res.Add[i] = append(res.Add[i], add.Took)
				res.Del[i] = append(res.Del[i], del.Took)
			}
		}
	}
	res.Wall = time.Since(start)
	if n := len(f.agent.Endpoints()); n != 0 {
		return nil, fmt.Errorf("%d endpoints left in the fake after the DELs", n)
	}
	return res, f.problems()
}

// index is the position of the variant with that key.
func (r *overheadResult) index(key string) int {
	for i, v := range r.Variants {
		if v.Key == key {
			return i
		}
	}
	return -1
}

// medians are the ADD and DEL medians of the variant with that key.
func (r *overheadResult) medians(key string) (add, del time.Duration) {
	if i := r.index(key); i >= 0 {
		return r.Add[i].median(), r.Del[i].median()
	}
	return 0, 0
}

// cycle is ADD+DEL per round, for the variant at index i.
func (r *overheadResult) cycle(i int) sample {
	out := make(sample, len(r.Add[i]))
	for j := range r.Add[i] {
		out[j] = r.Add[i][j] + r.Del[i][j]
	}
	return out
}
