package bench

import (
	"fmt"
	"image"
	"time"
)

// WriteChart draws the latency distributions: ADD and DEL through cnitool per variant, the parallel
// ADDs per scenario, and the real agent's ADD split.
func (res *Results) WriteChart(path string) error {
	const width, height = 1400, 2200
	c := newCanvas(width, height)
	y := 20
	c.text(20, y, "cilium-chain vs upstream cilium-cni v1.20.2 (generic-veth)", 3, black)
	y += 34
	c.text(20, y, fmt.Sprintf("make bench, %s, %d cores shared, load average at start %s", res.Started.Format("2006-01-02 15:04 MST"), res.Machine.Cores, res.Machine.LoadStart), 2, mid)
	y += 40
	c.text(20, y, "dots: samples; box: p25-p75; whiskers: p5-p95; bar: median; red: failed ADD; beyond the axis: at its right edge", 2, mid)
	y += 40
	if o := res.Overhead; o != nil {
		var adds, dels []row
		for i, v := range o.Variants {
			adds = append(adds, row{Label: fmt.Sprintf("(%s) %s", v.Key, v.Label), Color: variantColors[v.Key], OK: o.Add[i]})
			dels = append(dels, row{Label: fmt.Sprintf("(%s) %s", v.Key, v.Label), Color: variantColors[v.Key], OK: o.Del[i]})
		}
		y = c.panel(y, width, fmt.Sprintf("ADD via cnitool, Flannel chain, fake agent (%d rounds)", len(o.Add[0])), "ms", time.Millisecond, adds)
		y = c.panel(y, width, "DEL via cnitool, same rounds", "ms", time.Millisecond, dels)
	}
	if len(res.Proc) > 0 {
		var rows []row
		for _, p := range res.Proc {
			var s sample
			for _, r := range p.Add {
				s = append(s, r.Took)
			}
			rows = append(rows, row{Label: p.Variant.Label, Color: variantColors[p.Variant.Key], OK: s})
		}
		y = c.panel(y, width, "one plugin ADD process, exec'd directly (wall time)", "ms", time.Millisecond, rows)
	}
	for _, fast := range []bool{true, false} {
		var rows []row
		for _, cr := range res.Conc {
			if (cr.Limit.Rate >= 1) == fast {
				rows = append(rows, concRow(cr))
			}
		}
		if len(rows) > 0 {
			y = c.panel(y, width, fmt.Sprintf("%d ADDs at once, fake limiter %s: latency of each pod", res.Opts.Pods, res.concLimit(fast)), "s", time.Second, rows)
		}
	}
	if len(res.Real) > 0 {
		var rows []row
		for _, r := range res.Real {
			col := variantColors[r.Variant.Key]
			rows = append(rows, row{Label: short(r.Variant) + " ADD", Color: col, OK: r.Wall}, row{Label: short(r.Variant) + " its create", Color: col, OK: r.Create})
		}
		y = c.panel(y, width, "real cilium-agent: plugin ADD and the endpoint's creation inside it", "ms", time.Millisecond, rows)
	}
	c.img = c.img.SubImage(image.Rect(0, 0, width, min(y, height))).(*image.RGBA) // crop what is unused
	return c.save(path)
}

func short(v variant) string {
	switch v.Type {
	case upstreamType:
		return "upstream"
	case chainType:
		return "cilium-chain"
	}
	return v.Label
}

// concRow splits a scenario's latencies into successful and failed ADDs.
func concRow(cr *concResult) row {
	label := short(cr.Variant)
	if t, ok := cr.Keys["add-timeout"]; ok {
		label += fmt.Sprintf(" (add-timeout %v)", t)
	} else if cr.Variant.Type == chainType {
		label += " (add-timeout 60s)"
	}
	r := row{Label: label, Color: variantColors[cr.Variant.Key]}
	ok := map[time.Duration]int{}
	for _, d := range cr.AddOKLat {
		ok[d]++
	}
	for _, d := range cr.Add {
		if ok[d] > 0 {
			ok[d]--
			r.OK = append(r.OK, d)
		} else {
			r.Failed = append(r.Failed, d)
		}
	}
	return r
}

// concLimit names the limiter of the fast or the agent-like scenarios.
func (res *Results) concLimit(fast bool) string {
	for _, cr := range res.Conc {
		if (cr.Limit.Rate >= 1) == fast {
			return fmt.Sprintf("%g/s burst %d parallel %d", cr.Limit.Rate, cr.Limit.Burst, cr.Limit.Parallel)
		}
	}
	return ""
}
