package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cilium-chain/cilium-chain/e2e/peer"
)

// Options size the run.
type Options struct {
	Paths      Paths
	Cycles     int  // interleaved rounds of every variant through cnitool
	Warmup     int  // rounds discarded before those
	ProcRuns   int  // direct execs per plugin for the process figures
	Pods       int  // pods ADDed at once
	Fake       bool // the fake-agent parts (overhead, process cost, concurrency)
	Slow       bool
	Real       bool
	RealCycles int
	AgentWait  time.Duration        // how long to wait for the agent lock and for other agents to exit
	Logf       func(string, ...any) `json:"-"`
}

// Results is everything the report and the chart show.
type Results struct {
	Opts              Options
	Machine           machine
	Started, Finished time.Time
	GoBench           string
	Overhead          *overheadResult
	Proc              []*procCost
	Conc              []*concResult
	ConcErrs          []string
	Real              []*realResult
	RealStartup       time.Duration
	RealNote          string
}

// Run measures everything in order of sensitivity to other load: the Go benchmarks, then the fake-
// agent parts on one node, then the real agent last (it needs the machine-wide agent lock).
func Run(ctx context.Context, o Options) (res *Results, err error) {
	res = &Results{Opts: o, Machine: describeMachine(), Started: time.Now().UTC()}
	defer func() { res.Finished, res.Machine.LoadEnd = time.Now().UTC(), loadavg() }()

	o.Logf("go test -bench ./chain/")
	if res.GoBench, err = runGoBench(ctx, o.Paths.Repo); err != nil {
		return res, err
	}
	if o.Fake {
		if err := runFakeParts(ctx, o, res); err != nil {
			return res, err
		}
	}
	if !o.Real {
		res.RealNote = "skipped (-real=false)"
		return res, nil
	}
	if err := runRealParts(ctx, o, res); err != nil {
		res.RealNote = "not measured: " + err.Error()
		o.Logf("real agent: %v", err)
	}
	return res, nil
}

func runFakeParts(ctx context.Context, o Options, res *Results) (err error) {
	o.Logf("node netns, fake agent, warm-up ADD")
	f, err := newFakeNode(ctx, o.Paths)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.close()) }()

	o.Logf("ADD/DEL overhead: %d+%d interleaved rounds of every variant through cnitool", o.Warmup, o.Cycles)
	if res.Overhead, err = runOverhead(ctx, f, o.Cycles, o.Warmup); err != nil {
		return fmt.Errorf("overhead: %w", err)
	}
	o.Logf("per-process cost: %d direct ADD+DEL per plugin, inittrace", o.ProcRuns)
	if res.Proc, err = runProcCost(ctx, f, o.ProcRuns); err != nil {
		return fmt.Errorf("process cost: %w", err)
	}
	o.Logf("concurrency: creating %d pod netns", o.Pods)
	pods := make([]netnsName, o.Pods)
	for i := range pods {
		if pods[i], err = f.newPod(ctx, fmt.Sprintf("p%d", i)); err != nil {
			return err
		}
	}
	for i, sc := range scenarios(f.variants, o.Slow) {
		o.Logf("concurrency %d: %s, %s %s (%s)", i, sc.Variant.Label, sc.Limit.Name, sc.Note, sc.Limit)
		r, err := runConcurrency(ctx, f, pods, sc, i)
		if r != nil {
			res.Conc = append(res.Conc, r)
			o.Logf("  ADD %d/%d ok in %s, DEL %d/%d ok in %s", r.AddOK, r.Pods, r.AddWall.Round(time.Millisecond), r.DelOK, r.Pods, r.DelWall.Round(time.Millisecond))
		}
		if err != nil {
			res.ConcErrs = append(res.ConcErrs, err.Error())
			o.Logf("  %v", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func runRealParts(ctx context.Context, o Options, res *Results) (err error) {
	o.Logf("real agent: taking %s", peer.AgentLock)
	release, err := peer.LockAgent(ctx, o.AgentWait, o.Logf)
	if err != nil {
		return err
	}
	defer release()
	r, err := startRealNode(ctx, o.Paths, o.Logf)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, r.close()) }()
	res.RealStartup = r.startups
	o.Logf("real agent ready after %s; %d rounds of upstream, cilium-chain", r.startups.Round(time.Millisecond), o.RealCycles)
	vs := variants(r.dir, r.stateDir)
	res.Real, err = runRealShare(ctx, r, []variant{byKey(vs, "c"), byKey(vs, "d")}, o.RealCycles)
	return err
}
